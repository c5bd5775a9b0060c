"""Requests of a first sync with and without bulk operations (issue 12), side by side.

Run from the repository root:

    python -m tests.bench.bench_bulk [--orders 500] [--entities variants inventories orders]
        [--min-batch 50]

The shopify-like demo shop (`--orders` orders, seed 1) is synced by `etl run` (a subprocess)
twice, each into its own fresh sandbox at an unlimited rate: with `mappings/shopify-like.yaml`
as shipped, then with `target.bulk` added for `--entities`. Printed per entity: records created,
quarantined, held and the requests sent; then the totals and their ratio, and the hours those
requests take at Loop's 300 a minute. Requests are counted, not timed, so one pass is exact.
The bulk line format is the sandbox's ASSUMPTION (README, "Fewer requests"). Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from engine.sandbox.server import running_sandbox
from examples.shopify_like import ShopHandle, running_shopify_like
from tests.e2e.conftest import MAPPINGS, clean_env, etl_command

RATE = "0/min"
LOOP_PER_MINUTE = 300


def _with_bulk(text: str, entities: list[str], min_batch: int) -> str:
    line = "  rate_limit: ${LOOP_RATE_LIMIT:-300/min}\n"
    bulk = f"  bulk: {{entities: [{', '.join(entities)}], min_batch: {min_batch}}}\n"
    assert line in text, "the shipped mapping's target changed: update this benchmark"
    return text.replace(line, line + bulk, 1)


def _sync(shop: ShopHandle, mapping: Path, state: Path) -> dict[str, Any]:
    """One first sync into a fresh sandbox: the run's --json summary and the requests logged."""
    with running_sandbox(rate_limit=RATE) as sandbox:
        env = clean_env(SHOP_URL=shop.api_url, LOOP_API_URL=sandbox.base_url, LOOP_RATE_LIMIT=RATE)
        argv = [*etl_command(), "run", str(mapping), "--state", str(state), "--json"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"etl run exited {done.returncode}: {done.stderr[-2000:]}")
        summary = dict(json.loads(done.stdout))
        summary["logged"] = len(sandbox.admin.requests())
    return summary


def _print(name: str, summary: dict[str, Any]) -> int:
    total = 0
    print(f"{name}:")
    for e in summary["entities"]:
        total += e["requests"]
        print(
            f"  {e['entity']:<12} created {e['created']:>6}  quarantined {e['quarantined']:>4}"
            f"  held {e['held']:>4}  requests {e['requests']:>6}"
        )
    hours = total / LOOP_PER_MINUTE / 60
    print(f"  total requests {total} (sandbox log: {summary['logged']}), {hours:.2f} h at 300/min")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--entities", nargs="+", default=["variants", "inventories", "orders"])
    parser.add_argument("--min-batch", type=int, default=50)
    args = parser.parse_args()
    shipped = MAPPINGS / "shopify-like.yaml"
    text = shipped.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp, running_shopify_like(orders=args.orders) as shop:
        totals = []
        for name, body in (
            ("single requests", text),
            ("bulk", _with_bulk(text, args.entities, args.min_batch)),
        ):
            # beside the shipped mapping, so that its relative paths resolve the same way
            mapping = MAPPINGS / f".bench-bulk-{name.split()[0]}.yaml"
            mapping.write_text(body, encoding="utf-8")
            try:
                summary = _sync(shop, mapping, Path(tmp) / f"{name.split()[0]}.duckdb")
            finally:
                mapping.unlink()
            totals.append(_print(name, summary))
    print(f"bulk / single requests: {totals[1] / totals[0]:.3f} ({totals[0]} -> {totals[1]})")


if __name__ == "__main__":
    main()

"""The pipeline benchmark's inputs: a JSONL file of orders, a files-connector mapping over it,
and a state file whose ID map already knows what the orders reference.

The mapping reuses the `map:` blocks of mappings/shopify-like.yaml verbatim (loaded with the
project's loader); only `source` and `extract` change. Products and customers are there, but
disabled, so the orders' lookups name known entities. The state template knows every product,
variant and customer the orders reference (so all records resolve and are ready), and the payload
hash of every even-numbered order (so half the orders are unchanged and the diff is real).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from engine.mapping.compile import CompiledEntity, CompiledMapping, compile_mapping
from engine.mapping.load import load_mapping
from engine.mapping.model import ORDER_LINES
from engine.pipeline.prepare import Preparer
from engine.state import BatchOutcome, State, Synced
from tests.bench.orders import make_pool, order_at

SHOPIFY_LIKE = Path(__file__).resolve().parents[2] / "mappings" / "shopify-like.yaml"
ORDERS_FILE = "orders.jsonl"
FIRST_LOOP_ID = 9007199254741001  # Loop ids beyond 2**53, as the sandbox hands out
BATCH = 5000  # rows per State.commit while building the template


def write_orders(folder: Path, n: int, seed: int, pool_size: int = 1000) -> list[str]:
    """Write n orders to folder/orders.jsonl (one JSON object a line); returns the pool.

    Line i is the JSON of `order_at(pool, i)`, made by replacing the id, number and name in a
    pre-serialised copy of the pooled order: parsing and dumping 10 kB orders 200k times would
    cost minutes."""
    pool = make_pool(n, min(pool_size, n), seed)
    texts = [_line_template(text) for text in pool]
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ORDERS_FILE).open("w", encoding="utf-8") as fh:
        for i in range(n):
            number = str(1001 + i)
            fh.write(texts[i % len(texts)].replace(_ID, str(5_000_000_000_000 + i))
                     .replace(_NUMBER, number).replace(_NAME, "#" + number) + "\n")  # fmt: skip
    return pool


_ID, _NUMBER, _NAME = "-7000000000000001", "-7000000000000002", "#-7000000000000003"


def _line_template(text: str) -> str:
    order = json.loads(text)
    order.update(id=int(_ID), order_number=int(_NUMBER), name=_NAME)
    line = json.dumps(order, separators=(",", ":"))
    if any(line.count(marker) != 1 for marker in (_ID, _NUMBER, _NAME)):
        raise SystemExit("an order template holds a marker twice: the benchmark is void")
    return line


def mapping_document(root: Path) -> dict[str, Any]:
    """A files-connector mapping over root/orders.jsonl with shopify-like's map blocks."""
    shopify = load_mapping(SHOPIFY_LIKE, env={})
    entities: dict[str, Any] = {}
    for name in ("customers", "products", "orders"):
        entity = shopify.entities[name]
        entities[name] = {
            "enabled": name == "orders",
            "map": entity.map,
            "extract": {"path": f"{name}.jsonl", "format": "jsonl"},
        }
    variants = shopify.entities["variants"]
    entities["products"]["variants"] = {"each": variants.each, "map": variants.map,
                                        "aliases": variants.aliases}  # fmt: skip
    entities["orders"]["depends_on"] = ["products", "customers"]
    return {
        "version": 1,
        "name": "bench-orders",
        "timezone": shopify.timezone,
        "currency": shopify.currency,
        "vars": shopify.vars,
        "source": {"connector": "files", "root": str(root)},
        "target": {"base_url": "embedded", "api_key": "sandbox"},
        "entities": entities,
    }


def write_mapping(folder: Path, root: Path) -> Path:
    path = folder / "bench-orders.yaml"
    path.write_text(yaml.safe_dump(mapping_document(root), sort_keys=False), encoding="utf-8")
    return path


def referenced(entity: CompiledEntity, pool: list[str]) -> dict[str, set[str]]:
    """entity -> keys of every product, variant and customer the pooled orders look up."""
    found: dict[str, set[str]] = {}
    for text in pool:
        for _, _, ref in entity.transform(json.loads(text)).refs:
            if ref.entity != ORDER_LINES:
                found.setdefault(ref.entity, set()).add(ref.key)
    return found


def build_template(path: Path, compiled: CompiledMapping, pool: list[str], n: int) -> int:
    """A state file knowing the references and, for n > 0, the hashes of the even orders
    among the first n; returns how many order hashes it holds."""
    path.unlink(missing_ok=True)
    orders = compiled.entities["orders"]
    with State(path) as state:
        run_id = state.start_run("bench-template")
        next_id = FIRST_LOOP_ID
        for name, keys in referenced(orders, pool).items():
            rows = [Synced(k, next_id + i, "") for i, k in enumerate(sorted(keys))]
            next_id += len(rows)
            state.commit(BatchOutcome(name, synced=rows), run_id)
        known = 0
        preparer = Preparer(orders, state)
        for start in range(0, n, 2 * BATCH):
            evens = range(start, min(n, start + 2 * BATCH), 2)
            items: list[tuple[Any, Any, str | None]] = [
                (order_at(pool, i), None, None) for i in evens
            ]
            ready = preparer.prepare(items).ready
            if len(ready) != len(items):
                raise SystemExit("the template's orders did not all resolve: benchmark void")
            rows = [Synced(r.key, next_id + known + j, r.payload_hash) for j, r in enumerate(ready)]
            state.commit(BatchOutcome("orders", synced=rows), run_id)
            known += len(rows)
        state.finish_run(run_id, "ok", {})
    return known


def fresh_state(template: Path, path: Path) -> Path:
    """A copy of the template, so that every timed pass starts from the same state."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    shutil.copyfile(template, path)
    return path


def compiled_bench(folder: Path, root: Path) -> tuple[Path, CompiledMapping]:
    path = write_mapping(folder, root)
    return path, compile_mapping(load_mapping(path, env={}))

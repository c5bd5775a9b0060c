"""End to end through real HTTP: the demo platforms and the Loop sandbox on loopback ports, and
`etl` in a subprocess, exactly as a user runs it (its environment, exit code and output).

The sandbox and the demo shop are served from this process; the mapping is pointed at them with
the environment variables it reads (SHOP_URL, LOOP_API_URL, ERP_DATA_DIR, OMS_DATABASE).
What reached Loop is read back through the sandbox's admin API (records and request log).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.server import SandboxHandle, running_sandbox
from examples.shopify_like import ShopHandle, running_shopify_like
from examples.shopify_like.store import Filter

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
DEMO_ORDERS = 60  # 20 products, 48 variants, 144 inventory levels: ~300 requests a full sync
DEMO_SEED = 1
UNLIMITED = "0/min"  # rate limit off: the sandbox itself is the pace of these tests
WRITES = ("PUT", "POST", "PATCH", "DELETE")
RUN_TIMEOUT_S = 180
# Variables a developer's shell may carry that would point a run somewhere else.
_LEAKY = (
    "SHOP_URL",
    "SHOP_TOKEN",
    "SHOP_LOCATION_IDS",
    "LOOP_API_URL",
    "LOOP_API_KEY",
    "LOOP_RATE_LIMIT",
    "ERP_DATA_DIR",
    "ERP_ENCODING",
    "OMS_DATABASE",
    "ETL_DEMO_ORDERS",
    "ETL_DEMO_SEED",
)


def etl_command() -> list[str]:
    """The installed `etl` console script beside this interpreter, else the same entry point."""
    script = Path(sys.executable).with_name("etl")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from engine.cli import main; main()"]


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        """The --json summary, keyed by entity."""
        data = json.loads(self.stdout)
        return {e["entity"]: e for e in data["entities"]}

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


@dataclass
class Etl:
    """`etl` for one mapping, one state file and one environment."""

    mapping: Path
    state: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def argv(self, *args: str) -> list[str]:
        return [*etl_command(), *args]

    def __call__(self, *args: str, state: bool = True) -> Result:
        """`etl ARGS... [--state STATE]`, waited for."""
        extra = ["--state", str(self.state)] if state else []
        done = subprocess.run(
            self.argv(*args, *extra),
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def run(self, *args: str) -> Result:
        return self("run", str(self.mapping), *args)

    def run_json(self, *args: str) -> Result:
        return self.run("--json", *args)

    def start_run(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv("run", str(self.mapping), "--state", str(self.state), "--json", *args),
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


class Loop:
    """What the sandbox received and holds, read through its admin API."""

    def __init__(self, handle: SandboxHandle) -> None:
        self.handle = handle
        self.admin = handle.admin

    @property
    def base_url(self) -> str:
        return self.handle.base_url

    def requests(self) -> list[dict[str, Any]]:
        return self.admin.requests()

    def request_count(self) -> int:
        """How many /api requests arrived (read in-process: cheap enough to poll)."""
        sb = self.handle.sandbox
        with sb.lock:
            row = sb.db.execute("SELECT count(*) FROM sandbox_requests").fetchone()
        return int(row[0]) if row else 0

    def last_seq(self) -> int:
        log = self.requests()
        return log[-1]["seq"] if log else 0

    def writes(self, after: int = 0) -> list[dict[str, Any]]:
        """Write requests received after request number `after`."""
        return [r for r in self.requests() if r["seq"] > after and r["method"] in WRITES]

    def records(self, kind: str) -> list[dict[str, Any]]:
        return self.admin.records(kind)

    def by_external_id(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every record of a kind by external_id, asserting each external_id is there once."""
        records = self.records(kind)
        counts = Counter(r.get("external_id") for r in records)
        twice = {k: n for k, n in counts.items() if n != 1}
        assert not twice, f"{kind}: external_ids stored more than once: {twice}"
        assert None not in counts, f"{kind}: records without an external_id"
        return {str(r["external_id"]): r for r in records}

    def inventory_pairs(self) -> dict[tuple[int, int], dict[str, Any]]:
        """Inventories by (variant Loop id, location Loop id), each pair once."""
        records = self.records("inventory")
        pairs = Counter(_inventory_pair(r) for r in records)
        twice = {k: n for k, n in pairs.items() if n != 1}
        assert not twice, f"inventories stored more than once: {twice}"
        return {_inventory_pair(r): r for r in records}


def _ref_id(value: Any) -> int:
    """A reference as Loop shows it: an id, {"id": ...} or [{"id": ...}] (inventories)."""
    if isinstance(value, list):
        (value,) = value
    return int(value["id"] if isinstance(value, dict) else value)


def _inventory_pair(record: dict[str, Any]) -> tuple[int, int]:
    variant = record.get("product_variant_id", record.get("product_variant"))
    location = record.get("location_id", record.get("location"))
    return _ref_id(variant), _ref_id(location)


def write_counts(writes: list[dict[str, Any]]) -> Counter[str]:
    """Write requests by route: 'PUT /products', 'PUT /products/external/*/product-variants'."""
    out: Counter[str] = Counter()
    for r in writes:
        parts = r["path"].split("/")[3:]  # drop '', 'api', version
        if len(parts) >= 3 and parts[1] == "external":
            parts[2] = "*"
        elif parts and parts[0] == "inventories":
            parts = parts[:1] + ["*"] * (len(parts) - 1)
        out[f"{r['method']} /{'/'.join(parts)}"] += 1
    return out


# -- the demo shop as generated (what Loop should end up holding) ---------------------------


def shop_records(shop: ShopHandle, name: str) -> list[dict[str, Any]]:
    """Every record the demo shop serves for a table, as it serves it now."""
    store = shop.store
    with store.lock:
        return [store.get(name, pos) for pos in store.scan(name, Filter(), 0)]


def shop_inventory(shop: ShopHandle) -> list[dict[str, Any]]:
    store = shop.store
    with store.lock:
        return [store.level(pos) for pos in store.scan("inventory_levels", Filter(), 0)]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[Loop]:
    """A fresh Loop sandbox on a loopback port, rate limit off."""
    with running_sandbox(rate_limit=UNLIMITED, seed=7) as handle:
        yield Loop(handle)


@pytest.fixture
def shop() -> Iterator[ShopHandle]:
    """A fresh shopify-like demo shop on a loopback port."""
    with running_shopify_like(orders=DEMO_ORDERS, seed=DEMO_SEED) as handle:
        yield handle


def shopify_etl(shop: ShopHandle, loop: Loop, state: Path,
                rate_limit: str = UNLIMITED) -> Etl:  # fmt: skip
    env = clean_env(SHOP_URL=shop.api_url, LOOP_API_URL=loop.base_url, LOOP_RATE_LIMIT=rate_limit)
    return Etl(MAPPINGS / "shopify-like.yaml", state, env, cwd=state.parent)


@pytest.fixture
def etl(shop: ShopHandle, loop: Loop, tmp_path: Path) -> Etl:
    """`etl` for mappings/shopify-like.yaml against this test's shop and sandbox."""
    return shopify_etl(shop, loop, tmp_path / "state.duckdb")

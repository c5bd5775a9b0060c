"""`examples.start_embedded` and the demos as `embedded` finds them (entry points)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from engine.embedded import demo_starter, known_demos, services
from engine.mapping.load import load_mapping
from engine.resources import mappings_dir
from examples import start_embedded


def test_start_embedded_shopify_like() -> None:
    with start_embedded("shopify-like", orders=25, seed=3) as url:
        assert url.endswith("/admin/api/2024-01")
        count = httpx.get(
            f"{url}/orders/count.json?status=any", headers={"X-Shopify-Access-Token": "demo"}
        )
        assert count.json() == {"count": 25}


def test_start_embedded_files_are_cached(tmp_path: Path) -> None:
    with start_embedded("erp-like", orders=15, seed=3, cache_dir=tmp_path) as folder:
        stamp = (Path(folder) / "items.csv").stat().st_mtime_ns
    with start_embedded("erp-like", orders=15, seed=3, cache_dir=tmp_path) as again:
        assert again == folder and (Path(again) / "items.csv").stat().st_mtime_ns == stamp
    with start_embedded("oms-like", orders=15, seed=3, cache_dir=tmp_path) as db:
        assert Path(db).is_file() and db.endswith(".sqlite")
    with start_embedded("erp-like", orders=16, seed=3, cache_dir=tmp_path) as other:
        assert other != folder


def test_start_embedded_unknown_name() -> None:
    with (
        pytest.raises(ValueError, match="known: shopify-like, erp-like, oms-like"),
        start_embedded("sap-like"),
    ):
        pass


def test_demos_are_installed_under_their_entry_points() -> None:
    assert known_demos() == ["erp-like", "oms-like", "shopify-like"]


@pytest.mark.parametrize("name", ["erp-like", "oms-like"])
def test_demo_entry_point_takes_the_engines_options(name: str, tmp_path: Path) -> None:
    """The contract `embedded` relies on: orders, seed and cache_dir as keywords -> a context
    manager yielding where the demo is."""
    with demo_starter(name)(orders=5, seed=2, cache_dir=str(tmp_path)) as where:
        assert Path(where).exists() and Path(where).is_relative_to(tmp_path)


def _source(name: str, state: Path) -> str:
    """Where the engine's `embedded` puts demo `name` for the state file `state`."""
    mapping = load_mapping(mappings_dir() / f"{name}.yaml", env={})
    with services(mapping, state, need_loop=False) as running:
        key = "root" if name == "erp-like" else "database"
        return str(running.source[key])


def test_embedded_file_demos_are_private_per_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_DEMO_ORDERS", "15")
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    erp_a, erp_b = Path(_source("erp-like", a)), Path(_source("erp-like", b))
    assert erp_a.is_relative_to(tmp_path / "a.demo") and erp_b.is_relative_to(tmp_path / "b.demo")
    cache = next((tmp_path / "demo").glob("erp-like-*"))
    stock = (erp_a / "stock.csv").read_text(encoding="utf-8").splitlines()
    item, whs = stock[1].split(";")[:2]
    (erp_a / "imports" / "inventory_adjustments_1.csv").write_text(
        f"ADJ_NO;ITEM_NO;WHS_CODE;QTY_DELTA\r\nADJ-1;{item};{whs};5\r\n", encoding="utf-8"
    )
    assert Path(_source("erp-like", a)) == erp_a  # starting again applies what was waiting
    assert (erp_a / "stock.csv").read_bytes() != (erp_b / "stock.csv").read_bytes()
    assert (erp_b / "stock.csv").read_bytes() == (cache / "stock.csv").read_bytes()

    oms_a, oms_b = _source("oms-like", a), _source("oms-like", b)
    total = "SELECT sum(on_hand), count(*) FROM stock_levels"
    with closing(sqlite3.connect(oms_a)) as db, db:
        db.execute("UPDATE stock_levels SET on_hand = on_hand + 5")
    assert _source("oms-like", a) == oms_a and oms_a != oms_b  # kept, not copied again
    with closing(sqlite3.connect(oms_a)) as db_a, closing(sqlite3.connect(oms_b)) as db_b:
        (sum_a, rows), (sum_b, _) = db_a.execute(total).fetchone(), db_b.execute(total).fetchone()
    assert sum_a == sum_b + 5 * rows

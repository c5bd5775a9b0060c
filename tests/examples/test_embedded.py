"""`examples.start_embedded` and the demos as `embedded` finds them (entry points)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engine.embedded import demo_starter, known_demos
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

"""The files connector's shapes for parent/child rows and documents pointing at documents:
`group.head`, `where`, and on a join entry a nested `join`, `fields` and `sort`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest, Page
from connectors.files import FilesConnector
from engine.errors import ConfigError

SOURCE = {"connector": "files", "root": "data"}
CSV_OPTS = {"delimiter": ";", "blank_as_null": True}

# A parent row below one of its variants (exports do not promise the parent first), a variant
# changed after its parent, a parent without variants and a variant whose parent is missing.
ITEMS = [
    ["ITEM_NO", "PARENT_NO", "ITEM_TYPE", "NAME", "MODIFIED"],
    ["TEE-S", "TEE", "V", "T-shirt S", "2024-05-01 10:00:00"],
    ["TEE", "", "P", "T-shirt", "2024-01-01 10:00:00"],
    ["TEE-M", "TEE", "V", "T-shirt M", "2024-02-01 10:00:00"],
    ["MUG", "", "P", "Mug", "2024-03-01 10:00:00"],
    ["CAP-1", "CAP", "V", "Cap one", "2024-04-01 10:00:00"],
]
LINES = [
    ["SO_NO", "LINE_NO", "ITEM_NO"],
    ["SO1", "20", "MUG"],
    ["SO1", "100", "TEE-M"],
    ["SO2", "10", "TEE-S"],
    ["SO1", "10", "NOPE"],
]
CREDITS = [
    ["CN_NO", "SO_NO", "LINE_NO", "ITEM_NO"],
    ["CN2", "SO1", "10", "NOPE"],
    ["CN1", "SO1", "20", "MUG"],
    ["CN1", "SO1", "0", "FREIGHT"],
]
ORDERS = [["SO_NO", "STATUS"], ["SO1", "O"], ["SO2", "X"], ["SO3", "O"]]
GROUP = {"by": "PARENT_NO || ITEM_NO", "rows": "VARIANTS", "head": "ITEM_TYPE == 'P'"}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, rows in [("items.csv", ITEMS), ("lines.csv", LINES), ("credits.csv", CREDITS),
                       ("orders.csv", ORDERS)]:  # fmt: skip
        with (folder / name).open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, delimiter=";").writerows(rows)
    return tmp_path


def _pages(base: Path, cfg: dict[str, Any], cursor: str | None = None) -> list[Page]:
    with FilesConnector(SOURCE, base) as conn:
        return list(conn.extract(ExtractRequest("products", cfg, cursor, base)))


def _records(base: Path, cfg: dict[str, Any], cursor: str | None = None) -> list[dict[str, Any]]:
    return [r for page in _pages(base, cfg, cursor) for r in page.records]


def _item(sku: str) -> dict[str, Any]:
    """An items.csv row as the reader gives it, computed from ITEMS, not by the connector."""
    row = next(r for r in ITEMS[1:] if r[0] == sku)
    return {k: v or None for k, v in zip(ITEMS[0], row, strict=True)}


def test_combine_group_head_row_gives_the_top_fields_and_leaves_the_rows(export: Path) -> None:
    cfg = {"path": "items.csv", "csv": CSV_OPTS, "group": GROUP, "cursor": "MODIFIED"}
    tee, mug, cap = _records(export, cfg)
    assert (tee["ITEM_NO"], tee["NAME"], tee["ITEM_TYPE"]) == ("TEE", "T-shirt", "P")
    assert tee["VARIANTS"] == [_item("TEE-S"), _item("TEE-M")]  # the parent row left out
    assert tee["MODIFIED"] == "2024-05-01 10:00:00"  # the newest of every row's, not the head's
    assert mug == {**_item("MUG"), "VARIANTS": []}
    # no head row: as without `head`, the first row on top and every row kept
    assert cap == {**_item("CAP-1"), "VARIANTS": [_item("CAP-1")]}


def test_combine_group_head_changed_variant_makes_the_parent_new(export: Path) -> None:
    cfg = {"path": "items.csv", "csv": CSV_OPTS, "group": GROUP, "cursor": "MODIFIED",
           "where": "ITEM_TYPE == 'P'"}  # fmt: skip
    again = _records(export, cfg, "2024-04-15 00:00:00")
    assert [(r["ITEM_NO"], len(r["VARIANTS"])) for r in again] == [("TEE", 2)]


def test_combine_where_keeps_the_records_it_is_true_for(export: Path) -> None:
    variants = {"path": "items.csv", "csv": CSV_OPTS, "where": "ITEM_TYPE == 'V'"}
    assert [r["ITEM_NO"] for r in _records(export, variants)] == ["TEE-S", "TEE-M", "CAP-1"]
    # after `group`: the group of a variant without its parent is dropped
    products = {"path": "items.csv", "csv": CSV_OPTS, "group": GROUP, "where": "ITEM_TYPE == 'P'"}
    assert [r["ITEM_NO"] for r in _records(export, products)] == ["TEE", "MUG"]


def test_combine_join_where_filters_the_joined_records(export: Path) -> None:
    join = {"path": "items.csv", "key": "PARENT_NO || ITEM_NO", "match": "ITEM_NO", "as": "KIDS",
            "where": "ITEM_TYPE == 'V'"}  # fmt: skip
    cfg = {"path": "items.csv", "csv": CSV_OPTS, "where": "ITEM_TYPE == 'P'", "join": [join]}
    found = {r["ITEM_NO"]: [k["ITEM_NO"] for k in r["KIDS"]] for r in _records(export, cfg)}
    assert found == {"TEE": ["TEE-S", "TEE-M"], "MUG": []}


def test_combine_join_nested_join_and_fields_give_a_line_its_product(export: Path) -> None:
    lines = {"path": "lines.csv", "key": "SO_NO", "match": "SO_NO", "as": "LINES",
             "join": [{"path": "items.csv", "key": "ITEM_NO", "match": "ITEM_NO", "as": "ITEM",
                       "many": False}],
             "fields": {"PRODUCT_NO": "ITEM.PARENT_NO || ITEM_NO"}}  # fmt: skip
    cfg = {"path": "orders.csv", "csv": CSV_OPTS, "join": [lines]}
    so1, so2, so3 = _records(export, cfg)
    assert [(li["ITEM_NO"], li["PRODUCT_NO"]) for li in so1["LINES"]] == [
        ("MUG", "MUG"),  # an item without parent is its own product
        ("TEE-M", "TEE"),
        ("NOPE", "NOPE"),  # not in items.csv: the line's own item number
    ]
    assert so1["LINES"][1]["ITEM"] == _item("TEE-M") and so1["LINES"][2]["ITEM"] is None
    assert [li["PRODUCT_NO"] for li in so2["LINES"]] == ["TEE"] and so3["LINES"] == []


def test_combine_join_sort_orders_the_matches(export: Path) -> None:
    credits = {"path": "credits.csv", "key": "SO_NO", "match": "SO_NO", "as": "CREDITS",
               "sort": "[CN_NO, to_number(LINE_NO)]"}  # fmt: skip
    lines = {"path": "lines.csv", "key": "SO_NO", "match": "SO_NO", "as": "LINES",
             "sort": "to_number(LINE_NO)"}  # fmt: skip
    so1 = _records(export, {"path": "orders.csv", "csv": CSV_OPTS, "join": [credits, lines]})[0]
    assert [(c["CN_NO"], c["LINE_NO"]) for c in so1["CREDITS"]] == [
        ("CN1", "0"),
        ("CN1", "20"),
        ("CN2", "10"),
    ]
    assert [li["LINE_NO"] for li in so1["LINES"]] == ["10", "20", "100"]  # as numbers, not text
    unsorted = {k: v for k, v in lines.items() if k != "sort"}
    so1 = _records(export, {"path": "orders.csv", "csv": CSV_OPTS, "join": [unsorted]})[0]
    assert [li["LINE_NO"] for li in so1["LINES"]] == ["20", "100", "10"]  # file order


def test_combine_new_expressions_are_reported_at_check_time(export: Path) -> None:
    nested = {"path": "items.csv", "key": "a[", "match": "b", "as": "c"}
    join = {"path": "lines.csv", "key": "k", "match": "m", "as": "x", "where": "w[",
            "sort": "s[", "fields": {"P": "p["}, "join": [nested]}  # fmt: skip
    cfg = {"path": "items.csv", "where": "]", "group": {"by": "b", "head": "h["}, "join": [join]}
    found = FilesConnector.check_extract(SOURCE, export, {"items": cfg})
    assert [path for _, path, _ in found] == [
        ("where",),
        ("group", "head"),
        ("join", 0, "where"),
        ("join", 0, "sort"),
        ("join", 0, "fields", "P"),
        ("join", 0, "join", 0, "key"),
    ]
    with pytest.raises(ConfigError, match=r"products\.extract\.where: invalid JMESPath"):
        _records(export, cfg)


def test_combine_unknown_key_in_a_nested_join_is_refused(export: Path) -> None:
    nested = {"path": "items.csv", "key": "a", "match": "b", "as": "c", "bogus": 1}
    join = {"path": "lines.csv", "key": "k", "match": "m", "as": "x", "join": [nested]}
    with pytest.raises(ConfigError, match=r"join\[0\]\.join\[0\]\.bogus"):
        _records(export, {"path": "orders.csv", "csv": CSV_OPTS, "join": [join]})


def test_combine_join_group_takes_a_head_too(export: Path) -> None:
    join = {"path": "items.csv", "key": "ITEM_NO", "match": "ITEM_NO", "as": "FAMILY",
            "many": False, "group": GROUP}  # fmt: skip
    cfg = {"path": "items.csv", "csv": CSV_OPTS, "where": "ITEM_TYPE == 'P'", "join": [join]}
    tee = _records(export, cfg)[0]["FAMILY"]
    assert tee["ITEM_TYPE"] == "P" and tee["VARIANTS"] == [_item("TEE-S"), _item("TEE-M")]

"""Compiling field specs: semantics, compile-time errors with positions, planned == rendered."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError
from engine.mapping.compile import CompiledMapping, compile_mapping
from engine.mapping.load import load_mapping
from engine.mapping.runtime import LookupRef

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures" / "shopify-rest"

Build = Callable[..., CompiledMapping]


def entity(body: str) -> str:
    return "entities:\n  orders:\n    extract: {path: o.json}\n    map:\n" + "".join(
        f"      {line}\n" for line in body.strip().splitlines()
    )


def errors_of(build: Build, body: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build(body)
    return info.value.lines()


@pytest.mark.parametrize(
    ("spec", "record", "expected"),
    [
        pytest.param("name: name", {"name": "#1"}, {"name": "#1"}, id="jmespath field"),
        pytest.param("name: a.b.c", {"a": {"b": {"c": 1}}}, {"name": 1}, id="nested path"),
        pytest.param("name: a.b", {"a": "text"}, {}, id="path through a non-object is null"),
        pytest.param("name: xs[1]", {"xs": [1, 2]}, {"name": 2}, id="index"),
        pytest.param("name: xs[5]", {"xs": [1]}, {}, id="index out of range is null"),
        pytest.param("name: \"'USD'\"", {}, {"name": "USD"}, id="string literal"),
        pytest.param("name: 42", {}, {"name": 42}, id="yaml number literal"),
        pytest.param("name: {const: {a: [1]}}", {}, {"name": {"a": [1]}}, id="const object"),
        pytest.param("name: to_string(id)", {"id": 7}, {"name": "7"}, id="to_string"),
        pytest.param("name: a || b", {"a": "", "b": "x"}, {"name": "x"}, id="or"),
        pytest.param("name: missing", {}, {}, id="null field left out"),
        pytest.param("p: {a: missing}", {}, {}, id="empty nested object left out"),
        pytest.param("p: {a: x, b: y}", {"x": 1}, {"p": {"a": 1}}, id="nested object"),
        pytest.param(
            'name: "{{ price | cents }}"',
            {"price": "19.99"},
            {"name": 1999},
            id="template native int",
        ),
        pytest.param(
            'name: "{{ code }}"', {"code": "00123"}, {"name": "00123"}, id="template keeps strings"
        ),
        pytest.param(
            'name: "#{{ n }}-{{ id }}"', {"n": "a", "id": 2}, {"name": "#a-2"}, id="template text"
        ),
        pytest.param(
            "name: \"{{ x | default('d') }}\"", {}, {"name": "d"}, id="default of missing"
        ),
        pytest.param(
            "name: \"{{ s | enum(vars.t, default='u') }}\"",
            {"s": "o"},
            {"name": "active"},
            id="enum with vars",
        ),
        pytest.param(
            "name: enum(s, vars.t, 'u')", {"s": "zz"}, {"name": "u"}, id="enum function default"
        ),
        pytest.param(
            'name: "{{ created | rfc3339 }}"',
            {"created": "2024-03-01 10:00:00"},
            {"name": "2024-03-01T15:00:00+00:00"},
            id="mapping timezone",
        ),
        pytest.param("name: vars.t.o", {}, {"name": "active"}, id="vars in jmespath"),
        pytest.param("tags: [\"'a'\", b, c]", {"b": "x"}, {"tags": ["a", "x"]}, id="list of specs"),
    ],
)
def test_field_spec_semantics(
    build_vars: Build, spec: str, record: dict[str, Any], expected: dict[str, Any]
) -> None:
    for plan in (True, False):
        result = build_vars(entity(spec), plan=plan).entities["orders"].transform(record)
        assert result.issues == [], result.issues
        assert result.payload == expected, f"plan={plan}"


@pytest.fixture
def build_vars(compiled: Build) -> Build:
    def build(body: str, plan: bool = True) -> CompiledMapping:
        head = "timezone: America/New_York\nvars:\n  t: {o: active}\n"
        return compiled(head + body, plan=plan)

    return build


def test_each_reaches_item_parent_root_and_vars(build_vars: Build) -> None:
    spec = """
lines:
  each: items
  map:
    id: to_string(id)
    order: parent.name
    from_root: root.name
    status: vars.t.o
    t: "{{ parent.name }}/{{ id }}"
    subs: {each: subs, map: {v: "@", top: root.name, up: parent.id}}
"""
    record = {"name": "#1", "items": [{"id": 1, "subs": ["a"]}, {"id": 2, "subs": []}]}
    for plan in (True, False):
        payload = build_vars(entity(spec), plan=plan).entities["orders"].transform(record).payload
        assert payload["lines"] == [
            {
                "id": "1",
                "order": "#1",
                "from_root": "#1",
                "status": "active",
                "t": "#1/1",
                "subs": [{"v": "a", "top": "#1", "up": 1}],
            },
            {
                "id": "2",
                "order": "#1",
                "from_root": "#1",
                "status": "active",
                "t": "#1/2",
                "subs": [],
            },
        ]


def test_each_where_and_flatten(compiled: Build) -> None:
    spec = """
refunds:
  each: refunds
  flatten: true
  map: {each: lines, where: "qty > `0`", map: {line: to_string(line_id), when: parent.at}}
"""
    record = {
        "refunds": [
            {"at": "t1", "lines": [{"line_id": 1, "qty": 1}, {"line_id": 2, "qty": 0}]},
            {"at": "t2", "lines": [{"line_id": 3, "qty": 2}]},
        ]
    }
    payload = compiled(entity(spec)).entities["orders"].transform(record).payload
    assert payload["refunds"] == [{"line": "1", "when": "t1"}, {"line": "3", "when": "t2"}]


def test_lookup_makes_refs_in_place(compiled: Build) -> None:
    spec = """
customer: {id: {lookup: customers, key: customer_id}}
lines: {each: items, map: {product: {id: {lookup: products, key: pid}}}}
"""
    body = (
        entity(spec) + "  customers: {extract: {path: c.json}, map: {email: e}}\n"
        "  products: {extract: {path: p.json}, map: {name: t}}\n"
    )
    result = (
        compiled(body)
        .entities["orders"]
        .transform({"customer_id": 5.0, "items": [{"pid": "9"}, {}]})
    )
    assert [ref for _, _, ref in result.refs] == [
        LookupRef("customers", "5"),
        LookupRef("products", "9"),
    ]
    for container, key, ref in result.refs:
        container[key] = f"loop-{ref.key}"
    assert result.payload == {
        "customer": {"id": "loop-5"},
        "lines": [{"product": {"id": "loop-9"}}],
    }


def test_record_errors_name_payload_path_and_value(compiled: Build) -> None:
    spec = """
total: "{{ total | cents }}"
lines: {each: items, map: {price: "{{ price | cents }}", when: "{{ at | rfc3339 }}"}}
status: "{{ s | enum(vars.t) }}"
"""
    build = compiled("vars: {t: {open: active}}\n" + entity(spec))
    result = build.entities["orders"].transform(
        {
            "total": "1.00",
            "s": "paused",
            "items": [{"price": "1", "at": "2024-01-01"}, {"price": "x1", "at": "nope"}],
        }
    )
    messages = [str(i) for i in result.issues]
    assert messages[0].startswith("lines[1].price: ") and "'x1'" in messages[0]
    assert messages[1].startswith("lines[1].when: ") and "'nope'" in messages[1]
    assert (
        messages[2].startswith("status: ") and "'paused'" in messages[2] and "'open'" in messages[2]
    )
    assert result.payload["total"] == 100


def test_missing_name_in_template_is_a_record_error(compiled: Build) -> None:
    for plan in (True, False):
        result = (
            compiled(entity('t: "{{ price | cents }}"'), plan=plan).entities["orders"].transform({})
        )
        assert [i.message for i in result.issues] == ["'price' is undefined"]


def test_const_copies_are_private(compiled: Build) -> None:
    mapping = compiled(entity("tags: {const: [a]}"))
    first = mapping.entities["orders"].transform({}).payload
    first["tags"].append("changed")
    assert mapping.entities["orders"].transform({}).payload == {"tags": ["a"]}


@pytest.mark.parametrize(
    ("template", "marker"),
    [
        pytest.param("{{ ''.__class__ }}", "__class__", id="class of a string"),
        pytest.param("{{ x.__class__.__mro__ }}", "__class__", id="mro"),
        pytest.param("{{ cycler.__init__.__globals__ }}", "__init__", id="globals"),
        pytest.param("{{ xs.append(1) }}", "append", id="mutating a list"),
    ],
)
def test_sandbox_refuses_escapes_in_mapping_templates(
    compiled: Build, template: str, marker: str
) -> None:
    for plan in (True, False):
        result = (
            compiled(entity(f'x: "{template}"'), plan=plan)
            .entities["orders"]
            .transform({"x": "s", "xs": []})
        )
        assert "x" not in result.payload
        assert len(result.issues) == 1, result.issues


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("a: 'foo(('", "JMESPath syntax error in 'foo(('", id="jmespath syntax"),
        pytest.param(
            "a: 'centz(price)'",
            "unknown function 'centz' (did you mean 'cents'?)",
            id="unknown function",
        ),
        pytest.param(
            "a: 'cents(a, b, c)'", "function cents() takes 1 to 2 argument(s), 3 given", id="arity"
        ),
        pytest.param(
            'a: "{{ price | cent }}"',
            "unknown filter 'cent' (did you mean 'cents'?)",
            id="unknown filter",
        ),
        pytest.param('a: "{{ price | }}"', "Jinja syntax error", id="jinja syntax"),
        pytest.param("a: {lookup: products}", "a `lookup` needs a `key`", id="lookup without key"),
        pytest.param("a: {each: xs}", "an `each` needs a `map`", id="each without map"),
        pytest.param(
            "a: {each: xs, map: {b: c}, wher: d}",
            "unknown key in a `each` spec 'wher' (did you mean 'where'?)",
            id="each typo",
        ),
    ],
)
def test_compile_errors_have_position_and_path(compiled: Build, spec: str, message: str) -> None:
    lines = errors_of(
        compiled,
        "entities:\n  products: {extract: {path: p.json}, map: {name: t}}\n"
        + entity(spec).replace("entities:\n", ""),
    )
    assert any(message in line for line in lines), lines
    assert all(":9:" in line or ":10:" in line for line in lines), lines
    assert all("entities.orders.map.a" in line for line in lines), lines


def test_all_compile_errors_at_once(compiled: Build) -> None:
    lines = errors_of(compiled, entity("a: 'foo(('\nb: \"{{ x | nope }}\"\nc: 'nofn(x)'"))
    assert len(lines) == 3


def _shopify_records() -> list[tuple[str, dict[str, Any]]]:
    if not FIXTURES.is_dir():
        pytest.skip("shared Shopify fixtures are not beside the repository")
    out: list[tuple[str, dict[str, Any]]] = []
    for name, entity_name in [
        ("orders.json", "orders"),
        ("order.json", "orders"),
        ("products.json", "products"),
        ("customer.json", "customers"),
        ("locations.json", "locations"),
        ("inventory_levels.json", "inventories"),
    ]:
        doc = json.loads((FIXTURES / name).read_text())
        value = next(iter(doc.values())) if isinstance(doc, dict) and len(doc) == 1 else doc
        for record in value if isinstance(value, list) else [value]:
            out.append((entity_name, record))
    return out


def test_planned_code_equals_jmespath_and_jinja_rendering() -> None:
    mapping = load_mapping(REPO / "mappings" / "shopify-like.yaml", env={})
    planned, rendered = compile_mapping(mapping), compile_mapping(mapping, plan=False)
    records = _shopify_records()
    for entity_name, record in records:
        a = planned.entities[entity_name].transform(record)
        b = rendered.entities[entity_name].transform(record)
        assert a.payload == b.payload
        assert [str(i) for i in a.issues] == [str(i) for i in b.issues]
        if entity_name == "products":
            for item in planned.entities["variants"].items(record):
                assert (
                    planned.entities["variants"].transform(item, record).payload
                    == rendered.entities["variants"].transform(item, record).payload
                )
    assert len(records) >= 10


def test_each_over_plain_values_reaches_the_item_and_the_scope(compiled: Build) -> None:
    spec = """
tags: {each: items, map: "join('-', [@, parent.k])"}
labels: {each: items, map: "{{ this }}/{{ parent.k }}"}
upper: {each: items, map: "{{ this | upper }}"}
"""
    for plan in (True, False):
        payload = (
            compiled(entity(spec), plan=plan)
            .entities["orders"]
            .transform({"k": "K", "items": ["a", "b"]})
            .payload
        )
        assert payload == {"tags": ["a-K", "b-K"], "labels": ["a/K", "b/K"], "upper": ["A", "B"]}


def test_planned_code_equals_rendering_on_demo_shop_records() -> None:
    """Every entity of shopify-like over a generated shop (refunds, fulfillments, collections)."""
    import httpx

    from examples.shopify_like import running_shopify_like

    mapping = load_mapping(REPO / "mappings" / "shopify-like.yaml", env={})
    planned, rendered = compile_mapping(mapping), compile_mapping(mapping, plan=False)
    paths = {
        "orders": "orders.json?status=any&limit=250",
        "products": "products.json?limit=250",
        "customers": "customers.json?limit=250",
        "locations": "locations.json",
        "collections": "custom_collections.json",
    }
    compared = 0
    with (
        running_shopify_like(orders=120, seed=3) as shop,
        httpx.Client(headers={"X-Shopify-Access-Token": "demo"}) as client,
    ):
        for entity_name, path in paths.items():
            (records,) = client.get(f"{shop.api_url}/{path}").json().values()
            for record in records:
                record.setdefault("collects", [])
                a = planned.entities[entity_name].transform(record)
                b = rendered.entities[entity_name].transform(record)
                assert a.payload == b.payload, (entity_name, record.get("id"))
                assert [str(i) for i in a.issues] == [str(i) for i in b.issues]
                compared += 1
    assert compared > 150


def test_lookup_with_a_literal_key_compiles_without_a_warning(compiled: Build) -> None:
    spec = "location: {id: {lookup: locations, key: \"'main'\"}}"
    body = entity(spec) + "  locations: {extract: {path: l.json}, map: {name: n}}\n"

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SyntaxWarning from the generated code fails the test
        result = compiled(body).entities["orders"].transform({})
    assert [ref for _, _, ref in result.refs] == [LookupRef("locations", "main")]


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param("'" + "lower(" * 300 + "id" + ")" * 300 + "'", id="jmespath calls"),
        pytest.param("'" + "(" * 500 + "id" + ")" * 500 + "'", id="jmespath parentheses"),
        pytest.param('"{{ id ' + "| lower " * 150 + '}}"', id="jinja filter chain"),
        pytest.param('"{{ ' + "(" * 500 + "id" + ")" * 500 + ' }}"', id="jinja parentheses"),
        pytest.param('"{{ 10 ** (10 ** 10) }}"', id="constant power"),
    ],
)
def test_expressions_past_the_bounds_are_mapping_errors(compiled: Build, expr: str) -> None:
    [line] = errors_of(compiled, entity(f"name: {expr}"))
    assert "entities.orders.map.name" in line
    assert "nests deeper than 64" in line or "'**' would build" in line


@pytest.mark.parametrize("plan", [True, False], ids=["planned", "rendered"])
def test_an_expression_that_explodes_on_a_record_is_a_record_issue(
    compiled: Build, plan: bool
) -> None:
    spec = "name: '" + "[@, @][]" * 30 + '\'\npower: "{{ base ** exp }}"'
    result = (
        compiled(entity(spec), plan=plan).entities["orders"].transform({"base": 10, "exp": 10**9})
    )
    found = {issue.path: issue.message for issue in result.issues}
    assert "more than 1000000 list items" in found["name"]
    assert "'**' would build a number" in found["power"]
    assert result.payload == {}


SUMS = """
unit: "{{ (((allocs or []) if allocs is defined else []) | map(attribute='amount') | map('cents', cur) | sum) // (qty or 1) }}"
left: "{{ total - paid }}"
share: "{{ paid / total }}"
listed: "{{ [total, paid] }}"
"""


@pytest.mark.parametrize(
    "record",
    [
        {"allocs": [{"amount": "1.25"}, {"amount": "0.10"}], "cur": "USD", "qty": 2},
        {"allocs": [{"amount": "300"}], "cur": "JPY", "qty": 3},
        {"allocs": [], "cur": "USD", "qty": 0},
        {"allocs": None, "cur": "USD"},
        {"cur": "USD", "qty": 4},
        {"allocs": [], "qty": 1},  # no currency, but no item needs it
    ],
)
def test_sum_of_map_and_plain_operators_are_planned_and_equal_rendering(
    compiled: Build, record: dict[str, Any]
) -> None:
    full = {"total": 10, "paid": 4, **record}
    planned, rendered = (compiled(entity(SUMS), plan=plan) for plan in (True, False))
    a = planned.entities["orders"].transform(full)
    b = rendered.entities["orders"].transform(full)
    assert a.payload == b.payload
    assert (
        [i.path for i in a.issues]
        == [i.path for i in b.issues]
        == ([] if "qty" in full else ["unit"])
    )
    assert (a.payload["left"], a.payload["share"], a.payload["listed"]) == (6, 0.4, [10, 4])
    assert "_map_filter(" in planned.source and "_render(" not in planned.source


def test_a_planned_map_over_an_item_without_the_attribute_is_an_issue_as_rendered(
    compiled: Build,
) -> None:
    base = {"total": 1, "paid": 1, "qty": 1}
    for record in (
        {**base, "allocs": [{"amount": "1.00"}, {"other": 1}], "cur": "USD"},
        {**base, "allocs": [{"amount": "1.00"}]},  # an item, and no currency for it
    ):
        for plan in (True, False):
            result = compiled(entity(SUMS), plan=plan).entities["orders"].transform(record)
            assert [issue.path for issue in result.issues] == ["unit"], (plan, record)
            assert "unit" not in result.payload

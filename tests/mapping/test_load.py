"""Loading and checking mapping files: positions, interpolation, every error at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from engine.errors import ConfigError
from engine.mapping.load import load_mapping
from engine.mapping.yamlsource import load_yaml


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_mapping(path, env=env or {})
    return info.value.lines()


def test_yaml_positions_point_at_keys_and_values() -> None:
    _, positions = load_yaml("a: 1\nb:\n  c: [x, {d: 2}]\n", "f.yaml")
    assert positions.at(("a",)) == (1, 4)
    assert positions.at(("b",)) == (2, 1)
    assert positions.at(("b", "c", 1, "d")) == (3, 14)
    assert positions.at(("b", "c", 1, "missing")) == (3, 10)


def test_yaml_duplicate_key_is_an_error_but_merge_keys_override() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("a: 1\na: 2\n", "f.yaml")
    assert info.value.lines() == ["f.yaml:2:1: a: duplicate key 'a'"]
    data, _ = load_yaml("b: &x {a: 1, c: 2}\nd: {<<: *x, a: 3}\n", "f.yaml")
    assert data["d"] == {"a": 3, "c": 2}


def test_yaml_syntax_error_has_position() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("a: [1\n", "f.yaml")
    assert info.value.lines()[0].startswith("f.yaml:2:1: YAML syntax error")


def test_yaml_is_safe_load_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("a: !!python/object/apply:os.system ['true']\n", "f.yaml")
    assert "unsupported YAML tag" in info.value.lines()[0]
    with pytest.raises(ConfigError) as info:
        load_yaml("a: !!python/name:os.system\n", "f.yaml")
    assert "could not determine a constructor" in info.value.lines()[0]


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        pytest.param("${X}", {"X": "1"}, "1", id="set variable"),
        pytest.param("${X:-dflt}", {}, "dflt", id="default when unset"),
        pytest.param("${X:-}", {}, "", id="empty default"),
        pytest.param("a-${X}-b", {"X": "m"}, "a-m-b", id="inside text"),
        pytest.param("$${X}", {"X": "1"}, "${X}", id="escaped"),
    ],
)
def test_interpolation_forms(
    write_mapping: Callable[[str], Path], value: str, env: dict[str, str], expected: str
) -> None:
    path = write_mapping(
        f"vars: {{x: '{value}'}}\nentities:\n  products:\n    extract: {{path: p.json}}\n    map: {{name: title}}\n"
    )
    assert load_mapping(path, env=env).vars["x"] == expected


def test_missing_variable_names_it_and_where(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        "target: {api_key: '${LOOP_KEY}'}\nentities:\n  products:\n"
        "    extract: {path: p.json}\n    map: {name: title}\n"
    )
    (line,) = problems(path)
    assert line.endswith("target.api_key: environment variable LOOP_KEY is not set (no default)")
    assert line.startswith(f"{path}:4:")


def test_secret_from_environment_is_never_echoed(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        "target: {api_version: '${LOOP_VERSION}'}\nentities:\n  products:\n"
        "    extract: {path: p.json}\n    map: {name: title}\n"
    )
    lines = problems(path, env={"LOOP_VERSION": "s3cr3t-value"})
    assert len(lines) == 1
    assert "s3cr3t-value" not in lines[0]
    assert "the value from the environment" in lines[0]


def test_every_schema_error_is_reported_at_once(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        """\
        target: {api_version: '2099-01', concurrency: 0}
        entities:
          products:
            mapp: {name: title}
        """
    )
    lines = problems(path)
    assert len(lines) == 4, lines
    text = "\n".join(lines)
    assert "target.api_version: '2099-01' is not one of" in text
    assert "target.concurrency: 0 is less than the minimum of 1" in text
    assert "entities.products: unknown key 'mapp' (did you mean 'map'?)" in text
    assert "entities.products: 'map' is a required property" in text


def test_entity_rules_are_checked_with_suggestions(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        """\
        entities:
          products:
            map: {name: title}
          orders:
            depends_on: [product]
            map:
              line_items:
                each: line_items
                map: {product: {id: {lookup: prodcts, key: product_id}}}
          widgets:
            map: {name: title}
        """
    )
    text = "\n".join(problems(path))
    assert (
        "entities.orders.depends_on[0]: unknown entity 'product' (did you mean 'products'?)" in text
    )
    assert "unknown entity in lookup 'prodcts' (did you mean 'products'?)" in text
    assert "entities.widgets: cannot tell the Loop kind from the name" in text


def test_dependency_cycle_is_an_error(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        """\
        entities:
          products: {depends_on: [orders], extract: {path: p.json}, map: {name: title}}
          orders: {depends_on: [products], extract: {path: o.json}, map: {name: name}}
        """
    )
    (line,) = problems(path)
    assert "cycle in depends_on/lookup: orders -> products -> orders" in line


def test_unknown_connector_lists_known_ones(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        "entities:\n  products:\n    extract: {path: p.json}\n    map: {name: title}\n",
        header="version: 1\nname: t\nsource: {connector: htp}\n",
    )
    (line,) = problems(path)
    assert "source.connector: unknown connector 'htp' (known: files, http, sql)" in line


def test_connector_config_is_checked_against_its_schema(
    write_mapping: Callable[[str], Path],
) -> None:
    path = write_mapping(
        "entities:\n  products:\n    extract: {paht: x.csv}\n    map: {name: title}\n",
    )
    text = "\n".join(problems(path))
    assert "entities.products.extract" in text
    assert "paht" in text


def test_order_follows_lookups_and_loop_build_order(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        """\
        entities:
          orders:
            extract: {path: o.json}
            map: {customer: {id: {lookup: customers, key: customer_id}}}
          products:
            extract: {path: p.json}
            map: {name: title}
            variants: {each: variants, map: {name: title}}
          customers: {extract: {path: c.json}, map: {email: email}}
          locations: {extract: {path: l.json}, map: {name: name}}
        """
    )
    assert load_mapping(path, env={}).order == (
        "locations",
        "customers",
        "products",
        "variants",
        "orders",
    )


@pytest.mark.parametrize("declared", ["kind: variant", ""], ids=["declared kind", "by its name"])
def test_a_top_level_variant_entity_is_refused_at_check_with_the_way_out(
    write_mapping: Callable[[str], Path], declared: str
) -> None:
    name = "items" if declared else "variants"
    path = write_mapping(
        f"""\
        entities:
          {name}:
            {declared or "enabled: true"}
            extract: {{path: v.csv}}
            map: {{external_id: id, name: title}}
        """
    )
    (line,) = problems(path)
    assert f"entities.{name}" in line
    assert "cannot be pushed on its own" in line
    assert "declare them as `variants:` inside the product entity" in line


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(_bomb(9), "expands to more than 200,000 values", id="alias bomb"),
        pytest.param("a: " + "[" * 5000 + "]" * 5000, "nested too deeply", id="deep flow"),
        pytest.param("a: " + "{b: " * 80 + "1" + "}" * 80, "deeper than 64", id="deep block"),
    ],
)
def test_yaml_that_expands_past_the_bounds_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml(text, "f.yaml")
    assert message in info.value.lines()[0]
    assert info.value.lines()[0].startswith("f.yaml:")


def test_a_non_utf8_mapping_is_a_config_error_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"version: 1\nname: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_mapping(path, env={})
    assert info.value.lines() == [
        f"{path}:2:10: the mapping is not UTF-8 text (byte 0xe9); save it as UTF-8"
    ]


@pytest.mark.parametrize(
    "url", ["htp:/loop.example", "::::", "https://", "http://host:99999", "loop.example/api"]
)
def test_a_bad_loop_url_from_the_environment_is_a_config_error_that_does_not_echo_it(
    write_mapping: Callable[[str], Path], url: str
) -> None:
    path = write_mapping(
        """\
        target: {base_url: "${LOOP_API_URL:-embedded}"}
        entities:
          products: {extract: {path: p.json}, map: {name: title}}
        """
    )
    [line] = problems(path, env={"LOOP_API_URL": url})
    assert "target.base_url: the value from the environment is not an http(s) URL" in line
    assert url not in line


def test_an_environment_variable_inside_a_query_is_refused_with_the_way_out(
    write_mapping: Callable[[str], Path],
) -> None:
    path = write_mapping(
        """\
        entities:
          products:
            extract:
              query: "SELECT * FROM read_csv('p.csv', encoding='${ENC:-utf-8}')"
            map: {name: title}
        """,
        header="version: 1\nname: t\nsource: {connector: sql, database: ':memory:'}\n",
    )
    [line] = problems(path, env={"ENC": "x'); COPY (SELECT 1) TO 'f'; --"})
    assert "entities.products.extract.query: ${VAR} may not be used inside a query" in line
    assert "`params:" in line and "COPY" not in line


def test_a_query_its_database_refuses_is_reported_at_the_query_key(
    write_mapping: Callable[[str], Path], tmp_path: Path
) -> None:
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, updated_at TIMESTAMP)")
    path = write_mapping(
        """\
        entities:
          orders:
            extract:
              cursor: {field: updated_at}
              query: SELECT id, updatd_at FROM orders WHERE updated_at > $cursor
            map: {external_id: id}
        """,
        header="version: 1\nname: t\nsource: {connector: sql, database: shop.duckdb}\n",
    )
    [line] = problems(path)
    assert line.startswith(f"{path}:8:")
    assert 'entities.orders.extract.query: Binder Error: Referenced column "updatd_at"' in line
    fixed = path.read_text(encoding="utf-8").replace("updatd_at", "updated_at")
    path.write_text(fixed, encoding="utf-8")
    assert load_mapping(path, env={}).entities["orders"].extract["query"].startswith("SELECT")


def test_a_bulk_entity_the_mapping_does_not_have_is_a_config_error(
    write_mapping: Callable[[str], Path],
) -> None:
    path = write_mapping(
        """\
        target: {bulk: {entities: [products, prodcuts]}}
        entities:
          products: {extract: {path: p.json}, map: {name: title}}
        """
    )
    [line] = problems(path)
    assert "target.bulk.entities[1]: 'prodcuts' is not an entity" in line


def test_a_connector_setting_calling_a_function_the_mapping_lacks_is_reported_at_its_key(
    write_mapping: Callable[[str], Path],
) -> None:
    path = write_mapping(
        """\
        entities:
          orders:
            extract:
              path: lines.csv
              group: {by: document_number}
              join:
                - {path: memos.csv, key: "splitt(created_from, '#')[-1]", match: document_number,
                   as: memos}
            map: {external_id: document_number}
          customers:
            extract: {path: c.csv, where: "syntax =="}
            map: {external_id: id}
        """,
        header="version: 1\nname: t\nsource: {connector: files, root: .}\n",
    )
    found = problems(path)
    assert any(
        line.startswith(f"{path}:10:")
        and "entities.orders.extract.join[0].key: unknown function splitt()" in line
        for line in found
    ), found
    assert any("entities.customers.extract.where: invalid JMESPath" in line for line in found)
    path.write_text(path.read_text(encoding="utf-8").replace("splitt(", "split("), "utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace("syntax ==", "id"), "utf-8")
    assert (
        load_mapping(path, env={}).entities["orders"].extract["join"][0]["key"].startswith("split")
    )


def test_an_http_include_when_is_compiled_at_check(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(
        """\
        entities:
          customers:
            extract:
              path: /customers
              include: [{field: notes, path: "/customers/{id}/notes", when: "nope(id)"}]
            map: {external_id: id}
        """,
        header="version: 1\nname: t\nsource: {connector: http, base_url: 'http://shop.test'}\n",
    )
    [line] = problems(path)
    assert "entities.customers.extract.include[0].when: unknown function nope()" in line

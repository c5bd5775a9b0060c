"""Connector config validation: every problem at once, each with its path; documented schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.registry import connector_class, validate_extract, validate_source
from engine.errors import ConfigError
from engine.mapping.load import load_mapping

BUILTIN = ["files", "http", "sql"]


def test_validate_unknown_connector_lists_known_names() -> None:
    [(path, message)] = validate_source({"connector": "ftp", "host": "x"})
    assert path == "source.connector"
    assert "unknown connector 'ftp'" in message
    assert all(name in message for name in BUILTIN)
    [(path, message)] = validate_extract("ftp", {})
    assert path == "source.connector" and "known: files, http, sql" in message


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        pytest.param(
            [], ("source", "must be an object with a `connector` key"), id="not a mapping"
        ),
        pytest.param(
            {}, ("source.connector", "required (known: files, http, sql)"), id="no connector"
        ),
        pytest.param(
            {"connector": 3},
            ("source.connector", "must be a connector name (known: files, http, sql)"),
            id="not a name",
        ),
    ],
)
def test_validate_source_shape(source: object, problem: tuple[str, str]) -> None:
    assert validate_source(source) == [problem]


def test_validate_reports_three_mistakes_at_once() -> None:
    source = {
        "connector": "http",
        "base_url": "http://shop.test",
        "auth": {"type": "bearer"},  # token missing
        "pagination": {"type": "link_headr"},  # misspelt type
        "timout_s": 5,  # misspelt key
    }
    problems = validate_source(source)
    assert [path for path, _ in problems] == [
        "source.auth.token",
        "source.pagination.type",
        "source.timout_s",
    ]
    assert "did you mean 'timeout_s'?" in dict(problems)["source.timout_s"]


def test_validate_extract_paths_use_the_given_prefix() -> None:
    extract = {"pth": "/x", "cursor": {"field": "updated_at", "parm": "since"}, "page_size": 0}
    problems = dict(validate_extract("http", extract, "entities.orders.extract"))
    assert sorted(problems) == [
        "entities.orders.extract.cursor.parm",
        "entities.orders.extract.page_size",
        "entities.orders.extract.path",
        "entities.orders.extract.pth",
    ]
    assert problems["entities.orders.extract.path"] == "required"


@pytest.mark.parametrize(
    ("auth", "paths"),
    [
        pytest.param({"type": "header", "name": "X"}, ["source.auth.value"], id="header"),
        pytest.param(
            {"type": "basic", "username": "u", "token": "t"},
            ["source.auth.password", "source.auth.token"],
            id="basic",
        ),
        pytest.param(
            {"type": "oauth2_client_credentials", "client_id": "c"},
            ["source.auth.client_secret", "source.auth.token_url"],
            id="oauth2",
        ),
        pytest.param({"type": "query", "name": "k", "value": "v"}, [], id="query ok"),
    ],
)
def test_validate_auth_variants(auth: dict[str, Any], paths: list[str]) -> None:
    source = {"connector": "http", "base_url": "http://x.test", "auth": auth}
    assert [p for p, _ in validate_source(source)] == paths


@pytest.mark.parametrize(
    ("connector", "extract", "paths"),
    [
        pytest.param(
            "files",
            {"path": "a.csv", "cursor": {"field": "x", "mtime": True}},
            ["extract.cursor"],
            id="files field and mtime",
        ),
        pytest.param(
            "files",
            {"path": "a.csv", "csv": {"delimiter": ";;", "header": False}},
            ["extract.csv.delimiter", "extract.csv.header"],
            id="files csv",
        ),
        pytest.param(
            "sql",
            {"query": "SELECT 1", "cursor": {"initial": 0}},
            ["extract.cursor.field"],
            id="sql cursor without field",
        ),
        pytest.param("sql", {"query": "SELECT 1", "cursor": "updated_at"}, [], id="sql ok"),
    ],
)
def test_validate_extract_cases(connector: str, extract: dict[str, Any], paths: list[str]) -> None:
    assert [p for p, _ in validate_extract(connector, extract)] == paths


def test_validate_rate_limit_pattern() -> None:
    source = {"connector": "http", "base_url": "http://x.test", "rate_limit": "lots"}
    assert [p for p, _ in validate_source(source)] == ["source.rate_limit"]


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        pytest.param(
            {
                "connector": "http",
                "base_url": "http://x.test",
                "auth": {"type": "nope"},
                "page_size": 0,
            },
            ["source.auth.type", "source.page_size"],
            id="http",
        ),
        pytest.param(
            {"connector": "files", "root": "", "extra": 1},
            ["source.extra", "source.root"],
            id="files",
        ),
        pytest.param(
            {"connector": "sql", "type": "oracle"}, ["source.database", "source.type"], id="sql"
        ),
    ],
)
def test_validate_connectors_refuse_a_bad_config_with_every_path(
    tmp_path: Path, source: dict[str, Any], paths: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        connector_class(source["connector"])(source, tmp_path)
    lines = str(caught.value).splitlines()[1:]
    assert [line.strip().split(":")[0] for line in lines] == paths


def test_validate_is_what_the_mapping_loader_reports_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\n"
        "name: t\n"
        "source:\n"
        "  connector: http\n"
        "  base_url: http://x.test\n"
        "  timout_s: 5\n"
        "entities:\n"
        "  products:\n"
        "    extract: {path: /p, page_size: 0}\n"
        "    map: {name: title}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_mapping(path, env={})
    source = validate_source({"connector": "http", "base_url": "http://x.test", "timout_s": 5})
    extract = validate_extract("http", {"path": "/p", "page_size": 0}, "entities.products.extract")
    expected = [(6, 13, *source[0]), (9, 36, *extract[0])]  # at the values
    found = [(p.line, p.col, p.path, p.message) for p in caught.value.problems]
    assert found == expected
    assert "did you mean 'timeout_s'?" in found[0][3]

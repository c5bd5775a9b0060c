"""Source fixtures of `etl test`: how a case declares them (checked when the mapping loads) and
the entity's real extract run over them, with no cursor and no state."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from connectors.base import ExtractRequest
from connectors.registry import connector_class
from engine.errors import ConfigError, ExtractError
from engine.mapping.fixture_sources import (
    FixtureError,
    create_database,
    serve_responses,
    write_files,
)
from engine.mapping.functions import make_options
from engine.mapping.model import Mapping, SourceFixture
from engine.mapping.yamlsource import KeyPath

# fixture key -> the connectors it stands in for
FITS = {"files": ("files", "sql"), "tables": ("sql",), "responses": ("http",)}
_GLOB = set("*?[")


def fixture_of(spec: dict[str, Any]) -> SourceFixture | None:
    """The case's source fixture, None when it gives `input` instead."""
    if not any(key in spec for key in FITS):
        return None
    return SourceFixture(
        files=dict(spec.get("files") or {}),
        tables={str(k): list(v) for k, v in (spec.get("tables") or {}).items()},
        responses=dict(spec.get("responses") or {}),
    )


def fixture_problems(spec: dict[str, Any], connector: str) -> list[tuple[KeyPath, str]]:
    """What is wrong in a test case's choice of `input` or fixtures, as (key path inside the
    case, message): exactly one of the two, each fixture key fitting the connector, file names
    inside the fixture root, string bodies that are JSON."""
    given = [key for key in FITS if key in spec]
    if ("input" in spec) == bool(given):
        what = "both" if given else "neither"
        return [((), f"give `input` (an extracted record) or source fixtures "
                     f"(`files`, `tables`, `responses`), not {what}")]  # fmt: skip
    out: list[tuple[KeyPath, str]] = []
    for key in given:
        if connector not in FITS[key]:
            fits = " or ".join(FITS[key])
            out.append(((key,), f"`{key}` stands in for the {fits} connector, not {connector}"))
    for name in spec.get("files") or {}:
        pure = PurePosixPath(str(name))
        if pure.is_absolute() or ".." in pure.parts:
            out.append((("files", name), "a file name relative to the fixture root, no `..`"))
    for path, body in (spec.get("responses") or {}).items():
        if isinstance(body, str):
            try:
                json.loads(body)
            except ValueError as exc:
                out.append((("responses", path), f"the body is not JSON: {exc}"))
    return out


def extract_fixture(mapping: Mapping, entity: str, fixture: SourceFixture) -> list[Any]:
    """The records the entity's extract (its parent's, for variants) yields from the fixture,
    from no cursor; FixtureError says what failed, the temporary folder never named."""
    spec = mapping.entities[entity]
    top = mapping.entities[spec.parent] if spec.parent else spec
    problems: list[str] = []  # requests the fixture server could not answer
    with tempfile.TemporaryDirectory(prefix="etl-test-") as tmp:
        root = Path(tmp)
        try:
            with _fixture_source(mapping.source, root, fixture, problems) as source:
                records = _extract(source, mapping, top.name, top.extract)
        except (ConfigError, ExtractError, FixtureError, OSError) as exc:
            # the connector's 404 says less than the server's note of what was not answered
            message = "; ".join(problems) or str(exc).replace(str(root), "<fixture>")
            raise FixtureError(message) from None
        if problems:
            raise FixtureError("; ".join(problems))
    return records


@contextmanager
def _fixture_source(
    source: dict[str, Any], root: Path, fixture: SourceFixture, problems: list[str]
) -> Iterator[dict[str, Any]]:
    """The mapping's `source:` with where it reads replaced by the fixture's stand-in; what the
    response server could not answer goes to `problems`."""
    out = dict(source)
    with ExitStack() as stack:
        write_files(root, fixture.files)
        if out["connector"] in FITS["files"]:
            out["root"] = str(root)  # the fixture's files, never the mapping's folder
        if out["connector"] == "sql":
            _sql_database(out, root, fixture)
        if fixture.responses:
            url, server = stack.enter_context(serve_responses(fixture.responses))
            out.pop("auth", None)  # no credential goes to a fixture (nor to a token endpoint)
            out.update(base_url=url, rate_limit="0/min", retries={"max": 0})
            server.problems = problems
        yield out


def _sql_database(source: dict[str, Any], root: Path, fixture: SourceFixture) -> None:
    from connectors.sql import database_type  # the sql connector only when a test needs it

    kind = database_type(source)
    database = root / (".fixture.sqlite" if kind == "sqlite" else ".fixture.duckdb")
    create_database(database, kind, fixture.tables)
    source.update(database=str(database), type=kind)


def _extract(
    source: dict[str, Any], mapping: Mapping, entity: str, extract: dict[str, Any]
) -> list[Any]:
    base_dir = mapping.base_dir
    cls = connector_class(str(source["connector"]))
    if cls.name == "files" and "root" in source:
        _check_files(Path(source["root"]), extract)
    with cls(source, base_dir) as connector:
        connector.functions = make_options(mapping.timezone)
        request = ExtractRequest(entity, extract, None, base_dir)
        return [record for page in connector.extract(request) for record in page.records]


def _check_files(root: Path, extract: dict[str, Any]) -> None:
    """Every file the extract names (not a glob) is among the fixture's files."""
    joins = extract.get("join") or []
    named = [("extract.path", extract.get("path"))]
    named += [(f"extract.join[{i}].path", j.get("path")) for i, j in enumerate(joins)]
    given = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    for key, path in named:
        if isinstance(path, str) and not (_GLOB & set(path)) and not (root / path).is_file():
            shown = ", ".join(given) or "none"
            raise FixtureError(f"{key} {path!r} is not among the test's files ({shown})")

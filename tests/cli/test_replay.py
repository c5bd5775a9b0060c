"""`etl quarantine MAPPING replay` (engine/cli/run.py, engine/pipeline/run.py): it sends what was
parked, remapped with the mapping as it is now, and reads no source; `--sync` also reads the
source from the saved cursors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.sandbox.server import SandboxHandle
from tests.cli.loop_support import etl

MAPPING = """\
version: 1
name: replay
source: {connector: files, root: data}
target: {base_url: "${LOOP_API_URL:-embedded}", api_key: "${LOOP_API_KEY:-sandbox}"}
entities:
  locations:
    extract: {path: locations.json}
    map:
      external_id: to_string(id)
      name: name
      status: "'active'"
      address: {address1: name, city: "'Leeds'", country_code: "'GB'"}
  customers:
    extract: {path: customers.json}
    map: {external_id: to_string(id), email: email, tags: CUSTOMER_TAGS}
"""
LOCATIONS = [{"id": 1, "name": "Main"}]
# Loop takes a list of tags: one customer has a single tag as text, until the mapping wraps it
FIXED_TAGS = "\"type(tags) == 'string' && [tags] || tags\""
CUSTOMERS = [
    {"id": 1, "email": "ann@example.com"},
    {"id": 2, "email": "bo@example.com", "tags": "vip"},
]


def _setup(folder: Path) -> tuple[str, list[str]]:
    """The mapping (customers' `tags` as they come: the one with a text is quarantined), its
    data, and the --state option."""
    (folder / "data").mkdir()
    _write(folder, "locations", LOCATIONS)
    _write(folder, "customers", CUSTOMERS)
    _mapping(folder, "tags")
    return str(folder / "replay.yaml"), ["--state", str(folder / "state.duckdb")]


def _write(folder: Path, name: str, records: list[dict[str, Any]]) -> None:
    (folder / "data" / f"{name}.json").write_text(json.dumps(records))


def _mapping(folder: Path, tags: str) -> None:
    (folder / "replay.yaml").write_text(MAPPING.replace("CUSTOMER_TAGS", tags))


def _external_ids(sb: SandboxHandle, kind: str) -> set[str]:
    return {str(r["external_id"]) for r in sb.admin.records(kind)}


def test_replay_sends_only_the_parked_records_and_reads_no_source(
    sb: SandboxHandle, tmp_path: Path
) -> None:
    mapping, state = _setup(tmp_path)
    first = etl(sb, "run", mapping, "--json", *state)
    assert first.exit_code == 3, first.output
    # new records at the source, and the mapping fixed (a tag as text becomes a list)
    _write(tmp_path, "locations", [*LOCATIONS, {"id": 2, "name": "Annex"}])
    _write(tmp_path, "customers", [*CUSTOMERS, {"id": 3, "email": "cy@example.com"}])
    _mapping(tmp_path, FIXED_TAGS)

    replayed = etl(sb, "quarantine", mapping, "replay", "--json", *state)

    assert replayed.exit_code == 0, replayed.output
    summary = json.loads(replayed.stdout)
    assert [(e["entity"], e["extracted"], e["created"]) for e in summary["entities"]] == [
        ("customers", 0, 1)
    ], "only the entity with parked records, and nothing read from the source"
    assert _external_ids(sb, "customer") == {"1", "2"}
    assert _external_ids(sb, "location") == {"1"}


def test_replay_with_sync_also_reads_the_source_from_the_cursors(
    sb: SandboxHandle, tmp_path: Path
) -> None:
    mapping, state = _setup(tmp_path)
    assert etl(sb, "run", mapping, *state).exit_code == 3
    _write(tmp_path, "locations", [*LOCATIONS, {"id": 2, "name": "Annex"}])
    _mapping(tmp_path, FIXED_TAGS)

    replayed = etl(sb, "quarantine", mapping, "replay", "--sync", "--json", *state)

    assert replayed.exit_code == 0, replayed.output
    entities = {e["entity"]: e for e in json.loads(replayed.stdout)["entities"]}
    assert set(entities) == {"locations", "customers"}
    assert entities["locations"]["extracted"] == 2
    assert _external_ids(sb, "customer") == {"1", "2"}
    assert _external_ids(sb, "location") == {"1", "2"}

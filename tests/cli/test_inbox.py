"""`etl inbox MAPPING list|show|replay` through click's runner, on a state `etl serve` filled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import main
from engine.loop.webhooks import php_json
from engine.serve.worker import Worker
from engine.state import State
from engine.state.inbox import received
from tests.cli.serve_support import write_mapping
from tests.serve.support import return_event

GOOD = return_event(return_id="501", state="closed", trigger="return.closed")
SHAPELESS = b'{"topic": "return", "trigger": "return.created"}'
NOT_UTF8 = b"\xff\x00 not text"


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    return write_mapping(tmp_path)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.duckdb"
    with State(path) as s:
        for raw in (php_json(GOOD), php_json(GOOD), SHAPELESS, NOT_UTF8):
            s.receive_event(received(raw))
        Worker(s).drain()
    return path


def _etl(mapping: Path, state: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["inbox", str(mapping), *args, "--state", str(state)])


def _key(raw: bytes) -> str:
    return received(raw).key


def test_inbox_list_shows_every_event_with_status_and_reasons(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "list")
    assert result.exit_code == 0, result.output
    assert f"{_key(php_json(GOOD))} [processed] return.closed" in result.output
    assert "1 duplicate(s)" in result.output
    assert "[unprocessable]" in result.output and "    $: " in result.output  # the reason
    assert "the body is not UTF-8 text" in result.output
    assert result.output.rstrip().endswith("3 event(s)")


def test_inbox_list_filters_by_status_and_prints_json(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "list", "--status", "unprocessable", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["status"] for r in rows] == ["unprocessable", "unprocessable"]
    assert all(r["reasons"] for r in rows) and "body" not in rows[0]


def test_inbox_list_refuses_an_unknown_status(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "list", "--status", "lost")
    assert result.exit_code == 2 and "processed" in result.output


def test_inbox_show_prints_the_raw_body(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "show", _key(php_json(GOOD)))
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["body"] == php_json(GOOD).decode()
    assert shown["status"] == "processed" and shown["effect"] == "501:closed"
    assert shown["effect_recorded_by"] == shown["key"] and shown["duplicates"] == 1


def test_inbox_show_a_body_that_is_not_text_as_base64(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "show", _key(NOT_UTF8))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["body_base64"] == "/wAgbm90IHRleHQ="


def test_inbox_show_an_unknown_key_is_an_error(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "show", "return:nope")
    assert result.exit_code == 1 and "no event 'return:nope' in the inbox" in result.output


def test_inbox_replay_processes_again_and_the_effect_stays_once(mapping: Path, state: Path) -> None:
    key = _key(php_json(GOOD))
    for _ in range(2):
        result = _etl(mapping, state, "replay", key)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"{key}: processed"
    with State(state) as s:
        assert [(e["return_id"], e["state"]) for e in s.return_effects()] == [("501", "closed")]
        event = s.inbox_event(key)
        assert event is not None and event["attempts"] == 1 and event["status"] == "processed"


def test_inbox_replay_an_unprocessable_event_says_why_again(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "replay", _key(SHAPELESS))
    assert result.exit_code == 0, result.output
    assert "[unprocessable]" not in result.output and ": unprocessable" in result.output
    assert "id" in result.output


def test_inbox_replay_an_unknown_key_is_an_error(mapping: Path, state: Path) -> None:
    result = _etl(mapping, state, "replay", "return:nope")
    assert result.exit_code == 1 and "no event" in result.output


def test_inbox_without_a_state_says_so(mapping: Path, tmp_path: Path) -> None:
    result = _etl(mapping, tmp_path / "none.duckdb", "list")
    assert result.exit_code == 1 and "no state yet" in result.output
    assert not (tmp_path / "none.duckdb").exists()

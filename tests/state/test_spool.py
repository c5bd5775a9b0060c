"""The spool file: frames appended durably, read back, a torn or damaged tail cut off, a limit,
rotation under a new id; and the state moving it into the inbox exactly once, across a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import StateError
from engine.loop.webhooks import php_json
from engine.state import State
from engine.state import spool as spool_module
from engine.state.inbox import received
from engine.state.spool import HEADER, Spool, SpoolFull, frame, spool_path
from tests.serve.support import return_event

BODIES = [b'{"topic": "return", "id": "1"}', b"not json at all", b"", b"\xff\x00 bytes"]


def _events(n: int) -> list[bytes]:
    return [php_json(return_event(state="open")) for _ in range(n)]


def test_spool_appends_are_read_back_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool")
    spool.append(BODIES[:2])
    spool.append(BODIES[2:])
    found, stop = spool.frames(HEADER)
    assert found == BODIES
    assert stop == spool.size == (tmp_path / "s.spool").stat().st_size
    assert spool.frames(stop) == ([], stop)
    spool.close()
    reopened = Spool(tmp_path / "s.spool")  # durable: the same frames from the file
    assert reopened.frames(HEADER) == (BODIES, stop)
    reopened.close()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data + frame(b"a torn last one")[:-3], id="torn last frame"),
        pytest.param(lambda data: data + frame(b"x")[:5], id="torn frame header"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="damaged last byte"),
    ],
)
def test_spool_a_torn_or_damaged_tail_is_cut_off_on_open(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.spool"
    spool = Spool(path)
    spool.append(BODIES)
    spool.close()
    path.write_bytes(damage(path.read_bytes()))
    reopened = Spool(path)
    found, stop = reopened.frames(HEADER)
    assert found in (BODIES, BODIES[:-1])  # a damaged last frame is dropped with its bytes
    assert path.stat().st_size == stop == reopened.size
    reopened.append([b"after"])  # lands after the last intact frame, readable
    assert reopened.frames(stop)[0] == [b"after"]
    reopened.close()


def test_spool_refuses_past_its_limit_of_unmoved_bytes(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool", max_unmoved=100)
    spool.append([b"x" * 60])
    with pytest.raises(SpoolFull, match="not yet moved"):
        spool.append([b"y" * 60])
    spool.moved(spool.size)  # once moved, there is room again
    spool.append([b"y" * 60])
    assert spool.frames(HEADER)[0] == [b"x" * 60, b"y" * 60]
    spool.close()


def test_spool_rotate_keeps_what_is_not_moved_under_a_new_id(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool")
    spool.append([b"moved"])
    spool.moved(spool.size)
    spool.append([b"not yet"])
    before = spool.ident
    spool.rotate()
    assert spool.ident != before
    assert spool.frames(HEADER) == ([b"not yet"], spool.size)
    assert spool.unmoved == spool.size - HEADER
    spool.close()


def test_spool_a_file_that_is_not_a_spool_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "s.spool"
    path.write_bytes(b"something else entirely")
    with pytest.raises(StateError, match="not a loop-etl spool"):
        Spool(path)
    assert path.read_bytes() == b"something else entirely"  # left for a person to look at


# -- the state and its spool ----------------------------------------------------------------


def test_spool_reads_of_the_inbox_see_spooled_events(tmp_path: Path) -> None:
    raws = _events(3)
    with State(tmp_path / "s.duckdb") as state:
        state.spool_events(raws + raws[:1])
        rows = state.inbox_events()
        assert [state.inbox_event(r["key"])["body"] for r in rows] == raws  # type: ignore[index]
        assert state.inbox_counts()["duplicates"] == 1
        assert state.spool.unmoved == 0


def test_spool_moved_once_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    raws = _events(5)
    with State(path) as state:
        state.spool_events(raws)
        assert state.move_spool() == 5
        assert state.move_spool() == 0
    with State(path) as state:  # the recorded offset: nothing moved again
        assert state.inbox_counts() == {
            "received": 5, "processed": 0, "failed": 0, "unprocessable": 0, "duplicates": 0,
        }  # fmt: skip


def test_spool_a_stop_between_rotation_and_the_next_move_moves_nothing_twice(
    tmp_path: Path,
) -> None:
    """The new file's id differs from the one recorded with the offset: moving starts at its
    beginning, which holds only what was not moved."""
    path = tmp_path / "s.duckdb"
    first, later = _events(4), _events(2)
    with State(path) as state:
        state.spool_events(first)
        state.move_spool()
        state.spool.rotate()
        state.spool_events(later)
    with State(path) as state:
        keys = [r["key"] for r in state.inbox_events()]
        assert keys == [received(raw).key for raw in first + later]
        assert state.inbox_counts()["duplicates"] == 0


def test_spool_a_large_file_starts_again_once_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "ROTATE_BYTES", 2000)
    path = tmp_path / "s.duckdb"
    raws = _events(12)
    with State(path) as state:
        state.spool_events(raws[:8])
        first = state.spool.ident
        assert state.move_spool() == 8
        assert state.spool.ident != first  # rewritten: only the header is left
        assert spool_path(str(path)).stat().st_size == HEADER
        state.spool_events(raws[8:])
        assert len(state.inbox_events()) == 12
    with State(path) as state:
        assert len(state.inbox_events()) == 12
        assert state.inbox_counts()["duplicates"] == 0


KILLED = """
import os, signal, sys
from engine.state import State
state = State(sys.argv[1])
state.spool_events([bytes.fromhex(h) for h in sys.argv[2:]])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_spool_a_process_killed_after_spooling_loses_nothing(tmp_path: Path) -> None:
    """Answered (durable in the spool) but never moved: the next opening of the state moves
    every one, once."""
    path = tmp_path / "s.duckdb"
    raws = _events(20)
    args = [sys.executable, "-c", KILLED, str(path), *(r.hex() for r in raws)]
    done = subprocess.run(args, check=False, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert spool_path(str(path)).stat().st_size > HEADER + sum(map(len, raws))
    with State(path) as state:
        rows = state.inbox_events()
        assert [r["key"] for r in rows] == [received(raw).key for raw in raws]
        assert {r["duplicates"] for r in rows} == {0}
    with State(path) as state:
        assert len(state.inbox_events()) == 20


def test_spool_of_a_state_in_memory_lives_in_a_scratch_folder_removed_on_close() -> None:
    state = State(":memory:")
    folder = state.spool.path.parent
    state.spool_events(_events(1))
    assert len(state.inbox_events()) == 1
    state.close()
    assert not os.path.exists(folder)

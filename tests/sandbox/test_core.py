"""The sandbox's shared state: Loop ids from a counter kept in memory, given back when a
transaction rolls back and continued after a restart; commits that do not wait for the disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.sandbox.core import ID_BASE, Sandbox, SandboxConfig


class Boom(Exception):
    pass


def test_core_a_rollback_gives_back_its_ids() -> None:
    sb = Sandbox(SandboxConfig())
    try:
        assert sb.new_ids(2) == [ID_BASE, ID_BASE + 1]
        with pytest.raises(Boom), sb.transaction():
            assert sb.new_ids(3) == [ID_BASE + 2, ID_BASE + 3, ID_BASE + 4]
            raise Boom
        with sb.transaction():
            assert sb.new_id() == ID_BASE + 2
        row = sb.db.execute("SELECT next_id FROM sandbox_ids").fetchone()
        assert row == (ID_BASE + 3,)
    finally:
        sb.close()


def test_core_ids_continue_after_a_restart(tmp_path: Path) -> None:
    config = SandboxConfig(db_path=str(tmp_path / "sandbox.duckdb"))
    sb = Sandbox(config)
    with sb.transaction():
        sb.new_ids(5)
    sb.close()
    again = Sandbox(config)
    try:
        assert again.new_id() == ID_BASE + 5
    finally:
        again.close()


def test_core_commits_do_not_wait_for_the_disk(tmp_path: Path) -> None:
    sb = Sandbox(SandboxConfig(db_path=str(tmp_path / "sandbox.duckdb")))
    try:
        assert sb.db.execute("SELECT current_setting('fsync_mode')").fetchone() == ("NONE",)
    finally:
        sb.close()

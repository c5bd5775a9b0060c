"""The DDL of every state table, and the schema version a state file records in `state_meta`.

A file written before versions existed has no `state_meta` row; it holds the version-1
tables (or none, when new), and version 1's `CREATE ... IF NOT EXISTS` fits both. A file from
a newer loop-etl is refused rather than half understood.
"""

from __future__ import annotations

import duckdb

from engine.errors import StateError
from engine.state import deferred, outbox, rules

META = "CREATE TABLE IF NOT EXISTS state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
VERSION_KEY = "schema_version"

_V1 = """
CREATE TABLE IF NOT EXISTS raw_records (
    entity TEXT NOT NULL, key TEXT NOT NULL, record JSON NOT NULL, parent_key TEXT,
    run_id BIGINT, extracted_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (entity, key));
CREATE TABLE IF NOT EXISTS id_map (
    entity TEXT NOT NULL, key TEXT NOT NULL, loop_id UBIGINT NOT NULL, payload_hash TEXT,
    synced_at TIMESTAMPTZ NOT NULL, extra JSON, PRIMARY KEY (entity, key));
CREATE TABLE IF NOT EXISTS id_aliases (
    entity TEXT NOT NULL, alias TEXT NOT NULL, alias_key TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (entity, alias, alias_key));
CREATE TABLE IF NOT EXISTS cursors (
    entity TEXT PRIMARY KEY, value TEXT, updated_at TIMESTAMPTZ NOT NULL);
CREATE SEQUENCE IF NOT EXISTS run_ids START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY, command TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ, status TEXT NOT NULL, summary JSON);
CREATE TABLE IF NOT EXISTS quarantine (
    entity TEXT NOT NULL, key TEXT NOT NULL, stage TEXT NOT NULL, reasons JSON NOT NULL,
    record JSON NOT NULL, parent JSON, run_id BIGINT, created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entity, key));
CREATE TABLE IF NOT EXISTS held (
    entity TEXT NOT NULL, key TEXT NOT NULL, reasons JSON NOT NULL, record JSON NOT NULL,
    parent JSON, run_id BIGINT, created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (entity, key));
"""

# Version 2: the inbox of received Loop events (one row per key derived from the body, the raw
# body kept as received) and the once-per-(return, state) effect record (engine/state/inbox.py).
_V2 = """
CREATE SEQUENCE IF NOT EXISTS inbox_seq START 1;
CREATE TABLE IF NOT EXISTS inbox (
    key TEXT PRIMARY KEY, seq BIGINT NOT NULL DEFAULT nextval('inbox_seq'), topic TEXT,
    trigger TEXT, return_id TEXT, return_state TEXT, received_at TIMESTAMPTZ NOT NULL,
    body BLOB NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    reasons JSON NOT NULL, next_attempt_at TIMESTAMPTZ, processed_at TIMESTAMPTZ,
    source TEXT NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0, last_duplicate_at TIMESTAMPTZ,
    effect TEXT);
CREATE TABLE IF NOT EXISTS return_effects (
    return_id TEXT NOT NULL, state TEXT NOT NULL, event_key TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (return_id, state));
"""

# STEPS[n] brings a file from version n to version n + 1; append, never edit a released step.
STEPS: tuple[str, ...] = (_V1, _V2, rules.DDL, outbox.DDL, deferred.DDL, deferred.ALIASES_DDL)
SCHEMA_VERSION = len(STEPS)


def version(db: duckdb.DuckDBPyConnection, path: str) -> int:
    """The schema version the file records; 0 when it records none (new, or pre-versioning)."""
    row = db.execute("SELECT value FROM state_meta WHERE key = ?", [VERSION_KEY]).fetchone()
    if row is None:
        return 0
    try:
        return int(row[0])
    except ValueError:
        raise StateError(
            f"the state file {path} records an unreadable schema version {row[0]!r}"
        ) from None


def migrate(db: duckdb.DuckDBPyConnection, path: str) -> None:
    """Create or upgrade the tables to SCHEMA_VERSION; call inside one transaction."""
    db.execute(META)
    found = version(db, path)
    if found > SCHEMA_VERSION:
        raise StateError(
            f"the state file {path} has schema version {found}, newer than this loop-etl "
            f"reads (version {SCHEMA_VERSION}): upgrade loop-etl or use another state file"
        )
    if found == SCHEMA_VERSION:
        return
    for step in STEPS[found:]:
        db.execute(step)
    db.execute(
        "INSERT INTO state_meta VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
        [VERSION_KEY, str(SCHEMA_VERSION)],
    )

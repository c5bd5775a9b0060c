"""The shared conformance suite, shipped with the package: one subclass gives a connector every
test below (pytest needed).

    from connectors.testing import ConnectorConformance

    class TestMyConnector(ConnectorConformance):
        @pytest.fixture
        def make_source(self):
            return my_factory   # (tmp_path, records) -> (source_cfg, extract_cfg)

The factory stores the records where the connector reads them and returns the mapping's
`source:` block and an `extract:` block that reads them with `cursor` on `updated_at`. The
suite sets `page_size` itself. Records carry `id`, `name`, `price` and `updated_at` (distinct
ISO 8601 timestamps, deliberately not in id order).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, ExtractRequest, Page
from connectors.registry import connector_class, validate_extract, validate_source
from engine.errors import ConfigError

MakeSource = Callable[[Path, list[dict[str, Any]]], tuple[dict[str, Any], dict[str, Any]]]
RECORD_COUNT = 23
PAGE_SIZE = 5
FIELDS = ("id", "name", "price", "updated_at")
_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def sample_records(count: int = RECORD_COUNT) -> list[dict[str, Any]]:
    """`count` records whose updated_at order differs from their id order."""
    return [
        {
            "id": i,
            "name": f"item {i}",
            "price": f"{i}.50",
            "updated_at": (_START + dt.timedelta(hours=(i * 7) % count)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
        for i in range(1, count + 1)
    ]


def when(value: Any) -> dt.datetime:
    """A cursor value as any connector returns it, as an aware datetime."""
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


class Harness:
    """Builds the connector from validated config and runs one extract."""

    def __init__(self, tmp_path: Path, make_source: MakeSource) -> None:
        self.tmp_path = tmp_path
        self.records = sample_records()
        self.source, self.extract_cfg = make_source(tmp_path, self.records)
        self.extract_cfg = {**self.extract_cfg, "page_size": PAGE_SIZE}

    def connector(self) -> Connector:
        return connector_class(self.source["connector"])(self.source, self.tmp_path)

    def pages(self, cursor: str | None = None, limit: int | None = None) -> list[Page]:
        with self.connector() as conn:
            request = ExtractRequest("items", self.extract_cfg, cursor, self.tmp_path, limit)
            return list(conn.extract(request))


def _ids(pages: list[Page]) -> list[str]:
    return [str(r["id"]) for page in pages for r in page.records]


class ConnectorConformance:
    """What every connector must do. Subclasses provide the `make_source` fixture."""

    @pytest.fixture
    def make_source(self) -> MakeSource:
        raise NotImplementedError("a conformance subclass provides the make_source fixture")

    @pytest.fixture
    def harness(self, tmp_path: Path, make_source: MakeSource) -> Harness:
        return Harness(tmp_path, make_source)

    def test_conformance_config_is_valid(self, harness: Harness) -> None:
        assert validate_source(harness.source) == []
        assert validate_extract(harness.source["connector"], harness.extract_cfg) == []

    def test_conformance_extracts_every_record_exactly_once(self, harness: Harness) -> None:
        ids = _ids(harness.pages())
        assert sorted(ids) == sorted(str(r["id"]) for r in harness.records)
        assert len(ids) == len(set(ids))

    def test_conformance_pages_never_exceed_page_size(self, harness: Harness) -> None:
        pages = harness.pages()
        assert pages and all(0 < len(p.records) <= PAGE_SIZE for p in pages)

    def test_conformance_incremental_returns_only_newer(self, harness: Harness) -> None:
        stamps = sorted((r["updated_at"] for p in harness.pages() for r in p.records), key=when)
        cursor = str(stamps[9])
        ids = set(_ids(harness.pages(cursor=cursor)))
        newer = {str(r["id"]) for r in harness.records if when(r["updated_at"]) > when(cursor)}
        older = {str(r["id"]) for r in harness.records if when(r["updated_at"]) < when(cursor)}
        assert newer <= ids, "every record after the cursor comes"
        assert not ids & older, "no record before the cursor comes"

    def test_conformance_page_cursor_is_max_so_far(self, harness: Harness) -> None:
        pages = harness.pages()
        best: dt.datetime | None = None
        for page in pages:
            for record in page.records:
                best = max(best, when(record["updated_at"])) if best else when(record["updated_at"])
            if page.cursor is not None:
                assert when(page.cursor) == best
        assert pages[-1].cursor is not None and when(pages[-1].cursor) == best

    @pytest.mark.parametrize("limit", [1, 7, 10])
    def test_conformance_limit_is_honoured(self, harness: Harness, limit: int) -> None:
        pages = harness.pages(limit=limit)
        assert len(_ids(pages)) == limit
        assert all(len(p.records) <= PAGE_SIZE for p in pages)

    def test_conformance_rejects_bad_config_with_paths(self, harness: Harness) -> None:
        name = harness.source["connector"]
        source_problems = validate_source({**harness.source, "no_such_key": 1})
        extract_problems = validate_extract(name, {**harness.extract_cfg, "page_size": 0})
        assert [p for p, _ in source_problems] == ["source.no_such_key"]
        assert [p for p, _ in extract_problems] == ["extract.page_size"]

    def test_conformance_builds_and_extracts_only_with_valid_config(self, harness: Harness) -> None:
        cls = connector_class(harness.source["connector"])
        with pytest.raises(ConfigError, match=r"source\.no_such_key"):
            cls({**harness.source, "no_such_key": 1}, harness.tmp_path)
        bad = ExtractRequest(
            "items", {**harness.extract_cfg, "page_size": 0}, None, harness.tmp_path
        )
        with (
            harness.connector() as conn,
            pytest.raises(ConfigError, match=r"entities\.items\.extract\.page_size"),
        ):
            conn.extract(bad)

    def test_conformance_close_releases_resources(self, harness: Harness) -> None:
        before = open_fds()
        conn = harness.connector()
        stream = conn.extract(ExtractRequest("items", harness.extract_cfg, None, harness.tmp_path))
        assert isinstance(stream, Generator)
        assert next(stream).records
        stream.close()  # the engine stops reading early (a --limit, an error)
        conn.close()
        conn.close()  # closing twice is harmless
        deadline = time.monotonic() + 2  # a loopback server in this process closes its end late
        while open_fds() > before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert open_fds() <= before

"""Fixtures of the connector tests: the loopback test platform, shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.platform_server import PlatformServer


@pytest.fixture(scope="session")
def platform() -> Iterator[PlatformServer]:
    server = PlatformServer().start()
    yield server
    server.stop()

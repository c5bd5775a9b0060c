"""Fixtures of the CLI tests that talk to a Loop sandbox: one per module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import sandbox


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def sb(server: SandboxHandle) -> SandboxHandle:
    server.admin.reset()
    return server

"""Shared fixtures: one sandbox server per test session, reset to its seeded state before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bulkio.sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(rows=120, seed=7) as sb:
        yield sb


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox, reset: seeded rows, all switches off, empty request log."""
    sandbox_server.reset()
    return sandbox_server

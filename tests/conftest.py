"""Shared fixtures: one sandbox server per test session, reset to its seeded state before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in `tmp_path`, for tests of commands: runs write ``.bulkio/runs`` under the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

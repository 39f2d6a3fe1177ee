"""Fixtures of the reliability suite, and the fault matrix printed at the end of the session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bulkio.api.client import Client
from bulkio.export.table import export_table
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_workbook

MATRIX: dict[tuple[str, str], str] = {}
"""(fault, operation) -> outcome, filled by tests/reliability/test_faults.py and test_sigkill.py."""


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """This suite's own sandbox: 40 customers are enough for every fault and bad input, and keep it fast."""
    with Sandbox(rows=40, seed=7) as sb:
        yield sb


@pytest.fixture(scope="session")
def exported(sandbox_server: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded sandbox's customers exported once per session (every test's sandbox is reset to these rows)."""
    sandbox_server.reset()
    path = tmp_path_factory.mktemp("export") / "customers.xlsx"
    with Client(sandbox_server.url, sandbox_server.api_key) as client:
        write_workbook(export_table(client, "customer"), path)
    return path


@pytest.fixture
def record() -> Callable[[str, str, str], None]:
    """``record(fault, operation, outcome)``: one cell of the matrix (a test records "FAILED" first, its outcome
    last, so a failing test shows in the matrix)."""

    def put(fault: str, operation: str, outcome: str) -> None:
        MATRIX[(fault, operation)] = outcome

    return put


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not MATRIX:
        return
    faults = list(dict.fromkeys(f for f, _ in MATRIX))
    operations = list(dict.fromkeys(o for _, o in MATRIX))
    width = max(len(f) for f in faults)
    cell = max(len(v) for v in MATRIX.values())
    write = terminalreporter.write_line
    terminalreporter.section(f"reliability: fault x operation -> outcome ({len(MATRIX)} cells)")
    write(f"{'fault':<{width}} | " + " | ".join(f"{o:<{cell}}" for o in operations))
    write(f"{'-' * width}-+-" + "-+-".join("-" * cell for _ in operations))
    for fault in faults:
        write(f"{fault:<{width}} | " + " | ".join(f"{MATRIX.get((fault, o), '-'):<{cell}}" for o in operations))

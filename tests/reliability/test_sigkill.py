"""SIGKILL: a real `bulkio apply` process killed at seeded random points of its run, then `bulkio apply --resume`.

The process talks to this session's sandbox over loopback (sandbox latency makes the run last long enough to be
killed in the middle); it is killed once its journal holds a chosen number of lines (plus a random fraction of a
request), so every kill lands inside the run: between batches, between a batch's intent and its outcome, while a
request is in flight. The run id is the newest folder under ``.bulkio/runs/`` in the process's working directory.
Then ``bulkio apply --resume RUN --yes`` must finish the run: creates exactly once, updates applied, deletes done.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bulkio.api.client import Client
from bulkio.run.apply import resume
from bulkio.sandbox import Sandbox

from .helpers import (
    Intent,
    bulkio_command,
    bulkio_env,
    check_state,
    copy_export,
    edit_workbook,
    mine,
    sheet_rows,
    start_apply,
)

SEED = 20261125
POINTS = 4
LATENCY = 0.04
BATCHES = 4 + 4 + 3  # 8 creates, 8 updates (4 shared patches), 6 deletes, in batches of 2
JOURNAL_LINES = 2 * BATCHES  # a "sent" and a "done" line each


def _kill_points() -> list[tuple[int, int]]:
    """(journal lines, concurrency): seeded points, half of them with 4 batches in flight (the CLI's default)."""
    lines = sorted(random.Random(SEED).sample(range(JOURNAL_LINES - 1), POINTS))
    return [(n, 1 if i % 2 == 0 else 4) for i, n in enumerate(lines)]


def _workload(exported: Path, folder: Path) -> tuple[Path, Intent]:
    path = copy_export(exported, folder / "customers.xlsx")
    cells = sheet_rows(path)
    free = [r for r in sorted(cells) if not cells[r]["logo"] and not cells[r]["intercompanyCompanyId"]]
    updated, deleted = free[:8], free[8:14]
    edits: dict[tuple[int, str], object] = {(r, "logo"): f"killed-{i // 2}.png" for i, r in enumerate(updated)}
    edits.update({(r, "_action"): "delete" for r in deleted})
    edit_workbook(path, edits, append=[{"name": f"Killed {i} Ltd", "phone": f"+44 20 7946 00{i:02d}"}
                                       for i in range(8)])
    intent = Intent(updates={cells[r]["id"]: {"logo": f"killed-{i // 2}.png"} for i, r in enumerate(updated)},
                    deletes={cells[r]["id"] for r in deleted},
                    creates={f"Killed {i} Ltd": {"phone": f"+44 20 7946 00{i:02d}"} for i in range(8)})
    return path, intent


def _wait_for_lines(runs: Path, lines: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline and process.poll() is None:
        folders = sorted(runs.glob("*/run.json")) if runs.exists() else []
        if folders:
            journal = folders[-1].parent / "journal.jsonl"
            if lines == 0 or (journal.exists() and journal.read_bytes().count(b"\n") >= lines):
                return
        time.sleep(0.002)


@pytest.mark.parametrize(("point", "concurrency"), _kill_points())
def test_sigkill_then_resume_reaches_the_intended_state(point: int, concurrency: int, sandbox: Sandbox,
                                                         exported: Path, tmp_path: Path,
                                                         record: Callable[[str, str, str], None]) -> None:
    fault = f"SIGKILL after {point} journal lines, {concurrency} in flight"
    for operation in ("create", "update", "delete"):
        record(fault, operation, "FAILED")
    path, intent = _workload(exported, tmp_path)
    before = mine(sandbox)
    sandbox.switches.latency = LATENCY
    runs = tmp_path / ".bulkio" / "runs"
    process = start_apply(path, tmp_path, sandbox, concurrency)
    try:
        _wait_for_lines(runs, point, process, time.monotonic() + 60)
        time.sleep(random.Random(SEED + point).uniform(0, LATENCY))  # anywhere inside the next request
        assert process.poll() is None, "the run ended before it could be killed: raise the latency"
        process.send_signal(signal.SIGKILL)
    finally:
        _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err.decode()
    run = sorted(p.parent.name for p in runs.glob("*/run.json"))[-1]
    resumed = subprocess.run(bulkio_command("apply", "--resume", run, "--yes"), cwd=tmp_path, env=bulkio_env(sandbox),
                             capture_output=True, timeout=120)
    output = resumed.stdout.decode() + resumed.stderr.decode()
    assert resumed.returncode == 0, output
    assert "Traceback" not in output
    counts = check_state(before, mine(sandbox), intent)
    assert counts["created"] == 8
    start = len(sandbox.requests)
    with Client(sandbox.url, sandbox.api_key) as client:
        again = resume(client, run, root=tmp_path)  # resuming a finished run again: nothing is sent
    assert again.complete and not [m for m, _ in sandbox.requests[start:] if m != "GET"]
    assert check_state(before, mine(sandbox), intent) == counts
    record(fault, "create", "ok: 8 created once")
    record(fault, "update", "ok: 8 updated")
    record(fault, "delete", "ok: 6 deleted")

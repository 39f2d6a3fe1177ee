"""SIGKILL of a family run (issue 19): a real `bulkio apply` of new customers each with new contacts, killed at
seeded points of its phases, then `bulkio apply --resume RUN --yes`.

The run is the family's folder ``.bulkio/runs/<run>/`` (the newest with a ``run.json``); each phase runs under
``<run>/phase-<n>/.bulkio/runs/<id>/`` with its own journal: phase 0 the customers, phase 1 their contacts (no
contact is deleted, so there is no deletes phase). The kill points: inside the customers' batches, right when their
journal holds its last "done" line, right when ``phase-1/`` appears (between the parent and child batches), and
inside the contacts' batches. After the resume every new customer exists once, every new contact exactly once and
under its own new customer, and no other row of either table changed.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bulkio.api.client import Client
from bulkio.export.family import export_family
from bulkio.run.apply import resume
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_workbook

from ..workbooks import edit_sheet, header
from .helpers import bulkio_command, bulkio_env, start_apply

CONTACTS = "customerContact"
SEED = 20261126
LATENCY = 0.04
CUSTOMERS = 5  # in batches of 2: 3 batches, 6 journal lines ("sent" and "done" each)
PER_CUSTOMER = 2  # 10 contacts: 5 batches, 10 journal lines
PARENT_LINES, CHILD_LINES = 6, 10
VOLATILE = {"updatedAt", "updatedBy"}

_rng = random.Random(SEED)
POINTS = [  # (phase, journal lines of that phase, concurrency, wait a random part of a request before the kill)
    (0, _rng.randrange(1, PARENT_LINES), 1, True),  # among the customers' batches
    (0, PARENT_LINES, 4, False),  # the customers' last "done" line: the parent phase just finished
    (1, 0, 1, False),  # phase-1/ appeared: the contacts' run is starting
    (1, _rng.randrange(1, CHILD_LINES), 4, True),  # among the contacts' batches
]


def _name(i: int) -> str:
    return f"Ørsted Kill {i} ApS"


def _email(i: int, j: int) -> str:
    return f"kill-{i}-{j}@orsted.example"


@pytest.fixture(scope="module")
def family_export(sandbox_server: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded sandbox's customers and their contacts, exported once for this module."""
    sandbox_server.reset()
    path = tmp_path_factory.mktemp("family") / "c.xlsx"
    with Client(sandbox_server.url, sandbox_server.api_key) as client:
        write_workbook(export_family(client, "customer", [CONTACTS]), path)
    return path


def _workload(template: Path, folder: Path) -> Path:
    """New customers, each with new contacts naming it, as a user types them."""
    path = Path(shutil.copyfile(template, folder / "c.xlsx"))
    edit_sheet(path, append=[{"name": _name(i), "phone": f"+45 99 55 11 0{i}"} for i in range(CUSTOMERS)])
    return edit_sheet(path, sheet_name=CONTACTS, append=[
        {"customerId": _name(i), "firstName": f"Åsa {i}.{j}", "email": _email(i, j)}
        for i in range(CUSTOMERS) for j in range(PER_CUSTOMER)])


def _rows(sandbox: Sandbox) -> dict[str, dict[str, dict[str, Any]]]:
    """Both tables, every company, by id, without the columns every write changes."""
    return {table: {r["id"]: {c: v for c, v in r.items() if c not in VOLATILE} for r in sandbox.rows(table)}
            for table in ("customer", CONTACTS)}


def _phase_journal(run: Path, phase: int) -> Path | None:
    found = sorted((run / f"phase-{phase}" / ".bulkio" / "runs").glob("*/journal.jsonl"))
    return found[-1] if found else None


def _wait(runs: Path, phase: int, lines: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    """Until the phase's journal holds `lines` lines (with 0: until its folder appears)."""
    while time.monotonic() < deadline and process.poll() is None:
        families = sorted(runs.glob("*/run.json")) if runs.exists() else []
        if families:
            run = families[-1].parent
            if lines == 0 and (run / f"phase-{phase}").exists():
                return
            journal = _phase_journal(run, phase)
            if lines and journal is not None and journal.read_bytes().count(b"\n") >= lines:
                return
        time.sleep(0.001)


def _results(path: Path, sheet: str) -> list[dict[str, Any]]:
    data = openpyxl.load_workbook(path)[sheet]
    names = header(data)
    return [{n: data.cell(row=r, column=c).value for n, c in names.items()} for r in range(2, data.max_row + 1)]


@pytest.mark.parametrize(("phase", "lines", "concurrency", "jitter"), POINTS,
                         ids=[f"phase{p}-{n}lines-c{c}" for p, n, c, _ in POINTS])
def test_a_killed_family_run_resumes_to_each_new_customer_and_contact_once(
        phase: int, lines: int, concurrency: int, jitter: bool, sandbox: Sandbox, family_export: Path,
        tmp_path: Path, record: Callable[[str, str, str], None]) -> None:
    fault = f"SIGKILL in family phase {phase} after {lines} journal lines, {concurrency} in flight"
    record(fault, "create", "FAILED")
    path = _workload(family_export, tmp_path)
    before = _rows(sandbox)
    sandbox.switches.latency = LATENCY
    runs = tmp_path / ".bulkio" / "runs"
    process = start_apply(path, tmp_path, sandbox, concurrency)
    try:
        _wait(runs, phase, lines, process, time.monotonic() + 60)
        if jitter:
            time.sleep(random.Random(SEED + phase * 100 + lines).uniform(0, LATENCY))
        assert process.poll() is None, "the run ended before it could be killed: raise the latency"
        process.send_signal(signal.SIGKILL)
    finally:
        _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err.decode()
    [family] = [p.parent for p in runs.glob("*/run.json")]
    parent_journal = _phase_journal(family, 0)
    assert parent_journal is not None  # killed inside the run, never before it
    if phase == 1:  # killed after the customers' phase, before all their contacts were done
        assert parent_journal.read_bytes().count(b"\n") == PARENT_LINES
        child_journal = _phase_journal(family, 1)
        assert child_journal is None or child_journal.read_bytes().count(b"\n") < CHILD_LINES

    resumed = subprocess.run(bulkio_command("apply", "--resume", family.name, "--yes"), cwd=tmp_path,
                             env=bulkio_env(sandbox), capture_output=True, timeout=120)
    output = resumed.stdout.decode() + resumed.stderr.decode()
    assert resumed.returncode == 0, output
    assert "Traceback" not in output

    after = _rows(sandbox)
    for table in ("customer", CONTACTS):  # no row that was there changed or went away
        assert {k: after[table].get(k) for k in before[table]} == before[table], table
    new_customers = {k: r for k, r in after["customer"].items() if k not in before["customer"]}
    names = sorted(r["name"] for r in new_customers.values())
    assert names == sorted(_name(i) for i in range(CUSTOMERS))  # each once
    ids = {r["name"]: k for k, r in new_customers.items()}
    new_contacts = [r for k, r in after[CONTACTS].items() if k not in before[CONTACTS]]
    assert sorted(c["email"] for c in new_contacts) == sorted(
        _email(i, j) for i in range(CUSTOMERS) for j in range(PER_CUSTOMER))  # each exactly once
    owner = {c["email"]: c["customerId"] for c in new_contacts}
    for i in range(CUSTOMERS):
        for j in range(PER_CUSTOMER):
            assert owner[_email(i, j)] == ids[_name(i)], f"{_email(i, j)} is not under {_name(i)}"
    assert all(c["companyId"] == sandbox.company_id for c in new_contacts)

    results = {r["email"]: r for r in _results(tmp_path / "c.results.xlsx", CONTACTS)
               if r["email"] in owner}
    by_email = {c["email"]: k for k, c in after[CONTACTS].items() if k not in before[CONTACTS]}
    assert {e: (r["_status"], r["_id"]) for e, r in results.items()} == {e: ("created", k)
                                                                         for e, k in by_email.items()}

    start = len(sandbox.requests)
    with Client(sandbox.url, sandbox.api_key) as client:
        again = resume(client, family.name, root=tmp_path)  # a finished run, resumed again: nothing is sent
    assert again.complete and not [m for m, _ in sandbox.requests[start:] if m != "GET"]
    assert _rows(sandbox) == after
    record(fault, "create", f"ok: {CUSTOMERS} customers, {CUSTOMERS * PER_CUSTOMER} contacts once")

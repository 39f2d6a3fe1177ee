"""Faults x operations: every fault the sandbox can make, against batches of creates, updates and deletes.

Each test plans an edited export, arms one fault, applies (and resumes while the run stops, as a user would) and
asserts that the server ends in the intended state: 0 rows lost, 0 duplicated, 0 conflicts overwritten. The
outcome of each cell is printed in the matrix at the end of the session (tests/reliability/conftest.py).

"Server restart" here: the sandbox's HTTP server stops (every connection, pooled keep-alive ones included, is
closed) and a new server starts on the same port over the same database, as a PostgREST behind a proxy restarts
while Postgres keeps its data. The sandbox's store is in-memory SQLite owned by the `Sandbox` object, so the data
survives the restart without a file; a restart that lost data would be a different product (a fresh database).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bulkio.api.client import Client
from bulkio.errors import ApplyError
from bulkio.plan import Kind, plan
from bulkio.run.apply import apply, resume
from bulkio.run.results import Results, Status
from bulkio.run.undo import undo
from bulkio.sandbox import Sandbox

from .helpers import Intent, check_state, copy_export, edit_workbook, mine, sheet_rows

OPERATIONS = ("create", "update", "delete")
METHOD = {"create": "POST", "update": "PATCH", "delete": "DELETE"}
BATCH_SIZE = 2
ROWS = 6  # per operation: 3 batches of 2


class NoSleep:
    """Backoff waits recorded, not spent (the 429 storm sleeps for real: Retry-After is the point)."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@dataclass
class Scenario:
    path: Path
    intent: Intent
    rows: dict[str, int]
    """key -> Excel row of the rows the operation touches (updates and deletes)."""


def _scenario(operation: str, exported: Path, folder: Path, tag: str) -> Scenario:
    path = copy_export(exported, folder / "customers.xlsx")
    cells = sheet_rows(path)
    intent = Intent()
    touched: dict[str, int] = {}
    if operation == "create":
        edit_workbook(path, append=[{"name": f"{tag} {i} Ltd", "website": f"https://{tag}-{i}.example.com",
                                     "taxPercent": "20%"} for i in range(ROWS)])
        intent.creates = {f"{tag} {i} Ltd": {"website": f"https://{tag}-{i}.example.com", "taxPercent": 0.2}
                          for i in range(ROWS)}
    elif operation == "update":
        chosen = [r for r in sorted(cells) if not cells[r]["logo"]][:ROWS]
        edits = {(r, "logo"): f"{tag}-{i // 2}.png" for i, r in enumerate(chosen)}  # pairs share a patch
        edit_workbook(path, edits)
        for i, r in enumerate(chosen):
            intent.updates[cells[r]["id"]] = {"logo": f"{tag}-{i // 2}.png"}
            touched[cells[r]["id"]] = r
    else:
        chosen = [r for r in sorted(cells) if not cells[r]["intercompanyCompanyId"]][:ROWS]
        edit_workbook(path, {(r, "_action"): "delete" for r in chosen})
        intent.deletes = {cells[r]["id"] for r in chosen}
        touched = {cells[r]["id"]: r for r in chosen}
    return Scenario(path, intent, touched)


def _finish(client: Client, run: Callable[[], Results], root: Path, limit: int = 8) -> tuple[Results, int]:
    """Apply; while the run stops, resume it (as the error message says). Returns (results, times stopped)."""
    stops = 0
    try:
        return run(), 0
    except ApplyError as exc:
        assert exc.results is not None and "--resume" in str(exc)
        run_id = exc.results.run_id
        stops = 1
    while stops <= limit:
        try:
            return resume(client, run_id, root=root, concurrency=2), stops
        except ApplyError as exc:
            assert exc.results is not None
            stops += 1
    raise AssertionError(f"the run did not finish after {limit} resumes")


# ------------------------------------------------------------------------------------------------ faults
@dataclass(frozen=True)
class Fault:
    """How to arm a fault on the sandbox (after the plan, with the applying client already connected), and the
    client's knobs: the 429 storm sleeps for real (honouring Retry-After is the point), the others record waits."""

    arm: Callable[[Sandbox, str], Callable[[], None] | None]
    """Arms the fault; may return what to call once the run is over (to join a helper thread)."""
    real_sleep: bool = False
    max_retries: int = 5
    stops: bool = False
    """The run must stop at least once (and be resumed)."""


def _rate_limit(sb: Sandbox, operation: str) -> None:
    sb.switches.rate_limit, sb.switches.rate_window = 3, 0.5  # 60 a minute scaled down: 3 per half second
    with httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {sb.api_key}"}) as neighbour:
        while neighbour.get("/customerType", params={"select": "id"}).status_code != 429:
            pass  # another script with the same key used the window up: the run starts into 429s


def _storm_503(count: int) -> Callable[[Sandbox, str], None]:
    def arm(sb: Sandbox, operation: str) -> None:
        sb.switches.fail_503 = count
    return arm


def _drop(after_commit: bool) -> Callable[[Sandbox, str], None]:
    def arm(sb: Sandbox, operation: str) -> None:
        sb.switches.drop, sb.switches.drop_skip = 1, 1  # the second write of this kind breaks mid-request
        sb.switches.drop_after_commit = after_commit
        sb.switches.drop_methods = frozenset({METHOD[operation]})
    return arm


def _latency(sb: Sandbox, operation: str) -> None:
    sb.switches.latency = 0.03


def _restart(sb: Sandbox, operation: str) -> None:
    sb.stop()  # the applying client's pooled connection dies with it
    sb.start()


def _restart_mid_run(sb: Sandbox, operation: str) -> Callable[[], None]:
    """Once the first write of the run arrives, the server stops (in-flight requests finish, new connections are
    refused) and comes back 0.3 s later; latency keeps the run going meanwhile."""
    sb.switches.latency = 0.15
    start = len(sb.requests)

    def restart() -> None:
        deadline = time.monotonic() + 20
        while not any(m == METHOD[operation] for m, _ in sb.requests[start:]) and time.monotonic() < deadline:
            time.sleep(0.005)
        sb.stop()
        time.sleep(0.3)
        sb.start()

    thread = threading.Thread(target=restart, daemon=True)
    thread.start()
    return lambda: thread.join(30)


FAULTS: dict[str, Fault] = {
    "429 storm + Retry-After": Fault(_rate_limit, real_sleep=True),
    "503 x3 (within retries)": Fault(_storm_503(3)),
    "503 x7 (past retries)": Fault(_storm_503(7), max_retries=2, stops=True),  # 3 attempts a request
    "drop before commit": Fault(_drop(after_commit=False), stops=True),
    "drop after commit": Fault(_drop(after_commit=True), stops=True),
    "latency 30 ms": Fault(_latency),
    "restart plan->apply": Fault(_restart),
    "restart mid-run (0.3 s down)": Fault(_restart_mid_run, real_sleep=True),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_leaves_the_intended_state(fault: str, operation: str, sandbox: Sandbox, exported: Path,
                                         tmp_path: Path, record: Callable[[str, str, str], None]) -> None:
    record(fault, operation, "FAILED")
    spec = FAULTS[fault]
    scenario = _scenario(operation, exported, tmp_path, f"Fault{list(FAULTS).index(fault)}")
    sleep = time.sleep if spec.real_sleep else NoSleep()
    with Client(sandbox.url, sandbox.api_key, sleep=sleep, max_retries=spec.max_retries) as client:
        planned = plan(client, scenario.path)
        assert len(planned.of(Kind(operation))) == ROWS and not planned.errors
        before = mine(sandbox)
        settle = spec.arm(sandbox, operation)
        try:
            results, stops = _finish(client, lambda: apply(client, planned, root=tmp_path, batch_size=BATCH_SIZE,
                                                           concurrency=2), tmp_path)
        finally:
            if settle is not None:
                settle()
        retries = client.retries
    assert results.complete
    check_state(before, mine(sandbox), scenario.intent)
    done = {"create": Status.CREATED, "update": Status.UPDATED, "delete": Status.DELETED}[operation]
    assert len(results.of(done)) == ROWS, results.counts()
    if spec.stops:
        assert stops >= 1  # the fault really hit the run
    if fault.startswith(("429", "503", "restart mid")):
        assert retries >= 1 or stops >= 1
    notes = [f"{ROWS} {done.value}"] + ([f"{stops} stop+resume"] if stops else []) + \
        ([f"{retries} retries"] if retries else [])
    record(fault, operation, "ok: " + ", ".join(notes))


# ------------------------------------------------------------------------------------------------ concurrent editor
def test_concurrent_editor_update(sandbox: Sandbox, exported: Path, tmp_path: Path,
                                  record: Callable[[str, str, str], None]) -> None:
    """A column the user changes, changed meanwhile by someone else: a conflict, theirs kept. Another column of a
    row being updated, changed meanwhile: both changes kept."""
    record("concurrent editor", "update", "FAILED")
    scenario = _scenario("update", exported, tmp_path, "Editor")
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as client:
        planned = plan(client, scenario.path)
        before = mine(sandbox)
        (same, _), (other, _) = list(scenario.rows.items())[-1], list(scenario.rows.items())[-2]
        sandbox.concurrent_edit("customer", same, {"logo": "theirs.png"}, after_requests=1)
        sandbox.concurrent_edit("customer", other, {"phone": "+1 555 0100"}, after_requests=1)
        results = apply(client, planned, root=tmp_path, batch_size=BATCH_SIZE, concurrency=1)
    intent = scenario.intent
    del intent.updates[same]
    intent.kept = {same: {"logo": "theirs.png"}, other: {"phone": "+1 555 0100"}}
    check_state(before, mine(sandbox), intent)
    status = {r.key: r.status for r in results.rows}
    assert status[same] is Status.CONFLICT and status[other] is Status.UPDATED
    record("concurrent editor", "update", f"ok: {ROWS - 1} updated, 1 conflict kept, 1 merged")


def test_concurrent_editor_create(sandbox: Sandbox, exported: Path, tmp_path: Path,
                                  record: Callable[[str, str, str], None]) -> None:
    """Someone creates a customer of the same name while the run is on: theirs is kept, ours fails, none twice."""
    record("concurrent editor", "create", "FAILED")
    scenario = _scenario("create", exported, tmp_path, "Editor")
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as client:
        planned = plan(client, scenario.path)
        before = mine(sandbox)
        taken = "Editor 4 Ltd"
        with Client(sandbox.url, sandbox.api_key) as someone:
            someone.insert("customer", [{"name": taken, "companyId": sandbox.company_id,
                                         "website": "https://theirs.example.com"}])
        results = apply(client, planned, root=tmp_path, batch_size=BATCH_SIZE, concurrency=2)
    intent = scenario.intent
    del intent.creates[taken]
    intent.foreign_creates = {taken: {"website": "https://theirs.example.com"}}
    check_state(before, mine(sandbox), intent)
    failed = results.of(Status.FAILED)
    assert [r.label for r in failed] == [taken] and "already exists" in (failed[0].error or "")
    record("concurrent editor", "create", f"ok: {ROWS - 1} created, 1 refused (theirs kept)")


def test_concurrent_editor_delete(sandbox: Sandbox, exported: Path, tmp_path: Path,
                                  record: Callable[[str, str, str], None]) -> None:
    """A row to delete, changed by someone else after the plan: a conflict (kept), as the plan itself says of a row
    changed between export and plan."""
    record("concurrent editor", "delete", "FAILED")
    scenario = _scenario("delete", exported, tmp_path, "Editor")
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as client:
        planned = plan(client, scenario.path)
        before = mine(sandbox)
        changed = list(scenario.rows)[-1]
        sandbox.concurrent_edit("customer", changed, {"logo": "theirs.png"}, after_requests=1)
        results = apply(client, planned, root=tmp_path, batch_size=BATCH_SIZE, concurrency=1)
    status = {r.key: r.status for r in results.rows}
    gone = changed not in mine(sandbox)
    record("concurrent editor", "delete", "BUG: edited row deleted" if gone else
           f"ok: {ROWS - 1} deleted, 1 conflict kept")
    intent = scenario.intent
    intent.deletes.discard(changed)
    intent.kept = {changed: {"logo": "theirs.png"}}
    check_state(before, mine(sandbox), intent)
    assert status[changed] is Status.CONFLICT


# ------------------------------------------------------------------------------------------------ undo after a fault
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("after_commit", [False, True], ids=["before commit", "after commit"])
def test_undo_after_a_dropped_and_resumed_run_restores_the_server(
        after_commit: bool, operation: str, sandbox: Sandbox, exported: Path, tmp_path: Path,
        record: Callable[[str, str, str], None], request: pytest.FixtureRequest) -> None:
    fault = f"drop {'after' if after_commit else 'before'} commit, resume, undo"
    record(fault, operation, "FAILED")
    scenario = _scenario(operation, exported, tmp_path, "Undone")
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as client:
        planned = plan(client, scenario.path)
        before = mine(sandbox)
        _drop(after_commit)(sandbox, operation)
        results, stops = _finish(client, lambda: apply(client, planned, root=tmp_path, batch_size=BATCH_SIZE,
                                                       concurrency=1), tmp_path)
        assert stops == 1 and results.complete
        reverted = undo(client, results.run_id, root=tmp_path)
    assert reverted.complete
    now = mine(sandbox)
    differ = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if differ:
        record(fault, operation, f"BUG: {len(differ)} rows not restored")
    assert not differ, f"rows not restored by undo: {differ}"
    record(fault, operation, f"ok: {ROWS} restored")

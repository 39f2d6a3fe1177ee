"""Apply, resume and undo against the sandbox: the server ends in the intended state, guarded, with few requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bulkio.api.client import Client
from bulkio.config import Settings
from bulkio.errors import ApplyError, PlanConflict, ValidationFailed
from bulkio.export.table import export_table
from bulkio.plan import Kind, plan
from bulkio.run.apply import apply, resume, server_check
from bulkio.run.results import Status, write_results_workbook
from bulkio.run.undo import plan_undo, undo
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet
from bulkio.sheets.write import write_workbook

from ..workbooks import cell, edit_sheet


class NoSleep:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as c:
        yield c


def _export(client: Client, path: Path) -> Path:
    return write_workbook(export_table(client, "customer"), path)


def _edit(path: Path, edits: dict[tuple[int, str], Any], *, append: list[dict[str, Any]] | None = None) -> Path:
    return edit_sheet(path, edits, append=append or ())


def _mine(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in sandbox.rows() if r["companyId"] == sandbox.company_id}


def _writes(sandbox: Sandbox, since: int) -> list[tuple[str, str]]:
    return [(m, p) for m, p in sandbox.requests[since:] if m != "GET"]


@pytest.fixture
def edited(client: Client, tmp_path: Path) -> Path:
    """An exported workbook with 2 updates (one shared patch), a delete and 2 creates."""
    path = _export(client, tmp_path / "c.xlsx")
    return _edit(path, {(2, "logo"): "shared.png", (3, "logo"): "shared.png", (4, "_action"): "delete"},
                 append=[{"name": "Applied One Ltd", "tags": "a, b"}, {"name": "Applied Two Ltd",
                                                                      "taxPercent": "20%"}])


# ------------------------------------------------------------------------------------------------ the happy path
def test_apply_reaches_the_intended_state_in_few_requests(client: Client, sandbox: Sandbox, edited: Path,
                                                          tmp_path: Path) -> None:
    before = _mine(sandbox)
    updated, deleted = cell(edited, 2, "id"), cell(edited, 4, "id")
    result = plan(client, edited)
    start = len(sandbox.requests)
    results = apply(client, result, root=tmp_path)
    after = _mine(sandbox)
    assert results.complete and results.counts()[Status.CREATED] == 2
    assert after[updated]["logo"] == "shared.png" and after[updated]["updatedAt"] is not None
    assert deleted not in after and len(after) == len(before) + 1
    created = [r for r in after.values() if r["name"] in ("Applied One Ltd", "Applied Two Ltd")]
    assert sorted(r["name"] for r in created) == ["Applied One Ltd", "Applied Two Ltd"]
    assert {r["name"]: (r["tags"], r["taxPercent"]) for r in created} == {"Applied One Ltd": (["a", "b"], 0),
                                                                          "Applied Two Ltd": ([], 0.2)}
    writes = _writes(sandbox, start)
    assert [m for m, _ in writes] == ["POST", "PATCH", "DELETE"]  # 2 creates, 2 updates, 1 delete: 3 writes
    by_row = {r.row: r for r in results.rows}
    new = [r for r in results.rows if r.status is Status.CREATED]
    assert all(r.id in after and r.readable_id == after[r.id]["readableId"] for r in new)
    assert by_row[2].status is Status.UPDATED and by_row[4].status is Status.DELETED
    assert plan(client, _export(client, tmp_path / "again.xlsx")).has_changes is False


def test_the_journal_records_intent_before_outcome(client: Client, edited: Path, tmp_path: Path) -> None:
    results = apply(client, plan(client, edited), root=tmp_path)
    events = [json.loads(line) for line in (results.folder / "journal.jsonl").read_text().splitlines()]
    for batch in {e["batch"] for e in events}:
        kinds = [e["event"] for e in events if e["batch"] == batch]
        assert kinds == ["sent", "done"]
    header = json.loads((results.folder / "run.json").read_text())
    assert header["resource"] == "customer" and len(header["batches"]) == 3
    undo_kinds = [json.loads(line)["kind"] for line in (results.folder / "undo.jsonl").read_text().splitlines()]
    assert sorted(undo_kinds) == ["created", "deleted", "updated"]


def test_a_plan_with_errors_is_refused_unless_skipped(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _edit(_export(client, tmp_path / "c.xlsx"), {(2, "taxPercent"): 20, (3, "logo"): "ok.png"})
    with pytest.raises(ValidationFailed):
        apply(client, plan(client, path), root=tmp_path)
    key = cell(path, 3, "id")
    assert _mine(sandbox)[key]["logo"] != "ok.png"  # nothing written
    results = apply(client, plan(client, path, skip_invalid=True), root=tmp_path)
    assert _mine(sandbox)[key]["logo"] == "ok.png"
    assert {r.row: r.status for r in results.rows}[2] is Status.SKIPPED


# ------------------------------------------------------------------------------------------------ guards
def test_a_row_changed_after_the_plan_is_a_conflict_not_overwritten(client: Client, sandbox: Sandbox,
                                                                     tmp_path: Path) -> None:
    path = _edit(_export(client, tmp_path / "c.xlsx"), {(2, "logo"): "mine.png", (3, "logo"): "mine.png"})
    result = plan(client, path)
    key = cell(path, 2, "id")
    sandbox.concurrent_edit("customer", key, {"logo": "theirs.png"})
    client.count("customer")
    results = apply(client, result, root=tmp_path)
    statuses = {r.row: r.status for r in results.rows}
    assert statuses[2] is Status.CONFLICT and statuses[3] is Status.UPDATED
    assert _mine(sandbox)[key]["logo"] == "theirs.png"


def test_check_stale_refuses_a_plan_the_server_has_moved_past(client: Client, sandbox: Sandbox,
                                                              tmp_path: Path) -> None:
    path = _edit(_export(client, tmp_path / "c.xlsx"), {(2, "logo"): "mine.png"})
    result = plan(client, path)
    sandbox.concurrent_edit("customer", cell(path, 2, "id"), {"website": "https://moved.example.com"})
    client.count("customer")
    start = len(sandbox.requests)
    with pytest.raises(PlanConflict):
        apply(client, result, check_stale=True, root=tmp_path)
    assert not _writes(sandbox, start)


def test_one_patch_carries_many_guards_and_a_changed_row_is_left_alone(client: Client, sandbox: Sandbox,
                                                                       tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    rows = range(2, 42)
    keys = [cell(path, r, "id") for r in rows]
    old = {k: _mine(sandbox)[k]["phone"] for k in keys}
    assert len(set(old.values())) > 10  # many different guards
    _edit(path, {(r, "phone"): "+1 555 0000" for r in rows})
    result = plan(client, path)
    sandbox.concurrent_edit("customer", keys[7], {"phone": "+1 555 7777"})
    client.count("customer")
    start = len(sandbox.requests)
    results = apply(client, result, root=tmp_path)
    assert [m for m, _ in _writes(sandbox, start)] == ["PATCH"]
    after = _mine(sandbox)
    assert after[keys[7]]["phone"] == "+1 555 7777"
    assert all(after[k]["phone"] == "+1 555 0000" for k in keys if k != keys[7])
    assert [r.key for r in results.of(Status.CONFLICT)] == [keys[7]]


def test_guarded_patches_are_cut_under_the_url_budget(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key) as plain:
        path = _export(plain, tmp_path / "c.xlsx")
    _edit(path, {(r, "phone"): "+1 555 0001" for r in range(2, 102)})
    settings = Settings.load(base_url=sandbox.url, api_key=sandbox.api_key).with_(url_budget=1500)
    with Client(settings=settings) as client:
        result = plan(client, path)
        start = len(sandbox.requests)
        results = apply(client, result, root=tmp_path)
    patches = [p for m, p in _writes(sandbox, start) if m == "PATCH"]
    assert len(patches) > 3 and all(len(sandbox.url) + len(p) <= 1500 for p in patches)
    assert len(results.of(Status.UPDATED)) == 100


# ------------------------------------------------------------------------------------------------ failure isolation
def test_a_refused_row_is_found_by_bisection_and_the_rest_applied(client: Client, sandbox: Sandbox,
                                                                  tmp_path: Path) -> None:
    names = [f"Bisect {i:02d} Ltd" for i in range(8)]
    rows = [{"name": n} for n in names]
    rows[5]["salesContactId"] = "cc_doesNotExist"  # a foreign key only the database checks
    path = _edit(_export(client, tmp_path / "c.xlsx"), {}, append=rows)
    start = len(sandbox.requests)
    results = apply(client, plan(client, path), root=tmp_path)
    failed = results.of(Status.FAILED)
    assert [r.label for r in failed] == ["Bisect 05 Ltd"] and "salesContactId" in (failed[0].error or "")
    assert len(results.of(Status.CREATED)) == 7
    assert sorted(r["name"] for r in _mine(sandbox).values() if r["name"].startswith("Bisect")) == \
        [n for n in names if n != "Bisect 05 Ltd"]
    posts = [m for m, _ in _writes(sandbox, start) if m == "POST"]
    assert len(posts) <= 1 + 2 * 3  # log2(8) levels of halves


def test_an_undeletable_row_fails_alone(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = {c.value: c.column for c in sheet[1]}
    intercompany = [r for r in range(2, sheet.max_row + 1)
                    if sheet.cell(row=r, column=header["intercompanyCompanyId"]).value]
    plain = [r for r in range(2, sheet.max_row + 1) if r not in intercompany][:3]
    assert intercompany
    rows = [intercompany[0], *plain]
    _edit(path, {(r, "_action"): "delete" for r in rows})
    results = apply(client, plan(client, path), root=tmp_path)
    statuses = {r.row: r.status for r in results.rows}
    assert statuses[intercompany[0]] is Status.FAILED and all(statuses[r] is Status.DELETED for r in plain)
    assert "intercompany" in (results.of(Status.FAILED)[0].error or "")


# ------------------------------------------------------------------------------------------------ stop and resume
def test_a_dropped_create_stops_the_run_and_resume_never_duplicates(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as client:
        path = _edit(_export(client, tmp_path / "c.xlsx"), {(2, "logo"): "after-resume.png"},
                     append=[{"name": f"Dropped {i} Ltd"} for i in range(3)])
        result = plan(client, path)
        sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
        sandbox.switches.drop_methods = frozenset({"POST"})
        with pytest.raises(ApplyError, match="--resume") as info:
            apply(client, result, root=tmp_path, concurrency=1)
        stopped = info.value.results
        assert stopped is not None and not stopped.complete
        assert {r.status for r in stopped.rows if r.row and r.row > 100} == {Status.PENDING}
        key = cell(path, 2, "id")
        assert _mine(sandbox)[key]["logo"] != "after-resume.png"  # the run stopped before the updates
        sandbox.switches.drop = 0
        start = len(sandbox.requests)
        finished = resume(client, stopped.run_id, root=tmp_path)
    assert finished.complete and len(finished.of(Status.CREATED)) == 3
    assert not [m for m, _ in _writes(sandbox, start) if m == "POST"]  # the creates had committed: not resent
    names = [r["name"] for r in _mine(sandbox).values()]
    assert all(names.count(f"Dropped {i} Ltd") == 1 for i in range(3))
    assert _mine(sandbox)[key]["logo"] == "after-resume.png"


def test_a_create_dropped_before_commit_is_sent_again_on_resume(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as client:
        path = _edit(_export(client, tmp_path / "c.xlsx"), {}, append=[{"name": "Lost In Transit Ltd"}])
        result = plan(client, path)
        sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, False
        sandbox.switches.drop_methods = frozenset({"POST"})
        with pytest.raises(ApplyError) as info:
            apply(client, result, root=tmp_path)
        assert not any(r["name"] == "Lost In Transit Ltd" for r in _mine(sandbox).values())
        finished = resume(client, info.value.results.run_id, root=tmp_path)
    assert finished.complete
    assert [r["name"] for r in _mine(sandbox).values()].count("Lost In Transit Ltd") == 1


def test_a_503_storm_longer_than_the_retries_stops_cleanly(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep(), max_retries=2) as client:
        path = _edit(_export(client, tmp_path / "c.xlsx"), {(2, "logo"): "storm.png"})
        result = plan(client, path)
        sandbox.switches.fail_503 = 10
        with pytest.raises(ApplyError) as info:
            apply(client, result, root=tmp_path)
        sandbox.switches.fail_503 = 0
        finished = resume(client, info.value.results.run_id, root=tmp_path)
    assert finished.complete and _mine(sandbox)[cell(path, 2, "id")]["logo"] == "storm.png"


def test_resume_of_a_finished_run_sends_nothing(client: Client, sandbox: Sandbox, edited: Path,
                                                tmp_path: Path) -> None:
    results = apply(client, plan(client, edited), root=tmp_path)
    start = len(sandbox.requests)
    again = resume(client, results.run_id, root=tmp_path)
    assert not _writes(sandbox, start) and again.counts() == results.counts()


# ------------------------------------------------------------------------------------------------ undo
def test_undo_restores_the_server(client: Client, sandbox: Sandbox, edited: Path, tmp_path: Path) -> None:
    ignored = ("updatedAt",)  # set to the time of the undo on rows set back (documented)
    before = {k: {c: v for c, v in r.items() if c not in ignored} for k, r in _mine(sandbox).items()}
    results = apply(client, plan(client, edited), root=tmp_path)
    reverted = undo(client, results.run_id, root=tmp_path)
    assert reverted.complete
    after = {k: {c: v for c, v in r.items() if c not in ignored} for k, r in _mine(sandbox).items()}
    assert after == before


def test_undo_does_not_overwrite_a_row_changed_since_the_run(client: Client, sandbox: Sandbox, edited: Path,
                                                             tmp_path: Path) -> None:
    results = apply(client, plan(client, edited), root=tmp_path)
    key = cell(edited, 2, "id")
    sandbox.concurrent_edit("customer", key, {"logo": "later.png"})
    client.count("customer")
    reversal = plan_undo(client, results.run_id, root=tmp_path)
    assert [r.key for r in reversal.of(Kind.CONFLICT)] == [key]
    undo(client, results.run_id, root=tmp_path)
    assert _mine(sandbox)[key]["logo"] == "later.png"


# ------------------------------------------------------------------------------------------------ results workbook
def test_results_workbook_reports_each_row_and_imports_again(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _edit(_export(client, tmp_path / "c.xlsx"), {(2, "logo"): "ok.png", (3, "logo"): "mine.png",
                                                          (4, "_action"): "delete"},
                 append=[{"name": "Good New Ltd"}, {"name": "Bad New Ltd", "salesContactId": "cc_nope"}])
    planned = plan(client, path)
    sandbox.concurrent_edit("customer", cell(path, 3, "id"), {"logo": "theirs.png"})
    client.count("customer")
    results = apply(client, planned, root=tmp_path)
    sheet = read_sheet(path)
    out = write_results_workbook(results, sheet.frame, sheet.rows, tmp_path / "c.results.xlsx", base=sheet.base,
                                 meta=sheet.meta)
    book = openpyxl.load_workbook(out)["customer"]
    header = {c.value: c.column for c in book[1]}
    status = {r: book.cell(row=r, column=header["_status"]).value for r in range(2, book.max_row + 1)}
    good = next(r for r in status if book.cell(row=r, column=header["name"]).value == "Good New Ltd")
    bad = next(r for r in status if book.cell(row=r, column=header["name"]).value == "Bad New Ltd")
    assert status[2] == "updated" and status[good] == "created" and status[bad] == "failed"
    assert status[3] == "conflict" and status[4] == "deleted"
    assert book.cell(row=good, column=header["id"]).value == book.cell(row=good, column=header["_id"]).value
    assert "salesContactId" in book.cell(row=bad, column=header["_error"]).value
    # fix the failed row in the results workbook and import it again: only that row is created
    book.cell(row=bad, column=header["salesContactId"]).value = None
    book.parent.save(out)
    again = plan(client, out, resource="customer")
    assert again.three_way  # the results workbook carries its own snapshot
    assert [r.label for r in again.of(Kind.CREATE)] == ["Bad New Ltd"]
    assert not again.of(Kind.UPDATE) and not again.errors
    assert [r.row for r in again.of(Kind.CONFLICT)] == [3]  # still a conflict: theirs is never overwritten
    assert not again.of(Kind.DELETE)


# ------------------------------------------------------------------------------------------------ server check
def test_server_check_finds_database_refusals_and_writes_nothing(client: Client, sandbox: Sandbox,
                                                                 tmp_path: Path) -> None:
    path = _edit(_export(client, tmp_path / "c.xlsx"), {(2, "logo"): "checked.png"},
                 append=[{"name": "Checked Ltd"}, {"name": "Unchecked Ltd", "salesContactId": "cc_nope"}])
    result = plan(client, path)
    before = _mine(sandbox)
    sandbox.switches.allow_tx_override = True
    ran, refused = server_check(client, result)
    assert ran and [r.label for r in refused] == ["Unchecked Ltd"]
    assert _mine(sandbox) == before
    sandbox.switches.allow_tx_override = False
    start = len(sandbox.requests)
    ran, refused = server_check(client, result)
    assert not ran and refused == []
    assert _mine(sandbox) == before
    assert [m for m, p in _writes(sandbox, start)] == ["PATCH"]  # the probe only, which matches no row


def test_undo_brings_back_rows_deleted_by_cascade_and_their_links(client: Client, sandbox: Sandbox,
                                                                  tmp_path: Path) -> None:
    ignored = ("updatedAt",)
    contacts = {r["id"]: r for r in sandbox.rows("customerContact")}
    linked = next(r for r in _mine(sandbox).values() if r["salesContactId"] in contacts
                  and contacts[r["salesContactId"]]["customerId"] == r["id"])
    before = {k: {c: v for c, v in r.items() if c not in ignored} for k, r in _mine(sandbox).items()}
    own = sorted(c["id"] for c in contacts.values() if c["customerId"] == linked["id"])
    path = _export(client, tmp_path / "c.xlsx")
    row = next(r for r in range(2, 200) if cell(path, r, "id") == linked["id"])
    _edit(path, {(row, "_action"): "delete"})
    results = apply(client, plan(client, path), root=tmp_path)
    assert results.counts()[Status.DELETED] == 1
    assert not [c for c in sandbox.rows("customerContact") if c["customerId"] == linked["id"]]  # cascaded
    reversal = plan_undo(client, results.run_id, root=tmp_path)
    assert any("customerContact" in w for w in reversal.warnings)
    undo(client, results.run_id, root=tmp_path)
    after = {k: {c: v for c, v in r.items() if c not in ignored} for k, r in _mine(sandbox).items()}
    assert after == before
    assert sorted(c["id"] for c in sandbox.rows("customerContact") if c["customerId"] == linked["id"]) == own

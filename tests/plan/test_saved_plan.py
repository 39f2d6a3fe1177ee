"""Saved plans through the sandbox: `Plan.save` / `Plan.load` keep every field, a loaded plan applies exactly as
the plan in memory (same writes, same results, same server), and a plan that no longer matches its sheet, its host
or its own file is refused before anything is written."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bulkio.api.client import Client
from bulkio.errors import ApplyError, ConfigError, PlanConflict, WorkbookError
from bulkio.export.table import export_table
from bulkio.plan import Kind, Plan, plan
from bulkio.plan.saved import FORMAT, SUFFIX, looks_saved
from bulkio.run.apply import apply, resume
from bulkio.run.results import Results, Status
from bulkio.run.undo import undo
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_workbook

from ..workbooks import cell, edit_sheet

VOLATILE = ("updatedAt",)


class NoSleep:
    def __call__(self, seconds: float) -> None:
        return None


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as c:
        yield c


def _mine(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """The main company's customers by name (created rows get new ids each time), without volatile columns."""
    return {r["name"]: {c: v for c, v in r.items() if c not in (*VOLATILE, "id", "readableId", "createdAt")}
            for r in sandbox.rows() if r["companyId"] == sandbox.company_id}


def _writes(sandbox: Sandbox, since: int = 0) -> list[tuple[str, str]]:
    return [(m, p) for m, p in sandbox.requests[since:] if m != "GET"]


def _outcomes(results: Results) -> list[tuple[Any, ...]]:
    """Every row's outcome, but the ids the server gives new rows (new each time)."""
    return [(r.row, None if r.status is Status.CREATED else r.key, r.status, r.label, r.error) for r in results.rows]


@pytest.fixture
def edited(client: Client, sandbox: Sandbox, tmp_path: Path) -> Path:
    """An export with an update of each kind of value, a shared patch, a delete, a create, an invalid row and a
    conflict (the server and the sheet both changed a phone), planned with ``skip_invalid``."""
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(2, "phone"): "+1 555 0100", (3, "tags"): "x, y", (4, "_action"): "delete",
                      (5, "taxPercent"): "15%", (6, "logo"): "same.png", (7, "logo"): "same.png",
                      (8, "taxPercent"): "not a number", (9, "phone"): "mine"},
               append=[{"name": "Saved Plan Ltd", "tags": "a"}])
    sandbox.concurrent_edit("customer", cell(path, 9, "id"), {"phone": "theirs"})
    sandbox.concurrent_edit("customer", cell(path, 10, "id"), {"website": "https://kept.example.com"})
    return path


def test_a_saved_plan_loads_back_equal_field_by_field(client: Client, edited: Path, tmp_path: Path,
                                                      sandbox: Sandbox) -> None:
    original = plan(client, edited, skip_invalid=True)
    assert {r.kind for r in original.rows} >= {Kind.UPDATE, Kind.DELETE, Kind.CREATE, Kind.SKIPPED, Kind.CONFLICT}
    assert any(r.kept for r in original.rows) and original.issues.issues and len(original.unchanged) > 100
    saved = original.save(tmp_path / f"review{SUFFIX}")
    start = client.requests_made
    loaded = Plan.load(saved, client)
    assert client.requests_made == start  # a hand-written table: loading asks the server nothing
    for spec in dataclasses.fields(Plan):
        assert getattr(loaded, spec.name) == getattr(original, spec.name), spec.name
    assert loaded == original and loaded.batches() == original.batches()
    text = saved.read_text(encoding="utf-8")
    assert sandbox.api_key not in text
    document = json.loads(text)
    assert document["format"] == FORMAT and document["sheet"]["sha256"] and document["plan"]["host"]


def test_a_loaded_plan_applies_exactly_as_the_plan_in_memory(sandbox: Sandbox, edited: Path,
                                                             tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as first:
        original = plan(first, edited, skip_invalid=True)
        saved = original.save(tmp_path / "review.json")
        start = len(sandbox.requests)
        in_memory = apply(first, original, root=tmp_path / "a", concurrency=1)
        writes = sorted(sandbox.requests[start:])
    server = _mine(sandbox)
    sandbox.reset()
    sandbox.concurrent_edit("customer", cell(edited, 9, "id"), {"phone": "theirs"})
    sandbox.concurrent_edit("customer", cell(edited, 10, "id"), {"website": "https://kept.example.com"})
    with Client(sandbox.url, sandbox.api_key, sleep=NoSleep()) as second:
        loaded = Plan.load(saved, second)
        start = len(sandbox.requests)
        from_file = apply(second, loaded, root=tmp_path / "b", concurrency=1)
        assert sorted(sandbox.requests[start:]) == writes  # the same requests, one for one: no second plan
        assert from_file.requests == in_memory.requests
    assert _mine(sandbox) == server
    assert _outcomes(from_file) == _outcomes(in_memory)
    statuses = {r.status for r in from_file.rows}
    assert {Status.UPDATED, Status.CREATED, Status.DELETED, Status.SKIPPED, Status.CONFLICT} <= statuses


def test_a_row_the_server_changed_after_the_save_is_a_conflict_and_the_rest_applied(
        client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(2, "phone"): "+1 555 0101", (3, "phone"): "+1 555 0102", (4, "_action"): "delete"})
    saved = plan(client, path).save(tmp_path / "review.json")
    changed, kept, doomed = cell(path, 2, "id"), cell(path, 3, "id"), cell(path, 4, "id")
    sandbox.concurrent_edit("customer", changed, {"phone": "+1 555 9999"})
    loaded = Plan.load(saved, client)
    assert loaded.is_stale(client)
    results = apply(client, loaded, root=tmp_path)
    by_key = {r.key: r for r in results.rows}
    assert by_key[changed].status is Status.CONFLICT and "not overwritten" in (by_key[changed].error or "")
    assert by_key[kept].status is Status.UPDATED and by_key[doomed].status is Status.DELETED
    rows = {r["id"]: r for r in sandbox.rows()}
    assert rows[changed]["phone"] == "+1 555 9999" and rows[kept]["phone"] == "+1 555 0102" and doomed not in rows


def test_resume_after_a_dropped_batch_and_undo_work_for_a_loaded_plan(client: Client, sandbox: Sandbox,
                                                                      tmp_path: Path) -> None:
    before = _mine(sandbox)
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(2, "logo"): "after-resume.png", (3, "_action"): "delete"},
               append=[{"name": "Resumed Saved Ltd"}])
    saved = plan(client, path).save(tmp_path / "review.json")
    loaded = Plan.load(saved, client)
    sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
    sandbox.switches.drop_methods = frozenset({"POST"})
    with pytest.raises(ApplyError, match="--resume") as info:
        apply(client, loaded, root=tmp_path)
    stopped = info.value.results
    assert stopped is not None and not stopped.complete
    sandbox.switches.drop = 0
    finished = resume(client, stopped.run_id, root=tmp_path)
    assert finished.complete and finished.source == str(path)
    names = [r["name"] for r in sandbox.rows() if r["companyId"] == sandbox.company_id]
    assert names.count("Resumed Saved Ltd") == 1  # created once, though its answer was lost
    assert {r.status for r in finished.rows} >= {Status.CREATED, Status.UPDATED, Status.DELETED}
    undo(client, finished.run_id, root=tmp_path)
    assert _mine(sandbox) == before


def test_a_sheet_edited_after_the_save_is_refused_naming_it(client: Client, sandbox: Sandbox,
                                                             tmp_path: Path) -> None:
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(2, "logo"): "reviewed.png"})
    saved = plan(client, path).save(tmp_path / "review.json")
    edit_sheet(path, {(3, "logo"): "not reviewed.png"})
    start = len(sandbox.requests)
    with pytest.raises(PlanConflict, match="edited after this plan was saved") as info:
        Plan.load(saved, client)
    assert str(path) in str(info.value) and str(saved) in str(info.value)
    assert sandbox.requests[start:] == []


def test_a_sheet_changed_or_gone_between_plan_and_save_is_not_saved(client: Client, tmp_path: Path) -> None:
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(2, "logo"): "reviewed.png"})
    result = plan(client, path)
    later = time.time() + 5
    os.utime(path, (later, later))  # touched, not changed: the bytes the plan read are what the file holds
    result.save(tmp_path / "touched.json").unlink()
    edit_sheet(path, {(3, "logo"): "edited within the second.png"})  # the plan's time could not tell this one
    with pytest.raises(PlanConflict, match="changed after this plan was made"):
        result.save(tmp_path / "review.json")
    path.unlink()
    with pytest.raises(WorkbookError, match="gone"):
        result.save(tmp_path / "review.json")
    assert not (tmp_path / "review.json").exists() and not list(tmp_path.glob(".review.json*"))


def test_a_missing_sheet_is_refused_unless_asked_and_a_moved_pair_is_found(client: Client, sandbox: Sandbox,
                                                                           tmp_path: Path) -> None:
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(2, "logo"): "moved.png"})
    saved = plan(client, path).save(tmp_path / "review.json")
    elsewhere = tmp_path / "inbox"
    elsewhere.mkdir()
    shutil.move(saved, elsewhere / saved.name)
    shutil.move(path, elsewhere / path.name)  # mailed together: the sheet is looked for beside the plan
    moved = Plan.load_saved(elsewhere / saved.name, client)
    assert moved.sheet == elsewhere / path.name and moved.plan.source == str(elsewhere / path.name)
    (elsewhere / path.name).unlink()
    with pytest.raises(WorkbookError, match="gone") as info:
        Plan.load(elsewhere / saved.name, client)
    assert str(elsewhere / saved.name) in str(info.value) and "--without-sheet" in str(info.value)
    gone = Plan.load_saved(elsewhere / saved.name, client, require_sheet=False)
    assert gone.sheet is None and gone.sheet_gone
    results = apply(client, gone.plan, root=tmp_path)
    assert results.counts()[Status.UPDATED] == 1 and _mine(sandbox)  # applied all the same


def test_a_plan_of_a_dataframe_saves_without_a_sheet(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    frame = pd.DataFrame([{"name": "Frame Saved Ltd"}])
    original = plan(client, frame, resource="customer")
    loaded = Plan.load_saved(original.save(tmp_path / "frame.json"), client)
    assert loaded.plan == original and loaded.sheet is None and not loaded.sheet_gone


def test_a_plan_made_against_another_host_is_refused(client: Client, edited: Path, tmp_path: Path) -> None:
    saved = plan(client, edited, skip_invalid=True).save(tmp_path / "review.json")
    with Client("http://127.0.0.1:9", "some-key") as elsewhere, pytest.raises(ConfigError, match="made against"
                                                                                ) as info:
        Plan.load(saved, elsewhere)
    assert str(saved) in str(info.value) and "127.0.0.1:9" in str(info.value)


def _damaged(good: Path, target: Path, change: str) -> Path:
    """`good` made into one kind of bad file."""
    text = good.read_text(encoding="utf-8")
    if change == "not json":
        target.write_text(text[: len(text) // 2], encoding="utf-8")  # cut short
    elif change == "binary":
        target.write_bytes(b"\x00\xff{\x80")
    elif change == "foreign json":
        target.write_text('{"name": "something else"}', encoding="utf-8")
    elif change == "a list":
        target.write_text("[1, 2]", encoding="utf-8")
    elif change == "newer version":
        target.write_text(text.replace('"version": 1', '"version": 3', 1), encoding="utf-8")
    elif change == "hand edited":
        target.write_text(text.replace("+1 555 0100", "+1 555 0199"), encoding="utf-8")
    return target


@pytest.mark.parametrize(("change", "message"), [
    ("not json", "not valid JSON"), ("binary", "not a saved plan"), ("foreign json", "not a saved bulkio plan"),
    ("a list", "not a saved bulkio plan"), ("newer version", "format version 3"),
    ("hand edited", "changed or damaged after it was saved")])
def test_a_bad_file_is_refused_in_one_line_naming_it(client: Client, edited: Path, tmp_path: Path,
                                                     sandbox: Sandbox, change: str, message: str) -> None:
    good = plan(client, edited, skip_invalid=True).save(tmp_path / "good.json")
    bad = _damaged(good, tmp_path / "bad.json", change)
    with pytest.raises(WorkbookError, match=message) as info:
        Plan.load(bad, client)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_a_plan_report_is_not_taken_for_a_saved_plan(client: Client, edited: Path, tmp_path: Path) -> None:
    report = tmp_path / "plan.json"
    plan(client, edited, skip_invalid=True).to_json(report)
    with pytest.raises(WorkbookError, match="plan report"):
        Plan.load(report, client)


def test_a_saved_plan_is_known_by_its_content(client: Client, edited: Path, tmp_path: Path) -> None:
    saved = plan(client, edited, skip_invalid=True).save(tmp_path / "review.dat")
    assert looks_saved(saved) and looks_saved(tmp_path / "absent.json")
    assert not looks_saved(edited) and not looks_saved(tmp_path / "absent.xlsx")
    assert Plan.load(saved, client).has_changes

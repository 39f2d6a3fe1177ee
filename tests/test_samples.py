"""samples/: the committed files are what samples/make_samples.py makes today, the invalid sample really holds
every validation error a customer sheet can have, and the edited family workbook plans as samples/README.md says."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import openpyxl

from bulkio.api.client import Client
from bulkio.api.lookups import fetch_lookups
from bulkio.plan import FamilyPlan, Kind, plan
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet
from bulkio.validate.report import IssueCode
from bulkio.validate.rules import validate

from .browser import REQUIRE_ENV, chromium

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
FILES = ("customers.xlsx", "customers-invalid.xlsx", "customers-invalid.errors.xlsx",
         "customers-missing-column.csv", "customers-from-crm.csv", "customers-from-crm.plan.md",
         "customers-edited.xlsx",
         "customers-edited.plan.md", "customers-edited.plan.xlsx", "customers-edited.plan.html",
         "customers-edited.plan.png", "customers-edited.results.xlsx",
         "customers-with-contacts.xlsx", "customers-with-contacts-edited.xlsx",
         "customers-with-contacts-edited.plan.md")
PICTURES = {"customers-edited.plan.png"}
"""Compared as pictures, not bytes: a screenshot's pixels follow the machine's fonts and Chromium's version."""
VOLATILE = {"host", "exported_at", "version", "run", "created_at", "source"}  # differs from run to run


def load_script() -> ModuleType:
    """samples/make_samples.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def _new_ids(book: Any) -> set[str]:
    """Ids the server drew for rows a run created (random): the results workbook lists them under ``_id``."""
    if "customer" not in book.sheetnames:
        return set()
    rows = list(book["customer"].iter_rows(values_only=True))
    if not rows or "_status" not in rows[0]:
        return set()
    status, ident = rows[0].index("_status"), rows[0].index("_id")
    return {row[ident] for row in rows[1:] if row[status] == "created" and row[ident]}


def _masked(value: Any, new: set[str]) -> Any:
    if isinstance(value, str):
        for ident in new:
            value = value.replace(ident, "<new id>")
    return value


def _stamped(title: str) -> bool:
    """A sheet holding the volatile metadata: ``_bulkio``, a child table's ``_bulkio.<table>``, a plan's Summary."""
    return title in ("_bulkio", "Summary") or title.startswith("_bulkio.")


def _cells(path: Path) -> Any:
    """Every sheet's cell values and comments (what a person sees), without the volatile metadata and with the ids
    a run drew masked."""
    if path.suffix in (".md", ".csv", ".html"):
        return path.read_text(encoding="utf-8")
    book = openpyxl.load_workbook(path)
    new = _new_ids(book)
    out: dict[str, Any] = {}
    for sheet in book.worksheets:
        rows = [tuple(_masked(v, new) for v in row) for row in sheet.iter_rows(values_only=True)
                if not (_stamped(sheet.title) and row and row[0] in VOLATILE)]
        comments = [(cell.coordinate, cell.comment.text) for row in sheet.iter_rows() for cell in row if cell.comment]
        out[sheet.title] = (sheet.sheet_state, rows, comments)
    return out


def _picture(path: Path) -> tuple[int, int]:
    """A PNG's width and height, after checking it is one."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_the_committed_samples_are_current(tmp_path: Path) -> None:
    script = load_script()
    shoot = bool(chromium() or os.environ.get(REQUIRE_ENV))  # without Chromium, no screenshot to make
    written = script.make_samples(tmp_path, screenshot=shoot)
    assert [p.name for p in written] == [n for n in FILES if shoot or n not in PICTURES]
    for name in FILES:
        if name in PICTURES:
            size = _picture(SAMPLES / name)
            assert size == (1100, 1100) and 50_000 < (SAMPLES / name).stat().st_size < 1_000_000
            assert not shoot or _picture(tmp_path / name) == size
            continue
        assert _cells(SAMPLES / name) == _cells(tmp_path / name), \
            f"samples/{name} is out of date: run python samples/make_samples.py"


def test_the_invalid_sample_holds_every_error_a_customer_sheet_can_have() -> None:
    script = load_script()
    with Sandbox(rows=script.ROWS, seed=script.SEED) as sandbox, Client(sandbox.url, sandbox.api_key) as client:
        script.prepare(sandbox, client)
        sheet = read_sheet(SAMPLES / "customers-invalid.xlsx")
        report = validate(sheet, fetch_lookups(client, "customer"), client=client)
    found = {issue.code for issue in report.issues}
    # a customer workbook cannot hold missing_column and too_long: the CSV sample holds them; reformatted is the
    # plan's warning for a re-saved CSV compared with the server (tests/test_precision.py), not validation's; the
    # match errors are the plan's too, for sheets matched on a natural key (tests/plan/test_match.py)
    assert found == set(IssueCode) - {IssueCode.MISSING_COLUMN, IssueCode.TOO_LONG, IssueCode.REFORMATTED,
                                      IssueCode.AMBIGUOUS_MATCH, IssueCode.DUPLICATE_MATCH}
    with Sandbox(rows=script.ROWS, seed=script.SEED) as sandbox, Client(sandbox.url, sandbox.api_key) as client:
        other = read_sheet(SAMPLES / "customers-missing-column.csv", "customer")
        assert {i.code for i in validate(other, fetch_lookups(client, "customer")).errors} == {
            IssueCode.MISSING_COLUMN, IssueCode.TOO_LONG}
    assert {i.code for i in report.warnings} == {IssueCode.READ_ONLY_EDITED}
    errors = openpyxl.load_workbook(SAMPLES / "customers-invalid.errors.xlsx")
    listed = list(errors["Errors"].iter_rows(min_row=2, values_only=True))
    assert len(listed) == len(report.issues)  # the error workbook lists every issue, one line each
    assert [row[3] for row in listed] == [issue.message for issue in report.issues]


def test_the_edited_sample_shows_every_change_kind() -> None:
    script = load_script()
    plan_text = (SAMPLES / "customers-edited.plan.md").read_text(encoding="utf-8")
    for kind, rows in (("create", 1), ("update", 2), ("delete", 1), ("conflict", 1), ("unchanged", script.ROWS - 4)):
        assert f"| {kind} | {rows} |" in plan_text, kind
    assert "server changed, kept" in plan_text and "three-way" in plan_text
    results = openpyxl.load_workbook(SAMPLES / "customers-edited.results.xlsx")["customer"]
    rows = list(results.iter_rows(values_only=True))
    status = rows[0].index("_status")
    assert sorted({row[status] for row in rows[1:]}) == ["conflict", "created", "deleted", "unchanged", "updated"]


def test_the_crm_sample_is_matched_on_names() -> None:
    plan_text = (SAMPLES / "customers-from-crm.plan.md").read_text(encoding="utf-8")
    for kind, rows in (("create", 2), ("update", 2), ("unchanged", 1), ("skipped", 0)):
        assert f"| {kind} | {rows} |" in plan_text, kind
    assert "matched on name: 3 row(s) to existing customer rows (rows 2-4); 2 row(s) matched nothing" in plan_text
    assert "'Web Site' -> website (loose)" in plan_text and "blank cells leave fields as they are" in plan_text


def test_the_family_sample_plans_a_new_customer_with_contacts_a_move_and_a_cascading_delete() -> None:
    script = load_script()
    with Sandbox(rows=script.ROWS, seed=script.SEED) as sandbox, Client(sandbox.url, sandbox.api_key) as client:
        script.prepare(sandbox, client)
        planned = plan(client, SAMPLES / "customers-with-contacts-edited.xlsx")
        ids = {row["name"]: row["id"] for row in sandbox.rows("customer") if row["companyId"] == sandbox.company_id}
    assert isinstance(planned, FamilyPlan) and not planned.errors and not planned.has_conflicts
    customers, contacts = planned.plan_for("customer"), planned.plan_for("customerContact")
    assert {k: n for k, n in customers.counts().items() if n} == {Kind.CREATE: 1, Kind.DELETE: 1,
                                                                   Kind.UNCHANGED: script.ROWS - 1}
    assert {k: n for k, n in contacts.counts().items() if n} == {Kind.CREATE: 2, Kind.UPDATE: 1, Kind.UNCHANGED: 5}
    [new] = customers.of(Kind.CREATE)
    [gone] = customers.of(Kind.DELETE)
    assert (new.row, new.label, gone.row, gone.label) == (22, "Fjord Lighting AS", 3, "Łódź Metalworks S.A.")
    [cascade] = planned.cascades
    assert (cascade.row, cascade.child, cascade.children) == (3, "customerContact", 1)
    for row in contacts.of(Kind.CREATE):  # linked to the new customer by its pending id, not by a name
        [link] = [c for c in row.changes if c.column == "customerId"]
        assert link.after == "<new customer row 22>"
    [moved] = contacts.of(Kind.UPDATE)
    assert [(c.column, c.before, c.after) for c in moved.changes] == [
        ("customerId", ids['O\'Brien "Tools" (Cork)'], ids["Smith, Jones & Co. Ltd."])]
    text = (SAMPLES / "customers-with-contacts-edited.plan.md").read_text(encoding="utf-8")
    assert "deleting customer 'Łódź Metalworks S.A.' (row 3) also deletes its 1 customerContact row(s)" in text
    assert text.count("| Fjord Lighting AS (new, row 22) |") == 2  # the report names the pending id's customer
    assert "| O'Brien \"Tools\" (Cork) | Smith, Jones & Co. Ltd. |" in text  # and customers by name, not ids
    assert "## customer\n" in text and "## customerContact\n" in text


def test_the_family_sample_holds_both_tables_each_with_its_snapshot() -> None:
    book = openpyxl.load_workbook(SAMPLES / "customers-with-contacts.xlsx")
    assert {"customer", "customerContact", "_bulkio", "_base", "_bulkio.customerContact",
            "_base.customerContact"} <= set(book.sheetnames)
    contacts = list(book["customerContact"].iter_rows(values_only=True))
    names = {row[2] for row in book["customer"].iter_rows(min_row=2, values_only=True)}
    link = contacts[0].index("customerId")
    assert len(contacts) == 7 and all(row[link] in names for row in contacts[1:])  # names, not ids

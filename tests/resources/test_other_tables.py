"""The whole round trip for tables other than customer, through the same code: export -> edit in the workbook ->
plan -> apply -> export again (nothing left to change) -> undo (the server as it was).

`supplier` is known only from the server's OpenAPI document (no natural key, references shown as raw ids or by the
labels of hand-written tables); `customerContact` has a hand-written definition. What differs per table below is
data (the cells a person would type), never a code path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

import bulkio
from bulkio.api.catalog import resource_for, server_tables
from bulkio.api.client import Client
from bulkio.cli.app import app
from bulkio.errors import ApplyError
from bulkio.export.table import export_table
from bulkio.plan import Kind, plan
from bulkio.resources import RESOURCES
from bulkio.run.apply import apply, resume
from bulkio.run.results import Status
from bulkio.run.undo import plan_undo, undo
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_workbook

COPY = object()
"""In a new row: copy the cell of the first data row (a reference label the server knows)."""

EDITS: dict[str, dict[str, Any]] = {
    "supplier": {
        "updates": [{"phone": "+44 20 7946 0001", "rating": 4.5}, {"paymentTermDays": 60, "tags": "x, y"}],
        "create": {"name": "Round Trip Supplies Ltd", "currencyCode": "EUR", "rating": 3,
                   "customFields.leadTimeDays": 12},
    },
    "customerContact": {
        "updates": [{"mobilePhone": "+44 7700 900123"}, {"lastName": "Changed", "firstName": "Zoë"}],
        "create": {"customerId": COPY, "email": "round.trip@example.com", "firstName": "Round"},
    },
}
IGNORED = ("updatedAt",)  # set to the time of a write; undo sets it to the time of the undo (documented)


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def _mine(sandbox: Sandbox, table: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: {c: v for c, v in r.items() if c not in IGNORED} for r in sandbox.rows(table)
            if r["companyId"] == sandbox.company_id}


def _referenced(sandbox: Sandbox, client: Client) -> set[Any]:
    """Every value some row of some table holds outside its own id: a row whose id is among them may be refused
    deletion by a foreign key."""
    return {v for t in server_tables(client) for r in sandbox.rows(t.name) for c, v in r.items()
            if c != "id" and isinstance(v, str)}


def _sheet(path: Path, table: str) -> tuple[openpyxl.Workbook, Any, dict[str, int]]:
    book = openpyxl.load_workbook(path)
    sheet = book[table]
    return book, sheet, {c.value: c.column for c in sheet[1]}


def _edit(path: Path, table: str, referenced: set[Any]) -> dict[str, Any]:
    """Edit the export as a person would in Excel (openpyxl stands in for it): two updates, a delete marked in
    `_action`, a new row. Returns {"updated": {id: edits}, "deleted": id, "created": row}."""
    spec = EDITS[table]
    book, sheet, header = _sheet(path, table)
    ids = {r: sheet.cell(row=r, column=header["id"]).value for r in range(2, sheet.max_row + 1)}
    updated = {}
    for row, edits in zip((2, 3), spec["updates"], strict=True):
        for name, value in edits.items():
            sheet.cell(row=row, column=header[name]).value = value
        updated[ids[row]] = edits
    doomed = next(r for r in range(4, sheet.max_row + 1) if ids[r] not in referenced)
    sheet.cell(row=doomed, column=header["_action"]).value = "delete"
    new = sheet.max_row + 1
    created = {}
    for name, value in spec["create"].items():
        cell = sheet.cell(row=2, column=header[name]).value if value is COPY else value
        sheet.cell(row=new, column=header[name]).value = created[name] = cell
    book.save(path)
    return {"updated": updated, "deleted": ids[doomed], "created": created, "row": new}


# ------------------------------------------------------------------------------------------------ the round trip
@pytest.mark.parametrize("table", sorted(EDITS))
def test_export_edit_plan_apply_reexport_undo(client: Client, sandbox: Sandbox, tmp_path: Path, table: str) -> None:
    assert (table in RESOURCES) is (table == "customerContact")  # one hand-written, one from OpenAPI only
    before = _mine(sandbox, table)
    resource = resource_for(client, table)
    path = write_workbook(export_table(client, resource), tmp_path / f"{table}.xlsx")
    untouched = plan(client, path)  # the workbook says which table it holds, even one only the server describes
    assert untouched.resource.name == table and untouched.three_way and not untouched.has_changes
    assert untouched.counts()[Kind.UNCHANGED] == len(before)

    edits = _edit(path, table, _referenced(sandbox, client))
    result = plan(client, path)
    assert not result.errors, [str(i) for i in result.errors]
    counts = result.counts()
    assert (counts[Kind.UPDATE], counts[Kind.DELETE], counts[Kind.CREATE]) == (2, 1, 1)
    assert counts[Kind.UNCHANGED] == len(before) - 3
    updates = {r.key: r for r in result.of(Kind.UPDATE)}
    assert set(updates) == set(edits["updated"])
    for key, row in updates.items():  # only the edited columns, each guarded by the value the server holds
        assert set(row.body) == set(edits["updated"][key]) == set(row.guard)
        assert all(row.guard[c] == before[key][c] for c in row.guard)
    assert result.of(Kind.DELETE)[0].key == edits["deleted"]

    results = apply(client, result, root=tmp_path)
    assert results.complete and not results.of(Status.FAILED) and not results.of(Status.CONFLICT)
    after = _mine(sandbox, table)
    (new,) = results.of(Status.CREATED)
    assert new.row == edits["row"] and new.id in after and new.id not in before
    assert edits["deleted"] not in after and len(after) == len(before)
    assert after[next(iter(updates))] != before[next(iter(updates))]
    for key in updates:  # the server holds what the plan said it would write, and nothing else changed
        assert {c: after[key][c] for c in updates[key].body} == dict(updates[key].body)
        assert {c: v for c, v in after[key].items() if c not in updates[key].body} == \
            {c: v for c, v in before[key].items() if c not in updates[key].body}
    for key in set(before) - {edits["deleted"], *updates}:
        assert after[key] == before[key]

    again = plan(client, write_workbook(export_table(client, resource), tmp_path / f"{table}.again.xlsx"))
    assert not again.has_changes and not again.has_conflicts and not again.errors
    assert again.counts()[Kind.UNCHANGED] == len(after)

    reverted = undo(client, results.run_id, root=tmp_path)
    assert reverted.complete and not reverted.of(Status.FAILED) and not reverted.of(Status.CONFLICT)
    assert _mine(sandbox, table) == before


@pytest.mark.parametrize("table", sorted(EDITS))
def test_conflicts_kept_changes_and_delete_missing(client: Client, sandbox: Sandbox, tmp_path: Path,
                                                  table: str) -> None:
    """The three-way compare and its guards hold for any table: both sides changed a column -> conflict (and apply
    leaves the server's value); only the server changed it -> kept; a row dropped from the sheet -> deleted only with
    delete_missing."""
    column = next(iter(EDITS[table]["updates"][0]))  # a text column a person edits
    path = write_workbook(export_table(client, resource_for(client, table)), tmp_path / f"{table}.xlsx")
    book, sheet, header = _sheet(path, table)
    ids = {r: sheet.cell(row=r, column=header["id"]).value for r in range(2, sheet.max_row + 1)}
    referenced = _referenced(sandbox, client)
    gone = next(r for r in range(4, sheet.max_row + 1) if ids[r] not in referenced)  # a delete the database allows
    mine, theirs, dropped = ids[2], ids[3], ids[gone]
    sheet.cell(row=2, column=header[column]).value = "+1 555 0100"
    sheet.delete_rows(gone)
    book.save(path)
    sandbox.concurrent_edit(table, mine, {column: "+1 555 0199"})
    sandbox.concurrent_edit(table, theirs, {column: "+1 555 0123"})
    assert not plan(client, path).of(Kind.DELETE)
    result = plan(client, path, delete_missing=True)
    (conflict,) = result.of(Kind.CONFLICT)
    assert conflict.key == mine and [(c.before, c.after) for c in conflict.changes] == [("+1 555 0199", "+1 555 0100")]
    kept = next(r for r in result.rows if r.key == theirs)
    assert kept.kind is Kind.UNCHANGED and [(k.column, k.before) for k in kept.kept] == [(column, "+1 555 0123")]
    assert [r.key for r in result.of(Kind.DELETE)] == [dropped]
    results = apply(client, result, root=tmp_path)
    rows = _mine(sandbox, table)
    assert dropped not in rows and results.of(Status.CONFLICT)[0].key == mine
    assert rows[mine][column] == "+1 555 0199" and rows[theirs][column] == "+1 555 0123"


def test_a_dataframe_of_an_openapi_table_plans_two_way_and_applies(client: Client, sandbox: Sandbox,
                                                                   tmp_path: Path) -> None:
    frame = bulkio.export(client, resource_for(client, "supplier"))
    key = frame.loc[0, "id"]
    frame.loc[0, "taxId"] = "GB000000001"
    result = plan(client, frame, resource="supplier")
    (row,) = result.of(Kind.UPDATE)
    assert not result.three_way and row.key == key and dict(row.body) == {"taxId": "GB000000001"}
    apply(client, result, root=tmp_path)
    assert _mine(sandbox, "supplier")[key]["taxId"] == "GB000000001"


# ------------------------------------------------------------------------------------------------ refusals
def test_a_delete_refused_by_a_foreign_key_fails_alone_and_undo_leaves_the_row(client: Client, sandbox: Sandbox,
                                                                               tmp_path: Path) -> None:
    """A contact still named by a customer (salesContactId) cannot be deleted; undo must not try to re-insert it
    (its row was recorded for undo before the DELETE was sent)."""
    before = _mine(sandbox, "customerContact")
    path = write_workbook(export_table(client, "customerContact"), tmp_path / "contacts.xlsx")
    book, sheet, header = _sheet(path, "customerContact")
    used = {r["salesContactId"] for r in sandbox.rows("customer")}
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=header["id"]).value in used)
    key = sheet.cell(row=row, column=header["id"]).value
    sheet.cell(row=row, column=header["_action"]).value = "delete"
    sheet.cell(row=2 if row != 2 else 3, column=header["lastName"]).value = "Kept Apart"
    book.save(path)
    results = apply(client, plan(client, path), root=tmp_path)
    (failed,) = results.of(Status.FAILED)
    assert failed.key == key and "used by customer" in (failed.error or "")
    assert len(results.of(Status.UPDATED)) == 1 and key in _mine(sandbox, "customerContact")
    reversal = plan_undo(client, results.run_id, root=tmp_path)
    assert not reversal.of(Kind.CREATE) and len(reversal.of(Kind.UPDATE)) == 1
    reverted = undo(client, results.run_id, root=tmp_path)
    assert reverted.complete and not reverted.of(Status.FAILED)
    assert _mine(sandbox, "customerContact") == before


# ------------------------------------------------------------------------------------------------ resume
@pytest.mark.parametrize("table", sorted(EDITS))
def test_resume_of_an_interrupted_create(sandbox: Sandbox, tmp_path: Path, table: str) -> None:
    """A create whose answer was lost (committed, connection dropped): a table with a natural key (customerContact:
    email) is checked by it and not created twice; a table without one (supplier, from OpenAPI) cannot be checked,
    so resume refuses rather than risk a duplicate."""
    with Client(sandbox.url, sandbox.api_key, max_retries=0) as client:
        path = write_workbook(export_table(client, resource_for(client, table)), tmp_path / f"{table}.xlsx")
        book, sheet, header = _sheet(path, table)
        new = sheet.max_row + 1
        for name, value in EDITS[table]["create"].items():
            sheet.cell(row=new, column=header[name]).value = (sheet.cell(row=2, column=header[name]).value
                                                             if value is COPY else value)
        book.save(path)
        result = plan(client, path)
        sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
        sandbox.switches.drop_methods = frozenset({"POST"})
        with pytest.raises(ApplyError, match="--resume") as info:
            apply(client, result, root=tmp_path)
        sandbox.switches.drop = 0
        stopped = info.value.results
        assert stopped is not None
        count = len(_mine(sandbox, table))
        resource = resource_for(client, table)
        if resource.natural_key:
            finished = resume(client, stopped.run_id, root=tmp_path)
            assert finished.complete and len(finished.of(Status.CREATED)) == 1
        else:
            with pytest.raises(ApplyError, match="natural key"):
                resume(client, stopped.run_id, root=tmp_path)
        assert len(_mine(sandbox, table)) == count  # the committed row, never a second one


# ------------------------------------------------------------------------------------------------ the CLI
def test_cli_applies_and_undoes_an_openapi_table(sandbox: Sandbox, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key, "BULKIO_CONFIG": "", "COLUMNS": "200"}
    before = _mine(sandbox, "supplier")
    runner = CliRunner()
    exported = runner.invoke(app, ["export", "supplier", "-o", "suppliers.xlsx"], env=env)
    assert exported.exit_code == 0, exported.output
    book, sheet, header = _sheet(tmp_path / "suppliers.xlsx", "supplier")
    key = sheet.cell(row=2, column=header["id"]).value
    sheet.cell(row=2, column=header["name"]).value = "Renamed From The CLI Ltd"
    book.save(tmp_path / "suppliers.xlsx")
    applied = runner.invoke(app, ["apply", "suppliers.xlsx", "--yes"], env=env)
    assert applied.exit_code == 0, applied.output
    assert _mine(sandbox, "supplier")[key]["name"] == "Renamed From The CLI Ltd"
    (run,) = [p.name for p in (tmp_path / ".bulkio" / "runs").iterdir()]
    reverted = runner.invoke(app, ["undo", run, "--yes"], env=env)
    assert reverted.exit_code == 0, reverted.output
    assert _mine(sandbox, "supplier") == before


def test_the_python_api_takes_any_table_by_name(sandbox: Sandbox) -> None:
    """Not only hand-written names: a table only the server describes resolves through the client."""
    with bulkio.Client(sandbox.url, sandbox.api_key) as client:
        frame = bulkio.export(client, "supplier")
        assert len(frame) == len([r for r in sandbox.rows("supplier") if r["companyId"] == sandbox.company_id])
        assert client.resource("supplier").name == "supplier" and "supplier" not in bulkio.resources.RESOURCES

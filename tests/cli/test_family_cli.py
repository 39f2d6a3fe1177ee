"""A customer and its contacts exported, edited and imported together in one workbook (issue 19), as a user runs
``bulkio`` against the sandbox: export --with, validate (an error workbook per sheet with errors), plan (both
tables, their reports, the cascades), apply (parents first, one results workbook), undo, and the one-table
options refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from bulkio.cli.app import EXIT_CHANGES, app
from bulkio.sandbox import Sandbox
from bulkio.sheets.layout import ERRORS_SHEET
from tests.plan.test_family_plan import CONTACTS, rows_of
from tests.run.test_family_apply import contacts_of, state

from ..commands import cli_env
from ..workbooks import edit_sheet

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("in_tmp")

NEW = "Ørsted Façades ApS"
MISSPELT = "Orsted Facades"
EMAILS = ["asa@orsted.example", "zoe@orsted.example"]


def _flat(output: str) -> str:
    """The output as one line: rich's boxes and rules left out, runs of spaces as one (a message wrapped at the
    terminal's width reads as written)."""
    return " ".join(re.sub(r"[│╭╮╰╯─┃┏┓┗┛━┡┩╇┳┻╋┣┫└┘┌┐├┤┬┴┼]", " ", output).split())


def _export(sandbox: Sandbox, folder: Path) -> Path:
    """`bulkio export customer --with customerContact -o c.xlsx`, as a user runs it."""
    result = runner.invoke(app, ["export", "customer", "--with", CONTACTS, "-o", "c.xlsx"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    path = folder / "c.xlsx"
    assert path.exists()
    return path


def _new_family(path: Path, second: str = NEW) -> tuple[int, list[int]]:
    """A new customer and two new contacts of it (the second naming its customer `second`, as typed);
    returns (the customer's Excel row, the contacts' Excel rows)."""
    customer_row = max(rows_of(path, "customer")) + 1
    contact_row = max(rows_of(path, CONTACTS)) + 1
    edit_sheet(path, append=[{"name": NEW, "phone": "+45 99 55 11 00"}])
    edit_sheet(path, sheet_name=CONTACTS, append=[
        {"customerId": NEW, "firstName": "Åsa", "lastName": "Ng", "email": EMAILS[0]},
        {"customerId": second, "firstName": "Zoë", "email": EMAILS[1]}])
    return customer_row, [contact_row, contact_row + 1]


def _writes(sandbox: Sandbox, start: int) -> list[tuple[str, str]]:
    """The requests since `start` that could have changed the server."""
    return [(m, p) for m, p in sandbox.requests[start:] if m != "GET"]


def _run_id(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("undo with: bulkio undo ")]
    return line.split()[-1]


def test_validate_names_the_misspelt_customer_at_its_cell_and_writes_the_contacts_error_workbook(
        sandbox: Sandbox, in_tmp: Path) -> None:
    path = _export(sandbox, in_tmp)
    _, (good, bad) = _new_family(path, second=MISSPELT)
    start = len(sandbox.requests)
    result = runner.invoke(app, ["validate", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 1, result.output
    text = _flat(result.output)
    assert "customer (sheet customer)" in text and f"{CONTACTS} (sheet {CONTACTS})" in text
    assert "no errors in 121 customer rows" in text
    assert f"{bad} B customerId {MISSPELT}" in text  # row, column letter and name, value
    assert f"did you mean {NEW!r}?" in text
    errors = in_tmp / f"c.{CONTACTS}.errors.xlsx"
    assert f"1 error(s) in {CONTACTS}; wrote {errors} with each bad cell highlighted" in text
    assert f"{good} B" not in text  # the contact naming its customer right is fine
    assert text.index("customer (sheet customer)") < text.index(f"{CONTACTS} (sheet {CONTACTS})")
    assert not (in_tmp / "c.errors.xlsx").exists()  # the customer sheet has no error
    book = openpyxl.load_workbook(errors)
    flagged = book[CONTACTS][f"B{bad}"]
    assert flagged.value == MISSPELT and flagged.comment is not None and NEW in flagged.comment.text
    assert book[CONTACTS][f"B{good}"].comment is None
    listed = list(book[ERRORS_SHEET].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[1], row[2]) for row in listed] == [(bad, "B customerId", MISSPELT)]
    assert _writes(sandbox, start) == []


def test_a_misspelt_customer_stops_plan_and_apply_with_nothing_written(sandbox: Sandbox, in_tmp: Path) -> None:
    path = _export(sandbox, in_tmp)
    _, (_, bad) = _new_family(path, second=MISSPELT)
    before, start = state(sandbox), len(sandbox.requests)
    planned = runner.invoke(app, ["plan", str(path)], env=cli_env(sandbox))
    assert planned.exit_code == 1, planned.output
    assert f"{bad} B customerId {MISSPELT}" in _flat(planned.output)
    applied = runner.invoke(app, ["apply", str(path), "--yes"], env=cli_env(sandbox))
    assert applied.exit_code == 1, applied.output
    assert "error" in applied.output and MISSPELT in applied.output
    assert "undo with" not in applied.output
    assert _writes(sandbox, start) == [] and state(sandbox) == before
    assert not (in_tmp / ".bulkio" / "runs").exists() or not any((in_tmp / ".bulkio" / "runs").iterdir())


def test_the_fixed_workbook_plans_both_tables_and_reports_them(sandbox: Sandbox, in_tmp: Path) -> None:
    path = _export(sandbox, in_tmp)
    customer_row, contact_rows = _new_family(path)
    start = len(sandbox.requests)
    result = runner.invoke(app, ["plan", str(path)], env=cli_env(sandbox))
    assert result.exit_code == EXIT_CHANGES, result.output
    text = _flat(result.output)
    parent, child = text.index("customer (sheet customer)"), text.index(f"{CONTACTS} (sheet {CONTACTS})")
    assert parent < text.index(NEW) < child  # the new customer under its table's rule
    assert f"create {customer_row} {NEW} name {NEW}" in text
    for row, email in zip(contact_rows, EMAILS, strict=True):
        assert f"create {row} {email} customerId {NEW} (new, row {customer_row})" in text[child:]
    assert "error" not in text

    html = runner.invoke(app, ["plan", str(path), "--report", "plan.html"], env=cli_env(sandbox))
    assert html.exit_code == EXIT_CHANGES and "wrote the plan report to plan.html" in html.output
    page = (in_tmp / "plan.html").read_text(encoding="utf-8")
    assert page.count("<html") == 1 and page.count("</html>") == 1  # one page
    assert '<h2 id="customer">customer</h2>' in page and f'<h2 id="{CONTACTS}">{CONTACTS}</h2>' in page
    sections = page.split(f'<h2 id="{CONTACTS}">')
    assert NEW in sections[0] and all(email not in sections[0] for email in EMAILS)
    assert all(email in sections[1] for email in EMAILS)

    as_json = runner.invoke(app, ["plan", str(path), "--report", "plan.json"], env=cli_env(sandbox))
    assert as_json.exit_code == EXIT_CHANGES, as_json.output
    report = json.loads((in_tmp / "plan.json").read_text(encoding="utf-8"))
    assert list(report["tables"]) == ["customer", CONTACTS]
    assert report["tables"]["customer"]["counts"]["create"] == 1
    assert report["tables"][CONTACTS]["counts"]["create"] == 2
    assert report["cascades"] == []

    refused = runner.invoke(app, ["plan", str(path), "--report", "plan.xlsx"], env=cli_env(sandbox))
    assert refused.exit_code == 2, refused.output
    assert "a workbook of several tables is reported as .html, .md or .json" in _flat(refused.output)
    assert not (in_tmp / "plan.xlsx").exists()
    assert _writes(sandbox, start) == []


def _results(path: Path, sheet: str) -> dict[int, dict[str, Any]]:
    book = openpyxl.load_workbook(path)
    assert sheet in book.sheetnames, book.sheetnames
    return rows_of(path, sheet)


def test_apply_creates_the_customer_then_its_contacts_and_writes_the_results_workbook(sandbox: Sandbox,
                                                                                      in_tmp: Path) -> None:
    path = _export(sandbox, in_tmp)
    customer_row, contact_rows = _new_family(path)
    before = state(sandbox)
    start = len(sandbox.requests)
    result = runner.invoke(app, ["apply", str(path), "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    posts = [p.split("?")[0] for m, p in _writes(sandbox, start)]
    assert posts == ["/customer", f"/{CONTACTS}"]  # the customer first, then its contacts in one bulk POST
    after = state(sandbox)
    [new_id] = [k for k in after["customer"] if k not in before["customer"]]
    assert after["customer"][new_id]["name"] == NEW
    contacts = contacts_of(sandbox, NEW)
    assert [c["email"] for c in contacts] == EMAILS and {c["customerId"] for c in contacts} == {new_id}
    assert len(after[CONTACTS]) == len(before[CONTACTS]) + 2

    run = _run_id(result.output)
    header = json.loads((in_tmp / ".bulkio" / "runs" / run / "run.json").read_text(encoding="utf-8"))
    assert header["kind"] == "family"

    results_file = in_tmp / "c.results.xlsx"  # one workbook, a sheet per table
    text = _flat(result.output)
    assert f"wrote {results_file}: a sheet per table" in text
    assert not (in_tmp / f"c.{CONTACTS}.results.xlsx").exists()
    parent_results = child_results = results_file
    customers = _results(parent_results, "customer")
    assert (customers[customer_row]["_status"], customers[customer_row]["_id"]) == ("created", new_id)
    assert customers[customer_row]["id"] == new_id
    assert {r["_status"] for row, r in customers.items() if row != customer_row} == {"unchanged"}
    children = _results(child_results, CONTACTS)
    by_email = {c["email"]: c["id"] for c in contacts}
    for row, email in zip(contact_rows, EMAILS, strict=True):
        assert (children[row]["_status"], children[row]["_id"]) == ("created", by_email[email])
        assert children[row]["customerId"] == NEW  # the results sheet names the customer as the user did
    assert {r["_status"] for row, r in children.items() if row not in contact_rows} == {"unchanged"}

    again = runner.invoke(app, ["plan", str(results_file)], env=cli_env(sandbox))  # the results plan as the family
    assert again.exit_code == 0, again.output
    assert "customer (sheet customer)" in _flat(again.output) and f"{CONTACTS} (sheet {CONTACTS})" in \
        _flat(again.output)


def test_undo_puts_both_tables_back_exactly(sandbox: Sandbox, in_tmp: Path) -> None:
    """A new family, a contact edited, one moved to another customer, and a customer deleted with its contacts:
    one undo of the run brings the server back as it was, both tables."""
    path = _export(sandbox, in_tmp)
    contacts, customers = rows_of(path, CONTACTS), rows_of(path, "customer")
    by_name = {c["name"]: (row, c) for row, c in customers.items()}
    owners = [c["customerId"] for c in contacts.values()]
    doomed = next(n for n in owners if not by_name[n][1]["intercompanyCompanyId"])  # a customer with contacts
    kept = [(row, c) for row, c in contacts.items() if c["customerId"] != doomed]
    (edited_row, _), (moved_row, moved) = kept[0], kept[1]
    target = next(n for n in by_name if n not in (doomed, moved["customerId"]))
    edit_sheet(path, {(by_name[doomed][0], "_action"): "delete"})
    edit_sheet(path, {(edited_row, "firstName"): "Undone", (moved_row, "customerId"): target}, sheet_name=CONTACTS)
    _new_family(path)
    before = state(sandbox)
    applied = runner.invoke(app, ["apply", str(path), "--yes"], env=cli_env(sandbox))
    assert applied.exit_code == 0, applied.output
    assert state(sandbox) != before
    assert doomed not in {c["name"] for c in state(sandbox)["customer"].values()}
    run = _run_id(applied.output)
    undone = runner.invoke(app, ["undo", run, "--yes"], env=cli_env(sandbox))
    assert undone.exit_code == 0, undone.output
    text = _flat(undone.output)
    assert f"undo {CONTACTS}" in text and "undo customer" in text
    assert state(sandbox) == before
    again = runner.invoke(app, ["undo", run, "--yes"], env=cli_env(sandbox))  # nothing left to undo: no change
    assert state(sandbox) == before, again.output


def test_deleting_a_customer_prints_the_cascade_naming_its_contacts(sandbox: Sandbox, in_tmp: Path) -> None:
    path = _export(sandbox, in_tmp)
    contacts, customers = rows_of(path, CONTACTS), rows_of(path, "customer")
    owners = [c["customerId"] for c in contacts.values()]
    name = max(dict.fromkeys(owners), key=owners.count)  # the customer with the most contacts
    owned = owners.count(name)
    [(row, customer)] = [(r, c) for r, c in customers.items() if c["name"] == name]
    edit_sheet(path, {(row, "_action"): "delete"})
    before, start = state(sandbox), len(sandbox.requests)
    result = runner.invoke(app, ["plan", str(path)], env=cli_env(sandbox))
    assert result.exit_code == EXIT_CHANGES, result.output
    line = f"cascade: deleting customer {name!r} (row {row}) also deletes its {owned} {CONTACTS} row(s)"
    assert line in _flat(result.output)
    assert _flat(result.output).count("cascade:") == 1
    assert _writes(sandbox, start) == [] and state(sandbox) == before
    assert sum(1 for c in before[CONTACTS].values() if c["customerId"] == customer["id"]) == owned


@pytest.mark.parametrize(("args", "option"), [
    (["plan", "--match", "name"], "--match"),
    (["apply", "--match", "name", "--yes"], "--match"),
    (["plan", "--server-check"], "--server-check"),
    (["plan", "--save-mapping", "x.json"], "--save-mapping"),
    (["plan", "--only", "create"], "--only"),
    (["apply", "--map", "Name=name", "--yes"], "--map"),
], ids=["plan-match", "apply-match", "server-check", "save-mapping", "only", "map"])
def test_one_table_options_are_refused_for_a_family_workbook(sandbox: Sandbox, in_tmp: Path, args: list[str],
                                                             option: str) -> None:
    path = _export(sandbox, in_tmp)
    _new_family(path)
    sandbox.switches.allow_tx_override = True  # --server-check would send the batches (rolled back)
    before, start = state(sandbox), len(sandbox.requests)
    result = runner.invoke(app, [args[0], str(path), *args[1:]], env=cli_env(sandbox))
    text = _flat(result.output)
    assert result.exit_code == 2, result.output  # a usage error, as for every option refused
    assert option.lstrip("-") in text and ("children" in text or "planned whole" in text), text
    assert "Traceback" not in result.output
    assert not (in_tmp / "x.json").exists()
    assert _writes(sandbox, start) == [] and state(sandbox) == before


def test_a_saved_family_plan_is_applied_with_bulkio_apply_and_writes_the_results_workbook(sandbox: Sandbox,
                                                                                           in_tmp: Path) -> None:
    path = _export(sandbox, in_tmp)
    customer_row, contact_rows = _new_family(path)
    saved = runner.invoke(app, ["plan", str(path), "--save", "review.bulkio-plan.json"], env=cli_env(sandbox))
    assert saved.exit_code == EXIT_CHANGES, saved.output
    assert "bulkio apply review.bulkio-plan.json" in _flat(saved.output)
    start = len(sandbox.requests)
    done = runner.invoke(app, ["apply", "review.bulkio-plan.json", "--yes"], env=cli_env(sandbox))
    assert done.exit_code == 0, done.output
    text = _flat(done.output)
    assert f"tables customer, {CONTACTS}" in text  # the saved plan's facts name both tables
    writes = [p.split("?")[0] for m, p in _writes(sandbox, start)]
    assert writes == ["/customer", f"/{CONTACTS}"]
    contacts = contacts_of(sandbox, NEW)
    assert [c["email"] for c in contacts] == EMAILS
    results = _results(in_tmp / "c.results.xlsx", CONTACTS)
    assert [results[row]["_status"] for row in contact_rows] == ["created", "created"]
    assert _results(in_tmp / "c.results.xlsx", "customer")[customer_row]["_status"] == "created"


def test_validate_reports_a_contact_written_under_a_customer_the_workbook_deletes(sandbox: Sandbox,
                                                                                in_tmp: Path) -> None:
    path = _export(sandbox, in_tmp)
    contacts, customers = rows_of(path, CONTACTS), rows_of(path, "customer")
    contact_row, contact = next(iter(contacts.items()))
    [customer_row] = [r for r, c in customers.items() if c["name"] == contact["customerId"]]
    edit_sheet(path, {(customer_row, "_action"): "delete"})
    edit_sheet(path, {(contact_row, "firstName"): "Changed"}, sheet_name=CONTACTS)
    start = len(sandbox.requests)
    result = runner.invoke(app, ["validate", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 1, result.output
    text = _flat(result.output)
    assert "is deleted by this workbook" in text and "no errors in" in text  # the customer sheet itself is fine
    written = in_tmp / f"c.{CONTACTS}.errors.xlsx"
    errors = rows_of(written, "Errors")
    assert [(e["row"], e["column"]) for e in errors.values()] == [(contact_row, "B customerId")]
    assert not (in_tmp / "c.errors.xlsx").exists()
    assert _writes(sandbox, start) == []

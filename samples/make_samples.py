"""Regenerate the sample files from a seeded, in-process sandbox:  python samples/make_samples.py [--out DIR]

- ``customers.xlsx``: bulkio's export of the sandbox's 20 customers, untouched;
- ``customers-invalid.xlsx``: a copy edited with openpyxl, as a user's spreadsheet program saves it, holding at
  least one of every validation error a customer sheet can have (see `INVALID_EDITS`);
- ``customers-invalid.errors.xlsx``: the error workbook ``bulkio validate customers-invalid.xlsx`` writes for it;
- ``customers-missing-column.csv``: the export as CSV without its ``name`` column, plus a new row whose logo is
  longer than an Excel cell (the two error kinds a customer workbook cannot hold);
- ``customers-from-crm.csv``: a list from "another system" (see `CRM_ROWS`): its own headers, no ids, some of its
  customers on the server (a phone changed, a website changed beside a blank phone, one as it is), some new; and
  ``customers-from-crm.plan.md``, its dry run matched on ``name`` (``bulkio plan customers-from-crm.csv --resource
  customer --match name --mapping ...``, with `CRM_MAPPING`);
- ``customers-edited.xlsx``: a copy with one of every change kind (see `EDITS` and `SERVER_EDITS`: an update, a
  delete by ``_action``, a new customer, unchanged rows, a conflict made by someone editing the same cell on the
  server after the export, a server-only change that is kept);
- ``customers-edited.plan.md`` and ``customers-edited.plan.xlsx``: the dry run (``bulkio plan --report``);
- ``customers-edited.plan.html``: the dry run as the page to review (``--report plan.html``), and
  ``customers-edited.plan.png``, a screenshot of it in headless Chromium for the README (``apt-get install chromium
  fonts-droid-fallback``: the fallback font draws the Japanese customer's name);
- ``customers-edited.results.xlsx``: what ``bulkio apply customers-edited.xlsx`` writes after applying it;
- ``customers-with-contacts.xlsx``: ``bulkio export customer --with customerContact``, the 20 customers and their
  contacts in one workbook, untouched;
- ``customers-with-contacts-edited.xlsx``: a copy with `FAMILY_EDITS` (a new customer with two new contacts, a
  contact moved to another customer, a customer deleted whose contacts the database deletes with it); and
  ``customers-with-contacts-edited.plan.md``, its dry run (``bulkio plan ... --report``), every table's plan.

The same seed always gives the same rows and ids, so running this again gives the same cells: only the export
time, the sandbox's port and bulkio's version (in the very hidden ``_bulkio`` sheet) change; the screenshot's pixels
depend on the machine's fonts, so it is checked to be a picture, not compared. tests/test_samples.py checks the
committed files are current. One function per file: a later sample (a plan, a results workbook) adds
its own function and a line in `make_samples`.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from bulkio.api.client import Client
from bulkio.api.lookups import fetch_lookups
from bulkio.export.family import export_family
from bulkio.export.table import export_table
from bulkio.plan import FamilyPlan, Plan, plan
from bulkio.run.apply import apply
from bulkio.run.results import write_results_workbook
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet
from bulkio.sheets.write import write_workbook
from bulkio.validate.errorbook import write_error_workbook
from bulkio.validate.report import ValidationReport
from bulkio.validate.rules import validate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's tests/ helpers
from tests.browser import screenshot as browser_screenshot

__all__ = ["CRM_MAPPING", "CRM_ROWS", "EDITS", "FAMILY_EDITS", "INVALID_EDITS", "ROWS", "SEED", "SERVER_EDITS",
           "Samples", "make_samples"]

SAMPLES = Path(__file__).resolve().parent
ROWS = 20
SEED = 7
CASE_TWIN = "DISTRIBUTOR"
"""A customer type the samples' server holds beside "Distributor": a sheet saying "distributor" is then ambiguous."""
CASE_TWIN_ID = "ctyp_SampLeDistribuTorTwin1"  # given, not drawn by the server, so every run names the same id

# (Excel row, column) -> new value; a callable gets the exported sheet's cells {(row, column): value} first.
Cells = dict[tuple[int, str], Any]
INVALID_EDITS: dict[tuple[int, str], Any | Callable[[Cells], Any]] = {
    (3, "taxPercent"): 20,                                    # out_of_range: 20 meant 20 % (0.2)
    (4, "customerTypeId"): "Distributer",                     # unknown_label, with the valid choices
    (5, "customerTypeId"): "distributor",                     # ambiguous_label: Distributor and DISTRIBUTOR
    (6, "name"): lambda cells: cells[(7, "name")],            # duplicate_name: row 7's name
    (8, "phone"): 442079460960,                               # bad_value: Excel turned the phone into a number
    (9, "_action"): "remove",                                 # bad_action: blank or delete only
    (10, "readableId"): "CUS999999",                          # read_only_edited: a warning, the edit is ignored
    (11, "defaultCc"): "not-an-email, ok@example.com",        # bad_email
    (12, "name"): None,                                       # required
    (13, "id"): lambda cells: cells[(2, "id")],               # duplicate_key: row 2's id
    (14, "id"): "cust_doesNotExist00000000000",               # unknown_key: the server has no such customer
    (15, "name"): "Renamed Customer Ltd",                     # a valid edit ...
    (22, "name"): lambda cells: cells[(15, "name")],          # ... and exists_on_server: a new row, a taken name
    (23, "name"): "Brand New Customer Ltd",                   # a valid new customer
    (16, "createdAt"): "next tuesday",                        # bad_value: not a date
    (17, "phone"): "+44 20 7946 0123",                        # a valid edit
    (2, "colour"): "red",                                     # unknown_column
}
"""The edits that make ``customers-invalid.xlsx``: every `IssueCode` but two that a workbook of customers cannot
hold: ``missing_column`` needs a sheet without the ``name`` column (then no row could be renamed or left nameless),
and ``too_long`` text longer than an Excel cell (32,767 characters), which no workbook keeps: the CSV sample
`customers_missing_column` holds both."""


EDITS: dict[tuple[int, str], Any] = {
    (3, "phone"): "+44 20 7946 0000",           # update
    (4, "_action"): "delete",                   # delete by _action
    (5, "website"): "https://mine.example.com",  # conflict: the server changes this very cell after the export
    (6, "logo"): "new-logo.png",                # update, while the server changes the row's phone: kept
    (22, "name"): "Brand New Customer Ltd",     # create
    (22, "tags"): "new, sample",
}
"""The edits that make ``customers-edited.xlsx`` (every other row is unchanged)."""
SERVER_EDITS: dict[int, dict[str, Any]] = {
    5: {"website": "https://theirs.example.com"},   # someone else, after the export: the same cell -> a conflict
    6: {"phone": "+1 555 0100"},                    # someone else: another column -> kept, not overwritten
}
"""Edits made on the server after the export, by Excel row of the exported sheet."""

CRM_HEADER = ("Customer Name", "Tel", "Web Site", "Tax Percent")
CRM_ROWS: list[tuple[int | str, str, str, str]] = [
    (3, "+44 20 7946 0100", "", ""),                           # the customer of export row 3: a new phone
    (4, "", "https://www.new-site.example", ""),               # a new website; the blank phone is left as it is
    (5, "=", "=", ""),                                         # as the server has it: unchanged
    ("Brasserie Château-Léoville SARL", "+33 1 23 45 67 89", "", "20%"),  # new
    ("Nordlicht Möbel GmbH", "+49 30 1234 5678", "https://nordlicht.example", "19%"),  # new
]
"""The CRM's rows: an int names the exported customer of that Excel row (its name, as the CRM spells it); ``=``
copies that customer's value."""
CRM_MAPPING = {"Customer Name": "name", "Tel": "phone"}
"""Headers the CRM names its own way; ``Web Site`` and ``Tax Percent`` bulkio reads without help."""

FAMILY_EDITS: dict[str, dict[tuple[int, str], Any]] = {
    "customer": {
        (3, "_action"): "delete",                    # Łódź Metalworks S.A.: its one contact goes with it (cascade)
        (22, "name"): "Fjord Lighting AS",           # a new customer ...
        (22, "phone"): "+47 22 12 34 56",
    },
    "customerContact": {
        (5, "customerId"): "Smith, Jones & Co. Ltd.",  # O'Brien "Tools" (Cork)'s contact moved to another customer
        (8, "customerId"): "Fjord Lighting AS",        # ... and its two new contacts, naming it before it has an id
        (8, "firstName"): "Kari",
        (8, "lastName"): "Nordmann",
        (8, "email"): "kari@fjordlighting.example.com",
        (9, "customerId"): "Fjord Lighting AS",
        (9, "firstName"): "Ola",
        (9, "lastName"): "Hansen",
        (9, "email"): "ola@fjordlighting.example.com",
    },
}
"""The edits that make ``customers-with-contacts-edited.xlsx``, by sheet, then (Excel row, column) as in `EDITS`:
the customer sheet's row 22 and the contact sheet's rows 8 and 9 are the first empty rows (20 customers, 6 contacts).
"""


@dataclass(frozen=True)
class Samples:
    """Where the samples go, and the sandbox and client that make them."""

    out: Path
    sandbox: Sandbox
    client: Client


def prepare(sandbox: Sandbox, client: Client) -> None:
    """The samples' server: the seeded sandbox plus a customer type that differs from another only in case."""
    client.insert("customerType", [{"id": CASE_TWIN_ID, "name": CASE_TWIN, "companyId": client.company_id()}])


def customers(samples: Samples) -> Path:
    """customers.xlsx: an untouched export."""
    return write_workbook(export_table(samples.client, "customer"), samples.out / "customers.xlsx")


def customers_invalid(samples: Samples, exported: Path) -> Path:
    """customers-invalid.xlsx: `INVALID_EDITS` made with openpyxl, as a user's spreadsheet program would save them."""
    path = samples.out / "customers-invalid.xlsx"
    shutil.copyfile(exported, path)
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = {cell.value: cell.column for cell in sheet[1]}
    cells = {(row, name): sheet.cell(row=row, column=column).value
             for row in range(2, sheet.max_row + 1) for name, column in header.items()}
    for (row, name), value in INVALID_EDITS.items():
        if name not in header:  # a new column, at the end of the header
            header[name] = len(header) + 1
            sheet.cell(row=1, column=header[name]).value = name
        sheet.cell(row=row, column=header[name]).value = value(cells) if callable(value) else value
    book.save(path)
    return path


def customers_missing_column(samples: Samples, exported: Path) -> Path:
    """customers-missing-column.csv: the export as a CSV without its ``name`` column, and a new customer (who needs
    one) whose logo is longer than any Excel cell."""
    import csv

    path = samples.out / "customers-missing-column.csv"
    sheet = read_sheet(exported)
    columns = [c for c in sheet.frame.columns if c != "name"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in sheet.frame[columns].itertuples(index=False):
            writer.writerow(["" if v is None else v for v in record])
        writer.writerow(["x" * 40_000 if c == "logo" else "" for c in columns])
    return path


def customers_from_crm(samples: Samples, exported: Path) -> Path:
    """customers-from-crm.csv: `CRM_ROWS` under the CRM's headers, as Excel saves "CSV UTF-8" (with a BOM)."""
    import csv

    sheet = read_sheet(exported)
    by_row = dict(zip(sheet.rows, sheet.frame.to_dict("records"), strict=True))
    path = samples.out / "customers-from-crm.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CRM_HEADER)
        for name, phone, website, tax in CRM_ROWS:
            known = by_row[name] if isinstance(name, int) else {}
            cells = [known.get("name", name), phone, website, tax]
            writer.writerow([known.get(c) or "" if v == "=" else v
                             for c, v in zip(("name", "phone", "website", "taxPercent"), cells, strict=True)])
    return path


def customers_from_crm_plan(samples: Samples, crm: Path) -> Path:
    """customers-from-crm.plan.md: the CRM's list matched on ``name``, as ``bulkio plan --report`` writes it."""
    planned = plan(samples.client, crm, resource="customer", match="name", mapping=CRM_MAPPING)
    markdown = samples.out / "customers-from-crm.plan.md"
    text = planned.to_markdown().replace(planned.host, "127.0.0.1").replace(planned.created_at, "(plan time)")
    markdown.write_text(text, encoding="utf-8")
    return markdown


def customers_invalid_errors(samples: Samples, invalid: Path) -> tuple[Path, ValidationReport]:
    """customers-invalid.errors.xlsx: what ``bulkio validate customers-invalid.xlsx`` writes (server checks too)."""
    sheet = read_sheet(invalid)
    report = validate(sheet, fetch_lookups(samples.client, sheet.resource), client=samples.client)
    return write_error_workbook(sheet, report, samples.out / "customers-invalid.errors.xlsx"), report


def customers_edited(samples: Samples, exported: Path) -> Path:
    """customers-edited.xlsx: `EDITS` made with openpyxl; then `SERVER_EDITS` made on the server, by someone else."""
    path = samples.out / "customers-edited.xlsx"
    shutil.copyfile(exported, path)
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = {cell.value: cell.column for cell in sheet[1]}
    for (row, name), value in EDITS.items():
        sheet.cell(row=row, column=header[name]).value = value
    book.save(path)
    for row, changes in SERVER_EDITS.items():
        key = sheet.cell(row=row, column=header["id"]).value
        samples.client.update("customer", [("id", f"eq.{key}")], changes, returning=False)
    return path


def customers_edited_plan(samples: Samples, edited: Path) -> tuple[Path, Path, Plan]:
    """customers-edited.plan.md and .plan.xlsx: the dry run of the edited sample."""
    planned = plan(samples.client, edited)
    markdown = samples.out / "customers-edited.plan.md"
    text = planned.to_markdown().replace(planned.host, "127.0.0.1").replace(planned.created_at, "(plan time)")
    markdown.write_text(text, encoding="utf-8")
    return markdown, planned.to_excel(samples.out / "customers-edited.plan.xlsx"), planned


def customers_edited_page(samples: Samples, planned: Plan, *, screenshot: bool = True) -> list[Path]:
    """customers-edited.plan.html: the review page (``--report plan.html``), with the host and time that change from
    run to run fixed; and customers-edited.plan.png, the README's picture of it (unless `screenshot` is False: a
    machine without Chromium)."""
    page = samples.out / "customers-edited.plan.html"
    dataclasses.replace(planned, host="127.0.0.1", created_at="(plan time)").to_html(page)
    if not screenshot:
        return [page]
    return [page, browser_screenshot(page, samples.out / "customers-edited.plan.png", width=1100, height=1100)]


def customers_edited_results(samples: Samples, edited: Path, planned: Plan) -> Path:
    """customers-edited.results.xlsx: applying the plan (its journal goes to a temporary folder)."""
    import tempfile

    with tempfile.TemporaryDirectory() as runs:
        results = apply(samples.client, planned, root=runs)
        sheet = read_sheet(edited)
        return write_results_workbook(results, sheet.frame, sheet.rows, samples.out / "customers-edited.results.xlsx",
                                      base=sheet.base, meta=sheet.meta)


def customers_with_contacts(samples: Samples) -> Path:
    """customers-with-contacts.xlsx: ``bulkio export customer --with customerContact``, untouched."""
    family = export_family(samples.client, "customer", ["customerContact"])
    return write_workbook(family, samples.out / "customers-with-contacts.xlsx")


def customers_with_contacts_edited(samples: Samples, exported: Path) -> Path:
    """customers-with-contacts-edited.xlsx: `FAMILY_EDITS` made with openpyxl, in both sheets."""
    path = samples.out / "customers-with-contacts-edited.xlsx"
    shutil.copyfile(exported, path)
    book = openpyxl.load_workbook(path)
    for sheet_name, edits in FAMILY_EDITS.items():
        sheet = book[sheet_name]
        header = {cell.value: cell.column for cell in sheet[1]}
        for (row, name), value in edits.items():
            sheet.cell(row=row, column=header[name]).value = value
    book.save(path)
    return path


def customers_with_contacts_plan(samples: Samples, edited: Path) -> Path:
    """customers-with-contacts-edited.plan.md: the family's dry run, every table's plan under its name (``bulkio
    plan customers-with-contacts-edited.xlsx --report plan.md``)."""
    planned = plan(samples.client, edited)
    assert isinstance(planned, FamilyPlan)
    text = planned.to_markdown()
    for table in planned.plans:
        text = text.replace(table.host, "127.0.0.1").replace(table.created_at, "(plan time)")
    markdown = samples.out / "customers-with-contacts-edited.plan.md"
    markdown.write_text(text, encoding="utf-8")
    return markdown


def make_samples(out: Path = SAMPLES, *, screenshot: bool = True) -> list[Path]:
    """Every sample, from one seeded sandbox; returns the files written. `screenshot`: also the page's PNG (needs
    Chromium)."""
    out.mkdir(parents=True, exist_ok=True)
    with Sandbox(rows=ROWS, seed=SEED) as sandbox, Client(sandbox.url, sandbox.api_key) as client:
        prepare(sandbox, client)
        samples = Samples(out, sandbox, client)
        exported = customers(samples)
        family = customers_with_contacts(samples)  # before the edited sample's server edits and apply change rows
        family_edited = customers_with_contacts_edited(samples, family)
        family_plan = customers_with_contacts_plan(samples, family_edited)
        invalid = customers_invalid(samples, exported)
        errors, _ = customers_invalid_errors(samples, invalid)
        missing = customers_missing_column(samples, exported)
        crm = customers_from_crm(samples, exported)
        crm_plan = customers_from_crm_plan(samples, crm)
        edited = customers_edited(samples, exported)
        markdown, report, planned = customers_edited_plan(samples, edited)
        pages = customers_edited_page(samples, planned, screenshot=screenshot)
        results = customers_edited_results(samples, edited, planned)
    return [exported, invalid, errors, missing, crm, crm_plan, edited, markdown, report, *pages, results, family,
            family_edited, family_plan]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES, help="folder to write to (default: samples/)")
    for path in make_samples(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()

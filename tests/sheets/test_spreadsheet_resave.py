"""A file bulkio wrote, opened and saved by a real spreadsheet program (LibreOffice, headless) with no edit, plans
to nothing; an edit made in it is planned as exactly that edit. Issue 18: LibreOffice re-saves booleans as
``=TRUE()`` formulas, serial dates with 15 significant digits, and types CSV text as numbers.

These tests need ``soffice`` (``apt-get install libreoffice-calc-nogui``). Without it they are skipped, unless
``BULKIO_REQUIRE_LIBREOFFICE`` is set (``.ci/run`` sets it), when they fail instead.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bulkio.api.client import Client
from bulkio.export.table import export_table
from bulkio.plan import Kind, Plan, plan
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet
from bulkio.sheets.write import write_csv, write_workbook
from bulkio.validate.report import IssueCode

from ..spreadsheet_programs import CSV_IMPORT_SPECIAL, REQUIRE_ENV, resave, soffice
from ..workbooks import edit_sheet, header

needs_libreoffice = pytest.mark.skipif(
    soffice() is None and not os.environ.get(REQUIRE_ENV),
    reason=f"LibreOffice (soffice) is not installed; set {REQUIRE_ENV}=1 to make this a failure")


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


# ------------------------------------------------------------------------------------------------ booleans
_FLAGS = {"active": True, "blocked": False}


def _seed_flags(sandbox: Sandbox, client: Client) -> str:
    """One customer whose custom fields are two booleans; returns its id."""
    (row,) = client.insert("customer", [{"name": "~Flags Ltd", "companyId": client.company_id(),
                                         "customFields": dict(_FLAGS)}]).rows
    return str(row["id"])


def _cells_of(path: Path, key: str) -> dict[str, Any]:
    sheet = read_sheet(path)
    (position,) = [i for i, ident in enumerate(sheet.frame["id"]) if ident == key]
    return dict(sheet.frame.iloc[position])


@needs_libreoffice
def test_libreoffice_boolean_formulas_read_as_booleans_without_a_warning(client: Client, sandbox: Sandbox,
                                                                         tmp_path: Path) -> None:
    """LibreOffice writes a boolean cell as ``<f>TRUE()</f><v>1</v>`` (a number cell with a formula); calamine
    reads it as the number 1.0. It is the boolean True, with no warning about formulas."""
    key = _seed_flags(sandbox, client)
    path = resave(write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx"))
    cells = _cells_of(path, key)
    assert {name: (type(cells[f"customFields.{name}"]), cells[f"customFields.{name}"]) for name in _FLAGS} == \
        {name: (bool, value) for name, value in _FLAGS.items()}
    sheet = read_sheet(path)
    assert not [w for w in sheet.warnings if "formula" in w], sheet.warnings
    result = plan(client, path)
    assert not [r for r in result.of(Kind.UPDATE) if r.key == key], _differences(result)


def test_boolean_formulas_without_a_computed_value_are_booleans(client: Client, sandbox: Sandbox,
                                                                tmp_path: Path) -> None:
    """``=TRUE()`` and ``=FALSE`` typed in by a program that does not calculate (openpyxl: no cached value) are the
    constants they name, not formulas without a result."""
    key = _seed_flags(sandbox, client)
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    row = next(r for r in range(2, 200) if _cell(path, r, "id") == key)
    edit_sheet(path, {(row, "customFields.active"): "=FALSE()", (row, "customFields.blocked"): "=TRUE"})
    cells = _cells_of(path, key)
    assert (cells["customFields.active"], cells["customFields.blocked"]) == (False, True)
    assert type(cells["customFields.active"]) is bool and type(cells["customFields.blocked"]) is bool
    (update,) = plan(client, path).of(Kind.UPDATE)
    assert update.key == key and update.body == {"customFields": {"active": False, "blocked": True}}


def _cell(path: Path, row: int, name: str) -> Any:
    sheet = openpyxl.load_workbook(path)["customer"]
    return sheet.cell(row=row, column=header(sheet)[name]).value


# ------------------------------------------------------------------------------------------------ every kind
_TIMESTAMPS = [  # (createdAt, updatedAt) as the server stores them: microseconds
    ("2023-11-20T19:24:05.845499+00:00", "2024-02-29T23:59:59.999600+00:00"),
    ("2024-06-01T00:00:00.000500+00:00", "2025-01-01T12:00:00+00:00"),
    ("2023-07-04T08:15:30.123456+00:00", None),
]
_CUSTOMERS: list[dict[str, Any]] = [
    {"name": "~Every Kind Ltd", "phone": "+44 20 7946 0000", "fax": "1E5", "website": "00123", "taxPercent": 0.175,
     "tags": ["vip", "export"], "defaultCc": ["ap@example.com", "cfo@example.com"],
     "customFields": {"flagTrue": True, "flagFalse": False, "small": 7, "negative": -42,
                      "erpCode": 947871269024436488, "past53": 2**53 + 1, "minInt64": -2**63, "huge": 10**20,
                      "digits17": 123456789.12345679, "pointThree": 0.1 + 0.2, "tiny": 1.234e-7,
                      "object": {"terms": "net 30", "portal": True, "days": [30, 60]}, "nothing": None,
                      "zeros": "00123", "scientific": "1E5", "monthDay": "1-2", "isoDate": "2024-01-02",
                      "formula": "=1+1", "boolText": "TRUE", "longId": "12345678901234567890",
                      "accents": "Zürich Crème brûlée"}},
    {"name": "~Société Générale Ünïcödé", "phone": "0044 20 7946 0001", "taxPercent": 0.2,
     "tags": ["tools, hardware", "00123", "1E5", "TRUE"],
     "customFields": {"flagTrue": False, "flagFalse": True, "erpCode": 12345678901234567, "digits17": 0.1,
                      "zeros": "007", "scientific": "2e10", "boolText": "false", "isoDate": "2024-12-31T23:59:59Z",
                      "formula": "@SUM(A1)"}},
    {"name": "~Plain Ltd", "taxPercent": 0, "customFields": {"erpCode": -947871269024436488, "huge": -(10**20)}},
]


def _seed_every_kind(sandbox: Sandbox, client: Client) -> list[str]:
    """Customers holding every kind of value the export writes; their ids."""
    company = client.company_id()
    rows = client.insert("customer", [{**c, "companyId": company} for c in _CUSTOMERS]).rows
    keys = [str(r["id"]) for r in rows]
    for key, (created, updated) in zip(keys, _TIMESTAMPS, strict=True):
        sandbox.concurrent_edit("customer", key, {"createdAt": created, "updatedAt": updated})
    return keys


def _planned(result: Plan) -> dict[tuple[str | None, str], tuple[Any, Any]]:
    """Every update's and conflict's fields: (key, column) -> (before, after)."""
    return {(row.key, change.column): (change.before, change.after)
            for kind in (Kind.UPDATE, Kind.CONFLICT) for row in result.of(kind) for change in row.changes}


def _differences(result: Plan) -> list[str]:
    """Everything in a plan of an untouched file that should not be there, one line each."""
    out = []
    for kind in (Kind.UPDATE, Kind.CONFLICT, Kind.CREATE, Kind.DELETE, Kind.SKIPPED):
        for row in result.of(kind):
            if not row.changes:
                out.append(f"{kind.value} row {row.row} {row.label}: {getattr(row, 'reason', '')}")
            for change in row.changes:
                out.append(f"{kind.value} row {row.row} {row.label} {change.column}: base {change.base!r}, "
                           f"before {change.before!r}, after {change.after!r}")
    for issue in result.issues.issues:
        out.append(f"{issue.severity} row {issue.row} {issue.column} {issue.code}: {issue.message} ({issue.value!r})")
    return out


@needs_libreoffice
def test_an_untouched_workbook_resaved_by_libreoffice_plans_nothing(client: Client, sandbox: Sandbox,
                                                                    tmp_path: Path) -> None:
    _seed_every_kind(sandbox, client)
    path = resave(write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx"))
    result = plan(client, path)
    assert result.three_way
    differences = _differences(result)
    assert not differences, "\n".join(differences)
    assert not any(i.code == IssueCode.READ_ONLY_EDITED for i in result.issues.issues)
    assert result.counts()[Kind.UNCHANGED] == len([r for r in sandbox.rows() if r["companyId"] ==
                                                   client.company_id()])


@needs_libreoffice
@pytest.mark.parametrize("infilter", [None, CSV_IMPORT_SPECIAL], ids=["dialog-defaults", "special-numbers"])
def test_an_untouched_csv_resaved_by_libreoffice_plans_nothing(client: Client, sandbox: Sandbox, tmp_path: Path,
                                                               infilter: str | None) -> None:
    keys = _seed_every_kind(sandbox, client)
    path = resave(write_csv(export_table(client, "customer"), tmp_path / "c.csv"), csv_import=infilter)
    result = plan(client, path, resource="customer")
    flagged = {(i.column, i.row) for i in result.issues.issues if i.code == IssueCode.REFORMATTED}
    differences = [d for d in _differences(result) if " reformatted: " not in d]
    assert not differences, "\n".join(differences)
    # text LibreOffice took for a number (and, with special numbers on, a number it saved with 3 digits) is left
    # out with a warning, never written: the seeded values that are so, and only those
    rows = {key: r for r, key in _excel_rows(path)}
    expected = {("customFields.zeros", rows[keys[0]]), ("website", rows[keys[0]]), ("fax", rows[keys[0]]),
                ("customFields.zeros", rows[keys[1]])}
    if infilter is not None:  # "detect special numbers": 1.234e-07 saved as shown, 1.23E-07
        expected.add(("customFields.tiny", rows[keys[0]]))
    assert flagged == expected
    assert all(i.severity == "warning" for i in result.issues.issues if i.code == IssueCode.REFORMATTED)
    accepted = plan(client, path, resource="customer", accept_reformatted=True)
    assert {(key, column) for key, column in _planned(accepted)} == {
        (keys[0], "customFields.zeros"), (keys[0], "website"), (keys[0], "fax"), (keys[1], "customFields.zeros"),
        *([(keys[0], "customFields.tiny")] if infilter is not None else [])}


def _excel_rows(path: Path) -> list[tuple[int, str]]:
    """(Excel row, id) of each data row of a CSV file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [(number, record[0]) for number, record in enumerate(csv.reader(handle), start=1) if number > 1]


# ------------------------------------------------------------------------------------------------ real edits
@needs_libreoffice
def test_an_edit_made_before_the_resave_is_planned_as_exactly_that_update(client: Client, sandbox: Sandbox,
                                                                          tmp_path: Path) -> None:
    keys = _seed_every_kind(sandbox, client)
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    row = next(r for r in range(2, 200) if _cell(path, r, "id") == keys[0])
    edit_sheet(path, {(row, "phone"): "+1 555 0100", (row, "customFields.flagTrue"): False,
                      (row, "customFields.small"): 8})
    result = plan(client, resave(path))
    assert _planned(result) == {
        (keys[0], "phone"): ("+44 20 7946 0000", "+1 555 0100"), (keys[0], "customFields.flagTrue"): (True, False),
        (keys[0], "customFields.small"): (7, 8)}, "\n".join(_differences(result))
    assert not result.of(Kind.CONFLICT)


@needs_libreoffice
def test_an_edit_made_after_the_resave_is_planned_as_exactly_that_update(client: Client, sandbox: Sandbox,
                                                                         tmp_path: Path) -> None:
    keys = _seed_every_kind(sandbox, client)
    path = resave(write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx"))
    row = next(r for r in range(2, 200) if _cell(path, r, "id") == keys[1])
    edit_sheet(path, {(row, "customFields.erpCode"): "12345678901234568", (row, "taxPercent"): 0.25})
    result = plan(client, path)
    assert _planned(result) == {(keys[1], "taxPercent"): (0.2, 0.25),
                                (keys[1], "customFields.erpCode"): (12345678901234567, 12345678901234568)}, \
        "\n".join(_differences(result))
    (update,) = result.of(Kind.UPDATE)
    assert update.body == {"taxPercent": 0.25, "customFields": {**_CUSTOMERS[1]["customFields"],
                                                                "erpCode": 12345678901234568}}


@needs_libreoffice
def test_an_edit_to_a_csv_before_the_resave_is_planned_as_exactly_that_update(client: Client, sandbox: Sandbox,
                                                                              tmp_path: Path) -> None:
    keys = _seed_every_kind(sandbox, client)
    path = write_csv(export_table(client, "customer"), tmp_path / "c.csv")
    text = path.read_text(encoding="utf-8-sig")
    records = list(csv.reader(io.StringIO(text)))
    names = records[0]
    (record,) = [r for r in records if r and r[0] == keys[0]]
    record[names.index("website")] = "https://every.example.com"
    record[names.index("customFields.small")] = "8"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(records)
    path.write_text(out.getvalue(), encoding="utf-8-sig")
    result = plan(client, resave(path), resource="customer")
    assert _planned(result) == {(keys[0], "website"): ("00123", "https://every.example.com"),
                                (keys[0], "customFields.small"): (7, 8)}, "\n".join(_differences(result))

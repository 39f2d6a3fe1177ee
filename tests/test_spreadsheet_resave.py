"""A file bulkio wrote, opened and saved by a real spreadsheet program (LibreOffice, headless) with no edit, plans
to nothing; an edit made in it is planned as exactly that edit. Issue 18: LibreOffice re-saves booleans as
``=TRUE()`` formulas, serial dates with 15 significant digits, and types CSV text as numbers.

These tests need ``soffice`` (``apt-get install libreoffice-calc-nogui``). Without it they are skipped, unless
``BULKIO_REQUIRE_LIBREOFFICE`` is set (``.ci/run`` sets it), when they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bulkio.client import Client
from bulkio.export import export_table
from bulkio.plan import Kind, Plan, plan
from bulkio.read import read_sheet
from bulkio.sandbox import Sandbox
from bulkio.workbook import write_workbook

from .spreadsheet_programs import REQUIRE_ENV, resave, soffice
from .workbooks import edit_sheet, header

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

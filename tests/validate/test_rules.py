"""Validation against real workbooks: a clean export has no issue; each planted error is found, at its Excel place."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bulkio.api.client import Client
from bulkio.errors import ValidationFailed
from bulkio.export.table import export_table
from bulkio.sandbox import Sandbox
from bulkio.sheets.exported import Export
from bulkio.sheets.read import read_sheet
from bulkio.sheets.write import write_csv, write_template, write_workbook
from bulkio.validate.report import IssueCode
from bulkio.validate.rules import validate


@pytest.fixture
def exported(sandbox: Sandbox) -> Export:
    with Client(sandbox.url, sandbox.api_key) as client:
        return export_table(client, "customer")


def _edit(path: Path, edits: dict[tuple[int, str], Any], *, new_columns: dict[str, Any] | None = None) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = {c.value: c.column for c in sheet[1]}
    for (row, name), value in edits.items():
        sheet.cell(row=row, column=header[name]).value = value
    for offset, (name, value) in enumerate((new_columns or {}).items(), start=1):
        sheet.cell(row=1, column=len(header) + offset).value = name
        sheet.cell(row=2, column=len(header) + offset).value = value
    book.save(path)


@pytest.mark.parametrize("writer", [write_workbook, write_csv])
def test_a_clean_export_has_no_issue(exported: Export, tmp_path: Path, writer: Any) -> None:
    path = writer(exported, tmp_path / ("c.xlsx" if writer is write_workbook else "c.csv"))
    report = validate(read_sheet(path, "customer"), exported.lookups)
    assert report.issues == () and not report.has_errors()


def test_every_planted_error_is_found_where_excel_shows_it(exported: Export, tmp_path: Path) -> None:
    path = write_workbook(exported, tmp_path / "edited.xlsx")
    names = exported.display()["name"].tolist()
    _edit(path, {
        (3, "taxPercent"): 20,
        (4, "customerTypeId"): "Distributer",
        (5, "name"): names[4],                     # row 6's name: a duplicate
        (7, "phone"): 442079460960,                # Excel turned the phone number into a number
        (8, "_action"): "remove",
        (9, "readableId"): "CUS999999",            # read-only: a warning, not an error
        (10, "defaultCc"): "not-an-email, ok@example.com",
        (11, "name"): None,
        (12, "id"): exported.frame["id"].iloc[0],  # row 2's id: a duplicate key
        (13, "currencyCode"): "EURO",
        (14, "createdAt"): "next tuesday",
    }, new_columns={"colour": "red"})
    report = validate(read_sheet(path), exported.lookups)
    found = {(i.row, i.column, i.code) for i in report.issues}
    expected = {
        (3, "taxPercent", IssueCode.OUT_OF_RANGE), (4, "customerTypeId", IssueCode.UNKNOWN_LABEL),
        (5, "name", IssueCode.DUPLICATE_NAME), (6, "name", IssueCode.DUPLICATE_NAME),
        (7, "phone", IssueCode.BAD_VALUE), (8, "_action", IssueCode.BAD_ACTION),
        (9, "readableId", IssueCode.READ_ONLY_EDITED), (10, "defaultCc", IssueCode.BAD_EMAIL),
        (11, "name", IssueCode.REQUIRED), (2, "id", IssueCode.DUPLICATE_KEY), (12, "id", IssueCode.DUPLICATE_KEY),
        (13, "currencyCode", IssueCode.UNKNOWN_LABEL), (None, "colour", IssueCode.UNKNOWN_COLUMN),
    }
    assert expected <= found, expected - found
    by_place = {(i.row, i.column): i for i in report.issues}
    assert "fraction" in by_place[(3, "taxPercent")].message and "20%" in by_place[(3, "taxPercent")].message
    assert "Distributor" in by_place[(4, "customerTypeId")].message  # the valid choices are listed
    assert "Text" in by_place[(7, "phone")].message
    assert by_place[(9, "readableId")].severity == "warning"
    assert by_place[(3, "taxPercent")].letter == "V" and by_place[(3, "taxPercent")].file == str(path)
    # createdAt is read-only: an unreadable date there is still a bad value (the cell is kept as it was typed)
    assert (14, "createdAt") in by_place
    frame = report.to_frame()
    assert list(frame.columns)[:5] == ["file", "sheet", "row", "letter", "column"] and len(frame) == len(report)
    assert "error(s)" in report._repr_html_()
    # what the reader learned of each cell (its kind, blank or not) only saves work: without it, the same report
    as_read = read_sheet(path)
    assert as_read.kinds is not None
    again = validate(dataclasses.replace(as_read, kinds=None), exported.lookups)
    assert again.issues == report.issues


def test_a_sheet_edited_in_python_after_reading_is_checked_as_it_is_now(exported: Export, tmp_path: Path) -> None:
    """What the reader learned of each cell (`Sheet.kinds`) stands only for the columns still as read: cells
    changed in the frame afterwards are checked as they are now, the untouched columns still use it."""
    sheet = read_sheet(write_workbook(exported, tmp_path / "c.xlsx"))
    assert validate(sheet, exported.lookups).issues == ()
    frame = sheet.frame
    frame.iat[2, frame.columns.get_loc("phone")] = 442079460960  # a phone number turned into a number
    frame.iat[3, frame.columns.get_loc("name")] = "   "            # a required value blanked
    report = validate(sheet, exported.lookups)
    found = {(i.row, i.column, i.code) for i in report.issues}
    assert found == {(4, "phone", IssueCode.BAD_VALUE), (5, "name", IssueCode.REQUIRED)}, found
    assert sheet.kinds is not None and sheet.kinds.column(0, frame.iloc[:, 0].to_numpy(dtype=object)) is not None


def test_strict_mode_raises_at_the_first_error(exported: Export, tmp_path: Path) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    _edit(path, {(3, "taxPercent"): 7})
    with pytest.raises(ValidationFailed, match="row 3"):
        validate(read_sheet(path), exported.lookups, lazy=False)


def test_a_template_with_new_rows_needs_the_required_columns(exported: Export, tmp_path: Path) -> None:
    from bulkio.resources import CUSTOMER

    path = write_template(CUSTOMER, tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=header.index("phone") + 1).value = "+44 1"  # a new row without a name
    book.save(path)
    report = validate(read_sheet(path), exported.lookups)
    assert [(i.row, i.code) for i in report.errors] == [(2, IssueCode.REQUIRED)]
    assert any("two-way" in w for w in read_sheet(path).warnings)


def test_a_csv_without_the_name_column_cannot_create_rows(exported: Export, tmp_path: Path) -> None:
    path = tmp_path / "phones.csv"
    path.write_text("phone\n+44 1\n", encoding="utf-8")
    report = validate(read_sheet(path, "customer"), exported.lookups)
    assert [i.code for i in report.errors] == [IssueCode.MISSING_COLUMN]
    assert "'name'" in report.errors[0].message


def test_against_the_server_unknown_ids_and_existing_names(exported: Export, tmp_path: Path,
                                                           sandbox: Sandbox) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    existing = exported.display()["name"].iloc[10]
    _edit(path, {(3, "id"): "cust_doesNotExist123"})
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = {c.value: c.column for c in sheet[1]}
    new_row = sheet.max_row + 1
    sheet.cell(row=new_row, column=header["name"]).value = existing        # a create that would collide
    sheet.cell(row=new_row + 1, column=header["name"]).value = "Brand New Ltd"  # a fine create
    book.save(path)
    sandbox.requests.clear()
    with Client(sandbox.url, sandbox.api_key) as client:
        report = validate(read_sheet(path), exported.lookups, client=client)
    found = {(i.row, i.column, i.code) for i in report.errors}
    assert found == {(3, "id", IssueCode.UNKNOWN_KEY), (new_row, "name", IssueCode.EXISTS_ON_SERVER),
                     # the new row also repeats row 12's name inside the sheet
                     (12, "name", IssueCode.DUPLICATE_NAME), (new_row, "name", IssueCode.DUPLICATE_NAME)}
    assert len(sandbox.requests) == 2  # one id=in.(...) and one name=in.(...) request for the whole sheet


def test_true_is_not_one_and_blank_text_is_empty(exported: Export, tmp_path: Path) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    _edit(path, {(3, "taxPercent"): True,    # a boolean cell where a number belongs
                 (4, "taxPercent"): 1,       # the number 1 (100 %): fine, though True == 1 to Python
                 (5, "name"): "   ",         # only spaces: empty, so a required value is missing
                 (6, "currencyCode"): 1.0, (7, "currencyCode"): 1})  # labels: 1.0 and 1 are both unknown
    report = validate(read_sheet(path), exported.lookups)
    assert {(i.row, i.column, i.code) for i in report.errors} == {
        (3, "taxPercent", IssueCode.BAD_VALUE), (5, "name", IssueCode.REQUIRED),
        (6, "currencyCode", IssueCode.UNKNOWN_LABEL), (7, "currencyCode", IssueCode.UNKNOWN_LABEL)}


def test_read_only_timestamps_compare_to_the_millisecond(exported: Export, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    path = write_workbook(exported, tmp_path / "c.xlsx")
    sheet = read_sheet(path)
    assert sheet.base is not None
    ids = exported.frame["id"].tolist()
    created = [datetime.fromisoformat(sheet.base[i]["createdAt"]).astimezone(UTC) for i in ids[:4]]
    naive = [moment.replace(tzinfo=None) for moment in created]  # as Excel holds dates: no zone, UTC by export
    _edit(path, {
        (2, "createdAt"): naive[0] + timedelta(seconds=1),                              # edited: a warning
        (3, "createdAt"): created[1].isoformat().replace("+00:00", "Z"),               # the same moment as text
        (4, "createdAt"): naive[2] + timedelta(microseconds=200),                       # below Excel's precision
        (5, "createdAt"): "2020-01-01 00:00",                                           # edited, as text
    })
    report = validate(read_sheet(path), exported.lookups)
    assert [(i.row, i.column, i.code) for i in report.warnings] == [
        (2, "createdAt", IssueCode.READ_ONLY_EDITED), (5, "createdAt", IssueCode.READ_ONLY_EDITED)]
    assert not report.has_errors()


def test_without_the_servers_labels_a_sized_column_is_checked_for_length(exported: Export, tmp_path: Path) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    _edit(path, {(3, "currencyCode"): "EURO"})
    report = validate(read_sheet(path))  # offline: currencyCode is plain text of at most 3 characters
    assert [(i.row, i.column, i.code) for i in report.errors] == [(3, "currencyCode", IssueCode.TOO_LONG)]
    assert report.errors[0].message == "at most 3 characters (this has 4)"
    with_labels = validate(read_sheet(path), exported.lookups)  # with them, a long code is an unknown label
    assert [i.code for i in with_labels.errors] == [IssueCode.UNKNOWN_LABEL]


def test_a_frame_built_in_python_with_numpy_scalars_and_missing_values() -> None:
    import numpy as np
    import pandas as pd

    from bulkio.resources import CUSTOMER
    from bulkio.sheets.read import Sheet

    frame = pd.DataFrame({"name": ["A", "B", pd.NA, "D", "  "],
                          "taxPercent": [np.bool_(True), np.int64(1), np.float64(0.5), np.nan, None]}, dtype=object)
    report = validate(Sheet("frame", None, CUSTOMER, frame, [2, 3, 4, 5, 6]))
    assert {(i.row, i.column, i.code) for i in report.issues} == {
        (2, "taxPercent", IssueCode.BAD_VALUE),                                      # np.bool_ is no number
        (4, "name", IssueCode.REQUIRED), (6, "name", IssueCode.REQUIRED)}           # NA and blank text are empty

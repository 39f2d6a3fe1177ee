"""Never propose a write the user did not make: values a spreadsheet cannot hold exactly (long integers, 17-digit
floats), timestamps it keeps to the millisecond, and booleans it re-saves as =TRUE() or TRUE, through real workbooks and
CSV files against the sandbox."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bulkio.api.client import Client
from bulkio.cli.app import app
from bulkio.export.table import export_table
from bulkio.plan import Kind, plan
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox
from bulkio.sandbox.schema import SUPPLIER
from bulkio.sheets.read import read_sheet
from bulkio.sheets.values import from_cell, from_custom_cell, normalize, shown_alike, to_cell, to_custom_cell
from bulkio.sheets.write import write_csv, write_workbook
from bulkio.validate.report import IssueCode

from ..commands import cli_env
from ..workbooks import cell, edit_sheet, header

_LONG = {
    "erpCode": 947871269024436488,  # an ERP id: JSON holds it, jsonb keeps it, a spreadsheet keeps 15 digits
    "past53": 2**53 + 1,
    "int64min": -(2**63),
    "beyond64": 10**20 + 7,
    "round20": 10**20,
    "f17": 123456789.12345679,
    "noise": 0.1 + 0.2,
    "huge": 1.5e300,
    "sixteen": 1234567890123456,
    "list": [947871269024436488, 1.5, "x"],
}


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def _seed(sandbox: Sandbox, client: Client, fields: dict[str, Any]) -> list[str]:
    """One customer per custom field, each holding just that one: their ids in `fields`' order."""
    mine = [r["id"] for r in sandbox.rows() if r["companyId"] == client.company_id()]
    for key, (name, value) in zip(mine, fields.items(), strict=False):
        sandbox.concurrent_edit("customer", key, {"customFields": {name: value}})
    return mine[:len(fields)]


def _row_of(path: Path, key: str) -> int:
    """The Excel row of the customer `key` in an exported workbook."""
    sheet = openpyxl.load_workbook(path)["customer"]
    ids = [c.value for c in next(sheet.iter_cols(min_col=header(sheet)["id"], max_col=header(sheet)["id"]))]
    return ids.index(key) + 1


def _changes(result: Any) -> list[tuple[str, Any, Any]]:
    return [(c.column, c.before, c.after) for r in result.rows for c in r.changes if r.kind is not Kind.CREATE]


@pytest.mark.parametrize("form", ["xlsx", "csv"])
def test_an_untouched_export_of_long_numbers_plans_nothing(client: Client, sandbox: Sandbox, tmp_path: Path,
                                                           form: str) -> None:
    _seed(sandbox, client, _LONG)
    frame = export_table(client, "customer")
    if form == "xlsx":
        result = plan(client, write_workbook(frame, tmp_path / "c.xlsx"))
    else:
        result = plan(client, write_csv(frame, tmp_path / "c.csv"), resource="customer")
    assert _changes(result) == [] and not result.errors
    assert result.counts()[Kind.UNCHANGED] == len(frame.frame)


def test_a_long_integer_is_written_as_text_and_read_back_exactly(client: Client, sandbox: Sandbox,
                                                                 tmp_path: Path) -> None:
    (key,) = _seed(sandbox, client, {"erpCode": 947871269024436488})
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    row = _row_of(path, key)
    assert cell(path, row, "customFields.erpCode") == "947871269024436488"  # text: Excel would keep 15 digits
    sheet = read_sheet(path)
    assert sheet.frame["customFields.erpCode"][sheet.rows.index(row)] == "947871269024436488"


def test_a_number_cell_equal_to_the_snapshot_at_15_digits_is_unchanged(client: Client, sandbox: Sandbox,
                                                                        tmp_path: Path) -> None:
    """An export made before long numbers travelled as text, or a cell Excel turned back into a number: the cell
    holds the id at 15 digits, the snapshot holds it exactly."""
    first, second = _seed(sandbox, client, {"erpCode": 947871269024436488, "past53": 2**53 + 1})
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(_row_of(path, first), "customFields.erpCode"): 947871269024436488.0,
                      (_row_of(path, second), "customFields.past53"): float(2**53)})
    result = plan(client, path)
    assert _changes(result) == [] and not result.errors
    assert result.counts()[Kind.UNCHANGED] == len(result.unchanged) > 100


def test_a_real_edit_of_a_long_number_is_still_an_update_exactly(client: Client, sandbox: Sandbox,
                                                                 tmp_path: Path) -> None:
    (key,) = _seed(sandbox, client, {"erpCode": 947871269024436488})
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(_row_of(path, key), "customFields.erpCode"): "947871269024436489"})
    result = plan(client, path)
    (row,) = result.of(Kind.UPDATE)
    assert row.key == key and row.body == {"customFields": {"erpCode": 947871269024436489}}


def test_a_16_digit_number_typed_into_a_cell_is_an_error_not_a_rounded_number(client: Client, sandbox: Sandbox,
                                                                              tmp_path: Path) -> None:
    _, other = _seed(sandbox, client, {"newId": 7, "other": 1})
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    row = _row_of(path, other)
    # Excel keeps 15 digits of a typed 1234567890123456: the cell holds 1234567890123450
    edit_sheet(path, {(row, "customFields.newId"): 1234567890123450.0})
    result = plan(client, path)
    (issue,) = [i for i in result.errors if i.column == "customFields.newId"]
    assert issue.row == row and "15" in issue.message and "Text" in issue.message
    assert not result.of(Kind.UPDATE)


def test_a_long_integer_column_travels_as_text_and_an_edit_is_exact(client: Client, sandbox: Sandbox,
                                                                      tmp_path: Path) -> None:
    """supplier.paymentTermDays is an integer column (a bigint in other Carbon tables): the DataFrame keeps the
    integer, the workbook holds it as text, the untouched plan is empty and a real edit sends the exact number."""
    key = next(r["id"] for r in sandbox.rows("supplier") if r["companyId"] == client.company_id())
    sandbox.concurrent_edit("supplier", key, {"paymentTermDays": 947871269024436488})
    export = export_table(client, "supplier")
    assert 947871269024436488 in export.frame["paymentTermDays"].tolist()
    path = write_workbook(export, tmp_path / "s.xlsx")
    book = openpyxl.load_workbook(path)["supplier"]
    ids = [c.value for c in next(book.iter_cols(min_col=header(book)["id"], max_col=header(book)["id"]))]
    row = ids.index(key) + 1
    assert book.cell(row=row, column=header(book)["paymentTermDays"]).value == "947871269024436488"
    assert _changes(plan(client, path)) == []
    book.cell(row=row, column=header(book)["paymentTermDays"]).value = "947871269024436489"
    book.parent.save(path)
    (update,) = plan(client, path).of(Kind.UPDATE)
    assert update.body == {"paymentTermDays": 947871269024436489}


def _stamp(sandbox: Sandbox, client: Client, column: str, micros: int) -> str:
    key = next(r["id"] for r in sandbox.rows() if r["companyId"] == client.company_id())
    sandbox.concurrent_edit("customer", key, {column: f"2023-11-20T19:24:05.{micros:06d}+00:00"})
    return key


def test_a_timestamp_a_spreadsheet_keeps_to_the_millisecond_is_not_an_edit(client: Client, sandbox: Sandbox,
                                                                           tmp_path: Path) -> None:
    """LibreOffice writes the serial to 15 digits: .845499 s reads back as .8455, which rounds to .846."""
    key = _stamp(sandbox, client, "createdAt", 845499)
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(_row_of(path, key), "createdAt"): datetime(2023, 11, 20, 19, 24, 5, 845500)})
    result = plan(client, path)
    assert not [i for i in result.issues.issues if i.code is IssueCode.READ_ONLY_EDITED]
    assert _changes(result) == []


def test_a_timestamp_moved_by_a_millisecond_or_more_is_still_seen(client: Client, sandbox: Sandbox,
                                                                  tmp_path: Path) -> None:
    key = _stamp(sandbox, client, "createdAt", 845499)
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    row = _row_of(path, key)
    edit_sheet(path, {(row, "createdAt"): datetime(2023, 11, 20, 19, 24, 5, 846600)})
    result = plan(client, path)
    assert [i.row for i in result.issues.issues if i.code is IssueCode.READ_ONLY_EDITED] == [row]


@pytest.mark.parametrize("resaved", ["=TRUE()", "TRUE", "true"])
def test_a_boolean_re_saved_as_a_formula_or_text_is_the_boolean(client: Client, sandbox: Sandbox, tmp_path: Path,
                                                        resaved: Any) -> None:
    (key,) = _seed(sandbox, client, {"active": True})
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(_row_of(path, key), "customFields.active"): resaved})
    result = plan(client, path)
    assert _changes(result) == [] and not result.errors


def test_a_custom_field_that_held_a_number_is_still_a_number(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    """The boolean rule holds only where the export held a boolean: 1 -> TRUE is a real change."""
    (key,) = _seed(sandbox, client, {"count": 1})
    path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(_row_of(path, key), "customFields.count"): True})
    (row,) = plan(client, path).of(Kind.UPDATE)
    assert row.key == key and row.body == {"customFields": {"count": True}}


def test_a_csv_re_saved_at_15_digits_and_with_true_plans_nothing(client: Client, sandbox: Sandbox,
                                                                 tmp_path: Path) -> None:
    """A spreadsheet program's CSV: 123456789.12345679 as 123456789.123457, true as TRUE, the 18-digit id as
    947871269024436000 (Excel's 15 digits), timestamps to the second."""
    _seed(sandbox, client, {"f17": 123456789.12345679, "flag": True, "erpCode": 947871269024436488})
    path = write_csv(export_table(client, "customer"), tmp_path / "c.csv")
    text = path.read_text(encoding="utf-8-sig")
    for exact, shown in (("123456789.12345679", "123456789.123457"), ("947871269024436488", "947871269024436000"),
                         (",true,", ",TRUE,")):
        assert exact in text
        text = text.replace(exact, shown)
    path.write_text(text, encoding="utf-8-sig")
    result = plan(client, path, resource="customer")
    assert _changes(result) == [] and not result.errors


def test_timestamps_compare_at_the_precision_a_cell_shows() -> None:
    column = CUSTOMER.column("createdAt")
    exported = "2023-11-20T19:24:05.845499+00:00"
    assert shown_alike(column, "2023-11-20 19:24:05", exported)
    assert shown_alike(column, "2023-11-20 19:24:05.845", exported)
    assert shown_alike(column, datetime(2023, 11, 20, 19, 24, 5, 845500, tzinfo=UTC), exported)
    assert not shown_alike(column, "2023-11-20 19:24:07", exported)
    assert not shown_alike(column, "2023-11-20 19:24:05.847", exported)
    assert not shown_alike(column, datetime(2023, 11, 20, 19, 24, 5, 847000), exported)


def test_text_a_spreadsheet_took_for_a_number_is_left_out_unless_accepted(client: Client, sandbox: Sandbox,
                                                                          tmp_path: Path) -> None:
    """A CSV opened and saved by a spreadsheet program: the fax ``1E5`` came back as ``1.00E+05``, ``00123`` as
    ``123``. Neither is written silently: a warning at the cell, and the CLI writes them only when told."""
    key = next(r["id"] for r in sandbox.rows() if r["companyId"] == client.company_id())
    sandbox.concurrent_edit("customer", key, {"fax": "1E5", "website": "00123", "phone": "+44 20 7946 0000"})
    path = write_csv(export_table(client, "customer"), tmp_path / "c.csv")
    text = path.read_text(encoding="utf-8-sig")
    for exact, shown in ((",1E5,", ",1.00E+05,"), (",00123,", ",123,")):
        assert exact in text
        text = text.replace(exact, shown)
    path.write_text(text, encoding="utf-8-sig")
    result = plan(client, path, resource="customer")
    flagged = [i for i in result.issues.issues if i.code is IssueCode.REFORMATTED]
    assert {(i.column, i.value, i.severity) for i in flagged} == {("fax", "1.00E+05", "warning"),
                                                                  ("website", "123", "warning")}
    assert all("'1E5'" in i.message or "'00123'" in i.message for i in flagged)
    assert not result.has_changes
    env = cli_env(sandbox)
    runner = CliRunner()
    kept = runner.invoke(app, ["plan", str(path), "--resource", "customer"], env=env)
    assert kept.exit_code == 0 and "looks changed by a spreadsheet program" in kept.output
    accepted = runner.invoke(app, ["plan", str(path), "--resource", "customer", "--accept-reformatted"], env=env)
    assert accepted.exit_code == 3, accepted.output
    (update,) = plan(client, path, resource="customer", accept_reformatted=True).of(Kind.UPDATE)
    assert update.body == {"fax": "1.00E+05", "website": "123"}


# ------------------------------------------------------------------------------------------------ the rules, widely
_INTEGERS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(10**30), 10**30),
                      st.integers(2**53 - 5, 2**53 + 5), st.integers(10**15 - 5, 10**15 + 5))
_FLOATS = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f == 0 or 1e-300 < abs(f) < 1e300)
_SEVENTEEN = st.integers(10**16, 10**17 - 1).map(lambda digits: digits / 10**8)  # 17 significant digits


def _in_a_spreadsheet(cell: Any) -> Any:
    """What a spreadsheet's number cell holds of a cell bulkio wrote: 15 significant digits; text as it is."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return float(f"{float(cell):.15g}")
    return cell


@given(st.one_of(_INTEGERS, _FLOATS, _SEVENTEEN, st.lists(st.one_of(_INTEGERS, _SEVENTEEN), max_size=3)))
def test_a_custom_field_value_comes_back_exactly_through_a_spreadsheet(value: Any) -> None:
    cell = to_custom_cell(value)
    held = _in_a_spreadsheet(cell)
    assert from_custom_cell(held) == value
    if not (isinstance(value, float) and value.is_integer()):  # 5.0 reads as 5, as JSON holds them alike
        assert type(from_custom_cell(held)) is type(value)
    assert normalize(None, held) == normalize(None, value)


@given(st.one_of(_INTEGERS, _FLOATS, _SEVENTEEN), st.sampled_from(["paymentTermDays", "rating"]))
def test_a_number_column_value_comes_back_exactly_through_a_spreadsheet(value: Any, name: str) -> None:
    """An integer (bigint) or numeric column of an OpenAPI table (supplier): the cell holds the number exactly, or
    text does; what a spreadsheet re-saves of a number cell is read back as the very value."""
    column = SUPPLIER.column(name)
    if column.type.value == "integer" and isinstance(value, float):
        value = int(value)
    cell = to_cell(column, value)
    held = _in_a_spreadsheet(cell)
    assert from_cell(column, held) == value
    assert normalize(column, held) == normalize(column, value)


@given(st.one_of(_INTEGERS, _SEVENTEEN).filter(lambda v: abs(v) >= 1), st.integers(2, 9))
def test_a_number_cell_is_the_exported_value_only_at_its_15_digits(value: Any, units: int) -> None:
    """The 15-digit view of an exported number is that number (`shown_alike`); a number two or more units off in
    its 15th digit is an edit."""
    exported = to_custom_cell(value)
    held = float(f"{float(value):.15g}")
    assert shown_alike(None, held, exported)
    unit = 10.0 ** (math.floor(math.log10(abs(held))) - 14)
    assert not shown_alike(None, held + units * unit, exported)

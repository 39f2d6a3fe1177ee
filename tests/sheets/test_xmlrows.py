"""sheetrows writes the very bytes xlsxwriter's own per-cell methods write, for every kind of cell bulkio writes."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkio.errors import WorkbookError
from bulkio.sheets import xmlrows

_OPTIONS = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
            "strings_to_urls": False, "remove_timezone": True}

_TEXTS = ["Acme", " leading", "trailing ", "a & b < c > d", 'say "hi"', "tab\there", "line\nbreak", "bell\x07",
          "_x0041_ looks escaped", "non\ufffechar", "ünïcödé ✓ 𝄞", "=SUM(A1)", "+44 20 7946 0958", "0044", "",
          "x" * 20000, "𝄞" * 17000]


def _columns() -> list[list[Any]]:
    return [
        ["cust_1", "cust_2", "cust_3", None, "cust_5", "cust_6"],
        [None, None, 0.2, 1, 12345678901234567, 0.30000000000000004],
        [datetime(2025, 1, 17, 18, 55, 38, 703167), None, datetime(1900, 1, 1), datetime(1900, 2, 28, 12),
         datetime(1900, 3, 1), datetime(2026, 11, 25, 9, 30, tzinfo=timezone(timedelta(hours=2)))],  # zone dropped
        [True, False, 3, "text", datetime(2024, 2, 29, 23, 59, 59, 999999), None],  # a custom field: mixed
        [None] * 6,  # a column with no value at all
        _TEXTS[:6],
    ]


def _by_xlsxwriter(path: Path, columns: list[list[Any]], formats: list[Any]) -> None:
    """The reference: xlsxwriter's per-cell methods, as workbook.py used them before xmlrows."""
    book = xlsxwriter.Workbook(str(path), _OPTIONS)
    sheet = book.add_worksheet("data")
    fmts = [book.add_format(f) if f else None for f in formats]
    for col in range(len(columns)):
        sheet.write_string(0, col, f"h{col}", fmts[0])
    for row in range(len(columns[0])):
        for col, values in enumerate(columns):
            value = values[row]
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(row + 1, col, value, fmts[col])
            elif isinstance(value, (int, float)):
                sheet.write_number(row + 1, col, value, fmts[col])
            elif isinstance(value, datetime):
                sheet.write_datetime(row + 1, col, value, fmts[col])
            else:
                sheet.write_string(row + 1, col, value, fmts[col])
    book.close()


def _by_sheetrows(path: Path, columns: list[list[Any]], formats: list[Any]) -> None:
    book = xlsxwriter.Workbook(str(path), _OPTIONS)
    sheet = book.add_worksheet("data")
    fmts = [book.add_format(f) if f else None for f in formats]
    for col in range(len(columns)):
        sheet.write_string(0, col, f"h{col}", fmts[0])
    assert xmlrows.can_append(sheet)
    assert xmlrows.append_rows(sheet, 1, columns, fmts) == len(columns[0])
    book.close()


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in ("xl/worksheets/sheet1.xml", "xl/styles.xml")}


_FORMATS = [{"bold": True}, {"num_format": "0.00%"}, {"num_format": "yyyy-mm-dd hh:mm:ss"}, None,
            {"num_format": "@"}, {"num_format": "@", "font_color": "#7F7F7F"}]


def test_the_same_bytes_as_xlsxwriter_for_every_kind_of_cell(tmp_path: Path) -> None:
    _by_xlsxwriter(tmp_path / "a.xlsx", _columns(), _FORMATS)
    _by_sheetrows(tmp_path / "b.xlsx", _columns(), _FORMATS)
    assert _parts(tmp_path / "a.xlsx") == _parts(tmp_path / "b.xlsx")


def test_the_same_bytes_for_awkward_text_long_text_and_gaps(tmp_path: Path) -> None:
    columns = [_TEXTS, [None if i % 3 else t for i, t in enumerate(reversed(_TEXTS))], [None] * len(_TEXTS)]
    formats = [None, {"num_format": "@"}, {"italic": True}]
    _by_xlsxwriter(tmp_path / "a.xlsx", columns, formats)
    _by_sheetrows(tmp_path / "b.xlsx", columns, formats)
    assert _parts(tmp_path / "a.xlsx") == _parts(tmp_path / "b.xlsx")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=8),
       numbers=st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers()),
                        min_size=8, max_size=8),
       moments=st.lists(st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1))), min_size=8,
                        max_size=8))
def test_the_same_bytes_for_any_text_number_and_date(tmp_path: Path, texts: list[Any], numbers: list[Any],
                                                     moments: list[Any]) -> None:
    texts = [t for t in texts if t is None or not (t.startswith("<r>") and t.endswith("</r>"))]
    size = len(texts)
    if not size:
        return
    columns = [texts, numbers[:size], moments[:size]]
    _by_xlsxwriter(tmp_path / "a.xlsx", columns, [None, None, {"num_format": "yyyy-mm-dd"}])
    _by_sheetrows(tmp_path / "b.xlsx", columns, [None, None, {"num_format": "yyyy-mm-dd"}])
    assert _parts(tmp_path / "a.xlsx") == _parts(tmp_path / "b.xlsx")


def test_text_that_looks_like_rich_text_xml_is_kept_as_text(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    _by_sheetrows(path, [["<r>bold?</r>", "<r><t>x</t></r>"]], [None])
    sheet = openpyxl.load_workbook(path)["data"]
    assert [sheet.cell(row=r, column=1).value for r in (2, 3)] == ["<r>bold?</r>", "<r><t>x</t></r>"]


def test_too_many_rows_for_a_sheet_is_an_error_not_a_silent_cut(tmp_path: Path) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "big.xlsx"), _OPTIONS)
    sheet = book.add_worksheet()
    with pytest.raises(WorkbookError, match="do not fit"):
        xmlrows.append_rows(sheet, 1, [[None] * 1_048_576], [None])
    book.close()


def test_excel_serials_match_the_one_by_one_formula() -> None:
    moments = [datetime(2025, 1, 17, 18, 55, 38, 703167), None, datetime(1900, 3, 1), datetime(9999, 12, 31, 23)]
    assert xmlrows.excel_serials(moments) == [None if m is None else xmlrows._serial(m) for m in moments]
    assert xmlrows.excel_serials([datetime(1900, 3, 1)]) == [61.0]  # Excel's 1900-02-29 is serial 60

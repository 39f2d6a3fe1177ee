"""The exported workbook, opened with openpyxl (as Excel would read it), has every promised property."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from bulkio.api.client import Client
from bulkio.export.table import export_table
from bulkio.sandbox import Sandbox
from bulkio.sheets.exported import Export
from bulkio.sheets.layout import escape_formula, unescape_formula
from bulkio.sheets.write import write_csv, write_workbook


@pytest.fixture
def exported(sandbox: Sandbox) -> Export:
    with Client(sandbox.url, sandbox.api_key) as client:
        return export_table(client, "customer")


@pytest.fixture
def book(exported: Export, tmp_path: Path) -> Any:
    path = write_workbook(exported, tmp_path / "customers.xlsx")
    return openpyxl.load_workbook(path)


def _header(sheet: Any) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


def test_sheets_and_hidden_state(book: Any) -> None:
    assert book.sheetnames == ["customer", "Lookups", "_bulkio", "_base"]
    assert book["customer"].sheet_state == "visible"
    assert book["_bulkio"].sheet_state == "veryHidden" and book["_base"].sheet_state == "veryHidden"


def test_header_is_bold_frozen_filtered_and_ends_with_action(book: Any, exported: Export) -> None:
    sheet = book["customer"]
    header = [c.value for c in sheet[1]]
    assert header == [*exported.frame.columns, "_action"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    assert sheet.max_row == len(exported.frame) + 1


def test_ids_and_phones_are_text_never_numbers(book: Any) -> None:
    sheet = book["customer"]
    cols = _header(sheet)
    for row in sheet.iter_rows(min_row=2):
        for name in ("id", "readableId", "phone", "fax"):
            cell = row[cols[name] - 1]
            if cell.value is not None:
                assert cell.data_type == "s" and isinstance(cell.value, str), (name, cell.value)
    phones = [row[cols["phone"] - 1].value for row in sheet.iter_rows(min_row=2)]
    assert any(p and p.startswith("+") for p in phones) and any(p and p.startswith("0") for p in phones)


def test_formula_looking_text_is_data(book: Any) -> None:
    sheet = book["customer"]
    names = [row[_header(sheet)["name"] - 1] for row in sheet.iter_rows(min_row=2)]
    formulaish = [c for c in names if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert formulaish and all(c.data_type == "s" for c in formulaish)


def test_dates_are_real_dates_and_tax_is_a_percentage_of_a_fraction(book: Any, exported: Export) -> None:
    sheet = book["customer"]
    cols = _header(sheet)
    created = sheet.cell(row=2, column=cols["createdAt"])
    assert isinstance(created.value, datetime) and "yy" in created.number_format
    expected = exported.frame["createdAt"].iloc[0].tz_convert("UTC").tz_localize(None).to_pydatetime()
    assert abs((created.value - expected).total_seconds()) < 0.001
    tax = [sheet.cell(row=r, column=cols["taxPercent"]) for r in range(2, sheet.max_row + 1)]
    assert all("%" in c.number_format for c in tax)
    assert [c.value for c in tax] == pytest.approx(list(exported.frame["taxPercent"].astype(float)))


def test_read_only_columns_are_grey_with_a_comment(book: Any) -> None:
    sheet = book["customer"]
    cols = _header(sheet)
    for name in ("id", "readableId", "createdAt"):
        header = sheet.cell(row=1, column=cols[name])
        assert "Read-only" in header.comment.text
        assert header.fill.fgColor.rgb.endswith("D9D9D9")
    assert sheet.cell(row=1, column=cols["name"]).comment is None or \
        "Read-only" not in sheet.cell(row=1, column=cols["name"]).comment.text


def test_references_have_dropdowns_fed_by_the_lookup_sheet(book: Any, exported: Export) -> None:
    sheet = book["customer"]
    cols = _header(sheet)
    validations = {next(iter(dv.sqref.ranges)).min_col: dv for dv in sheet.data_validations.dataValidation}
    for name in ("customerTypeId", "customerStatusId", "accountManagerId", "currencyCode"):
        dv = validations[cols[name]]
        assert dv.type == "list" and "Lookups" in dv.formula1, name
    action = validations[cols["_action"]]
    assert action.formula1 == '"delete"'
    lookups = book["Lookups"]
    lookup_header = [c.value for c in lookups[1]]
    column = lookup_header.index("customerTypeId") + 1
    labels = [lookups.cell(row=r, column=column).value for r in range(2, lookups.max_row + 1)]
    assert [x for x in labels if x] == list(exported.lookups["customerTypeId"].choices)
    shown = {v for v in exported.display()["customerTypeId"].dropna()}
    assert shown <= set(labels)


def test_meta_sheet_says_what_and_where_but_not_the_key(book: Any, sandbox: Sandbox) -> None:
    meta = {row[0].value: row[1].value for row in book["_bulkio"].iter_rows()}
    assert meta["resource"] == "customer" and meta["host"] == sandbox.url.split("://")[1]
    assert {"select", "filters", "order", "exported_at", "version", "rows"} <= set(meta)


def test_base_sheet_holds_the_raw_values_as_json(book: Any, exported: Export) -> None:
    base = book["_base"]
    assert base.cell(row=1, column=1).value == "id"
    names = json.loads(base.cell(row=1, column=2).value)
    assert names == list(exported.frame.columns)
    rows = {base.cell(row=r, column=1).value: json.loads(base.cell(row=r, column=2).value)
            for r in range(2, base.max_row + 1)}
    assert list(rows) == list(exported.frame["id"])
    types = [row[names.index("customerTypeId")] for row in rows.values()]
    assert {t for t in types if t} and all(t.startswith("ctyp_") for t in types if t)  # raw ids, not labels
    first = exported.frame.iloc[0]
    stored = dict(zip(names, rows[first["id"]], strict=True))
    assert stored["taxPercent"] == first["taxPercent"] and stored["phone"] == (
        None if pd.isna(first["phone"]) else first["phone"])


def test_the_key_is_nowhere_in_the_file(exported: Export, tmp_path: Path, sandbox: Sandbox) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            assert sandbox.api_key.encode() not in archive.read(name), name


def test_constant_memory_mode_writes_the_same_cells(exported: Export, tmp_path: Path) -> None:
    small = openpyxl.load_workbook(write_workbook(exported, tmp_path / "a.xlsx", constant_memory=False))
    streamed = openpyxl.load_workbook(write_workbook(exported, tmp_path / "b.xlsx", constant_memory=True))
    for name in ("customer", "_base", "Lookups"):
        a = [[c.value for c in row] for row in small[name].iter_rows()]
        b = [[c.value for c in row] for row in streamed[name].iter_rows()]
        assert a == b, name


@pytest.mark.parametrize("text", ["=SUM(A1)", "+44 20", "-3", "@cmd", "'=x", "''+y", "plain", "'quoted", ""])
def test_formula_escape_is_reversible(text: str) -> None:
    escaped = escape_formula(text)
    assert unescape_formula(escaped) == text
    if text and text[0] in "=+-@":
        assert escaped.startswith("'")


def test_csv_has_a_bom_escapes_formulas_and_reads_back(exported: Export, tmp_path: Path) -> None:
    path = write_csv(exported, tmp_path / "c.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    names = list(frame["name"])
    assert "'=SUM Trading" in names
    assert [unescape_formula(n) for n in names] == list(exported.display()["name"])
    unescaped = write_csv(exported, tmp_path / "raw.csv", escape=False)
    assert "=SUM Trading" in list(pd.read_csv(unescaped, dtype=str, encoding="utf-8-sig")["name"])

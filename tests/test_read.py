"""Reading sheets back: an untouched export, as XLSX or CSV, reads back with no differences; bad files say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bulkio.client import Client
from bulkio.errors import WorkbookError
from bulkio.export import Export, export_table
from bulkio.read import read_sheet
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox
from bulkio.values import normalize
from bulkio.workbook import write_csv, write_workbook

from .test_export import _CUSTOMER as CUSTOMERS


@pytest.fixture
def exported(sandbox: Sandbox) -> Export:
    with Client(sandbox.url, sandbox.api_key) as client:
        return export_table(client, "customer")


def _column(name: str) -> Any:
    return CUSTOMER.column(name) if name in CUSTOMER else None


def _differences(shown: pd.DataFrame, frame: pd.DataFrame) -> list[tuple[int, str, Any, Any]]:
    out = []
    for name in shown.columns:
        column = _column(name)
        for index, (want, got) in enumerate(zip(shown[name].tolist(), frame[name].tolist(), strict=True)):
            want = None if want is None or (not isinstance(want, (list, dict)) and pd.isna(want)) else want
            if normalize(column, want) != normalize(column, got):
                out.append((index, name, want, got))
    return out


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_an_untouched_export_reads_back_without_a_difference(exported: Export, tmp_path: Path,
                                                             suffix: str) -> None:
    path = tmp_path / f"customers{suffix}"
    (write_workbook if suffix == ".xlsx" else write_csv)(exported, path)
    sheet = read_sheet(path, "customer")
    assert list(sheet.frame.columns) == [*exported.frame.columns, *(["_action"] if suffix == ".xlsx" else [])]
    assert sheet.rows == list(range(2, len(exported.frame) + 2))
    assert _differences(exported.display(), sheet.frame) == []


def test_the_snapshot_and_metadata_come_back(exported: Export, tmp_path: Path) -> None:
    sheet = read_sheet(write_workbook(exported, tmp_path / "c.xlsx"))
    assert sheet.resource is CUSTOMER and sheet.sheet == "customer"
    assert sheet.meta is not None and sheet.meta["resource"] == "customer"
    assert sheet.base is not None and set(sheet.base) == set(exported.frame["id"])
    first = exported.frame.iloc[0]
    assert sheet.base[first["id"]]["customerTypeId"] == first["customerTypeId"]  # raw id, not the label
    assert sheet.warnings == []


def test_a_workbook_without_its_hidden_sheets_reads_with_a_warning(exported: Export, tmp_path: Path) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    book = openpyxl.load_workbook(path)  # what another program's "save" may do: drop the hidden sheets
    del book["_base"]
    del book["_bulkio"]
    book.save(path)
    sheet = read_sheet(path)
    assert sheet.base is None and "two-way" in sheet.warnings[0]
    assert _differences(exported.display(), sheet.frame) == []


def test_csv_in_the_forms_excel_writes(tmp_path: Path) -> None:
    rows = [["name", "phone", "taxPercent"], ["Café Olé", "+44 20 7946 0958", "0.2"], ["Zoë; Ltd", "0123", "20%"]]
    for encoding, delimiter in (("utf-8-sig", ","), ("utf-8", ";"), ("utf-16", "\t"), ("cp1252", ";")):
        path = tmp_path / f"{encoding}.csv"
        with path.open("w", encoding=encoding, newline="") as handle:
            import csv

            csv.writer(handle, delimiter=delimiter).writerows(rows)
        sheet = read_sheet(path, "customer")
        assert sheet.frame.values.tolist() == rows[1:], (encoding, delimiter)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"name,name\nA,B\n", "appears twice"),
    (b",phone\nA,1\n", "no name"),
    (b"name\nA,extra\n", "without a header"),
    (b"PK\x03\x04not really", "not CSV"),
    (b"name\x00\x01\x02", "binary"),
])
def test_bad_csv_files_name_the_place(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(WorkbookError, match=message) as info:
        read_sheet(path, "customer")
    assert "bad.csv" in str(info.value)


def test_bad_workbooks_name_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 this is no zip archive")
    with pytest.raises(WorkbookError, match=r"corrupt\.xlsx"):
        read_sheet(corrupt, "customer")
    with pytest.raises(WorkbookError, match="no such file"):
        read_sheet(tmp_path / "missing.xlsx")
    with pytest.raises(WorkbookError, match=r"reads \.xlsx and \.csv"):
        (tmp_path / "notes.docx").write_bytes(b"x")
        read_sheet(tmp_path / "notes.docx")


def test_unknown_sheet_and_blank_rows(exported: Export, tmp_path: Path) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    with pytest.raises(WorkbookError, match="no sheet named 'clients'"):
        read_sheet(path, "customer", sheet="clients")
    book = openpyxl.load_workbook(path)
    book["customer"].insert_rows(3, amount=2)  # two blank rows in the middle
    book.save(path)
    sheet = read_sheet(path)
    assert len(sheet.frame) == len(exported.frame) and sheet.rows[2] == 6


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])
@given(customers=st.lists(CUSTOMERS, min_size=1, max_size=4, unique_by=lambda c: c["name"]))
def test_any_customers_survive_server_export_xlsx_and_read(sandbox_server: Sandbox, tmp_path_factory: Any,
                                                           customers: list[dict[str, Any]]) -> None:
    sandbox_server.reset()
    with Client(sandbox_server.url, sandbox_server.api_key) as client:
        company = client.company_id()
        ids = [r["id"] for r in client.insert("customer", [{**c, "companyId": company} for c in customers]).rows]
        exported = export_table(client, "customer", where=[f"id=in.({','.join(ids)})"])
    for suffix, write in ((".xlsx", write_workbook), (".csv", write_csv)):
        path = write(exported, tmp_path_factory.mktemp("rt") / f"c{suffix}")
        assert _differences(exported.display(), read_sheet(path, "customer").frame) == [], suffix


def test_merged_cells_are_refused_with_their_range(exported: Export, tmp_path: Path) -> None:
    path = write_workbook(exported, tmp_path / "c.xlsx")
    book = openpyxl.load_workbook(path)
    book["customer"].merge_cells("C4:E4")  # only C4 keeps its value: D4 and E4 would read as cleared
    book.save(path)
    with pytest.raises(WorkbookError, match="C4:E4") as info:
        read_sheet(path)
    assert "row 4" in str(info.value) and "unmerge" in str(info.value)


def test_formulas_use_their_computed_values_with_a_warning(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "f.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("customer")
    sheet.write_row(0, 0, ["name", "taxPercent"])
    sheet.write_string(1, 0, "Formula Co")
    sheet.write_formula(1, 1, "=10/100", None, 0.1)  # as Excel saves it: the formula and its last result
    book.close()
    read = read_sheet(path, "customer")
    assert read.frame["taxPercent"].tolist() == [0.1]
    assert any("formulas (first: B2)" in w for w in read.warnings)


def test_a_formula_without_a_computed_value_is_refused(tmp_path: Path) -> None:
    book = openpyxl.Workbook()  # openpyxl stores formulas but never calculates them
    sheet = book.active
    sheet.title = "customer"
    sheet.append(["name", "taxPercent"])
    sheet.append(["No Value Co", "=10/100"])
    path = tmp_path / "nf.xlsx"
    book.save(path)
    with pytest.raises(WorkbookError, match="without a computed value") as info:
        read_sheet(path, "customer")
    assert "row 2" in str(info.value) and "column B" in str(info.value)

"""Editing exported workbooks as a user does in Excel (openpyxl), for the plan, apply and CLI tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import openpyxl


def header(sheet: Any) -> dict[str, int]:
    """Column name -> column number of the data sheet."""
    return {c.value: c.column for c in sheet[1]}


def edit_sheet(path: Path, edits: Mapping[tuple[int, str], Any] | None = None, *,
               append: Iterable[Mapping[str, Any]] = (), drop_rows: Iterable[int] = (), sheet_name: str = "customer"
               ) -> Path:
    """Change cells ``(excel_row, column) -> value`` of one data sheet, append rows and delete rows, then save."""
    book = openpyxl.load_workbook(path)
    sheet = book[sheet_name]
    columns = header(sheet)
    for (row, name), value in (edits or {}).items():
        sheet.cell(row=row, column=columns[name]).value = value
    for record in append:
        row = sheet.max_row + 1
        for name, value in record.items():
            sheet.cell(row=row, column=columns[name]).value = value
    for row in sorted(drop_rows, reverse=True):
        sheet.delete_rows(row)
    book.save(path)
    return path


def cell(path: Path, row: int, name: str, sheet_name: str = "customer") -> Any:
    """The value of one cell of a data sheet."""
    sheet = openpyxl.load_workbook(path)[sheet_name]
    return sheet.cell(row=row, column=header(sheet)[name]).value

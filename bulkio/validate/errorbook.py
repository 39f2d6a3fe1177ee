"""The error workbook: the user's sheet with each bad cell highlighted and its message as a comment, plus an
Errors sheet that lists every issue with a link to its cell. Rows keep the Excel numbers they had, so "row 7" in
a message is row 7 in both files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter

from ..errors import WorkbookError
from ..sheets.layout import ERRORS_SHEET
from ..sheets.read import Sheet
from .report import ValidationReport

__all__ = ["error_workbook_path", "write_error_workbook"]


def error_workbook_path(path: str | Path) -> Path:
    """``customers.xlsx`` -> ``customers.errors.xlsx`` (a CSV gets an .xlsx error workbook too)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.errors.xlsx")


def _cell_text(value: Any) -> Any:
    """A value xlsxwriter can write as it is (number, text, blank), else its text."""
    return value if isinstance(value, (int, float, str)) or value is None else str(value)


def write_error_workbook(sheet: Sheet, report: ValidationReport, path: str | Path | None = None) -> Path:
    """Write the error workbook next to the sheet (or at `path`); returns its path."""
    out = Path(path) if path is not None else error_workbook_path(sheet.file)
    book = xlsxwriter.Workbook(str(out), {"strings_to_numbers": False, "strings_to_formulas": False,
                                          "strings_to_urls": False, "remove_timezone": True})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    bad = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006", "border": 1, "border_color": "#9C0006"})
    warn = book.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"})
    date = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    name = (sheet.sheet or sheet.resource.name)[:31]
    data = book.add_worksheet(name)
    columns = list(sheet.frame.columns)
    for col, column in enumerate(columns):
        data.write_string(0, col, str(column), header)
        data.set_column(col, col, min(50, max(10, len(str(column)) + 2)))
    by_cell = {(i.row, i.column): i for i in sorted(report.issues, key=lambda i: i.severity != "error")}
    for position, values in enumerate(sheet.frame.itertuples(index=False, name=None)):
        row = sheet.rows[position] - 1
        for col, (column, value) in enumerate(zip(columns, values, strict=True)):
            issue = by_cell.get((sheet.rows[position], column))
            fmt = None if issue is None else bad if issue.severity == "error" else warn
            if hasattr(value, "year") and hasattr(value, "hour"):
                data.write_datetime(row, col, value, fmt or date)
            else:
                data.write(row, col, _cell_text(value), fmt)
            if issue is not None:
                data.write_comment(row, col, issue.message, {"x_scale": 2.5, "y_scale": 1.5})
    data.freeze_panes(1, 0)

    errors = book.add_worksheet(ERRORS_SHEET)
    titles = ["row", "column", "value", "problem", "severity", "go to"]
    for col, title in enumerate(titles):
        errors.write_string(0, col, title, header)
    for col, width in enumerate((8, 22, 30, 80, 10, 12)):
        errors.set_column(col, col, width)
    for index, issue in enumerate(report.issues, start=1):
        errors.write(index, 0, issue.row)
        errors.write_string(index, 1, f"{issue.letter or ''} {issue.column or ''}".strip())
        errors.write(index, 2, _cell_text(issue.value) if not hasattr(issue.value, "hour") else str(issue.value))
        errors.write_string(index, 3, issue.message)
        errors.write_string(index, 4, issue.severity)
        if issue.row is not None and issue.letter is not None:
            errors.write_url(index, 5, f"internal:'{name}'!{issue.letter}{issue.row}", string="open cell")
    errors.activate()
    try:
        book.close()
    except Exception as exc:  # xlsxwriter's FileCreateError and OSError subclasses
        raise WorkbookError(f"cannot write the error workbook: {exc}", file=str(out)) from exc
    return out

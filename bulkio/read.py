"""Reading sheets back: XLSX with python-calamine (fast), CSV as Excel writes it; plus the workbook's snapshot.

`read_sheet()` returns a `Sheet`: the cells as read (not yet turned into API values: that is `values.from_cell`'s
job, during validation), where each row is in the file (Excel row numbers), the `_bulkio` metadata and the `_base`
snapshot when the workbook carries them. A workbook that lost its hidden sheets (re-saved by another program, a
template, a foreign CSV) reads fine: `base` is None and a warning says the plan will be two-way.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from .errors import WorkbookError
from .resources import Resource, get_resource
from .workbook import BASE_SHEET, LOOKUP_SHEET, META_SHEET, unescape_formula

__all__ = ["Sheet", "read_sheet"]

_NOT_DATA = frozenset({LOOKUP_SHEET, META_SHEET, BASE_SHEET, "Example", "Errors"})
_DELIMITERS = ",;\t"


@dataclass(frozen=True)
class Sheet:
    """The cells of one data sheet, as read, with where they came from.

    :param frame: one column per header (object dtype, cells as the file holds them; empty cells are None).
    :param rows: the Excel row number of each frame row (the header is row 1), for error messages.
    :param meta: the ``_bulkio`` sheet (what was exported, from where), or None.
    :param base: the ``_base`` snapshot: ``{key: {column: exported raw value}}``, or None.
    """

    file: str
    sheet: str | None
    resource: Resource
    frame: pd.DataFrame
    rows: list[int]
    meta: dict[str, str] | None = None
    base: dict[str, dict[str, Any]] | None = None
    warnings: list[str] = field(default_factory=list)


def _header(cells: Sequence[Any], file: str, sheet: str | None) -> list[str]:
    names = ["" if c is None else str(c).strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise WorkbookError("the first row is empty: it must hold the column names", file=file, sheet=sheet, row=1)
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            raise WorkbookError("a column has no name", file=file, sheet=sheet, row=1,
                                column=_letter(index))
        if name in seen:
            raise WorkbookError(f"column {name!r} appears twice (columns {_letter(seen[name])} and "
                                f"{_letter(index)})", file=file, sheet=sheet, row=1, column=_letter(index))
        seen[name] = index
    return names


def _letter(index: int) -> str:
    """Excel's column letter for a 0-based column index (A, ..., Z, AA, ...)."""
    return xl_col_to_name(index)


def _frame(table: list[list[Any]], file: str, sheet: str | None, *, csv_cells: bool) -> tuple[pd.DataFrame,
                                                                                          list[int]]:
    if not table:
        raise WorkbookError("the sheet is empty", file=file, sheet=sheet)
    names = _header(table[0], file, sheet)
    width = len(names)
    records, numbers = [], []
    for number, raw in enumerate(table[1:], start=2):
        cells = [None if c == "" or c is None else c for c in raw[:width]]
        if any(c is not None for c in raw[width:]):
            extra = next(i for i, c in enumerate(raw[width:], start=width) if c not in ("", None))
            raise WorkbookError("a value stands in a column without a header", file=file, sheet=sheet,
                                row=number, column=_letter(extra))
        if all(c is None for c in cells):
            continue  # blank rows are not data
        cells += [None] * (width - len(cells))
        if csv_cells:
            cells = [unescape_formula(c) if isinstance(c, str) else c for c in cells]
        records.append(cells)
        numbers.append(number)
    return pd.DataFrame(records, columns=names, dtype=object), numbers


def _read_xlsx(path: Path, resource: Resource | None, sheet_name: str | None) -> Sheet:
    import python_calamine

    file = str(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(file)
    except Exception as exc:  # calamine raises its own error types for zip, xml and encryption problems
        text = str(exc)
        hint = ("it is password-protected or encrypted: save an unprotected copy" if "ncrypt" in text
                or "assword" in text else "it is not a readable .xlsx workbook")
        raise WorkbookError(f"cannot open: {hint} ({text[:120]})", file=file) from None
    visible = {m.name: str(m.visible).endswith("Visible") for m in book.sheets_metadata}
    names = book.sheet_names
    meta = None
    if META_SHEET in names:
        meta = {str(r[0]): str(r[1]) for r in book.get_sheet_by_name(META_SHEET).to_python() if r and r[0]}
    if resource is None:
        wanted = meta.get("resource") if meta else None
        candidates = [n for n in names if n not in _NOT_DATA and visible.get(n, True)]
        guess = wanted or sheet_name or (candidates[0] if candidates else None)
        try:
            resource = get_resource(guess or "")
        except KeyError:
            raise WorkbookError(f"cannot tell which table this is: name it (sheets: {', '.join(names)})",
                                file=file) from None
    if sheet_name is None:
        sheet_name = resource.name if resource.name in names else next(
            (n for n in names if n not in _NOT_DATA and visible.get(n, True)), None)
    if sheet_name not in names:
        raise WorkbookError(f"no sheet named {sheet_name!r}; the workbook has: {', '.join(names)}", file=file)
    data = book.get_sheet_by_name(sheet_name)
    merged = data.merged_cell_ranges or []
    if merged:  # only the first cell of a merged range holds its value: the others would read as empty
        (top, left), (bottom, right) = merged[0]
        span = f"{_letter(left)}{top + 1}:{_letter(right)}{bottom + 1}"
        raise WorkbookError(f"merged cells ({span}{' and more' if len(merged) > 1 else ''}): unmerge them, so "
                            "that no cell silently reads as empty", file=file, sheet=sheet_name, row=top + 1,
                            column=_letter(left))
    frame, rows = _frame(data.to_python(skip_empty_area=False), file, sheet_name, csv_cells=False)
    warnings = []
    formulas = _formula_cells(path, sheet_name)
    for letter, row, computed in formulas:
        if not computed:  # saved by a program that does not calculate: the cell would read as empty
            raise WorkbookError("a formula without a computed value: open and save the file in Excel or LibreOffice "
                                "(or paste values) so its result is stored", file=file, sheet=sheet_name, row=row,
                                column=letter)
    if formulas:
        letter, row, _ = formulas[0]
        warnings.append(f"{path.name}: {len(formulas)} cell(s) hold formulas (first: {letter}{row}); their last "
                        "computed values are used")
    base = None
    if BASE_SHEET in names:
        base = _read_base(book.get_sheet_by_name(BASE_SHEET).to_python(), file)
    else:
        warnings.append(f"{path.name}: no export snapshot (a template, or re-saved by another program): the plan "
                        "will compare the sheet with the server only (two-way)")
    return Sheet(file, sheet_name, resource, frame, rows, meta, base, warnings)


_SHEET_TAG = re.compile(rb"<sheet\b[^>]*>")
_ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')
_FORMULA_CELL = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*>(.*?)</c>', re.S)


def _formula_cells(path: Path, sheet_name: str) -> list[tuple[str, int, bool]]:
    """(column letter, row, has a computed value) of every formula cell of `sheet_name` (read from the XML:
    calamine gives values only)."""
    with zipfile.ZipFile(path) as archive:
        book = archive.read("xl/workbook.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
        relation = None
        for tag in _SHEET_TAG.findall(book):
            attributes = dict(_ATTRIBUTE.findall(tag))
            if html.unescape(attributes.get(b"name", b"").decode()) == sheet_name:
                relation = attributes.get(b"r:id")
        targets = {dict(_ATTRIBUTE.findall(t)).get(b"Id"): dict(_ATTRIBUTE.findall(t)).get(b"Target")
                   for t in re.findall(rb"<Relationship\b[^>]*>", rels)}
        target = targets.get(relation)
        if target is None:
            return []
        name = target.decode().lstrip("/")
        member = name if name.startswith("xl/") else f"xl/{name}"
        with archive.open(member) as stream:  # streamed: most sheets have no formula, and are not held whole
            tail, found = b"", False
            while chunk := stream.read(1 << 22):
                if b"<f" in tail + chunk[:2] or b"<f" in chunk:
                    found = True
                    break
                tail = chunk[-1:]
        if not found:
            return []
        data = archive.read(member)
    return [(letter.decode(), int(row), b"<v>" in inner and b"<v></v>" not in inner)
            for letter, row, inner in _FORMULA_CELL.findall(data) if b"<f" in inner]


def _read_base(table: list[list[Any]], file: str) -> dict[str, dict[str, Any]] | None:
    if not table or len(table[0]) < 2:
        return None
    try:
        names = json.loads(table[0][1])
        return {str(row[0]): dict(zip(names, json.loads(row[1]), strict=True)) for row in table[1:] if row[0]}
    except (ValueError, TypeError):
        raise WorkbookError("the hidden export snapshot (_base) is damaged; export again, or delete the _base "
                            "sheet to plan without it", file=file, sheet=BASE_SHEET) from None


def _decode(raw: bytes, file: str) -> str:
    """UTF-8 with or without BOM, UTF-16 with a BOM (Excel's "Unicode text"), else cp1252 (Excel's ANSI CSV)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            raise WorkbookError("the file is neither UTF-8 nor Windows-1252 text", file=file) from None


def _read_csv(path: Path, resource: Resource | None) -> Sheet:
    file = str(path)
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":
        raise WorkbookError("this is a workbook, not CSV: name it .xlsx", file=file)
    if b"\x00" in raw and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise WorkbookError("the file holds binary data (NUL bytes), not CSV text", file=file)
    text = _decode(raw, file)
    sample = text[:20000]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if resource is None:
        raise WorkbookError("a CSV file does not say which table it holds: name it (e.g. customer)", file=file)
    frame, rows = _frame(table, file, None, csv_cells=True)
    warning = f"{path.name}: CSV carries no export snapshot: the plan will compare it with the server only"
    return Sheet(file, None, resource, frame, rows, None, None, [warning])


def read_sheet(path: str | Path, resource: Resource | str | None = None, *, sheet: str | None = None) -> Sheet:
    """Read an exported workbook, a template, a re-saved workbook or a CSV file.

    :param resource: the table (default: from the workbook's metadata or sheet name; required for CSV).
    :param sheet: the data sheet's name (default: the resource's, else the first visible data sheet).
    :raises WorkbookError: a file that is not a sheet, an empty sheet, a missing or duplicated header, a value
        outside the header's columns, a protected or corrupt workbook; always naming the file (and sheet, row,
        column where there is one).
    """
    path = Path(path)
    res = get_resource(resource) if resource is not None else None
    if not path.exists():
        raise WorkbookError("no such file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, res, sheet)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(path, res)
    raise WorkbookError("bulkio reads .xlsx and .csv files", file=str(path))

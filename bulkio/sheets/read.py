"""Reading sheets back: XLSX with python-calamine (fast), CSV as Excel writes it; plus the workbook's snapshot.

`read_sheet()` returns a `Sheet`: the cells as read (not yet turned into API values: that is `values.from_cell`'s
job, during validation), where each row is in the file (Excel row numbers), the `_bulkio` metadata and the `_base`
snapshot when the workbook carries them. A workbook that lost its hidden sheets (re-saved by another program, a
template, a foreign CSV) reads fine: `base` is None and a warning says the plan will be two-way.

Defined behaviours for awkward files: hidden rows and columns (a filter in Excel, grouped rows) are data like any
other, read with a warning that says how many and where, so that a filtered view never silently drops rows from an
import; formulas are read as their last computed values, with a warning, except the constants ``=TRUE()`` and
``=FALSE()`` (how LibreOffice saves a boolean cell), which are the booleans they name; merged cells, a formula
without a computed value, an encrypted (password-protected) or corrupt workbook, and a CSV larger than
`MAX_CSV_BYTES` are refused with one error naming the file (and sheet, row and column where there is one).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import html
import json
import re
import zipfile
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import python_calamine
from xlsxwriter.utility import xl_cell_to_rowcol, xl_col_to_name

from ..errors import WorkbookError
from ..resources import ColumnType, Resource, get_resource
from .layout import BASE_SHEET, META_SHEET, WITH_KEY, base_sheet, is_data_sheet, meta_sheet, unescape_formula
from .precision import restore_untouched
from .snapshot import Snapshot
from .values import CELL_KINDS, cell_kinds

__all__ = [
    "MAX_CSV_BYTES",
    "MAX_SHEET_CELLS",
    "CellKinds",
    "Sheet",
    "SheetXml",
    "file_sha256",
    "read_sheet",
    "scan_sheet_xml",
    "sheet_xml_member",
    "workbook_family",
    "workbook_table",
]

_DELIMITERS = ",;\t"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of encrypted OOXML files and of Excel 97-2003 .xls
_ZIP = b"PK\x03\x04"

MAX_CSV_BYTES = 1 << 30
"""The largest CSV file `read_sheet` reads (1 GiB). The whole sheet is held in memory to validate and plan it (as
Python objects, several times the file's size), so a bigger file is refused up front with a clear error instead of
exhausting memory half-way; a 100 MB CSV (about 300,000 customers) reads in seconds. Split bigger files."""


@dataclass(frozen=True)
class Sheet:
    """The cells of one data sheet, as read, with where they came from.

    :param frame: one column per header (object dtype, cells as the file holds them; empty cells are None).
    :param rows: the Excel row number of each frame row (the header is row 1), for error messages.
    :param meta: the ``_bulkio`` sheet (what was exported, from where), or None.
    :param base: the ``_base`` snapshot, a `Snapshot` (``{key: {column: exported raw value}}``), or None.
    :param kinds: what the reader learned of every cell of `frame` (`CellKinds`): its blank cells are None
        already, and validation need not visit every cell again to learn their kinds; None when not known (a CSV,
        a DataFrame).
    :param sha256: the SHA-256 of the file's bytes as they were read (None: not read from a file). A saved plan
        vouches for exactly these bytes: a sheet edited after it was read, even within the same second, differs.
    """

    file: str
    sheet: str | None
    resource: Resource
    frame: pd.DataFrame
    rows: list[int]
    meta: dict[str, str] | None = None
    base: Mapping[str, Mapping[str, Any]] | None = None
    warnings: list[str] = field(default_factory=list)
    kinds: CellKinds | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class CellKinds:
    """The kind of every cell of a sheet's frame (`values.cell_kinds` codes, rows x columns), learned by the reader
    in the one pass that cleared its blank cells to None: each later pass over a column of 100,000 scattered cells
    costs more than most rules, so validation asks here instead.

    It speaks only for the columns still as read: `cells` is the frame's data as read, and `anchor` a shallow copy
    of the frame, so that pandas copies a column before anyone changes it in place (copy-on-write); a column whose
    array is no longer the one read (edited, replaced, moved) is not answered for (`column` gives None)."""

    codes: np.ndarray
    cells: np.ndarray
    anchor: pd.DataFrame

    def column(self, position: int, values: np.ndarray) -> tuple[frozenset[type] | None, np.ndarray] | None:
        """For the column at `position` of the frame, whose cells are now `values`: (the types of its non-blank
        cells, or None when one is of a type `values.CELL_KINDS` does not name; which of its cells are blank), or
        None when `values` is not that column's array as read."""
        read = self.cells[:, position]
        if values.shape != read.shape or values.strides != read.strides or \
                values.__array_interface__["data"][0] != read.__array_interface__["data"][0]:
            return None
        codes = self.codes[:, position]
        present = np.flatnonzero(np.bincount(codes, minlength=len(CELL_KINDS) + 1))
        kinds = None if len(CELL_KINDS) in present else frozenset(CELL_KINDS[c] for c in present if c)
        return kinds, codes == 0


def _header(cells: Sequence[Any], file: str, sheet: str | None) -> list[str]:
    """The column names of the first row, trailing blanks dropped. A column without a name, or with another's, is
    refused with where it is: its cells could not be told to a field."""
    names = ["" if c is None else str(c).strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise WorkbookError("the first row is empty: it must hold the column names", file=file, sheet=sheet, row=1)
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            raise WorkbookError("a column has no name", file=file, sheet=sheet, row=1,
                                column=xl_col_to_name(index))
        if name in seen:
            raise WorkbookError(f"column {name!r} appears twice (columns {xl_col_to_name(seen[name])} and "
                                f"{xl_col_to_name(index)})", file=file, sheet=sheet, row=1,
                                column=xl_col_to_name(index))
        seen[name] = index
    return names


def _csv_frame(rows: Iterable[list[str]], file: str) -> tuple[pd.DataFrame, list[int]]:
    """The frame and Excel row numbers of CSV rows, consumed one by one as the reader parses them (the text is never
    held whole). Cells are text: "" is empty; bulkio's formula escapes are removed (only rows holding a cell that
    starts with an apostrophe are looked at cell by cell)."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        raise WorkbookError("the sheet is empty", file=file)
    names = _header(first, file, None)
    width = len(names)
    records, numbers = [], []
    for number, raw in enumerate(rows, start=2):
        if len(raw) > width and any(raw[width:]):
            extra = next(i for i, c in enumerate(raw[width:], start=width) if c)
            raise WorkbookError("a value stands in a column without a header", file=file, row=number,
                                column=xl_col_to_name(extra))
        if not any(raw[:width]):
            continue  # blank rows are not data
        joined = "\x00".join(raw)  # NUL cannot be in the text (refused up front): a cheap test for "'" at a start
        if joined.startswith("'") or "\x00'" in joined:
            cells = [(unescape_formula(c) if c[:1] == "'" else c) or None for c in raw[:width]]
        else:
            cells = [c or None for c in raw[:width]]
        if len(cells) < width:
            cells += [None] * (width - len(cells))
        records.append(cells)
        numbers.append(number)
    return pd.DataFrame(records, columns=names, dtype=object), numbers


def _grid_frame(table: list[list[Any]], file: str, sheet: str | None) -> tuple[pd.DataFrame, list[int], CellKinds]:
    """The frame, Excel row numbers and cell kinds of calamine's rectangular grid: every cell's kind (blank or
    not) is learned in one pass, then blank rows and values beyond the header are found by numpy over the whole
    grid at once (100,000 rows in a fraction of a second)."""
    if not table:
        raise WorkbookError("the sheet is empty", file=file, sheet=sheet)
    names = _header(table[0], file, sheet)
    width = len(names)
    span, rows = max(width, len(table[0])), table[1:]
    if set(map(len, rows)) <= {span}:  # calamine's grid is rectangular: its cells chained into one array, in C
        body = np.fromiter(chain.from_iterable(rows), dtype=object, count=len(rows) * span).reshape(len(rows), span)
    else:
        body = np.empty((len(rows), span), dtype=object)
        body[:, :] = rows
    codes = cell_kinds(body)
    empty = codes == 0  # None, "", white space: as every later step reads a blank cell
    body[empty] = None
    extra = ~empty[:, width:]
    if extra.any():
        row, column = np.argwhere(extra)[0]
        raise WorkbookError("a value stands in a column without a header", file=file, sheet=sheet,
                            row=int(row) + 2, column=xl_col_to_name(width + int(column)))
    keep = ~empty[:, :width].all(axis=1)  # blank rows are not data
    numbers = (np.flatnonzero(keep) + 2).tolist()
    every = bool(keep.all())
    data, codes = (body[:, :width], codes[:, :width]) if every else (body[keep, :width], codes[keep, :width])
    frame = pd.DataFrame(data, columns=names, dtype=object, copy=False)  # the grid is ours: no copy
    return frame, numbers, CellKinds(codes, data, frame.copy(deep=False))


def _open_error(path: Path, exc: Exception) -> WorkbookError:
    """One line for a workbook calamine cannot open: encrypted, an old .xls, not a workbook, or damaged."""
    with path.open("rb") as handle:
        start = handle.read(1 << 20)
    head = start[:8]
    # an encrypted .xlsx is an OLE2 container holding "EncryptionInfo" and "EncryptedPackage" streams
    if isinstance(exc, python_calamine.PasswordError) or (head == _OLE2 and "Encrypt".encode("utf-16-le") in start):
        hint = "it is encrypted (password-protected): open it in Excel, remove the password and save it again"
    elif head == _OLE2:
        hint = "it is an Excel 97-2003 (.xls) or other OLE2 file, not .xlsx: save it as .xlsx"
    elif head[:4] != _ZIP:
        hint = "it is not a workbook (an .xlsx file is a zip archive): export it again or save it as .xlsx"
    else:
        hint = "it is damaged or incomplete (truncated by a download, or not an .xlsx inside): save or export it again"
    return WorkbookError(f"cannot open: {hint}", file=str(path))


def _read_xlsx(path: Path, resource: Resource | None, sheet_name: str | None) -> Sheet:
    """An .xlsx file: the metadata, then the table it holds, the data sheet and (on a second thread) the snapshot."""
    file = str(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(file)
    except Exception as exc:  # calamine raises its own error types for zip, xml and encryption problems
        raise _open_error(path, exc) from None
    visible = {m.name: str(m.visible).endswith("Visible") for m in book.sheets_metadata}
    names = book.sheet_names
    meta_name, base_name = _hidden_sheets(names, sheet_name or (resource.name if resource is not None else None))
    meta = None
    if meta_name in names:
        _refuse_oversized(path, meta_name)
        meta = {str(r[0]): str(r[1]) for r in book.get_sheet_by_name(meta_name).to_python() if r and r[0]}
    if resource is None:
        wanted = meta.get("resource") if meta else None
        candidates = [n for n in names if is_data_sheet(n) and visible.get(n, True)]
        guess = wanted or sheet_name or (candidates[0] if candidates else None)
        try:
            resource = get_resource(guess or "")
        except KeyError:
            raise WorkbookError(f"cannot tell which table this is: name it (sheets: {', '.join(names)})",
                                file=file) from None
    if sheet_name is None:
        sheet_name = resource.name if resource.name in names else next(
            (n for n in names if is_data_sheet(n) and visible.get(n, True)), None)
    if sheet_name not in names:
        raise WorkbookError(f"no sheet named {sheet_name!r}; the workbook has: {', '.join(names)}", file=file)
    # calamine parses without holding the GIL: the snapshot loads on the other core while the data sheet is
    # measured and loaded, and the sheet's XML is scanned there too (a third of the time, for 100,000 rows)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bulkio-read") as pool:
        snapshot = pool.submit(_read_base, path, resource, base_name) if base_name in names else None
        _refuse_oversized(path, sheet_name)
        frame, rows, kinds, warnings = _read_data(path, book, sheet_name, pool)
        base = snapshot.result() if snapshot is not None else None
    if snapshot is None:
        warnings.append(f"{path.name}: no export snapshot (a template, or re-saved by another program): the plan "
                        "will compare the sheet with the server only (two-way)")
    elif base is not None:  # cells a spreadsheet program re-wrote at its own precision are the exported values
        frame, _ = restore_untouched(frame, base, resource)
    return Sheet(file, sheet_name, resource, frame, rows, meta, base, warnings, kinds)


def _hidden_sheets(names: Sequence[str], table: str | None) -> tuple[str, str]:
    """The metadata and snapshot sheets of the data sheet (or table) `table`: a family's child table has its own
    (``_bulkio.customerContact``, ``_base.customerContact``); any other sheet, the workbook's ``_bulkio``/``_base``."""
    if table is not None and meta_sheet(table) in names:
        return meta_sheet(table), base_sheet(table)
    return META_SHEET, BASE_SHEET


def _refuse_oversized(path: Path, sheet_name: str, too_large: WorkbookError | None = None) -> None:
    """Refuse a sheet too large to load before calamine loads it: calamine holds the whole rectangle up to the
    farthest cell, which the XML is searched for (the ``<dimension>`` tag may lie or be missing).

    :param too_large: the error to raise for a far cell, where the generic one would not help (a hidden sheet)."""
    _check_extent(path, sheet_name)
    rows_spanned, columns_spanned = _sheet_extent(path, sheet_name)
    if rows_spanned * columns_spanned > MAX_SHEET_CELLS:
        if too_large is not None:
            raise too_large
        far = f"{xl_col_to_name(columns_spanned - 1)}{rows_spanned}"
        raise WorkbookError(f"the sheet's cells reach {far} ({rows_spanned * columns_spanned:,} cells in the "
                            "rectangle a reader must hold): too large to read; delete the stray cells far from your "
                            "data (Ctrl+End in Excel goes to the last one) and save again", file=str(path),
                            sheet=sheet_name)


def _read_data(path: Path, book: Any, sheet_name: str, pool: ThreadPoolExecutor
               ) -> tuple[pd.DataFrame, list[int], CellKinds, list[str]]:
    """The data sheet's frame, Excel row numbers, cell kinds and warnings (`_refuse_oversized` has measured it);
    what calamine does not tell (formulas, error cells, hidden rows: `scan_sheet_xml`) is read on `pool` meanwhile."""
    file = str(path)
    marks = pool.submit(scan_sheet_xml, path, sheet_name, extent=False)
    try:
        data = book.get_sheet_by_name(sheet_name)
    except Exception as exc:  # a zip that opens but whose sheet XML is cut short or broken
        raise WorkbookError(f"cannot read the sheet: it is damaged ({str(exc)[:80]}): save or export it again",
                            file=file, sheet=sheet_name) from None
    merged = data.merged_cell_ranges or []
    if merged:  # only the first cell of a merged range holds its value: the others would read as empty
        (top, left), (bottom, right) = merged[0]
        span = f"{xl_col_to_name(left)}{top + 1}:{xl_col_to_name(right)}{bottom + 1}"
        raise WorkbookError(f"merged cells ({span}{' and more' if len(merged) > 1 else ''}): unmerge them, so "
                            "that no cell silently reads as empty", file=file, sheet=sheet_name, row=top + 1,
                            column=xl_col_to_name(left))
    frame, rows, kinds = _grid_frame(data.to_python(skip_empty_area=False), file, sheet_name)
    del data
    scan = marks.result()
    warnings = []
    _put_booleans(scan.booleans, frame, rows, kinds)
    for letter, row, computed in scan.formulas:
        if not computed:  # saved by a program that does not calculate: the cell would read as empty
            raise WorkbookError("a formula without a computed value: open and save the file in Excel or LibreOffice "
                                "(or paste values) so its result is stored", file=file, sheet=sheet_name, row=row,
                                column=letter)
    for letter, row, error in scan.errors:
        if row in rows or row == 1:  # a data cell: never read as empty, which would clear the field
            index = xl_cell_to_rowcol(f"{letter}1")[1]
            name = frame.columns[index] if index < len(frame.columns) else None
            more = f"; {len(scan.errors) - 1} more cell(s) hold errors" if len(scan.errors) > 1 else ""
            raise WorkbookError(f"the cell holds the Excel error {error} (a formula that failed, or an error pasted "
                                f"in): fix it or clear the cell{more}",
                                file=file, sheet=sheet_name, row=row,
                                column=f"{letter} ({name})" if name else letter)
    if scan.formulas:
        letter, row, _ = scan.formulas[0]
        warnings.append(f"{path.name}: {len(scan.formulas)} cell(s) hold formulas (first: {letter}{row}); their last "
                        "computed values are used")
    warnings.extend(_hidden_warnings(path.name, scan, rows, len(frame.columns)))
    return frame, rows, kinds, warnings


_BOOL_CODE = CELL_KINDS.index(bool)


def _put_booleans(booleans: list[tuple[str, int, bool]], frame: pd.DataFrame, rows: list[int],
                  kinds: CellKinds) -> None:
    """The cells whose formula is the constant ``TRUE()`` or ``FALSE()`` become those booleans. LibreOffice saves a
    boolean cell so (``<c t="n"><f>TRUE()</f><v>1</v></c>``), which calamine reads as the number 1.0; a program
    that does not calculate may store no value at all. The cell is changed in the grid the frame and `kinds` share,
    so its kind stays known; should pandas ever have copied it, the frame is set too (and validation then reads
    that column cell by cell, as for any column changed after reading)."""
    width = len(frame.columns)
    for letter, row, value in booleans:
        column = xl_cell_to_rowcol(f"{letter}1")[1]
        at = bisect_left(rows, row)
        if column >= width or at == len(rows) or rows[at] != row:
            continue  # the header, a blank row, or beyond the header's columns: not data
        kinds.cells[at, column] = value
        kinds.codes[at, column] = _BOOL_CODE
        if frame.iat[at, column] is not value:
            frame.iat[at, column] = value


def _hidden_warnings(name: str, scan: SheetXml, rows: list[int], width: int) -> list[str]:
    """Hidden rows and columns are read like the others; say so, so that a filter never hides an import."""
    out = []
    if scan.hidden_rows:
        hidden = sorted(set(scan.hidden_rows).intersection(rows))
        if hidden:
            out.append(f"{name}: {len(hidden)} hidden row(s) (first: row {hidden[0]}) are read and imported like "
                       "every other row (a filter or hidden rows in Excel do not leave rows out); delete the rows "
                       "you do not want to import")
    letters = [xl_col_to_name(c) for c in scan.hidden_columns if c < width]
    if letters:
        shown = ", ".join(letters[:5]) + (" ..." if len(letters) > 5 else "")
        out.append(f"{name}: {len(letters)} hidden column(s) ({shown}) are read and imported like every other column")
    return out


@dataclass(frozen=True)
class SheetXml:
    """What calamine does not tell about a sheet, read from its XML (`scan_sheet_xml`): formula cells (column
    letter, row, has a computed value), hidden rows (Excel numbers) and hidden columns (0-based)."""

    formulas: list[tuple[str, int, bool]]
    hidden_rows: list[int]
    hidden_columns: list[int]
    extent: tuple[int, int] = (0, 0)
    """(last row, widest column index + 1) of any cell: calamine allocates that whole rectangle."""
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    """Cells holding an Excel error value (#N/A, #DIV/0!...): column letter, row, the error. calamine reads them as
    empty cells, which would clear the field on the server."""
    booleans: list[tuple[str, int, bool]] = field(default_factory=list)
    """Cells whose formula is the constant ``TRUE()``/``FALSE()`` (or ``TRUE``/``FALSE``): column letter, row, the
    boolean. Not in `formulas`: they are values, whatever value (if any) is stored beside them."""


_SHEET_TAG = re.compile(rb"<sheet\b[^>]*>")
_ATTRIBUTE = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_PREFIXED = re.compile(rb"<\w+:worksheet\b")  # a writer that prefixes its tags (<x:row>, <x:f>)
_CELL = re.compile(rb"<((?:\w+:)?)c\b([^>]*?)(?:/>|>(.*?)</\1c>)", re.S)
_ROW_HIDDEN = re.compile(rb"""<(?:\w+:)?row\b[^>]*?\bhidden\s*=\s*["'](?:1|true)["'][^>]*>""")
_COL_HIDDEN = re.compile(rb"""<(?:\w+:)?col\b[^>]*?\bhidden\s*=\s*["'](?:1|true)["'][^>]*>""")
_ROW_END = re.compile(rb"</\w+:row>")
_CELL_REF = re.compile(rb"""\br\s*=\s*["']([A-Z]+)([0-9]+)["']""")
_ROW_REF = re.compile(rb"""\br\s*=\s*["']([0-9]+)["']""")
_VALUE = re.compile(rb"<(?:\w+:)?v>(.+?)</(?:\w+:)?v>|<(?:\w+:)?v>(</(?:\w+:)?v>)", re.S)
_ERROR_TYPE = re.compile(rb"""\bt\s*=\s*["']e["']""")
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f\b[^>]*>([^<]*)</(?:\w+:)?f>")
_BOOLEAN_FORMULAS = {b"TRUE()": True, b"TRUE": True, b"FALSE()": False, b"FALSE": False}
_WIDE_REF = re.compile(rb""" r=["']([A-Z]{2,3})[0-9]""")  # a literal start: searched fast


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    """The attributes of one XML tag, quoted either way."""
    return {name: double or single for name, double, single in _ATTRIBUTE.findall(tag)}


def sheet_xml_member(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding `sheet_name`'s XML (``xl/worksheets/sheet3.xml``), found through workbook.xml and its
    relationships, never guessed from the sheet's position: writers number their members as they please.
    None when the workbook names no such sheet."""
    book = archive.read("xl/workbook.xml")
    rels = archive.read("xl/_rels/workbook.xml.rels")
    relation = None
    for tag in _SHEET_TAG.findall(book):
        attributes = _attributes(tag)
        if html.unescape(attributes.get(b"name", b"").decode()) == sheet_name:
            relation = attributes.get(b"r:id")
    targets = {_attributes(t).get(b"Id"): _attributes(t).get(b"Target")
               for t in re.findall(rb"<Relationship\b[^>]*>", rels)}
    target = targets.get(relation)
    if target is None:
        return None
    name = target.decode().lstrip("/")
    return name if name.startswith("xl/") else f"xl/{name}"


MAX_SHEET_CELLS = 30_000_000
"""Cells (rows x columns of the used range) a sheet may span: calamine holds the whole rectangle in memory."""
_MAX_RATIO = 100  # spreadsheet XML compresses 5-20:1; far more is a zip bomb (or a sheet of nothing)
_MAX_XML_BYTES = 4 << 30
_DIMENSION = re.compile(rb"""<(?:\w+:)?dimension\b[^>]*\bref\s*=\s*["'](?:[A-Z]+[0-9]+:)?([A-Z]+)([0-9]+)["']""")
_MAX_ROW_XML = 64 << 20


def _check_extent(path: Path, sheet_name: str) -> None:
    """Refuse, before calamine loads it whole, a sheet whose XML inflates absurdly (a zip bomb) or whose used range
    spans more cells than memory holds (one stray value at XFD1048576 makes a 17-billion-cell rectangle)."""
    file = str(path)
    with zipfile.ZipFile(path) as archive:
        member = sheet_xml_member(archive, sheet_name)
        if member is None:
            return
        info = archive.getinfo(member)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _MAX_XML_BYTES or (info.file_size > 8 << 20 and ratio > _MAX_RATIO):
            raise WorkbookError(f"the sheet is too large: its XML inflates from {info.compress_size:,} to "
                                f"{info.file_size:,} bytes ({ratio:,.0f}:1), far beyond what spreadsheet data "
                                "compresses to (a zip bomb, or a damaged file)", file=file, sheet=sheet_name)
        with archive.open(member) as stream:
            head = stream.read(1 << 16)
    found = _DIMENSION.search(head)
    if found:
        letters, row = found.group(1).decode(), int(found.group(2))
        cells = row * (xl_cell_to_rowcol(f"{letters}1")[1] + 1)
        if cells > MAX_SHEET_CELLS:
            raise WorkbookError(f"the sheet's used range reaches {letters}{row} ({cells:,} cells): too large to read; "
                                "delete the stray cells far from your data (Ctrl+End in Excel goes to the last one) "
                                "and save again", file=file, sheet=sheet_name)


def _after_last_row(buffer: bytes) -> int:
    """Where the last row end tag (``</row>``, or ``</x:row>`` from writers that prefix) ends, or -1. Text cannot
    hold ``</`` (XML escapes ``<``), so this is always a real tag."""
    end = buffer.rfind(b"</row>")
    if end >= 0:
        return end + len(b"</row>")
    prefixed = [m.end() for m in _ROW_END.finditer(buffer)]
    return prefixed[-1] if prefixed else -1


def _sheet_pieces(path: Path, sheet_name: str, chunk: int) -> Iterator[bytes]:
    """The sheet's XML in pieces of about `chunk` bytes (4 MB), each cut after a row's end tag, so that no cell or
    row tag is ever split between two pieces; the first piece also holds everything before the first row."""
    with zipfile.ZipFile(path) as archive:
        member = sheet_xml_member(archive, sheet_name)
        if member is None:
            return
        with archive.open(member) as stream:
            carry = b""
            while piece := stream.read(chunk):
                buffer = carry + piece
                cut = _after_last_row(buffer)
                if cut < 0:
                    if len(buffer) > _MAX_ROW_XML:
                        raise WorkbookError("the sheet is too large: a single row holds over 64 MB of XML",
                                            file=str(path), sheet=sheet_name)
                    carry = buffer
                    continue
                yield buffer[:cut]
                carry = buffer[cut:]
            yield carry


def _sheet_extent(path: Path, sheet_name: str, chunk: int = 1 << 22) -> tuple[int, int]:
    """(last row, widest column index + 1) of any cell, at least 26 columns wide: the rectangle calamine allocates,
    measured from the XML before calamine reads it (the ``<dimension>`` tag may lie or be missing).

    Two searches in C per piece: the last row tag (rows come in order), and every cell reference of two or three
    letters (a sheet as wide as A..Z has none)."""
    rows, widest = 0, 26
    for part in _sheet_pieces(path, sheet_name, chunk):
        start = max(part.rfind(b"<row "), part.rfind(b":row "))
        if start >= 0:
            found = _ROW_REF.search(part, start)
            if found:
                rows = max(rows, int(found.group(1)))
        for letters in set(_WIDE_REF.findall(part)):
            widest = max(widest, xl_cell_to_rowcol(letters.decode() + "1")[1] + 1)
    return rows, widest


def scan_sheet_xml(path: Path, sheet_name: str, chunk: int = 1 << 22, *, extent: bool = True) -> SheetXml:
    """One streamed pass over the sheet's XML (calamine gives values only): formulas, Excel error cells, hidden
    rows and columns, and (unless `extent` is False: `_read_data` measures that first, on its own) the extent.

    A piece is only searched with a regular expression when a plain substring test says it holds a formula, an
    error or a hidden flag, so an exported sheet of 100,000 rows costs little more than its decompression.

    :param chunk: bytes of XML searched at a time (pieces end after a row): the answer does not depend on it.
    """
    formulas: list[tuple[str, int, bool]] = []
    hidden_rows: list[int] = []
    hidden_columns: list[int] = []
    errors: list[tuple[str, int, str]] = []
    booleans: list[tuple[str, int, bool]] = []
    hints = (b"<f", b":f")  # plain substring tests, far faster than the regular expression
    known = False
    for part in _sheet_pieces(path, sheet_name, chunk):
        if not known and b"worksheet" in part:  # only prefixed XML needs the second test
            hints, known = ((b"<f", b":f") if _PREFIXED.search(part) else (b"<f",)), True
        if b't="e"' in part or b"t='e'" in part:
            for _prefix, attributes, inner in _CELL.findall(part):
                if _ERROR_TYPE.search(attributes):
                    ref, value = _CELL_REF.search(attributes), _VALUE.search(inner or b"")
                    if ref is not None:
                        shown = value.group(1).decode(errors="replace") if value and value.group(1) else "#ERROR"
                        errors.append((ref.group(1).decode(), int(ref.group(2)), html.unescape(shown)))
        if b"hidden" in part:
            for tag in _ROW_HIDDEN.findall(part):
                ref = _ROW_REF.search(tag)
                if ref:
                    hidden_rows.append(int(ref.group(1)))
            for tag in _COL_HIDDEN.findall(part):
                attributes = _attributes(tag)
                low, high = int(attributes.get(b"min", b"1")), int(attributes.get(b"max", b"1"))
                hidden_columns.extend(range(low - 1, min(high, 16384)))
        if any(tag in part for tag in hints) and _FORMULA_TAG.search(part):
            for _prefix, attributes, inner in _CELL.findall(part):
                if inner and _FORMULA_TAG.search(inner):
                    ref = _CELL_REF.search(attributes)
                    if ref is None:
                        continue
                    text = _FORMULA_TEXT.search(inner)
                    constant = _BOOLEAN_FORMULAS.get(text.group(1).strip().upper()) if text else None
                    if constant is not None:
                        booleans.append((ref.group(1).decode(), int(ref.group(2)), constant))
                        continue
                    value = _VALUE.search(inner)
                    as_text = re.search(rb"""\bt\s*=\s*["']str["']""", attributes) is not None
                    computed = value is not None and (bool(value.group(1)) or as_text)
                    formulas.append((ref.group(1).decode(), int(ref.group(2)), computed))
    return SheetXml(formulas, sorted(set(hidden_rows)), sorted(set(hidden_columns)),
                     _sheet_extent(path, sheet_name, chunk) if extent else (0, 0), errors, booleans)


def _read_base(path: Path, resource: Resource, sheet: str = BASE_SHEET) -> Snapshot | None:
    """The ``_base`` sheet (or a family child's `sheet`, ``_base.customerContact``) as a `Snapshot`, or None when
    the workbook has none (or an empty one).

    Runs on its own thread while the data sheet loads (`_read_xlsx`): calamine parses without holding the GIL, so
    the two sheets load on two cores. It opens the workbook itself (a calamine workbook is not shared by threads)."""
    file = str(path)
    damaged = WorkbookError(f"the hidden export snapshot ({sheet}) is damaged; export again, or delete the {sheet} "
                            "sheet to plan without it", file=file, sheet=sheet)
    _refuse_oversized(path, sheet, damaged)  # as for the data sheet: before calamine loads it
    try:
        table = python_calamine.CalamineWorkbook.from_path(file).get_sheet_by_name(sheet).to_python()
    except Exception:  # calamine's own error types, for a sheet whose XML is cut short or broken
        raise damaged from None
    if not table or len(table[0]) < 2:
        return None
    try:
        names = json.loads(table[0][1])
        rows = [row for row in table[1:] if row[0]]
        # one JSON document for all rows: a single C call instead of one per row
        values = json.loads("[" + ",".join(row[1] for row in rows) + "]")
        snapshot = Snapshot([str(row[0]) for row in rows], names, values)
    except (ValueError, TypeError):
        raise damaged from None
    for column in resource.columns:  # parsed here, on the reading thread, for the read-only edit check
        if column.type is ColumnType.TIMESTAMP and column.read_only:
            snapshot.millis(column.name)
    return snapshot


def _encoding(path: Path, head: bytes) -> str:
    """UTF-8 with or without BOM, UTF-16 with a BOM (Excel's "Unicode text"), else cp1252 (Excel's ANSI CSV).

    The file is checked in pieces (never held whole): binary data (NUL bytes) is refused, and a file that is not
    UTF-8 throughout is read as Windows-1252.
    """
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: their BOMs start alike
        raise WorkbookError("the file is UTF-32 text, which no spreadsheet writes as CSV: save it as CSV UTF-8",
                            file=str(path))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            if b"\x00" in chunk:
                raise WorkbookError("the file holds binary data (NUL bytes), not CSV text", file=str(path))
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    return "cp1252"


def _read_csv(path: Path, resource: Resource | None, max_bytes: int) -> Sheet:
    """A CSV file: refused when it is a workbook in disguise or too large, then decoded and parsed as a stream."""
    file = str(path)
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_ZIP):
        raise WorkbookError("this is a workbook, not CSV: name it .xlsx", file=file)
    if head.startswith(_OLE2):
        raise WorkbookError("this is an Excel 97-2003 or encrypted workbook, not CSV: save it as .xlsx or CSV",
                            file=file)
    size = path.stat().st_size
    if size > max_bytes:
        raise WorkbookError(f"the file is {size / 1e6:,.0f} MB; bulkio reads CSV files up to {max_bytes / 1e6:,.0f} "
                            "MB (the whole sheet is held in memory to validate and plan it): split it into smaller "
                            "files, each with the header row", file=file)
    encoding = _encoding(path, head)
    if resource is None:
        raise WorkbookError("a CSV file does not say which table it holds: name it (--resource customer, or "
                            "resource=\"customer\" in Python)", file=file)
    # a cell may be as long as the file: validation, not the parser, says a cell is too long (and where)
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes))
    try:
        with path.open(encoding=encoding, newline="") as handle:
            sample = handle.read(20000)
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
        with path.open(encoding=encoding, newline="") as handle:  # streamed: rows are read as they are needed
            frame, rows = _csv_frame(csv.reader(handle, delimiter=delimiter), file)
    except UnicodeDecodeError:
        raise WorkbookError("the file is neither UTF-8 nor Windows-1252 text", file=file) from None
    warning = f"{path.name}: CSV carries no export snapshot: the plan will compare it with the server only"
    return Sheet(file, None, resource, frame, rows, None, None, [warning])


def _workbook_meta(path: Path) -> dict[str, str]:
    """The workbook's ``_bulkio`` values; {} for a CSV, a workbook without them, or one that cannot be opened
    (`read_sheet` then says why)."""
    if path.suffix.lower() not in (".xlsx", ".xlsm") or not path.exists():
        return {}
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        if META_SHEET not in book.sheet_names:
            return {}
        _refuse_oversized(path, META_SHEET)  # a far stray cell would make calamine abort the process
        cells = book.get_sheet_by_name(META_SHEET).to_python()
    except Exception:  # unreadable: read_sheet reports it, naming the file
        return {}
    return {str(r[0]): str(r[1]) for r in cells if len(r) > 1}


def workbook_table(path: str | Path) -> str | None:
    """The table an exported workbook names in its hidden ``_bulkio`` sheet; None when it names none or cannot be
    opened (`read_sheet` then says why). Read before the sheet, so that a table only the server describes can be
    resolved through a client (`bulkio.api.catalog.resource_for`) first."""
    return _workbook_meta(Path(path)).get("resource") or None


def workbook_family(path: str | Path) -> tuple[str, list[str]] | None:
    """(parent table, child tables) of a family workbook (``("customer", ["customerContact"])``), from the
    ``with`` list of its ``_bulkio`` sheet; None for a one-table workbook, a CSV, or a file that cannot be opened.

    :raises WorkbookError: the ``with`` value is not a JSON list of table names (the workbook was tampered with).
    """
    meta = _workbook_meta(Path(path))
    if not meta.get(WITH_KEY) or not meta.get("resource"):
        return None
    try:
        children = json.loads(meta[WITH_KEY])
    except ValueError:
        children = None
    if not isinstance(children, list) or not all(isinstance(c, str) and c for c in children):
        raise WorkbookError(f"the hidden {META_SHEET} sheet's {WITH_KEY!r} is not a list of table names: export "
                            "the workbook again", file=str(path), sheet=META_SHEET)
    return (meta["resource"], children) if children else None


def read_sheet(path: str | Path, resource: Resource | str | None = None, *, sheet: str | None = None,
               max_csv_bytes: int = MAX_CSV_BYTES) -> Sheet:
    """Read an exported workbook, a template, a re-saved workbook or a CSV file.

    :param resource: the table (default: from the workbook's metadata or sheet name; required for CSV).
    :param sheet: the data sheet's name (default: the resource's, else the first visible data sheet).
    :param max_csv_bytes: refuse a CSV file larger than this (default `MAX_CSV_BYTES`, 1 GiB).
    :raises WorkbookError: a file that is not a sheet, an empty sheet, a missing or duplicated header, a value
        outside the header's columns, merged cells, a formula without a computed value, an encrypted or corrupt
        workbook, a CSV above `max_csv_bytes`; always naming the file (and sheet, row, column where there is one).
    """
    path = Path(path)
    res = get_resource(resource) if resource is not None else None
    if not path.exists():
        raise WorkbookError("no such file", file=str(path))
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt", ".tsv"):
        raise WorkbookError("bulkio reads .xlsx and .csv files", file=str(path))
    digest = file_sha256(path)  # before the cells: an edit saved while they are read makes the two disagree
    read = _read_xlsx(path, res, sheet) if suffix in (".xlsx", ".xlsm") else _read_csv(path, res, max_csv_bytes)
    return replace(read, sha256=digest)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks (an export of 100,000 rows is tens of megabytes)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

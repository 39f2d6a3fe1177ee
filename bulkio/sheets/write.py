"""Writing the workbooks people edit: XLSX with xlsxwriter (formatted, with dropdowns and a hidden snapshot) and CSV.

Layout of an exported workbook:

- the data sheet, named after the resource: bold frozen header, autofilter, widths, ids and phones as text, dates
  as Excel dates, `taxPercent` shown as a percentage (the cell holds the fraction), read-only columns greyed with a
  header comment, reference columns as labels with an in-cell dropdown, and an ``_action`` column (blank / delete);
- ``Lookups``: one column of valid labels per reference column (feeds the dropdowns);
- ``_bulkio`` (very hidden): what was exported, from which host, when (never the key);
- ``_base`` (very hidden): the exported values with raw ids, for the three-way plan.

A family export (a table and its children: `FamilyExport`) adds a data sheet per child table and their hidden
sheets: `bulkio.sheets.family` decides those, and writes them through this module's `_Book`.

The names of these sheets and columns, and the formula escape, belong to the format, shared with the reader:
`bulkio.sheets.layout`. Cells are rendered by `bulkio.sheets.values.to_cell`, the one place that decides how a
value looks in a sheet, so an untouched workbook reads back equal.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from .._version import __version__
from ..api.lookups import Lookup
from ..errors import WorkbookError
from ..resources import Column, ColumnType, Resource
from . import xmlrows
from .exported import Export, ExportInfo, FamilyExport, display_frame, flat_columns
from .family import write_family
from .layout import ACTION_COLUMN, ACTIONS, DELETE, EXAMPLE_SHEET, LOOKUP_SHEET, base_sheet, escape_formula, meta_sheet
from .values import to_cell, to_cells

__all__ = ["PagedWorkbook", "SheetFrame", "csv_rows", "template_columns", "write_csv", "write_frames", "write_template",
           "write_workbook"]

_ACTION_COMMENT = f"Leave blank to create or update the row; write '{DELETE}' to delete it (only when applied)."


def _column_for(resource: Resource | None, name: str) -> Column | None:
    """The column `name` describes, or None for a column the resource does not know (a ``customFields`` key)."""
    if resource is not None and name in resource:
        return resource.column(name)
    return None


def _cell(column: Column | None, value: Any) -> Any:
    """The value a sheet cell holds: through values.to_cell for known columns, plain for customFields keys."""
    if column is not None:
        return to_cell(column, value)
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return value


class _Formats:
    """The cell formats of one workbook: xlsxwriter wants each made once per book, not once per cell.
"""
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": False})
        self.header_ro = book.add_format({"bold": True, "bg_color": "#D9D9D9", "font_color": "#595959", "border": 1})
        self.text = book.add_format({"num_format": "@"})
        self.text_ro = book.add_format({"num_format": "@", "font_color": "#7F7F7F", "bg_color": "#F2F2F2"})
        self.date = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.date_ro = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss", "font_color": "#7F7F7F",
                                        "bg_color": "#F2F2F2"})
        self.percent = book.add_format({"num_format": "0.00###%"})
        self.number = book.add_format({"num_format": "General"})


def _write_value(sheet: Any, row: int, col: int, value: Any, fmt: Any, date_fmt: Any) -> None:
    """One cell through the writer of its type, a datetime without its time zone (an Excel date has none)."""
    if value is None:
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, col, value, fmt)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value.replace(tzinfo=None), date_fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


def _header_comment(column: Column | None, lookups_choices: int) -> str | None:
    """The header's comment: what a user needs to fill the column in (read-only, description, required, the list)."""
    if column is None:
        return "custom field: text, number or JSON"
    parts = []
    if column.read_only:
        parts.append("Read-only: edits to this column are ignored on import.")
    if column.description:
        parts.append(column.description[0].upper() + column.description[1:] + ".")
    if column.required:
        parts.append("Required.")
    if column.reference is not None and column.reference.label and lookups_choices:
        parts.append(f"Pick a value from the list ({lookups_choices} choices, see the {LOOKUP_SHEET} sheet).")
    return " ".join(parts) or None


def _formats_for(fmt: _Formats, meta: Sequence[Column | None]) -> tuple[list[Any], list[Any]]:
    """Per column: the cell format, and the date format used when a cell holds a datetime."""
    formats, date_formats = [], []
    for column in meta:
        read_only = column is not None and column.read_only
        if column is not None and column.type is ColumnType.NUMERIC:
            formats.append(fmt.percent if column.format == "percent" else fmt.number)
        elif column is not None and column.type is ColumnType.TIMESTAMP:
            formats.append(fmt.date_ro if read_only else fmt.date)
        else:
            formats.append(fmt.text_ro if read_only else fmt.text)
        date_formats.append(fmt.date_ro if read_only else fmt.date)
    return formats, date_formats


def _write_lookups(book: xlsxwriter.Workbook, fmt: _Formats, lookups: Mapping[str, Lookup]) -> dict[str, str]:
    """The Lookups sheet: one column of valid labels per reference column; returns the dropdown source ranges."""
    ranges: dict[str, str] = {}
    if not lookups:
        return ranges
    sheet = book.add_worksheet(LOOKUP_SHEET)
    ordered = sorted(lookups.items())
    for index, (name, lookup) in enumerate(ordered):
        sheet.set_column(index, index, 28)
        sheet.write_string(0, index, name, fmt.header)
        letter = xl_col_to_name(index)
        ranges[name] = f"='{LOOKUP_SHEET}'!${letter}$2:${letter}${max(2, len(lookup.choices) + 1)}"
    for row in range(1, 1 + max(len(lookup.choices) for _, lookup in ordered)):  # row by row (constant memory)
        for index, (_, lookup) in enumerate(ordered):
            if row <= len(lookup.choices):
                sheet.write_string(row, index, lookup.choices[row - 1])
    return ranges


def _write_header(sheet: Any, fmt: _Formats, frame: pd.DataFrame, columns: Sequence[str],
                  meta: Sequence[Column | None], lookups: Mapping[str, Lookup],
                  comments: Mapping[str, str] | None = None) -> None:
    """Header cells with comments (`comments` replaces a column's own), and per column a width and the format empty
    cells take (text for ids and phones, so a phone number typed into a new row stays text)."""
    column_formats = _formats_for(fmt, meta)[0]
    for col, (name, column) in enumerate(zip([*columns, ACTION_COLUMN], [*meta, None], strict=True)):
        read_only = column is not None and column.read_only
        sheet.write_string(0, col, name, fmt.header_ro if read_only else fmt.header)
        comment = (_ACTION_COMMENT if name == ACTION_COLUMN else (comments or {}).get(name)
                   or _header_comment(column, len(lookups[name].choices) if name in lookups else 0))
        if comment:
            sheet.write_comment(0, col, comment, {"x_scale": 2, "y_scale": 1.2})
        sample = [len(str(v)) + 2 for v in frame[name].head(200).tolist()] if name in frame else []
        width = min(60, max(10, len(name) + 2, *sample))
        sheet.set_column(col, col, width, column_formats[col] if col < len(column_formats) else None)


def _finish_data_sheet(sheet: Any, rows: int, columns: Sequence[str], meta: Sequence[Column | None],
                       ranges: Mapping[str, str], options: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Freeze the header, filter, and add the dropdowns of editable reference columns (for at least 1,000 rows,
    so new rows get them too); `options` adds to or replaces a column's dropdown settings (its messages)."""
    last_row = max(rows, 1000)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(rows, 1), len(columns))
    for col, (name, column) in enumerate(zip(columns, meta, strict=True)):
        if name in ranges and not (column is not None and column.read_only):
            sheet.data_validation(1, col, last_row, col, {
                "validate": "list", "source": ranges[name], "ignore_blank": True,
                "error_type": "warning", "error_title": f"Unknown {name}"[:32],
                "error_message": f"Pick a value from the {LOOKUP_SHEET} sheet; unknown values fail on import.",
                **(options or {}).get(name, {})})
    sheet.data_validation(1, len(columns), last_row, len(columns), {
        "validate": "list", "source": list(ACTIONS), "ignore_blank": True})


def _column_cells(series: pd.Series, column: Column | None) -> list[Any]:
    """One column's cell values, converted once and vectorised where the dtype allows (None for empty)."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return naive.to_numpy(dtype="datetime64[us]").astype(object).tolist()  # datetimes, None for NaT
    if isinstance(series.dtype, (pd.StringDtype, pd.Float64Dtype, pd.Int64Dtype, pd.BooleanDtype)):
        values = series.to_numpy(dtype=object, na_value=None).tolist()
        if column is not None and column.type in (ColumnType.TEXT, ColumnType.NUMERIC):
            return values  # already what the cell holds: text as text, numbers as numbers
        return to_cells(column, values) if column is not None else [_cell(column, v) for v in values]
    return [_cell(column, _na_to_none(v)) for v in series.tolist()]


def _sheet_cells(frame: pd.DataFrame, names: Sequence[str], resource: Resource | None,
                 lookups: Mapping[str, Lookup]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Per column, the cells of the raw values (for the snapshot) and of what people see (labels for the `lookups`
    columns): converted once, shared where they are the same; equal to `_column_cells` of `display_frame`."""
    raw = {name: _column_cells(frame[name], _column_for(resource, name)) for name in names}
    shown = dict(raw)
    for name, lookup in lookups.items():
        if name not in raw:
            continue
        column = _column_for(resource, name)
        if isinstance(frame[name].dtype, pd.StringDtype) and column is not None and column.type is ColumnType.TEXT:
            shown[name] = [lookup.label_for(v) for v in raw[name]]  # ids are text cells as they are: so are labels
        else:
            shown[name] = _column_cells(display_frame(frame[[name]], {name: lookup})[name], column)
    return raw, shown


def _writer_for(sheet: Any, column: Column | None, values: list[Any]) -> Any:
    """The xlsxwriter method for a column: one typed method when every value has one type, else `write`."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {str}:
        return sheet.write_string
    if kinds <= {datetime}:
        return sheet.write_datetime
    if kinds <= {float, int}:
        return sheet.write_number
    return lambda row, col, value, fmt: _write_value(sheet, row, col, value, fmt, fmt)


def _cell_formats(cells: Sequence[list[Any]], formats: Sequence[Any], date_formats: Sequence[Any]) -> list[Any]:
    """Per column, the format its cells are written with: the date format when every value is a datetime (as
    `_writer_for` picks ``write_datetime``), else the column's format."""
    out = []
    for values, fmt, date_fmt in zip(cells, formats, date_formats, strict=True):
        kinds = {type(v) for v in values if v is not None}
        out.append(date_fmt if kinds and kinds <= {datetime} else fmt)
    return out


def _write_rows(sheet: Any, frame: pd.DataFrame, columns: Sequence[str], meta: Sequence[Column | None],
                formats: Sequence[Any], date_formats: Sequence[Any], *, first_row: int = 1,
                cells: Mapping[str, list[Any]] | None = None) -> int:
    """Write the rows of `frame` (or its `cells`, converted already); empty cells are skipped (the column format,
    set by `set_column`, covers them)."""
    cells = [cells[name] if cells is not None else _column_cells(frame[name], column)
             for name, column in zip(columns, meta, strict=True)]
    if ACTION_COLUMN in frame:
        columns, cells = [*columns, ACTION_COLUMN], [*cells, _column_cells(frame[ACTION_COLUMN], None)]
        formats, date_formats = [*formats, None], [*date_formats, None]
    if xmlrows.can_append(sheet):  # the same XML, built a column at a time (xmlrows explains)
        return xmlrows.append_rows(sheet, first_row, cells, _cell_formats(cells, formats, date_formats))
    writers = []
    for col, (values, fmt, date_fmt) in enumerate(zip(cells, formats, date_formats, strict=True)):
        write = _writer_for(sheet, meta[col] if col < len(meta) else None, values)
        writers.append((col, write, date_fmt if write == sheet.write_datetime else fmt, values))
    for offset in range(len(frame)):  # row by row: constant_memory mode flushes each finished row
        row = first_row + offset
        for col, write, cell_format, values in writers:
            value = values[offset]
            if value is not None:
                write(row, col, value, cell_format)
    return len(frame)


def _base_rows(base: pd.DataFrame, resource: Resource | None, converted: Mapping[str, list[Any]] | None = None
               ) -> tuple[str, list[str], list[str]]:
    """The snapshot's key column, and per row the key and the row's raw values as one JSON array."""
    names = [str(c) for c in base.columns]
    key = resource.key if resource is not None and resource.key in names else names[0]
    cells = []
    for name in names:
        values = converted[name] if converted is not None and name in converted else _column_cells(
            base[name], _column_for(resource, name))
        if isinstance(base[name].dtype, pd.DatetimeTZDtype) or base[name].dtype == object:
            values = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        cells.append(values)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder, not one per row
    return key, [str(k) for k in cells[names.index(key)]], [encode(list(values)) for values in zip(*cells, strict=True)]


def _base_sheet(book: xlsxwriter.Workbook, key: str, names: Sequence[str], table: str | None = None) -> Any:
    """The ``_base`` sheet (a family child's `table`: ``_base.<table>``) with its header row (the key column's
    name, then the column names as JSON); the caller adds the rows (all at once, or page by page) and hides it."""
    sheet = book.add_worksheet(base_sheet(table))
    sheet.write_string(0, 0, key)
    sheet.write_string(0, 1, json.dumps(list(names), ensure_ascii=False))
    return sheet


def _write_base(book: xlsxwriter.Workbook, base: pd.DataFrame, resource: Resource | None,
                converted: Mapping[str, list[Any]] | None = None, table: str | None = None) -> None:
    """The very hidden snapshot of what was exported: row 1 names the columns (JSON), then per row the key and the
    row's raw values as one JSON array. JSON keeps the API's values exactly (Excel never retypes them), and two
    cells a row instead of one per column halve the workbook's writing time. `table`: a family child's own."""
    key, keys, rows = _base_rows(base, resource, converted)
    sheet = _base_sheet(book, key, [str(c) for c in base.columns], table)
    if xmlrows.can_append(sheet):
        xmlrows.append_rows(sheet, 1, [keys, rows], [None, None])
    else:
        for offset, (row_key, row) in enumerate(zip(keys, rows, strict=True)):
            sheet.write_string(offset + 1, 0, row_key)
            sheet.write_string(offset + 1, 1, row)
    sheet.very_hidden()


def _write_meta(book: xlsxwriter.Workbook, values: Mapping[str, Any], table: str | None = None) -> None:
    """The very hidden ``_bulkio`` sheet (a family child's `table`: ``_bulkio.<table>``), one name and value a row:
    the reader learns the table and host from it."""
    sheet = book.add_worksheet(meta_sheet(table))
    for row, (key, value) in enumerate(values.items()):
        sheet.write_string(row, 0, key)
        shown = json.dumps(list(value)) if isinstance(value, tuple) else ("" if value is None else str(value))
        sheet.write_string(row, 1, shown)
    sheet.very_hidden()


def _open(path: Path, constant_memory: bool) -> xlsxwriter.Workbook:
    """A workbook that writes every text as text: no number, formula or link guessed from a string."""
    options = {"constant_memory": constant_memory, "strings_to_numbers": False, "strings_to_formulas": False,
               "strings_to_urls": False, "remove_timezone": True}
    return xlsxwriter.Workbook(str(path), options)


def _close(book: xlsxwriter.Workbook, path: Path) -> Path:
    """Finish the file; xlsxwriter writes it only now, so a full disk or a locked file is reported here, naming it."""
    try:
        book.close()
    except Exception as exc:  # xlsxwriter raises its own FileCreateError and OSError subclasses
        raise WorkbookError(f"cannot write the workbook: {exc}", file=str(path)) from exc
    return path


@dataclass(frozen=True)
class _Rendered:
    """An export's cells, converted once: raw (for the snapshot) and shown (labels, for the data sheet), and the
    first rows as people see them (for the column widths)."""

    export: Export
    raw: dict[str, list[Any]]
    shown: dict[str, list[Any]]
    sample: pd.DataFrame

    @classmethod
    def of(cls, export: Export) -> _Rendered:
        shown_lookups = {} if export.info.raw_ids else export.lookups
        raw, shown = _sheet_cells(export.frame, [str(c) for c in export.frame.columns], export.resource,
                                  shown_lookups)
        return cls(export, raw, shown, display_frame(export.frame.head(200), shown_lookups))  # as display() shows


def _write_data_sheet(sheet: Any, fmt: _Formats, frame: pd.DataFrame, resource: Resource | None,
                      lookups: Mapping[str, Lookup], ranges: Mapping[str, str], *, sample: pd.DataFrame,
                      cells: Mapping[str, list[Any]] | None = None, comments: Mapping[str, str] | None = None,
                      options: Mapping[str, Mapping[str, str]] | None = None) -> int:
    """One data sheet: header, rows (their `cells` when converted already), dropdowns; returns the row count."""
    columns = [str(c) for c in frame.columns if c != ACTION_COLUMN]
    meta = [_column_for(resource, name) for name in columns]
    _write_header(sheet, fmt, sample, columns, meta, lookups, comments)
    formats, date_formats = _formats_for(fmt, meta)
    rows = _write_rows(sheet, frame, columns, meta, formats, date_formats, cells=cells)
    _finish_data_sheet(sheet, rows, columns, meta, ranges, options)
    return rows


class _Book:
    """A workbook being written, its cell formats, and the sheets every export workbook has: a family workbook
    (`bulkio.sheets.family.write_family`) is written through it too, so the formatting has one copy."""

    def __init__(self, path: Path, constant_memory: bool) -> None:
        self.path, self.book = path, _open(path, constant_memory)
        self.fmt = _Formats(self.book)

    def add_sheet(self, name: str) -> Any:
        return self.book.add_worksheet(name)

    def lookups(self, lookups: Mapping[str, Lookup]) -> dict[str, str]:
        return _write_lookups(self.book, self.fmt, lookups)

    def export(self, sheet: Any, export: Export, ranges: Mapping[str, str], meta: Mapping[str, Any], *,
               table: str | None = None, comments: Mapping[str, str] | None = None,
               options: Mapping[str, Mapping[str, str]] | None = None) -> int:
        """An export's data sheet into `sheet`, then its very hidden ``_bulkio`` (`meta`) and ``_base`` (a family
        child's `table`: ``_bulkio.<table>``, ``_base.<table>``), its cells converted once; returns the rows."""
        rendered = _Rendered.of(export)
        rows = _write_data_sheet(sheet, self.fmt, export.frame, export.resource, export.lookups, ranges,
                                 sample=rendered.sample, cells=rendered.shown, comments=comments, options=options)
        _write_meta(self.book, meta, table)
        _write_base(self.book, export.frame, export.resource, rendered.raw, table)
        return rows

    def close(self) -> Path:
        return _close(self.book, self.path)


def write_workbook(source: Export | FamilyExport | pd.DataFrame, path: str | Path, *,
                   resource: Resource | None = None, constant_memory: bool | None = None,
                   metadata: Mapping[str, Any] | None = None,
                   snapshot: tuple[Sequence[str], Mapping[str, Sequence[Any]]] | None = None) -> Path:
    """Write an export (a table with its children, or any frame of a resource's columns) to a formatted XLSX
    workbook; returns the path.

    :param constant_memory: xlsxwriter's constant_memory mode (rows are flushed as written, strings inline): the
        default, as it is both lighter and about three times faster here; False keeps a shared-strings table.
    :param metadata, snapshot: for a frame, the hidden ``_bulkio`` values and ``_base`` rows to carry (column names,
        ``{key: values as the snapshot holds them}``), e.g. a results workbook keeps its sheet's snapshot.
    :raises WorkbookError: when the file cannot be written (names the file).
    """
    path = Path(path)
    memory = True if constant_memory is None else constant_memory
    if isinstance(source, FamilyExport):
        return write_family(source, path, lambda file: _Book(file, memory))
    if not isinstance(source, Export):
        return write_frames([SheetFrame(source, resource, metadata, snapshot)], path, constant_memory=memory)
    book = _Book(path, memory)
    sheet = book.add_sheet(source.resource.name[:31])
    book.export(sheet, source, book.lookups(source.lookups), source.info.to_dict())
    sheet.activate()
    return book.close()


@dataclass(frozen=True)
class SheetFrame:
    """One table of a workbook written from frames (`write_frames`): its cells, its table, and the hidden
    ``_bulkio`` values and ``_base`` rows it carries (see `write_workbook`'s `metadata` and `snapshot`)."""

    frame: pd.DataFrame
    resource: Resource | None
    """None: a frame of no known table (its sheet is called ``data``)."""
    metadata: Mapping[str, Any] | None = None
    snapshot: tuple[Sequence[str], Mapping[str, Sequence[Any]]] | None = None


def write_frames(sheets: Sequence[SheetFrame], path: str | Path, *, constant_memory: bool = True) -> Path:
    """Several tables' frames as one workbook, a data sheet each, in order (a family's results workbook): the
    first table's hidden sheets named as a one-table workbook's, the others' after their table (``_bulkio.<table>``,
    ``_base.<table>``), as a family export names them, so the workbook reads back as the family it came from.

    :param constant_memory: as `write_workbook`'s.
    :raises WorkbookError: when the file cannot be written (names the file).
    """
    book = _Book(Path(path), constant_memory)
    first = None
    for s in sheets:
        sheet = book.add_sheet(s.resource.name[:31] if s.resource is not None else "data")
        first = first or sheet
        _write_data_sheet(sheet, book.fmt, s.frame, s.resource, {}, {}, sample=s.frame)
    for position, s in enumerate(sheets):
        table = None if position == 0 or s.resource is None else s.resource.name
        if s.metadata is not None:
            _write_meta(book.book, s.metadata, table)
        if s.snapshot is not None:
            _write_snapshot(book.book, s.resource, s.snapshot, table)
    if first is not None:
        first.activate()
    return book.close()


def _write_snapshot(book: xlsxwriter.Workbook, resource: Resource | None,
                    snapshot: tuple[Sequence[str], Mapping[str, Sequence[Any]]], table: str | None = None) -> None:
    """A ``_base`` sheet (a family child's `table`: ``_base.<table>``) of rows kept from an earlier snapshot (a
    results workbook's), values as it holds them."""
    names, snapshot_rows = snapshot
    sheet = _base_sheet(book, resource.key if resource is not None else "id", names, table)
    for offset, (row_key, values) in enumerate(snapshot_rows.items(), start=1):
        sheet.write_string(offset, 0, str(row_key))
        sheet.write_string(offset, 1, json.dumps(list(values), ensure_ascii=False, default=str,
                                                 separators=(",", ":")))
    sheet.very_hidden()


class PagedWorkbook:
    """An export workbook written page by page as the pages arrive: the same workbook `write_workbook` makes of
    the whole export, but each page's rows are turned into sheet XML while the next pages are still being fetched.

    The rows go to two spool files (data sheet and snapshot); `close` writes the header, the lookups and the
    metadata, and moves the spooled rows into the workbook. The ``customFields.<key>`` columns are only known for
    sure at the end: a page with a key not seen before changes the layout, and the pages so far are rendered again
    (rare: keys usually all show in the first page).

    :param lookups: labels for the reference columns ({} keeps raw ids).
    """

    def __init__(self, path: str | Path, resource: Resource, select: Sequence[str],
                 lookups: Mapping[str, Lookup]) -> None:
        self.path = Path(path)
        self.resource = resource
        self.select = list(select)
        self.lookups = lookups
        self.book = _open(self.path, True)
        self.fmt = _Formats(self.book)
        self.sheet = self.book.add_worksheet(resource.name[:31])
        self.pages: list[pd.DataFrame] = []
        self.layout: list[str] = []
        self.rows = 0
        self._data: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._base: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._cells: list[tuple[int | None, int | None]] = []
        if not xmlrows.can_append(self.sheet):
            raise WorkbookError("this xlsxwriter cannot take rows a page at a time", file=str(self.path))

    def add(self, page: pd.DataFrame) -> None:
        """One flattened page (raw ids), in export order."""
        self.pages.append(page)
        layout = flat_columns(self.resource, self.select, {c for p in self.pages for c in p.columns})
        if layout != self.layout:  # a new customFields key: every page so far moves
            self.layout = layout
            for spool in (self._data, self._base):
                spool.seek(0)
                spool.truncate()
            self._cells, self.rows = [], 0
            for earlier in self.pages:
                self._write_page(earlier)
        else:
            self._write_page(page)

    def _write_page(self, page: pd.DataFrame) -> None:
        raw = page.reindex(columns=self.layout)
        raw_cells, shown_cells = _sheet_cells(raw, self.layout, self.resource, self.lookups)
        meta = [_column_for(self.resource, name) for name in self.layout]
        cells = [shown_cells[name] for name in self.layout]
        formats = _cell_formats(cells, *_formats_for(self.fmt, meta))
        self._cells.append(xmlrows.render(cells, self.rows + 1, xmlrows.styles(self.sheet, cells, formats),
                                            self._data.write))
        _, keys, rows = _base_rows(raw, self.resource, raw_cells)
        self._cells.append(xmlrows.render([keys, rows], self.rows + 1, ["", ""], self._base.write))
        self.rows += len(page)

    def close(self, info: ExportInfo) -> Path:
        """Write the header, lookups, metadata and the spooled rows; returns the path.

        :raises WorkbookError: when the file cannot be written.
        """
        try:
            if not self.pages:
                self.layout = flat_columns(self.resource, self.select, ())
            meta = [_column_for(self.resource, name) for name in self.layout]
            head, taken = [], 0
            for page in self.pages:  # widths come from the first 200 rows, as in write_workbook
                if taken >= 200:
                    break
                head.append(page.reindex(columns=self.layout))
                taken += len(page)
            sample = pd.concat(head, ignore_index=True) if head else pd.DataFrame(columns=self.layout)
            sample = display_frame(sample, self.lookups) if self.lookups else sample
            ranges = _write_lookups(self.book, self.fmt, self.lookups)
            _write_header(self.sheet, self.fmt, sample, self.layout, meta, self.lookups)
            data_cells = self._cells[0::2]
            if self.rows:
                xmlrows.append_xml(self.sheet, 1, self.rows, self._data, _span(data_cells))
            _finish_data_sheet(self.sheet, self.rows, self.layout, meta, ranges)
            _write_meta(self.book, info.to_dict())
            key = self.resource.key if self.resource.key in self.layout else self.layout[0]
            base = _base_sheet(self.book, key, self.layout)
            if self.rows:
                xmlrows.append_xml(base, 1, self.rows, self._base, _span(self._cells[1::2]))
            base.very_hidden()
            self.sheet.activate()
            return _close(self.book, self.path)
        finally:
            self._data.close()
            self._base.close()


    def discard(self) -> None:
        """Give up (the export failed): close and remove the spools and the sheet's row file; no workbook is made."""
        self._data.close()
        self._base.close()
        xmlrows.discard(self.sheet)


def _span(cells: Sequence[tuple[int | None, int | None]]) -> tuple[int | None, int | None]:
    """(first, last) column written over several pages' (first, last) pairs, None where no page wrote any."""
    firsts = [first for first, _ in cells if first is not None]
    lasts = [last for _, last in cells if last is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def template_columns(resource: Resource) -> list[str]:
    """The columns of a blank import workbook: every exported column except JSON objects (their keys are unknown
    until data exists; add ``customFields.<key>`` columns as needed)."""
    return [c.name for c in resource.columns if c.exported and not c.is_json]


def write_template(resource: Resource, path: str | Path, *, lookups: Mapping[str, Lookup] | None = None,
                   example: Mapping[str, Any] | None = None) -> Path:
    """A blank import workbook for `resource`: headers with a comment per column (type and rules), dropdowns when
    `lookups` are given (fetched from a server), and an ``Example`` sheet with one filled-in row.
    """
    path = Path(path)
    lookups = dict(lookups or {})
    columns = template_columns(resource)
    meta = [resource.column(name) for name in columns]
    book = _open(path, False)
    fmt = _Formats(book)
    sheet = book.add_worksheet(resource.name[:31])
    empty = pd.DataFrame(columns=columns)
    ranges = _write_lookups(book, fmt, lookups)
    _write_header(sheet, fmt, empty, columns, meta, lookups)
    formats, date_formats = _formats_for(fmt, meta)
    _finish_data_sheet(sheet, 0, columns, meta, ranges)
    example_sheet = book.add_worksheet(EXAMPLE_SHEET)
    _write_header(example_sheet, fmt, empty, columns, meta, lookups)
    if example:
        _write_rows(example_sheet, pd.DataFrame([dict(example)], columns=columns), columns, meta, formats,
                    date_formats)
    _write_meta(book, {"resource": resource.name, "kind": "template", "version": __version__})
    sheet.activate()
    return _close(book, path)


def _na_to_none(value: Any) -> Any:
    """pandas' missing values (None, NA, NaT, NaN) as None: the one blank `to_cell` knows."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    return value


def csv_rows(frame: pd.DataFrame, names: Sequence[str], resource: Resource | None, *, escape: bool = True
             ) -> Iterator[list[Any]]:
    """The CSV rows of `frame`: cells rendered by `values.to_cell` (column by column, vectorised where the dtype
    allows), datetimes in ISO 8601, formula-looking text escaped."""
    columns = []
    for name in names:
        values = _column_cells(frame[name], _column_for(resource, name))
        columns.append([
            "" if v is None else v.isoformat() if isinstance(v, datetime)
            else ("true" if v else "false") if isinstance(v, bool)  # JSON's spelling, which reads back as a bool
            else (escape_formula(v) if escape else v) if isinstance(v, str) else v
            for v in values
        ])
    return (list(row) for row in zip(*columns, strict=True))


def write_csv(source: Export | FamilyExport | pd.DataFrame | Iterable[pd.DataFrame], path: str | Path, *,
              resource: Resource | None = None, escape: bool = True, columns: Sequence[str] | None = None) -> Path:
    """Write CSV as Excel likes it: UTF-8 with a BOM, cells rendered by `values.to_cell`, formula-looking text
    escaped (OWASP) unless ``escape=False``. `source` may be an iterable of frames (streamed, with `columns`).
    Returns the path."""
    path = Path(path)
    if isinstance(source, FamilyExport):
        raise WorkbookError(f"a CSV file holds one table, and this export has {len(source.rows)} "
                            f"({', '.join(source.rows)}): write it to .xlsx", file=str(path))
    if isinstance(source, Export):
        frames: Iterable[pd.DataFrame] = [source.display()]
        resource = source.resource
        names = list(columns or [str(c) for c in source.frame.columns])
    elif isinstance(source, pd.DataFrame):
        frames = [source]
        names = list(columns or [str(c) for c in source.columns])
    else:
        if columns is None:
            raise ValueError("streaming CSV needs the columns up front")
        frames, names = source, list(columns)
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            for frame in frames:
                writer.writerows(csv_rows(frame.reindex(columns=names), names, resource, escape=escape))
    except OSError as exc:
        raise WorkbookError(f"cannot write: {exc.strerror}", file=str(path)) from exc
    return path

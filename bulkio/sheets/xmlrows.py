"""Many rows into an xlsxwriter worksheet at once: the row XML built a column at a time.

Why: xlsxwriter's ``write_*`` methods cost about 10 µs a cell (argument checks, a cell tuple per cell, then an
attribute list and several escaping passes per cell when the row is flushed). For 100,000 customers of 25 columns
that was 40 s, three quarters of an XLSX export. In ``constant_memory`` mode a worksheet streams each finished row to
a temporary file as XML (``<row r="2"><c r="A2" s="3" t="inlineStr"><is><t>Acme</t></is></c>...</row>``); that XML is
simple, so `append_rows` produces the same bytes xlsxwriter would (a test compares them), a column at a time with one
f-string per cell, for well under 1 µs a cell.

It relies on how xlsxwriter's constant_memory worksheets keep their state (``previous_row``, the row file, the
dimensions), in this one place only; `can_append` checks those are there, and callers fall back to the per-cell
methods when they are not (or when the workbook is not in constant_memory mode).

Two deliberate differences from xlsxwriter's per-cell path: a text that looks like rich-text XML (``<r>...</r>``)
is escaped like any other text (xlsxwriter would paste it into the file unescaped), and rows past Excel's last row
raise instead of being dropped silently.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any

import numpy as np
from xlsxwriter.utility import xl_col_to_name

from ..errors import WorkbookError

__all__ = ["append_rows", "append_xml", "can_append", "discard", "excel_serials", "render", "styles"]

_MAX_ROWS = 1_048_576
_STRING_MAX = 32767  # UTF-16 units Excel keeps in a cell; xlsxwriter truncates longer text, and so does this
# any of these makes a text take the careful path: control characters and "_x" (Excel's _xHHHH_ escapes), XML
# specials, non-characters, and (tested apart: four times faster than one regex) leading or trailing white space
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]")  # "_x" is looked for apart: a class alone is fast
_SPECIAL_JOINED = re.compile(r"[\x01-\x08\x0b-\x1f&<>\ufffe\uffff]")  # NUL is the joint, tested apart
_SPACE_AFTER_JOINT = re.compile(r"\x00\s")
_ESCAPE_ESCAPES = re.compile("(_x[0-9a-fA-F]{4}_)")
_XML_ESCAPED_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_EPOCH = np.datetime64("1899-12-31T00:00:00", "us")  # microseconds: all a datetime holds, and no overflow
_MARCH_1900 = np.datetime64("1900-03-01T00:00:00", "us")
_DAY_US = 86_400_000_000
_BLOCK = 2000  # rows turned into XML at a time


def can_append(sheet: Any) -> bool:
    """Whether `sheet` is a constant_memory xlsxwriter worksheet whose internals look as `append_rows` expects."""
    return bool(getattr(sheet, "constant_memory", False)) and all(
        hasattr(sheet, name) for name in ("previous_row", "table", "fh", "row_data_fh", "col_info",
                                          "_write_single_row", "_check_dimensions"))


def _plain(texts: list[str]) -> bool:
    """Whether none of `texts` needs the careful path: a few regex scans over them joined by NUL, instead of checks
    per text (white space next to a joint, in either direction, is leading or trailing white space)."""
    if not texts:
        return True
    if max(map(len, texts)) > _STRING_MAX // 2:
        return False
    blob = "\x00".join(texts)
    return blob.count("\x00") == len(texts) - 1 and not (
        _SPECIAL_JOINED.search(blob) or "_x" in blob or blob[:1].isspace() or blob[-1:].isspace()
        or _SPACE_AFTER_JOINT.search(blob) or _SPACE_AFTER_JOINT.search(blob[::-1]))


def _utf16_truncate(text: str) -> str:
    """`text` cut to the `_STRING_MAX` UTF-16 units Excel keeps (a character beyond the BMP counts twice), as
    xlsxwriter cuts it."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > _STRING_MAX:
            return text[:index]
    return text


def _careful_text(text: str) -> str:
    """The ``<is>`` element of one text, exactly as xlsxwriter escapes it (control characters as _xHHHH_, the
    escape of the escape, XML specials, preserved white space)."""
    if len(text) > _STRING_MAX // 2:
        text = _utf16_truncate(text)
    text = _ESCAPE_ESCAPES.sub(r"_x005F\1", text)
    text = _XML_ESCAPED_CONTROL.sub(lambda match: f"_x{ord(match.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    preserve = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<is><t{preserve}>{text}</t></is>"


def _serial(value: datetime) -> float:
    """xlsxwriter's conversion of one naive datetime to an Excel date number (1900 date system)."""
    delta = value - datetime(1899, 12, 31)
    serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / (60 * 60 * 24)
    if tuple(value.isocalendar()) == (1900, 1, 1):
        serial -= 1
    return serial + 1 if serial > 59 else serial


def excel_serials(values: Sequence[datetime | None]) -> list[float | None]:
    """Excel date numbers of datetimes, equal to xlsxwriter's conversion (with ``remove_timezone``) bit for bit.

    Vectorised for dates after 1900-02-28 (xlsxwriter's formula in numpy float64, same operations in the same
    order); earlier dates (Excel's 1900 leap-year quirk) take the one-by-one formula.
    """
    present = [v for v in values if v is not None]
    if not present:
        return [None] * len(values)
    if any(v.tzinfo is not None for v in present):  # xlsxwriter's remove_timezone drops the zone, as it is
        values = [None if v is None else v.replace(tzinfo=None) for v in values]
        present = [v for v in values if v is not None]
    stamps = np.array(present, dtype="datetime64[us]")
    if (stamps < _MARCH_1900).any():
        return [None if v is None else _serial(v) for v in values]
    days, rest = np.divmod((stamps - _EPOCH).astype(np.int64), _DAY_US)
    seconds, micros = np.divmod(rest, 1_000_000)
    serials = days + (seconds.astype(np.float64) + micros.astype(np.float64) / 1e6) / 86400.0 + 1.0
    out: list[float | None] = []
    numbers = iter(serials.tolist())
    for v in values:
        out.append(None if v is None else next(numbers))
    return out


def _column_xml(values: Sequence[Any], letter: str, rows: Sequence[str], style: str) -> list[str]:
    """One column's cells as XML ('' for an empty cell); `rows` are the Excel row numbers of `values`, as text
    (made once for all columns: formatting an int in every cell's f-string costs more than the rest of it)."""
    kinds = {type(v) for v in values} - {type(None)}
    special = _SPECIAL.search
    head = f'<c r="{letter}'
    if kinds <= {str}:
        text = f'"{style} t="inlineStr"><is><t>'
        if _plain([v for v in values if v is not None]):
            return ["" if v is None else f"{head}{r}{text}{v}</t></is></c>" for r, v in zip(rows, values, strict=True)]
        careful = f'"{style} t="inlineStr">'
        return ["" if v is None else
                f"{head}{r}{text}{v}</t></is></c>"
                if not (special(v) or "_x" in v or v[:1].isspace() or v[-1:].isspace()) and len(v) <= _STRING_MAX // 2
                else
                f"{head}{r}{careful}{_careful_text(v)}</c>"
                for r, v in zip(rows, values, strict=True)]
    if kinds <= {datetime}:
        values = excel_serials(values)
    elif not kinds <= {int, float}:
        return [_any_cell(v, f"{letter}{r}", style) for r, v in zip(rows, values, strict=True)]
    for v in values:
        if v is not None and not math.isfinite(v):
            raise TypeError("NAN/INF not supported in write_number() without 'nan_inf_to_errors' Workbook() option")
    number = f'"{style}><v>'
    return ["" if v is None else f"{head}{r}{number}{v:.16G}</v></c>" for r, v in zip(rows, values, strict=True)]


def _any_cell(value: Any, ref: str, style: str) -> str:
    """A cell of a column whose values have several types: as `workbook._write_value` would write it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise TypeError("NAN/INF not supported in write_number() without 'nan_inf_to_errors' Workbook() option")
        return f'<c r="{ref}"{style}><v>{value:.16G}</v></c>'
    if isinstance(value, datetime):
        return f'<c r="{ref}"{style}><v>{_serial(value.replace(tzinfo=None)):.16G}</v></c>'
    return f'<c r="{ref}"{style} t="inlineStr">{_careful_text(str(value))}</c>'


def styles(sheet: Any, columns: Sequence[Sequence[Any]], formats: Sequence[Any]) -> list[str]:
    """Per column, the ``s="N"`` attribute its cells carry ('' for none): the cell format, else the column's own.

    Formats get their style numbers on first use, in the order xlsxwriter would give them (row by row).
    """
    count = len(columns[0]) if columns else 0
    present = [next((i for i, v in enumerate(values) if v is not None), count) for values in columns]
    attributes = [""] * len(columns)
    for col in sorted(range(len(columns)), key=lambda c: (present[c], c)):
        fmt = formats[col]
        if fmt is None and col in sheet.col_info:
            fmt = sheet.col_info[col].column_format
        if fmt is not None and present[col] < count:
            attributes[col] = f' s="{fmt._get_xf_index()}"'
    return attributes


def render(columns: Sequence[Sequence[Any]], first_row: int, style: Sequence[str],
           write: Callable[[str], Any]) -> tuple[int | None, int | None]:
    """The ``<row>`` XML of ``columns[c][i]`` at (first_row + i, c), handed to `write` a block at a time; rows
    without a value are left out, as xlsxwriter does. Returns the first and last row that hold a cell (or None).

    :raises WorkbookError: more rows than a sheet holds.
    :raises TypeError: a NaN or infinite number (as xlsxwriter's ``write_number``).
    """
    count = len(columns[0]) if columns else 0
    if first_row + count > _MAX_ROWS:
        raise WorkbookError(f"{first_row + count - 1} rows do not fit in one sheet (Excel's limit is "
                            f"{_MAX_ROWS - 1:,} data rows)")
    letters = [xl_col_to_name(col) for col in range(len(columns))]
    first = last = None
    for start in range(0, count, _BLOCK):  # a block of rows at a time: memory holds one block's XML
        numbers = [str(n) for n in range(first_row + start + 1, first_row + min(count, start + _BLOCK) + 1)]
        cells = [_column_xml(values[start:start + _BLOCK], letters[col], numbers, style[col])
                 for col, values in enumerate(columns)]
        chunk = []
        for row_number, number, row in zip(range(first_row + start, first_row + count), numbers,
                                           zip(*cells, strict=True), strict=False):
            body = "".join(row)
            if body:
                first = row_number if first is None else first
                last = row_number
                chunk.append(f'<row r="{number}">{body}</row>')
        write("".join(chunk))
    return first, last


def append_xml(sheet: Any, first_row: int, rows: int, xml: IO[str] | str, cells: tuple[int | None, int | None]
               ) -> None:
    """Put rows rendered by `render` (`rows` of them from `first_row`, as text or a file) into a constant_memory
    `sheet`, after the rows it has. Nothing may be written to these rows afterwards.

    :param cells: the first and last row holding a cell, as `render` returned them.
    """
    sheet._write_single_row(first_row)  # flush the rows before ours (the header) to the row file
    if isinstance(xml, str):
        sheet.fh.write(xml)
    else:
        xml.seek(0)
        shutil.copyfileobj(xml, sheet.fh, 1 << 20)
    for row in cells:
        if row is not None:
            sheet._check_dimensions(row, 0, ignore_col=True)
    sheet.previous_row = first_row + rows - 1  # as if the last row were written and flushed: nothing is pending
    sheet.table.clear()


def append_rows(sheet: Any, first_row: int, columns: Sequence[Sequence[Any]], formats: Sequence[Any]) -> int:
    """Write ``columns[c][i]`` to cell (first_row + i, c) of a constant_memory `sheet`, empty cells (None) skipped;
    returns the number of rows. Every earlier row must be written already, and nothing may be written to these
    rows afterwards (constant_memory's rule too).

    :param formats: per column, the xlsxwriter `Format` of its cells, or None for the column's own format.
    :raises WorkbookError: more rows than a sheet holds.
    :raises TypeError: a NaN or infinite number (as xlsxwriter's ``write_number``).
    """
    count = len(columns[0]) if columns else 0
    if not count:
        return 0
    style = styles(sheet, columns, formats)
    sheet._write_single_row(first_row)
    cells = render(columns, first_row, style, sheet.fh.write)
    append_xml(sheet, first_row, count, "", cells)
    return count


def discard(sheet: Any) -> None:
    """Close and remove the temporary row file of a constant_memory `sheet` whose workbook will never be closed."""
    handle = getattr(sheet, "row_data_fh", None)
    if handle is not None and not handle.closed:
        handle.close()
        with contextlib.suppress(OSError):
            os.unlink(sheet.row_data_filename)

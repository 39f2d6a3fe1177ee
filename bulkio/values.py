"""THE one place that says how a value becomes a cell and a cell becomes a value again.

Export (`to_cell`), reading and validation (`from_cell`) and the diff (`normalize`, `normalize_series`) all use
these rules, so an untouched exported workbook always reads back equal:

- blank, NaN, None, NA, NaT, "" and white space are one *empty* (``None``); text is trimmed;
- ids, codes and phone numbers are text and never become numbers: ``0123`` stays ``0123``; a phone number that Excel
  turned into a number (``442079460960.0``) is an error, not a guess;
- numbers lose Excel's float noise (``0.30000000000000004`` -> ``0.3``, rounded to 15 significant digits);
- percent columns take ``20%`` or ``0.2`` (both 0.2); a bare ``20`` stays 20 and validation flags it;
- timestamps are UTC; Excel date serials (``45292.5``), dates, datetimes and ISO text are accepted; they compare
  to the millisecond, the precision of an Excel date;
- arrays are one cell: ``a, b, c`` when no item needs quoting, else JSON (``["a, b", "c"]``); an empty cell is ``[]``;
- JSON objects are compact JSON with sorted keys; a custom-field cell holds a scalar, or JSON when text alone would
  be ambiguous (``"123"`` the string is written ``"123"`` with quotes, 123 the number without) or when a number has
  more significant digits than Excel keeps (15).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from .resources import Column, ColumnType

__all__ = [
    "CELL_KINDS",
    "CellError",
    "CellErrorCode",
    "cell_kinds",
    "empty_mask",
    "from_cell",
    "from_custom_cell",
    "is_empty",
    "millis",
    "normalize",
    "normalize_series",
    "to_cell",
    "to_cells",
    "to_custom_cell",
]

_EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)
_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})
_ARRAY_UNSAFE = (",", '"', "[", "]")


class CellErrorCode(StrEnum):
    """Why a cell could not be read."""

    NOT_A_NUMBER = "not_a_number"
    NUMBER_FOR_TEXT = "number_for_text"
    NOT_A_DATE = "not_a_date"
    NOT_A_BOOLEAN = "not_a_boolean"
    BAD_JSON = "bad_json"
    BAD_ARRAY = "bad_array"
    NOT_FINITE = "not_finite"


class CellError(ValueError):
    """A cell that cannot be turned into a value; the caller adds the place (file, sheet, row, column)."""

    def __init__(self, code: CellErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_empty(value: Any) -> bool:
    """True for every spelling of "nothing here": None, NaN, NA, NaT, "" and white space."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return False


CELL_KINDS: tuple[type, ...] = (type(None), str, float, int, bool, datetime)
"""The kinds of cell a sheet is made of, by the code `cell_kinds` gives them (0: a blank cell, whatever its type);
a cell of any other type gets the code ``len(CELL_KINDS)``."""


def cell_kinds(cells: np.ndarray) -> np.ndarray:
    """The kind of every cell of an object array (any shape), as int8 codes of the same shape: 0 where `is_empty`,
    else the position of its type in `CELL_KINDS`, or ``len(CELL_KINDS)`` for another type.

    One pass, in C order: for a sheet's grid that is row by row, the order calamine made the cells in, so each
    value read is near the last one (column by column, the same test costs twice as much on 100,000 rows)."""
    flat = cells.ravel()
    return np.fromiter(map(_kind, flat), np.int8, flat.size).reshape(cells.shape)


def empty_mask(cells: np.ndarray) -> np.ndarray:
    """`is_empty` of every cell of an object array (any shape), as a bool array of the same shape."""
    return cell_kinds(cells) == 0


_OTHER = len(CELL_KINDS)
_TEXT, _FLOAT, _INT, _BOOL, _DATETIME = (CELL_KINDS.index(kind) for kind in (str, float, int, bool, datetime))


def _kind(value: Any) -> int:
    """The `cell_kinds` code of one cell, with `is_empty` decided first for the kinds a sheet is made of."""
    if value is None:
        return 0
    kind = value.__class__
    if kind is str:
        return 0 if not value or value.isspace() else _TEXT
    if kind is float:
        return 0 if value != value else _FLOAT  # NaN
    if kind is int:
        return _INT
    if kind is bool:
        return _BOOL
    if kind is datetime:
        return _DATETIME
    return 0 if is_empty(value) else _OTHER


# ISO 8601 as the API writes timestamps (and people type them): what pandas and `values` read alike
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def millis(values: list[Any], *, exported: bool = False) -> np.ndarray:
    """UTC milliseconds (rounded half up, as `normalize` does) of datetimes and ISO 8601 text, vectorised: the
    way timestamps are compared by the whole column. NaN for anything else (an Excel serial, an empty cell, odd
    text), which the caller compares the slow way (`normalize`).

    `exported`: the values are the snapshot's, the API's own timestamps: a column of text goes to pandas' ISO 8601
    parser whole before any value is matched against `_ISO` one at a time."""
    types = set(map(type, values))
    if exported and types <= {str, type(None)}:
        try:
            moments = pd.to_datetime(values, utc=True, format="ISO8601")
        except (ValueError, TypeError, OverflowError):
            pass  # some value is not ISO 8601: value by value below
        else:
            found = _as_millis(moments)
            found[np.asarray(moments.isna())] = np.nan  # an empty cell
            return found
    out = np.full(len(values), np.nan)
    if types <= {datetime, pd.Timestamp}:  # a column of dates as Excel holds them: no value by value test
        kinds = np.zeros(len(values), dtype=np.int8)
    elif types == {str} and all(map(_ISO.match, values)):
        kinds = np.ones(len(values), dtype=np.int8)
    else:
        kinds = np.fromiter((0 if isinstance(v, datetime) else 1 if isinstance(v, str) and _ISO.match(v) else 2
                             for v in values), dtype=np.int8, count=len(values))
    for kind in (0, 1):
        where = np.flatnonzero(kinds == kind)
        if not len(where):
            continue
        chosen = values if len(where) == len(values) else [values[p] for p in where]
        try:
            out[where] = _as_millis(pd.to_datetime(chosen, utc=True, format="ISO8601" if kind else None))
        except (ValueError, TypeError, OverflowError):
            continue
    return out


def _as_millis(moments: pd.DatetimeIndex) -> np.ndarray:
    return np.floor_divide(moments.as_unit("us").asi8 + 500, 1000).astype(float)


def _denoise(number: float) -> float | int:
    """Undo binary float noise from Excel: 15 significant digits, integers as int."""
    cleaned = float(f"{number:.15g}")
    return int(cleaned) if cleaned.is_integer() and abs(cleaned) < 2**53 else cleaned


def _exact(number: float) -> float | int:
    """Custom-field numbers keep every digit (they may come from anywhere); only integral floats become int."""
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, pd.Timestamp):
        return _utc(value.to_pydatetime())
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 < value < 2958466:
            raise CellError(CellErrorCode.NOT_A_DATE, f"{value!r} is not an Excel date")
        moment = _EXCEL_EPOCH + timedelta(days=float(value))
        return moment.replace(microsecond=round(moment.microsecond / 1000) * 1000 % 1_000_000)
    text = str(value).strip()
    try:
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        try:
            return _utc(pd.Timestamp(text).to_pydatetime())
        except (ValueError, TypeError):
            raise CellError(CellErrorCode.NOT_A_DATE, f"{text!r} is not a date; write it as 2026-01-31 or "
                                                      "2026-01-31 14:30") from None


def _array_to_text(items: list[Any]) -> str | None:
    if not items:
        return None
    texts = [str(i) for i in items]
    readable = all(t and t == t.strip() and not any(c in t for c in _ARRAY_UNSAFE) for t in texts) \
        and all(isinstance(i, str) for i in items)
    return ", ".join(texts) if readable else json.dumps(items, ensure_ascii=False)


def _text_to_array(text: str) -> list[Any]:
    text = text.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise CellError(CellErrorCode.BAD_ARRAY, f"{text[:60]!r} starts like a JSON list but is not one; write "
                                                     'a, b, c or ["a, b", "c"]') from None
        if not isinstance(items, list):
            raise CellError(CellErrorCode.BAD_ARRAY, "expected a list")
        return items
    return [part.strip() for part in text.split(",") if part.strip()]


def to_cell(column: Column, value: Any) -> Any:
    """An API value as a sheet cell: text, a number, a bool, a UTC datetime, or None. Idempotent."""
    if value is None or (not isinstance(value, (list, dict)) and is_empty(value)):
        return None
    kind = column.type
    if kind is ColumnType.TEXT_ARRAY:
        return _array_to_text(value) if isinstance(value, list) else str(value)
    if kind in (ColumnType.JSON, ColumnType.VECTOR):
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if kind is ColumnType.TIMESTAMP:
        return _parse_timestamp(value)
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER):
        return _denoise(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if kind is ColumnType.BOOLEAN:
        return bool(value) if isinstance(value, bool) else value
    return value if isinstance(value, str) else str(value)


def to_cells(column: Column, values: Iterable[Any]) -> list[Any]:
    """`to_cell` over a column's values, with the same results; text that is already a non-blank string (most of an
    export) is passed through without a call per value (for a text array, such a string is its cell already)."""
    if column.type in (ColumnType.TEXT, ColumnType.TEXT_ARRAY):
        return [v if v.__class__ is str and v and not v.isspace() else to_cell(column, v) for v in values]
    return [to_cell(column, v) for v in values]


def from_cell(column: Column, cell: Any) -> Any:
    """A sheet cell as the API value for `column`.

    :raises CellError: with a message that names the expected form.
    """
    kind = column.type
    if is_empty(cell):
        return [] if kind is ColumnType.TEXT_ARRAY else None
    if kind is ColumnType.TEXT:
        if isinstance(cell, bool):
            raise CellError(CellErrorCode.NUMBER_FOR_TEXT, f"expected text, got {cell}")
        if isinstance(cell, (int, float)):
            if not math.isfinite(cell):
                raise CellError(CellErrorCode.NOT_FINITE, f"{cell} is not a value")
            if column.format == "phone":
                raise CellError(CellErrorCode.NUMBER_FOR_TEXT, f"the phone number became the number {cell:.12g}: "
                                "Excel dropped its leading + or 0; format the column as Text and type it again")
            return str(_denoise(float(cell)))
        if isinstance(cell, (datetime, date)):
            return cell.isoformat()
        return str(cell).strip()
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER):
        if isinstance(cell, bool):
            raise CellError(CellErrorCode.NOT_A_NUMBER, f"expected a number, got {cell}")
        if isinstance(cell, (int, float)):
            number = float(cell)
        else:
            text = str(cell).strip().replace("\u00a0", "").replace(" ", "")
            percent = text.endswith("%")
            try:
                number = float(text[:-1] if percent else text)
            except ValueError:
                raise CellError(CellErrorCode.NOT_A_NUMBER, f"{str(cell)!r} is not a number") from None
            if percent:
                number /= 100
        if not math.isfinite(number):
            raise CellError(CellErrorCode.NOT_FINITE, f"{cell!r} is not a finite number")
        value = _denoise(number)
        if kind is ColumnType.INTEGER and not float(value).is_integer():
            raise CellError(CellErrorCode.NOT_A_NUMBER, f"{cell!r} is not a whole number")
        return value
    if kind is ColumnType.TIMESTAMP:
        return _parse_timestamp(cell).isoformat()
    if kind is ColumnType.BOOLEAN:
        if isinstance(cell, bool):
            return cell
        text = str(cell).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise CellError(CellErrorCode.NOT_A_BOOLEAN, f"{cell!r} is not yes/no (TRUE, FALSE, yes, no, 1, 0)")
    if kind is ColumnType.TEXT_ARRAY:
        if isinstance(cell, list):
            return cell
        return _text_to_array(str(cell))
    if isinstance(cell, (dict, list)):
        return cell
    try:
        return json.loads(str(cell))
    except json.JSONDecodeError as exc:
        raise CellError(CellErrorCode.BAD_JSON, f"not valid JSON ({exc.msg} at character {exc.pos})") from None


def to_custom_cell(value: Any) -> Any:
    """A custom-field value as a cell: numbers and bools as they are, text as text unless reading it back would
    change its type (``"123"``, ``"true"``, ``"[1]"``: then JSON), objects and lists as JSON, and a key set to
    JSON null as the text ``null`` (an empty cell means the key is absent)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # Excel keeps 15 significant digits (xlsxwriter writes 16): a longer number travels as text, exactly
        return _exact(value) if float(f"{value:.15g}") == value else json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if from_custom_cell(value) != value else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def from_custom_cell(cell: Any) -> Any:
    """The inverse of `to_custom_cell`: JSON-looking text is parsed, other text is text."""
    if is_empty(cell):
        return None
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        if not math.isfinite(cell):
            raise CellError(CellErrorCode.NOT_FINITE, f"{cell} is not a number JSON can hold")
        return _exact(cell)
    text = str(cell).strip()
    if text[:1] in '[{"' or text in ("true", "false", "null") or _looks_numeric(text):
        try:
            return json.loads(text, parse_float=_finite, parse_constant=_finite)
        except json.JSONDecodeError:
            return text
    return text


def _finite(text: str) -> float:
    """JSON numbers as floats, refusing what JSON cannot hold again (1e999 overflows to infinity; NaN)."""
    number = float(text)
    if not math.isfinite(number):
        raise CellError(CellErrorCode.NOT_FINITE, f"{text} is too large (or not a number) for a custom field")
    return number


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text.lower() not in ("nan", "inf", "-inf", "infinity", "-infinity")


def normalize(column: Column | None, value: Any) -> Any:
    """The canonical, comparable form used by the diff: equal here means "no change"."""
    if column is None:  # a custom field
        parsed = from_custom_cell(value) if not isinstance(value, (dict, list)) else value
        return None if parsed is None else json.dumps(parsed, sort_keys=True, ensure_ascii=False)
    kind = column.type
    if kind is ColumnType.TEXT_ARRAY:
        items = value if isinstance(value, list) else from_cell(column, value)
        return tuple(str(i) for i in items)
    if is_empty(value) if not isinstance(value, (dict, list)) else False:
        return None
    if kind in (ColumnType.JSON, ColumnType.VECTOR):
        parsed = value if isinstance(value, (dict, list)) else from_cell(column, value)
        if parsed in ({}, None):
            return None
        return json.dumps(parsed, sort_keys=True, ensure_ascii=False)
    if kind is ColumnType.TIMESTAMP:  # to the nearest millisecond: all an Excel date holds (readers round)
        moment = _parse_timestamp(value) + timedelta(microseconds=500)
        return moment.isoformat(timespec="milliseconds")
    return from_cell(column, value)


def normalize_series(column: Column | None, series: pd.Series) -> pd.Series:
    """`normalize` over a whole column (object dtype, None for empty); plain text takes a vectorised path."""
    if column is not None and column.type is ColumnType.TEXT and column.format != "phone" \
            and isinstance(series.dtype, pd.StringDtype):
        text = series.str.strip().astype(object)
        return text.where(text.notna() & (text != ""), None)
    return pd.Series([normalize(column, v) for v in series.tolist()], index=series.index, dtype=object)

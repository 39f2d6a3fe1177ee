"""THE one place that says how a value becomes a cell and a cell becomes a value again.

Export (`to_cell`), reading and validation (`from_cell`) and the diff (`normalize`, `normalize_series`) all use
these rules, so an untouched exported workbook always reads back equal:

- blank, NaN, None, NA, NaT, "" and white space are one *empty* (``None``); text is trimmed;
- ids, codes and phone numbers are text and never become numbers: ``0123`` stays ``0123``; a phone number that Excel
  turned into a number (``442079460960.0``) is an error, not a guess;
- numbers lose Excel's float noise (``0.30000000000000004`` -> ``0.3``, rounded to 15 significant digits);
- a spreadsheet keeps 15 significant digits: a number it cannot hold exactly (an 18-digit ERP id, a float with 17
  digits) is written as text and read back as the number it was; a number cell of 16 or more integer digits is an
  error (its last digits may have been lost), never a rounded value;
- a cell a spreadsheet program re-wrote without changing it (a long number at 15 digits, a timestamp a few
  microseconds off, ``TRUE``/``1`` for a boolean) is the exported value: `shown_alike` says so, and the reader puts
  the exported value back (`snapshot.restore_untouched`), so nothing downstream ever sees the difference;
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
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CellError, CellErrorCode
from ..resources import Column, ColumnType

__all__ = [
    "CELL_KINDS",
    "cell_kinds",
    "empty_mask",
    "from_cell",
    "from_custom_cell",
    "is_empty",
    "millis",
    "normalize",
    "normalize_series",
    "reformatted",
    "shown_alike",
    "to_cell",
    "to_cells",
    "to_custom_cell",
]

_EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)
SHEET_DIGITS = 15
"""The significant digits a spreadsheet keeps of a number (Excel and LibreOffice alike)."""
_EXACT_LIMIT = 10**SHEET_DIGITS
"""Integers below this have at most 15 digits: a spreadsheet's number cell holds them exactly."""
_TIMESTAMP_PRECISION = timedelta(milliseconds=1)
"""What a spreadsheet keeps of a time of day (a serial number of days to 15 digits): about a millisecond."""
_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})
_ARRAY_UNSAFE = (",", '"', "[", "]")


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


def _at_sheet_precision(number: float) -> float:
    """`number` as a spreadsheet's number cell holds it: rounded to `SHEET_DIGITS` significant digits."""
    return float(f"{number:.{SHEET_DIGITS}g}")


def _denoise(number: float) -> float | int:
    """Undo binary float noise from Excel: 15 significant digits, integers as int."""
    return _exact(_at_sheet_precision(number))


def _exact(number: float) -> float | int:
    """Custom-field numbers keep every digit (they may come from anywhere); only integral floats become int."""
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def fits_a_cell(number: int | float) -> bool:
    """Whether a spreadsheet's number cell holds `number` exactly: at most 15 significant digits, and (an integer)
    below 10**15, so that reading the cell back gives the very same number. Any other number is written as text."""
    if isinstance(number, int):
        return abs(number) < _EXACT_LIMIT
    return math.isfinite(number) and _at_sheet_precision(number) == number \
        and not (number.is_integer() and abs(number) >= _EXACT_LIMIT)


def _whole_number_check(cell: float) -> None:
    """A number cell of 16 or more integer digits may have lost its last ones (a spreadsheet keeps 15): refuse it
    rather than read a rounded number. Text cells hold every digit."""
    if cell.is_integer() and abs(cell) >= _EXACT_LIMIT:
        raise CellError(CellErrorCode.TOO_MANY_DIGITS,
                        f"{cell:.0f} has more digits than a spreadsheet keeps (15): its last digits may be lost; "
                        "format the cell as Text and type the number again (or type it after an apostrophe: '"
                        f"{cell:.0f})")


def _text_number(text: str) -> int | float:
    """A number typed as text, exactly: whole numbers as int (any size), others as float.

    :raises ValueError: when the text is not a number."""
    if _WHOLE.match(text):
        return int(text)
    return float(text)


_WHOLE = re.compile(r"^[+-]?\d+$")


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
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        # a number a cell cannot hold exactly travels as text (read back as the very number)
        if isinstance(value, int):
            return value if fits_a_cell(value) else str(value)
        return _exact(value) if fits_a_cell(value) else json.dumps(value)
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
            if isinstance(cell, float):
                _whole_number_check(cell)
            return str(_denoise(float(cell)) if isinstance(cell, float) else cell)
        if isinstance(cell, (datetime, date)):
            return cell.isoformat()
        return str(cell).strip()
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER):
        if isinstance(cell, bool):
            raise CellError(CellErrorCode.NOT_A_NUMBER, f"expected a number, got {cell}")
        if isinstance(cell, int):  # an API value (a sheet's number cells are floats)
            value: int | float = cell
        elif isinstance(cell, float):  # a number cell: Excel's float noise goes, a rounded long number is refused
            if not math.isfinite(cell):
                raise CellError(CellErrorCode.NOT_FINITE, f"{cell!r} is not a finite number")
            _whole_number_check(cell)
            value = _denoise(cell)
        else:
            text = str(cell).strip().replace("\u00a0", "").replace(" ", "")
            percent = text.endswith("%")
            try:
                value = _text_number(text[:-1] if percent else text)  # text holds every digit: kept exactly
            except ValueError:
                raise CellError(CellErrorCode.NOT_A_NUMBER, f"{str(cell)!r} is not a number") from None
            if not math.isfinite(value):
                raise CellError(CellErrorCode.NOT_FINITE, f"{cell!r} is not a finite number")
            if percent:
                value = _denoise(value / 100)
            elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
                value = int(value)
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
    if isinstance(value, (int, float)):
        # a spreadsheet keeps 15 significant digits: a longer number (an 18-digit ERP id) travels as text, exactly
        if not fits_a_cell(value):
            return json.dumps(value)
        return value if isinstance(value, int) else _exact(value)
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
        _whole_number_check(cell)
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


_SPREADSHEET_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
"""A number as a spreadsheet program writes it in a CSV (no leading zeros, no spaces, no thousands separators)."""
_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_SHOWN_FRACTION = re.compile(r":\d{2}(?:[.,](\d+))?(?:\s*[AaPp][Mm])?\s*$")


def shown_alike(column: Column | None, cell: Any, exported: Any) -> bool:
    """Whether `cell` is what a spreadsheet program makes of the exported cell `exported` without anyone changing
    it (`column` None: a custom field). Such a cell is the exported value: it is never a change.

    - a number, to the 15 significant digits a spreadsheet keeps (an 18-digit id read back as a float, or written
      as ``947871269024436000`` in a CSV; ``123456789.123457`` for ``123456789.12345679``);
    - a boolean as ``TRUE``/``FALSE`` text (a spreadsheet program's CSV): only where the exported value is a
      boolean, so a custom field that held the text or the number stays so (LibreOffice's ``=TRUE()`` cell is read
      as the boolean by `read`);
    - a timestamp or date, to the millisecond a spreadsheet keeps (LibreOffice writes a time of day to 15 digits of
      a day: .845499 s reads back as .8455), or to the second (or minute) a CSV cell shows.

    Text is never alike other text: ``1E5`` that became ``1.00E+05`` is a change the plan flags (`reformatted`).
    """
    if cell is None or exported is None or is_empty(cell) or is_empty(exported):
        return False
    kind = None if column is None else column.type
    if kind in (ColumnType.TIMESTAMP, ColumnType.DATE):
        return _same_moment(cell, exported)
    if kind not in (None, ColumnType.NUMERIC, ColumnType.INTEGER, ColumnType.BOOLEAN):
        return False
    try:
        value = from_custom_cell(exported) if column is None else from_cell(column, exported)
    except CellError:
        return False
    if isinstance(value, bool):  # a CSV's TRUE (a 0 typed over FALSE is an edit: it becomes the number 0)
        return isinstance(cell, str) and cell.strip().lower() == ("true" if value else "false")
    if not isinstance(value, (int, float)) or isinstance(cell, bool):
        return False
    if isinstance(cell, str):
        text = cell.strip()
        if not _SPREADSHEET_NUMBER.match(text) or _significant_digits(text) > SHEET_DIGITS:
            return False  # a text cell with more digits than a spreadsheet shows holds them all: exact
        shown: float = float(text)
    elif isinstance(cell, (int, float)):
        shown = float(cell)
    else:
        return False
    return math.isfinite(shown) and _within_last_digit(shown, value)


def _within_last_digit(shown: float, value: int | float) -> bool:
    """Equal to 15 significant digits, give or take one in the 15th (LibreOffice writes 947871269024436488 as
    9.47871269024437E+17)."""
    if value == 0 or shown == 0:
        return shown == value
    unit = 10.0 ** (math.floor(math.log10(abs(value))) - (SHEET_DIGITS - 1))
    return abs(shown - value) <= unit * 1.000001


_DATE_LIKE = re.compile(r"^\d{1,4}([-/.])\d{1,2}(\1\d{1,4})?$")
"""Text a spreadsheet program takes for a date when it opens a CSV (``1-2``, ``2024-01-02``, ``1/2/24``)."""


def reformatted(column: Column | None, cell: Any, exported: Any) -> bool:
    """Whether `cell` looks like what a spreadsheet program made of the exported value when it opened a CSV and
    saved it again, rather than an edit: text it took for a number (``00123`` -> ``123``, ``1E5`` ->
    ``1.00E+05``, ``+442079460960`` -> ``442079460960``) or a date (``1-2`` -> ``01/02/2026``), or a number it
    saved with fewer digits than it held (``1.234e-07`` -> ``1.23e-07``). Such a cell is neither the value nor a
    change anyone meant: the plan leaves it out and says so, unless told to write it.
    """
    if cell is None or exported is None or is_empty(cell) or is_empty(exported) or cell == exported:
        return False
    kind = None if column is None else column.type
    if kind not in (None, ColumnType.TEXT, ColumnType.NUMERIC, ColumnType.INTEGER) or isinstance(cell, bool):
        return False
    try:
        value = from_custom_cell(exported) if column is None else from_cell(column, exported)
    except CellError:
        return False
    shown = _shown_number(cell)
    if isinstance(value, str):
        text = value.strip()
        if _looks_numeric(text.replace(" ", "")) or text.lstrip("+").replace(" ", "").isdigit():
            return shown is not None and shown == float(text.replace(" ", ""))
        if _DATE_LIKE.match(text):
            return isinstance(cell, (datetime, date)) or (isinstance(cell, str) and _parses_as_date(cell))
        return False
    if shown is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(cell, str):
        return False
    digits = _significant_digits(cell.strip())
    return digits < SHEET_DIGITS and float(f"{value:.{digits}g}") == shown


def _shown_number(cell: Any) -> float | None:
    """A number cell, or text as a spreadsheet writes a number (``1.00E+05``, ``123``), as a float."""
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    if isinstance(cell, str) and _SPREADSHEET_NUMBER.match(cell.strip()):
        return float(cell.strip())
    return None


def _parses_as_date(text: str) -> bool:
    try:
        pd.Timestamp(text.strip())
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _significant_digits(number: str) -> int:
    """How many significant digits a number written as text shows (``947871269024436000``: 15)."""
    mantissa = number.lstrip("-").split("e")[0].split("E")[0]
    return len(mantissa.replace(".", "").strip("0")) or 1


def _same_moment(cell: Any, exported: Any) -> bool:
    """Two timestamps a spreadsheet cannot tell apart: less than a millisecond apart, or (text a CSV cell shows)
    less than the last unit it shows (a second, a minute)."""
    try:
        shown, then = _parse_timestamp(cell), _parse_timestamp(exported)
    except CellError:
        return False
    precision = _TIMESTAMP_PRECISION
    if isinstance(cell, str):
        found = _SHOWN_FRACTION.search(_ZONE.sub("", cell.strip()))
        if found is None:  # no seconds shown: to the minute, or (a date alone) to the day
            precision = timedelta(minutes=1) if ":" in cell else timedelta(days=1)
        elif found.group(1) is None:
            precision = timedelta(seconds=1)
        else:
            precision = max(precision, timedelta(seconds=10 ** -len(found.group(1))))
    return abs(shown - then) < precision


def normalize(column: Column | None, value: Any) -> Any:
    """The canonical, comparable form used by the diff: equal here means "no change"."""
    if column is None:  # a custom field
        if isinstance(value, float) and math.isfinite(value):  # an API number, or a cell validation has seen
            parsed: Any = _exact(value)
        else:
            parsed = from_custom_cell(value) if not isinstance(value, (dict, list)) else value
            if isinstance(parsed, float) and math.isfinite(parsed):  # "1000000000000000.0" text is the number 10**15
                parsed = _exact(parsed)
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
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER):
        return _canonical_number(from_cell(column, to_cell(column, value)))
    return from_cell(column, value)


def _canonical_number(value: Any) -> Any:
    """Numbers compared as a spreadsheet holds them: whole numbers exactly (any size), others to 15 digits."""
    if isinstance(value, float):
        value = _denoise(value)
    return value


def normalize_series(column: Column | None, series: pd.Series) -> pd.Series:
    """`normalize` over a whole column (object dtype, None for empty); plain text takes a vectorised path."""
    if column is not None and column.type is ColumnType.TEXT and column.format != "phone" \
            and isinstance(series.dtype, pd.StringDtype):
        text = series.str.strip().astype(object)
        return text.where(text.notna() & (text != ""), None)
    return pd.Series([normalize(column, v) for v in series.tolist()], index=series.index, dtype=object)

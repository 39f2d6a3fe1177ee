"""Validation: a pandera schema built from the `Resource`, run lazily, reported cell by cell as Excel shows it.

The schema is derived, never hand-written per table: every column gets the checks its definition implies (the cell
can be read as its type, required, range, length, e-mail shape, reference label known), the key and the natural key
must be unique, unknown and missing columns are reported, and `_action` must be blank or ``delete``. pandera finds
the failing cells; this module turns them into `Issue`s that name the file, sheet, Excel row, column letter and
column, with a message a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from .flatten import split_custom
from .lookups import LabelError, Lookup
from .read import Sheet
from .resources import Column, ColumnType, Resource
from .results import RESULT_COLUMNS
from .snapshot import snapshot_columns
from .values import CellError, from_cell, from_custom_cell, is_empty, normalize
from .workbook import ACTION_COLUMN

if TYPE_CHECKING:
    import pandera.pandas as pa

    from .client import Client

__all__ = ["Issue", "IssueCode", "ValidationReport", "build_schema", "validate"]

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_EMAIL_LIST = re.compile(r"^(?:\s*[^@\s,;\[]+@[^@\s,;]+\.[^@\s,;]+\s*(?:,|$))+\s*$")
_ACTIONS = ("delete",)
_NEVER_BLANK = frozenset({type(None), bool, int, float, datetime, pd.Timestamp})  # NaN is found by pandas
# ISO 8601 as the API writes timestamps (and people type them): what pandas and `values` read alike
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$")


class IssueCode(StrEnum):
    """What is wrong (machine-readable; the message says it for people)."""

    BAD_VALUE = "bad_value"
    REQUIRED = "required"
    OUT_OF_RANGE = "out_of_range"
    TOO_LONG = "too_long"
    BAD_EMAIL = "bad_email"
    UNKNOWN_LABEL = "unknown_label"
    AMBIGUOUS_LABEL = "ambiguous_label"
    DUPLICATE_KEY = "duplicate_key"
    UNKNOWN_KEY = "unknown_key"
    EXISTS_ON_SERVER = "exists_on_server"
    DUPLICATE_NAME = "duplicate_name"
    UNKNOWN_COLUMN = "unknown_column"
    MISSING_COLUMN = "missing_column"
    BAD_ACTION = "bad_action"
    READ_ONLY_EDITED = "read_only_edited"


@dataclass(frozen=True)
class Issue:
    """One problem, at one place. `row` is the Excel row number (None for a whole-column problem)."""

    file: str
    sheet: str | None
    row: int | None
    letter: str | None
    column: str | None
    value: Any
    code: IssueCode
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        place = ", ".join(p for p in (self.file, self.sheet and f"sheet {self.sheet!r}",
                                      self.row is not None and f"row {self.row}",
                                      self.letter and f"column {self.letter} ({self.column})") if p)
        return f"{place}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """Every issue found (lazy validation reports them all at once)."""

    issues: tuple[Issue, ...]

    def __len__(self) -> int:
        return len(self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def has_errors(self) -> bool:
        return bool(self.errors)

    def to_frame(self) -> pd.DataFrame:
        """One row per issue: file, sheet, row, letter, column, value, code, message, severity."""
        columns = ["file", "sheet", "row", "letter", "column", "value", "code", "message", "severity"]
        return pd.DataFrame([asdict(i) for i in self.issues], columns=columns)

    def _repr_html_(self) -> str:
        if not self.issues:
            return "<p><b>No issues.</b></p>"
        frame = self.to_frame().drop(columns=["file"])
        return (f"<p><b>{len(self.errors)} error(s), {len(self.warnings)} warning(s)</b></p>"
                + frame.to_html(index=False, na_rep=""))


# ------------------------------------------------------------------------------------------------ checks
@dataclass(frozen=True)
class _Rule:
    """A cell check: `ok` decides for one value, `explain` says why a failing value fails.

    pandera runs a rule over a whole column (`_column_check`): `all_ok`, when given, answers for the whole column at
    once in the common case (every cell of the expected Python type), else `ok` runs once per distinct value (pandas
    hashes the column in C), so a 100,000-row sheet costs a hash per cell instead of a full parse.
    """

    name: str
    code: IssueCode
    ok: Callable[[Any], bool]
    explain: Callable[[Any], str]
    all_ok: Callable[[np.ndarray], bool] | None = None
    code_of: Callable[[Any], IssueCode] | None = None


def _plain_lists(values: np.ndarray) -> bool:
    """Every cell is text that is not JSON (``a, b, c``): such a list cell always reads."""
    return set(map(type, values)) <= {str} and not any(v.lstrip().startswith("[") for v in values)


def _all_of(*types: type) -> Callable[[np.ndarray], bool]:
    """A whole-column pass test: every value is exactly one of `types` (bool is not an int here)."""
    wanted = frozenset(types)
    return lambda values: set(map(type, values)) <= wanted


def _passes(rule: _Rule, values: np.ndarray) -> np.ndarray:
    """`rule.ok` of every value, computed once per distinct value (pandas hashes the column in C)."""
    if rule.all_ok is not None and rule.all_ok(values):
        return np.ones(len(values), dtype=bool)
    numbers = [kind for kind in set(map(type, values)) if issubclass(kind, (bool, int, float, np.number, np.bool_))]
    try:
        if len(numbers) > 1:  # True == 1 == 1.0 to a hash table, but not to a rule: one by one
            raise TypeError
        codes, distinct = pd.factorize(values)
    except TypeError:  # mixed numbers, or an unhashable cell (a list from a DataFrame)
        return np.fromiter((bool(rule.ok(v)) for v in values), dtype=bool, count=len(values))
    verdicts = np.fromiter((bool(rule.ok(v)) for v in distinct), dtype=bool, count=len(distinct))
    return np.where(codes < 0, True, verdicts[codes])


def _column_check(rule: _Rule, check_name: str) -> pa.Check:
    """The pandera check of `rule` over a whole column. Empty cells pass (`required` is pandera's nullable check);
    they are left out here on the column's array rather than by pandera's ``ignore_na``, which filters the indexed
    Series and costs more than the rule itself on a 100,000-row column."""
    import pandera.pandas as pa  # imported when a sheet is validated: `import bulkio` stays quick

    def run(series: pd.Series) -> pd.Series:
        values = series.to_numpy(dtype=object)
        empty = pd.isna(values)
        if not empty.any():
            return pd.Series(_passes(rule, values), index=series.index, dtype=bool)
        passed = np.ones(len(values), dtype=bool)
        passed[~empty] = _passes(rule, values[~empty])
        return pd.Series(passed, index=series.index, dtype=bool)

    return pa.Check(run, element_wise=False, ignore_na=False, name=check_name, error=check_name)


def _parses(column: Column) -> _Rule:
    def ok(value: Any) -> bool:
        try:
            from_cell(column, value)
        except CellError:
            return False
        return True

    def explain(value: Any) -> str:
        try:
            from_cell(column, value)
        except CellError as exc:
            return exc.message
        return "cannot be read"

    quick = {ColumnType.TEXT: _all_of(str), ColumnType.TIMESTAMP: _all_of(datetime, pd.Timestamp),
             ColumnType.TEXT_ARRAY: _plain_lists}.get(column.type)
    return _Rule("parses", IssueCode.BAD_VALUE, ok, explain, quick)


def _in_range(column: Column) -> _Rule:
    low = column.minimum if column.minimum is not None else float("-inf")
    high = column.maximum if column.maximum is not None else float("inf")

    def ok(value: Any) -> bool:
        try:
            number = from_cell(column, value)
        except CellError:
            return True  # reported by the parse rule
        return number is None or low <= number <= high

    def explain(value: Any) -> str:
        number = from_cell(column, value)
        text = f"{column.name} must be between {low:g} and {high:g}"
        if column.format == "percent" and isinstance(number, (int, float)) and 1 < number <= 100:
            text += f": it is a fraction, so {number:g} % is {number / 100:g} (or write {number:g}%)"
        return text

    return _Rule("in_range", IssueCode.OUT_OF_RANGE, ok, explain)


def _short(column: Column) -> _Rule:
    limit = column.max_length or 0

    def all_ok(values: np.ndarray) -> bool:
        return set(map(type, values)) <= {str} and max(map(len, values), default=0) <= limit

    return _Rule("max_length", IssueCode.TOO_LONG, lambda v: len(str(v).strip()) <= limit,
                 lambda v: f"at most {limit} characters (this has {len(str(v).strip())})", all_ok)


def _emails(column: Column) -> _Rule:
    def addresses(value: Any) -> list[str]:
        parsed = from_cell(column, value)
        return [str(a) for a in parsed] if isinstance(parsed, list) else [str(parsed)]

    def ok(value: Any) -> bool:
        try:
            return all(_EMAIL.match(a) for a in addresses(value))
        except CellError:
            return True

    def explain(value: Any) -> str:
        bad = [a for a in addresses(value) if not _EMAIL.match(a)]
        return f"not an e-mail address: {', '.join(bad)}"

    def all_ok(values: np.ndarray) -> bool:  # plain "a@x.org, b@y.com" cells, one regular expression each
        return set(map(type, values)) <= {str} and all(map(_EMAIL_LIST.match, values))

    return _Rule("email", IssueCode.BAD_EMAIL, ok, explain, all_ok)


def _label(lookup: Lookup) -> _Rule:
    def ok(value: Any) -> bool:
        try:
            lookup.id_for(str(value).strip())
        except LabelError:
            return False
        return True

    def explain(value: Any) -> str:
        try:
            lookup.id_for(str(value).strip())
        except LabelError as exc:
            return str(exc)
        return ""

    def code_of(value: Any) -> IssueCode:
        try:
            lookup.id_for(str(value).strip())
        except LabelError as exc:
            return IssueCode(exc.code)
        return IssueCode.UNKNOWN_LABEL

    return _Rule("label", IssueCode.UNKNOWN_LABEL, ok, explain, code_of=code_of)


EXCEL_CELL_LIMIT = 32_767
"""Characters an Excel cell holds: longer text could never be exported to a workbook again."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, line feed and carriage return are text


def control_character(value: Any) -> str | None:
    """Why text cannot be written as it is, or None: a control character (NUL, ESC, BEL...: invisible in Excel,
    refused by Postgres (NUL) or corrupting whatever reads the data next). The plan asks this of the values a row
    would write, not of every cell: text the server already holds this way is left alone."""
    texts = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
    for text in texts:
        if isinstance(text, (list, dict)):
            found = control_character(text)
            if found:
                return found
        elif isinstance(text, str):
            found = _CONTROL.search(text)
            if found:
                return (f"holds the control character U+{ord(found.group()):04X} at position {found.start() + 1}: "
                        "remove it (it is invisible in Excel)")
    return None


def _plain_text(value: Any) -> str | None:
    """Why a text cell cannot be kept as it is, or None: longer than an Excel cell holds (no workbook could carry
    it again)."""
    if isinstance(value, str) and len(value) > EXCEL_CELL_LIMIT:
        return f"{len(value):,} characters: more than an Excel cell holds ({EXCEL_CELL_LIMIT:,})"
    return None


def _text(kind: str = "text") -> _Rule:
    def all_ok(values: np.ndarray) -> bool:
        if set(map(type, values)) <= {str}:  # the usual column: lengths measured in C
            return max(map(len, values), default=0) <= EXCEL_CELL_LIMIT
        return max((len(v) for v in values if isinstance(v, str)), default=0) <= EXCEL_CELL_LIMIT

    def code_of(value: Any) -> IssueCode:
        return IssueCode.TOO_LONG if isinstance(value, str) and len(value) > EXCEL_CELL_LIMIT else IssueCode.BAD_VALUE

    return _Rule(kind, IssueCode.BAD_VALUE, lambda v: _plain_text(v) is None, lambda v: str(_plain_text(v)), all_ok,
                 code_of=code_of)


def _custom(name: str) -> _Rule:
    """A custom-field cell: any value, but it must read (valid JSON where it looks like JSON, finite numbers)."""
    def problem(value: Any) -> str | None:
        try:
            from_custom_cell(value)
        except CellError as exc:
            return exc.message
        return _plain_text(value)

    return _Rule("custom", IssueCode.BAD_VALUE, lambda v: problem(v) is None, lambda v: str(problem(v)))


def _rules(column: Column, lookups: Mapping[str, Lookup]) -> list[_Rule]:
    rules = [_parses(column)]
    if column.type in (ColumnType.TEXT, ColumnType.TEXT_ARRAY, ColumnType.JSON):
        rules.append(_text())
    if column.minimum is not None or column.maximum is not None:
        rules.append(_in_range(column))
    if column.max_length:
        rules.append(_short(column))
    if column.format in ("email", "email[]"):
        rules.append(_emails(column))
    if column.name in lookups:
        rules = [_label(lookups[column.name])]  # a label column holds words, not the raw type
    return rules


def build_schema(resource: Resource, columns: list[str], lookups: Mapping[str, Lookup] | None = None,
                 *, creates: bool = True) -> tuple[pa.DataFrameSchema, dict[str, _Rule]]:
    """The pandera schema for a sheet of `resource` with these `columns` (custom-field columns are accepted).

    :param creates: the sheet has rows without a key, so required columns must be present.
    :returns: the schema and its rules by check name (to explain failures).
    """
    import pandera.pandas as pa

    lookups = lookups or {}
    rules: dict[str, _Rule] = {}
    spec: dict[str, pa.Column] = {}
    for column in resource.columns:
        if not column.exported:
            continue
        checks = []
        for rule in _rules(column, lookups):
            check_name = f"{column.name}:{rule.name}"
            rules[check_name] = rule
            checks.append(_column_check(rule, check_name))
        unique = column.name == resource.key or column.name in resource.natural_key
        # read-only required columns (companyId) are filled by bulkio or the server, never typed
        spec[column.name] = pa.Column(None, checks=checks, nullable=column.read_only or not column.required,
                                      unique=unique,
                                      required=creates and column.required and not column.read_only)
    for name in columns:
        if split_custom(name, resource) is not None:
            rule = _custom(name)
            rules[f"{name}:custom"] = rule
            spec[name] = pa.Column(None, nullable=True, required=False,
                                   checks=[_column_check(rule, f"{name}:custom")])
    for name in RESULT_COLUMNS:  # a results workbook imports again: its outcome columns are not data
        if name in columns:
            spec[name] = pa.Column(None, nullable=True, required=False)
    rules[f"{ACTION_COLUMN}:action"] = _Rule(
        "action", IssueCode.BAD_ACTION, lambda v: str(v).strip().lower() in _ACTIONS,
        lambda v: f"_action must be blank or 'delete', not {v!r}")
    spec[ACTION_COLUMN] = pa.Column(None, nullable=True, required=False, checks=[
        _column_check(rules[f"{ACTION_COLUMN}:action"], f"{ACTION_COLUMN}:action")])
    return pa.DataFrameSchema(spec, strict=True, coerce=False, name=resource.name), rules


# ------------------------------------------------------------------------------------------------ running it
def _letter(frame: pd.DataFrame, column: str | None) -> str | None:
    """The Excel column letter of `column` in the sheet (None for a column the sheet lacks)."""
    if column is None or column not in frame.columns:
        return None
    return xl_col_to_name(list(frame.columns).index(column))


def validate(sheet: Sheet, lookups: Mapping[str, Lookup] | None = None, *, client: Client | None = None,
             lazy: bool = True) -> ValidationReport:
    """Check every cell of `sheet`; return every issue at once (or raise at the first error if not `lazy`).

    :param client: also check against the server: every ``id`` must exist there, and a new row's natural key
        (``name``) must not (in as few requests as the URL budget allows).
    :raises ValidationFailed: only when ``lazy=False`` and there is an error.
    """
    from .errors import ValidationFailed

    resource = sheet.resource
    frame = _blanks_to_none(sheet.frame)
    key = resource.key
    creates = key not in frame.columns or bool(frame[key].isna().any())
    schema, rules = build_schema(resource, list(frame.columns), lookups, creates=creates)
    issues: list[Issue] = []

    def add(index: Any, column: str | None, value: Any, code: IssueCode, message: str,
            severity: str = "error") -> None:
        row = sheet.rows[int(index)] if index is not None and not pd.isna(index) else None
        issues.append(Issue(sheet.file, sheet.sheet, row, _letter(frame, column), column, value, code, message,
                            severity))

    from pandera.errors import SchemaErrors

    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        for case in exc.failure_cases.itertuples(index=False):
            check, column, value, index = str(case.check), case.column, case.failure_case, case.index
            if check == "column_in_schema":
                add(None, str(value), None, IssueCode.UNKNOWN_COLUMN,
                    f"unknown column {value!r}: {resource.name} has no such column (rename or delete it)")
            elif check == "column_in_dataframe":
                add(None, None, None, IssueCode.MISSING_COLUMN,
                    f"the sheet has no {value!r} column, which new rows need")
            elif check == "not_nullable":
                add(index, column, None, IssueCode.REQUIRED, f"{column} is required")
            elif check == "field_uniqueness":
                code = IssueCode.DUPLICATE_KEY if column == key else IssueCode.DUPLICATE_NAME
                others = [sheet.rows[i] for i in frame.index[frame[column] == value] if i != index]
                add(index, column, value, code, f"{value!r} appears more than once in {column} (also row "
                                                f"{', '.join(map(str, others))})")
            elif check in rules:
                rule = rules[check]
                add(index, column, value, rule.code_of(value) if rule.code_of else rule.code, rule.explain(value))
            else:  # pragma: no cover - a pandera check bulkio does not know
                add(index, column, value, IssueCode.BAD_VALUE, check)
    issues.extend(_read_only_edits(sheet, frame))
    if client is not None:
        issues.extend(_server_checks(client, sheet, frame))
    issues.sort(key=lambda i: (i.severity != "error", i.row or 0, i.letter or ""))
    report = ValidationReport(tuple(issues))
    if not lazy and report.has_errors():
        raise ValidationFailed(report.issues, str(report.errors[0]))
    return report


def _blanks_to_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Every empty form (None, NaN, NA, NaT, "", white space) as None; object dtype is kept (pandas would otherwise
    infer Arrow-backed strings, slow to visit cell by cell). Vectorised: a column with nothing to clear is reused."""
    if not len(frame):
        return frame
    columns = {}
    for position, name in enumerate(frame.columns):
        values = frame.iloc[:, position].to_numpy(dtype=object)
        blank = _blank_mask(values)
        if blank.any():
            values = values.copy()
            values[blank] = None
        columns[name] = values
    return pd.DataFrame(columns, index=frame.index, columns=frame.columns, dtype=object)


def _blank_mask(values: np.ndarray) -> np.ndarray:
    """`is_empty` of every cell: pandas finds the missing values in C, `str.isspace` runs only on text."""
    kinds = set(map(type, values))
    if kinds <= _NEVER_BLANK:
        return np.asarray(pd.isna(values), dtype=bool)
    if not kinds <= {str, type(None)}:  # text mixed with other kinds: one by one
        return np.fromiter(map(is_empty, values), bool, len(values))
    mask = np.equal(values, None) if type(None) in kinds else np.zeros(len(values), dtype=bool)
    text = values[~mask] if mask.any() else values
    mask[~mask] = np.fromiter(map(str.isspace, text), bool, len(text)) | (text == "")
    return mask


def _same(column: Column, mine: Sequence[Any], theirs: Sequence[Any]) -> np.ndarray:
    """`normalize(column, a) == normalize(column, b)` for each pair (an unreadable cell is a change), with the
    common cases decided without a parse: the very same value, and timestamps (an Excel date against the
    exported ISO text) compared as whole UTC milliseconds, as `normalize` does."""
    left = np.fromiter(mine, dtype=object, count=len(mine))
    right = np.fromiter(theirs, dtype=object, count=len(theirs))
    if all(pd.api.types.infer_dtype(x, skipna=False) == "string" for x in (left, right)):
        out = np.equal(left, right).astype(bool)  # text against text: compared in C
        slow = np.flatnonzero(~out).tolist()
    else:
        out = np.zeros(len(mine), dtype=bool)
        slow = []
        for position, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            if a is b or (a.__class__ is b.__class__ and a == b):
                out[position] = True
            else:
                slow.append(position)
    if slow and column.type is ColumnType.TIMESTAMP:
        left, right = _millis([mine[p] for p in slow]), _millis([theirs[p] for p in slow])
        decided = ~(np.isnan(left) | np.isnan(right))
        out[np.asarray(slow)[decided]] = left[decided] == right[decided]
        slow = [p for p, done in zip(slow, decided, strict=True) if not done]
    for position in slow:
        try:
            out[position] = normalize(column, mine[position]) == normalize(column, theirs[position])
        except CellError:
            out[position] = False
    return out


def _millis(values: list[Any]) -> np.ndarray:
    """UTC milliseconds (rounded half up, as `normalize` does) of datetimes and ISO 8601 text, vectorised; NaN for
    anything else (an Excel serial, an empty cell, odd text), which the caller compares the slow way."""
    out = np.full(len(values), np.nan)
    types = set(map(type, values))
    if types <= {datetime, pd.Timestamp}:  # a column of dates as Excel holds them: no value by value test
        kinds = np.zeros(len(values), dtype=np.int8)
    elif types == {str} and all(map(_ISO.match, values)):  # the snapshot's ISO text, tested in C
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
            moments = pd.to_datetime(chosen, utc=True, format="ISO8601" if kind else None)
        except (ValueError, TypeError, OverflowError):
            continue
        micros = moments.as_unit("us").asi8
        out[where] = np.floor_divide(micros + 500, 1000).astype(float)
    return out


def _read_only_edits(sheet: Sheet, frame: pd.DataFrame) -> list[Issue]:
    """Warnings for edited read-only cells (they are ignored on import); needs the export snapshot, whose columns
    are compared whole with the sheet's (`snapshot_columns`)."""
    resource = sheet.resource
    if sheet.base is None or resource.key not in frame.columns:
        return []
    out = []
    watched = [c for c in frame.columns if c in resource and resource.column(c).read_only and c != resource.key
               and resource.column(c).reference is None]
    exported, present = snapshot_columns(sheet.base, [str(k) for k in frame[resource.key].tolist()], watched)
    positions = np.flatnonzero(present)
    for name in watched:
        column = resource.column(name)
        cells = frame[name].to_numpy(dtype=object)
        same = _same(column, cells[positions], exported[name][positions])
        for position in np.flatnonzero(~same):
            row = int(positions[position])
            out.append(Issue(sheet.file, sheet.sheet, sheet.rows[row], _letter(frame, name), name, cells[row],
                             IssueCode.READ_ONLY_EDITED, f"{name} is read-only: this edit will be ignored", "warning"))
    return out


def _present(client: Client, resource: Resource, column: str, values: list[str]) -> set[str]:
    """Which of `values` the server holds in `column` (``column=in.(...)``, split under the URL budget)."""
    return {str(row[column]) for row in client.rows_in(resource, column, values, [column])}


def _server_checks(client: Client, sheet: Sheet, frame: pd.DataFrame) -> list[Issue]:
    """Ids the server does not have (a typo, a row deleted meanwhile, another company's row) and new rows whose
    natural key already exists there (it would be refused as a duplicate)."""
    resource = sheet.resource
    out: list[Issue] = []
    key = resource.key
    keys = pd.Series([None if is_empty(v) else str(v).strip() for v in frame[key]], dtype=object) \
        if key in frame else None
    if keys is not None:
        wanted = sorted({k for k in keys if k})
        known = _present(client, resource, key, wanted) if wanted else set()
        for position, value in enumerate(keys):
            if value and value not in known:
                out.append(Issue(sheet.file, sheet.sheet, sheet.rows[position], _letter(frame, key), key, value,
                                 IssueCode.UNKNOWN_KEY, f"no {resource.name} has id {value!r} on the server (deleted "
                                 "since the export, mistyped, or another company's): clear it to create a new row"))
    for natural in resource.natural_key:
        if natural not in frame:
            continue
        new_rows = [p for p in range(len(frame)) if keys is None or not keys.iloc[p]]
        names = {p: str(frame[natural].iloc[p]).strip() for p in new_rows if not is_empty(frame[natural].iloc[p])}
        taken = _present(client, resource, natural, sorted(set(names.values()))) if names else set()
        for position, value in names.items():
            if value in taken:
                out.append(Issue(sheet.file, sheet.sheet, sheet.rows[position], _letter(frame, natural), natural,
                                 value, IssueCode.EXISTS_ON_SERVER, f"a {resource.name} with {natural} {value!r} "
                                 "already exists on the server: give this row its id to update it, or rename it"))
    return out

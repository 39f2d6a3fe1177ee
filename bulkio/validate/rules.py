"""Validation: a pandera schema built from the `Resource`, run lazily, reported cell by cell as Excel shows it.

The schema is derived, never hand-written per table: every column gets the checks its definition implies (the cell
can be read as its type, required, range, length, e-mail shape, reference label known), the key and the natural key
must be unique, unknown and missing columns are reported, and `_action` must be blank or ``delete``. pandera finds
the failing cells; this module turns them into `Issue`s that name the file, sheet, Excel row, column letter and
column, with a message a person can act on.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..api.lookups import Lookup
from ..errors import CellError, LabelError, ValidationFailed
from ..resources import Column, ColumnType, Resource
from ..sheets.flatten import split_custom
from ..sheets.headers import closest
from ..sheets.layout import ACTION_COLUMN, ACTIONS, RESULT_COLUMNS
from ..sheets.read import Sheet
from ..sheets.snapshot import Snapshot, snapshot_columns
from ..sheets.values import empty_mask, from_cell, from_custom_cell, millis, normalize
from .report import Issue, IssueCode, ValidationReport, column_letter, sorted_report
from .server import server_checks

if TYPE_CHECKING:
    import pandera.pandas as pa

    from ..api.client import Client

__all__ = ["EXCEL_CELL_LIMIT", "build_schema", "control_character", "validate"]

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_EMAIL_LIST = re.compile(r"^(?:\s*[^@\s,;\[]+@[^@\s,;]+\.[^@\s,;]+\s*(?:,|$))+\s*$")


def _pandera() -> ModuleType:
    """pandera, imported when a sheet is first validated rather than with bulkio: it adds about 0.2 s (40%) to
    `import bulkio`, which a notebook or ``bulkio --help`` would pay without validating anything."""
    import pandera.pandas as pa

    return pa


# ------------------------------------------------------------------------------------------------ checks
@dataclass(frozen=True)
class _Rule:
    """A cell check: `ok` decides for one value, `explain` says why a failing value fails.

    pandera runs a rule over a whole column (`_column_check`): `all_ok`, when given, answers for the whole column at
    once in the common case (every cell of the expected Python type; it is given the column's non-empty values and
    the set of their types), else `ok` runs once per distinct value (a set of the column, made in C), so a
    100,000-row sheet costs a hash per cell instead of a full parse.
    """

    name: str
    code: IssueCode
    ok: Callable[[Any], bool]
    explain: Callable[[Any], str]
    all_ok: Callable[[np.ndarray, set[type]], bool] | None = None
    code_of: Callable[[Any], IssueCode] | None = None


def _plain_lists(values: np.ndarray, kinds: set[type]) -> bool:
    """Every cell is text that is not JSON (``a, b, c``): such a list cell always reads."""
    return kinds <= {str} and not any(map(operator.methodcaller("startswith", "["), map(str.lstrip, values)))


def _all_of(*types: type) -> Callable[[np.ndarray, set[type]], bool]:
    """A whole-column pass test: every value is exactly one of `types` (bool is not an int here)."""
    wanted = frozenset(types)
    return lambda values, kinds: kinds <= wanted


# the kinds of cell among which an empty one can only be None (else NaN, NA or NaT may hide: pandas finds them)
_NONE_IS_EMPTY = frozenset({type(None), str, int, bool, datetime, pd.Timestamp})
# a column's types of non-blank cells (None: not all of a kind the reader names) and its blank cells, as read
_Known = tuple[frozenset[type] | None, np.ndarray]


class _Cells:
    """A column's non-empty cells, with what its rules need worked out once for all of them: the set of their
    types and their distinct values. Each pass over 100,000 scattered objects costs more than a rule itself."""

    def __init__(self, values: np.ndarray, kinds: set[type]) -> None:
        self.values = values
        self.kinds = kinds

    @cached_property
    def distinct(self) -> set[Any] | None:
        """The distinct values (a set: hashed in C), or None when values must be taken one by one: mixed kinds of
        number (True == 1 == 1.0 to a hash table, but not to a rule) or an unhashable cell (a list)."""
        if len([k for k in self.kinds if issubclass(k, (bool, int, float, np.number, np.bool_))]) > 1:
            return None
        try:
            return set(self.values)
        except TypeError:
            return None

    def passing(self, rule: _Rule) -> np.ndarray:
        """`rule.ok` of every value, computed once per distinct value."""
        if rule.all_ok is not None and rule.all_ok(self.values, self.kinds):
            return np.ones(len(self.values), dtype=bool)
        if self.distinct is None:
            return np.fromiter((bool(rule.ok(v)) for v in self.values), dtype=bool, count=len(self.values))
        verdicts = {value: bool(rule.ok(value)) for value in self.distinct}
        if all(verdicts.values()):
            return np.ones(len(self.values), dtype=bool)
        return np.fromiter(map(verdicts.__getitem__, self.values), dtype=bool, count=len(self.values))


def _passes(rules: Sequence[_Rule], values: np.ndarray, known: _Known | None = None) -> np.ndarray:
    """Which cells pass every one of `rules`; empty cells pass (`required` is pandera's nullable check).

    :param known: the column's types and blank cells as the reader learned them (`read.CellKinds`), if it did."""
    if known is not None and known[0] is not None and len(known[1]) == len(values):
        kinds, empty, exact = set(known[0]), known[1], True
    else:
        kinds, empty = _kinds_and_blanks(values)
        exact = kinds <= _NONE_IS_EMPTY  # else NaN's float (or NA's, NaT's type) was counted: count again below
    present = values if empty is None or not empty.any() else values[~empty]
    cells = _Cells(present, kinds if present is values or exact else set(map(type, present)))
    passed = np.ones(len(present), dtype=bool)
    for rule in rules:
        passed &= cells.passing(rule)
    if present is values:
        return passed
    out = np.ones(len(values), dtype=bool)
    out[~empty] = passed
    return out


def _kinds_and_blanks(values: np.ndarray) -> tuple[set[type], np.ndarray | None]:
    """The types of a column's non-empty cells and which cells are empty (None when none can be)."""
    kinds = set(map(type, values))
    if kinds <= _NONE_IS_EMPTY:
        empty = np.equal(values, None) if type(None) in kinds else None
        kinds.discard(type(None))
    else:
        empty = np.asarray(pd.isna(values), dtype=bool)
    return kinds, empty


def _column_check(rules: Sequence[_Rule], check_name: str, known: _Known | None = None) -> pa.Check:
    """One pandera check running all of a column's `rules` over the whole column, so that what they share (the
    empties, the types, the distinct values: `_Cells`) is worked out once. Empty cells pass (`required` is
    pandera's nullable check); they are left out on the column's array rather than by pandera's ``ignore_na``,
    which filters the indexed Series and costs more than the rules on a 100,000-row column. A failing cell is
    explained afterwards by each rule it fails (`validate`)."""
    pa = _pandera()

    def run(series: pd.Series) -> pd.Series:
        return pd.Series(_passes(rules, series.to_numpy(dtype=object), known), index=series.index, dtype=bool)

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

    def all_ok(values: np.ndarray, kinds: set[type]) -> bool:
        return kinds <= {str} and max(map(len, values), default=0) <= limit

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

    def all_ok(values: np.ndarray, kinds: set[type]) -> bool:  # plain "a@x.org, b@y.com" cells, one regex each
        return kinds <= {str} and all(map(_EMAIL_LIST.match, values))

    return _Rule("email", IssueCode.BAD_EMAIL, ok, explain, all_ok)


def _known_label(lookup: Lookup) -> _Rule:
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


def _too_long_for_excel(value: Any) -> str | None:
    """Why a text cell cannot be kept as it is, or None: longer than an Excel cell holds (no workbook could carry
    it again)."""
    if isinstance(value, str) and len(value) > EXCEL_CELL_LIMIT:
        return f"{len(value):,} characters: more than an Excel cell holds ({EXCEL_CELL_LIMIT:,})"
    return None


def _text(kind: str = "text") -> _Rule:
    def all_ok(values: np.ndarray, kinds: set[type]) -> bool:
        if kinds <= {str}:  # the usual column: lengths measured in C
            return max(map(len, values), default=0) <= EXCEL_CELL_LIMIT
        return max((len(v) for v in values if isinstance(v, str)), default=0) <= EXCEL_CELL_LIMIT

    def code_of(value: Any) -> IssueCode:
        return IssueCode.TOO_LONG if isinstance(value, str) and len(value) > EXCEL_CELL_LIMIT else IssueCode.BAD_VALUE

    return _Rule(kind, IssueCode.BAD_VALUE, lambda v: _too_long_for_excel(v) is None,
                 lambda v: str(_too_long_for_excel(v)), all_ok, code_of=code_of)


def _custom(name: str) -> _Rule:
    """A custom-field cell: any value, but it must read (valid JSON where it looks like JSON, finite numbers)."""
    def problem(value: Any) -> str | None:
        try:
            from_custom_cell(value)
        except CellError as exc:
            return exc.message
        return _too_long_for_excel(value)

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
        rules = [_known_label(lookups[column.name])]  # a label column holds words, not the raw type
    return rules


def build_schema(resource: Resource, columns: list[str], lookups: Mapping[str, Lookup] | None = None,
                 *, creates: bool = True) -> tuple[pa.DataFrameSchema, dict[str, list[_Rule]]]:
    """The pandera schema for a sheet of `resource` with these `columns` (custom-field columns are accepted).

    :param creates: the sheet has rows without a key, so required columns must be present.
    :returns: the schema and, by check name, the rules each check runs (one check per column: to explain a
        failing cell, each of its rules is asked again).
    """
    return _schema(resource, columns, lookups, creates, {})


def _schema(resource: Resource, columns: list[str], lookups: Mapping[str, Lookup] | None, creates: bool,
            known: Mapping[str, _Known]) -> tuple[pa.DataFrameSchema, dict[str, list[_Rule]]]:
    """`build_schema`, whose checks of a column in `known` use what the reader learned of its cells (for the one
    frame those were learned from: `validate`)."""
    pa = _pandera()

    lookups = lookups or {}
    rules: dict[str, list[_Rule]] = {}
    spec: dict[str, pa.Column] = {}
    for column in resource.columns:
        if not column.exported:
            continue
        check_name = f"{column.name}:cells"
        rules[check_name] = _rules(column, lookups)
        checks = [_column_check(rules[check_name], check_name, known.get(column.name))]
        unique = column.name == resource.key or column.name in resource.natural_key
        # read-only required columns (companyId) are filled by bulkio or the server, never typed
        spec[column.name] = pa.Column(None, checks=checks, nullable=column.read_only or not column.required,
                                      unique=unique,
                                      required=creates and column.required and not column.read_only)
    for name in columns:
        if split_custom(name, resource) is not None:
            rules[f"{name}:custom"] = [_custom(name)]
            spec[name] = pa.Column(None, nullable=True, required=False,
                                   checks=[_column_check(rules[f"{name}:custom"], f"{name}:custom", known.get(name))])
    for name in RESULT_COLUMNS:  # a results workbook imports again: its outcome columns are not data
        if name in columns:
            spec[name] = pa.Column(None, nullable=True, required=False)
    rules[f"{ACTION_COLUMN}:action"] = [_Rule(
        "action", IssueCode.BAD_ACTION, lambda v: str(v).strip().lower() in ACTIONS,
        lambda v: f"_action must be blank or 'delete', not {v!r}")]
    spec[ACTION_COLUMN] = pa.Column(None, nullable=True, required=False, checks=[
        _column_check(rules[f"{ACTION_COLUMN}:action"], f"{ACTION_COLUMN}:action")])
    return pa.DataFrameSchema(spec, strict=True, coerce=False, name=resource.name), rules


# ------------------------------------------------------------------------------------------------ running it
def validate(sheet: Sheet, lookups: Mapping[str, Lookup] | None = None, *, client: Client | None = None,
             lazy: bool = True) -> ValidationReport:
    """Check every cell of `sheet`; return every issue at once (or raise at the first error if not `lazy`).

    :param client: also check against the server: every ``id`` must exist there, and a new row's natural key
        (``name``) must not (in as few requests as the URL budget allows).
    :raises ValidationFailed: only when ``lazy=False`` and there is an error.
    """
    resource = sheet.resource
    known = _known(sheet)
    frame = _blanks_to_none(sheet.frame, known)
    key = resource.key
    creates = key not in frame.columns or bool(frame[key].isna().any())
    schema, rules = _schema(resource, list(frame.columns), lookups, creates, known)
    issues: list[Issue] = []

    def add(index: Any, column: str | None, value: Any, code: IssueCode, message: str,
            severity: str = "error") -> None:
        row = sheet.rows[int(index)] if index is not None and not pd.isna(index) else None
        issues.append(Issue(sheet.file, sheet.sheet, row, column_letter(frame, column), column, value, code,
                            message, severity))

    try:
        schema.validate(frame, lazy=True)
    except _pandera().errors.SchemaErrors as exc:
        for case in exc.failure_cases.itertuples(index=False):
            check, column, value, index = str(case.check), case.column, case.failure_case, case.index
            if check == "column_in_schema":
                near = closest(str(value), resource)
                hint = (f"; the closest: {', '.join(near)} (--map '{value}={near[0]}' reads it as {near[0]})"
                        if near else "")
                add(None, str(value), None, IssueCode.UNKNOWN_COLUMN,
                    f"unknown column {value!r}: {resource.name} has no such column{hint} (rename or delete it)")
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
                failed = [rule for rule in rules[check] if not rule.ok(value)]  # each rule the cell fails says why
                for rule in failed:
                    add(index, column, value, rule.code_of(value) if rule.code_of else rule.code, rule.explain(value))
                if not failed:  # pragma: no cover - the column's check and its rules disagree: still an error
                    add(index, column, value, IssueCode.BAD_VALUE, f"{column}: this value is not accepted")
            else:  # pragma: no cover - a pandera check bulkio does not know
                add(index, column, value, IssueCode.BAD_VALUE, check)
    issues.extend(_read_only_edits(sheet, frame, known))
    if client is not None:
        issues.extend(server_checks(client, sheet, frame))
    report = sorted_report(issues)
    if not lazy and report.has_errors():
        raise ValidationFailed(report, str(report.errors[0]))
    return report


def _known(sheet: Sheet) -> dict[str, _Known]:
    """What the reader learned of each column still as it read it (`read.CellKinds`), by name."""
    if sheet.kinds is None or not sheet.frame.columns.is_unique:
        return {}
    known = {}
    for position, name in enumerate(sheet.frame.columns):
        found = sheet.kinds.column(position, sheet.frame.iloc[:, position].to_numpy(dtype=object))
        if found is not None:
            known[str(name)] = found
    return known


def _blanks_to_none(frame: pd.DataFrame, known: Mapping[str, _Known]) -> pd.DataFrame:
    """Every empty form (None, NaN, NA, NaT, "", white space) as None; object dtype is kept (pandas would otherwise
    infer Arrow-backed strings, slow to visit cell by cell). Vectorised: a column with nothing to clear is reused,
    and one in `known` is not looked at (the reader cleared it)."""
    if not len(frame) or all(str(name) in known for name in frame.columns):
        return frame
    columns = {}
    for position, name in enumerate(frame.columns):
        values = frame.iloc[:, position].to_numpy(dtype=object)
        if str(name) in known:
            columns[name] = values
            continue
        blank = empty_mask(values)
        if blank.any():
            values = values.copy()
            values[blank] = None
        columns[name] = values
    return pd.DataFrame(columns, index=frame.index, columns=frame.columns, dtype=object)


def _same_values(column: Column, mine: Sequence[Any], theirs: Sequence[Any],
          their_millis: np.ndarray | None = None) -> np.ndarray:
    """`normalize(column, a) == normalize(column, b)` for each pair (an unreadable cell is a change), with the
    common cases decided without a parse: the very same value, and timestamps (an Excel date against the
    exported ISO text) compared as whole UTC milliseconds, as `normalize` does."""
    left = mine if isinstance(mine, np.ndarray) else np.fromiter(mine, dtype=object, count=len(mine))
    right = theirs if isinstance(theirs, np.ndarray) else np.fromiter(theirs, dtype=object, count=len(theirs))
    if column.type is ColumnType.TIMESTAMP:  # an Excel date against ISO text: only empties are the same object
        out = np.equal(left, None) & np.equal(right, None)
        slow = np.flatnonzero(~out).tolist()
    elif all(pd.api.types.infer_dtype(x, skipna=False) == "string" for x in (left, right)):
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
        every = len(slow) == len(mine)
        left = millis(list(mine) if every else [mine[p] for p in slow])
        if their_millis is not None:  # parsed when the snapshot was read
            right = their_millis if every else their_millis[np.asarray(slow, dtype=np.intp)]
        else:
            right = millis(list(theirs) if every else [theirs[p] for p in slow], exported=True)
        decided = ~(np.isnan(left) | np.isnan(right))
        out[np.asarray(slow)[decided]] = left[decided] == right[decided]
        slow = np.asarray(slow)[~decided].tolist()
    for position in slow:
        try:
            out[position] = normalize(column, mine[position]) == normalize(column, theirs[position])
        except CellError:
            out[position] = False
    return out


def _read_only_edits(sheet: Sheet, frame: pd.DataFrame, known: Mapping[str, _Known]) -> list[Issue]:
    """Warnings for edited read-only cells (they are ignored on import); needs the export snapshot, whose columns
    are compared whole with the sheet's (`snapshot_columns`)."""
    resource = sheet.resource
    if sheet.base is None or resource.key not in frame.columns:
        return []
    out = []
    watched = [c for c in frame.columns if c in resource and resource.column(c).read_only and c != resource.key
               and resource.column(c).reference is None]
    keys = frame[resource.key].tolist()
    kinds = known[resource.key][0] if resource.key in known else None
    if not (kinds if kinds is not None else set(map(type, keys))) <= {str, type(None)}:
        keys = [None if k is None else str(k) for k in keys]  # an id typed as a number is still its text
    if isinstance(sheet.base, Snapshot):  # each key's row found once, for the values and the parsed timestamps
        at = sheet.base.positions(keys)
        exported, present = sheet.base.take(at, watched)
        at = at[present]
    else:
        exported, present = snapshot_columns(sheet.base, keys, watched)
        at = None
    positions = np.flatnonzero(present)
    for name in watched:
        column = resource.column(name)
        cells = frame[name].to_numpy(dtype=object)
        stamps = sheet.base.millis(name)[at] if at is not None and column.type is ColumnType.TIMESTAMP else None
        same = _same_values(column, cells[positions], exported[name][positions], stamps)
        for position in np.flatnonzero(~same):
            row = int(positions[position])
            out.append(Issue(sheet.file, sheet.sheet, sheet.rows[row], column_letter(frame, name), name, cells[row],
                             IssueCode.READ_ONLY_EDITED, f"{name} is read-only: this edit will be ignored", "warning"))
    return out



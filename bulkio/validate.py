"""Validation: a pandera schema built from the `Resource`, run lazily, reported cell by cell as Excel shows it.

The schema is derived, never hand-written per table: every column gets the checks its definition implies (the cell
can be read as its type, required, range, length, e-mail shape, reference label known), the key and the natural key
must be unique, unknown and missing columns are reported, and `_action` must be blank or ``delete``. pandera finds
the failing cells; this module turns them into `Issue`s that name the file, sheet, Excel row, column letter and
column, with a message a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from xlsxwriter.utility import xl_col_to_name

from .filters import in_
from .flatten import split_custom
from .lookups import LabelError, Lookup
from .read import Sheet
from .resources import Column, Resource
from .values import CellError, from_cell, is_empty, normalize
from .workbook import ACTION_COLUMN

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Issue", "IssueCode", "ValidationReport", "build_schema", "validate"]

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_ACTIONS = ("delete",)


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
    """A cell check: `ok` decides (pandera runs it), `explain` says why a failing value fails."""

    name: str
    code: IssueCode
    ok: Callable[[Any], bool]
    explain: Callable[[Any], str]


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

    return _Rule("parses", IssueCode.BAD_VALUE, ok, explain)


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
    return _Rule("max_length", IssueCode.TOO_LONG, lambda v: len(str(v).strip()) <= limit,
                 lambda v: f"at most {limit} characters (this has {len(str(v).strip())})")


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

    return _Rule("email", IssueCode.BAD_EMAIL, ok, explain)


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

    rule = _Rule("label", IssueCode.UNKNOWN_LABEL, ok, explain)
    _LABEL_CODES[id(rule)] = code_of
    return rule


_LABEL_CODES: dict[int, Callable[[Any], IssueCode]] = {}


def _rules(column: Column, lookups: Mapping[str, Lookup]) -> list[_Rule]:
    rules = [_parses(column)]
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
            checks.append(pa.Check(rule.ok, element_wise=True, ignore_na=True, name=check_name, error=check_name))
        unique = column.name == resource.key or column.name in resource.natural_key
        # read-only required columns (companyId) are filled by bulkio or the server, never typed
        spec[column.name] = pa.Column(None, checks=checks, nullable=column.read_only or not column.required,
                                      unique=unique,
                                      required=creates and column.required and not column.read_only)
    for name in columns:
        if split_custom(name, resource) is not None:
            spec[name] = pa.Column(None, nullable=True, required=False)
    rules[f"{ACTION_COLUMN}:action"] = _Rule(
        "action", IssueCode.BAD_ACTION, lambda v: str(v).strip().lower() in _ACTIONS,
        lambda v: f"_action must be blank or 'delete', not {v!r}")
    spec[ACTION_COLUMN] = pa.Column(None, nullable=True, required=False, checks=[pa.Check(
        rules[f"{ACTION_COLUMN}:action"].ok, element_wise=True, ignore_na=True, name=f"{ACTION_COLUMN}:action",
        error=f"{ACTION_COLUMN}:action")])
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
    frame = sheet.frame.apply(lambda s: s.map(lambda v: None if is_empty(v) else v)) if len(sheet.frame) else \
        sheet.frame
    key = resource.key
    creates = key not in frame.columns or bool(frame[key].isna().any())
    schema, rules = build_schema(resource, list(frame.columns), lookups, creates=creates)
    issues: list[Issue] = []

    def add(index: Any, column: str | None, value: Any, code: IssueCode, message: str,
            severity: str = "error") -> None:
        row = sheet.rows[int(index)] if index is not None and not pd.isna(index) else None
        issues.append(Issue(sheet.file, sheet.sheet, row, _letter(frame, column), column, value, code, message,
                            severity))

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
                code_of = _LABEL_CODES.get(id(rule))
                add(index, column, value, code_of(value) if code_of else rule.code, rule.explain(value))
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


def _read_only_edits(sheet: Sheet, frame: pd.DataFrame) -> list[Issue]:
    """Warnings for edited read-only cells (they are ignored on import); needs the export snapshot."""
    resource = sheet.resource
    if sheet.base is None or resource.key not in frame.columns:
        return []
    out = []
    watched = [c for c in frame.columns if c in resource and resource.column(c).read_only and c != resource.key
               and resource.column(c).reference is None]
    for position, record in enumerate(frame.to_dict("records")):
        base = sheet.base.get(str(record.get(resource.key)))
        if base is None:
            continue
        for name in watched:
            column = resource.column(name)
            try:
                changed = normalize(column, record[name]) != normalize(column, base.get(name))
            except CellError:
                changed = True
            if changed:
                out.append(Issue(sheet.file, sheet.sheet, sheet.rows[position], _letter(frame, name), name,
                                 record[name], IssueCode.READ_ONLY_EDITED,
                                 f"{name} is read-only: this edit will be ignored", "warning"))
    return out


def _present(client: Client, resource: Resource, column: str, values: list[str]) -> set[str]:
    """Which of `values` the server holds in `column` (``column=in.(...)``, split under the URL budget)."""
    found: set[str] = set()
    params = [("select", column)]
    for chunk in client.split_in(resource, column, values, params):
        for page in client.iter_pages(resource, select=[column], filters=[(column, in_(chunk))]):
            found.update(str(row[column]) for row in page)
    return found


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

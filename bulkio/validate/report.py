"""What validation found: each `Issue` at the place a person sees it (file, sheet, Excel row, column letter and
column), with a code for programs and a message for people, gathered in a `ValidationReport`. The plan adds its
own findings to the same report, so a sheet's problems are listed in one place whoever found them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import pandas as pd
from xlsxwriter.utility import xl_col_to_name

__all__ = ["Issue", "IssueCode", "ValidationReport", "column_letter", "sorted_report"]


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
    REFORMATTED = "reformatted"
    AMBIGUOUS_MATCH = "ambiguous_match"
    """The match key (``--match``) of a row without an id names several server rows."""
    DUPLICATE_MATCH = "duplicate_match"
    """Two rows of the sheet share a match key, or a row matches a row another one updates by its id."""


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


def sorted_report(issues: Iterable[Issue]) -> ValidationReport:
    """A report of `issues` in the order people read them: errors first, then by row and column letter (issues at
    the same place keep the order they were found in)."""
    return ValidationReport(tuple(sorted(issues, key=lambda i: (i.severity != "error", i.row or 0, i.letter or ""))))


def column_letter(frame: pd.DataFrame, column: str | None) -> str | None:
    """The Excel column letter of `column` in the sheet (None for a column the sheet lacks)."""
    if column is None or column not in frame.columns:
        return None
    return xl_col_to_name(list(frame.columns).index(column))

"""Every exception bulkio raises on purpose.

    BulkioError                 base: catch this to catch everything bulkio means to raise
    ├── ConfigError             bad or missing settings (base URL, API key, config file)
    ├── UnknownResource         no definition of that table (also a KeyError)
    ├── ApiError                the server answered with an error (status, PostgREST code, message, details, hint)
    ├── TransportError          the server could not be reached, or the connection broke, after all retries
    ├── WorkbookError           a sheet or file that cannot be read or written (file, sheet, row, column)
    ├── CellError               one cell cannot be turned into a value (code; also a ValueError)
    ├── LabelError              a label names no row, or several (code, choices; also a ValueError)
    ├── ValidationFailed        the sheet has invalid cells (carries every issue found)
    ├── PlanConflict            the server changed under a plan that is about to be applied
    └── ApplyError              a batch could not be applied (carries the batch)

`CellError` and `LabelError` are raised about one value and caught by validation and planning, which turn them
into issues with a place (sheet, row, column); they reach a caller only from the value-level functions
(`bulkio.sheets.values.from_cell`, `Lookup.id_for`). They stay `ValueError`s, and `UnknownResource` a `KeyError`, so the
``except ValueError`` / ``except KeyError`` written before they joined this tree still catches them.

No message in this module ever contains the API key: the client builds `ApiError` from the response body and the
request URL only, and `Client` masks the key in its `repr`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .validate.report import ValidationReport

__all__ = [
    "ApiError",
    "ApplyError",
    "BulkioError",
    "CellError",
    "CellErrorCode",
    "ConfigError",
    "LabelError",
    "PlanConflict",
    "TransportError",
    "UnknownResource",
    "ValidationFailed",
    "WorkbookError",
]


class BulkioError(Exception):
    """Base class of every error bulkio raises on purpose."""


class ConfigError(BulkioError):
    """Settings are missing or unsafe (e.g. an API key over plain http to a non-loopback host)."""


class UnknownResource(BulkioError, KeyError):
    """No definition of that table: not a hand-written one (`get_resource`), or not on the server (`resource_for`).

    A `KeyError` too, so ``except KeyError`` around a registry lookup keeps working; its text is the message
    itself (a plain KeyError would show it quoted).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ApiError(BulkioError):
    """The API answered with an error.

    Carries PostgREST's error object fields so callers can branch on `code` (`23505`, `PGRST102`, ...), plus `sentence`,
    a plain-language explanation for people (e.g. "a customer named 'Acme' already exists").
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str = "",
        details: str | None = None,
        hint: str | None = None,
        *,
        method: str | None = None,
        url: str | None = None,
        sentence: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.method = method
        self.url = url
        self.sentence = sentence or message or f"HTTP {status}"
        super().__init__(self._render())

    def _render(self) -> str:
        """The message: the sentence first (what people read), then the code and the place (what support needs)."""
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        code = f" [{self.code}]" if self.code else ""
        text = f"{self.sentence}{code}{where}"
        if self.details and self.details not in self.sentence:
            text += f"; details: {self.details}"
        if self.hint:
            text += f"; hint: {self.hint}"
        return f"HTTP {self.status}: {text}"

    @property
    def retryable(self) -> bool:
        """True for the statuses a client may retry (rate limit, gateway and unavailable errors)."""
        return self.status in (429, 502, 503, 504)

    def to_dict(self) -> dict[str, Any]:
        """The error as plain, JSON-ready values, for callers that log or store it (never the API key: see above)."""
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
            "sentence": self.sentence,
        }


class TransportError(BulkioError):
    """The request could not be completed (connection refused or dropped, timeout) after all retries.

    `outcome_known` is False when a write may or may not have been applied by the server (the connection broke after
    the request was sent): the caller must check before sending it again.
    """

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None,
                 outcome_known: bool = True) -> None:
        self.method = method
        self.url = url
        self.outcome_known = outcome_known
        where = f" ({method} {url})" if method and url else ""
        super().__init__(f"{message}{where}")


class WorkbookError(BulkioError):
    """A file or sheet cannot be read or written. Names the place as Excel shows it."""

    def __init__(self, message: str, *, file: str | None = None, sheet: str | None = None,
                 row: int | None = None, column: str | None = None) -> None:
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column
        place = ", ".join(
            part for part in (
                file and f"file {file}",
                sheet and f"sheet {sheet!r}",
                row is not None and f"row {row}",
                column and f"column {column}",
            ) if part
        )
        super().__init__(f"{place}: {message}" if place else message)


class CellErrorCode(StrEnum):
    """Why a cell could not be read (`CellError.code`)."""

    NOT_A_NUMBER = "not_a_number"
    NUMBER_FOR_TEXT = "number_for_text"
    NOT_A_DATE = "not_a_date"
    NOT_A_BOOLEAN = "not_a_boolean"
    BAD_JSON = "bad_json"
    BAD_ARRAY = "bad_array"
    NOT_FINITE = "not_finite"
    TOO_MANY_DIGITS = "too_many_digits"


class CellError(BulkioError, ValueError):
    """A cell that cannot be turned into a value; the caller adds the place (file, sheet, row, column)."""

    def __init__(self, code: CellErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LabelError(BulkioError, ValueError):
    """A label that maps to no id (code ``unknown_label``), or to more than one (``ambiguous_label``).

    `choices` lists the valid labels, so the message and the error workbook can offer them.
    """

    def __init__(self, message: str, *, code: str, choices: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.choices = choices


class ValidationFailed(BulkioError):
    """The sheet has invalid cells; `issues` holds every one of them (validation is lazy by default)."""

    def __init__(self, issues: ValidationReport, message: str | None = None) -> None:
        self.issues = issues
        super().__init__(message or f"{len(issues)} validation issue(s) found")


class PlanConflict(BulkioError):
    """The server's rows changed since the plan was made; re-plan before applying."""


class ApplyError(BulkioError):
    """A batch could not be applied and the run stopped; the journal says how to resume."""

    def __init__(self, message: str, *, batch: Any = None, results: Any = None) -> None:
        self.batch = batch
        self.results = results
        """What the run did before it stopped (`bulkio.run.results.Results`), when it got that far."""
        super().__init__(message)

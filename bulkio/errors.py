"""Every exception bulkio raises on purpose.

    BulkioError                 base: catch this to catch everything bulkio means to raise
    ├── ConfigError             bad or missing settings (base URL, API key, config file)
    ├── ApiError                the server answered with an error (status, PostgREST code, message, details, hint)
    ├── TransportError          the server could not be reached, or the connection broke, after all retries
    ├── WorkbookError           a sheet or file that cannot be read or written (file, sheet, row, column)
    ├── ValidationFailed        the sheet has invalid cells (carries every issue found)
    ├── PlanConflict            the server changed under a plan that is about to be applied
    └── ApplyError              a batch could not be applied (carries the batch)

No message in this module ever contains the API key: the client builds `ApiError` from the response body and the
request URL only, and `Client` masks the key in its `repr`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "ApplyError",
    "BulkioError",
    "ConfigError",
    "PlanConflict",
    "TransportError",
    "ValidationFailed",
    "WorkbookError",
]


class BulkioError(Exception):
    """Base class of every error bulkio raises on purpose."""


class ConfigError(BulkioError):
    """Settings are missing or unsafe (e.g. an API key over plain http to a non-loopback host)."""


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


class ValidationFailed(BulkioError):
    """The sheet has invalid cells; `issues` holds every one of them (validation is lazy by default)."""

    def __init__(self, issues: Any, message: str | None = None) -> None:
        self.issues = issues
        count = len(issues) if hasattr(issues, "__len__") else "some"
        super().__init__(message or f"{count} validation issue(s) found")


class PlanConflict(BulkioError):
    """The server's rows changed since the plan was made; re-plan before applying."""


class ApplyError(BulkioError):
    """A batch could not be applied and the run stopped; the journal says how to resume."""

    def __init__(self, message: str, *, batch: Any = None, results: Any = None) -> None:
        self.batch = batch
        self.results = results
        """What the run did before it stopped (`bulkio.results.Results`), when it got that far."""
        super().__init__(message)

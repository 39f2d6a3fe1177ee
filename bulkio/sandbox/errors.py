"""PostgREST's error shape: a JSON object `{code, message, details, hint}` with the HTTP status PostgREST uses."""

from __future__ import annotations

from typing import Any

__all__ = ["PgError"]


class PgError(Exception):
    """An error the sandbox answers with, exactly as PostgREST would render it."""

    def __init__(self, status: int, code: str, message: str, *, details: Any = None,
                 hint: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "hint": self.hint, "message": self.message}

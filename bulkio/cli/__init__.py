"""The ``bulkio`` command: the typer app (`app`) and its terminal rendering (`render`)."""

from .app import app, main

__all__ = ["app", "main"]

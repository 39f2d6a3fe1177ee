"""Rendering for the terminal (rich): progress bars and summary tables. The library never prints; the CLI does."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["facts_table", "issues_table", "row_progress"]


@contextmanager
def row_progress(console: Console, description: str) -> Iterator[Any]:
    """A progress bar for rows; yields the callback `(done, total)` that library functions accept as `progress=`."""
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("rows"), TimeElapsedColumn(), console=console, transient=False,
                        disable=not console.is_terminal)
    task = progress.add_task(description, total=None)

    def update(done: int, total: int | None) -> None:
        progress.update(task, completed=done, total=total)

    with progress:
        yield update


def facts_table(title: str, facts: Mapping[str, Any]) -> Table:
    """A two-column table of named facts (ping, export summary)."""
    table = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in facts.items():
        table.add_row(name, "" if value is None else str(value))
    return table


def issues_table(report: Any, limit: int = 50) -> Table:
    """Validation issues as a table: Excel row, column, value, message (the first `limit`, then a count)."""
    table = Table(title=f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)", title_justify="left")
    for title in ("row", "column", "value", "problem"):
        table.add_column(title, overflow="fold")
    for issue in report.issues[:limit]:
        style = "red" if issue.severity == "error" else "yellow"
        table.add_row("" if issue.row is None else str(issue.row), f"{issue.letter or ''} {issue.column or ''}",
                      "" if issue.value is None else str(issue.value)[:40], f"[{style}]{issue.message}[/]")
    if len(report.issues) > limit:
        table.add_row("", "", "", f"... {len(report.issues) - limit} more in the error workbook")
    return table

"""Rendering for the terminal (rich): progress bars and summary tables. The library never prints; the CLI does."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # annotations only: rendering reads what the library returns, never builds it
    from ..api.client import Client
    from ..plan import Plan
    from ..plan.saved import SavedPlan
    from ..run.results import Results
    from ..validate.report import ValidationReport

__all__ = ["facts_table", "issues_table", "kind_progress", "plan_tables", "results_table", "row_progress",
           "saved_plan_table"]


@contextmanager
def row_progress(console: Console, description: str) -> Iterator[Callable[[int, int | None], None]]:
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


def saved_plan_table(saved: SavedPlan) -> Table:
    """Where a saved plan comes from, shown before the plan itself: people should see which review they are about
    to apply (when, against which host, from which sheet, and that the sheet is still the one reviewed)."""
    plan = saved.plan
    if saved.sheet is not None:
        sheet = f"{saved.sheet} (unchanged since: SHA-256 checked)"
    elif saved.sheet_gone:
        sheet = f"{plan.source}: gone (--without-sheet), so no results workbook"
    else:
        sheet = f"{plan.source} (no file)"
    facts = {"planned": f"{plan.created_at} against {plan.host}", "saved": f"{saved.saved_at} by bulkio "
             f"{saved.bulkio_version}", "sheet": sheet}
    if saved.children:  # a family's: every table of the workbook
        facts["tables"] = ", ".join(p.resource.name for p in (plan, *saved.children))
    return facts_table(f"saved plan {saved.path}", facts)


def issues_table(report: ValidationReport, limit: int = 50) -> Table:
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


_KIND_STYLES = {"create": "green", "update": "blue", "delete": "red", "conflict": "bold yellow",
                "skipped": "dim", "unchanged": "dim", "created": "green", "updated": "blue", "deleted": "red",
                "failed": "bold red", "pending": "magenta"}


def _clipped(value: Any, width: int = 40) -> str:
    """A value as one table cell of at most `width` characters: a long note must not push the table off screen."""
    text = "" if value is None or value != value else str(value)  # None and NaN are empty
    return text if len(text) <= width else text[: width - 1] + "…"


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    """Rows by kind (a plan's) or by status (a run's), each in its colour; kinds with no rows left out."""
    table = Table()
    table.add_column(title)
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        if n:
            table.add_row(f"[{_KIND_STYLES[name]}]{name}[/]", str(n))
    return table


def plan_tables(plan: Plan, limit: int = 30) -> list[Text | Table]:
    """A plan as the CLI shows it: the counts, then the field-level changes (the first `limit` of them)."""
    head = Text(f"plan: {plan.resource.name} from {plan.source} ({'three-way' if plan.three_way else 'two-way'} "
                f"compare, {plan.requests} requests)", style="bold")
    counts = _counts_table("kind", {kind.value: n for kind, n in plan.counts().items()})
    frame = plan.to_frame()
    frame = frame[frame["kind"] != "unchanged"]
    if frame.empty:
        return [head, counts]
    fields = Table()
    for title in ("kind", "row", "name", "column", "before", "after", "note"):
        fields.add_column(title, overflow="fold")
    for rec in frame.head(limit).to_dict("records"):
        kind = rec["kind"]
        fields.add_row(f"[{_KIND_STYLES[kind]}]{kind}[/]", "" if rec["row"] is None or rec["row"] != rec["row"]
                       else str(rec["row"]), _clipped(rec["label"], 30), _clipped(rec["column"], 24),
                       _clipped(rec["before"]), _clipped(rec["after"]), _clipped(rec["note"], 50))
    if len(frame) > limit:
        fields.add_row("", "", "", "", "", "", f"... {len(frame) - limit} more (--report plan.xlsx lists all)")
    return [head, counts, fields]


def results_table(results: Results, limit: int = 30) -> list[Text | Table]:
    """A run's outcome: counts by status, then the rows that failed or conflicted."""
    head = Text(f"run {results.run_id}: {results.requests} requests, {results.retries} retries", style="bold")
    counts = _counts_table("status", {status.value: n for status, n in results.counts().items()})
    notes = [Text(f"warning: {line}", style="yellow") for line in results.warnings]  # e.g. bulk updates fell back
    problems = [r for r in results.rows if r.status.value in ("failed", "conflict")]
    if not problems:
        return [head, *notes, counts]
    table = Table(title="rows not applied", title_justify="left")
    for title in ("row", "name", "status", "why"):
        table.add_column(title, overflow="fold")
    for r in problems[:limit]:
        table.add_row("" if r.row is None else str(r.row), _clipped(r.label, 30),
                      f"[{_KIND_STYLES[r.status.value]}]{r.status.value}[/]", r.error or "")
    if len(problems) > limit:
        table.add_row("", "", "", f"... {len(problems) - limit} more in the results workbook")
    return [head, *notes, counts, table]


@contextmanager
def kind_progress(console: Console, client: Client | None = None) -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per kind of write (rows done of all, and the client's requests and retries so far); yields
    the callback `(kind, done, total)` that `apply` accepts."""
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("rows · {task.fields[requests]} requests · {task.fields[retries]} retries"),
                        TimeElapsedColumn(), console=console, transient=False, disable=not console.is_terminal)
    tasks: dict[str, TaskID] = {}

    def update(kind: str, done: int, total: int) -> None:
        counts = {"requests": getattr(client, "requests_made", 0), "retries": getattr(client, "retries", 0)}
        if kind not in tasks:
            tasks[kind] = progress.add_task(kind, total=total, **counts)
        progress.update(tasks[kind], completed=done, total=total, **counts)

    with progress:
        yield update


def show_plan(console: Console, err_console: Console, plan: Plan) -> None:
    """A plan as `bulkio plan` prints it: its warnings (on stderr), its issues, its counts and changes."""
    for warning in plan.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if plan.issues.issues:
        console.print(issues_table(plan.issues))
    for table in plan_tables(plan):
        console.print(table)

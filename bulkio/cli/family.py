"""`bulkio plan`, `apply` and `undo` of a workbook holding a table and its children (``export --with``): each
table shown under its name, one results workbook with a sheet per table, a family run undone phase by phase.

The commands in `app` stay one path: they hand a `FamilyPlan` or `FamilyResults` here, and everything else as
before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.rule import Rule

from ..sheets.layout import RESULT_COLUMNS

if TYPE_CHECKING:
    from ..api.client import Client
    from ..plan.family import FamilyPlan
    from ..run.family import FamilyResults

__all__ = ["refuse_for_family", "show_family_plan", "show_family_results",
           "undo_family_run", "validate_family"]


def show_family_plan(console: Console, err_console: Console, result: FamilyPlan) -> None:
    """Every table's plan under a rule with its name (warnings and issues with it), the cascades first."""
    from .render import show_plan

    for cascade in result.cascades:
        err_console.print(f"[yellow]cascade:[/] {cascade}", highlight=False)
    for p in result.plans:
        console.print(Rule(f"{p.resource.name} (sheet {p.sheet or p.resource.name})", align="left"))
        show_plan(console, err_console, p)


def show_family_results(console: Console, done: FamilyResults, sheet_file: Path | None, output: Path | None, *,
                        undoable: bool = True) -> None:
    """Each table's outcome, the results workbook written beside the sheet (a sheet per table: your rows with
    their status, new ids and errors; it plans again as the family), and how to undo the whole run."""
    from ..run.family import write_family_results
    from .render import results_table

    for results in done.tables:
        console.print(Rule(results.resource.name, align="left"))
        for table in results_table(results):
            console.print(table)
    if sheet_file is not None and sheet_file.exists():
        target = output or sheet_file.with_name(f"{sheet_file.stem}.results.xlsx")
        write_family_results(done, sheet_file, target)
        console.print(f"wrote {target}: a sheet per table, your rows with {', '.join(RESULT_COLUMNS[:-1])} and "
                      f"{RESULT_COLUMNS[-1]}", highlight=False)
    if done.stopped:
        console.print(f"[red]stopped:[/] {done.stopped}", highlight=False)
    if undoable:
        console.print(f"undo with: bulkio undo {done.run_id}", highlight=False)


def refuse_for_family(option: str) -> None:
    """An option that works on one table's plan only, given for a family's."""
    raise typer.BadParameter(f"{option} is for a one-table sheet; this workbook holds a table and its children "
                             "(plan and apply it without it)")


def undo_family_run(console: Console, err_console: Console, client: Client, run: str, yes: bool,
                    confirm: Callable[[bool, str], None]) -> None:
    """``bulkio undo`` of a family run: each phase's reversal shown in the order it is undone (`undo_order`: the
    parent's deletes, the children's deletes, the children's writes, the parent's writes), one confirmation, then
    `undo_family` with those very reversals (not planned a second time)."""
    from ..run.family import undo_family, undo_order
    from ..run.undo import plan_undo
    from .render import kind_progress, plan_tables

    order = undo_order(run)
    reversals = {folder: plan_undo(client, folder) for _, folder in order}
    for table, folder in order:
        console.print(Rule(f"undo {table}", align="left"))
        for shown in plan_tables(reversals[folder]):
            console.print(shown)
    if not any(r.has_changes for r in reversals.values()):
        console.print("nothing to undo", highlight=False)
        return
    confirm(yes, "undo these changes?")  # exits, saying nothing was written, unless the user goes on
    with kind_progress(err_console, client) as progress:
        done = undo_family(client, run, progress=progress, reversals=reversals)
    show_family_results(console, done, None, None, undoable=False)


def validate_family(console: Console, err_console: Console, client: Client, file: Path, errors: Path | None
                    ) -> int:
    """``bulkio validate`` of a family workbook: every sheet's issues as its plan finds them (`plan_family`: the
    cells, a child's parent names against the parent sheet and the server, and the checks across the sheets, e.g.
    a contact under a customer the workbook deletes), an error workbook per sheet with errors (the parent's at
    `errors`, a child's beside it named after its table). Writes nothing to the server. Returns how many errors."""
    from ..plan.family import plan_family
    from ..sheets.read import read_sheet
    from ..validate.errorbook import error_workbook_path, write_error_workbook
    from .render import issues_table

    family = plan_family(client, file)
    for cascade in family.cascades:
        err_console.print(f"[yellow]cascade:[/] {cascade}", highlight=False)
    total = 0
    for position, p in enumerate(family.plans):
        sheet, report = read_sheet(file, sheet=p.resource.name), p.issues
        console.print(Rule(f"{p.resource.name} (sheet {sheet.sheet})", align="left"))
        for warning in sheet.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        if report.issues:
            console.print(issues_table(report))
        if report.has_errors():
            target = errors or error_workbook_path(sheet.file)
            if position:
                target = target.with_name(f"{target.name.removesuffix('.errors.xlsx')}.{p.resource.name}"
                                          ".errors.xlsx")
            written = write_error_workbook(sheet, report, target)
            console.print(f"[bold red]{len(report.errors)} error(s)[/] in {p.resource.name}; wrote {written} "
                          "with each bad cell highlighted", highlight=False)
        else:
            console.print(f"[green]no errors[/] in {len(sheet.frame)} {p.resource.name} rows", highlight=False)
        total += len(report.errors)
    return total

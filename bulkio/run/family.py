"""Applying a `FamilyPlan` (a table and its children, one workbook) as one run of phases, each an ordinary run.

The order makes every write valid when it is sent, and loses nothing:

1. the parent's creates and updates (new customers get their ids; a customer that stops naming a contact in its
   ``salesContactId``, which the database guards with ``ON DELETE RESTRICT``, lets it go);
2. the children's creates and updates, their pending parent ids (`bulkio.plan.parents.pending_id`) replaced by the
   ids the parents were given (a contact moved away from a customer the workbook deletes moves before that delete,
   and is not deleted with it);
3. the children's deletes (a parent the database would not delete while they exist can go next);
4. the parent's deletes (the children left go with them where the database cascades).

A child whose new parent was not created is not sent: it is skipped, saying which parent row failed and why; it
never points at a wrong parent.

On disk, the family's run is a folder like any run's (``.bulkio/runs/<run>/``): its ``run.json`` (``"kind":
"family"``) holds the phases and every table's plan, each phase runs under ``phase-<n>/`` with its own journal, and
`resume_family` goes through the phases in order: a finished phase is read back (no request), a stopped one resumed
(`bulkio.run.apply.resume`: nothing is sent twice), one never started is started, with the parents' ids from the
journals of the phases before it. `undo_family` reverts the phases in reverse order: the parent's deletes (put back
with the children the database deleted along), the children's deletes (their parents exist again), the children's
creates and updates (moved contacts go back to their customers), then the parent's creates and updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ApplyError, PlanConflict
from ..plan.family import FamilyPlan
from ..plan.model import Plan
from ..plan.parents import pending_row
from ..plan.rows import Kind, RowPlan, Unchanged
from ..plan.saved import decode_plan, plain_plan
from ..sheets.read import read_sheet
from ..sheets.write import write_frames
from .apply import apply, resume
from .journal import FAMILY, RUNS_DIR, Journal, find_run
from .results import Results, RowResult, Status, results_sheet
from .undo import undo

if TYPE_CHECKING:
    from ..api.client import Client
    from .apply import Progress

__all__ = ["FamilyResults", "apply_family", "is_family_run", "resume_family", "undo_family", "undo_order",
           "write_family_results"]



@dataclass
class FamilyResults:
    """Every row's outcome, per table of the family, and how to resume the run if it stopped.

    :param tables: one `Results` per table, parent first (a table's phases merged, rows in sheet order).
    """

    run_id: str
    folder: Path
    tables: list[Results]
    stopped: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """The requests the run took, every phase."""
        return sum(r.requests for r in self.tables)

    @property
    def complete(self) -> bool:
        """Whether every table's rows were done."""
        return self.stopped is None and all(r.complete for r in self.tables)

    def results_for(self, table: str) -> Results:
        """One table's outcomes. :raises KeyError: naming the family's tables."""
        for r in self.tables:
            if r.resource.name == table:
                return r
        raise KeyError(f"the run has no table {table!r}; it has {', '.join(r.resource.name for r in self.tables)}")

    def counts(self) -> dict[str, dict[Status, int]]:
        """Rows per status, per table."""
        return {r.resource.name: r.counts() for r in self.tables}

    def resume_hint(self) -> str:
        """The command that finishes this run."""
        return f"bulkio apply --resume {self.run_id}"

    def _repr_html_(self) -> str:
        return "".join(f"<h3>{r.resource.name}</h3>{r._repr_html_()}" for r in self.tables)

    def __repr__(self) -> str:
        def line(r: Results) -> str:
            counts = ", ".join(f"{n} {s.value}" for s, n in r.counts().items() if n)
            return f"{r.resource.name}: {counts or 'nothing'}"
        state = f", stopped: {self.stopped}" if self.stopped else ""
        tables = "; ".join(map(line, self.tables))
        return f"<FamilyResults run {self.run_id}: {tables}; {self.requests} requests{state}>"


@dataclass(frozen=True)
class _Phase:
    """One step of a family run: a table's deletes (``deletes``) or its other rows (``writes``: creates and
    updates; a child's once the parents have ids)."""

    n: int
    table: str
    part: str

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "table": self.table, "part": self.part}


def _phases(family: FamilyPlan) -> list[_Phase]:
    """The family's phases in the order they are sent."""
    parent = family.parent
    steps = [(parent.resource.name, "writes")]
    steps += [(p.resource.name, "writes") for p in family.children]
    steps += [(p.resource.name, "deletes") for p in reversed(family.children) if p.of(Kind.DELETE)]
    steps += [(parent.resource.name, "deletes")] if parent.of(Kind.DELETE) else []
    return [_Phase(n, table, part) for n, (table, part) in enumerate(steps)]


def apply_family(client: Client, family: FamilyPlan, *, batch_size: int | None = None,
                 concurrency: int | None = None, check_stale: bool = False, root: str | Path | None = None,
                 progress: Progress | None = None, bulk_updates: bool = False) -> FamilyResults:
    """Carry out `family`: every table's rows, in the order that keeps every reference valid (the module says
    which). Options as `bulkio.apply`'s; `check_stale` re-reads every table's rows to write before the first write.

    :raises ValidationFailed: a sheet has errors (nothing is written). :raises PlanConflict: with `check_stale`.
    :raises ApplyError: a phase stopped: ``.results`` is a `FamilyResults` and ``bulkio apply --resume <run>``
        (`resume_family`) finishes the run.
    """
    family.check_applicable()
    if check_stale and family.is_stale(client):
        raise PlanConflict("the server's rows changed since the plan was made: plan again")
    plans = {p.resource.name: plain_plan(p) for p in family.plans}
    header = {"kind": FAMILY, "source": family.source, "host": family.parent.host,
              "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "tables": [p.resource.name for p in family.plans],
              "links": [{"parent": link.parent.name, "child": link.child.name, "column": link.column}
                        for link in family.links],
              "phases": [phase.to_dict() for phase in _phases(family)], "plans": plans,
              "options": {"batch_size": batch_size, "bulk_updates": bulk_updates}}
    journal = Journal.create(root, header)
    return _run(client, journal, concurrency, progress)


def resume_family(client: Client, run: str | Path, *, root: str | Path | None = None,
                  concurrency: int | None = None, progress: Progress | None = None) -> FamilyResults:
    """Finish a stopped or killed family run: each phase is read back, resumed or started (the module says how);
    nothing done is sent again."""
    return _run(client, Journal(find_run(run, root)), concurrency, progress)


def is_family_run(run: str | Path, root: str | Path | None = None) -> bool:
    """Whether `run` is a family run (its ``run.json`` says so)."""
    return Journal(find_run(run, root)).is_family


def undo_order(run: str | Path, root: str | Path | None = None) -> list[tuple[str, Path]]:
    """(table, run folder) of each phase a family run started, in the order `undo_family` reverts them."""
    return [(phase.table, started) for phase, started in _undo_order(Journal(find_run(run, root)))]


def _undo_order(journal: Journal) -> list[tuple[_Phase, Path]]:
    """Each phase the run started and its run's folder, last phase first."""
    phases = reversed([_Phase(**p) for p in journal.header()["phases"]])
    return [(phase, started) for phase in phases if (started := _phase_run(journal, phase)) is not None]


def _phase_run(journal: Journal, phase: _Phase) -> Path | None:
    """The folder of the run a phase started, if it started (there is at most one)."""
    runs = journal.folder / f"phase-{phase.n}" / RUNS_DIR
    found = sorted(p for p in runs.glob("*") if (p / "run.json").exists()) if runs.is_dir() else []
    return found[-1] if found else None


def _run(client: Client, journal: Journal, concurrency: int | None, progress: Progress | None) -> FamilyResults:
    """Every phase in order, each read back, resumed or started; the outcomes merged per table."""
    header = journal.header()
    plans = {table: decode_plan(body, client, Plan) for table, body in header["plans"].items()}
    options = header.get("options", {})
    done: dict[int, Results] = {}
    stopped = None
    for phase in (_Phase(**p) for p in header["phases"]):
        started = _phase_run(journal, phase)
        try:
            if started is not None:
                done[phase.n] = resume(client, started, concurrency=concurrency, progress=progress)
            else:
                step = _phase_plan(plans[phase.table], phase, header, done)
                done[phase.n] = apply(client, step, root=journal.folder / f"phase-{phase.n}",
                                      batch_size=options.get("batch_size"), concurrency=concurrency,
                                      progress=progress, bulk_updates=bool(options.get("bulk_updates")))
        except ApplyError as exc:
            if isinstance(exc.results, Results):
                done[phase.n] = exc.results
            # why the phase stopped, not its own resume hint: the family's run is the one to resume
            stopped = exc.results.stopped if isinstance(exc.results, Results) and exc.results.stopped else \
                str(exc).split(". Nothing is lost")[0]
            break
    results = FamilyResults(journal.run_id, journal.folder, _merged(journal, header, plans, done), stopped)
    if stopped:
        raise ApplyError(f"the run stopped in its phase {len(done)} of {len(header['phases'])} ({stopped}). Nothing is "
                         f"lost: finish it with `{results.resume_hint()}`", results=results)
    return results


def _phase_plan(plan: Plan, phase: _Phase, header: dict[str, Any], done: dict[int, Results]) -> Plan:
    """The part of a table's plan a phase sends; a child's rows with their new parents' ids."""
    if phase.part == "deletes":
        return replace(plan, rows=tuple(r for r in plan.rows if r.kind is Kind.DELETE), unchanged=Unchanged())
    outcomes = _new_ids(header, done)
    return replace(plan, rows=tuple(_with_parents(r, outcomes) for r in plan.rows if r.kind is not Kind.DELETE))


def _new_ids(header: dict[str, Any], done: dict[int, Results]) -> dict[tuple[str, int], RowResult]:
    """The outcome of every new row of the phases done, by (table, Excel row): what a pending id stands for."""
    outcomes: dict[tuple[str, int], RowResult] = {}
    for phase in header["phases"]:
        results = done.get(phase["n"])
        for r in results.rows if results is not None else ():
            if r.row is not None:  # a pending id names the row of a create: its outcome is this row's
                outcomes[(phase["table"], r.row)] = r
    return outcomes


def _with_parents(row: RowPlan, outcomes: dict[tuple[str, int], RowResult]) -> RowPlan:
    """`row` with each pending parent id in its body replaced by the id the parent was created with; skipped,
    saying why, when that parent was not created."""
    if row.kind not in (Kind.CREATE, Kind.UPDATE):
        return row
    body = dict(row.body)
    for column, value in row.body.items():
        at = pending_row(value)
        if at is None:
            continue
        outcome = outcomes.get(at)
        if outcome is None or outcome.status is not Status.CREATED or not outcome.id:
            status = outcome.status.value if outcome is not None else "not sent"
            why = f": {outcome.error}" if outcome is not None and outcome.error else ""
            return RowPlan(Kind.SKIPPED, row.key, row.row, row.label,
                           reason=f"its {at[0]} (row {at[1]} of its sheet) was not created ({status}{why}): "
                                  "this row was not sent")
        body[column] = outcome.id
    if body == row.body:
        return row
    changes = tuple(replace(c, after=body[c.column]) if c.column in body else c for c in row.changes)
    return replace(row, body=body, changes=changes)


def _merged(journal: Journal, header: dict[str, Any], plans: dict[str, Plan], done: dict[int, Results]
            ) -> list[Results]:
    """One `Results` per table, parent first: the rows of its phases in sheet order; a phase never started shows
    its rows as pending."""
    out = []
    for table in header["tables"]:
        phases = [p for p in header["phases"] if p["table"] == table]
        rows: list[RowResult] = []
        requests = retries = 0
        warnings: list[str] = []
        resource = plans[table].resource
        for phase in phases:
            results = done.get(phase["n"])
            if results is None:
                rows += _pending(plans[table], phase["part"])
                continue
            rows += results.rows
            requests, retries = requests + results.requests, retries + results.retries
            warnings += results.warnings
        rows.sort(key=lambda r: (r.row is None, r.row or 0))  # sheet order; rows missing from the sheet last
        out.append(Results(journal.run_id, journal.folder, resource, rows, requests, retries, None,
                           header.get("source"), table, warnings=warnings))
    return out


def _pending(plan: Plan, part: str) -> list[RowResult]:
    """The rows of a phase not started, as pending."""
    rows = [r for r in plan.rows if (r.kind is Kind.DELETE) == (part == "deletes")]
    return [RowResult(r.row, r.key, Status.PENDING, r.label) for r in rows
            if r.kind in (Kind.CREATE, Kind.UPDATE, Kind.DELETE)]


def write_family_results(done: FamilyResults, source: str | Path, path: str | Path) -> Path:
    """The results workbook of a family run: each table's sheet of `source` (the workbook the run applied) with
    every row's outcome (`results.results_sheet`), and each table's snapshot of its rows after the run, named as
    the family workbook names them, so that the results workbook plans again as the family it came from (the rows
    done plan as unchanged; fix the failed ones and apply it)."""
    journal = Journal(done.folder)
    phases = [_Phase(**p) for p in journal.header()["phases"]]
    sheets = []
    for results in done.tables:
        table = results.resource.name
        batches = [batch for phase in phases if phase.table == table
                   for batch in _phase_batches(journal, phase)]
        sheet = read_sheet(source, sheet=table)
        sheets.append(results_sheet(results, sheet.frame, sheet.rows, batches, base=sheet.base, meta=sheet.meta))
    return write_frames(sheets, path)


def _phase_batches(journal: Journal, phase: _Phase) -> list[dict[str, Any]]:
    """The batches a phase's run planned (none for a phase never started)."""
    started = _phase_run(journal, phase)
    return Journal(started).header().get("batches", []) if started is not None else []


def undo_family(client: Client, run: str | Path, *, root: str | Path | None = None,
                concurrency: int | None = None, progress: Progress | None = None,
                reversals: Mapping[Path, Plan] | None = None) -> FamilyResults:
    """Revert a family run: its phases undone in reverse order (the module says why that order), each as
    `bulkio.undo` reverts a run (guarded: a row changed since is a conflict, not overwritten).

    :param reversals: each phase run's reversal already shown to the user (`bulkio.run.undo.plan_undo`), by the
        phase run's folder (`undo_order`); a phase without one is planned now."""
    journal = Journal(find_run(run, root))
    header = journal.header()
    by_table: dict[str, list[Results]] = {}
    for phase, started in _undo_order(journal):
        by_table.setdefault(phase.table, []).append(
            undo(client, started, root=journal.folder / f"undo-{phase.n}", concurrency=concurrency, progress=progress,
                 reversal=(reversals or {}).get(started)))
    tables = []
    for table in header["tables"]:
        parts = by_table.get(table, [])
        if not parts:
            continue
        first = parts[0]
        tables.append(replace(first, rows=[r for p in parts for r in p.rows], requests=sum(p.requests for p in parts)))
    return FamilyResults(f"undo of {journal.run_id}", journal.folder, tables)

"""Undoing a run (design decision 8): its own undo data, planned and applied like any import.

A run keeps what undoing needs in ``undo.jsonl`` (`bulkio.run.journal`): the ids it created (with what it sent), the
values updated rows had before (and the values it wrote), the full rows it deleted and the rows of other tables the
database deletes along with them (``ON DELETE CASCADE``, e.g. a customer's contacts), all read just before the
DELETE is sent. `plan_undo` turns them into a `Plan`: created rows are deleted, updated columns are set back,
deleted rows are inserted again with their ids; `undo` then inserts the cascaded rows again and sets back the links
to them (a customer's ``salesContactId``). Each step is guarded like any plan: a row someone changed after the run
is a conflict, never overwritten.

What cannot come back exactly: ``updatedAt`` of rows set back is the time of the undo; rows inserted again carry
only the columns their table's `Resource` describes; and cascaded rows are recorded only for the tables bulkio
has a hand-written definition of (`bulkio.apply.cascades`: an OpenAPI document does not say what cascades).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api.catalog import resource_for
from ..plan import FieldChange, Kind, Plan, RowPlan
from ..resources import Resource
from ..validate.report import ValidationReport
from .apply import Progress, apply, fetch_rows_by, row_holds
from .journal import Journal, find_run
from .results import Results, Status

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["plan_undo", "undo"]


@dataclass
class _UndoData:
    """What a run recorded for undo (``undo.jsonl``), read once: ids created (with what was sent), what updated rows
    held before and were given, whole rows deleted, and rows deleted with them by cascade, per table."""

    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    cascaded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _undo_data(client: Client, journal: Journal, resource: Resource) -> _UndoData:
    """The run's undo data; rows the run deleted and put back at once itself (changed as they were being deleted)
    bring no cascaded rows to restore."""
    data = _UndoData()
    restored: set[str] = set()
    for record in journal.undo_records():
        if record["kind"] == "created":
            for item in record.get("rows") or [{"id": i, "body": {}} for i in record.get("ids", [])]:
                data.created[str(item["id"])] = item.get("body") or {}
        elif record["kind"] == "updated":
            for item in record["rows"]:
                first = data.updated.setdefault(str(item["key"]), {"before": dict(item["before"]), "after": {}})
                first["after"].update(item["after"])  # the earliest "before" wins, the latest "after"
        elif record["kind"] == "deleted":
            for row in record["rows"]:
                data.deleted[str(row[resource.key])] = row
        elif record["kind"] == "cascaded":
            data.cascaded.setdefault(record["table"], []).extend(record["rows"])
        elif record["kind"] == "restored":
            restored.update(record["ids"])
    for table, found in list(data.cascaded.items()):
        owners = [c.name for c in resource_for(client, table).columns
                  if c.reference is not None and c.reference.table == resource.name]
        kept = [d for d in found if not any(str(d.get(c)) in restored for c in owners)]
        if kept:
            data.cascaded[table] = kept
        else:
            del data.cascaded[table]
    return data


def plan_undo(client: Client, run: str | Path, *, root: str | Path | None = None) -> Plan:
    """The plan that reverts `run` (reads the current rows it touched: a few requests). Never writes."""
    start = client.requests_made
    journal = Journal(find_run(run, root))
    header = journal.header()
    resource = resource_for(client, header["resource"])
    key = resource.key
    data = _undo_data(client, journal, resource)
    created, updated, deleted = data.created, data.updated, data.deleted
    columns = sorted({c for u in updated.values() for c in u["after"]} | {c for b in created.values() for c in b})
    select = [key, *[c for c in columns if c in resource and c != key]]
    touched = [*created, *updated, *deleted]  # deleted too: a delete the server refused is in the undo data
    current = fetch_rows_by(client, resource, key, touched, select) if touched else {}
    rows: list[RowPlan] = []
    for ident, body in created.items():
        now = current.get(ident)
        if now is None:
            continue  # already gone
        if not row_holds(resource, now, body):
            rows.append(RowPlan(Kind.CONFLICT, ident, None, _natural_label(resource, now), reason="created by the run, "
                                "changed since: not deleted"))
        else:
            rows.append(RowPlan(Kind.DELETE, ident, None, _natural_label(resource, now), guard=dict(body)))
    for ident, change in updated.items():
        now = current.get(ident)
        before, after = change["before"], {c: v for c, v in change["after"].items() if c != "updatedAt"}
        before = {c: before.get(c) for c in after}
        label = _natural_label(resource, now) if now else None
        if now is None:
            rows.append(RowPlan(Kind.CONFLICT, ident, None, label, reason="updated by the run, deleted since"))
        elif not row_holds(resource, now, after):
            rows.append(RowPlan(Kind.CONFLICT, ident, None, label, reason="updated by the run, changed since"))
        else:
            changes = tuple(FieldChange(c, after[c], before[c]) for c in after)
            rows.append(RowPlan(Kind.UPDATE, ident, None, label, changes, body=before, guard=after))
    for ident, row in deleted.items():
        if ident in current:
            continue  # never deleted (its rows are recorded before the DELETE is sent, which may be refused)
        body = {c: v for c, v in row.items() if c in resource}
        for column in _links(resource, body, data.cascaded):
            body[column] = None  # the row it names comes back after this one: linked again then
        rows.append(RowPlan(Kind.CREATE, ident, None, _natural_label(resource, row),
                            tuple(FieldChange(c, None, v) for c, v in body.items()), body=body))
    warnings = tuple(f"{len(found)} {table} row(s) the database deleted with them (ON DELETE CASCADE) are "
                     "inserted again after them" for table, found in data.cascaded.items())
    return _plan(resource, tuple(rows), f"undo of run {journal.run_id}", header.get("host", ""), warnings=warnings,
                 requests=client.requests_made - start, select=tuple(select))


def _natural_label(resource: Resource, row: Mapping[str, Any] | None) -> str | None:
    """The row's natural key value (a customer's name) as text: how a reversal's rows are named to the user."""
    if not row or not resource.natural_key:
        return None
    value = row.get(resource.natural_key[0])
    return None if value is None else str(value)


def _links(resource: Resource, row: dict[str, Any], cascaded: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The columns of a deleted `row` that name a row deleted with it by cascade (a customer's ``salesContactId``
    naming one of its own contacts): inserted as null first, set again once that row is back."""
    out = {}
    for column in resource.columns:
        ref = column.reference
        if ref is None or ref.table not in cascaded or row.get(column.name) is None:
            continue
        if any(str(r.get(ref.column)) == str(row[column.name]) for r in cascaded[ref.table]):
            out[column.name] = row[column.name]
    return out


def _creates(resource: Resource, rows: list[dict[str, Any]], source: str, host: str) -> Plan:
    """A plan inserting `rows` again as they were, ids included (the cascaded rows of a delete)."""
    body_rows = [{c: v for c, v in row.items() if c in resource} for row in rows]
    return _plan(resource, tuple(RowPlan(Kind.CREATE, str(b.get(resource.key)), None, _natural_label(resource, b),
                                         body=b) for b in body_rows), source, host)


def _plan(resource: Resource, rows: tuple[RowPlan, ...], source: str, host: str, *, warnings: tuple[str, ...] = (),
          requests: int = 0, select: tuple[str, ...] = ()) -> Plan:
    """A plan of rows undo computed itself (no sheet: nothing to validate, nothing three-way)."""
    return Plan(resource=resource, source=source, sheet=None, rows=rows, unchanged=(), three_way=False,
                delete_missing=False, skip_invalid=False, issues=ValidationReport(()), warnings=warnings,
                server_hash="", fetched=(), created_at=datetime.now(UTC).isoformat(timespec="seconds"), host=host,
                requests=requests, select=select)


def undo(client: Client, run: str | Path, *, root: str | Path | None = None, concurrency: int | None = None,
         progress: Progress | None = None, reversal: Plan | None = None, bulk_updates: bool = False) -> Results:
    """Revert `run`: plan the reversal (`plan_undo`) and apply it, itself as a journaled run (undoable too).

    Rows the database deleted along with the run's deletes (ON DELETE CASCADE) are inserted again afterwards, and
    links to them from the rows put back (set to null meanwhile) are set again: each step its own guarded run.

    :param reversal: the `plan_undo` plan already shown to the user (default: planned now).
    :param bulk_updates: set updated rows back as `apply` does with it (a read and an upsert per batch: each row
        has a value of its own to go back to).
    """
    journal = Journal(find_run(run, root))
    if journal.is_family:  # a family's run: its phases undone in reverse order
        from .family import undo_family

        return undo_family(client, journal.folder, concurrency=concurrency,  # type: ignore[return-value]
                           progress=progress)
    reversal = reversal or plan_undo(client, run, root=root)
    results = apply(client, reversal, root=root, concurrency=concurrency, progress=progress,
                    bulk_updates=bulk_updates)
    resource = reversal.resource
    data = _undo_data(client, journal, resource)
    back = {r.key for r in results.rows if r.status is Status.CREATED}
    for table, rows in data.cascaded.items():
        dependents = resource_for(client, table)
        step = apply(client, _creates(dependents, rows, f"undo of run {journal.run_id}: {table}", reversal.host),
                     root=root, concurrency=concurrency, progress=progress)
        results.rows.extend(step.rows)
        results.requests += step.requests
    relinks = []
    for ident, row in data.deleted.items():
        links = _links(resource, row, data.cascaded)
        if ident in back and links:
            relinks.append(RowPlan(Kind.UPDATE, ident, None, _natural_label(resource, row), body=links,
                                   guard=dict.fromkeys(links)))
    if relinks:
        step = apply(client, _plan(resource, tuple(relinks), f"undo of run {journal.run_id}: links", reversal.host),
                     root=root, concurrency=concurrency, progress=progress)
        results.rows.extend(r for r in step.rows if r.status is not Status.UPDATED)  # a failure shows; a relink
        results.requests += step.requests                                           # is part of its row's create
    return results

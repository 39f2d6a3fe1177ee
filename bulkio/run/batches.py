"""A plan's rows as the batches a run sends and journals: fixed before the first request, so that a resume knows
every batch and its rows whatever happened to them. Creates go in arrays; updates sharing a patch body and deletes
go in requests whose URL (ids and guards) keeps under the URL budget; bulk updates (`apply`'s ``bulk_updates``) go
in batches of rows changing the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..api.query import encoded_length, guarded_filters
from ..errors import ApplyError
from ..plan import Batch, Kind, Plan, RowPlan
from ..resources import Resource
from .results import RowResult, Status

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["Guarded", "JournalRow", "bulk_batches", "guarded_chunks", "journal_batches", "split_batch",
           "unwritten_rows"]


@dataclass(frozen=True)
class JournalRow:
    """A row as the journal stores it."""

    row: int | None
    key: str | None
    label: str | None
    body: dict[str, Any]
    guard: dict[str, Any]
    before: dict[str, Any]

    @classmethod
    def of(cls, r: RowPlan) -> JournalRow:
        return cls(r.row, r.key, r.label, dict(r.body), dict(r.guard), {c.column: c.before for c in r.changes})

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "key": self.key, "label": self.label, "body": self.body, "guard": self.guard,
                "before": self.before}


Guarded = TypeVar("Guarded", RowPlan, JournalRow)
"""A plan's row or a journal's: both carry a key, a guard and an Excel row, all a guarded PATCH needs."""


def split_batch(client: Client, resource: Resource, batch: Batch) -> list[list[RowPlan]]:
    """Updates and deletes: requests whose URL (ids, guards) keeps under the URL budget."""
    if batch.kind is Kind.CREATE:
        return [list(batch.rows)]
    if batch.kind is Kind.DELETE:
        by_key = {r.key: r for r in batch.rows}
        params = [("select", resource.key)]
        return [[by_key[k] for k in chunk] for chunk in client.split_in(resource, resource.key, batch.keys, params)]
    return guarded_chunks(client, resource, list(batch.rows))


def guarded_chunks(client: Client, resource: Resource, rows: list[Guarded]) -> list[list[Guarded]]:
    """Rows sharing a patch body, in guarded PATCHes whose URL (ids and guards) keeps under the URL budget."""
    room = client.settings.url_budget - len(client.base_url) - len(resource.path) - 1 - \
        encoded_length([("select", resource.key)]) - 1

    def fits(chunk: list[Guarded]) -> bool:
        return encoded_length(guarded_filters(resource.key, [(r.key or "", r.guard) for r in chunk])) <= room

    out: list[list[Guarded]] = []
    pending = list(rows)
    while pending:  # grow a request while it fits (doubling, then halving back), rows with one guard adjoining
        size, best = 1, 0
        while size <= len(pending) and fits(pending[:size]):
            best, size = size, size * 2
        low, high = best, min(size, len(pending) + 1)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(pending[:middle]) else (low, middle)
        if low == 0:
            raise ApplyError(f"row {pending[0].row}: its guard is too long for one request URL")
        out.append(pending[:low])
        pending = pending[low:]
    return out


def bulk_batches(plan: Plan, batch_size: int | None) -> list[list[RowPlan]]:
    """The plan's updates for the bulk path: rows changing the same columns together (so that an upsert writes no
    column a row does not change), `batch_size` at most: one upsert each, after a read of its rows (as many
    requests as the URL budget needs for their ids: `Client.in_chunks`)."""
    size = batch_size or plan.resource.batch_size
    groups: dict[tuple[str, ...], list[RowPlan]] = {}
    for r in plan.of(Kind.UPDATE):
        groups.setdefault(tuple(sorted(r.body)), []).append(r)
    return [members[start:start + size] for members in groups.values() for start in range(0, len(members), size)]


def journal_batches(client: Client, plan: Plan, batch_size: int | None, bulk_updates: bool = False
                     ) -> list[dict[str, Any]]:
    """The plan's batches as they will be sent (each cut under the URL budget), numbered for the journal: fixed
    before the first request, so that resume knows every batch and its rows, whatever happened to them. With
    `bulk_updates`, updates are bulk batches (``"bulk": true``: each row carries its own body)."""
    out: list[dict[str, Any]] = []
    for batch in plan.batches(batch_size):
        if bulk_updates and batch.kind is Kind.UPDATE:
            continue
        for chunk in split_batch(client, plan.resource, batch):
            out.append({"n": len(out), "kind": batch.kind.value, "body": dict(batch.body),
                        "rows": [JournalRow.of(r).to_dict() for r in chunk]})
    if bulk_updates:  # numbered after the others: the runner still sends creates, then updates, then deletes
        for chunk in bulk_batches(plan, batch_size):
            out.append({"n": len(out), "kind": Kind.UPDATE.value, "body": {}, "bulk": True,
                        "rows": [JournalRow.of(r).to_dict() for r in chunk]})
    return out


def unwritten_rows(plan: Plan) -> list[dict[str, Any]]:
    """The plan's rows no batch carries, with the status they end with."""
    status = {Kind.CONFLICT: Status.CONFLICT, Kind.SKIPPED: Status.SKIPPED, Kind.UNCHANGED: Status.UNCHANGED}
    return [RowResult(r.row, r.key, status[r.kind], r.label, r.key, error=r.reason or None).to_dict()
            for r in plan.rows if r.kind in status]

"""Carrying out a plan: batched, guarded, journaled writes that can be resumed and undone.

- Few requests (design decision 6): creates are POSTed as arrays (``columns=``, ``missing=default``, the new ids and
  readableIds come back); updates sharing one patch body go out as one PATCH whose filter carries every row's id
  and guard (`bulkio.api.query.guarded_filters`); deletes as one DELETE with ``id=in.(...)``; filters are cut under the
  URL budget; batches run with bounded concurrency and the client's rate limiter paces them.
- Guarded (decision 5): an update's filter carries the server values of its changed columns as the plan saw them,
  and only the rows the server returns were updated: the others changed meanwhile and become conflicts, never
  overwritten. ``updatedAt`` is set where the resource has it. Deletes send ``max-affected`` with
  ``handling=strict``.
- Bulk updates (opt-in, issue 16): PostgREST has no PATCH with a body per row, so rows each with a value of their
  own cost a PATCH each by default. ``bulk_updates=True`` sends each batch as a read and an upsert instead: the
  guards are checked in Python just before the write (not in it), ``columns=`` limits the upsert to the key, the
  NOT NULL columns as read and the changed ones, and a row deleted between the read and the write, which the upsert
  inserts again, is told by its new ``createdAt`` and deleted at once. A key or server that will not upsert gets the
  guarded PATCHes, with one warning.
- Failure isolation (decision 7): a batch refused for its data (4xx) is split in halves until the bad rows are found;
  the good rows are applied and each bad row gets the server's error in words. Transport failures and 5xx are retried
  by the client; when retries run out the run stops, says how to resume, and loses nothing.
- Journal (decision 8): each batch's intent is on disk before it is sent and its outcome after (`bulkio.run.journal`).
  `resume` finishes a stopped or killed run: a batch whose outcome is unknown is checked against the server first
  (creates by natural key, so a crash never creates a customer twice).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api.catalog import resource_for
from ..api.query import guarded_filters, in_
from ..errors import ApiError, ApplyError, PlanConflict, TransportError
from ..plan import Kind, Plan, RowPlan
from ..plan.family import FamilyPlan
from ..resources import RESOURCES, ColumnType, Resource
from ..sheets.values import normalize
from .batches import JournalRow, bulk_batches, guarded_chunks, journal_batches, split_batch, unwritten_rows
from .journal import Journal, find_run
from .results import Results, RowResult, Status

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["DEFAULT_RATE", "Progress", "apply", "bulk_marker", "cascades", "fetch_rows_by", "pace_note", "resume",
           "row_holds", "server_check", "update_requests"]

log = logging.getLogger("bulkio.apply")

Progress = Callable[[str, int, int], None]
"""Called as rows are done: (kind, rows done of that kind, rows of that kind in all)."""

_FATAL_STATUSES = (401, 403, 404)  # the key or the table, not the rows: stop, do not bisect
DEFAULT_RATE = 60
"""Requests a minute a Carbon key gets when the settings name no rate (the hosted proxy's default)."""
_CHANGED = "changed on the server since the plan: not overwritten; plan again"
_BULK_SLOWER = 50
"""Update requests beyond which `pace_note` says how long they take and names ``--bulk-updates``."""


class _Stop(Exception):
    """Stop the run (the journal knows how far it got)."""


def cascades(resource: Resource) -> list[tuple[Resource, str]]:
    """(table, column) of the hand-written tables whose rows the database deletes along with a row of `resource`
    (a foreign key to it with ON DELETE CASCADE). OpenAPI documents do not say; only hand-written ones can."""
    return [(table, column.name) for table in RESOURCES.values() for column in table.columns
            if column.reference is not None and column.reference.table == resource.name
            and column.reference.on_delete == "cascade"]


def _is_data_error(exc: ApiError) -> bool:
    """A refusal of the rows themselves (a 4xx other than 401/403/404, the key or the table, and 429, the rate
    limit): worth splitting the batch to find the bad rows."""
    return 400 <= exc.status < 500 and exc.status not in (*_FATAL_STATUSES, 429)


class _Runner:
    """Executes batches for one run and records everything in its journal."""

    def __init__(self, client: Client, resource: Resource, journal: Journal, *, concurrency: int,
                 progress: Progress | None) -> None:
        self.client = client
        self.resource = resource
        self.journal = journal
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.lock = threading.Lock()
        self.done: dict[str, int] = {}
        self.totals: dict[str, int] = {}
        self.stopped: str | None = None
        self.bulk_refused: str | None = None
        """Why the server refused an upsert: the run's later bulk batches go straight to guarded PATCHes."""
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ bookkeeping
    def _tick(self, kind: str, n: int) -> None:
        """Count `n` more rows of `kind` done and tell `progress` (batches finish on several threads)."""
        with self.lock:
            self.done[kind] = self.done.get(kind, 0) + n
            done, total = self.done[kind], self.totals.get(kind, 0)
        if self.progress is not None:
            self.progress(kind, done, total)

    # ------------------------------------------------------------------ one request each
    def _create(self, rows: list[JournalRow], tx_rollback: bool = False) -> list[RowResult]:
        """POST the rows as one array (the company filled in where the table has one); record the new ids for
        undo."""
        res = self.resource
        records = []
        tenant = res.tenant_column
        for r in rows:
            record = dict(r.body)
            if tenant and tenant in res and tenant not in record:
                record[tenant] = self.client.company_id()
            records.append(record)
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record))
        defaults = [c.name for c in res.columns if c.has_default and not c.read_only and c.name != res.key]
        select = [c for c in (res.key, "readableId", *res.natural_key, *defaults) if c in res]
        result = self.client.insert(res, records, columns=list(names), select=select, tx_rollback=tx_rollback)
        if tx_rollback:
            return [RowResult(r.row, None, Status.CREATED, r.label) for r in rows]
        out = []
        for r, created in zip(rows, result.rows, strict=False):
            key = str(created.get(res.key))
            filled = {c: created.get(c) for c in defaults if c not in r.body and created.get(c) is not None}
            out.append(RowResult(r.row, key, Status.CREATED, r.label, key, created.get("readableId"),
                                 filled=filled or None))
        if len(out) != len(rows):  # the server returned fewer rows than it was sent: never guess which
            raise _Stop(f"the server returned {len(result.rows)} rows for {len(rows)} created")
        self.journal.undo({"kind": "created", "rows": [{"id": o.id, "body": r.body} for o, r in zip(out, rows,
                                                                                                   strict=True)]})
        return out

    def _update(self, rows: list[JournalRow], body: Mapping[str, Any], tx_rollback: bool = False) -> list[RowResult]:
        """One guarded PATCH for rows sharing `body`: the rows the server returns were updated, the others changed
        since the plan and are conflicts."""
        res = self.resource
        patch = dict(body)
        if "updatedAt" in res and "updatedAt" not in patch:
            patch["updatedAt"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        keys = [r.key for r in rows if r.key]
        filters = guarded_filters(res.key, [(r.key, r.guard) for r in rows if r.key])
        result = self.client.update(res, filters, patch, select=[res.key], max_affected=len(keys),
                                    tx_rollback=tx_rollback)
        if tx_rollback:
            return [RowResult(r.row, r.key, Status.UPDATED, r.label, r.key) for r in rows]
        changed = {str(row[res.key]) for row in result.rows}
        out = []
        for r in rows:
            if r.key in changed:
                out.append(RowResult(r.row, r.key, Status.UPDATED, r.label, r.key))
            else:
                out.append(RowResult(r.row, r.key, Status.CONFLICT, r.label, r.key, error=_CHANGED))
        self._journal_updated([r for r in rows if r.key in changed])
        return out

    def _journal_updated(self, rows: list[JournalRow]) -> None:
        """What undoing these updated rows needs: the values they held, and the ones written (each row's own)."""
        if rows:
            self.journal.undo({"kind": "updated", "rows": [{"key": r.key, "before": r.before, "after": dict(r.body)}
                                                           for r in rows]})

    def _delete(self, rows: list[JournalRow], tx_rollback: bool = False) -> list[RowResult]:
        """Delete rows that are still as the plan saw them (their `guard`).

        The rows are read first (undo needs them whole, with the rows the database deletes along with them, ON
        DELETE CASCADE): a row changed since the plan is left alone, a conflict. The DELETE returns what it
        deleted; a row changed in the moment between that read and the DELETE is put back at once, with its
        dependents, and reported as a conflict: never lost.
        """
        res = self.resource
        keys = [r.key for r in rows if r.key]
        if tx_rollback:
            self.client.delete(res, [(res.key, in_(keys))], returning=False, max_affected=len(keys),
                               tx_rollback=True)
            return [RowResult(r.row, r.key, Status.DELETED, r.label, r.key) for r in rows]
        current = {str(row[res.key]): row for row in self.client.rows_in(res, res.key, keys)}
        out, doomed = _against_read(res, rows, current, (Status.UNCHANGED, "already deleted on the server"),
                                    "changed on the server since the plan: not deleted; plan again")
        if doomed:
            doomed_keys = [str(r.key) for r in doomed]
            self.journal.undo({"kind": "deleted", "rows": [current[k] for k in doomed_keys]})
            dependents = self._dependents(doomed_keys)
            for table, found in dependents.items():
                self.journal.undo({"kind": "cascaded", "table": table.name, "rows": found})
            result = self.client.delete(res, [(res.key, in_(doomed_keys))], returning=True,
                                        max_affected=len(doomed_keys))
            deleted = {str(row[res.key]): row for row in result.rows}
            moved = [deleted[str(r.key)] for r in doomed if str(r.key) in deleted
                     and not row_holds(res, deleted[str(r.key)], current[str(r.key)])]
            if moved:
                self._put_back(moved, dependents)
            moved_keys = {str(row[res.key]) for row in moved}
            for r in doomed:
                if r.key in moved_keys:
                    out[r.key] = RowResult(r.row, r.key, Status.CONFLICT, r.label, r.key, error=(
                        "changed on the server as it was being deleted: put back at once, nothing lost; plan again"))
                elif r.key in deleted:
                    out[r.key] = RowResult(r.row, r.key, Status.DELETED, r.label, r.key)
                else:
                    out[r.key] = RowResult(r.row, r.key, Status.UNCHANGED, r.label, r.key,
                                           error="already deleted on the server")
        return [out[r.key] for r in rows]

    def _dependents(self, keys: list[str]) -> dict[Resource, list[dict[str, Any]]]:
        """The rows of other tables the database deletes along with these (ON DELETE CASCADE)."""
        found: dict[Resource, list[dict[str, Any]]] = {}
        for table, column in cascades(self.resource):
            rows = self.client.rows_in(table, column, keys)
            if rows:
                found[table] = rows
        return found

    def _put_back(self, rows: list[dict[str, Any]], dependents: dict[Resource, list[dict[str, Any]]]) -> None:
        """Insert deleted rows again as they were, with their cascaded dependents, then their links to those."""
        res = self.resource
        keys = {str(row[res.key]) for row in rows}
        mine = {table: [d for d in found if any(str(d.get(c.name)) in keys for c in table.columns
                                                  if c.reference is not None and c.reference.table == res.name)]
                for table, found in dependents.items()}
        links: dict[str, dict[str, Any]] = {}
        bare = []
        for row in rows:
            record = {c: v for c, v in row.items() if c in res}
            for column in res.columns:
                ref = column.reference
                targets = next((found for table, found in mine.items() if ref and table.name == ref.table), None)
                if targets and record.get(column.name) is not None and any(
                        str(t.get(ref.column)) == str(record[column.name]) for t in targets):
                    links.setdefault(str(row[res.key]), {})[column.name] = record[column.name]
                    record[column.name] = None
            bare.append(record)
        self.client.insert(res, bare, returning=False)
        for table, found in mine.items():
            if found:
                self.client.insert(table, [{c: v for c, v in d.items() if c in table} for d in found],
                                   returning=False)
        for ident, values in links.items():
            self.client.update(res, [(res.key, f"eq.{ident}")], values, returning=False)
        self.journal.undo({"kind": "restored", "ids": sorted(keys)})

    def send(self, kind: Kind, rows: list[JournalRow], body: Mapping[str, Any], tx_rollback: bool = False
             ) -> list[RowResult]:
        """One batch; a data error splits it until the bad rows are found (each gets its error in words)."""
        try:
            if kind is Kind.CREATE:
                return self._create(rows, tx_rollback)
            if kind is Kind.UPDATE:
                return self._update(rows, body, tx_rollback)
            return self._delete(rows, tx_rollback)
        except ApiError as exc:
            if not _is_data_error(exc):
                raise
            return _bisected(rows, exc, lambda part: self.send(kind, part, body, tx_rollback))

    # ------------------------------------------------------------------ batches
    def run_batch(self, number: int, kind: Kind, rows: list[JournalRow], body: Mapping[str, Any], bulk: bool = False
                  ) -> list[RowResult]:
        """Send one batch between its ``sent`` and ``done`` events; a failure that is not the rows' stops the run."""
        if self.stopped:
            return []
        self.journal.append({"event": "sent", "batch": number})
        try:
            results = self._bulk_update(number, rows) if bulk else self.send(kind, rows, body)
        except (TransportError, ApiError, _Stop) as exc:
            with self.lock:
                self.stopped = self.stopped or f"batch {number} ({kind.value}): {exc}"
            self.journal.append({"event": "stopped", "batch": number, "error": str(exc)})
            return []
        self.journal.append({"event": "done", "batch": number, "results": [r.to_dict() for r in results]})
        self._tick(kind.value, len(rows))
        return results

    def run(self, batches: Sequence[tuple[int, Kind, list[JournalRow], dict[str, Any], bool]]
            ) -> dict[int, list[RowResult]]:
        """Creates, then updates, then deletes; the batches of one kind run concurrently."""
        out: dict[int, list[RowResult]] = {}
        for kind in (Kind.CREATE, Kind.UPDATE, Kind.DELETE):
            mine = [b for b in batches if b[1] is kind]
            self.totals[kind.value] = self.totals.get(kind.value, 0) + sum(len(b[2]) for b in mine)
            if self.concurrency == 1 or len(mine) < 2:
                for batch in mine:
                    out[batch[0]] = self.run_batch(*batch)
            else:
                with ThreadPoolExecutor(self.concurrency, thread_name_prefix="bulkio-apply") as pool:
                    futures = {b[0]: pool.submit(self.run_batch, *b) for b in mine}
                    for number, future in futures.items():
                        out[number] = future.result()
            if self.stopped:
                break
        return out

    # ------------------------------------------------------------------ bulk updates (opt-in)
    def _bulk_update(self, number: int, rows: list[JournalRow]) -> list[RowResult]:
        """Updates each with a value of its own, in two requests (more for the read when the ids fill the URL
        budget): read the batch's rows and check each guard here (a row that fails is a conflict, not written),
        then upsert the rest (`_upsert`).

        The guard is checked just before the write, not in it: that is the trade for one request per batch instead
        of one per distinct body. What the read saw of each row's `bulk_marker` (its ``createdAt``) is journaled
        before the upsert goes out, so that even a resumed run can tell a row the upsert put back.
        """
        if self.bulk_refused:
            return self._patch_groups(rows)
        res = self.resource
        marker = bulk_marker(res)
        assert marker is not None, "apply() turns bulk updates off for a table without a marker"
        current = fetch_rows_by(self.client, res, res.key, [str(r.key) for r in rows], _bulk_select(res, rows))
        out, ready = _against_read(res, rows, current,
                                   (Status.CONFLICT, "deleted on the server since the plan: not written"), _CHANGED)
        if ready:
            self.journal.append({"event": "read", "batch": number,
                                 "seen": {str(r.key): current[str(r.key)].get(marker) for r in ready}})
            out.update((result.key, result) for result in self._upsert(ready, current))
        return [out[r.key] for r in rows]

    def _upsert(self, rows: list[JournalRow], current: Mapping[str, Mapping[str, Any]]) -> list[RowResult]:
        """One upsert for rows whose guards held a moment ago; a server that will not upsert (a key without insert
        rights, an older server) gets guarded PATCHes instead, said once; a data error splits the rows in halves
        as `send` does."""
        try:
            return self._upsert_once(rows, current)
        except ApiError as exc:
            why = _upsert_refused(exc)
            if why is not None:
                self._refuse_bulk(why)
                return self._patch_groups(rows)
            if not _is_data_error(exc):
                raise
            return _bisected(rows, exc, lambda part: self._upsert(part, current))

    def _refuse_bulk(self, why: str) -> None:
        """Bulk updates are off for the rest of the run: one clear line, in the results and on stderr."""
        with self.lock:
            if self.bulk_refused:
                return
            self.bulk_refused = why
            line = f"bulk updates refused ({why}): updates go out as guarded PATCHes instead, one per distinct value"
            self.warnings.append(line)
        log.warning("bulkio: %s", line)

    def _upsert_once(self, rows: list[JournalRow], current: Mapping[str, Mapping[str, Any]]) -> list[RowResult]:
        """Upsert the rows: the key, the NOT NULL columns as just read and the changed columns (``columns=`` lists
        exactly these, so nothing else is written), ``updatedAt`` as a PATCH sets it. A returned row whose
        `bulk_marker` differs from the one read is a row someone deleted in between, which the upsert inserted
        again: it is deleted at once and reported as a conflict."""
        res = self.resource
        marker = bulk_marker(res)
        assert marker is not None
        columns = _bulk_columns(res, rows)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        records = []
        for r in rows:
            now = current[str(r.key)]
            record = {c: now.get(c) for c in columns if c != "updatedAt"}
            record.update(r.body)
            if "updatedAt" in columns and "updatedAt" not in r.body:
                record["updatedAt"] = stamp
            records.append(record)
        result = self.client.upsert(res, records, columns=columns, on_conflict=[res.key], select=[res.key, marker])
        back = {str(row[res.key]): row for row in result.rows}
        if any(str(r.key) not in back for r in rows):  # every row written comes back: never guess which did not
            raise _Stop(f"the server returned {len(result.rows)} rows for {len(rows)} upserted")
        column = res.column(marker)
        revived = [r for r in rows if normalize(column, back[str(r.key)].get(marker))
                   != normalize(column, current[str(r.key)].get(marker))]
        self._journal_updated([r for r in rows if r not in revived])
        if revived:
            self._delete_revived([(str(r.key), back[str(r.key)].get(marker)) for r in revived])
        gone = {r.key for r in revived}
        return [RowResult(r.row, r.key, Status.CONFLICT, r.label, r.key, error=_REVIVED) if r.key in gone
                else RowResult(r.row, r.key, Status.UPDATED, r.label, r.key) for r in rows]

    def _delete_revived(self, rows: list[tuple[str, Any]]) -> None:
        """Delete rows the upsert inserted again, each only as it inserted it (its key and new `bulk_marker`)."""
        res = self.resource
        marker = bulk_marker(res)
        assert marker is not None
        self.client.delete(res, guarded_filters(res.key, [(key, {marker: value}) for key, value in rows]),
                           returning=False, max_affected=len(rows))

    def _patch_groups(self, rows: list[JournalRow]) -> list[RowResult]:
        """The default path for a bulk batch: a guarded PATCH per distinct body, each cut under the URL budget."""
        groups: dict[str, list[JournalRow]] = {}
        for r in rows:
            groups.setdefault(json.dumps(r.body, sort_keys=True, default=str), []).append(r)
        out = []
        for members in groups.values():
            for chunk in guarded_chunks(self.client, self.resource, members):
                out += self.send(Kind.UPDATE, chunk, chunk[0].body)
        return out


def _bisected(rows: list[JournalRow], exc: ApiError, again: Callable[[list[JournalRow]], list[RowResult]]
              ) -> list[RowResult]:
    """After a data error (`exc`): a single row failed, with the server's error in words; more rows are sent again
    in halves (`again`), until the bad rows are found and the others applied."""
    if len(rows) == 1:
        r = rows[0]
        return [RowResult(r.row, r.key, Status.FAILED, r.label, r.key, error=exc.sentence or str(exc))]
    half = len(rows) // 2
    return [*again(rows[:half]), *again(rows[half:])]


def _against_read(res: Resource, rows: list[JournalRow], current: Mapping[str, Mapping[str, Any]],
                  gone: tuple[Status, str], changed: str) -> tuple[dict[str | None, RowResult], list[JournalRow]]:
    """Rows checked against what was just read, as a guarded write would check them: (the outcomes of rows gone
    (`gone`: status and why) or whose guard no longer holds (a conflict, `changed` saying why), the rows to write)."""
    out: dict[str | None, RowResult] = {}
    holding = []
    for r in rows:
        now = current.get(str(r.key))
        if now is None:
            out[r.key] = RowResult(r.row, r.key, gone[0], r.label, r.key, error=gone[1])
        elif not row_holds(res, now, r.guard):
            out[r.key] = RowResult(r.row, r.key, Status.CONFLICT, r.label, r.key, error=changed)
        else:
            holding.append(r)
    return out, holding


_REVIVED = ("deleted on the server between the bulk read and the write: the upsert inserted it again and it was "
            "deleted at once; plan again")


def _upsert_refused(exc: ApiError) -> str | None:
    """Why an upsert's refusal means "this server or key does not upsert" (None: the rows' own error).

    A key without the insert privilege (403/401 42501: an upsert is an INSERT), a method or feature the server
    refuses (405, 501), ``on_conflict`` it cannot use (42P10), or a server that ignored the resolution and tried a
    plain INSERT (23505 on the primary key)."""
    if exc.code == "42501" and exc.status in (401, 403) and "row-level security" not in (exc.message or ""):
        return "the API key may not insert, and an upsert is an insert"
    if exc.status in (405, 501):
        return f"the server answered {exc.status} to an upsert"
    if exc.code == "42P10":
        return "the server cannot upsert on the key"
    if exc.code == "23505" and "_pkey" in (exc.message or ""):
        return "the server did not honour resolution=merge-duplicates"
    return None


def bulk_marker(resource: Resource) -> str | None:
    """The column that tells a row the upsert inserted from the row it read: a NOT NULL timestamp the server fills
    on insert and nobody writes (``createdAt``). None: the table has none, and bulk updates are refused."""
    for column in resource.columns:
        if column.type is ColumnType.TIMESTAMP and column.has_default and column.read_only and not column.nullable:
            return column.name
    return None


def _bulk_columns(resource: Resource, rows: Sequence[JournalRow]) -> list[str]:
    """What one upsert writes: the key, the NOT NULL columns without a default (every proposed row needs them),
    the columns the rows change, ``updatedAt``. Rows of one bulk batch change the same columns (`_bulk_batches`),
    so no row writes a column it does not change, but for the NOT NULL ones."""
    names = dict.fromkeys([resource.key, *(c.name for c in resource.columns if c.required and c.name != resource.key)])
    for r in rows:
        names.update(dict.fromkeys(c for c in r.body if c in resource))
    if "updatedAt" in resource:
        names["updatedAt"] = None
    return list(names)


def _bulk_select(resource: Resource, rows: Sequence[JournalRow | RowPlan]) -> list[str]:
    """What a bulk batch's read asks for: the key, the marker, the NOT NULL columns and the guarded ones."""
    marker = bulk_marker(resource)
    names = dict.fromkeys([resource.key, *([marker] if marker else []),
                           *(c.name for c in resource.columns if c.required)])
    for r in rows:
        names.update(dict.fromkeys(c for c in (*r.body, *r.guard) if c in resource))
    return list(names)


# ------------------------------------------------------------------------------------------------ entry points
def apply(client: Client, plan: Plan | FamilyPlan, *, batch_size: int | None = None, concurrency: int | None = None,
          check_stale: bool = False, root: str | Path | None = None, progress: Progress | None = None,
          bulk_updates: bool = False) -> Results:
    """Carry out `plan`; return every row's outcome. The run's journal goes to ``<root>/.bulkio/runs/<run-id>/``.

    :param batch_size: rows per request (default: the client's settings, i.e. ``batch_size`` in the config file,
        else 500).
    :param concurrency: batches in flight at once (default: settings, 4).
    :param check_stale: first re-read the rows the plan writes and refuse if the server changed them since; without
        it, guards still turn such rows into conflicts.
    :param bulk_updates: send updates with values of their own in two requests per batch (a read, then an upsert:
        `_Runner._bulk_update`) instead of a guarded PATCH per distinct body. The guard is then checked just before
        the write, not in it; rows deleted in between are deleted again. A key or server that will not upsert, or a
        table without a ``createdAt`` to tell a re-inserted row, gets the guarded PATCHes, with a warning.
    :raises ValidationFailed: the plan has errors and was not made with ``skip_invalid``.
    :raises PlanConflict: with `check_stale`, when the server changed since the plan.
    :raises ApplyError: the run stopped (retries ran out, the key was refused): ``.results`` holds what was done and
        ``bulkio apply --resume <run>`` (or `resume`) finishes it.
    """
    if isinstance(plan, FamilyPlan):  # a table and its children: phases of runs like this one (`family`)
        from .family import apply_family

        return apply_family(client, plan, batch_size=batch_size, concurrency=concurrency,  # type: ignore[return-value]
                            check_stale=check_stale, root=root, progress=progress, bulk_updates=bulk_updates)
    plan.check_applicable()
    batch_size = client.settings.batch_size if batch_size is None else batch_size  # the config file's, as the CLI
    if check_stale and plan.is_stale(client):
        raise PlanConflict("the server's rows changed since the plan was made: plan again")
    start, retries = client.requests_made, client.retries
    warnings = []
    if bulk_updates and bulk_marker(plan.resource) is None:
        warnings.append(f"bulk updates refused ({plan.resource.name} has no createdAt column to tell a row the upsert "
                        "would insert again): updates go out as guarded PATCHes instead, one per distinct value")
        log.warning("bulkio: %s", warnings[-1])
        bulk_updates = False
    header = {
        "kind": "apply", "resource": plan.resource.name, "source": plan.source, "sheet": plan.sheet,
        "host": plan.host, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan": {"created_at": plan.created_at, "server_hash": plan.server_hash, "three_way": plan.three_way,
                 "counts": {k.value: n for k, n in plan.counts().items()}},
        "batches": journal_batches(client, plan, batch_size, bulk_updates), "other": unwritten_rows(plan),
        "warnings": warnings,
    }
    journal = Journal.create(root, header)
    return _execute(client, journal, concurrency, progress, start, retries)


def resume(client: Client, run: str | Path, *, root: str | Path | None = None, concurrency: int | None = None,
           progress: Progress | None = None) -> Results:
    """Finish a stopped or killed run without repeating what it did.

    A batch sent without a recorded outcome is checked first: creates by natural key (rows the server has are
    recorded as created, with their ids), updates by comparing the rows with what was sent and with their guard,
    deletes by whether the rows still exist. Only what did not happen is sent again.
    """
    journal = Journal(find_run(run, root))
    if journal.is_family:  # a family's run: its phases, each resumed or started
        from .family import resume_family

        return resume_family(client, journal.folder, concurrency=concurrency,  # type: ignore[return-value]
                             progress=progress)
    return _execute(client, journal, concurrency, progress, client.requests_made, client.retries)


def _execute(client: Client, journal: Journal, concurrency: int | None, progress: Progress | None,
             start: int, retries: int) -> Results:
    """Run what the journal says is left (first asking the server about batches sent without an outcome), then
    gather every row's outcome: the one path of `apply` and `resume`."""
    header = journal.header()
    resource = resource_for(client, header["resource"])
    runner = _Runner(client, resource, journal, concurrency=concurrency or client.settings.concurrency,
                     progress=progress)
    finished: dict[int, list[RowResult]] = {}
    sent: set[int] = set()
    seen: dict[int, dict[str, Any]] = {}
    for event in journal.events():
        if event["event"] == "sent":
            sent.add(event["batch"])
        elif event["event"] == "read":
            seen[event["batch"]] = event["seen"]
        elif event["event"] == "done":
            finished[event["batch"]] = [RowResult.from_dict(r) for r in event["results"]]
    todo = []
    for batch in header["batches"]:
        number, kind = batch["n"], Kind(batch["kind"])
        if number in finished:
            continue
        rows = [JournalRow(**r) for r in batch["rows"]]
        if number in sent:  # sent, outcome never recorded: ask the server what happened
            settled, rows = _reconcile(client, resource, kind, rows, seen.get(number))
            if settled:
                _record_settled(journal, kind, batch, settled)
                finished[number] = settled
            if not rows:
                journal.append({"event": "done", "batch": number, "results": [r.to_dict() for r in settled]})
                continue
        todo.append((number, kind, rows, batch["body"], bool(batch.get("bulk"))))
    outcomes = runner.run(todo)
    for number, results in outcomes.items():
        finished[number] = [*finished.get(number, []), *results]
    results = Results(journal.run_id, journal.folder, resource, _row_outcomes(header, finished),
                      client.requests_made - start, client.retries - retries, runner.stopped, header.get("source"),
                      header.get("sheet"), warnings=[*header.get("warnings", []), *runner.warnings])
    if runner.stopped:
        raise ApplyError(f"the run stopped: {runner.stopped}. Nothing is lost: finish it with "
                         f"`{results.resume_hint()}`", results=results)
    return results


def _record_settled(journal: Journal, kind: Kind, batch: Mapping[str, Any], settled: list[RowResult]) -> None:
    """Journal the rows of an in-doubt batch that the server shows done, with what undoing them needs: they
    happened before the answer was lost, so the run must be able to revert them like any other."""
    journal.append({"event": "reconciled", "batch": batch["n"], "results": [r.to_dict() for r in settled]})
    if kind is Kind.CREATE:
        bodies = {r.row: r.body for r in [JournalRow(**x) for x in batch["rows"]]}
        journal.undo({"kind": "created", "rows": [{"id": r.id, "body": bodies.get(r.row, {})}
                                                  for r in settled if r.status is Status.CREATED]})
    elif kind is Kind.UPDATE:  # applied before the answer was lost: undo needs what they held
        sent_rows = {r.key: r for r in [JournalRow(**x) for x in batch["rows"]]}
        done = [sent_rows[r.key] for r in settled if r.status is Status.UPDATED and r.key in sent_rows]
        if done:
            journal.undo({"kind": "updated", "rows": [{"key": r.key, "before": r.before, "after": dict(r.body)}
                                                      for r in done]})


def _row_outcomes(header: Mapping[str, Any], finished: Mapping[int, list[RowResult]]) -> list[RowResult]:
    """Every row of the run in sheet order: the outcome recorded for it, or pending where its batch has none (the
    run stopped before it), and the rows no batch carried. A created row is matched by its sheet row and label
    (it has no id until the server answers), any other by its row and key."""
    rows: list[RowResult] = []
    for batch in header["batches"]:
        create = batch["kind"] == Kind.CREATE.value
        got: dict[tuple[Any, Any], list[RowResult]] = {}
        for r in finished.get(batch["n"], []):
            got.setdefault((r.row, r.label if create else r.key), []).append(r)
        for r in batch["rows"]:
            matches = got.get((r["row"], r["label"] if create else r["key"]))
            rows.append(matches.pop(0) if matches else RowResult(r["row"], r["key"], Status.PENDING, r["label"],
                                                                 r["key"]))
    rows += [RowResult.from_dict(r) for r in header["other"]]
    rows.sort(key=lambda r: (r.row is None, r.row or 0))
    return rows


def _reconcile(client: Client, resource: Resource, kind: Kind, rows: list[JournalRow], seen: Mapping[str, Any] | None
               ) -> tuple[list[RowResult], list[JournalRow]]:
    """(rows whose outcome the server shows, rows still to send) for a batch whose outcome is unknown.

    :param seen: a bulk batch's journaled read (each row's `bulk_marker` then), when the read happened: a row whose
        marker differs now was deleted in between and inserted again by the upsert; it is deleted again here.
    """
    res = resource
    if kind is Kind.CREATE:
        return _reconcile_creates(client, res, rows)
    keys = [r.key for r in rows if r.key]
    marker = bulk_marker(res) if seen else None
    columns = sorted({*(c for r in rows for c in (*r.body, *r.guard))} - {"updatedAt"}) if kind is Kind.UPDATE else []
    current = fetch_rows_by(client, res, res.key, keys, [res.key, *columns, *([marker] if marker else [])])
    done, left, revived = [], [], []
    for r in rows:
        now = current.get(str(r.key))
        if kind is Kind.DELETE:
            if now is None:
                done.append(RowResult(r.row, r.key, Status.DELETED, r.label, r.key))
            else:
                left.append(r)
            continue
        if now is None:
            done.append(RowResult(r.row, r.key, Status.CONFLICT, r.label, r.key, error="deleted on the server"))
        elif marker and seen and str(r.key) in seen and normalize(res.column(marker), now.get(marker)) != \
                normalize(res.column(marker), seen[str(r.key)]):
            revived.append((str(r.key), now.get(marker)))
            done.append(RowResult(r.row, r.key, Status.CONFLICT, r.label, r.key, error=_REVIVED))
        elif row_holds(res, now, r.body):
            done.append(RowResult(r.row, r.key, Status.UPDATED, r.label, r.key))
        elif row_holds(res, now, r.guard):
            left.append(r)
        else:
            done.append(RowResult(r.row, r.key, Status.CONFLICT, r.label, r.key, error=_CHANGED))
    if revived and marker:
        client.delete(res, guarded_filters(res.key, [(k, {marker: v}) for k, v in revived]), returning=False,
                      max_affected=len(revived))
    return done, left


def _reconcile_creates(client: Client, res: Resource, rows: list[JournalRow]
                       ) -> tuple[list[RowResult], list[JournalRow]]:
    """Creates of a batch whose outcome is unknown, looked up by natural key: found rows were created."""
    natural = res.natural_key[0] if res.natural_key else None
    if natural is None:
        raise ApplyError(f"{res.name} has no natural key: cannot tell whether an interrupted create happened")
    names = [str(r.body.get(natural)) for r in rows]
    select = [c for c in (res.key, "readableId", natural) if c in res]
    found = fetch_rows_by(client, res, natural, names, select)
    done, left = [], []
    for r in rows:
        hit = found.get(str(r.body.get(natural)))
        if hit is None:
            left.append(r)
        else:
            done.append(RowResult(r.row, str(hit[res.key]), Status.CREATED, r.label, str(hit[res.key]),
                                  hit.get("readableId")))
    return done, left


def row_holds(resource: Resource, row: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether the server's `row` holds `values` (a guard, a body sent), each compared as the API would store it
    (`values.normalize`: ``1`` and ``1.0``, two spellings of one timestamp are the same). ``updatedAt`` and names
    that are not columns of `resource` are left out: a write sets ``updatedAt`` itself, so it never matches.

    The one comparison behind every "changed since?" question of a run: whether a row may still be deleted,
    whether an interrupted update happened (resume), whether a row may be reverted (undo)."""
    for name, value in values.items():
        if name == "updatedAt" or name not in resource:
            continue
        column = resource.column(name)
        if normalize(column, row.get(name)) != normalize(column, value):
            return False
    return True


def fetch_rows_by(client: Client, resource: Resource, column: str, values: Iterable[str], select: list[str]
                  ) -> dict[str, dict[str, Any]]:
    """The rows whose `column` is one of `values`, keyed by that column's value as text (as many requests as the
    URL budget needs: `Client.rows_in`). How a run learns what the server holds now: resume (by natural key for
    creates, by id otherwise) and undo (by id)."""
    return {str(row[column]): row for row in client.rows_in(resource, column, values, select)}


# ------------------------------------------------------------------------------------------------ how long
def update_requests(client: Client, plan: Plan, batch_size: int | None = None, *, bulk_updates: bool = False) -> int:
    """Requests the plan's updates take (no request is made): a guarded PATCH per distinct body, cut under the URL
    budget; or, with `bulk_updates`, per bulk batch an upsert and the read before it (one request per ~200 ids)."""
    if bulk_updates:
        res = plan.resource
        return sum(1 + len(client.in_chunks(res, res.key, [r.key for r in chunk], _bulk_select(res, chunk)))
                   for chunk in bulk_batches(plan, batch_size))
    return sum(len(split_batch(client, plan.resource, b)) for b in plan.batches(batch_size) if b.kind is Kind.UPDATE)


def pace_note(client: Client, plan: Plan, batch_size: int | None = None, *, bulk_updates: bool = False
              ) -> str | None:
    """A sentence for people when the plan's updates need many requests: how long they take at the key's rate
    (the settings', else Carbon's 60 a minute), and the bulk option with its trade-off. None when they are few."""
    patches = update_requests(client, plan, batch_size)
    if patches <= _BULK_SLOWER:
        return None
    rate = client.settings.rate_limit or DEFAULT_RATE
    bulk = update_requests(client, plan, batch_size, bulk_updates=True)
    if bulk_updates:
        return f"the updates take {bulk} requests with --bulk-updates ({_minutes(bulk, rate)} at {rate} a minute) " \
               f"instead of {patches} ({_minutes(patches, rate)})"
    return (f"the updates take {patches} requests, about {_minutes(patches, rate)} at {rate} requests a minute; "
            f"--bulk-updates sends them in {bulk} ({_minutes(bulk, rate)}), but each row's guard is then checked "
            "just before the write, not in it")


def _minutes(requests: int, rate: int) -> str:
    minutes = requests / max(1, rate)
    return f"{math.ceil(minutes)} min" if minutes >= 1 else f"{math.ceil(minutes * 60)} s"


# ------------------------------------------------------------------------------------------------ server check
def server_check(client: Client, plan: Plan, *, batch_size: int | None = None) -> tuple[bool, list[RowResult]]:
    """Send the plan's batches in rolled-back transactions, so the database's own constraints (unique names,
    foreign keys, checks) are checked too; nothing is written.

    Only when the server says it honoured ``Prefer: tx=rollback`` (probed first with a write that matches no row):
    a server that ignores the preference would commit, so then nothing is sent.

    :returns: (whether the check ran, the rows the database refused, each with its error in words).
    """
    if not client.probe_tx_rollback(plan.resource):
        return False, []
    runner = _Runner(client, plan.resource, _NullJournal(), concurrency=1, progress=None)
    failed: list[RowResult] = []
    for batch in plan.batches(batch_size):
        for chunk in split_batch(client, plan.resource, batch):
            rows = [JournalRow.of(r) for r in chunk]
            results = runner.send(batch.kind, rows, batch.body, tx_rollback=True)
            failed += [r for r in results if r.status is Status.FAILED]
    return True, failed


class _NullJournal(Journal):
    """A server check writes nothing: no journal."""

    def __init__(self) -> None:
        super().__init__(Path("."))

    def append(self, record: dict[str, Any]) -> None:
        return None

    def undo(self, record: dict[str, Any]) -> None:
        return None

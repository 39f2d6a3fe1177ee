"""What the plan's decisions need from the server, read in as few requests as it can be.

Three-way (a sheet with its export snapshot), a row whose cells equal the snapshot is unchanged whatever the server
holds, so the lean read (`read_lean`) asks only for the rows a decision needs: the rows the sheet changes, deletes
or pastes in, the export's rows the sheet dropped (``delete_missing``), and the names of new rows (a create must not
take a name the server holds). They go by id and name in ``or=(id.in.(...),name.in.(...))`` requests cut under the
URL budget, and, for a table with ``updatedAt``, the rows changed since the export (to report the server's changes to
untouched rows) ride in the first of them when the export was of the whole table: its cost follows the edit, not the
export.

The full read (`fetch_server_rows`: two-way plans, ``full_read``, and a lean read that would cost more) reads the
rows of every id the sheet and the snapshot hold. Two ways can read them, and the cheaper one is taken: the ids in
``id=in.(...)`` requests (about 200 ids a request, cut under the URL budget), or the export's own filter again (about
1,000 rows a page), when the sheet's rows are exactly what that filter matched. Rows read through the filter that the
sheet does not hold are dropped; ids outside it (pasted in, or moved out of it since the export) are then read by id.

`Plan.is_stale` reads again only the rows the plan would write (`reread`) and compares their hash (`state_hash`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from ..api.query import as_params, encoded_length, quote
from ..resources import Resource
from ..sheets.flatten import split_custom
from ..sheets.read import Sheet
from ..validate.server import present_in

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["CLOCK_MARGIN", "ServerRows", "changed_since", "fetch_server_rows", "key_requests", "read_lean", "reread",
           "select_columns", "stale_scope", "state_hash"]

UPDATED_AT = "updatedAt"
CLOCK_MARGIN = timedelta(minutes=10)
"""How far before the export's time the lean read looks for the server's changes. ``updatedAt`` is set by whoever
writes the row, on their clock, not the exporter's: a margin keeps a clock a few minutes behind from hiding a change.
Reading too early costs nothing but rows: a row changed before the export is in the snapshot as it is now, so the
compare finds it unchanged."""


@dataclass(frozen=True)
class ServerRows:
    """The server's rows a plan compares with.

    :param rows: by id, the rows of the wanted ids the server still holds.
    :param whole_table: every row the API key can see, when the export's filter was the whole table and the rows
        were read through it (then the names a new row must not take are known without asking).
    :param scope: the export's filter, when the rows were read through it (`Plan.is_stale` reads them so again).
    """

    rows: dict[str, dict[str, Any]]
    whole_table: list[dict[str, Any]] | None
    scope: tuple[str, ...] | None
    asked: frozenset[str] | None = None
    """The ids looked for (lean read), or None: every id wanted (full read). An id asked for that the server lacks
    is gone; any other id missing from `rows` was not looked for."""
    taken: Mapping[str, frozenset[str]] | None = None
    """By natural-key column, the new rows' values the server holds, when the read asked (lean read)."""


def select_columns(resource: Resource, compared: Sequence[str]) -> list[str]:
    """The columns to read from the server: the key, the compared columns (a custom field's whole object), the
    natural key (row labels, name checks) and ``updatedAt`` (the guard of a row whose values are too long)."""
    names = {resource.key}
    for name in compared:
        split = split_custom(name, resource)
        names.add(split[0].name if split else name)
    names.update(resource.natural_key)
    if "updatedAt" in resource:
        names.add("updatedAt")
    return [c.name for c in resource.columns if c.name in names]


def key_requests(client: Client, resource: Resource, keys: list[str], select: list[str], beyond: int | None = None
                 ) -> int:
    """How many ``id=in.(...)`` requests fetching `keys` takes; counting stops past `beyond` (the requests the
    other way takes), since only which way is cheaper matters: the URLs of 100,000 ids take a second to cut."""
    chunks = client.split_in(resource, resource.key, keys, [("select", ",".join(select))])
    return sum(1 for _ in (chunks if beyond is None else islice(chunks, beyond + 1)))


def fetch_server_rows(client: Client, sheet: Sheet, wanted: set[str], select: list[str]) -> ServerRows:
    """The server's rows of the `wanted` ids, through the export's filter or by id, whichever takes fewer
    requests."""
    res = sheet.resource
    scope = _scope_filters(sheet)
    scope_requests = _scope_pages(client, sheet)
    ids_requests = key_requests(client, res, sorted(wanted), select, scope_requests) if wanted else 0
    if not (wanted and scope is not None and scope_requests is not None and scope_requests <= ids_requests):
        return ServerRows(_read(client, res, wanted, None, select)[0], None, None)
    rows, matched = _read(client, res, wanted, scope, select)
    return ServerRows(rows, matched if not scope else None, tuple(scope))


def changed_since(sheet: Sheet) -> str | None:
    """The time from which the lean read asks for the server's changes (the export's time less `CLOCK_MARGIN`),
    or None: the table has no ``updatedAt``, or the workbook does not say when and how it was exported."""
    meta = sheet.meta
    if UPDATED_AT not in sheet.resource or not meta or meta.get("resource") != sheet.resource.name:
        return None
    if _export_filters(sheet) is None:
        return None
    try:
        stamp = datetime.fromisoformat(str(meta.get("exported_at") or ""))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - CLOCK_MARGIN).astimezone(UTC).isoformat(timespec="seconds")


def read_lean(client: Client, sheet: Sheet, ids: Collection[str], names: Mapping[str, Collection[str]],
              select: list[str], everything: Collection[str]) -> ServerRows:
    """The rows of `ids`, whether the server holds the new rows' `names` (by natural-key column) and the rows
    changed since the export (`changed_since`), in as few requests as the URL budget allows; or the full read of
    `everything` (`fetch_server_rows`), when reading the export's filter again takes no more requests.

    :param everything: the ids of the sheet and the snapshot: rows of other ids (new on the server, or only
        matching a name) tell names, and are not kept.
    """
    res = sheet.resource
    since = changed_since(sheet)
    scope = _export_filters(sheet) or []
    folded = since is not None and not scope  # the whole table: the changes ride in the first request
    groups = [(res.key, sorted(ids)), *((column, sorted(set(values))) for column, values in names.items())]
    requests: Iterator[str] = _or_values(client, res, select, groups,
                                         [f"{UPDATED_AT}.gt.{quote(since)}"] if folded and since else [])
    scope_pages = _scope_pages(client, sheet)
    if scope_pages is not None:
        first = list(islice(requests, scope_pages + 1))
        if scope_pages <= len(first) + (since is not None and not folded):
            return fetch_server_rows(client, sheet, set(everything), select)
        requests = iter(first)  # all of them: fewer than the scope's pages
    rows = [row for value in requests for page in client.iter_pages(res, select=select, filters=[("or", value)])
            for row in page]
    if since is not None and not folded:  # within the export's filter, which the ids' requests must not be
        rows += [row for page in client.iter_pages(res, select=select, filters=[*scope, (UPDATED_AT, f"gt.{since}")])
                 for row in page]
    wanted = set(everything)
    kept = {str(row[res.key]): row for row in rows if str(row[res.key]) in wanted}
    taken = {column: frozenset(present_in(rows, column, values)) for column, values in names.items()}
    return ServerRows(kept, None, None, frozenset(ids) | frozenset(kept), taken)


def _or_values(client: Client, resource: Resource, select: Sequence[str], groups: Sequence[tuple[str, Sequence[str]]],
               first: Sequence[str]) -> Iterator[str]:
    """``or=(...)`` values asking for `groups` (column, values: a ``column.in.(...)`` term each), as many values a
    request as keep its URL under the budget, measured as `Client.rows_in` measures it (with a continuation page's
    key); the `first` terms ride in the first request. Nothing to ask, no request.

    :raises ValueError: a single value too long for a request URL.
    """
    params = [("select", ",".join(select)), ("order", f"{resource.key}.asc"),
              ("limit", str(client.settings.page_size)), (resource.key, "gt." + "x" * 64)]
    room = (client.settings.url_budget - len(client.base_url) - len(resource.path) - len("?&or=")
            - encoded_length(params))
    fixed, parts = list(first), []
    used = _size("()") + sum(_size(term) + 3 for term in fixed)
    for column, values in groups:
        header = _size(f"{column}.in.()") + 3  # the term, and the comma before it
        for value in values:
            item = _size(quote(value))
            opens = not parts or parts[-1][0] != column
            if used + item + (header if opens else 3) > room and (parts or fixed):
                yield _or_value(fixed, parts)
                fixed, parts, used, opens = [], [], _size("()"), True
            extra = item + (header if opens else 3)
            if used + extra > room:
                raise ValueError(f"a value of {column} takes {item} bytes encoded: too long for one request URL "
                                 f"({room - used - header} bytes are left under the URL budget)")
            if opens:
                parts.append((column, []))
            parts[-1][1].append(value)
            used += extra
    if parts or fixed:
        yield _or_value(fixed, parts)


def _or_value(fixed: Sequence[str], parts: Sequence[tuple[str, Sequence[str]]]) -> str:
    terms = [*fixed, *(f"{column}.in.({','.join(map(quote, values))})" for column, values in parts)]
    return "(" + ",".join(terms) + ")"


def _size(text: str) -> int:
    """Bytes of `text` in a URL's query, encoded as httpx sends it."""
    return len(quote_plus(text, safe=""))


def reread(client: Client, resource: Resource, fetched: Collection[str], scope: Sequence[str] | None,
           select: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of the `fetched` ids read again the way the plan read them (through `scope`, or by id)."""
    rows, _ = _read(client, resource, set(fetched), None if scope is None else list(scope), list(select))
    return list(rows.values())


def stale_scope(client: Client, sheet: Sheet, scope: Sequence[str] | None, keys: Sequence[str],
                select: Sequence[str]) -> tuple[str, ...] | None:
    """How `Plan.is_stale` reads the rows a plan would write (`keys`): through the export's filter (`scope`, when
    the plan read the server so) only when reading them by id takes more requests; None: by id."""
    pages = _scope_pages(client, sheet) if scope is not None and keys else None
    if scope is None or pages is None:
        return None
    return tuple(scope) if key_requests(client, sheet.resource, list(keys), list(select), pages) > pages else None


def state_hash(resource: Resource, rows: list[dict[str, Any]]) -> str:
    """A hash of server rows, whatever their order: equal hashes, the server holds what the plan saw."""
    ordered = sorted(rows, key=lambda r: str(r.get(resource.key)))
    text = json.dumps(ordered, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _read(client: Client, resource: Resource, wanted: set[str], scope: list[str] | None, select: list[str]
          ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]] | None]:
    """The rows of the `wanted` ids by id, and every row `scope` matched when read through it (None: by id)."""
    key = resource.key
    if scope is None:
        return ({str(r[key]): r for r in client.rows_in(resource, key, wanted, select)} if wanted else {}), None
    matched = [row for page in client.iter_pages(resource, select=select, filters=scope) for row in page]
    rows = {str(row[key]): row for row in matched if str(row[key]) in wanted}
    rest = sorted(wanted - set(rows))
    if rest:  # ids outside the filter (pasted in, or moved out of it since the export)
        rows.update((str(r[key]), r) for r in client.rows_in(resource, key, rest, select))
    return rows, matched


def _scope_filters(sheet: Sheet) -> list[str] | None:
    """The export's filter, when the sheet's rows are exactly what it matched (no limit)."""
    meta = sheet.meta
    if not meta or meta.get("limit") not in (None, "", "None"):
        return None
    filters = _export_filters(sheet)
    return None if filters is None else [f"{column}={expression}" for column, expression in filters]


def _export_filters(sheet: Sheet) -> list[tuple[str, str]] | None:
    """The filter the export read (limit or not), as parameters; None: the workbook does not say."""
    meta = sheet.meta
    if not meta or meta.get("kind") == "template" or meta.get("resource") != sheet.resource.name:
        return None
    try:
        return as_params([str(f) for f in json.loads(meta.get("filters") or "[]")])
    except ValueError:
        return None


def _scope_pages(client: Client, sheet: Sheet) -> int | None:
    """The requests reading the export's filter again takes (None: the sheet's rows are not what it matched)."""
    if _scope_filters(sheet) is None or sheet.meta is None:
        return None
    try:
        exported = int(sheet.meta.get("rows", ""))
    except ValueError:
        return None
    size = client.settings.page_size  # each page carries the exact count: the last one costs no extra request
    return max(1, -(-exported // size))

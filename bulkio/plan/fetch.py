"""What the plan's decisions need from the server, read in as few requests as it can be.

A plan compares each row of the sheet with the server's row now, so it reads the rows of every id the sheet holds
(and every id of the export snapshot, for the rows deleted from the sheet). Two ways can read them, and the cheaper
one is taken: the ids in ``id=in.(...)`` requests (about 200 ids a request, cut under the URL budget), or the
export's own filter again (about 1,000 rows a page), when the sheet's rows are exactly what that filter matched.
Rows read through the filter that the sheet does not hold are dropped; ids outside it (pasted in, or moved out of
it since the export) are then read by id. The same reading, done again, tells whether a plan went stale
(`state_hash`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..resources import Resource
from ..sheets.flatten import split_custom
from ..sheets.read import Sheet

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["ServerRows", "fetch_server_rows", "key_requests", "reread", "select_columns", "state_hash"]


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


def reread(client: Client, resource: Resource, fetched: Collection[str], scope: Sequence[str] | None,
           select: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of the `fetched` ids read again the way the plan read them (through `scope`, or by id)."""
    rows, _ = _read(client, resource, set(fetched), None if scope is None else list(scope), list(select))
    return list(rows.values())


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
    if not meta or meta.get("kind") == "template" or meta.get("resource") != sheet.resource.name:
        return None
    if meta.get("limit") not in (None, "", "None"):
        return None
    try:
        return [str(f) for f in json.loads(meta.get("filters") or "[]")]
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

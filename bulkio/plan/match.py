"""Matching a sheet's rows to the server's on a natural key, for lists from other systems (issue 17).

A row without an ``id`` whose key (``name``, ``readableId``, or columns the user names) matches exactly one server
row is an update of that row: `match_rows` writes that row's id into the sheet, and the plan then compares the row
with it like any row with an id. A key that matches nothing leaves the row a create. A key that matches several
server rows, or that two sheet rows share, is an error at each of those rows, never "first match wins".

Matching is exact: case and inner spaces count (cells are trimmed, as every cell is). The server is asked only for
the sheet's keys, ``<column>=in.(...)`` cut under the URL budget (`Client.rows_in`): requests in proportion to the
sheet, never a read of the table.

Which keys a table may be matched on: the unique keys it declares (customer: ``name`` and ``readableId``, each
unique within the company). A table built from the server's OpenAPI document declares none (the document shows no
UNIQUE constraints), so any columns the user names are accepted there, with a warning that the server may hold the
same key twice (such rows are then reported as ambiguous).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, WorkbookError
from ..resources import Resource
from ..sheets.layout import ACTION_COLUMN, DELETE
from ..sheets.read import Sheet
from ..sheets.values import empty_mask
from ..validate.report import Issue, IssueCode, column_letter

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["Match", "match_keys", "match_rows", "parse_match"]


def match_keys(resource: Resource) -> list[tuple[str, ...]]:
    """The keys a table declares unique for people (its tenant column left out: every row read is the key's
    company's): customer -> ``[("name",), ("readableId",)]``."""
    keys: list[tuple[str, ...]] = []
    for columns in (resource.natural_key, *resource.unique):
        key = tuple(c for c in columns if c != resource.tenant_column)
        if key and key not in keys:
            keys.append(key)
    return keys


def parse_match(match: str | Sequence[str], resource: Resource) -> tuple[tuple[str, ...], str | None]:
    """The match key's columns (``"name"``, ``"name,phone"`` or a list) and a warning when the table declares no
    unique key to check it against.

    :raises ConfigError: an unknown column; a key the table does not declare unique (when it declares some).
    """
    names = [match] if isinstance(match, str) else list(match)
    columns = tuple(dict.fromkeys(c.strip() for n in names for c in n.split(",") if c.strip()))
    if not columns:
        raise ConfigError("match: name the key column(s), e.g. --match name")
    for column in columns:
        if column not in resource:
            raise ConfigError(f"match: {resource.name} has no column {column!r}")
        if column == resource.key:
            raise ConfigError(f"match: {column!r} is the table's key: rows with an id are matched on it already")
    declared = match_keys(resource)
    shown = ", ".join("+".join(k) for k in declared)
    if declared and columns not in declared:
        raise ConfigError(f"match: {'+'.join(columns)} is not a unique key of {resource.name}; it has: {shown}")
    if declared:
        return columns, None
    return columns, (f"matching on {'+'.join(columns)}: {resource.name} declares no unique key (its OpenAPI "
                     "document shows none), so nothing on the server keeps two rows from sharing it; bulkio "
                     "reports a key found on several rows as an error, never picks one")


@dataclass(frozen=True)
class Match:
    """What matching found, by the row's place in the sheet's frame.

    :param columns: the key's columns.
    :param ids: the matched rows: place -> the server row's id.
    :param missed: places of rows whose key the server does not hold (creates).
    :param keys: each looked-up row's key as text (``Acme Ltd``; columns joined by `` / ``), for labels.
    :param server: the matched server rows (key, key columns and natural key), by id.
    :param issues: ambiguous keys and keys shared by sheet rows.
    :param notices: warnings: a key that matched nothing and holds a ``?`` (an encoding may have mangled it).
    :param requests: the requests matching took.
    """

    columns: tuple[str, ...]
    ids: dict[int, str] = field(default_factory=dict)
    missed: list[int] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)
    server: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    notices: list[Issue] = field(default_factory=list)
    requests: int = 0
    warning: str | None = None

    def describe(self, sh: Sheet) -> str:
        """One line for the plan's notes: which rows matched on what."""
        what = "+".join(self.columns)
        matched = _rows([sh.rows[p] for p in sorted(self.ids)])
        missed = _rows([sh.rows[p] for p in self.missed])
        parts = [f"matched on {what}: {len(self.ids)} row(s) to existing {sh.resource.name} rows"
                 + (f" (rows {matched})" if matched else "")]
        if self.missed:
            parts.append(f"{len(self.missed)} row(s) matched nothing (rows {missed})")
        if self.issues:
            parts.append(f"{len({i.row for i in self.issues})} row(s) could not be matched (see the errors)")
        return "; ".join(parts)


def _rows(numbers: list[int], limit: int = 12) -> str:
    """Excel row numbers for a sentence, runs joined (``2-5, 9``), the first `limit` runs."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    shown = [f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs[:limit]]
    return ", ".join(shown) + (f", ... ({len(runs) - limit} more)" if len(runs) > limit else "")


def _texts(sh: Sheet, column: str) -> list[str | None]:
    """Each row's cell of `column` as trimmed text (None: blank)."""
    cells = sh.frame[column].to_numpy(dtype=object)
    return [None if blank else str(v).strip() for v, blank in zip(cells.tolist(), empty_mask(cells).tolist(),
                                                                    strict=True)]


_QUESTION_MARK = ("matched nothing, and it holds a '?': Excel writes '?' for each letter its CSV encoding cannot "
                  "hold (Ł, ő, 株...), so this may be an existing row's key, mangled; save the sheet as 'CSV UTF-8' "
                  "(or .xlsx) and plan again, else this row creates a new one")


def _issue(sh: Sheet, position: int, column: str, value: Any, code: IssueCode, message: str,
           severity: str = "error") -> Issue:
    return Issue(sh.file, sh.sheet, sh.rows[position], column_letter(sh.frame, column), column, value, code, message,
                 severity)


def _likely_header(sh: Sheet, column: str) -> str | None:
    """The sheet header that most likely holds `column` (``Customer Name`` for ``name``), for the error's hint."""
    want = column.casefold()
    headers = [str(h) for h in sh.frame.columns if str(h) not in sh.resource]
    holding = [h for h in headers if want in h.casefold().replace(" ", "").replace("_", "")]
    if holding:
        return min(holding, key=len)
    near = difflib.get_close_matches(want, [h.casefold() for h in headers], n=1, cutoff=0.6)
    return next((h for h in headers if near and h.casefold() == near[0]), None)


def match_rows(client: Client, sh: Sheet, match: str | Sequence[str]) -> tuple[Sheet, Match]:
    """Fill in the id of each row without one whose key matches exactly one server row.

    :returns: the sheet with those ids (an ``id`` column is added at the end when the sheet has none, so the
        other columns keep their letters), and what matching found.
    :raises ConfigError: a key the table cannot be matched on. :raises WorkbookError: the sheet lacks a key column.
    """
    res = sh.resource
    columns, warning = parse_match(match, res)
    missing = [c for c in columns if c not in sh.frame.columns]
    if missing:
        header = _likely_header(sh, missing[0])
        hint = f"--map '{header}={missing[0]}'" if header else "--map 'Header=column'"
        raise WorkbookError(f"matching on {'+'.join(columns)} needs a {missing[0]!r} column, which the sheet does "
                            f"not have (map a header to it: {hint})", file=sh.file)
    start = client.requests_made
    n = len(sh.frame)
    ids = _texts(sh, res.key) if res.key in sh.frame.columns else [None] * n
    actions = _texts(sh, ACTION_COLUMN) if ACTION_COLUMN in sh.frame.columns else [None] * n
    cells = [_texts(sh, c) for c in columns]
    keys: dict[int, tuple[str, ...]] = {}
    for p in range(n):
        key = tuple(col[p] for col in cells)
        if all(v is not None for v in key):
            keys[p] = key  # type: ignore[assignment]
    found = Match(columns, keys={p: " / ".join(k) for p, k in keys.items()}, warning=warning)
    wanted = {p: k for p, k in keys.items() if not ids[p] and (actions[p] or "").lower() != DELETE}
    shared = _shared_keys(sh, columns, keys, wanted, found.issues)
    server = _server_rows(client, res, columns, {k[0] for p, k in wanted.items() if p not in shared})
    taken = {i for i in ids if i}
    for p, key in wanted.items():
        if p in shared:
            continue
        on_server = server.get(key, [])
        shown = " / ".join(key)
        if not on_server:
            found.missed.append(p)
            if "?" in shown:
                found.notices.append(_issue(sh, p, columns[0], shown, IssueCode.BAD_VALUE, _QUESTION_MARK, "warning"))
        elif len(on_server) > 1:
            listed = ", ".join(str(r[res.key]) for r in on_server[:5])
            found.issues.append(_issue(sh, p, columns[0], shown, IssueCode.AMBIGUOUS_MATCH,
                                       f"{'+'.join(columns)} {shown!r} matches {len(on_server)} {res.name} rows on "
                                       f"the server ({listed}): give the row its id, or match on a unique key"))
        elif str(on_server[0][res.key]) in taken:
            found.issues.append(_issue(sh, p, columns[0], shown, IssueCode.DUPLICATE_MATCH,
                                       f"{'+'.join(columns)} {shown!r} matches {on_server[0][res.key]}, which "
                                       "another row of the sheet updates by its id"))
        else:
            key_id = str(on_server[0][res.key])
            found.ids[p] = key_id
            found.server[key_id] = on_server[0]
    found = replace(found, requests=client.requests_made - start)
    return _with_ids(sh, found.ids), found


def _shared_keys(sh: Sheet, columns: tuple[str, ...], keys: dict[int, tuple[str, ...]],
                 wanted: dict[int, tuple[str, ...]], issues: list[Issue]) -> set[int]:
    """Places of rows to match whose key another sheet row has too: an error at each, naming the others."""
    by_key: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for p, key in keys.items():
        by_key[key].append(p)
    shared = set()
    for p, key in wanted.items():
        others = [sh.rows[q] for q in by_key[key] if q != p]
        if others:
            shared.add(p)
            shown = " / ".join(key)
            issues.append(_issue(sh, p, columns[0], shown, IssueCode.DUPLICATE_MATCH,
                                 f"{'+'.join(columns)} {shown!r} is also on row {', '.join(map(str, others))}: "
                                 "a match key must name one row"))
    return shared


def _server_rows(client: Client, res: Resource, columns: tuple[str, ...], first: set[str]
                 ) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """The server's rows whose first key column is one of `first` (``in.(...)`` under the URL budget), by key."""
    if not first:
        return {}
    select = list(dict.fromkeys([res.key, *columns, *res.natural_key]))
    out: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in client.rows_in(res, columns[0], first, select):
        values = [row.get(c) for c in columns]
        if all(v is not None for v in values):
            out[tuple(str(v).strip() for v in values)].append(row)
    return out


def _with_ids(sh: Sheet, ids: dict[int, str]) -> Sheet:
    """The sheet with the matched ids in its key column (added at the end when it has none)."""
    if not ids:
        return sh
    key = sh.resource.key
    frame = sh.frame.copy()
    column = frame[key].to_numpy(dtype=object).copy() if key in frame.columns else np.full(len(frame), None, object)
    for p, value in ids.items():
        column[p] = value
    frame[key] = column
    return replace(sh, frame=frame, kinds=None)

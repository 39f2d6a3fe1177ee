"""The dry run: what importing a sheet would do, row by row and field by field. A plan never writes.

``plan(client, "customers.xlsx")`` reads the sheet, validates it, fetches the server's current rows for the sheet's
ids (in as few requests as the URL budget or the export's own filter allow) and compares sheet, export snapshot and
server (`bulkio.diff`, design decision 3). Each row becomes a `RowPlan` of one `Kind`:

- **create**: an empty id; **update**: only the columns the user changed, each with before -> after;
- **delete**: ``_action = delete``, or a row of the export missing from the sheet with ``delete_missing=True`` (only
  rows the export held: a filtered or limited export never deletes outside what it exported);
- **conflict**: the user and the server both changed a column, differently, since the export; or the row was
  deleted on the server; or a row to delete was changed on the server;
- **skipped**: a row with a validation error (the plan can be applied without them only with ``skip_invalid``);
- **unchanged**; a column only the server changed is left alone and listed as *kept*.

The plan records what `apply` needs: each update's patch body and its guard (the server values of the changed
columns as seen now, so a concurrent edit makes the guarded PATCH match no row), batches, and a hash of the server
rows it saw, so a stale plan can be refused.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from .diff import (
    ColumnDiff,
    array_cells,
    by_distinct,
    canonical_codes,
    columns_of,
    compare,
    custom_differ,
    differ,
    fields_of,
    objects,
)
from .errors import ValidationFailed
from .filters import GUARD_LIMIT, guard_filters, guard_size, guarded_filters
from .flatten import split_custom
from .lookups import LabelError, Lookup, fetch_lookups
from .precision import Reformatted, leave_reformatted, reformattable, restorable, restore_cells
from .read import Sheet, read_sheet, workbook_table
from .resources import Column, ColumnType, Resource, get_resource, resource_for
from .snapshot import snapshot_columns
from .validate import (
    Issue,
    IssueCode,
    ValidationReport,
    control_character,
    new_row_names,
    present_on_server,
    taken_name_issues,
    unknown_key_issues,
    validate,
)
from .values import CellError, empty_mask, from_cell, from_custom_cell, is_empty, normalize, to_cell, to_custom_cell
from .workbook import ACTION_COLUMN

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Batch", "FieldChange", "Kind", "Plan", "RowPlan", "Unchanged", "guard_filters", "guarded_filters",
           "make_plan", "plan"]

class Kind(StrEnum):
    """What a row of the sheet will do."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class FieldChange:
    """One field: the server's value now (`before`), the sheet's (`after`) and, in a three-way plan, the exported
    value (`base`, read back from the snapshot's cell). All three are API values: ids, not labels; lists, not
    ``a, b``."""

    column: str
    before: Any
    after: Any
    base: Any = None


@dataclass(frozen=True)
class RowPlan:
    """One row of the plan.

    :param key: the row's id (None for a create).
    :param row: the Excel row of the sheet (None for a row missing from the sheet).
    :param label: the row's natural key (``name``), for people.
    :param changes: create: the values sent; update: the changed fields; conflict: the conflicting fields.
    :param kept: fields only the server changed, left alone.
    :param body: what is sent: the new record (create) or the patch (update).
    :param guard: update: ``{column: value the server must still hold}``.
    :param reason: why a row is a conflict or skipped.
    """

    kind: Kind
    key: str | None
    row: int | None
    label: str | None = None
    changes: tuple[FieldChange, ...] = ()
    kept: tuple[FieldChange, ...] = ()
    body: Mapping[str, Any] = field(default_factory=dict)
    guard: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class Batch:
    """Rows sent together: creates (POST arrays), updates sharing one patch body (PATCHes whose filter carries each
    row's guard, `guarded_filters`), or deletes (DELETEs with ``id=in.(...)``). `apply` splits a batch into requests
    under the URL budget."""

    kind: Kind
    rows: tuple[RowPlan, ...]
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.rows if r.key is not None]


class Unchanged(Sequence[tuple[str, int]]):
    """(key, Excel row) of each unchanged row (Excel row 0: a row missing from the sheet), held as two arrays:
    most rows of a big sheet are unchanged, and making a tuple for each of 100,000 rows costs more than the
    compare that found them. A sequence of tuples to read; equal to any sequence of the same tuples."""

    def __init__(self, keys: Sequence[str] = (), rows: Sequence[int] = ()) -> None:
        if len(keys) != len(rows):
            raise ValueError("keys and rows differ in number")
        self._keys = np.asarray(keys, dtype=object)
        self._rows = np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> tuple[str, int]: ...

    @overload
    def __getitem__(self, index: slice) -> Unchanged: ...

    def __getitem__(self, index: int | slice) -> tuple[str, int] | Unchanged:
        if isinstance(index, slice):
            return Unchanged(self._keys[index], self._rows[index])
        return self._keys[index], int(self._rows[index])

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return zip(self._keys.tolist(), self._rows.tolist(), strict=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == tuple(b) for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Unchanged {len(self)} rows>"

    def __add__(self, more: Sequence[tuple[str, int]]) -> Unchanged:
        """These rows and `more`."""
        if not more:
            return self
        keys, rows = zip(*more, strict=True)
        return Unchanged(np.concatenate([self._keys, np.asarray(keys, dtype=object)]),
                         np.concatenate([self._rows, np.asarray(rows, dtype=np.int64)]))


@dataclass
class Plan:
    """What importing a sheet would do. Made by `plan`; carried out by `bulkio.apply`.

    :param rows: every row that is not unchanged, in sheet order (rows missing from the sheet last).
    :param unchanged: (key, Excel row) of the unchanged rows (`Unchanged`, compact: most rows of a big sheet are
        unchanged).
    :param three_way: compared with the export snapshot; False: sheet against server only.
    :param issues: the validation report (with the server checks the plan made).
    :param server_hash: a hash of the server rows the plan saw (`Plan.is_stale` checks it).
    :param fetched: the ids whose server rows the hash covers.
    """

    resource: Resource
    source: str
    sheet: str | None
    rows: tuple[RowPlan, ...]
    unchanged: Sequence[tuple[str, int]]
    three_way: bool
    delete_missing: bool
    skip_invalid: bool
    issues: ValidationReport
    warnings: tuple[str, ...]
    server_hash: str
    fetched: tuple[str, ...]
    created_at: str
    host: str
    requests: int = 0
    select: tuple[str, ...] = ()
    scope: tuple[str, ...] | None = None
    """The export's filter when the plan read the server through it (then `is_stale` reads it the same way)."""

    # ------------------------------------------------------------------ questions
    def of(self, kind: Kind) -> list[RowPlan]:
        """The rows of one kind (unchanged rows are built on demand)."""
        listed = [r for r in self.rows if r.kind is kind]
        if kind is Kind.UNCHANGED:
            listed += [RowPlan(Kind.UNCHANGED, key, row or None) for key, row in self.unchanged]
        return listed

    def counts(self) -> dict[Kind, int]:
        counts = dict.fromkeys(Kind, 0)
        for r in self.rows:
            counts[r.kind] += 1
        counts[Kind.UNCHANGED] += len(self.unchanged)
        return counts

    @property
    def errors(self) -> list[Issue]:
        return self.issues.errors

    @property
    def has_changes(self) -> bool:
        return any(r.kind in (Kind.CREATE, Kind.UPDATE, Kind.DELETE) for r in self.rows)

    @property
    def has_conflicts(self) -> bool:
        return any(r.kind is Kind.CONFLICT for r in self.rows)

    @property
    def blocked(self) -> bool:
        """Errors stop the apply, unless the plan was made with ``skip_invalid`` and every error is a row's."""
        errors = self.errors
        return bool(errors) and (not self.skip_invalid or any(e.row is None for e in errors))

    def check_applicable(self) -> None:
        """:raises ValidationFailed: when the sheet has errors that block applying."""
        if self.blocked:
            first = self.errors[0]
            raise ValidationFailed(self.issues, f"{len(self.errors)} error(s) in the sheet, first: {first}; fix "
                                   "them (bulkio validate writes an error workbook) or skip the rows with errors")

    def batches(self, batch_size: int | None = None) -> list[Batch]:
        """What `apply` sends: creates in arrays of `batch_size`; updates grouped by identical patch body (the
        requests are cut under the URL budget when sent, rows sharing a guard sharing its terms); deletes in groups
        of `batch_size`."""
        size = batch_size or self.resource.batch_size
        out: list[Batch] = []
        creates = self.of(Kind.CREATE)
        out += [Batch(Kind.CREATE, tuple(creates[i:i + size])) for i in range(0, len(creates), size)]
        groups: dict[str, list[RowPlan]] = {}
        for r in self.of(Kind.UPDATE):
            signature = json.dumps(r.body, sort_keys=True, default=str)
            groups.setdefault(signature, []).append(r)
        for members in groups.values():
            members.sort(key=lambda r: json.dumps(r.guard, sort_keys=True, default=str))  # shared guards adjoin
            for i in range(0, len(members), size):
                chunk = tuple(members[i:i + size])
                out.append(Batch(Kind.UPDATE, chunk, chunk[0].body))
        deletes = self.of(Kind.DELETE)
        out += [Batch(Kind.DELETE, tuple(deletes[i:i + size])) for i in range(0, len(deletes), size)]
        return out

    def is_stale(self, client: Client) -> bool:
        """Whether the server's rows changed since the plan was made (re-reads them: as many requests as the plan's
        own fetch)."""
        wanted = set(self.fetched)
        if self.scope is not None:
            rows = [r for r in _fetch_scope(client, self.resource, list(self.scope), list(self.select))
                    if str(r[self.resource.key]) in wanted]
            rest = sorted(wanted - {str(r[self.resource.key]) for r in rows})
            rows += client.rows_in(self.resource, self.resource.key, rest, list(self.select)) if rest else []
        else:
            rows = client.rows_in(self.resource, self.resource.key, wanted, list(self.select)) if wanted else []
        return _state_hash(self.resource, rows) != self.server_hash

    # ------------------------------------------------------------------ renderings (bulkio.plan_report)
    def to_frame(self) -> pd.DataFrame:
        from .plan_report import to_frame
        return to_frame(self)

    def to_json(self, path: str | Path | None = None) -> str:
        from .plan_report import to_json
        return to_json(self, path)

    def to_markdown(self, path: str | Path | None = None, *, limit: int = 50) -> str:
        from .plan_report import to_markdown
        return to_markdown(self, path, limit=limit)

    def to_excel(self, path: str | Path) -> Path:
        from .plan_report import to_excel
        return to_excel(self, path)

    def _repr_html_(self) -> str:
        from .plan_report import to_html
        return to_html(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {k.value}" for k, n in self.counts().items() if n)
        mode = "three-way" if self.three_way else "two-way"
        return f"<Plan {self.resource.name} from {Path(self.source).name}: {counts or 'nothing'} ({mode})>"


# ------------------------------------------------------------------------------------------------ reading the server
def _fetch_scope(client: Client, resource: Resource, filters: list[str], select: list[str]) -> list[dict[str, Any]]:
    """Every row the export's filter matches now (paged: ~1000 rows a request instead of ~200 ids)."""
    return [row for page in client.iter_pages(resource, select=select, filters=filters) for row in page]


def _state_hash(resource: Resource, rows: list[dict[str, Any]]) -> str:
    ordered = sorted(rows, key=lambda r: str(r.get(resource.key)))
    text = json.dumps(ordered, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------------ reading the sheet
def _without_results(sh: Sheet) -> Sheet:
    """A results workbook imports like any sheet: its outcome columns are dropped, and so are the rows it deleted
    (they are gone; nothing is left to import)."""
    from .results import RESULT_COLUMNS

    if "_status" not in sh.frame.columns:
        return sh
    keep = [i for i, status in enumerate(sh.frame["_status"]) if str(status).strip() != "deleted"]
    frame = sh.frame.iloc[keep].drop(columns=[c for c in RESULT_COLUMNS if c in sh.frame.columns])
    return Sheet(sh.file, sh.sheet, sh.resource, frame.reset_index(drop=True), [sh.rows[i] for i in keep], sh.meta,
                 sh.base, sh.warnings)  # columns dropped: the reader's cell kinds no longer line up


def _load(source: str | Path | Sheet | pd.DataFrame, resource: Resource | str | None, sheet: str | None) -> Sheet:
    if isinstance(source, Sheet):
        return _without_results(source)
    if isinstance(source, pd.DataFrame):
        if resource is None:
            raise ValueError("plan(DataFrame) needs resource=, e.g. resource='customer'")
        frame = source.reset_index(drop=True).astype(object)
        frame = frame.where(frame.notna(), None)
        rows = list(range(2, len(frame) + 2))
        note = "a DataFrame carries no export snapshot: the plan compares it with the server only (two-way)"
        return Sheet("DataFrame", None, get_resource(resource), frame, rows, None, None, [note])
    return _without_results(read_sheet(source, resource, sheet=sheet))


@dataclass
class _Reader:
    """Turns the sheet's cells (labels, text) into API values and canonical forms, column by column."""

    resource: Resource
    lookups: Mapping[str, Lookup]

    def api_value(self, name: str, cell: Any) -> Any:
        """The API value of a sheet cell (labels mapped to ids). :raises CellError, LabelError."""
        split = split_custom(name, self.resource)
        if split is not None:
            return from_custom_cell(cell)
        column = self.resource.column(name)
        if name in self.lookups and not is_empty(cell):
            return self.lookups[name].id_for(str(cell).strip())
        return from_cell(column, cell)

    def snapshot_value(self, name: str, cell: Any) -> Any:
        """The API value of a snapshot cell (references hold raw ids there): the exported value a report shows
        beside the API values before and after. A cell no rule reads is shown as it is."""
        if is_empty(cell):
            return None
        try:
            if split_custom(name, self.resource) is not None:
                return from_custom_cell(cell)
            return from_cell(self.resource.column(name), cell)
        except (CellError, ValueError):
            return cell

    def ids(self, name: str, cells: np.ndarray) -> np.ndarray:
        """A reference column's labels as ids (each distinct label looked up once); other columns as they are.
        A label that maps to nothing stays as it is (validation reports it)."""
        lookup = self.lookups.get(name)
        if lookup is None:
            return cells

        def to_id(label: Any) -> Any:
            if label is None or isinstance(label, float):  # empty (None, NaN)
                return None
            try:
                return lookup.id_for(str(label).strip())
            except LabelError:
                return label

        return by_distinct(cells, to_id)

    def plain_text(self, name: str) -> bool:
        """A text column shown as it is (no labels): for strings, the rule is "trimmed, blank is empty"."""
        if split_custom(name, self.resource) is not None or name in self.lookups:
            return False
        return self.resource.column(name).type is ColumnType.TEXT

    def canon_sheet(self, name: str) -> Any:
        split = split_custom(name, self.resource)
        if split is not None:
            return lambda cell: normalize(None, cell)
        column = self.resource.column(name)
        if name in self.lookups:
            lookup = self.lookups[name]
            return lambda cell: None if is_empty(cell) else normalize(column, lookup.id_for(str(cell).strip()))
        return lambda cell: normalize(column, cell)

    def canon_stored(self, name: str, *, server: bool) -> Any:
        """Snapshot cells hold `to_cell` / `to_custom_cell` forms; server values are API JSON."""
        split = split_custom(name, self.resource)
        if split is not None:
            if server:
                return lambda value: normalize(None, to_custom_cell(value)) if value is not None else None
            return lambda cell: normalize(None, cell)
        column = self.resource.column(name)
        return lambda value: normalize(column, value)


def _server_value(row: Mapping[str, Any] | None, name: str, resource: Resource) -> Any:
    if row is None:
        return None
    split = split_custom(name, resource)
    if split is not None:
        column, key = split
        obj = row.get(column.name)
        return obj.get(key) if isinstance(obj, dict) else None
    return row.get(name)


def _compared_columns(sheet: Sheet) -> list[str]:
    """The sheet columns an import may write: writable resource columns and custom-field keys."""
    res = sheet.resource

    def writable(name: str) -> bool:
        if split_custom(name, res) is not None:
            return True
        return name in res and name != res.key and not res.column(name).read_only and res.column(name).exported

    return [str(name) for name in sheet.frame.columns if writable(str(name))]


def _select(resource: Resource, compared: list[str]) -> list[str]:
    names = {resource.key}
    for name in compared:
        split = split_custom(name, resource)
        names.add(split[0].name if split else name)
    names.update(resource.natural_key)
    if "updatedAt" in resource:
        names.add("updatedAt")
    return [c.name for c in resource.columns if c.name in names]


# ------------------------------------------------------------------------------------------------ the plan
def plan(client: Client, source: str | Path | Sheet | pd.DataFrame, *, resource: Resource | str | None = None,
         sheet: str | None = None, delete_missing: bool = False, skip_invalid: bool = False,
         lookups: Mapping[str, Lookup] | None = None, accept_reformatted: bool = False) -> Plan:
    """Plan importing `source` (a workbook or CSV path, a `Sheet`, or a DataFrame of sheet columns). Never writes.

    :param delete_missing: rows of the export that the sheet no longer holds are deleted (needs the export
        snapshot, which says which rows the sheet covered).
    :param skip_invalid: rows with validation errors become *skipped* and the rest may be applied.
    :param lookups: label <-> id maps (default: fetched, one request per referenced table).
    :param accept_reformatted: write cells that look reformatted by a spreadsheet program (``00123`` that became
        ``123``, ``1E5`` that became ``1.00E+05``); by default they are left out, each with a warning.
    :raises WorkbookError: the file cannot be read. :raises ValueError: ``delete_missing`` without a snapshot.
    """
    start = client.requests_made
    if resource is None and isinstance(source, str | Path):
        resource = workbook_table(source)  # an export names its table, maybe one only the server describes
    if isinstance(resource, str):  # any table the server has: hand-written, else built from its OpenAPI document
        resource = resource_for(client, resource)
    sh = _load(source, resource, sheet)
    res = sh.resource
    if delete_missing and sh.base is None:
        raise ValueError(f"{sh.file}: delete_missing needs the export snapshot, which says which rows the sheet "
                         "covered, and this sheet has none; mark the rows to delete with _action = delete instead")
    columns = [str(c) for c in sh.frame.columns]
    if lookups is None:
        lookups = fetch_lookups(client, res, [c for c in columns if c in res])
    report = validate(sh, lookups)
    return make_plan(client, sh, lookups, report, delete_missing=delete_missing, skip_invalid=skip_invalid,
                     requests_before=start, accept_reformatted=accept_reformatted)


def make_plan(client: Client, sh: Sheet, lookups: Mapping[str, Lookup], report: ValidationReport, *,
              delete_missing: bool = False, skip_invalid: bool = False, requests_before: int | None = None,
              accept_reformatted: bool = False) -> Plan:
    """The plan of an already read and validated sheet (`plan` is the usual entry point)."""
    start = client.requests_made if requests_before is None else requests_before
    res = sh.resource
    frame = sh.frame
    n = len(frame)
    reader = _Reader(res, lookups)
    compared = _compared_columns(sh)
    select = _select(res, compared)
    issues = list(report.issues)

    def issue(position: int, column: str | None, value: Any, code: IssueCode, message: str) -> None:
        letter = None
        if column is not None and column in frame.columns:
            from xlsxwriter.utility import xl_col_to_name
            letter = xl_col_to_name(list(frame.columns).index(column))
        issues.append(Issue(sh.file, sh.sheet, sh.rows[position], letter, column, value, code, message))

    # --- keys and actions
    keys: list[str | None] = [None if empty else str(v).strip() for v, empty in _cells(frame, res.key, n)]
    actions = [None if empty else str(v).strip().lower() for v, empty in _cells(frame, ACTION_COLUMN, n)]
    for position in range(n):
        if actions[position] == "delete" and keys[position] is None:
            issue(position, ACTION_COLUMN, "delete", IssueCode.BAD_ACTION,
                  "_action is delete but the row has no id: there is nothing on the server to delete")

    # --- the server's rows, in as few requests as possible
    base = sh.base or {}
    sheet_keys = {k for k in keys if k}
    wanted = sheet_keys | (set(base) if sh.base is not None else set())
    scope = _scope_filters(sh)
    scope_requests = _scope_pages(client, sh)
    ids_requests = _chunks(client, res, sorted(wanted), select, scope_requests) if wanted else 0
    server_rows: dict[str, dict[str, Any]] = {}
    whole_table: list[dict[str, Any]] | None = None  # every row the key can see, when the scope is the table
    used_scope = bool(wanted and scope is not None and scope_requests is not None and scope_requests <= ids_requests)
    if used_scope:
        fetched = _fetch_scope(client, res, scope, select)
        if not scope:
            whole_table = fetched
        for row in fetched:
            if str(row[res.key]) in wanted:
                server_rows[str(row[res.key])] = row
        rest = sorted(wanted - set(server_rows))
        if rest:  # ids outside the filter (pasted in, or moved out of it since the export)
            server_rows.update((str(r[res.key]), r) for r in client.rows_in(res, res.key, rest, select))
    elif wanted:
        server_rows = {str(r[res.key]): r for r in client.rows_in(res, res.key, wanted, select)}

    # --- new rows whose natural key the server already has (known without asking when the whole table was read)
    for natural in res.natural_key:
        new = new_row_names(frame, natural, keys)
        if not new:
            continue
        if whole_table is not None and natural in select:
            taken = {str(row[natural]) for row in whole_table if row.get(natural) is not None}
        else:
            taken = present_on_server(client, res, natural, new.values())
        issues += taken_name_issues(sh, natural, new, taken)

    # --- ids the server does not have (an id of the export deleted on the server since is a conflict)
    gone = {position for position, key in enumerate(keys) if key and key not in server_rows and key in base}
    issues += unknown_key_issues(sh, keys, server_rows, base)

    # --- an existing row cannot empty a NOT NULL column (new rows take the column's default)
    existing = np.array([bool(k) and a != "delete" for k, a in zip(keys, actions, strict=True)], dtype=bool)
    for name in compared:
        column = None if split_custom(name, res) else res.column(name)
        if column is None or column.nullable or column.required:  # required ones: validation says so already
            continue
        emptied = np.flatnonzero(existing & empty_mask(frame[name].to_numpy(dtype=object)))
        for position in emptied:
            issue(int(position), name, None, IssueCode.REQUIRED,
                  f"{name} cannot be emptied: the server requires a value (it was only optional for new rows)")

    bad_rows = {i.row for i in issues if i.severity == "error" and i.row is not None}
    report = ValidationReport(tuple(sorted(issues, key=lambda i: (i.severity != "error", i.row or 0,
                                                                  i.letter or ""))))

    # --- the vectorised compare of the rows with an id the server has
    present = [p for p in range(n) if keys[p] and keys[p] in server_rows and sh.rows[p] not in bad_rows
               and actions[p] != "delete"]
    three_way = sh.base is not None
    left_out: list[Reformatted] | None = None if accept_reformatted else []
    rows, unchanged = diff_rows(sh, reader, compared, [keys[p] for p in present], present, server_rows,
                                sh.base, reformatted=left_out)
    for cell in left_out or ():
        issue(cell.position, cell.column, cell.cell, IssueCode.REFORMATTED,
              f"{cell.value!r} looks changed by a spreadsheet program to {cell.cell!r} ("
              + ("it saved the number with fewer digits" if isinstance(cell.value, int | float) else
                 "it read the text as a number or a date")
              + "): left as it is. Open the CSV with its columns as Text, or use the XLSX export; "
              "accept_reformatted (--accept-reformatted) writes such cells")
    if left_out:
        issues[-len(left_out):] = [replace(i, severity="warning") for i in issues[-len(left_out):]]
        report = ValidationReport(tuple(sorted(issues, key=lambda i: (i.severity != "error", i.row or 0,
                                                                      i.letter or ""))))

    # --- creates, deletes, conflicts of rows gone from the server, skipped rows
    cells = {name: frame[name].to_numpy(dtype=object) for name in compared}
    by_position: dict[int, RowPlan] = {}
    for position in range(n):
        excel_row = sh.rows[position]
        key = keys[position]
        if not (excel_row in bad_rows or position in gone or actions[position] == "delete" or key is None):
            continue  # compared above
        label = _label(frame, res, position)
        if excel_row in bad_rows:
            first = next(i for i in report.errors if i.row == excel_row)
            by_position[position] = RowPlan(Kind.SKIPPED, key, excel_row, label, reason=first.message)
        elif position in gone:
            by_position[position] = RowPlan(Kind.CONFLICT, key, excel_row, label,
                                            reason="deleted on the server since the export")
        elif actions[position] == "delete":
            by_position[position] = _delete_row(res, key, excel_row, label, server_rows[key], base.get(key),
                                                compared, reader)
        elif key is None:
            by_position[position] = _create_row(sh, reader, res, position, compared, cells)
    ordered = sorted([*((r.row or 0, r) for r in rows), *((r.row or 0, r) for r in by_position.values())],
                     key=lambda pair: pair[0])
    plan_rows = [r for _, r in ordered]
    gone_too: list[tuple[str, int]] = []
    if delete_missing:
        for key in sorted(set(base) - sheet_keys):
            label = str(base[key].get(res.natural_key[0])) if res.natural_key and base[key].get(
                res.natural_key[0]) is not None else None
            if key not in server_rows:
                gone_too.append((key, 0))  # already gone: nothing to do
                continue
            plan_rows.append(_delete_row(res, key, None, label, server_rows[key], base.get(key), compared, reader))

    plan_rows, report = _without_control_characters(sh, plan_rows, report)
    warnings = list(sh.warnings)
    return Plan(
        resource=res, source=sh.file, sheet=sh.sheet, rows=tuple(plan_rows), unchanged=unchanged + gone_too,
        three_way=three_way, delete_missing=delete_missing, skip_invalid=skip_invalid, issues=report,
        warnings=tuple(warnings), server_hash=_state_hash(res, list(server_rows.values())),
        fetched=tuple(sorted(server_rows)), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        host=_host(client), requests=client.requests_made - start, select=tuple(select),
        scope=tuple(scope) if used_scope and scope is not None else None)


@dataclass(frozen=True)
class Columns:
    """The server's rows and the snapshot's rows for the compared ids, one object array per column (`columns`)."""

    server: dict[str, np.ndarray]
    snapshot: dict[str, np.ndarray] | None
    has_base: np.ndarray | None


def columns(resource: Resource, compared: list[str], keys: list[str], server_rows: Mapping[str, Mapping[str, Any]],
            base: Mapping[str, Mapping[str, Any]] | None) -> Columns:
    """Arrange the fetched rows (JSON objects) and the snapshot rows as columns, in the order of `keys`."""
    wanted = list(dict.fromkeys(_split_name(resource, name) for name in compared))
    paused = gc.isenabled()
    gc.disable()  # as in `diff_rows`
    try:
        return _arrange(resource, compared, keys, server_rows, base, wanted)
    finally:
        if paused:
            gc.enable()


def _arrange(resource: Resource, compared: list[str], keys: list[str], server_rows: Mapping[str, Mapping[str, Any]],
             base: Mapping[str, Mapping[str, Any]] | None, wanted: list[str]) -> Columns:
    server = columns_of(list(map(server_rows.__getitem__, keys)), wanted)
    fields: dict[str, dict[str, str]] = {}  # custom fields: one column per key of the object, like the sheet's
    for name in compared:
        split = split_custom(name, resource)
        if split is not None:
            fields.setdefault(split[0].name, {})[split[1]] = name
    for parent, names in fields.items():
        values = fields_of(server[parent].tolist(), list(names))
        server.update({names[field_key]: column for field_key, column in values.items()})
    if base is None:
        return Columns(server, None, None)
    snapshot, has_base = snapshot_columns(base, keys, compared)
    return Columns(server, snapshot, has_base)


def _without_control_characters(sh: Sheet, rows: list[RowPlan], report: ValidationReport
                                ) -> tuple[list[RowPlan], ValidationReport]:
    """A value a row would write may not hold a control character (`validate.control_character`); text the server
    already holds that way, untouched in the sheet, is not written and so not refused. Such rows are skipped, with
    an error at their cell."""
    from xlsxwriter.utility import xl_col_to_name

    columns = [str(c) for c in sh.frame.columns]
    kept, found = [], []
    for r in rows:
        problem = None
        if r.kind in (Kind.CREATE, Kind.UPDATE):
            problem = next(((c, control_character(c.after)) for c in r.changes if control_character(c.after)), None)
        if problem is None:
            kept.append(r)
            continue
        change, message = problem
        letter = xl_col_to_name(columns.index(change.column)) if change.column in columns else None
        found.append(Issue(sh.file, sh.sheet, r.row, letter, change.column, change.after, IssueCode.BAD_VALUE,
                           f"{change.column} {message}"))
        kept.append(RowPlan(Kind.SKIPPED, r.key, r.row, r.label, reason=f"{change.column} {message}"))
    if not found:
        return rows, report
    issues = sorted([*report.issues, *found], key=lambda i: (i.severity != "error", i.row or 0, i.letter or ""))
    return kept, ValidationReport(tuple(issues))


def diff_rows(sh: Sheet, reader: _Reader, compared: list[str], keys: list[str], positions: list[int],
              server_rows: Mapping[str, Mapping[str, Any]], base: Mapping[str, Mapping[str, Any]] | None,
              arranged: Columns | None = None, *, reformatted: list[Reformatted] | None = None
              ) -> tuple[list[RowPlan], Unchanged]:
    """Compare the sheet rows at `positions` (ids `keys`, all on the server) column by column, vectorised.

    :param base: the export snapshot (three-way), or None (two-way).
    :param arranged: `columns` of the same rows, when already made.
    :param reformatted: two-way, cells a spreadsheet program reformatted (`values.reformatted`) are left out of
        the plan and listed here; None: they are compared as they are (the user said to write them).
    :returns: the rows that differ somewhere (update, conflict, or server changes kept) and (key, Excel row) of
        the unchanged ones.
    """
    if not positions:
        return [], Unchanged()
    paused = gc.isenabled()
    gc.disable()  # millions of short-lived objects, no cycles: the collector would only walk the big sheet again
    try:
        return _diff_rows(sh, reader, compared, keys, positions, server_rows, base, arranged, reformatted)
    finally:
        if paused:
            gc.enable()


def _diff_rows(sh: Sheet, reader: _Reader, compared: list[str], keys: list[str], positions: list[int],
               server_rows: Mapping[str, Mapping[str, Any]], base: Mapping[str, Mapping[str, Any]] | None,
               arranged: Columns | None, reformatted: list[Reformatted] | None) -> tuple[list[RowPlan], Unchanged]:
    res = sh.resource
    at = np.asarray(positions, dtype=np.intp)
    every_row = len(at) == len(sh.frame) and bool((at == np.arange(len(at))).all())  # then no copy is needed
    size = len(keys)
    arranged = arranged or columns(res, compared, keys, server_rows, base)
    server, snapshot, has_base = arranged.server, arranged.snapshot, arranged.has_base
    masks: dict[str, ColumnDiff] = {}
    sheet_cells: dict[str, np.ndarray] = {}
    for name in compared:
        split = split_custom(name, res)
        column = None if split is not None else res.column(name)
        if split is not None:
            server_values = server[name]
            as_stored = server_values
        else:
            server_values = server[name]
            as_stored = server_values  # as the snapshot holds them
            if column.type is ColumnType.TEXT_ARRAY:
                as_stored = array_cells(server_values)
            elif column.type is ColumnType.JSON:
                as_stored = objects([to_cell(column, v) for v in server_values])
        sheet_values = sh.frame[name].to_numpy(dtype=object)
        sheet_values = sheet_values if every_row else sheet_values[at]
        sheet_cells[name] = sheet_values
        sheet_ids = reader.ids(name, sheet_values)  # labels as ids, to compare with ids
        stored = None if snapshot is None else snapshot[name]
        # equal raw values are equal values: only the cells that differ somewhere go through the rules, which
        # leaves ~1% of a column when 1% was edited (not for custom fields two-way: sheet and API forms differ)
        if stored is not None and split is not None:
            maybe = custom_differ(sheet_values, server_values, stored)
        elif stored is not None:
            maybe = differ(sheet_ids, stored) | differ(as_stored, stored)
        elif split is None:
            maybe = differ(sheet_ids, server_values)
        else:
            maybe = np.ones(size, dtype=bool)
        where = np.flatnonzero(maybe)
        if stored is None and len(where) and (restorable(res, name) or reformattable(res, name)):
            # two-way: a cell a spreadsheet program re-wrote at its precision (a CSV's 15 digits, TRUE) is the
            # server's value, as an untouched exported cell is the snapshot's (`precision`)
            theirs = server_values[where] if split is None else objects(
                [None if v is None else to_custom_cell(v) for v in server_values[where].tolist()])
            kept, count = restore_cells(column, sheet_values[where], theirs)
            if reformatted is not None:
                kept, left_out = leave_reformatted(column, kept, theirs)
                reformatted.extend(Reformatted(positions[int(where[i])], name, _server_value(
                    server_rows[keys[int(where[i])]], name, res), cell) for i, cell in left_out)
                count += len(left_out)
            if count:
                sheet_values = sheet_values.copy()
                sheet_values[where] = kept
                sheet_ids = sheet_values
                sheet_cells[name] = sheet_values
        diff = ColumnDiff(name, *(np.zeros(size, dtype=bool) for _ in range(4)))
        if len(where):
            text = reader.plain_text(name)
            sources = [(sheet_values[where], reader.canon_sheet(name), text),
                       (server_values[where], reader.canon_stored(name, server=True), text)]
            if stored is not None:
                sources.append((stored[where], reader.canon_stored(name, server=False), text))
            codes = canonical_codes(sources)
            found = compare(name, codes[0], codes[1], codes[2] if stored is not None else None,
                            None if has_base is None else has_base[where])
            for full, part in ((diff.update, found.update), (diff.conflict, found.conflict),
                               (diff.kept, found.kept), (diff.invalid, found.invalid)):
                full[where] = part
        masks[name] = diff
    touched = np.zeros(len(positions), dtype=bool)
    for diff in masks.values():
        touched |= diff.update | diff.conflict | diff.kept
    flagged: dict[int, list[tuple[str, str]]] = {}  # row index -> (column, what), for the touched rows only
    for name, diff in masks.items():
        for what, mask in (("conflict", diff.conflict), ("kept", diff.kept), ("update", diff.update)):
            for i in np.flatnonzero(mask).tolist():
                flagged.setdefault(i, []).append((name, what))
    rows = [_update_row(sh, reader, res, positions[i], keys[i], dict(server_rows[keys[i]]),
                        None if base is None else base.get(keys[i]), flagged[i], sheet_cells, i)
            for i in np.flatnonzero(touched).tolist()]
    same = ~touched
    return rows, Unchanged(np.asarray(keys, dtype=object)[same], np.asarray(sh.rows)[at[same]])


def _split_name(resource: Resource, name: str) -> str:
    split = split_custom(name, resource)
    return split[0].name if split is not None else name


def _host(client: Client) -> str:
    from urllib.parse import urlsplit
    return urlsplit(client.base_url).netloc


def _label(frame: pd.DataFrame, resource: Resource, position: int) -> str | None:
    for name in resource.natural_key:
        if name in frame:
            value = frame.iat[position, frame.columns.get_loc(name)]
            if not is_empty(value):
                return str(value).strip()
    return None


def _scope_filters(sh: Sheet) -> list[str] | None:
    """The export's filter, when the sheet's rows are exactly what it matched (no limit)."""
    meta = sh.meta
    if not meta or meta.get("kind") == "template" or meta.get("resource") != sh.resource.name:
        return None
    if meta.get("limit") not in (None, "", "None"):
        return None
    try:
        return [str(f) for f in json.loads(meta.get("filters") or "[]")]
    except ValueError:
        return None


def _scope_pages(client: Client, sh: Sheet) -> int | None:
    if _scope_filters(sh) is None or sh.meta is None:
        return None
    try:
        exported = int(sh.meta.get("rows", ""))
    except ValueError:
        return None
    size = client.settings.page_size  # each page carries the exact count: the last one costs no extra request
    return max(1, -(-exported // size))


def _chunks(client: Client, resource: Resource, keys: list[str], select: list[str], beyond: int | None = None
            ) -> int:
    """How many ``id=in.(...)`` requests fetching `keys` takes; counting stops past `beyond` (the requests the
    other way takes), since only which way is cheaper matters: the URLs of 100,000 ids take a second to cut."""
    chunks = client.split_in(resource, resource.key, keys, [("select", ",".join(select))])
    return sum(1 for _ in (chunks if beyond is None else islice(chunks, beyond + 1)))


def _cells(frame: pd.DataFrame, name: str, size: int) -> zip[tuple[Any, bool]]:
    """(cell, whether it is empty) for each row of column `name` (all empty when the sheet lacks it)."""
    if name not in frame:
        return zip([None] * size, [True] * size, strict=True)
    cells = frame[name].to_numpy(dtype=object)
    return zip(cells.tolist(), empty_mask(cells).tolist(), strict=True)


def _custom_parent(resource: Resource, name: str) -> Column | None:
    split = split_custom(name, resource)
    return split[0] if split else None


def _update_row(sh: Sheet, reader: _Reader, res: Resource, position: int, key: str, server: dict[str, Any],
                base: dict[str, Any] | None, flagged: list[tuple[str, str]], cells: Mapping[str, np.ndarray],
                index: int) -> RowPlan:
    """The plan of one compared row that differs somewhere (update, conflict, or only server changes kept).

    :param flagged: (column, "update" | "conflict" | "kept") of the row's differing columns.
    :param cells: the compared sheet cells by column; `index` is the row's place in them.
    """
    frame = sh.frame
    changes, conflicts, kept = [], [], []
    body: dict[str, Any] = {}
    guard: dict[str, Any] = {}
    custom: dict[str, dict[str, Any]] = {}
    for name, what in flagged:
        cell = cells[name][index]
        before = _server_value(server, name, res)
        exported = None if base is None else reader.snapshot_value(name, base.get(name))
        if what == "conflict":
            conflicts.append(FieldChange(name, before, reader.api_value(name, cell), exported))
        elif what == "kept":
            kept.append(FieldChange(name, before, before, exported))
        else:
            after = reader.api_value(name, cell)
            changes.append(FieldChange(name, before, after, exported))
            parent = _custom_parent(res, name)
            if parent is not None:
                merged = custom.setdefault(parent.name, dict(server.get(parent.name) or {}))
                key_name = name.split(".", 1)[1]
                if after is None:
                    merged.pop(key_name, None)
                else:
                    merged[key_name] = after
                guard[parent.name] = server.get(parent.name)
            else:
                body[name] = after
                guard[name] = before
    for name, merged in custom.items():
        body[name] = merged or None
    label = _label(frame, res, position)
    row = sh.rows[position]
    if conflicts:
        names = ", ".join(c.column for c in conflicts)
        return RowPlan(Kind.CONFLICT, key, row, label, tuple(conflicts), tuple(kept),
                       reason=f"you and the server both changed {names} since the export")
    if not changes:
        return RowPlan(Kind.UNCHANGED, key, row, label, kept=tuple(kept))
    if any(guard_size(v) > GUARD_LIMIT for v in guard.values()) and "updatedAt" in res:
        guard = {"updatedAt": server.get("updatedAt")}
    return RowPlan(Kind.UPDATE, key, row, label, tuple(changes), tuple(kept), body, guard)


def _create_row(sh: Sheet, reader: _Reader, res: Resource, position: int, compared: list[str],
                cells: Mapping[str, np.ndarray]) -> RowPlan:
    body: dict[str, Any] = {}
    custom: dict[str, dict[str, Any]] = {}
    changes = []
    for name in compared:
        cell = cells[name][position]
        if is_empty(cell):
            continue
        value = reader.api_value(name, cell)
        parent = _custom_parent(res, name)
        if parent is not None:
            custom.setdefault(parent.name, {})[name.split(".", 1)[1]] = value
        else:
            body[name] = value
        changes.append(FieldChange(name, None, value))
    body.update(custom)
    return RowPlan(Kind.CREATE, None, sh.rows[position], _label(sh.frame, res, position), tuple(changes),
                   body=body)


def _delete_row(res: Resource, key: str | None, excel_row: int | None, label: str | None,
                server: dict[str, Any], base: dict[str, Any] | None, compared: list[str],
                reader: _Reader) -> RowPlan:
    """A delete, unless the server changed the row since the export (then a conflict: the user has not seen it)."""
    if base is not None:
        moved = []
        for name in compared:
            now = reader.canon_stored(name, server=True)(_server_value(server, name, res))
            then = reader.canon_stored(name, server=False)(base.get(name))
            if now != then:
                moved.append(FieldChange(name, _server_value(server, name, res), None,
                                         reader.snapshot_value(name, base.get(name))))
        if moved:
            names = ", ".join(c.column for c in moved)
            return RowPlan(Kind.CONFLICT, key, excel_row, label, tuple(moved),
                           reason=f"to delete, but the server changed {names} since the export")
    # the row as the plan saw it: apply deletes it only if it is still so (a row changed meanwhile is a conflict)
    seen = {c: v for c, v in server.items() if c != res.key}
    return RowPlan(Kind.DELETE, key, excel_row, label, guard=seen)

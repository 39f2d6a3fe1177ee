"""Making a plan: `plan` reads the sheet, fetches its lookups and validates it; `make_plan` then runs the phases,
each a function below: the keys and actions of the rows, the server's rows (`fetch`), the checks only the server can
answer, the vectorised compare of the rows it holds (`compare`), the rows the compare does not see (creates,
deletes, skipped rows, rows deleted on the server: `build`) and, with ``delete_missing``, the export's rows the sheet
no longer holds.

With an export snapshot, the server's rows are read lean (`fetch.read_lean`): a row whose cells equal its snapshot
row (`compare.edited_rows`) is unchanged whatever the server holds, so only the rows the sheet changes, deletes or
pastes in are read, with the rows the server changed since the export; the rows the plan did not read are listed as
unchanged. ``full_read`` reads every row, as every two-way plan must.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..api.catalog import resource_for
from ..api.lookups import Lookup, fetch_lookups
from ..errors import ConfigError
from ..resources import Resource, get_resource
from ..sheets.flatten import split_custom
from ..sheets.layout import ACTION_COLUMN, DELETE, RESULT_COLUMNS
from ..sheets.precision import Reformatted
from ..sheets.read import Sheet, read_sheet, workbook_table
from ..sheets.values import empty_mask
from ..validate.report import Issue, IssueCode, ValidationReport, column_letter, sorted_report
from ..validate.rules import validate
from ..validate.server import new_row_names, present_on_server, taken_name_issues, unknown_key_issues
from .build import create_row, delete_row, row_label, without_control_characters
from .compare import compared_columns, diff_rows, edited_rows
from .family import FamilyPlan, family_of, plan_family
from .fetch import ServerRows, changed_since, fetch_server_rows, read_lean, select_columns, stale_scope, state_hash
from .foreign import finish, parse_only, prepare
from .model import Plan
from .reader import CellReader
from .rows import Kind, RowPlan, Unchanged

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["make_plan", "plan"]


def plan(client: Client, source: str | Path | Sheet | pd.DataFrame, *, resource: Resource | str | None = None,
         sheet: str | None = None, delete_missing: bool = False, skip_invalid: bool = False,
         lookups: Mapping[str, Lookup] | None = None, accept_reformatted: bool = False, full_read: bool = False,
         match: str | Sequence[str] | None = None, only: str | Iterable[str] | None = None, blank: str | None = None,
         mapping: Mapping[str, str] | str | Path | None = None) -> Plan | FamilyPlan:
    """Plan importing `source` (a workbook or CSV path, a `Sheet`, or a DataFrame of sheet columns). Never writes.

    A workbook exported with its children (``bulkio export customer --with customerContact``) is planned whole:
    the result is then a `FamilyPlan`, one `Plan` per sheet (`family.plan_family`).

    :param delete_missing: rows of the export that the sheet no longer holds are deleted (needs the export
        snapshot, which says which rows the sheet covered).
    :param skip_invalid: rows with validation errors become *skipped* and the rest may be applied.
    :param lookups: label <-> id maps (default: fetched, one request per referenced table).
    :param accept_reformatted: write cells that look reformatted by a spreadsheet program (``00123`` that became
        ``123``, ``1E5`` that became ``1.00E+05``); by default they are left out, each with a warning.
    :param full_read: read every exported row back from the server, as a sheet without a snapshot must (more
        requests: a page per 1,000 rows). By default a sheet with its export snapshot reads only the rows it
        changes, and the rows the server changed since the export where the table has ``updatedAt``.
    :param match: rows without an id are matched to the server's on this unique key (``"name"``, ``"readableId"``;
        `foreign`): one match is an update of that row, none a create, several (or a key two rows share) an error.
    :param only: do only these of create, update, delete (``"create,update"``); other rows are skipped, saying why.
    :param blank: a blank cell of an existing row: ``"keep"`` the field (the default for a sheet bulkio did not
        export) or ``"clear"`` it (the default for bulkio's own export).
    :param mapping: sheet headers to columns (``{"Customer Name": "name"}``), or a mapping file's path.
    :raises WorkbookError: the file cannot be read. :raises ValueError: ``delete_missing`` without a snapshot.
    :raises ConfigError: a bad ``match``, ``only``, ``blank`` or ``mapping``.
    """
    if resource is None and sheet is None and family_of(source) is not None:  # a table and its children
        if any(option is not None for option in (match, only, blank, mapping)):
            raise ConfigError(f"{source}: match, only, blank and mapping are for one-table sheets from other "
                              "systems; a workbook exported with --with is planned whole")
        return plan_family(client, Path(source), delete_missing=delete_missing,  # type: ignore[arg-type]
                           skip_invalid=skip_invalid, accept_reformatted=accept_reformatted, full_read=full_read,
                           lookups=lookups)
    start = client.requests_made
    if resource is None and isinstance(source, str | Path):
        resource = workbook_table(source)  # an export names its table, maybe one only the server describes
    if isinstance(resource, str):  # any table the server has: hand-written, else built from its OpenAPI document
        resource = resource_for(client, resource)
    kinds = parse_only(only)
    prepared = prepare(client, _load(source, resource, sheet), match=match, mapping=mapping, blank=blank)
    sh = prepared.sheet
    res = sh.resource
    if delete_missing and sh.base is None:
        raise ValueError(f"{sh.file}: delete_missing needs the export snapshot, which says which rows the sheet "
                         "covered, and this sheet has none; mark the rows to delete with _action = delete instead")
    if lookups is None:
        lookups = fetch_lookups(client, res, [str(c) for c in sh.frame.columns if c in res])
    report = prepared.report(validate(sh, lookups))
    result = make_plan(client, sh, lookups, report, delete_missing=delete_missing, skip_invalid=skip_invalid,
                       requests_before=start, accept_reformatted=accept_reformatted, full_read=full_read,
                       blank=prepared.blanks)
    return finish(result, prepared, kinds)


def make_plan(client: Client, sh: Sheet, lookups: Mapping[str, Lookup], report: ValidationReport, *,
              delete_missing: bool = False, skip_invalid: bool = False, requests_before: int | None = None,
              accept_reformatted: bool = False, full_read: bool = False, blank: str = "clear") -> Plan:
    """The plan of an already read and validated sheet (`plan` is the usual entry point; `full_read` as there).
    `blank`: ``"keep"``, a blank cell of an existing row leaves its field as it is, so it empties no required one."""
    start = client.requests_made if requests_before is None else requests_before
    job = _Job.of(sh, lookups)
    issues = [*report.issues, *_deletes_without_id(job)]
    reads = client.requests_made
    server = _fetch(client, job, full_read, delete_missing)
    notes = _read_notes(job, server, client.requests_made - reads)
    issues += _names_taken(client, job, server)
    issues += unknown_key_issues(sh, job.keys, server.rows, job.base)  # an id of the export gone: a conflict
    issues += _emptied_required(job) if blank == "clear" else []
    report = sorted_report(issues)
    bad_rows = {i.row for i in report.errors if i.row is not None}
    compared, unchanged, reformatted = _compare(job, server, bad_rows, accept_reformatted)
    if reformatted:
        report = sorted_report([*issues, *reformatted])
    rows = _in_sheet_order(compared, _not_compared(job, server, bad_rows, report))
    missing, gone = _missing_rows(job, server.rows) if delete_missing else ([], [])
    rows, report = without_control_characters(sh, rows + missing, report)
    written = sorted({r.key for r in rows if r.key and r.kind in (Kind.UPDATE, Kind.DELETE)})
    return Plan(
        resource=sh.resource, source=sh.file, sheet=sh.sheet, rows=tuple(rows), unchanged=unchanged + gone,
        three_way=sh.base is not None, delete_missing=delete_missing, skip_invalid=skip_invalid, issues=report,
        warnings=(*sh.warnings, *notes), server_hash=state_hash(sh.resource, [server.rows[k] for k in written]),
        fetched=tuple(written), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        host=urlsplit(client.base_url).netloc, requests=client.requests_made - start, select=tuple(job.select),
        scope=stale_scope(client, sh, server.scope, written, job.select), source_sha256=sh.sha256,
        labels=_labels(rows, lookups))


def _labels(rows: Iterable[RowPlan], lookups: Mapping[str, Lookup]) -> dict[str, dict[str, str]]:
    """The labels of the reference ids the rows' changes hold, by column (`Plan.labels`: what reports show)."""
    found: dict[str, dict[str, str]] = {}
    for r in rows:
        for change in (*r.changes, *r.kept):
            lookup = lookups.get(change.column)
            if lookup is None:
                continue
            for value in (change.before, change.after, change.base):
                if isinstance(value, str) and value in lookup.labels:
                    found.setdefault(change.column, {})[value] = lookup.labels[value]
    return found


@dataclass(frozen=True)
class _Job:
    """What every phase of `make_plan` reads: the sheet, its rows' ids and actions, the columns compared and the
    columns fetched."""

    sh: Sheet
    reader: CellReader
    compared: list[str]
    select: list[str]
    keys: list[str | None]
    """Each row's id (None: a new row)."""
    actions: list[str | None]
    """Each row's ``_action``, lower case (None: blank)."""
    base: Mapping[str, Mapping[str, Any]]
    """The export snapshot (empty without one)."""

    @classmethod
    def of(cls, sh: Sheet, lookups: Mapping[str, Lookup]) -> _Job:
        compared = compared_columns(sh)
        n = len(sh.frame)
        keys = [None if empty else str(v).strip() for v, empty in _cells(sh.frame, sh.resource.key, n)]
        actions = [None if empty else str(v).strip().lower() for v, empty in _cells(sh.frame, ACTION_COLUMN, n)]
        return cls(sh, CellReader(sh.resource, lookups), compared, select_columns(sh.resource, compared), keys,
                   actions, sh.base or {})

    @property
    def wanted(self) -> set[str]:
        """The ids whose server rows the plan needs: the sheet's and the export's."""
        return {k for k in self.keys if k} | set(self.base)

    def to_read(self, delete_missing: bool) -> set[str]:
        """The ids whose server rows a decision needs (three-way): rows whose cells differ from their snapshot row
        or that have none (pasted), rows marked for deletion and, with ``delete_missing``, the export's rows the
        sheet no longer holds. Any other row is unchanged whatever the server holds."""
        positions = [p for p, key in enumerate(self.keys) if key]
        keys = [str(self.keys[p]) for p in positions]
        edited = edited_rows(self.sh, self.reader, self.compared, positions, keys).tolist()
        ids = {key for p, key, changed in zip(positions, keys, edited, strict=True)
               if changed or self.actions[p] == DELETE}
        return ids | (set(self.base) - set(keys)) if delete_missing else ids

    def new_names(self) -> dict[str, set[str]]:
        """By natural-key column, the values of the rows without an id (a create refused if the server has one)."""
        res = self.sh.resource
        return {natural: set(new_row_names(self.sh.frame, natural, self.keys).values()) for natural in res.natural_key}


def _cells(frame: pd.DataFrame, name: str, size: int) -> zip[tuple[Any, bool]]:
    """(cell, whether it is empty) for each row of column `name` (all empty when the sheet lacks it)."""
    if name not in frame:
        return zip([None] * size, [True] * size, strict=True)
    cells = frame[name].to_numpy(dtype=object)
    return zip(cells.tolist(), empty_mask(cells).tolist(), strict=True)


def _issue(sh: Sheet, position: int, column: str | None, value: Any, code: IssueCode, message: str,
           severity: str = "error") -> Issue:
    """An issue at the row at `position` of the sheet's frame."""
    return Issue(sh.file, sh.sheet, sh.rows[position], column_letter(sh.frame, column), column, value, code, message,
                 severity)


def _deletes_without_id(job: _Job) -> list[Issue]:
    """Rows marked for deletion that have no id: nothing on the server to delete."""
    return [_issue(job.sh, position, ACTION_COLUMN, DELETE, IssueCode.BAD_ACTION,
                   "_action is delete but the row has no id: there is nothing on the server to delete")
            for position, (key, action) in enumerate(zip(job.keys, job.actions, strict=True))
            if action == DELETE and key is None]


def _fetch(client: Client, job: _Job, full_read: bool, delete_missing: bool) -> ServerRows:
    """The server's rows the plan compares with: lean with a snapshot (unless `full_read`), else every row."""
    if full_read or job.sh.base is None:
        return fetch_server_rows(client, job.sh, job.wanted, job.select)
    return read_lean(client, job.sh, job.to_read(delete_missing), job.new_names(), job.select, job.wanted)


def _read_notes(job: _Job, server: ServerRows, requests: int) -> list[str]:
    """What the plan's warnings say of how it read the server, when the user may care: a two-way plan reads every
    row; a lean plan of a table without ``updatedAt`` cannot see the server's changes to untouched rows."""
    res = job.sh.resource
    if job.sh.base is None:
        return [f"the plan compared every row with the server ({requests} request(s) for {len(job.wanted)} ids): "
                "a sheet without an export snapshot cannot tell the rows it changes from the rest; an exported "
                "workbook's plan reads only the rows it changes"]
    if server.asked is None or changed_since(job.sh) is not None:
        return []
    why = (f"{res.name} has no updatedAt column" if "updatedAt" not in res
           else "the workbook does not say when and how it was exported")
    return [f"{why}: the server's changes to rows the sheet leaves as exported are not reported (those to the rows "
            "it changes are); a full read (--full-read, full_read=True) reads every row to see them"]


def _names_taken(client: Client, job: _Job, server: ServerRows) -> list[Issue]:
    """New rows whose natural key the server already has (known without asking when the read asked for the names
    or read the whole table)."""
    issues: list[Issue] = []
    for natural in job.sh.resource.natural_key:
        new = new_row_names(job.sh.frame, natural, job.keys)
        if not new:
            continue
        if server.taken is not None and natural in server.taken:
            taken: set[str] | frozenset[str] = server.taken[natural]
        elif server.whole_table is not None and natural in job.select:
            taken = {str(row[natural]) for row in server.whole_table if row.get(natural) is not None}
        else:
            taken = present_on_server(client, job.sh.resource, natural, new.values())
        issues += taken_name_issues(job.sh, natural, new, taken)
    return issues


def _emptied_required(job: _Job) -> list[Issue]:
    """An existing row cannot empty a NOT NULL column (new rows take the column's default; the required ones
    validation reports already)."""
    sh, res = job.sh, job.sh.resource
    existing = np.array([bool(k) and a != DELETE for k, a in zip(job.keys, job.actions, strict=True)], dtype=bool)
    issues = []
    for name in job.compared:
        column = None if split_custom(name, res) else res.column(name)
        if column is None or column.nullable or column.required:
            continue
        emptied = np.flatnonzero(existing & empty_mask(sh.frame[name].to_numpy(dtype=object)))
        issues += [_issue(sh, int(position), name, None, IssueCode.REQUIRED, f"{name} cannot be emptied: the "
                          "server requires a value (it was only optional for new rows)") for position in emptied]
    return issues


def _compare(job: _Job, server: ServerRows, bad_rows: set[int], accept_reformatted: bool
             ) -> tuple[list[RowPlan], Unchanged, list[Issue]]:
    """The vectorised compare of the valid rows with an id the server has (`diff_rows`), the rows the plan did not
    read listed as unchanged with them, and a warning for each cell left out as reformatted by a spreadsheet
    program (unless `accept_reformatted`)."""
    sh, keys, actions = job.sh, job.keys, job.actions
    valid = [p for p, key in enumerate(keys) if key and sh.rows[p] not in bad_rows and actions[p] != DELETE]
    present = [p for p in valid if keys[p] in server.rows]
    unread = [] if server.asked is None else [p for p in valid if keys[p] not in server.rows
                                              and keys[p] not in server.asked]
    left_out: list[Reformatted] | None = None if accept_reformatted else []
    rows, unchanged = diff_rows(sh, job.reader, job.compared, [keys[p] for p in present], present, server.rows,
                                sh.base, reformatted=left_out)
    unchanged = _with_unread(unchanged, [str(keys[p]) for p in unread], [sh.rows[p] for p in unread])
    warnings = [_issue(sh, cell.position, cell.column, cell.cell, IssueCode.REFORMATTED,
                       f"{cell.value!r} looks changed by a spreadsheet program to {cell.cell!r} ("
                       + ("it saved the number with fewer digits" if isinstance(cell.value, int | float) else
                          "it read the text as a number or a date")
                       + "): left as it is. Open the CSV with its columns as Text, or use the XLSX export; "
                       "accept_reformatted (--accept-reformatted) writes such cells", "warning")
                for cell in left_out or ()]
    return rows, unchanged, warnings


def _with_unread(unchanged: Unchanged, keys: list[str], rows: list[int]) -> Unchanged:
    """The compared unchanged rows and the rows the lean plan did not read (unchanged whatever the server holds),
    in sheet order, as a full read lists them."""
    if not keys:
        return unchanged
    pairs = list(unchanged)  # few: the lean plan compares only what it read
    every_key = np.asarray([*(k for k, _ in pairs), *keys], dtype=object)
    every_row = np.asarray([*(r for _, r in pairs), *rows], dtype=np.int64)
    order = np.argsort(every_row, kind="stable")
    return Unchanged(every_key[order], every_row[order])


def _not_compared(job: _Job, server: ServerRows, bad_rows: set[int], report: ValidationReport) -> list[RowPlan]:
    """The sheet rows the compare does not see, in sheet order: skipped (invalid), conflicts (deleted on the
    server since the export, among the rows the plan looked for), deletes and creates."""
    sh, res, keys, actions = job.sh, job.sh.resource, job.keys, job.actions
    server_rows, asked = server.rows, server.asked
    gone = {p for p, key in enumerate(keys) if key and key not in server_rows and key in job.base
            and (asked is None or key in asked)}
    cells = {name: sh.frame[name].to_numpy(dtype=object) for name in job.compared}
    rows = []
    for position, key in enumerate(keys):
        excel_row = sh.rows[position]
        if not (excel_row in bad_rows or position in gone or actions[position] == DELETE or key is None):
            continue  # compared
        label = row_label(sh.frame, res, position)
        if excel_row in bad_rows:
            first = next(i for i in report.errors if i.row == excel_row)
            rows.append(RowPlan(Kind.SKIPPED, key, excel_row, label, reason=first.message))
        elif position in gone:
            rows.append(RowPlan(Kind.CONFLICT, key, excel_row, label, reason="deleted on the server since the export"))
        elif actions[position] == DELETE:
            rows.append(delete_row(res, key, excel_row, label, server_rows[key], job.base.get(key), job.compared,
                                   job.reader))
        else:
            rows.append(create_row(sh, job.reader, position, job.compared, cells))
    return rows


def _in_sheet_order(compared: list[RowPlan], others: list[RowPlan]) -> list[RowPlan]:
    """Both lists' rows by Excel row (each list is in sheet order already; the compared first at a tie)."""
    return sorted([*compared, *others], key=lambda r: r.row or 0)


def _missing_rows(job: _Job, server_rows: Mapping[str, dict[str, Any]]
                  ) -> tuple[list[RowPlan], list[tuple[str, int]]]:
    """``delete_missing``: the export's rows the sheet no longer holds are deleted; those already gone from the
    server are listed as unchanged (key, Excel row 0)."""
    res, base = job.sh.resource, job.base
    natural = res.natural_key[0] if res.natural_key else None
    deletes, gone = [], []
    for key in sorted(set(base) - {k for k in job.keys if k}):
        label = str(base[key][natural]) if natural and base[key].get(natural) is not None else None
        if key not in server_rows:
            gone.append((key, 0))  # already gone: nothing to do
            continue
        deletes.append(delete_row(res, key, None, label, server_rows[key], base.get(key), job.compared, job.reader))
    return deletes, gone


# ------------------------------------------------------------------------------------------------ reading the sheet
def _without_results(sh: Sheet) -> Sheet:
    """A results workbook imports like any sheet: its outcome columns are dropped, and so are the rows it deleted
    (they are gone; nothing is left to import)."""
    if "_status" not in sh.frame.columns:
        return sh
    keep = [i for i, status in enumerate(sh.frame["_status"]) if str(status).strip() != "deleted"]
    frame = sh.frame.iloc[keep].drop(columns=[c for c in RESULT_COLUMNS if c in sh.frame.columns])
    return Sheet(sh.file, sh.sheet, sh.resource, frame.reset_index(drop=True), [sh.rows[i] for i in keep], sh.meta,
                 sh.base, sh.warnings, sha256=sh.sha256)  # columns dropped: the cell kinds no longer line up


def _load(source: str | Path | Sheet | pd.DataFrame, resource: Resource | None, sheet: str | None) -> Sheet:
    """The sheet to plan: a workbook or CSV read, a `Sheet` as it is, a DataFrame as a sheet without a snapshot."""
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

"""Building a plan's rows: what each sheet row becomes, with the body a write sends and the guard it carries.

- `update_row`: a compared row that differs somewhere: an update (only the changed fields, each guarded by the
  value the server holds now), a conflict, or unchanged with the server's own changes kept;
- `create_row`: a row without an id;
- `delete_row`: a row to delete, guarded by the whole row as the plan saw it (a conflict if the server changed it
  since the export);
- `without_control_characters`: rows whose written values hold a control character become skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..api.query import GUARD_LIMIT, guard_size
from ..resources import Column, Resource
from ..sheets.flatten import split_custom
from ..sheets.read import Sheet
from ..sheets.values import is_empty
from ..validate.report import Issue, IssueCode, ValidationReport, column_letter, sorted_report
from ..validate.rules import control_character
from .reader import CellReader, server_value
from .rows import FieldChange, Kind, RowPlan

__all__ = ["create_row", "delete_row", "row_label", "update_row", "without_control_characters"]


def row_label(frame: pd.DataFrame, resource: Resource, position: int) -> str | None:
    """The row's natural key (``name``) as people know it, or None."""
    for name in resource.natural_key:
        if name in frame:
            value = frame.iat[position, frame.columns.get_loc(name)]
            if not is_empty(value):
                return str(value).strip()
    return None


def _custom_parent(resource: Resource, name: str) -> Column | None:
    """The custom-field object column that sheet column `name` is a key of (None: a column of its own)."""
    split = split_custom(name, resource)
    return split[0] if split else None


def update_row(sh: Sheet, reader: CellReader, position: int, key: str, server: dict[str, Any],
                base: dict[str, Any] | None, flagged: list[tuple[str, str]], cells: Mapping[str, np.ndarray],
                index: int) -> RowPlan:
    """The plan of one compared row that differs somewhere (update, conflict, or only server changes kept).

    :param flagged: (column, "update" | "conflict" | "kept") of the row's differing columns.
    :param cells: the compared sheet cells by column; `index` is the row's place in them.
    """
    res = sh.resource
    changes, conflicts, kept = [], [], []
    body: dict[str, Any] = {}
    guard: dict[str, Any] = {}
    custom: dict[str, dict[str, Any]] = {}
    for name, what in flagged:
        cell = cells[name][index]
        before = server_value(server, name, res)
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
    label = row_label(sh.frame, res, position)
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


def create_row(sh: Sheet, reader: CellReader, position: int, compared: list[str],
               cells: Mapping[str, np.ndarray]) -> RowPlan:
    """The plan of a new row: every non-empty compared cell is sent (a custom field's keys as one object)."""
    res = sh.resource
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
    return RowPlan(Kind.CREATE, None, sh.rows[position], row_label(sh.frame, res, position), tuple(changes),
                   body=body)


def delete_row(res: Resource, key: str | None, excel_row: int | None, label: str | None,
                server: dict[str, Any], base: dict[str, Any] | None, compared: list[str],
                reader: CellReader) -> RowPlan:
    """A delete, unless the server changed the row since the export (then a conflict: the user has not seen it)."""
    if base is not None:
        moved = []
        for name in compared:
            now = reader.canon_stored(name, server=True)(server_value(server, name, res))
            then = reader.canon_stored(name, server=False)(base.get(name))
            if now != then:
                moved.append(FieldChange(name, server_value(server, name, res), None,
                                         reader.snapshot_value(name, base.get(name))))
        if moved:
            names = ", ".join(c.column for c in moved)
            return RowPlan(Kind.CONFLICT, key, excel_row, label, tuple(moved),
                           reason=f"to delete, but the server changed {names} since the export")
    # the row as the plan saw it: apply deletes it only if it is still so (a row changed meanwhile is a conflict)
    seen = {c: v for c, v in server.items() if c != res.key}
    return RowPlan(Kind.DELETE, key, excel_row, label, guard=seen)


def without_control_characters(sh: Sheet, rows: list[RowPlan], report: ValidationReport
                                ) -> tuple[list[RowPlan], ValidationReport]:
    """A value a row would write may not hold a control character (`validate.control_character`); text the server
    already holds that way, untouched in the sheet, is not written and so not refused. Such rows are skipped, with
    an error at their cell."""
    kept, found = [], []
    for r in rows:
        problem = None
        if r.kind in (Kind.CREATE, Kind.UPDATE):
            problem = next(((c, control_character(c.after)) for c in r.changes if control_character(c.after)), None)
        if problem is None:
            kept.append(r)
            continue
        change, message = problem
        letter = column_letter(sh.frame, change.column)
        found.append(Issue(sh.file, sh.sheet, r.row, letter, change.column, change.after, IssueCode.BAD_VALUE,
                           f"{change.column} {message}"))
        kept.append(RowPlan(Kind.SKIPPED, r.key, r.row, r.label, reason=f"{change.column} {message}"))
    if not found:
        return rows, report
    return kept, sorted_report([*report.issues, *found])

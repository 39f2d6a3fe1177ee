"""The plan's compare: the sheet's rows that have an id the server holds, against the server's rows now and (three-way)
the export snapshot, column by column and vectorised (`diff`, design decision 3).

`diff_rows` classifies every cell at once (update, conflict, kept, unchanged) and hands only the rows that differ
somewhere to the row builder (`build.update_row`); the rest are listed as `Unchanged`, two arrays rather than a
tuple per row. `columns` lays the fetched rows and the snapshot out as the object arrays the compare works on.

`edited_rows` is the same compare of the sheet with the snapshot alone, before anything is read from the server: a
row it finds equal to its snapshot row is unchanged whatever the server holds, so the lean plan need not read it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..resources import Column, ColumnType, Resource
from ..sheets.flatten import split_custom
from ..sheets.precision import Reformatted, leave_reformatted, reformattable, restorable, restore_cells
from ..sheets.read import Sheet
from ..sheets.snapshot import snapshot_columns
from ..sheets.values import to_cell, to_custom_cell
from .build import update_row
from .diff import (
    ColumnDiff,
    array_cells,
    canonical_codes,
    columns_of,
    compare,
    custom_differ,
    differ,
    fields_of,
    objects,
)
from .reader import CellReader, server_value
from .rows import RowPlan, Unchanged

__all__ = ["Columns", "columns", "compared_columns", "diff_rows", "edited_rows"]

_T = TypeVar("_T")


def compared_columns(sheet: Sheet) -> list[str]:
    """The sheet columns an import may write: writable resource columns and custom-field keys."""
    res = sheet.resource

    def writable(name: str) -> bool:
        if split_custom(name, res) is not None:
            return True
        return name in res and name != res.key and not res.column(name).read_only and res.column(name).exported

    return [str(name) for name in sheet.frame.columns if writable(str(name))]


def edited_rows(sh: Sheet, reader: CellReader, compared: list[str], positions: list[int], keys: list[str]
                ) -> np.ndarray:
    """Which of the rows at `positions` (ids `keys`) the sheet changed: a compared cell whose canonical value is not
    its snapshot cell's (the rule `diff_rows` applies to tell the user's changes), or no snapshot row at all.

    The same raw-then-canonical compare as `diff_rows` (equal raw values of the same type are equal cells; the
    others go through `values.normalize`), so a row it leaves out is a row the compare would find the user left
    alone. A cell that cannot be read counts as changed: its row is read and validation reports it. The sheet was
    read with `precision.restore_untouched`, so a cell a spreadsheet program re-wrote at its own precision is its
    snapshot cell again.
    """
    base = sh.base
    if not positions or base is None:
        return np.ones(len(positions), dtype=bool)
    return _without_gc(lambda: _edited(sh, base, reader, compared, positions, keys))


def _edited(sh: Sheet, base: Mapping[str, Mapping[str, Any]], reader: CellReader, compared: list[str],
            positions: list[int], keys: list[str]) -> np.ndarray:
    at = np.asarray(positions, dtype=np.intp)
    every_row = len(at) == len(sh.frame) and bool((at == np.arange(len(at))).all())
    snapshot, has_base = snapshot_columns(base, keys, compared)
    edited = ~has_base
    for name in compared:
        cells = sh.frame[name].to_numpy(dtype=object)
        cells = cells if every_row else cells[at]
        stored = snapshot[name]
        if split_custom(name, sh.resource) is not None:  # any type: True == 1 to Python, not to a custom field
            maybe = np.not_equal(cells, stored) | _types_differ(cells, stored)
        else:
            maybe = differ(reader.ids(name, cells), stored)
        where = np.flatnonzero(maybe & ~edited)
        if not len(where):
            continue
        text = reader.plain_text(name)
        mine, then = canonical_codes([(cells[where], reader.canon_sheet(name), text),
                                      (stored[where], reader.canon_stored(name, server=False), text)])
        edited[where] = (mine != then) | (mine == -2) | (then == -2)
    return edited


def _types_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise: the two values are not of the same type."""
    return np.fromiter(map(type, a.tolist()), dtype=object, count=len(a)) != np.fromiter(
        map(type, b.tolist()), dtype=object, count=len(b))


@dataclass(frozen=True)
class Columns:
    """The server's rows and the snapshot's rows for the compared ids, one object array per column (`columns`)."""

    server: dict[str, np.ndarray]
    snapshot: dict[str, np.ndarray] | None
    has_base: np.ndarray | None


def _without_gc(work: Callable[[], _T]) -> _T:
    """`work()` with the garbage collector paused: it makes millions of short-lived objects and no cycles, so the
    collector would only walk the big sheet again and again."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return work()
    finally:
        if paused:
            gc.enable()


def columns(resource: Resource, compared: list[str], keys: list[str], server_rows: Mapping[str, Mapping[str, Any]],
            base: Mapping[str, Mapping[str, Any]] | None) -> Columns:
    """Arrange the fetched rows (JSON objects) and the snapshot rows as columns, in the order of `keys`."""
    return _without_gc(lambda: _arrange(resource, compared, keys, server_rows, base))


def _arrange(resource: Resource, compared: list[str], keys: list[str], server_rows: Mapping[str, Mapping[str, Any]],
             base: Mapping[str, Mapping[str, Any]] | None) -> Columns:
    wanted = list(dict.fromkeys(_parent_name(resource, name) for name in compared))
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


def _parent_name(resource: Resource, name: str) -> str:
    """The server column that holds sheet column `name` (a custom field's object, else the column itself)."""
    split = split_custom(name, resource)
    return split[0].name if split is not None else name


def diff_rows(sh: Sheet, reader: CellReader, compared: list[str], keys: list[str], positions: list[int],
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
    return _without_gc(lambda: _diff_rows(sh, reader, compared, keys, positions, server_rows, base, arranged,
                                          reformatted))


@dataclass
class _Compared:
    """What the compare of the rows at `positions` shares across columns."""

    sh: Sheet
    reader: CellReader
    keys: list[str]
    positions: list[int]
    at: np.ndarray
    every_row: bool
    server_rows: Mapping[str, Mapping[str, Any]]
    arranged: Columns
    reformatted: list[Reformatted] | None


def _diff_rows(sh: Sheet, reader: CellReader, compared: list[str], keys: list[str], positions: list[int],
               server_rows: Mapping[str, Mapping[str, Any]], base: Mapping[str, Mapping[str, Any]] | None,
               arranged: Columns | None, reformatted: list[Reformatted] | None) -> tuple[list[RowPlan], Unchanged]:
    at = np.asarray(positions, dtype=np.intp)
    every_row = len(at) == len(sh.frame) and bool((at == np.arange(len(at))).all())  # then no copy is needed
    arranged = arranged or columns(sh.resource, compared, keys, server_rows, base)
    job = _Compared(sh, reader, keys, positions, at, every_row, server_rows, arranged, reformatted)
    masks: dict[str, ColumnDiff] = {}
    sheet_cells: dict[str, np.ndarray] = {}
    for name in compared:
        masks[name], sheet_cells[name] = _column(job, name)
    touched = np.zeros(len(positions), dtype=bool)
    for diff in masks.values():
        touched |= diff.update | diff.conflict | diff.kept
    flagged: dict[int, list[tuple[str, str]]] = {}  # row index -> (column, what), for the touched rows only
    for name, diff in masks.items():
        for what, mask in (("conflict", diff.conflict), ("kept", diff.kept), ("update", diff.update)):
            for i in np.flatnonzero(mask).tolist():
                flagged.setdefault(i, []).append((name, what))
    rows = [update_row(sh, reader, positions[i], keys[i], dict(server_rows[keys[i]]),
                       None if base is None else base.get(keys[i]), flagged[i], sheet_cells, i)
            for i in np.flatnonzero(touched).tolist()]
    same = ~touched
    return rows, Unchanged(np.asarray(keys, dtype=object)[same], np.asarray(sh.rows)[at[same]])


def _column(job: _Compared, name: str) -> tuple[ColumnDiff, np.ndarray]:
    """One column's masks, and its sheet cells as compared (with reformatted cells put back, two-way)."""
    res = job.sh.resource
    size = len(job.keys)
    split = split_custom(name, res)
    column = None if split is not None else res.column(name)
    server_values = job.arranged.server[name]
    as_stored = server_values  # as the snapshot holds them
    if column is not None and column.type is ColumnType.TEXT_ARRAY:
        as_stored = array_cells(server_values)
    elif column is not None and column.type is ColumnType.JSON:
        as_stored = objects([to_cell(column, v) for v in server_values])
    sheet_values = job.sh.frame[name].to_numpy(dtype=object)
    sheet_values = sheet_values if job.every_row else sheet_values[job.at]
    sheet_ids = job.reader.ids(name, sheet_values)  # labels as ids, to compare with ids
    snapshot = job.arranged.snapshot
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
        sheet_values = _restored(job, name, column, split is None, sheet_values, server_values, where)
    diff = ColumnDiff(name, *(np.zeros(size, dtype=bool) for _ in range(4)))
    if len(where):
        reader = job.reader
        text = reader.plain_text(name)
        sources = [(sheet_values[where], reader.canon_sheet(name), text),
                   (server_values[where], reader.canon_stored(name, server=True), text)]
        if stored is not None:
            sources.append((stored[where], reader.canon_stored(name, server=False), text))
        codes = canonical_codes(sources)
        has_base = job.arranged.has_base
        found = compare(name, codes[0], codes[1], codes[2] if stored is not None else None,
                        None if has_base is None else has_base[where])
        for full, part in ((diff.update, found.update), (diff.conflict, found.conflict),
                           (diff.kept, found.kept), (diff.invalid, found.invalid)):
            full[where] = part
    return diff, sheet_values


def _restored(job: _Compared, name: str, column: Column | None, plain: bool, sheet_values: np.ndarray,
              server_values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Two-way: a cell a spreadsheet program re-wrote at its precision (a CSV's 15 digits, TRUE) is the server's
    value, as an untouched exported cell is the snapshot's (`precision`); reformatted cells are left out and
    listed in `job.reformatted` unless the user accepts them. Returns the cells to compare (a copy if any
    changed)."""
    theirs = server_values[where] if plain else objects(
        [None if v is None else to_custom_cell(v) for v in server_values[where].tolist()])
    kept, count = restore_cells(column, sheet_values[where], theirs)
    if job.reformatted is not None:
        kept, left_out = leave_reformatted(column, kept, theirs)
        res, keys, positions = job.sh.resource, job.keys, job.positions
        job.reformatted.extend(Reformatted(positions[int(where[i])], name, server_value(
            job.server_rows[keys[int(where[i])]], name, res), cell) for i, cell in left_out)
        count += len(left_out)
    if not count:
        return sheet_values
    sheet_values = sheet_values.copy()
    sheet_values[where] = kept
    return sheet_values

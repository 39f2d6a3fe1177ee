"""Cells a spreadsheet program re-wrote without anyone changing them, put back to the value they stand for.

A spreadsheet keeps 15 significant digits and about a millisecond of a time, and LibreOffice re-saves a boolean
cell as ``=TRUE()`` (a CSV as ``TRUE``). An untouched cell can so come back as a different value: an 18-digit id
rounded, a timestamp .8455 s where the server holds .845499 s. Compared as it is, such a cell would be planned as an
edit that writes the rounded value (data loss). `values.shown_alike` is the one rule that tells such a cell from an
edit; here it is applied to whole columns: against the export snapshot as the workbook is read
(`restore_untouched`), and against the server's values in a two-way plan (`restore_cells`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..resources import Column, ColumnType, Resource
from .flatten import split_custom
from .snapshot import Snapshot, snapshot_columns
from .values import empty_mask, millis, reformatted, shown_alike

__all__ = ["Reformatted", "leave_reformatted", "reformattable", "restorable", "restore_cells", "restore_untouched"]


@dataclass(frozen=True)
class Reformatted:
    """A cell a spreadsheet program reformatted (`values.reformatted`), left out of a plan.

    :param position: the row's place in the sheet's frame.
    :param column: the sheet column.
    :param value: the value the server holds (kept).
    :param cell: what the sheet holds instead.
    """

    position: int
    column: str
    value: Any
    cell: Any


_RESTORED_TYPES = frozenset({ColumnType.NUMERIC, ColumnType.INTEGER, ColumnType.BOOLEAN, ColumnType.TIMESTAMP,
                             ColumnType.DATE})
"""The columns whose cells a spreadsheet program re-writes at its own precision (custom fields too)."""


def restore_untouched(frame: pd.DataFrame, base: Mapping[str, Mapping[str, Any]], resource: Resource
                      ) -> tuple[pd.DataFrame, int]:
    """The sheet with every cell that a spreadsheet program re-wrote without anyone changing it put back to the
    exported cell (`values.shown_alike`: an 18-digit id read back at 15 digits, a timestamp a few microseconds off,
    a boolean saved as 1 or ``=TRUE()``), and how many cells that was.

    Done once, as the workbook is read, so that validation, the compare and the row builders all see the exact
    exported value: none of them can mistake a spreadsheet's precision for an edit (an update that would write a
    rounded number). Only columns with such a cell are replaced; the frame given is not changed.
    """
    key = resource.key
    if key not in frame.columns or not len(frame):
        return frame, 0
    names = [str(n) for n in frame.columns if restorable(resource, str(n))]
    if not names:
        return frame, 0
    keys = [None if k is None else str(k).strip() for k in frame[key].tolist()]
    if isinstance(base, Snapshot):
        at = base.positions(keys)
        exported, present = base.take(at, names)
    else:
        exported, present = snapshot_columns(base, keys, names)
    out, restored = frame, 0
    for name in names:
        cells = frame[name].to_numpy(dtype=object)
        column = None if split_custom(name, resource) is not None else resource.column(name)
        fixed, count = restore_cells(column, cells, exported[name], present)
        if count:
            if out is frame:
                out = frame.copy(deep=False)
            out[name] = fixed
            restored += count
    return out, restored


def restore_cells(column: Column | None, cells: np.ndarray, exported: np.ndarray, present: np.ndarray | None = None
                  ) -> tuple[np.ndarray, int]:
    """`cells` with those `values.shown_alike` their `exported` cell replaced by it (a copy, when any is), and
    how many. Only cells that differ from their exported cell in value or type are looked at one by one: an
    untouched export costs one compare in C per column.

    :param present: which rows have an exported cell (default: all).
    """
    if column is not None and column.type in (ColumnType.TIMESTAMP, ColumnType.DATE):
        # an Excel date against the exported ISO text: equal to the millisecond is the same already (`normalize`)
        differs = ~(millis(cells.tolist()) == millis(exported.tolist(), exported=True))
    else:
        differs = np.not_equal(cells, exported) | _bool_against_number(cells, exported)
    if present is not None:
        differs &= present
    differs &= ~empty_mask(cells) & ~empty_mask(exported)
    where = [p for p in np.flatnonzero(differs).tolist() if shown_alike(column, cells[p], exported[p])]
    if not where:
        return cells, 0
    fixed = cells.copy()
    fixed[where] = exported[where]
    return fixed, len(where)


def _bool_against_number(cells: np.ndarray, exported: np.ndarray) -> np.ndarray:
    """Where one cell is a boolean and the other is not: Python holds True == 1 == 1.0, a custom field does not
    (1.0 against an exported 1 is the same number already)."""
    mine = np.fromiter((type(v) is bool for v in cells.tolist()), dtype=bool, count=len(cells))
    theirs = np.fromiter((type(v) is bool for v in exported.tolist()), dtype=bool, count=len(exported))
    return mine != theirs


def restorable(resource: Resource, name: str) -> bool:
    """Whether sheet column `name` is one a spreadsheet program re-writes at its own precision: a custom field, or
    a number, boolean, timestamp or date column (not a reference: those cells hold labels)."""
    if split_custom(name, resource) is not None:
        return True
    if name not in resource:
        return False
    column = resource.column(name)
    return column.type in _RESTORED_TYPES and column.reference is None


def leave_reformatted(column: Column | None, cells: np.ndarray, exported: np.ndarray
                      ) -> tuple[np.ndarray, list[tuple[int, Any]]]:
    """`cells` with those a spreadsheet program reformatted (`values.reformatted`) put back to their `exported`
    cell (a copy, when any is), and (place, the cell as it was) of each."""
    found = [(p, cells[p]) for p in range(len(cells)) if reformatted(column, cells[p], exported[p])]
    if not found:
        return cells, []
    kept = cells.copy()
    for place, _ in found:
        kept[place] = exported[place]
    return kept, found


def reformattable(resource: Resource, name: str) -> bool:
    """Whether sheet column `name` holds values a spreadsheet program may reformat when it opens a CSV: a custom
    field, or a text or number column (not a reference: those cells hold labels)."""
    if split_custom(name, resource) is not None:
        return True
    if name not in resource:
        return False
    column = resource.column(name)
    return column.type in (ColumnType.TEXT, ColumnType.NUMERIC, ColumnType.INTEGER) and column.reference is None

"""Reading one column's cells in the plan's terms: the sheet's (labels, text as typed), the export snapshot's (raw
ids, `values.to_cell` forms) and the server's (API JSON).

`CellReader` turns each of them into API values (what a write sends, what a report shows) and into canonical forms
(`values.normalize`: what decides that two of them are the same value). The compare (`compare.diff_rows`) and the
row builders (`build`) both read cells through it, so that they never disagree on what a cell means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api.lookups import Lookup
from ..errors import CellError, LabelError
from ..resources import ColumnType, Resource
from ..sheets.flatten import split_custom
from ..sheets.values import from_cell, from_custom_cell, is_empty, normalize, to_custom_cell
from .diff import Canon, by_distinct

__all__ = ["CellReader", "server_value"]


@dataclass
class CellReader:
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

    def canon_sheet(self, name: str) -> Canon:
        """The canonical form of a sheet cell of column `name` (`values.normalize`; a label as its id's)."""
        split = split_custom(name, self.resource)
        if split is not None:
            return lambda cell: normalize(None, cell)
        column = self.resource.column(name)
        if name in self.lookups:
            lookup = self.lookups[name]
            return lambda cell: None if is_empty(cell) else normalize(column, lookup.id_for(str(cell).strip()))
        return lambda cell: normalize(column, cell)

    def canon_stored(self, name: str, *, server: bool) -> Canon:
        """Snapshot cells hold `to_cell` / `to_custom_cell` forms; server values are API JSON."""
        split = split_custom(name, self.resource)
        if split is not None:
            if server:
                return lambda value: normalize(None, to_custom_cell(value)) if value is not None else None
            return lambda cell: normalize(None, cell)
        column = self.resource.column(name)
        return lambda value: normalize(column, value)


def server_value(row: Mapping[str, Any] | None, name: str, resource: Resource) -> Any:
    """The value a server row holds for sheet column `name`: a custom field's key read out of its object."""
    if row is None:
        return None
    split = split_custom(name, resource)
    if split is not None:
        column, key = split
        obj = row.get(column.name)
        return obj.get(key) if isinstance(obj, dict) else None
    return row.get(name)

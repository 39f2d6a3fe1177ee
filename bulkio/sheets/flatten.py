"""Records (the API's JSON rows) <-> flat sheet columns, and back exactly.

- a JSON-object column (``customFields``) becomes one ``customFields.<key>`` column per key seen in any record,
  keys sorted; a key a record lacks is an empty cell; values deeper than one level stay JSON in the cell;
- arrays (``tags``, ``defaultCc``) become one readable cell each (`values.to_cell`);
- text stays text (pandas ``string`` dtype), numbers are nullable ``Float64``, timestamps are tz-aware UTC.

`unflatten` is the inverse: ``customFields`` whose cells are all empty comes back as ``None`` (bulkio treats a
null object and ``{}`` alike), and every other value round-trips exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..resources import Column, ColumnType, Resource
from .values import from_cell, from_custom_cell, is_empty, to_cells, to_custom_cell

__all__ = ["flatten", "split_custom", "unflatten"]


def split_custom(name: str, resource: Resource) -> tuple[Column, str] | None:
    """``customFields.region`` -> (the customFields column, ``region``); None for other names."""
    head, sep, key = name.partition(".")
    if sep and head in resource and resource.column(head).is_json and key:
        return resource.column(head), key
    return None


def _series(column: Column, values: list[Any]) -> pd.Series:
    """API values as a column of the dtype a notebook expects for `column` (nullable numbers, UTC datetimes,
    nullable booleans, text)."""
    kind = column.type
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER):
        if all(type(v) is not int or abs(v) <= 2**53 for v in values):
            return pd.Series(values, dtype="Float64")
        return pd.Series(values, dtype=object)  # a float would round an integer past 2**53: kept as Python ints
    if kind is ColumnType.TIMESTAMP:
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    if kind is ColumnType.BOOLEAN:
        return pd.Series(values, dtype="boolean")
    return pd.Series(to_cells(column, values), dtype="string")


def flatten(records: Sequence[Mapping[str, Any]], resource: Resource,
            columns: Sequence[str] | None = None) -> pd.DataFrame:
    """API records -> a DataFrame with one column per sheet column, in `columns` order (default: exported)."""
    names = list(columns or resource.exported_columns)
    data: dict[str, pd.Series] = {}
    for name in names:
        column = resource.column(name)
        values = [record.get(name) for record in records]
        if column.is_json:
            keys = sorted({key for value in values if isinstance(value, dict) for key in value})
            for key in keys:
                cells = [to_custom_cell(v[key]) if isinstance(v, dict) and key in v else None for v in values]
                data[f"{name}.{key}"] = pd.Series(cells, dtype=object)
            continue
        data[name] = _series(column, values)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(records)))
    return frame


def unflatten(frame: pd.DataFrame | Iterable[Mapping[str, Any]], resource: Resource) -> list[dict[str, Any]]:
    """Sheet rows -> API records (only the columns present). Cells are read with `values.from_cell`.

    :raises values.CellError: for a cell that cannot be read (the caller adds the place).
    """
    rows = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else [dict(r) for r in frame]
    out = []
    for row in rows:
        record: dict[str, Any] = {}
        custom: dict[str, dict[str, Any]] = {}
        for name, cell in row.items():
            split = split_custom(str(name), resource)
            if split is not None:
                column, key = split
                custom.setdefault(column.name, {})
                if not _missing(cell) and not is_empty(cell):  # an empty cell: the key is absent
                    custom[column.name][key] = from_custom_cell(cell)
            elif name in resource:
                column = resource.column(str(name))
                if column.type is ColumnType.TIMESTAMP and not is_empty(cell):
                    record[str(name)] = from_cell(column, cell)
                else:
                    record[str(name)] = from_cell(column, None if _missing(cell) else cell)
        for name, fields in custom.items():
            record[name] = fields or None
        out.append(record)
    return out


def _missing(cell: Any) -> bool:
    """Whether a cell is pandas' missing value; lists, dicts and text never are (`pd.isna` would look inside)."""
    try:
        return bool(pd.isna(cell)) if not isinstance(cell, (list, dict, str)) else False
    except (TypeError, ValueError):
        return False

"""The export snapshot (the workbook's hidden ``_base`` sheet) as read back: one row of raw values per exported id.

It is a read-only mapping ``{id: {column: exported raw value}}`` for the code that looks at one row (a plan's
conflict, a results workbook), but it is stored as the decoded lists, one per row, and hands whole columns to the
code that compares every row (`columns`): a snapshot of 100,000 rows is then never turned into 100,000 dicts.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

__all__ = ["Snapshot", "snapshot_columns"]


class Snapshot(Mapping[str, Mapping[str, Any]]):
    """Exported rows by id, stored as rows of values in the order of `names`.

    :param keys: each row's id (text), as the ``_base`` sheet's first column holds it.
    :param names: the columns, in the order of each row's values.
    :param rows: one list of values per key, each as long as `names`.
    :raises ValueError: when the rows and the keys differ in number, or a row is not as long as `names`.
    """

    def __init__(self, keys: Sequence[str], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if len(keys) != len(rows):
            raise ValueError("rows and snapshots differ in number")
        if rows and set(map(len, rows)) != {len(names)}:
            raise ValueError("a snapshot row does not hold one value per column")
        self.names = list(names)
        self._rows = rows
        self._at = {key: position for position, key in enumerate(keys)}
        self._columns: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> dict[str, Any]:
        return dict(zip(self.names, self._rows[self._at[key]], strict=True))

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)

    def __repr__(self) -> str:
        return f"<Snapshot {len(self)} rows x {len(self.names)} columns>"

    def positions(self, keys: Sequence[str]) -> np.ndarray:
        """Each key's row (-1 where the snapshot has no such row)."""
        return np.fromiter(map(self._at.get, keys, repeat(-1)), dtype=np.intp, count=len(keys))

    def column(self, name: str) -> np.ndarray:
        """Every row's value of `name` and then one None (so that position -1, a key without a row, reads None);
        None throughout for a column the snapshot does not hold. Made once per column, in C."""
        if name not in self._columns:
            size = len(self._rows)
            out = np.empty(size + 1, dtype=object)
            if name in self.names:
                out[:size] = np.fromiter(map(operator.itemgetter(self.names.index(name)), self._rows), dtype=object,
                                         count=size)
            self._columns[name] = out
        return self._columns[name]


def snapshot_columns(base: Mapping[str, Mapping[str, Any]], keys: Sequence[str], names: Sequence[str]
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The snapshot values of `names` for `keys`, one object array per name (None where a key has no row), and
    which keys have a row. A `Snapshot` answers with whole columns; any other mapping row by row."""
    if isinstance(base, Snapshot):
        at = base.positions(keys)
        return {name: base.column(name)[at] for name in names}, at >= 0
    rows = [base.get(key) for key in keys]
    present = np.fromiter((row is not None for row in rows), dtype=bool, count=len(rows))
    return ({name: np.fromiter(((row or {}).get(name) for row in rows), dtype=object, count=len(rows))
             for name in names}, present)

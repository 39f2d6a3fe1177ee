"""The export snapshot (the workbook's hidden ``_base`` sheet) as read back: one row of raw values per exported id.

It is a read-only mapping ``{id: {column: exported raw value}}`` for the code that looks at one row (a plan's
conflict, a results workbook), but it is stored as one grid of values and hands whole columns to the code that
compares every row (`Snapshot.columns`): a snapshot of 100,000 rows is never turned into 100,000 dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np

from .values import millis

__all__ = ["Snapshot", "snapshot_columns"]


class Snapshot(Mapping[str, Mapping[str, Any]]):
    """Exported rows by id, stored as one grid of values: a row per key, a column per name in `names`.

    The grid is made once, when the workbook is read (on the reading thread, while calamine loads the data sheet):
    a column is then a view of it, and the rows of any list of keys one fancy index, never a loop per row.

    :param keys: each row's id (text), as the ``_base`` sheet's first column holds it.
    :param names: the columns, in the order of each row's values.
    :param rows: one sequence of values per key, each as long as `names`.
    :raises ValueError: when the rows and the keys differ in number, or a row is not as long as `names`.
    """

    def __init__(self, keys: Sequence[str], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if len(keys) != len(rows):
            raise ValueError("rows and snapshots differ in number")
        if rows and set(map(len, rows)) != {len(names)}:
            raise ValueError("a snapshot row does not hold one value per column")
        self.names = list(names)
        self._index = {name: position for position, name in enumerate(self.names)}
        self._keys = list(keys)
        self._at = {key: position for position, key in enumerate(self._keys)}
        self._millis: dict[str, np.ndarray] = {}
        width = len(self.names)
        # one more row of None at the end, so that position -1 (a key without a row) reads None in every column
        cells = chain(chain.from_iterable(rows), repeat(None, width))
        self._grid = np.fromiter(cells, dtype=object, count=(len(rows) + 1) * width).reshape(len(rows) + 1, width)

    def __getitem__(self, key: str) -> dict[str, Any]:
        return dict(zip(self.names, self._grid[self._at[key]].tolist(), strict=True))

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
        if len(keys) == len(self._keys) and list(keys) == self._keys:  # the export's own order, compared in C
            return np.arange(len(keys), dtype=np.intp)
        return np.fromiter(map(self._at.get, keys, repeat(-1)), dtype=np.intp, count=len(keys))

    def millis(self, name: str) -> np.ndarray:
        """The timestamps of column `name` as UTC milliseconds (`values.millis`; NaN where empty or not a
        timestamp), one per row and a last NaN (for position -1). Made once: the reader asks for them on its own
        thread while the data sheet loads, so that comparing a timestamp column later costs no parsing."""
        if name not in self._millis:
            found = np.full(len(self._keys) + 1, np.nan)
            if name in self._index:
                found[:-1] = millis(self._grid[:-1, self._index[name]].tolist(), exported=True)
            self._millis[name] = found
        return self._millis[name]

    def columns(self, keys: Sequence[str], names: Sequence[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The values of `names` for `keys` (None where a key has no row, or for a name the snapshot does not
        hold), one array per name, and which keys have a row."""
        return self.take(self.positions(keys), names)

    def take(self, at: np.ndarray, names: Sequence[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """`columns` of the rows at `at` (`positions`; -1: no row)."""
        nothing = np.full(len(at), None, dtype=object)
        if len(at) == len(self) and bool((at == np.arange(len(at))).all()):  # the export's own order: views
            rows = self._grid[:-1]
            rows.flags.writeable = False  # views of the snapshot itself
            return {name: rows[:, self._index[name]] if name in self._index else nothing.copy()
                    for name in names}, np.ones(len(at), dtype=bool)
        return {name: self._grid[at, self._index[name]] if name in self._index else nothing.copy()
                for name in names}, at >= 0


def snapshot_columns(base: Mapping[str, Mapping[str, Any]], keys: Sequence[str], names: Sequence[str]
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The snapshot values of `names` for `keys`, one object array per name (None where a key has no row), and
    which keys have a row. A `Snapshot` answers from its grid; any other mapping row by row."""
    if isinstance(base, Snapshot):
        return base.columns(keys, names)
    rows = [base.get(key) for key in keys]
    present = np.fromiter((row is not None for row in rows), dtype=bool, count=len(rows))
    return ({name: np.fromiter(((row or {}).get(name) for row in rows), dtype=object, count=len(rows))
             for name in names}, present)

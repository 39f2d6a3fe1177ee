"""A plan's rows: what each row of the sheet will do (`Kind`, `RowPlan`, its `FieldChange`s), how rows are sent
together (`Batch`), and the compact list of the rows left as they are (`Unchanged`).

The plain data every other part of the plan shares: the compare and the row builders make these, the `Plan` holds
them, the report shows them and `bulkio.apply` sends them. No logic here reads a sheet or the server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, overload

import numpy as np

__all__ = ["Batch", "FieldChange", "Kind", "RowPlan", "Unchanged"]


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
        """The rows' ids (creates have none yet)."""
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

"""The vectorised three-way compare behind the plan: sheet vs export snapshot vs server, one column at a time.

Cells come in three forms (sheet cells with labels, snapshot cells with raw ids, the server's JSON values); each is
brought to `values.normalize`'s canonical form, which is computed once per *distinct* value (a column of 100,000
cells has a few thousand distinct values at most), and the canonical values are then numbered with
`pandas.factorize`, so the comparisons themselves are integer array compares. No Python loop runs per row.

Per column, with S the sheet, B the snapshot and V the server (``values.normalize`` decides equality):

======================  =====================================================
S != B and V == B       the user changed it: an update
S != B, V != B, S != V  both changed it, differently: a conflict
S != B, V != B, S == V  both made the same change: nothing to do
S == B and V != B       only the server changed it: kept (listed, not written)
======================  =====================================================

Without a snapshot (B unknown), S != V is an update: the two-way diff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .values import CellError

__all__ = ["INVALID", "ColumnDiff", "canonical_codes", "compare"]


class _Invalid:
    """A cell that cannot be read (validation reports it; the row is skipped)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()

Canon = Callable[[Any], Any]


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _plain_text(raw: pd.Series) -> tuple[np.ndarray, list[Any]] | None:
    """The text rule, vectorised, when every value is a string: trimmed, blank is empty (`values.normalize` for a
    text column says exactly this for strings)."""
    if pd.api.types.infer_dtype(raw, skipna=True) not in ("string", "empty"):
        return None
    stripped = raw.str.strip()
    codes, uniques = pd.factorize(stripped.where(stripped != "", None), use_na_sentinel=True)
    table = [*uniques, None]
    return np.where(codes < 0, len(table) - 1, codes), table


def _distinct(values: Sequence[Any], canon: Canon, text: bool = False) -> tuple[np.ndarray, list[Any]]:
    """(code per value, `canon` of each distinct value): `canon` runs once per distinct value; the last entry of
    the table is the canonical empty value, which code -1 (None, NaN) points to.

    :param text: `canon` is the plain text rule, so a column of strings takes the vectorised path.
    """
    raw = pd.Series(values, dtype=object)
    if text:
        fast = _plain_text(raw)
        if fast is not None:
            return fast
    try:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        firsts = list(uniques)
    except TypeError:  # lists and dicts (JSON values) are not hashable
        keys = [tuple(v) if isinstance(v, list) and all(isinstance(i, str) for i in v) else _hashable(v)
                for v in raw]
        codes, _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
        present = np.flatnonzero(codes >= 0)
        _, first = np.unique(codes[present], return_index=True)
        firsts = list(raw.to_numpy()[present[first]])

    def safe(value: Any) -> Any:
        try:
            return _hashable(canon(value))
        except (CellError, ValueError, TypeError, KeyError):
            return INVALID

    table = [safe(u) for u in firsts]
    table.append(safe(None))
    return np.where(codes < 0, len(table) - 1, codes), table


def canonical_codes(sources: Sequence[tuple[Sequence[Any], Canon, bool]]) -> list[np.ndarray]:
    """For each (values, canon, is plain text) source, integer codes such that equal codes mean equal canonical
    values, across all sources. An unreadable value gets code -2 (never equal to anything, itself included)."""
    parts = [_distinct(values, fn, text) for values, fn, text in sources]
    joined: list[Any] = [v for _, table in parts for v in table]
    invalid = np.array([v is INVALID for v in joined], dtype=bool)
    keyed = pd.Series(["\x00INVALID" if bad else v for v, bad in zip(joined, invalid, strict=True)], dtype=object)
    numbers, _ = pd.factorize(keyed, use_na_sentinel=False)
    numbers = np.where(invalid, -2, numbers)
    out, start = [], 0
    for codes, table in parts:
        out.append(numbers[start:start + len(table)][codes])
        start += len(table)
    return out


@dataclass(frozen=True)
class ColumnDiff:
    """Boolean masks (one entry per compared row) for one column."""

    column: str
    update: np.ndarray
    conflict: np.ndarray
    kept: np.ndarray
    invalid: np.ndarray


def compare(column: str, sheet: np.ndarray, server: np.ndarray, base: np.ndarray | None,
            has_base: np.ndarray | None = None) -> ColumnDiff:
    """Classify one column from the canonical codes of the sheet, the server and (three-way) the snapshot.

    :param has_base: rows that have a snapshot row; the others are compared two-way.
    """
    invalid = sheet == -2
    differs_server = (sheet != server) & ~invalid
    if base is None:
        none = np.zeros(len(sheet), dtype=bool)
        return ColumnDiff(column, differs_server, none, none.copy(), invalid)
    base = base if has_base is None else np.where(has_base, base, server)
    user = (sheet != base) & ~invalid
    moved = server != base
    return ColumnDiff(column, user & ~moved, user & moved & differs_server, ~user & moved & ~invalid, invalid)

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

Before any rule runs, raw values are compared with numpy (`differ`): equal raw values are equal values, so only the
cells that differ somewhere (about 1% of a column when 1% was edited) are normalised at all. `columns_of`,
`fields_of` and `objects` lay rows out as the object arrays these compares work on.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CellError

__all__ = ["INVALID", "Canon", "ColumnDiff", "array_cells", "by_distinct", "canonical_codes", "columns_of", "compare",
           "custom_differ", "differ", "fields_of", "objects"]


class _Invalid:
    """A cell that cannot be read (validation reports it; the row is skipped)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()

Canon = Callable[[Any], Any]
"""A canonical form: one value in, the form that decides equality out (`values.normalize`)."""


_KEYED = frozenset((bool, list, dict))
"""The types `_key` stands in for: a column holding none of them is grouped as it is."""


def _key(value: Any) -> Any:
    """A hashable stand-in for a value that keeps apart what Python holds equal but the rules do not (True is not 1
    in a custom field, nor [True] [1]); lists and objects become tuples."""
    kind = type(value)
    if kind is bool:
        return (bool, value)
    if kind is list:
        return (list, tuple(_key(v) for v in value))
    if kind is dict:
        return (dict, tuple(sorted((k, _key(v)) for k, v in value.items())))
    return value


def _text_codes(raw: pd.Series) -> tuple[np.ndarray, list[Any]] | None:
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
        fast = _text_codes(raw)
        if fast is not None:
            return fast
    if set(map(type, values)).isdisjoint(_KEYED):
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        firsts = list(uniques)
    else:  # lists and dicts are not hashable, and True == 1 to factorize as to Python: group by `_key`
        codes, _ = pd.factorize(pd.Series([_key(v) for v in raw], dtype=object), use_na_sentinel=True)
        present = np.flatnonzero(codes >= 0)
        _, first = np.unique(codes[present], return_index=True)
        firsts = list(raw.to_numpy()[present[first]])

    def safe(value: Any) -> Any:
        try:
            return _key(canon(value))
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


# ------------------------------------------------------------------------------------- raw values, before the rules
def differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise "not the same value" of object arrays (Python's ``!=``; lists compared whole): values that are
    equal need no rules to know it. Typed columns were validated first, so ``True == 1`` cannot hide a bad cell
    there (custom fields, of any type, take `custom_differ`)."""
    return np.not_equal(a, b)


def custom_differ(sheet: np.ndarray, server: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Which custom-field cells may differ, three-way: the sheet's or the server's value is not the snapshot's.

    Stricter than `differ`, as a custom field holds any type. Equal raw values are the same value only when the
    server's is nothing; or text that its cell shows as it is (the text ``12`` shows as ``"12"``, so as not to be
    read as a number: `values.to_custom_cell`); or a number or bool of the very type the sheet and snapshot hold
    (True == 1 in Python, not here). Then the sheet's and the snapshot's are alike too: text equals only text.
    Lists and objects always take the full rules."""
    maybe = np.not_equal(sheet, stored) | np.not_equal(server, stored)
    kinds = np.fromiter(map(_custom_kind, server.tolist()), dtype=np.int8, count=len(server))
    maybe |= kinds == _OTHER
    typed = np.flatnonzero((kinds == _NUMBER) & ~maybe)
    if len(typed):
        sheet_types, server_types, stored_types = (
            np.fromiter(map(type, values[typed].tolist()), dtype=object, count=len(typed))
            for values in (sheet, server, stored))
        maybe[typed] = (sheet_types != stored_types) | (server_types != stored_types)
    return maybe


def array_cells(values: np.ndarray) -> np.ndarray:
    """Server arrays as the snapshot shows them (``a, b``), for lists of text.

    A list is joined only when its cell would be that text (`values.to_cell`): items without commas, and not
    starting like JSON. Any other list (``["a, b"]`` joins to the text of ``["a", "b"]``) stays a list, which
    differs from every cell and so goes through the full rules. One call per value does it all: measured twice
    as fast as a C pass per test, over lists spread through memory."""
    return np.fromiter(map(_array_cell, values.tolist()), dtype=object, count=len(values))


def _array_cell(value: Any) -> Any:
    if not value:
        return None
    if type(value) is not list:  # not what the API sends for an array: the full rules decide
        return value
    try:
        joined = ", ".join(value)
    except TypeError:  # an item that is not text
        return value
    return joined if joined.count(",") == len(value) - 1 and joined[:1] != "[" else value


def by_distinct(values: np.ndarray, decide: Callable[[Any], Any], dtype: Any = object) -> np.ndarray:
    """``decide(v)`` for every value, called once per distinct value (`pandas.factorize` finds them in C); the
    empty ones (None, NaN) are decided as None. Values that Python holds equal (1, 1.0, True) share one decision,
    as in a dict. Unhashable values (lists) are decided one by one."""
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:
        return np.fromiter(map(decide, values.tolist()), dtype=dtype, count=len(values))
    decided = np.fromiter(map(decide, [*uniques.tolist(), None]), dtype=dtype, count=len(uniques) + 1)
    return decided[codes]  # code -1 (empty) reads the last one


def columns_of(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Rows (dicts) as one object array per name; a name a row lacks is None.

    Filled in C, in one pass over the rows: each row's values as a tuple (`operator.itemgetter`), all of them
    chained into one grid whose columns are views. Column by column would visit every dict once per name, which
    costs several times more on 100,000 rows whose dicts lie all over memory."""
    if not names:
        return {}
    size, width = len(rows), len(names)
    try:
        if width == 1:
            cells: Iterable[Any] = map(operator.itemgetter(names[0]), rows)
        else:
            cells = chain.from_iterable(map(operator.itemgetter(*names), rows))
        grid = np.fromiter(cells, dtype=object, count=size * width).reshape(size, width)
    except KeyError:  # some row lacks a name: the slower way, which reads it as None
        getters = [operator.methodcaller("get", name) for name in names]
        grid = np.fromiter(chain.from_iterable([get(row) for get in getters] for row in rows), dtype=object,
                           count=size * width).reshape(size, width)
    return {name: grid[:, position] for position, name in enumerate(names)}


def fields_of(values: Sequence[Any], names: Sequence[str]) -> dict[str, np.ndarray]:
    """The keys `names` of JSON objects (custom fields) as one object array per name: None where an object lacks
    a key, and for a value that is not an object (null).

    Each object is merged over a blank one holding every name and read while the merge is still in the cache,
    all in C: making every merged object first, then reading them all, measured 20% slower."""
    if not names:
        return {}
    blank = dict.fromkeys(names)
    merged = map(operator.or_, repeat(blank), [v if type(v) is dict else blank for v in values])
    getter = operator.itemgetter(*names)
    cells = map(getter, merged) if len(names) == 1 else chain.from_iterable(map(getter, merged))
    grid = np.fromiter(cells, dtype=object, count=len(values) * len(names)).reshape(len(values), len(names))
    return {name: grid[:, position] for position, name in enumerate(names)}


def objects(values: Sequence[Any]) -> np.ndarray:
    """A 1-d object array of `values` (lists stay elements; numpy would make them a dimension)."""
    return np.fromiter(values, dtype=object, count=len(values))


_NOT_PLAIN_START = frozenset('[{"+-.0123456789')
_NOT_PLAIN = frozenset(("true", "false", "null"))


_PLAIN, _NUMBER, _OTHER = 0, 1, 2


def _custom_kind(value: Any) -> int:
    """A server value of a custom field: nothing or text its cell shows as it is (not JSON-looking, not
    number-looking, not true/false/null) is `_PLAIN`; a number or bool `_NUMBER`; anything else `_OTHER`."""
    if value is None:
        return _PLAIN
    kind = type(value)
    if kind is str:
        return _PLAIN if value[:1] not in _NOT_PLAIN_START and value not in _NOT_PLAIN else _OTHER
    return _NUMBER if kind is int or kind is float or kind is bool else _OTHER

"""The export snapshot as a grid (bulkio/snapshot.py) and the column helpers the plan's compare is built on
(bulkio/diff.py): each whole-column shortcut must give what the row-by-row reading gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulkio.diff import array_cells, by_distinct, columns_of
from bulkio.resources import CUSTOMER
from bulkio.snapshot import Snapshot, snapshot_columns
from bulkio.values import normalize, to_cell

_VALUES = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans(),
                    st.lists(st.text(max_size=3), max_size=2))


def test_a_snapshot_is_a_mapping_of_rows() -> None:
    snapshot = Snapshot(["1", "2"], ["name", "tags"], [["Acme", ["a"]], ["Bolt", None]])
    assert len(snapshot) == 2 and list(snapshot) == ["1", "2"]
    assert snapshot["1"] == {"name": "Acme", "tags": ["a"]}
    assert snapshot.get("3") is None and "2" in snapshot and "3" not in snapshot
    assert dict(snapshot["2"]) == {"name": "Bolt", "tags": None}


def test_columns_read_none_for_unknown_keys_and_names() -> None:
    snapshot = Snapshot(["1", "2"], ["name"], [["Acme"], ["Bolt"]])
    columns, present = snapshot.columns(["2", "9", "1"], ["name", "phone"])
    assert columns["name"].tolist() == ["Bolt", None, "Acme"]
    assert columns["phone"].tolist() == [None, None, None]
    assert present.tolist() == [True, False, True]
    in_order, present = snapshot.columns(["1", "2"], ["name", "phone"])  # the export's own order: views
    assert in_order["name"].tolist() == ["Acme", "Bolt"] and in_order["phone"].tolist() == [None, None]
    assert present.all() and not in_order["name"].flags.writeable
    assert snapshot["1"] == {"name": "Acme"}


@pytest.mark.parametrize(("keys", "rows"), [(["1"], []), (["1"], [["a", "b"]])])
def test_a_damaged_snapshot_is_refused(keys: list[str], rows: list[list[Any]]) -> None:
    with pytest.raises(ValueError):
        Snapshot(keys, ["name"], rows)


@given(st.lists(st.lists(_VALUES, min_size=2, max_size=2), max_size=8), st.lists(st.integers(0, 10), max_size=8))
def test_the_grid_gives_what_the_rows_give(rows: list[list[Any]], picks: list[int]) -> None:
    keys = [str(n) for n in range(len(rows))]
    names = ["a", "b"]
    wanted = [str(p) for p in picks]  # some beyond the snapshot
    as_dicts = {key: dict(zip(names, row, strict=True)) for key, row in zip(keys, rows, strict=True)}
    fast, fast_present = snapshot_columns(Snapshot(keys, names, rows), wanted, [*names, "c"])
    slow, slow_present = snapshot_columns(as_dicts, wanted, [*names, "c"])
    assert fast_present.tolist() == slow_present.tolist()
    assert {n: c.tolist() for n, c in fast.items()} == {n: c.tolist() for n, c in slow.items()}


def test_columns_of_reads_a_missing_name_as_none_and_keeps_lists_whole() -> None:
    rows = [{"a": 1, "b": [1, 2]}, {"a": 2}, {"a": 3, "b": []}]
    out = columns_of(rows, ["a", "b"])
    assert out["a"].tolist() == [1, 2, 3]
    assert out["b"].tolist() == [[1, 2], None, []] and out["b"].shape == (3,)
    assert columns_of(rows, ["a"])["a"].tolist() == [1, 2, 3]
    assert columns_of(rows, []) == {}


def test_by_distinct_decides_once_per_value_and_empties_as_none() -> None:
    seen: list[Any] = []

    def decide(value: Any) -> Any:
        seen.append(value)
        return None if value is None else f"<{value}>"

    values = np.array(["x", None, "y", "x", float("nan"), "y"], dtype=object)
    assert by_distinct(values, decide).tolist() == ["<x>", None, "<y>", "<x>", None, "<y>"]
    assert sorted(map(str, seen)) == ["None", "x", "y"]
    unhashable = np.empty(2, dtype=object)
    unhashable[:] = [[1], "x"]
    assert by_distinct(unhashable, lambda v: type(v).__name__).tolist() == ["list", "str"]


def test_array_cells_join_text_lists_as_the_sheet_shows_them() -> None:
    values = np.empty(4, dtype=object)
    values[:] = [["a", "b"], [], None, ["c"]]
    assert array_cells(values).tolist() == ["a, b", None, None, "c"]
    values[0] = [1, 2]  # not text: kept as the list, so that the full rules decide
    assert array_cells(values).tolist() == [[1, 2], None, None, "c"]


_ITEMS = st.text(alphabet='ab ,"[]\\x', max_size=4)


@given(st.lists(st.one_of(st.none(), st.lists(_ITEMS, max_size=3), st.lists(st.integers(), min_size=1, max_size=2)),
                max_size=6), st.lists(_ITEMS, max_size=3))
def test_array_cells_never_equal_a_cell_that_reads_as_another_list(lists: list[Any], other: list[str]) -> None:
    # ["a, b"] joins to "a, b", the cell of ["a", "b"]: such a list must stay a list (then the full rules decide)
    column = CUSTOMER.column("tags")
    values = np.empty(len(lists), dtype=object)
    values[:] = lists
    for value, shown in zip(lists, array_cells(values).tolist(), strict=True):
        if not value:
            assert shown is None
            continue
        assert isinstance(shown, str) or shown is value
        resplit = [part.strip() for part in ", ".join(map(str, value)).split(",")]
        for old in (value, other, resplit, [p for p in resplit if p]):
            exported = to_cell(column, old)  # a snapshot cell
            if shown == exported:
                assert normalize(column, exported) == normalize(column, value)

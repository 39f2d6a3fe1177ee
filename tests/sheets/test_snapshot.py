"""The export snapshot as a grid (bulkio/sheets/snapshot.py) and the column helpers the plan's compare is built on
(bulkio/plan/diff.py): each whole-column shortcut must give what the row-by-row reading gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bulkio.plan.diff import array_cells, by_distinct, canonical_codes, columns_of, custom_differ, fields_of
from bulkio.resources import CUSTOMER
from bulkio.sheets.snapshot import Snapshot, snapshot_columns
from bulkio.sheets.values import normalize, to_cell, to_custom_cell

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


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.5, 2.0, 1e16, 10**16])
                     | st.text(alphabet='a1 "[{-.tnul', max_size=5),
                     lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner,
                                                                                 max_size=2),
                     max_leaves=3)


def _as_read(cell: Any) -> Any:
    """A cell as a workbook gives it back: numbers may come back as floats."""
    return float(cell) if type(cell) is int and abs(cell) < 2**53 else cell


@given(st.lists(st.tuples(_JSON, _JSON, _JSON, st.sampled_from(["old", "theirs", "cell"]), st.booleans(),
                          st.booleans()), max_size=8))
@example([(True, None, 1, "old", False, True)])  # the sheet's TRUE against an exported 1: not the same value
@example([(None, None, "12", "cell", True, False)])  # the server's text '"12"' is the cell of "12", not "12"
def test_custom_differ_passes_only_cells_the_rules_hold_equal(cases: list[tuple[Any, ...]]) -> None:
    # sheet, server and snapshot cells that custom_differ lets through unread must be equal by the full rules
    sheet, server, stored = [], [], []
    for mine, theirs, old, now, same_as_old, float_cells in cases:
        exported = to_custom_cell(old) if old is not None else None
        cell = exported if same_as_old else (to_custom_cell(mine) if mine is not None else None)
        sheet.append(_as_read(cell) if float_cells else cell)
        stored.append(_as_read(exported) if float_cells else exported)
        server.append({"old": old, "theirs": theirs, "cell": exported}[now])  # "cell": a text that looks like it
    arrays = [np.empty(len(cases), dtype=object) for _ in range(3)]
    for array, values in zip(arrays, (sheet, server, stored), strict=True):
        array[:] = values
    maybe = custom_differ(*arrays)
    for s, v, b, flagged in zip(sheet, server, stored, maybe.tolist(), strict=True):
        if not flagged:
            assert normalize(None, s) == normalize(None, b)
            assert (normalize(None, to_custom_cell(v)) if v is not None else None) == normalize(None, b)


def test_fields_of_reads_keys_of_objects_and_none_elsewhere() -> None:
    objects_ = [{"region": "AMER", "tier": 1}, None, {"tier": 2}, "not an object", {}]
    fields = fields_of(objects_, ["region", "tier"])
    assert fields["region"].tolist() == ["AMER", None, None, None, None]
    assert fields["tier"].tolist() == [1, None, 2, None, None]
    assert fields_of(objects_, ["tier"])["tier"].tolist() == [1, None, 2, None, None] and fields_of([], []) == {}
    assert objects_[0] == {"region": "AMER", "tier": 1}  # the server's objects are read, not changed


def test_canonical_codes_keep_apart_what_python_holds_equal() -> None:
    # True == 1 and [True] == [1] in Python (and to pandas.factorize); in a custom field they are other values
    values = np.empty(6, dtype=object)
    values[:] = [True, 1, 0, False, [True], [1]]
    (codes,) = canonical_codes([(values, lambda v: normalize(None, v), False)])
    assert len(set(codes.tolist())) == 6

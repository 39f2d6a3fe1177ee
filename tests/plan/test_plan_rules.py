"""The plan's vectorised compare against the rules applied cell by cell.

`plan.diff_rows` trusts raw compares wherever equal raw values cannot be different values, and sends only the other
cells through `values.normalize`. Here random three-way triples (what was exported, what the server holds now,
what the sheet says) for every kind of column a plan compares are classified both ways: by `diff_rows`, and by
normalising every cell and applying the three-way table. They must agree, row by row and column by column.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkio.api.lookups import Lookup
from bulkio.plan import CellReader, Kind, diff_rows, server_value
from bulkio.resources import CUSTOMER
from bulkio.sheets.read import Sheet
from bulkio.sheets.snapshot import Snapshot
from bulkio.sheets.values import shown_alike, to_cell, to_custom_cell

TYPES = Lookup("customerTypeId", "customerType", "id", "name",
               {"ctyp_1": "Retail", "ctyp_2": "Wholesale", "ctyp_3": "OEM"})
FIELDS = ("region", "limit")
COMPARED = ["name", "phone", "customerTypeId", "taxPercent", "tags", *(f"customFields.{f}" for f in FIELDS)]

# API values (what the server holds), per column, including the awkward ones
_API = {
    "name": st.sampled_from(["Acme", "Bolt Ltd", "12", "a, b", "Acme "]),
    "phone": st.sampled_from([None, "+44 20 7946 0000", "0044 20", "+1 555"]),
    "customerTypeId": st.sampled_from([None, "ctyp_1", "ctyp_2", "ctyp_3"]),
    "taxPercent": st.sampled_from([0, 0.0, 0.1, 0.2, 0.0825, 1]),
    "tags": st.sampled_from([None, [], ["a"], ["a", "b"], ["a, b"], ["b", "a"], [""], ["[x]"], ["x y"]]),
}
_FIELD = st.sampled_from(["AMER", "EMEA", "12", "true", "null", '"q"', 5, 5.5, True, False, 0, 1, None, [1], {"a": 1},
                          # numbers a spreadsheet cannot hold exactly: they travel as text (values.fits_a_cell)
                          947871269024436488, 947871269024436489, 2**53 + 1, -(2**63), 10**20 + 7, 10**20,
                          123456789.12345679, 0.1 + 0.2, [947871269024436488]])
_ABSENT = object()
_FIELD_OR_ABSENT = st.one_of(st.just(_ABSENT), _FIELD)


def _cell(name: str, value: Any) -> Any:
    """The cell export writes for an API value: labels for references, `to_cell` forms, custom-field forms."""
    if name.startswith("customFields."):
        return None if value is _ABSENT else to_custom_cell(value)
    if name == "customerTypeId":
        return TYPES.label_for(value)
    return to_cell(CUSTOMER.column(name), value)


def _stored(name: str, value: Any) -> Any:
    """The snapshot cell (`_base`) for an API value: raw ids for references."""
    return value if name == "customerTypeId" else _cell(name, value)


def _retyped(name: str, cell: Any, how: int) -> Any:
    """The same value as a person may type it: another case or spaces for a label, a percent, items without the
    space after the comma. Reading it back must not count as a change."""
    if cell is None or how == 0:
        return cell
    if name == "customerTypeId":
        return f" {cell.upper()} " if how == 1 else f"{cell.lower()}"
    if name == "taxPercent" and isinstance(cell, float):
        return f"{cell * 100:g}%"
    if name == "tags" and isinstance(cell, str) and not cell.startswith("["):
        return cell.replace(", ", ",")
    if name in ("name", "phone") and isinstance(cell, str):
        return f" {cell} " if how == 1 else cell
    return cell


@st.composite
def _rows(draw: st.DrawFn) -> list[dict[str, tuple[Any, Any, Any]]]:
    """Rows of {column: (exported API value, the server's now, the sheet's cell)}."""
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        row = {}
        for name in COMPARED:
            strategy = _FIELD_OR_ABSENT if name.startswith("customFields.") else _API[name]
            old = draw(strategy)
            now = old if draw(st.booleans()) else draw(strategy)
            mine = old if draw(st.booleans()) else draw(strategy)
            row[name] = (old, now, _retyped(name, _cell(name, mine), draw(st.integers(0, 2))))
        rows.append(row)
    return rows


def _server_row(key: str, row: dict[str, tuple[Any, Any, Any]]) -> dict[str, Any]:
    """The server's row now, as the API sends it."""
    fields = {f: row[f"customFields.{f}"][1] for f in FIELDS if row[f"customFields.{f}"][1] is not _ABSENT}
    return {"id": key, **{name: row[name][1] for name in COMPARED if "." not in name},
            "customFields": fields or None}


def _sheet_and_server(rows: list[dict[str, tuple[Any, Any, Any]]]
                      ) -> tuple[list[str], pd.DataFrame, dict[str, dict[str, Any]]]:
    """The rows' keys, the sheet's frame (empty cells None, as read) and the server's rows by key."""
    keys = [f"cus_{i}" for i in range(len(rows))]
    frame = pd.DataFrame({"id": keys, **{name: [row[name][2] for row in rows] for name in COMPARED}}, dtype=object)
    server = {key: _server_row(key, row) for key, row in zip(keys, rows, strict=True)}
    return keys, frame.where(frame.notna(), None), server


def _reference(reader: CellReader, rows: list[dict[str, tuple[Any, Any, Any]]], server: dict[str, dict[str, Any]],
               snapshot: Snapshot) -> dict[str, dict[str, str]]:
    """{key: {column: update | conflict | kept}}: every cell normalised, then the three-way table."""
    found: dict[str, dict[str, str]] = {}
    for index, row in enumerate(rows):
        key = f"cus_{index}"
        for name, (_, _, cell) in row.items():
            mine = reader.canon_sheet(name)(cell)
            theirs = reader.canon_stored(name, server=True)(server_value(server[key], name, CUSTOMER))
            then = reader.canon_stored(name, server=False)(snapshot[key][name])
            user, moved = mine != then, theirs != then
            if user and not moved:
                found.setdefault(key, {})[name] = "update"
            elif user and mine != theirs:
                found.setdefault(key, {})[name] = "conflict"
            elif moved and not user:
                found.setdefault(key, {})[name] = "kept"
    for flags in found.values():  # a row with a conflict is only that: its updates wait (`RowPlan.changes`)
        if "conflict" in flags.values():
            for name in [n for n, what in flags.items() if what == "update"]:
                del flags[name]
    return found


@settings(max_examples=150, deadline=None)
@given(_rows())
def test_the_vectorised_compare_agrees_with_the_rules_cell_by_cell(rows: list[dict[str, tuple[Any, Any, Any]]]
                                                                 ) -> None:
    keys, frame, server = _sheet_and_server(rows)
    snapshot = Snapshot(keys, COMPARED, [[_stored(name, row[name][0]) for name in COMPARED] for row in rows])
    sheet = Sheet("rules.xlsx", "customer", CUSTOMER, frame, list(range(2, len(rows) + 2)), base=snapshot)
    reader = CellReader(CUSTOMER, {"customerTypeId": TYPES})

    planned, unchanged = diff_rows(sheet, reader, COMPARED, keys, list(range(len(keys))), server, snapshot)

    expected = _reference(reader, rows, server, snapshot)
    got: dict[str, dict[str, str]] = {}
    for r in planned:
        assert r.key is not None
        what = "conflict" if r.kind is Kind.CONFLICT else "update"
        got[r.key] = {**{c.column: what for c in r.changes}, **{c.column: "kept" for c in r.kept}}
    assert {k: v for k, v in got.items() if v} == expected
    assert {key for key, _ in unchanged} == set(keys) - {r.key for r in planned}
    for r in planned:
        if r.kind is Kind.UPDATE:
            assert r.key is not None and r.row is not None
            _check_update(reader, rows[r.row - 2], server[r.key], r.body, r.guard, [c.column for c in r.changes])


def _check_update(reader: CellReader, row: dict[str, tuple[Any, Any, Any]], server: dict[str, Any],
                  body: Any, guard: Any, changed: list[str]) -> None:
    """An update sends the sheet's API values of exactly the changed columns, guarded by the server's values now;
    changed custom fields are merged into the server's object, which guards them."""
    fields = dict(server["customFields"] or {})
    expected_body: dict[str, Any] = {}
    expected_guard: dict[str, Any] = {}
    for name in changed:
        after = reader.api_value(name, row[name][2])
        if name.startswith("customFields."):
            field = name.split(".", 1)[1]
            if after is None:
                fields.pop(field, None)
            else:
                fields[field] = after
            expected_body["customFields"] = fields or None
            expected_guard["customFields"] = server["customFields"]
        else:
            expected_body[name] = after
            expected_guard[name] = server[name]
    assert dict(body) == expected_body
    assert dict(guard) == expected_guard


@settings(max_examples=100, deadline=None)
@given(_rows())
def test_without_a_snapshot_the_compare_agrees_with_the_rules_two_way(rows: list[dict[str, tuple[Any, Any, Any]]]
                                                                    ) -> None:
    keys, frame, server = _sheet_and_server(rows)
    sheet = Sheet("rules.csv", None, CUSTOMER, frame, list(range(2, len(rows) + 2)))
    reader = CellReader(CUSTOMER, {"customerTypeId": TYPES})

    planned, _ = diff_rows(sheet, reader, COMPARED, keys, list(range(len(keys))), server, None)

    expected: dict[str, set[str]] = {}
    for key, row in zip(keys, rows, strict=True):
        for name, (_, _, cell) in row.items():
            now = server_value(server[key], name, CUSTOMER)
            theirs = reader.canon_stored(name, server=True)(now)
            # a cell a spreadsheet program wrote at its precision (15 digits, TRUE) is the server's value
            column = None if name.startswith("customFields.") else CUSTOMER.column(name)
            exported = now if column is not None else None if now is None else to_custom_cell(now)
            if shown_alike(column, cell, exported):
                continue
            if reader.canon_sheet(name)(cell) != theirs:
                expected.setdefault(key, set()).add(name)
    assert {r.key: {c.column for c in r.changes} for r in planned} == expected
    assert all(r.kind is Kind.UPDATE for r in planned)

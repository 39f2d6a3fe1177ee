"""Every rule `bulkio/sheets/values.py` documents, by example (the property tests live in test_export and test_read)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulkio.resources import CUSTOMER
from bulkio.sheets.values import (
    CELL_KINDS,
    CellError,
    CellErrorCode,
    cell_kinds,
    empty_mask,
    from_cell,
    from_custom_cell,
    is_empty,
    normalize,
    normalize_series,
    to_cell,
    to_custom_cell,
)

NAME, PHONE, TAX = CUSTOMER.column("name"), CUSTOMER.column("phone"), CUSTOMER.column("taxPercent")
TAGS, CREATED, CUSTOM = CUSTOMER.column("tags"), CUSTOMER.column("createdAt"), CUSTOMER.column("customFields")


@pytest.mark.parametrize("value", [None, float("nan"), pd.NA, pd.NaT, "", "   ", "\t\n"])
def test_every_empty_form_is_one_empty(value: object) -> None:
    assert is_empty(value)
    assert from_cell(NAME, value) is None and from_cell(TAGS, value) == []
    assert empty_mask(np.array([value, "x"], dtype=object)).tolist() == [True, False]


_CELLS = st.one_of(st.none(), st.text(max_size=4), st.sampled_from(["", " ", "\u00a0", "\u2003x"]),
                   st.floats(allow_nan=True), st.integers(), st.booleans(), st.datetimes(),
                   st.sampled_from([pd.NA, pd.NaT, pd.Timestamp("2026-01-01"), Decimal("1.5"), np.float64("nan")]))


@given(st.lists(_CELLS, min_size=1, max_size=12))
def test_cell_kinds_are_is_empty_and_the_type(cells: list[object]) -> None:
    """The one-pass reading of a sheet's cells (blank or not, and of which type) says what `is_empty` and
    `type` say of each cell."""
    grid = np.empty(len(cells), dtype=object)
    grid[:] = cells
    codes = cell_kinds(grid.reshape(1, -1)).ravel()
    for cell, code in zip(cells, codes.tolist(), strict=True):
        assert (code == 0) == is_empty(cell), cell
        if code:
            assert code == len(CELL_KINDS) or type(cell) is CELL_KINDS[code], (cell, code)
            assert code != len(CELL_KINDS) or type(cell) not in CELL_KINDS


def test_text_is_trimmed_and_ids_and_phones_stay_text() -> None:
    assert from_cell(NAME, "  Acme  ") == "Acme"
    assert from_cell(PHONE, "0123") == "0123" and from_cell(PHONE, "+44 20 7946 0958") == "+44 20 7946 0958"
    assert from_cell(NAME, 123.0) == "123"  # Excel turned numeric-looking text into a number


@pytest.mark.parametrize("cell", [442079460960.0, 4.4207946096e11, 123])
def test_a_phone_that_became_a_number_is_an_error_not_a_guess(cell: float) -> None:
    with pytest.raises(CellError) as info:
        from_cell(PHONE, cell)
    assert info.value.code is CellErrorCode.NUMBER_FOR_TEXT and "Text" in info.value.message


def test_numbers_lose_excel_float_noise_and_percent_forms_agree() -> None:
    assert from_cell(TAX, 0.30000000000000004) == 0.3
    assert from_cell(TAX, "20%") == from_cell(TAX, 0.2) == from_cell(TAX, "0.2") == 0.2
    assert from_cell(TAX, 20) == 20  # not guessed: validation flags it with a hint
    with pytest.raises(CellError, match="not a number"):
        from_cell(TAX, "twenty")
    with pytest.raises(CellError):
        from_cell(TAX, float("inf"))


def test_dates_from_serials_objects_and_text_are_utc() -> None:
    expected = "2024-01-01T12:00:00+00:00"
    assert from_cell(CREATED, 45292.5) == expected
    assert from_cell(CREATED, datetime(2024, 1, 1, 12)) == expected
    assert from_cell(CREATED, "2024-01-01 13:00+01:00") == expected
    assert from_cell(CREATED, date(2024, 1, 1)) == "2024-01-01T00:00:00+00:00"
    with pytest.raises(CellError, match="not a date"):
        from_cell(CREATED, "next tuesday-ish")
    assert normalize(CREATED, datetime(2024, 1, 1, 12, 0, 0, 368626, tzinfo=UTC)) == \
        normalize(CREATED, datetime(2024, 1, 1, 12, 0, 0, 369000))  # to the millisecond, as Excel holds it


@pytest.mark.parametrize("items", [["vip", "export"], ["tools, hardware", "eu"], ['say "hi"'], [" padded "], []])
def test_arrays_are_one_cell_and_come_back_exactly(items: list[str]) -> None:
    cell = to_cell(TAGS, items)
    assert from_cell(TAGS, cell) == items
    if items == ["vip", "export"]:
        assert cell == "vip, export"
    if items == []:
        assert cell is None


def test_custom_field_cells_keep_their_types() -> None:
    for value in ("123", "true", "[1]", "plain", 5000, 2.5, True, None, {"a": 1}, [1, "x"], 1.6403796510900224e16):
        assert from_custom_cell(to_custom_cell(value)) == value, value
    assert to_custom_cell("123") == '"123"' and to_custom_cell(None) == "null"
    assert to_custom_cell(1.6403796510900224e16) == "1.6403796510900224e+16"  # more digits than Excel keeps


def test_json_objects_compare_by_content() -> None:
    assert normalize(CUSTOM, '{"b": 1, "a": 2}') == normalize(CUSTOM, {"a": 2, "b": 1})
    assert normalize(CUSTOM, None) == normalize(CUSTOM, {}) is None
    with pytest.raises(CellError) as info:
        from_cell(CUSTOM, "{not json")
    assert info.value.code is CellErrorCode.BAD_JSON


def test_normalize_series_agrees_with_normalize() -> None:
    for column, values in ((NAME, [" a ", None, "", "b"]), (PHONE, ["+1 2", None]), (TAX, [0.2, None, 0.1]),
                           (TAGS, ["a, b", None, '["x, y"]'])):
        series = pd.Series(values, dtype="string" if column is not TAX else "Float64")
        assert normalize_series(column, series).tolist() == [normalize(column, v) for v in series.tolist()]

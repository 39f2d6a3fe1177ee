"""The workbook format's names, both ways: what the writer puts in a workbook and the reader, validation, the plan
and the results workbook look for.

They live here, below every stage, so that a lower layer never imports an upper one for a constant: the reader
does not import the writer for its sheet names, nor validation the apply layer for the result columns. Changing a
name here changes the file format: workbooks exported before no longer read the same.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "ACTION_COLUMN",
    "BASE_SHEET",
    "DELETE",
    "ERRORS_SHEET",
    "EXAMPLE_SHEET",
    "LOOKUP_SHEET",
    "META_SHEET",
    "NOT_DATA_SHEETS",
    "RESULT_COLUMNS",
    "WITH_KEY",
    "base_sheet",
    "escape_formula",
    "is_data_sheet",
    "meta_sheet",
    "unescape_formula",
]

# ------------------------------------------------------------------------------------------------ sheets
META_SHEET = "_bulkio"
"""Very hidden: what was exported, from which host, when (never the key)."""
BASE_SHEET = "_base"
"""Very hidden: the exported values with raw ids, for the three-way plan."""
LOOKUP_SHEET = "Lookups"
"""One column of valid labels per reference column: feeds the dropdowns."""
EXAMPLE_SHEET = "Example"
"""A template's example row, kept off the data sheet so that it is never imported."""
ERRORS_SHEET = "Errors"
"""The error workbook's list of problems, beside the user's sheet."""
NOT_DATA_SHEETS = frozenset({LOOKUP_SHEET, META_SHEET, BASE_SHEET, EXAMPLE_SHEET, ERRORS_SHEET})
"""Sheets bulkio writes beside the data: the reader never takes one of them for the data sheet."""
WITH_KEY = "with"
"""The parent's ``_bulkio`` key naming a family workbook's child tables (a JSON list: ``["customerContact"]``)."""


def meta_sheet(table: str | None = None) -> str:
    """The very hidden metadata sheet: the workbook's first table's (``_bulkio``), else a child table's
    (``_bulkio.customerContact``). A family's parent keeps the plain name, so that a reader that knows only one
    table per workbook reads the parent exactly as before.

    >>> meta_sheet(), meta_sheet("customerContact")
    ('_bulkio', '_bulkio.customerContact')
    """
    return META_SHEET if table is None else f"{META_SHEET}.{table}"


def base_sheet(table: str | None = None) -> str:
    """The very hidden snapshot sheet: ``_base``, or a child table's ``_base.customerContact`` (as `meta_sheet`).

    >>> base_sheet(), base_sheet("customerContact")
    ('_base', '_base.customerContact')
    """
    return BASE_SHEET if table is None else f"{BASE_SHEET}.{table}"


def is_data_sheet(name: str) -> bool:
    """Whether a sheet may hold a table's rows: not one bulkio writes beside the data (`NOT_DATA_SHEETS`, and a
    child table's ``_bulkio.<table>`` and ``_base.<table>``).

    >>> is_data_sheet("customerContact"), is_data_sheet("_base.customerContact"), is_data_sheet("Lookups")
    (True, False, False)
    """
    return name not in NOT_DATA_SHEETS and not name.startswith((f"{META_SHEET}.", f"{BASE_SHEET}."))

# ------------------------------------------------------------------------------------------------ columns
ACTION_COLUMN = "_action"
"""The column where a user asks for a row's deletion; blank creates or updates the row."""
DELETE = "delete"
"""The `ACTION_COLUMN` value that deletes the row (when the plan is applied)."""
ACTIONS = (DELETE,)
"""Every value `ACTION_COLUMN` may hold besides blank: the writer's dropdown and validation's rule."""
RESULT_COLUMNS = ("_status", "_id", "_readableId", "_error")
"""The columns a results workbook adds to the user's sheet (a row's outcome, its new id and readableId, the
error): importing that workbook again ignores them, so a fixed results workbook imports like any sheet."""

# ------------------------------------------------------------------------------------------------ cells
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """OWASP CSV-injection escape: a cell a spreadsheet would run as a formula gets a leading apostrophe.

    A value that already starts with an apostrophe before such a character gets one more, so `unescape_formula`
    is an exact inverse.

    >>> escape_formula("=1+1"), escape_formula("'=1+1"), escape_formula("plain")
    ("'=1+1", "''=1+1", 'plain')
    """
    probe = text.lstrip("'")
    return "'" + text if (probe.startswith(_FORMULA_START) and probe != text) or text.startswith(_FORMULA_START) \
        else text


def unescape_formula(text: str) -> str:
    """The exact inverse of `escape_formula`: what the user typed, from the cell bulkio wrote.

    >>> unescape_formula("'=1+1"), unescape_formula("''=1+1"), unescape_formula("'quoted")
    ('=1+1', "'=1+1", "'quoted")
    """
    if text.startswith("'") and text.lstrip("'").startswith(_FORMULA_START):
        return text[1:]
    return text

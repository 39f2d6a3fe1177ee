"""Writing a family workbook: a table and its children (`FamilyExport`) as one workbook of several data sheets.

A family workbook is a one-table workbook of the parent with, after the parent's data sheet, a data sheet per child
table; the children's lookups go in the same ``Lookups`` sheet under ``<table>.<column>`` headers, and each child
has its own very hidden ``_bulkio.<table>`` and ``_base.<table>``; the parent's ``_bulkio`` names the children
(``with``). A child's link column (``customerId``) shows the parent's label, with a dropdown of the parent sheet's
labels (and parents added below them).

Only what a family adds is decided here. The sheets are written by `bulkio.sheets.write`, which hands its workbook
writer in (`FamilyBook`): one copy of the formatting, and no import back from here to there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from xlsxwriter.utility import xl_col_to_name

from ..api.lookups import Lookup
from ..errors import WorkbookError
from ..resources import Link
from .exported import Export, FamilyExport
from .layout import ACTION_COLUMN, WITH_KEY, meta_sheet

__all__ = ["FamilyBook", "write_family"]

Dropdown = tuple[str, str, dict[str, str]]
"""A link column's dropdown: (list source, header comment, validation messages)."""


class FamilyBook(Protocol):
    """The workbook writer `bulkio.sheets.write` hands in: the sheets every export workbook has."""

    def add_sheet(self, name: str) -> Any:
        """An empty worksheet named `name`, after the ones added so far."""

    def lookups(self, lookups: Mapping[str, Lookup]) -> dict[str, str]:
        """The ``Lookups`` sheet; returns each column's dropdown source range."""

    def export(self, sheet: Any, export: Export, ranges: Mapping[str, str], meta: Mapping[str, Any], *,
               table: str | None = None, comments: Mapping[str, str] | None = None,
               options: Mapping[str, Mapping[str, str]] | None = None) -> int:
        """An export's data sheet into `sheet`, then its very hidden ``_bulkio`` (`meta`) and ``_base`` (a child's
        `table`: ``_bulkio.<table>``, ``_base.<table>``); returns the rows written."""

    def close(self) -> Path:
        """Write the file; returns its path."""


def _sheet_names(family: FamilyExport, path: Path) -> list[str]:
    """The data sheets' names, parent first: the tables' names, each fitting a sheet name (31 characters, its
    ``_bulkio.<table>`` too) and no two alike."""
    tables = [family.parent.resource.name, *(child.resource.name for child in family.children)]
    too_long = [t for t in tables if len(meta_sheet(t)) > 31 or len(t) > 31]
    if too_long or len(set(tables)) < len(tables):
        raise WorkbookError(f"cannot name the sheets of {', '.join(too_long or tables)}: a sheet name holds 31 "
                            "characters, and each table one sheet", file=str(path))
    return tables


def _family_lookups(family: FamilyExport) -> dict[str, Lookup]:
    """The ``Lookups`` sheet's columns of a family: the parent's by column name (as in a one-table workbook), each
    child's as ``<table>.<column>`` (two tables may both have a ``currencyCode``); a child's link column is left
    out (its list is the parent sheet's labels)."""
    lookups = dict(family.parent.lookups)
    for child, link in zip(family.children, family.links, strict=True):
        lookups.update({f"{child.resource.name}.{name}": lookup for name, lookup in child.lookups.items()
                        if name != link.column})
    return lookups


def _link_dropdown(parent: Export, link: Link, rows: int) -> Dropdown | None:
    """A child's link column's dropdown: (source, header comment, validation messages), its list the parent sheet's
    label column down to 1,000 rows below the last one, so parents added at the bottom are offered too; None when
    the parent sheet has no label column (a raw-ids export) to pick from."""
    columns = [str(c) for c in parent.frame.columns if c != ACTION_COLUMN]
    label = link.label
    if label not in columns:
        return None
    letter = xl_col_to_name(columns.index(label))
    sheet = link.parent.name[:31]
    source = f"='{sheet}'!${letter}$2:${letter}${rows + 1001}"
    what = f"the {link.parent.name} this row belongs to, by its {label}"
    comment = (f"Required: {what}. Pick one of the {sheet} sheet (a new row there works too), or name one on the "
               "server.")
    options = {"input_title": f"{link.parent.name} ({label})"[:32],
               "input_message": f"Names {what}: one of the {sheet} sheet, or one on the server."[:255],
               "error_title": f"Unknown {link.parent.name}"[:32],
               "error_message": f"Not a {label} of the {sheet} sheet: an unknown {link.parent.name} fails on "
                                "import unless the server has it."[:255]}
    return source, comment, options


def _write_child(book: FamilyBook, sheet: Any, child: Export, link: Link, ranges: Mapping[str, str],
                 dropdown: Dropdown | None) -> None:
    """A child table's data sheet (its lookups from the shared sheet, its link column's list the parent sheet's)
    and its own hidden ``_bulkio.<table>`` and ``_base.<table>``."""
    table = child.resource.name
    own = {name: ranges[f"{table}.{name}"] for name in child.lookups if f"{table}.{name}" in ranges}
    comments: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {}
    if dropdown is not None and link.column in child.lookups:
        own[link.column], comments[link.column], options[link.column] = dropdown
    book.export(sheet, child, own, {**child.info.to_dict(), "parent": link.parent.name, "parent_column": link.column},
                table=table, comments=comments, options=options)


def write_family(family: FamilyExport, path: Path, open_book: Callable[[Path], FamilyBook]) -> Path:
    """A parent's data sheet, then one per child, the shared ``Lookups``, and the hidden sheets: the parent's as in
    a one-table workbook (plus ``with``), each child's as ``_bulkio.<table>`` / ``_base.<table>``. The sheet names
    are checked before `open_book` opens the workbook; returns the path.

    :raises WorkbookError: when a table's name cannot name a sheet, or the file cannot be written.
    """
    tables = _sheet_names(family, path)
    book = open_book(path)
    sheets = [book.add_sheet(name) for name in tables]
    ranges = book.lookups(_family_lookups(family))
    rows = book.export(sheets[0], family.parent, ranges, {**family.parent.info.to_dict(), WITH_KEY: tuple(tables[1:])})
    for child, link, sheet in zip(family.children, family.links, sheets[1:], strict=True):
        _write_child(book, sheet, child, link, ranges, _link_dropdown(family.parent, link, rows))
    sheets[0].activate()
    return book.close()

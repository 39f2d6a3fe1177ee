"""How a child sheet's rows name their parent: by the parent's label (a customer's ``name``), resolved against the
parent sheet of the same workbook first, the server only for what the workbook does not hold.

A contact may belong to a customer the same workbook creates: that customer has no id yet, so its label resolves
to a *pending id* (``<new customer row 12>``, the parent sheet's Excel row), which `bulkio.run.family` replaces by
the id the server gave the parent before the child is sent. A pending id never reaches the server: a child whose
parent was not created is not sent.

Renamed parents: a child cell still holding the name the parent had at export resolves to it through the parent's
snapshot, unless another row of the parent sheet now carries that name (then the label is ambiguous, an error,
never a guess).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..api.lookups import Lookup
from ..errors import LabelError
from ..resources import Link
from ..sheets.read import Sheet
from ..sheets.values import empty_mask

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["ParentLookup", "cell_texts", "parent_lookup", "pending_id", "pending_row"]

_PENDING = re.compile(r"<new (?P<table>[^ >]+) row (?P<row>\d+)>")


def pending_id(table: str, row: int) -> str:
    """The stand-in id of the new row at Excel `row` of `table`'s sheet, until the server gives it one."""
    return f"<new {table} row {row}>"


def pending_row(value: object) -> tuple[str, int] | None:
    """(table, Excel row) of a pending id; None for anything else (a real id, a label, None)."""
    found = _PENDING.fullmatch(value) if isinstance(value, str) else None
    return (found["table"], int(found["row"])) if found else None


@dataclass(frozen=True)
class ParentLookup(Lookup):
    """A `Lookup` of the parent rows a child sheet may name: the parent sheet's rows by their current labels (new
    rows by pending ids), the labels they had at export (`aliases`), and server rows the workbook does not hold."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    """A label a parent row had at export and no longer has -> that row's id."""

    def id_for(self, label: str) -> str:
        """The id `label` names now, or named at export. :raises LabelError: unknown, or ambiguous between a row's
        current label and another row's former one."""
        former = self.aliases.get(label)
        try:
            found = super().id_for(label)
        except LabelError as exc:
            if exc.code != "unknown_label":
                raise
            if former is None:
                raise self._unknown(label) from None
            return former
        if former is not None and former != found:
            raise LabelError(f"{label!r} is the {self.label} of {self.table} {found} now and was the {self.label} of "
                             f"{self.table} {former} at export: write the {self.label} the {self.table} has now",
                             code="ambiguous_label", choices=self.choices)
        return found


    def _unknown(self, label: str) -> LabelError:
        """An unknown parent, with the labels that look like it (accents, case and punctuation aside): a name typed
        without its accents is the usual slip, and a list of every customer is no help."""
        folded = {_folded(choice): choice for choice in self.choices}
        close = [folded[f] for f in difflib.get_close_matches(_folded(label), list(folded), n=3, cutoff=0.75)]
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else "; pick one from the cell's list"
        return LabelError(f"unknown {self.table} {label!r}: no row of the {self.table} sheet and no {self.table} on "
                          f"the server has that {self.label}{hint}", code="unknown_label", choices=self.choices)


def _folded(text: str) -> str:
    """`text` without accents, case and punctuation, for telling a slip from another name."""
    plain = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O"))
    return " ".join("".join(c for c in plain if c.isalnum() or c.isspace()).casefold().split())


def parent_lookup(client: Client, link: Link, parent: Sheet, child: Sheet) -> ParentLookup:
    """The parents `child`'s link column may name: `parent`'s rows (no request), then, for labels the workbook
    does not hold, the server's rows with that label or id (a request per URL budget's worth, usually none)."""
    res, label = link.parent, link.label
    labels: dict[str, str] = {}
    for position, (key, name) in enumerate(zip(cell_texts(parent, res.key), cell_texts(parent, label), strict=True)):
        if name is None:
            continue
        labels[key if key is not None else pending_id(res.name, parent.rows[position])] = name
    aliases = {str(row[label]): key for key, row in (parent.base or {}).items()
               if row.get(label) is not None and labels.get(key) != str(row[label])}
    known = set(labels.values()) | set(aliases) | set(labels)
    folded = {k.casefold() for k in known}
    wanted = {text for text in cell_texts(child, link.column) if text is not None
              and text not in known and text.casefold() not in folded}
    if wanted:
        select = [res.key, label] if label != res.key else [res.key]
        for column in dict.fromkeys((label, res.key)):
            for row in client.rows_in(res, column, sorted(wanted), select):
                if row.get(label) is not None:
                    labels.setdefault(str(row[res.key]), str(row[label]))
    return ParentLookup(link.column, res.name, res.key, label, labels, aliases=aliases)


def cell_texts(sheet: Sheet, name: str) -> list[str | None]:
    """The stripped text of each cell of column `name` (None where empty, or where the sheet lacks the column)."""
    if name not in sheet.frame:
        return [None] * len(sheet.frame)
    cells = sheet.frame[name].to_numpy(dtype=object)
    return [None if empty else str(cell).strip() for cell, empty in zip(cells.tolist(), empty_mask(cells).tolist(),
                                                                         strict=True)]

"""What an export hands the sheet writer: the rows (`Export`: raw API values flattened to sheet columns, with the
lookups that show their labels) and where they came from (`ExportInfo`, stored in the workbook's ``_bulkio``
sheet); a table with its children (`FamilyExport`, one workbook of several sheets). Here, below both the exporter
that fills them and the writers that render them, so that the format does not depend on the stage above it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from .._version import __version__
from ..api.lookups import Lookup
from ..resources import Link, Resource

__all__ = ["Export", "ExportInfo", "FamilyExport", "display_frame", "flat_columns"]


@dataclass(frozen=True)
class ExportInfo:
    """What an export asked for and where from: stored in the workbook's hidden ``_bulkio`` sheet.

    Never holds the API key: `host` is the base URL's host only.
    """

    resource: str
    host: str
    select: tuple[str, ...]
    filters: tuple[str, ...]
    order: str
    exported_at: str
    rows: int
    raw_ids: bool = False
    limit: int | None = None
    version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values, as the workbook's ``_bulkio`` sheet stores them."""
        return asdict(self)


@dataclass(frozen=True)
class Export:
    """One export: `frame` holds raw API values (reference ids), flattened to sheet columns."""

    resource: Resource
    frame: pd.DataFrame
    info: ExportInfo
    lookups: Mapping[str, Lookup] = field(default_factory=dict)

    def display(self) -> pd.DataFrame:
        """The frame people see: reference ids replaced by labels (unless the export was asked with raw ids)."""
        return self.frame.copy() if self.info.raw_ids else display_frame(self.frame, self.lookups)


@dataclass(frozen=True)
class FamilyExport:
    """A parent table's export and its children's (`bulkio.export.family.export_family`), in the order the
    workbook shows them.

    :param parent: the parent's export, as `bulkio.export.table.export_table` makes it.
    :param children: one export per child table, in the order asked for.
    :param links: how each child hangs from the parent (``links[i]`` belongs to ``children[i]``).
    """

    parent: Export
    children: tuple[Export, ...]
    links: tuple[Link, ...]

    def __post_init__(self) -> None:
        if len(self.children) != len(self.links):
            raise ValueError("a family export needs one link per child export")

    @property
    def rows(self) -> dict[str, int]:
        """Rows exported per table, parent first: ``{"customer": 120, "customerContact": 40}``."""
        return {self.parent.resource.name: len(self.parent.frame),
                **{child.resource.name: len(child.frame) for child in self.children}}


def display_frame(frame: pd.DataFrame, lookups: Mapping[str, Lookup]) -> pd.DataFrame:
    """A copy of `frame` with the reference ids of the `lookups` columns replaced by their labels."""
    shown = frame.copy()
    for column, lookup in lookups.items():
        if column in shown:
            shown[column] = shown[column].map(lookup.label_for, na_action="ignore").astype(shown[column].dtype)
    return shown


def flat_columns(resource: Resource, select: Sequence[str], names: Iterable[str]) -> list[str]:
    """The sheet columns of `select`, in order: a JSON column becomes the ``<column>.<key>`` columns among `names`,
    keys sorted (as `flatten` orders them)."""
    names = list(names)
    order: list[str] = []
    for name in select:
        if resource.column(name).is_json:
            order += sorted(c for c in names if c.startswith(f"{name}."))
        else:
            order.append(name)
    return order

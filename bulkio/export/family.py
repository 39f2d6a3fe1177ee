"""A table and its children in one export (issue 19, design decision 16): customers with their contacts.

The parent is exported exactly as `bulkio.export.table.export_table` exports it. Each child table is read in pages,
never a request per parent: the whole child table when the parent export took every row (no filter, no limit),
else ``<column>=in.(<parent ids>)`` lists cut under the URL budget (`Client.in_chunks`), each paged. The child's
link column (``customerId``) shows the parent's label (the customer's name), built from the parent rows already in
hand: fetching it would read the whole parent table again. The child's other references get their usual lookups.

Example::

    with Client() as client:
        family = export_family(client, "customer", ["customerContact"], filters=["name=ilike.*acme*"])
        write_workbook(family, "acme.xlsx")     # sheets customer and customerContact, each with its snapshot
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..api.catalog import link_for
from ..api.lookups import Lookup, fetch_lookups
from ..api.query import in_
from ..errors import ConfigError
from ..resources import Link, Resource
from ..sheets.exported import Export, ExportInfo, FamilyExport
from ..sheets.flatten import flatten
from .table import Progress, _concat, export_table, iter_records

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["FamilyExport", "export_family"]

Filters = Sequence[str] | Mapping[str, str] | None


def _family_select(links: Sequence[Link], select: Sequence[str] | None) -> list[str] | None:
    """The parent's select, with its key and label added when left out: the children need both (the key to find
    their rows, the label to show which parent each row belongs to)."""
    if select is None or not links:
        return None if select is None else list(select)
    columns = list(select)
    for needed in (links[0].label, links[0].parent.key):
        if needed not in columns:
            columns.insert(0, needed)
    return columns


def _parent_lookup(link: Link, parent_frame: pd.DataFrame) -> Lookup:
    """Parent id -> parent label, from the exported parent rows (no request)."""
    label = link.label
    pairs = parent_frame[[link.parent.key, label]].dropna()
    labels = {str(key): str(name) for key, name in zip(pairs[link.parent.key], pairs[label], strict=True)}
    return Lookup(link.column, link.parent.name, link.parent.key, label, labels)


def _child_pages(client: Client, link: Link, parent_ids: Sequence[str] | None, columns: Sequence[str],
                 page_size: int | None, progress: Progress | None) -> Iterator[list[dict[str, Any]]]:
    """The child's rows in pages: the whole table (`parent_ids` None), else by ``in`` lists of the parent ids cut
    under the URL budget, each list paged."""
    if parent_ids is None:
        yield from iter_records(client, link.child, select=columns, page_size=page_size, progress=progress)
        return
    for chunk in client.in_chunks(link.child, link.column, parent_ids, list(columns)):
        yield from iter_records(client, link.child, select=columns, where=[(link.column, in_(chunk))],
                                page_size=page_size, progress=progress)


def _child_frame(link: Link, pages: Iterator[list[dict[str, Any]]], columns: Sequence[str]) -> pd.DataFrame:
    """The child's pages as one frame, ordered by (parent column, key): a parent's rows together."""
    frame = _concat([flatten(page, link.child, columns=columns) for page in pages], link.child, columns)
    if frame.empty or link.column not in frame or link.child.key not in frame:
        return frame
    return frame.sort_values([link.column, link.child.key], kind="stable", ignore_index=True)


def _child_info(parent: Export, link: Link, columns: Sequence[str], rows: int, whole: bool) -> ExportInfo:
    """What the child export read: stamped with the parent's time (taken before the first read of the family),
    its filter the link in words. The words hold no ``=`` on purpose: they are not a PostgREST filter, and a plan
    must not send them as one (`as_params` refuses them); a child read whole (the parent unfiltered) has no filter
    at all, as a one-table export of the whole child table."""
    scope = () if whole else (f"{link.column} in the exported {link.parent.name} rows",)  # the parent's say which
    return replace(parent.info, resource=link.child.name, select=tuple(columns), filters=scope,
                   order=f"{link.column}.asc,{link.child.key}.asc", rows=rows, limit=None)


def _export_child(client: Client, parent: Export, link: Link, *, whole: bool, raw_ids: bool,
                  page_size: int | None, progress: Progress | None) -> Export:
    """One child table's export, its rows those of the exported parents."""
    columns = link.child.exported_columns
    ids = None if whole else sorted({str(v) for v in parent.frame[link.parent.key].dropna()})
    pages = iter(()) if ids == [] else _child_pages(client, link, ids, columns, page_size, progress)
    frame = _child_frame(link, pages, columns)
    lookups: dict[str, Lookup] = {}
    if not raw_ids:
        others = [c for c in columns if c != link.column]
        lookups = {**fetch_lookups(client, link.child, others), link.column: _parent_lookup(link, parent.frame)}
    return Export(link.child, frame, _child_info(parent, link, columns, len(frame), whole), lookups)


def export_family(client: Client, parent: Resource | str, children: Sequence[str], *,
                  select: Sequence[str] | None = None, filters: Filters = None, where: Filters = None,
                  order: str | None = None, limit: int | None = None, raw_ids: bool = False,
                  page_size: int | None = None, progress: Progress | None = None) -> FamilyExport:
    """Export `parent` (as `export_table` does) and each of its `children` tables' rows that belong to it.

    :param children: child table names (``["customerContact"]``), each a table whose rows each belong to one
        parent row (`bulkio.api.catalog.related_tables` lists them).
    :param select: the parent's columns (its key and label are added: the children need them); children export
        every exported column.
    :param filters: the parent's PostgREST filters, as `bulkio.export.table.export` takes them (`where` is the
        same, under `export_table`'s name). Filtered or limited, the children are read by the exported parents'
        ids (``customerId=in.(...)``, cut under the URL budget); otherwise each child table is read whole.
    :param order, limit, raw_ids, page_size, progress: as `export_table` (`progress` is called for each table).
    :raises ConfigError: a table in `children` is not a child of `parent` (naming those that are); or both
        `filters` and `where` are given.
    """
    if filters is not None and where is not None:
        raise ConfigError("give the parent's filters once: filters= or where=, not both")
    where = filters if filters is not None else where
    resource = client.resource(parent)
    links = tuple(link_for(client, resource, name) for name in dict.fromkeys(children))
    exported = export_table(client, resource, select=_family_select(links, select), order=order, where=where,
                            limit=limit, raw_ids=raw_ids, page_size=page_size, progress=progress)
    whole = not where and limit is None
    kids = tuple(_export_child(client, exported, link, whole=whole, raw_ids=raw_ids, page_size=page_size,
                               progress=progress) for link in links)
    return FamilyExport(exported, kids, links)

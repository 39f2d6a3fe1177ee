"""Export: every page of a resource into a DataFrame (and, through `workbook`, into XLSX / CSV / Parquet).

`export_table()` returns an `Export`: the raw frame (ids as the API has them), the lookups that turn reference ids
into labels, and `ExportInfo` (what was asked, from where, when). `export()` is the one-call form that returns the
DataFrame people work with: labels instead of ids unless ``raw_ids=True``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd

from ..api.lookups import fetch_lookups
from ..api.query import as_params
from ..resources import Resource
from ..sheets.exported import Export, ExportInfo, flat_columns
from ..sheets.flatten import flatten

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["Progress", "export", "export_info", "export_table", "iter_records"]

Progress = Callable[[int, int | None], None]
"""Called after each page with (rows so far, total rows or None when the server did not say)."""


def _order_with_key(order: str | None, resource: Resource) -> str:
    """Always send `order` (PostgREST has no stable order otherwise), ties broken by the key."""
    if not order:
        return f"{resource.key}.asc"
    columns = [term.split(".")[0] for term in order.split(",")]
    return order if resource.key in columns else f"{order},{resource.key}.asc"


_DONE = object()


def _prefetched(pages: Iterator[list[dict[str, Any]]], depth: int = 2) -> Iterator[list[dict[str, Any]]]:
    """Fetch the next pages in a thread while the caller works on this one (network and CPU overlap).

    Paging stays sequential (each keyset request needs the previous page's last key), so this never sends more
    requests than the plain loop; `depth` bounds the pages held in memory. Errors surface in the caller's thread.
    """
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        buffer.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            buffer.put(exc)

    worker = threading.Thread(target=produce, name="bulkio-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.1)


def iter_records(client: Client, resource: Resource | str, *, select: Sequence[str] | None = None,
                 order: str | None = None, where: Sequence[str] | Mapping[str, str] | None = None,
                 limit: int | None = None, page_size: int | None = None,
                 progress: Progress | None = None) -> Iterator[list[dict[str, Any]]]:
    """The pages of an export, as the API returns them, stopping at `limit` rows.

    Ordered by the key (the default), up to ``client.settings.concurrency`` pages are fetched at once
    (`bulkio.api.paging`); a background thread keeps fetching while the caller works on the pages it has. The first
    page's exact count is the progress total: no request of its own.

    :param page_size: rows asked per request; None (the default) leaves it to the client's settings, so the config
        file's ``page_size`` reaches every export (a number here would silently win over it).
    """
    resource = client.resource(resource)
    columns = list(select or resource.exported_columns)
    if resource.key not in columns:
        columns.insert(0, resource.key)
    filters = as_params(where)
    total: list[int | None] = [None]

    def counted(count: int | None) -> None:
        total[0] = count if limit is None or count is None else min(count, limit)

    seen = 0
    pages = client.iter_pages(resource, select=columns, order=_order_with_key(order, resource), filters=filters,
                              page_size=page_size, limit=limit, concurrency=max(1, client.settings.concurrency),
                              on_count=counted)
    for page in _prefetched(pages):
        if limit is not None and seen + len(page) > limit:
            page = page[: limit - seen]
        seen += len(page)
        if page:
            yield page
        if progress is not None:
            progress(seen, total[0])
        if limit is not None and seen >= limit:
            break


def export_table(client: Client, resource: Resource | str = "customer", *, select: Sequence[str] | None = None,
                 order: str | None = None, where: Sequence[str] | Mapping[str, str] | None = None,
                 limit: int | None = None, raw_ids: bool = False, page_size: int | None = None,
                 progress: Progress | None = None) -> Export:
    """Fetch every page (in a stable order) and flatten it; fetch the lookups unless `raw_ids`.

    Each page is flattened as it arrives, while the next ones are being fetched: the work hides behind the wait.

    :param page_size: rows asked per request (None: the client's settings, as `iter_records`).
    """
    resource = client.resource(resource)
    columns = list(select or resource.exported_columns)
    started = datetime.now(UTC)
    frames = [flatten(page, resource, columns=columns)
              for page in iter_records(client, resource, select=select, order=order, where=where, limit=limit,
                                       page_size=page_size, progress=progress)]
    frame = _concat(frames, resource, columns)
    lookups = {} if raw_ids else fetch_lookups(client, resource, columns)
    info = export_info(client, resource, columns, where=where, order=order, limit=limit, raw_ids=raw_ids,
                       rows=len(frame), started=started)
    return Export(resource, frame, info, lookups)


def _concat(frames: Sequence[pd.DataFrame], resource: Resource, columns: Sequence[str]) -> pd.DataFrame:
    """Flattened pages as one frame, equal to `flatten` of all their records: ``customFields.<key>`` columns in key
    order, and a key that some pages lack is None (not NaN) there."""
    if not frames:
        return flatten([], resource, columns=columns)
    if len(frames) == 1:
        return frames[0]
    frame = pd.concat(frames, ignore_index=True)
    order = flat_columns(resource, columns, frame.columns)
    frame = frame.reindex(columns=order)
    for name in order:
        if frame[name].dtype == object and frame[name].isna().any():
            frame[name] = frame[name].where(frame[name].notna(), None)
    return frame


def export_info(client: Client, resource: Resource, select: Sequence[str], *,
                where: Sequence[str] | Mapping[str, str] | None, order: str | None, limit: int | None,
                raw_ids: bool, rows: int, started: datetime | None = None) -> ExportInfo:
    """What an export asked for and where from (the host only: never the key).

    :param started: when the export began reading (default: now). The stamp is taken before the first page, so
        that a row changed while later pages were read is "changed since the export" to the plan's ``updatedAt``
        read; a stamp taken after the last page would hide such a change.
    """
    return ExportInfo(
        resource=resource.name,
        host=urlsplit(str(client.base_url)).netloc,
        select=tuple(select),
        filters=tuple(f"{c}={e}" for c, e in as_params(where)),
        order=_order_with_key(order, resource),
        exported_at=(started or datetime.now(UTC)).isoformat(timespec="seconds"),
        rows=rows,
        raw_ids=raw_ids,
        limit=limit,
    )


def export(client: Client, resource: Resource | str = "customer", *, select: Sequence[str] | None = None,
           order: str | None = None, filters: Sequence[str] | Mapping[str, str] | None = None,
           limit: int | None = None, raw_ids: bool = False) -> pd.DataFrame:
    """Every row of `resource` as a DataFrame: typed columns, ``customFields.<key>`` columns, labels for references.

    :param select: columns to fetch (default: every exported column; ``embedding`` is never in the default).
    :param order: PostgREST order, e.g. ``"name.asc"``; the key is always added as the tie-breaker.
    :param filters: PostgREST filters, e.g. ``["name=ilike.*acme*"]`` or ``{"taxPercent": "gt.0.1"}``.
    :param limit: at most this many rows.
    :param raw_ids: keep reference ids instead of labels.

    Example::

        with Client() as client:
            customers = bulkio.export(client, "customer", filters=["taxPercent=gt.0"], order="name.asc")
    """
    return export_table(client, resource, select=select, order=order, where=filters, limit=limit,
                        raw_ids=raw_ids).display()

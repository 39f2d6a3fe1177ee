"""Streaming exports: CSV and Parquet written page by page, in constant memory, however many rows there are; XLSX
written as the pages arrive (`workbook.PagedWorkbook`), so the workbook takes shape while later pages are fetched.

The header must be known before the first row, but `customFields` keys are only known after the last page. So the
pages are spooled to a temporary JSON-lines file while the keys are collected (one pass over the network), then the
file is read back in chunks and written out. Memory holds one page or one chunk at a time; the disk holds the rest.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

try:  # the ``parquet`` extra: only .parquet output needs it (pandas has imported pyarrow already when it is there)
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:
    pa = pq = None  # type: ignore[assignment]

from ..api.lookups import fetch_lookups
from ..errors import WorkbookError
from ..resources import Resource
from ..sheets.exported import Export, ExportInfo
from ..sheets.flatten import flatten
from ..sheets.write import PagedWorkbook, write_csv
from .table import Progress, export_info, iter_records

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["CHUNK_ROWS", "stream_export"]

CHUNK_ROWS = 5000
"""Rows per chunk when the spool is written out: the unit of memory use."""


def _columns(resource: Resource, select: Sequence[str], custom_keys: Mapping[str, set[str]]) -> list[str]:
    """The header: `select` with each JSON column replaced by one column per key the spool has seen."""
    names: list[str] = []
    for name in select:
        if resource.column(name).is_json:
            names.extend(f"{name}.{key}" for key in sorted(custom_keys.get(name, ())))
        else:
            names.append(name)
    return names


def _chunks(spool: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    """The spooled rows read back `size` at a time: the unit of memory use."""
    chunk: list[dict[str, Any]] = []
    with spool.open(encoding="utf-8") as handle:
        for line in handle:
            chunk.append(json.loads(line))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def stream_export(client: Client, resource: Resource | str, path: str | Path, *,
                  select: Sequence[str] | None = None, where: Sequence[str] | Mapping[str, str] | None = None,
                  order: str | None = None, limit: int | None = None, raw_ids: bool = False, escape: bool = True,
                  page_size: int | None = None, chunk_rows: int = CHUNK_ROWS, progress: Progress | None = None
                  ) -> ExportInfo:
    """Export `resource` to `path` (``.csv`` or ``.parquet``) without holding all rows in memory, or to ``.xlsx``
    page by page (the same workbook as `write_workbook` of `export_table`, written while the pages arrive).

    :param page_size: rows asked per request (None: the client's settings, so ``bulkio export`` honours the config
        file's ``page_size``).

    :raises WorkbookError: for another suffix, or when the file cannot be written.
    """
    res = client.resource(resource)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".xlsx"):
        raise WorkbookError("streaming writes .csv, .parquet or .xlsx", file=str(path))
    select = list(select or res.exported_columns)
    started = datetime.now(UTC)  # before any read: see export_info
    lookups = {} if raw_ids else fetch_lookups(client, res, select)
    if suffix == ".xlsx":
        book = PagedWorkbook(path, res, select, lookups)
        rows = 0
        try:
            for page in iter_records(client, res, select=select, order=order, where=where, limit=limit,
                                     page_size=page_size, progress=progress):
                book.add(flatten(page, res, columns=select))  # while the next pages are being fetched
                rows += len(page)
        except BaseException:
            book.discard()
            raise
        info = export_info(client, res, select, where=where, order=order, limit=limit, raw_ids=raw_ids, rows=rows,
                           started=started)
        book.close(info)
        return info
    custom_keys: dict[str, set[str]] = {}
    json_columns = [name for name in select if res.column(name).is_json]
    rows = 0
    with tempfile.TemporaryDirectory(prefix="bulkio-") as tmp:
        spool = Path(tmp) / "pages.jsonl"
        with spool.open("w", encoding="utf-8") as handle:
            for page in iter_records(client, res, select=select, order=order, where=where, limit=limit,
                                     page_size=page_size, progress=progress):
                for record in page:
                    for name in json_columns:
                        if isinstance(record.get(name), dict):
                            custom_keys.setdefault(name, set()).update(record[name])
                    handle.write(json.dumps(record, ensure_ascii=False))
                    handle.write("\n")
                rows += len(page)
        columns = _columns(res, select, custom_keys)
        info = export_info(client, res, select, where=where, order=order, limit=limit, raw_ids=raw_ids, rows=rows,
                           started=started)

        def frames() -> Iterator[pd.DataFrame]:
            for chunk in _chunks(spool, chunk_rows):
                frame = flatten(chunk, res, columns=select).reindex(columns=columns)
                yield Export(res, frame, replace(info, rows=len(frame)), lookups).display()

        if suffix == ".csv":
            write_csv(frames(), path, resource=res, escape=escape, columns=columns)
        else:
            _write_parquet(frames(), path, columns)
    return info


def _write_parquet(frames: Iterator[pd.DataFrame], path: Path, columns: Sequence[str]) -> None:
    """One row group per chunk, with the schema of the first chunk (custom fields as text: their types vary).

    :raises ImportError: pyarrow (the ``parquet`` extra) is not installed.
    """
    if pq is None:
        raise ImportError("writing .parquet needs pyarrow: pip install 'bulkio[parquet]'")
    writer = None
    schema = None
    try:
        for frame in frames:
            for name in columns:
                if "." in name:  # customFields.<key>: mixed types across rows, written as their cell text
                    frame[name] = frame[name].map(lambda v: None if v is None else str(v)).astype("string")
            table = pa.Table.from_pandas(frame, preserve_index=False, schema=schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table)
        if writer is None:
            pq.write_table(pa.table({name: pa.array([], pa.string()) for name in columns}), path)
    except OSError as exc:
        raise WorkbookError(f"cannot write: {exc}", file=str(path)) from exc
    finally:
        if writer is not None:
            writer.close()

"""The plan's compare, against a per-row Python compare of the same inputs (issue 6: 100,000 rows, 1% changed).

Both sides get the same in-memory inputs, prepared once and not timed: the exported workbook read back (with 1% of
its rows edited the way a user would, through cells) and validated, as `plan` validates a sheet before comparing
it, the export snapshot, and the server's rows. Both use the
same rules (`values.normalize` through the plan's reader); the difference is only how the work is organised:
bulkio normalises each distinct value once and compares integer codes, the baseline loops over rows and cells.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

from bulkio.api.client import Client
from bulkio.api.lookups import fetch_lookups
from bulkio.export.table import export_table
from bulkio.plan import CellReader, columns, compared_columns, diff_rows
from bulkio.plan.fetch import select_columns
from bulkio.sheets.flatten import split_custom
from bulkio.sheets.read import read_sheet
from bulkio.sheets.write import write_workbook
from bulkio.validate.rules import validate

__all__ = ["measure_plan"]


def _edit(sheet: Any, share: float, seed: int = 7) -> int:
    """Edit `share` of the rows in place, as a user would in Excel; returns how many rows were edited."""
    frame = sheet.frame
    rng = random.Random(seed)
    chosen = rng.sample(range(len(frame)), max(1, int(len(frame) * share)))
    columns = {"phone": lambda i: f"+44 20 7946 {i % 10000:04d}", "logo": lambda i: f"logo-{i}.png",
               "taxPercent": lambda i: "12.5%", "tags": lambda i: "edited, bench"}
    names = list(columns)
    for n, position in enumerate(chosen):
        name = names[n % len(names)]
        frame.iat[position, frame.columns.get_loc(name)] = columns[name](position)
    return len(chosen)


def _per_row(sheet: Any, reader: Any, compared: list[str], keys: list[str], positions: list[int],
             server_rows: dict[str, dict[str, Any]], base: dict[str, dict[str, Any]]) -> int:
    """The baseline: for each row, for each column, normalise the three values and compare them."""
    res = sheet.resource
    canon = {name: (reader.canon_sheet(name), reader.canon_stored(name, server=True),
                    reader.canon_stored(name, server=False)) for name in compared}
    custom = {name: split_custom(name, res) for name in compared}
    records = sheet.frame.to_dict("records")
    changed = 0
    for key, position in zip(keys, positions, strict=True):
        record, server, exported = records[position], server_rows[key], base.get(key, {})
        differs = False
        for name in compared:
            to_sheet, to_server, to_base = canon[name]
            split = custom[name]
            if split is not None:
                parent, field = split
                obj = server.get(parent.name)
                server_value = obj.get(field) if isinstance(obj, dict) else None
            else:
                server_value = server.get(name)
            s, v, b = to_sheet(record.get(name)), to_server(server_value), to_base(exported.get(name))
            if s != b or v != b:
                differs = True
        changed += differs
    return changed


def measure_plan(env: dict[str, str], work: Path, share: float = 0.01) -> dict[str, Any]:
    """Time `plan.diff_rows` and the per-row baseline on the sandbox's customers with `share` of rows edited."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("BULKIO_")})
    with Client() as client:
        path = write_workbook(export_table(client, "customer"), work / "plan.xlsx")
        sheet = read_sheet(path)
        edited = _edit(sheet, share)
        lookups = fetch_lookups(client, sheet.resource)
        if validate(sheet, lookups).errors:  # as plan() does before it compares: the compare's real input
            raise SystemExit("the edited benchmark sheet does not validate")
        compared = compared_columns(sheet)
        select = select_columns(sheet.resource, compared)
        server_rows = {str(r["id"]): r for page in client.iter_pages("customer", select=select) for r in page}
    reader = CellReader(sheet.resource, lookups)
    keys = [str(k) for k in sheet.frame["id"]]
    positions = list(range(len(keys)))
    base = sheet.base or {}
    plain_base = {key: dict(base[key]) for key in base}  # the baseline reads rows as dicts, made here untimed

    started = time.perf_counter()
    arranged = columns(sheet.resource, compared, keys, server_rows, base)
    columns_s = time.perf_counter() - started
    started = time.perf_counter()
    rows, unchanged = diff_rows(sheet, reader, compared, keys, positions, server_rows, base, arranged)
    bulkio_s = time.perf_counter() - started
    started = time.perf_counter()
    naive_changed = _per_row(sheet, reader, compared, keys, positions, server_rows, plain_base)
    naive_s = time.perf_counter() - started
    if len(rows) != naive_changed or len(rows) != edited:  # both must find exactly the edited rows
        raise SystemExit(f"plan found {len(rows)} changed rows, the baseline {naive_changed}, edited {edited}")
    return {"rows": len(keys), "rows_changed": len(rows), "columns_compared": len(compared),
            "bulkio_compare": round(bulkio_s, 3), "per_row_python": round(naive_s, 3),
            "ratio_per_row_over_bulkio": round(naive_s / bulkio_s, 1),
            "bulkio_arranging_fetched_rows_as_columns": round(columns_s, 3),
            "ratio_per_row_over_bulkio_with_arranging": round(naive_s / (bulkio_s + columns_s), 1),
            "unchanged": len(unchanged)}

"""Requests a small edit of a big export costs, plan to apply (issue 16): the figure that is the run time at a real
Carbon key (60 requests a minute).

The edit a user really makes: 1% of the exported rows get a phone number each of their own (no two the same, so
grouping identical patches cannot help), 20 rows are marked ``_action = delete`` and 20 new rows are added. Each
path runs in a fresh sandbox seeded alike, from its own export:

- ``full_read``: the plan reads every exported row back (``full_read=True``, what every plan did before the lean
  plan); its stale check re-reads what the plan read (counted as the plan's server reads again); apply sends a
  guarded PATCH per distinct body;
- ``lean``: the default plan (reads only what the sheet changes, plus the rows the server changed since the
  export), the lean stale check, the same guarded PATCHes;
- ``lean_saved_bulk``: the plan saved and loaded (``bulkio plan --save``, ``bulkio apply <saved plan>
  --bulk-updates``): no stale check (each batch re-reads its rows just before writing), and per batch of updates a
  read (a request per ~200 ids, the URL budget) and one upsert.

Requests are counted by the client (`Client.requests_made`), exactly; minutes are requests / 60.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bulkio.api.client import Client
from bulkio.api.lookups import fetch_lookups
from bulkio.export.table import export_table
from bulkio.plan import Kind, Plan, plan
from bulkio.run.apply import apply
from bulkio.run.results import Status
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import Sheet, read_sheet
from bulkio.sheets.write import write_workbook

__all__ = ["measure_edit"]

_KEY = "bench-edit-key-not-secret"
PATHS = ("full_read", "lean", "lean_saved_bulk")


def _edited(sheet: Sheet, edits: int, deletes: int, creates: int) -> Sheet:
    """The export with `edits` phones changed (each to its own number), `deletes` rows marked for deletion and
    `creates` new rows, as a user leaves it in Excel."""
    frame = sheet.frame.copy().astype(object)
    if len(frame) < edits + deletes:
        raise SystemExit(f"the sandbox has {len(frame)} customers; {edits + deletes} are needed")
    step = max(1, len(frame) // max(1, edits))
    chosen = list(range(0, step * edits, step))[:edits]
    for n, position in enumerate(chosen):
        frame.at[position, "phone"] = f"+44 20 7946 {n:05d}"
    spare = [p for p in range(len(frame)) if p not in set(chosen)][:deletes]
    if "_action" not in frame:
        frame["_action"] = None
    for position in spare:
        frame.at[position, "_action"] = "delete"
    new = pd.DataFrame({"name": [f"Bench Edit New Customer {i:04d} Ltd" for i in range(creates)],
                        "taxPercent": [0.2] * creates}, columns=frame.columns).astype(object)
    frame = pd.concat([frame, new], ignore_index=True)
    frame = frame.where(frame.notna(), None)
    rows = [*sheet.rows, *range(sheet.rows[-1] + 1, sheet.rows[-1] + 1 + creates)]
    return Sheet(sheet.file, sheet.sheet, sheet.resource, frame, rows, sheet.meta, sheet.base, [])


def _one_path(path: str, rows: int, edits: int, deletes: int, creates: int, batch_size: int) -> dict[str, Any]:
    with Sandbox(rows=rows, seed=7, api_key=_KEY) as sandbox, tempfile.TemporaryDirectory() as tmp, \
            Client(sandbox.url, _KEY) as client:
        work = Path(tmp)
        before = client.requests_made
        workbook = write_workbook(export_table(client, "customer"), work / "customers.xlsx")
        export_requests = client.requests_made - before
        sheet = _edited(read_sheet(workbook), edits, deletes, creates)

        before = client.requests_made
        started = time.perf_counter()
        planned = plan(client, sheet, full_read=path == "full_read")
        plan_requests, plan_s = client.requests_made - before, time.perf_counter() - started
        if path == "lean_saved_bulk":
            saved = planned.save(work / "review.json")
            planned = Plan.load(saved, client)
        counts = planned.counts()
        if (counts[Kind.UPDATE], counts[Kind.DELETE], counts[Kind.CREATE]) != (edits, deletes, creates):
            raise SystemExit(f"{path}: the plan is not the edit: {planned!r}")

        before = client.requests_made
        # `bulkio apply <saved plan> --bulk-updates` leaves the stale check out: each batch re-reads its rows
        if path != "lean_saved_bulk" and planned.is_stale(client):
            raise SystemExit(f"{path}: nothing changed on the server, yet the plan is stale")
        stale_requests = client.requests_made - before
        if path == "full_read":  # before the lean plan, the stale check re-read what the plan read: its
            before = client.requests_made  # requests other than the lookup tables'
            fetch_lookups(client, "customer")
            stale_requests = plan_requests - (client.requests_made - before)

        before = client.requests_made
        started = time.perf_counter()
        results = apply(client, planned, root=work, batch_size=batch_size, bulk_updates=path == "lean_saved_bulk")
        apply_requests, apply_s = client.requests_made - before, time.perf_counter() - started
        done = results.counts()
        if (done[Status.UPDATED], done[Status.DELETED], done[Status.CREATED]) != (edits, deletes, creates):
            raise SystemExit(f"{path}: apply did not do what was planned: {results!r}")
    total = plan_requests + stale_requests + apply_requests
    return {"export_requests": export_requests, "plan_requests": plan_requests, "stale_check_requests": stale_requests,
            "apply_requests": apply_requests, "requests_after_export": total,
            "minutes_at_60_per_minute": round(total / 60, 1), "plan_seconds": round(plan_s, 2),
            "apply_seconds": round(apply_s, 2)}


def measure_edit(rows: int, *, edits: int | None = None, deletes: int = 20, creates: int = 20,
                 batch_size: int = 500) -> dict[str, Any]:
    """Each path of `PATHS` on a fresh sandbox of `rows` customers with the same edit."""
    edits = max(1, rows // 100) if edits is None else edits
    figures: dict[str, Any] = {"rows": rows, "edits_each_distinct": edits, "deletes": deletes, "creates": creates,
                               "batch_size": batch_size}
    for path in PATHS:
        figures[path] = _one_path(path, rows, edits, deletes, creates, batch_size)
    ours, theirs = figures["lean_saved_bulk"]["requests_after_export"], figures["full_read"]["requests_after_export"]
    figures["bulkio_requests"] = ours
    figures["baseline_full_read_patch_requests"] = theirs
    figures["ratio_baseline_over_bulkio_requests"] = round(theirs / ours, 1)
    figures["ratio_full_read_over_lean_plan_requests"] = round(
        figures["full_read"]["plan_requests"] / figures["lean"]["plan_requests"], 1)
    return figures

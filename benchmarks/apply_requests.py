"""Requests and wall time of an import at a rate-limited key, against one request per row (issue 7).

The sheet: an export of the sandbox's customers edited in memory the way a user would edit cells: `creates` new
rows, `updates` rows moved to one of three customer statuses (three distinct patches), `deletes` rows marked
``_action = delete``. bulkio plans and applies it against a sandbox whose rate limit is Carbon's 60 requests a
minute with the window scaled down by `factor`; the requests are counted by the sandbox itself.

The baseline sends one request per row (a POST per create, a PATCH per update, a DELETE per delete) through the
same client and limiter. Its request count is exact; its wall time is measured on a `sample` of its rows and
scaled up (it is rate-bound: the time per request is the window's pace), which the figures say.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bulkio.api.client import Client
from bulkio.api.query import eq
from bulkio.export.table import export_table
from bulkio.plan import Kind, Plan, plan
from bulkio.run.apply import apply
from bulkio.run.results import Status
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import Sheet, read_sheet
from bulkio.sheets.write import write_workbook

__all__ = ["measure_apply"]

_KEY = "bench-apply-key-not-secret"


def _sheet(client: Client, work: Path, creates: int, updates: int, deletes: int) -> Sheet:
    sheet = read_sheet(write_workbook(export_table(client, "customer"), work / "apply.xlsx"))
    frame = sheet.frame.copy()
    statuses = sorted({str(v) for v in frame["customerStatusId"].dropna()})[:3]
    if len(frame) < updates + deletes:
        raise SystemExit(f"the sandbox has {len(frame)} customers; {updates + deletes} are needed")
    for n in range(updates):  # three distinct patches, whatever each row held before
        current = frame.at[n, "customerStatusId"]
        choices = [s for s in statuses if s != current]
        frame.at[n, "customerStatusId"] = choices[n % len(choices)]
    frame.loc[updates:updates + deletes - 1, "_action"] = "delete"
    new = pd.DataFrame({"name": [f"Bench New Customer {i:06d} Ltd" for i in range(creates)],
                        "taxPercent": [0.2] * creates, "tags": ["bench"] * creates}, columns=frame.columns)
    frame = pd.concat([frame, new.astype(object)], ignore_index=True)
    frame = frame.astype(object).where(frame.notna(), None)
    rows = [*sheet.rows, *range(sheet.rows[-1] + 1, sheet.rows[-1] + 1 + creates)]
    return Sheet(sheet.file, sheet.sheet, sheet.resource, frame, rows, sheet.meta, sheet.base, [])


def _per_row(client: Client, planned: Plan, sample: float) -> tuple[int, int, float]:
    """(requests one per row would take, requests sent for the sample, seconds the sample took)."""
    creates, updates, deletes = (planned.of(k) for k in (Kind.CREATE, Kind.UPDATE, Kind.DELETE))
    total = len(creates) + len(updates) + len(deletes)
    take = [rows[: max(1, int(len(rows) * sample))] for rows in (creates, updates, deletes)]
    company = client.company_id()
    before = client.requests_made
    started = time.perf_counter()
    for r in take[0]:
        client.insert("customer", [{**r.body, "name": r.body["name"] + " (per row)", "companyId": company}])
    for r in take[1]:
        client.update("customer", [("id", eq(r.key))], r.body)
    for r in take[2]:
        client.delete("customer", [("id", eq(r.key))])
    return total, client.requests_made - before, time.perf_counter() - started


def measure_apply(rows: int, creates: int = 10_000, updates: int = 10_000, deletes: int = 1_000,
                  factor: float = 100.0, sample: float = 0.05) -> dict[str, Any]:
    """Seed `rows` customers (at least updates + deletes), apply the edited sheet at 60 requests per
    ``60 / factor`` seconds, and measure one request per row on a `sample` of the rows at the same pace."""

    with Sandbox(rows=max(rows, updates + deletes), seed=7, api_key=_KEY) as sandbox, \
            tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with Client(sandbox.url, _KEY) as client:
            sheet = _sheet(client, work, creates, updates, deletes)
        sandbox.switches.rate_limit, sandbox.switches.rate_window = 60, 60.0 / factor
        with Client(sandbox.url, _KEY) as client:
            seen = len(sandbox.requests)
            started = time.perf_counter()
            planned = plan(client, sheet)
            plan_s, plan_requests = time.perf_counter() - started, len(sandbox.requests) - seen
            seen = len(sandbox.requests)
            started = time.perf_counter()
            results = apply(client, planned, root=work)
            apply_s, apply_requests = time.perf_counter() - started, len(sandbox.requests) - seen
            counts = results.counts()
            if (counts[Status.CREATED], counts[Status.UPDATED], counts[Status.DELETED]) != (creates, updates, deletes):
                raise SystemExit(f"apply did not do what was planned: {results!r}")
            baseline, sample_requests, sample_s = _per_row(client, planned, sample)
    baseline_s = sample_s * baseline / sample_requests
    return {
        "creates": creates, "updates": updates, "distinct_patches": 3, "deletes": deletes,
        "rate_limit": f"60 requests per {60 / factor:g} s (Carbon's 60/min scaled down {factor:g}x)",
        "bulkio_plan_requests": plan_requests, "bulkio_apply_requests": apply_requests,
        "bulkio_requests": plan_requests + apply_requests, "per_row_requests": baseline,
        "ratio_per_row_over_bulkio_requests": round(baseline / (plan_requests + apply_requests), 1),
        "bulkio_plan_seconds": round(plan_s, 2), "bulkio_apply_seconds": round(apply_s, 2),
        "per_row_seconds_scaled_from_sample": round(baseline_s, 1),
        "per_row_sample": f"{sample_requests} requests in {sample_s:.1f} s",
        "at_a_real_60_per_minute_key_minutes": {"bulkio": round((plan_requests + apply_requests) / 60, 1),
                                                "per_row": round(baseline / 60, 1)},
        "bulkio_and_baseline_retries": client.retries,
    }

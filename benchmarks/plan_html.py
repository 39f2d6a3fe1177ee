"""The plan's review page at 10,000 changes (issue 20: under a second, a file of a few MB at most), against the
naive page: every field row of the plan as one pandas table (``to_frame().to_html()``, what the notebook view was
built on), nothing capped. The page's own figure without its cap (every row listed) is measured too: most of the
difference is the cap, and even without it the page stays under a second.

    python -m benchmarks.plan_html                  # prints JSON; --output FILE writes it too

The plan is built in memory as the plan's builders build it (updates of two fields, creates, deletes with the
server's row, conflicts; 90,000 unchanged rows), so the figure is the renderer's alone, not the server's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bulkio.plan import FieldChange, Kind, Plan, RowPlan, Unchanged
from bulkio.plan.html import render
from bulkio.resources import CUSTOMER
from bulkio.validate.report import ValidationReport

__all__ = ["big_plan", "measure_html"]


def _row(i: int) -> RowPlan:
    key, label, row = f"cust_{i:022d}", f"Customer {i} Ltd", i + 2
    kind = (Kind.UPDATE, Kind.UPDATE, Kind.CREATE, Kind.DELETE, Kind.CONFLICT)[i % 5]
    if kind is Kind.UPDATE:
        changes = (FieldChange("phone", f"+44 {i}", f"+44 20 {i}"), FieldChange("tags", ["a"], ["a", "b"]))
        return RowPlan(kind, key, row, label, changes, body={"phone": f"+44 20 {i}"}, guard={"phone": f"+44 {i}"})
    if kind is Kind.CREATE:
        changes = (FieldChange("name", None, label), FieldChange("website", None, f"https://{i}.example.com"))
        return RowPlan(kind, None, row, label, changes)
    if kind is Kind.DELETE:
        return RowPlan(kind, key, row, label, guard={"phone": f"+44 {i}", "website": "https://x.example"})
    return RowPlan(kind, key, row, label, (FieldChange("name", "Theirs", "Mine", label),),
                   reason="you and the server both changed name since the export")


def big_plan(changes: int = 10_000, unchanged: int = 90_000) -> Plan:
    """A plan of `changes` rows (two fifths updates, a fifth each creates, deletes and conflicts) and `unchanged`
    unchanged rows."""
    keys = [f"cust_u{i:021d}" for i in range(unchanged)]
    return Plan(CUSTOMER, "big.xlsx", "customer", tuple(_row(i) for i in range(changes)),
                Unchanged(keys, list(range(2, unchanged + 2))), True, False, False, ValidationReport(()), (), "hash",
                (), "2026-12-07T12:00:00+00:00", "127.0.0.1:8765", 12)


def _best(call: Any, repeat: int = 3) -> tuple[float, Any]:
    """The fastest of `repeat` runs (seconds), and what the call returned."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure_html(changes: int = 10_000) -> dict[str, Any]:
    """Seconds to render and write the page and its size; the same page with every row (no cap); and the naive
table."""
    planned = big_plan(changes)
    with tempfile.TemporaryDirectory() as work:
        page = Path(work) / "plan.html"
        seconds, _ = _best(lambda: planned.to_html(page))
        naive_seconds, naive = _best(lambda: planned.to_frame().to_html(index=False, na_rep=""))
        whole_seconds, whole = _best(lambda: render(planned, limit=changes))  # no cap: what the cap saves
        return {"changes": changes, "seconds": round(seconds, 4), "bytes": page.stat().st_size,
                "uncapped_seconds": round(whole_seconds, 4), "uncapped_bytes": len(whole.encode()),
                "naive_seconds": round(naive_seconds, 4), "naive_bytes": len(naive.encode()),
                "ratio_seconds": round(naive_seconds / seconds, 1),
                "ratio_bytes": round(len(naive.encode()) / page.stat().st_size, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    text = json.dumps({"plan_html": measure_html(args.changes)}, indent=2)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

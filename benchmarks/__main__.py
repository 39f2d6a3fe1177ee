"""bulkio's benchmarks: each figure beside a naive baseline measured in the same run, as JSON.

    python -m benchmarks --rows 100000            # or: make bench
    python -m benchmarks --rows 2000 --quick      # what CI runs: the harness, not the figures

The sandbox runs in its own process (`bulkio sandbox`), so its memory is never counted; each measured export runs
in a fresh Python process whose peak RSS is read from the kernel (`getrusage(RUSAGE_CHILDREN)`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-key-not-secret"

_STREAM = """
import sys, bulkio
from bulkio.export.stream import stream_export
with bulkio.Client() as client:
    stream_export(client, "customer", sys.argv[1])
"""
_NAIVE_CSV = """
import sys, bulkio
with bulkio.Client() as client:
    frame = bulkio.export(client, "customer")   # every row in memory first
frame.to_csv(sys.argv[1], index=False)
"""
_PIPELINE_BULKIO = """
import sys, bulkio
with bulkio.Client() as client:   # what bulkio export does: pages fetched concurrently and flattened as they come
    bulkio.write_workbook(bulkio.export_table(client, "customer"), sys.argv[1])
print(client.requests_made)
"""
_PIPELINE_BULKIO_STREAM = """
import sys, bulkio
from bulkio.export.stream import stream_export
with bulkio.Client() as client:   # the workbook's rows rendered page by page while later pages are fetched
    stream_export(client, "customer", sys.argv[1])
print(client.requests_made)
"""
_FETCH_ONLY = """
import os, sys, httpx
headers = {"Authorization": "Bearer " + os.environ["BULKIO_API_KEY"]}
last, requests = None, 0
with httpx.Client(base_url=os.environ["BULKIO_BASE_URL"], headers=headers, timeout=60) as http:
    while True:   # the true floor: the server serving the pages, decoded, nothing written
        params = {"order": "id", "limit": 1000, **({"id": "gt." + last} if last else {})}
        page = http.get("/customer", params=params).json()
        requests += 1
        if not page:
            break
        last = page[-1]["id"]
print(requests)
"""
_PIPELINE_NAIVE = """
import os, sys, httpx, pandas as pd
headers = {"Authorization": "Bearer " + os.environ["BULKIO_API_KEY"]}
rows, offset = [], 0
with httpx.Client(base_url=os.environ["BULKIO_BASE_URL"], headers=headers, timeout=60) as http:
    while True:   # sequential offset pages, as a hand-written script would
        page = http.get("/customer", params={"order": "id", "limit": 1000, "offset": offset}).json()
        if not page:
            break
        rows += page
        offset += len(page)
frame = pd.json_normalize(rows)
frame.to_excel(sys.argv[1], index=False, engine="openpyxl")
print(offset // 1000 + 1 + (offset % 1000 > 0))   # requests: the pages and the empty one that ends them
"""
_PIPELINE_FLOOR = """
import os, sys, httpx, xlsxwriter, json
headers = {"Authorization": "Bearer " + os.environ["BULKIO_API_KEY"]}
book = xlsxwriter.Workbook(sys.argv[1], {"constant_memory": True})
sheet = book.add_worksheet()
row, last = 0, None
with httpx.Client(base_url=os.environ["BULKIO_BASE_URL"], headers=headers, timeout=60) as http:
    while True:   # the floor: the same keyset pages, each row written raw as it arrives
        params = {"order": "id", "limit": 1000, **({"id": "gt." + last} if last else {})}
        page = http.get("/customer", params=params).json()
        if not page:
            break
        for record in page:
            sheet.write_row(row, 0, [json.dumps(v) if isinstance(v, (dict, list)) else v for v in record.values()])
            row += 1
        last = page[-1]["id"]
book.close()
"""
_XLSX_BULKIO = """
import sys, time, bulkio
with bulkio.Client() as client:
    result = bulkio.export_table(client, "customer")
started = time.perf_counter()
bulkio.write_workbook(result, sys.argv[1])
print(time.perf_counter() - started)
"""
_XLSX_OPENPYXL = """
import sys, time, bulkio
with bulkio.Client() as client:
    frame = bulkio.export(client, "customer")
frame = frame.apply(lambda s: s.dt.tz_localize(None) if hasattr(s, "dt") and s.dt.tz is not None else s)
started = time.perf_counter()
frame.to_excel(sys.argv[1], index=False, engine="openpyxl")
print(time.perf_counter() - started)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PEAK = "\nimport resource as _r; print('PEAK_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)\n"


def _run(code: str, out: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of that process alone, its other stdout) of `code` in a fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code + _PEAK, str(out)], env=env, capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    peak_kb = int(lines[-1].split()[1])
    return wall, peak_kb / 1024, "\n".join(lines[:-1]).strip()


def _table(result: dict[str, Any]) -> str:
    """The figures as a readable table: bulkio's value, the baseline's from the same run, and their ratio."""
    lines = [f"bulkio benchmarks, {result['rows']:,} rows, {result['date']} ({result['machine']})", "",
             "| figure | bulkio | baseline | ratio |", "|---|---|---|---|"]
    for name, figure in result["figures"].items():
        if not isinstance(figure, dict):
            continue
        ours = next(((k, v) for k, v in figure.items() if k == "bulkio_requests"), None) or \
            next(((k, v) for k, v in figure.items() if k.startswith("bulkio")), ("", ""))
        theirs = next(((k, v) for k, v in figure.items() if not k.startswith(("bulkio", "ratio")) and
                       any(w in k for w in ("naive", "per_row", "openpyxl", "pandas", "floor", "baseline"))), ("", ""))
        ratio = next(((k, v) for k, v in figure.items() if k.startswith("ratio")), ("", ""))
        if not ours[0]:
            lines.append(f"| {name} | " + ", ".join(f"{k} = {v}" for k, v in figure.items()) + " | | |")
            continue
        lines.append(f"| {name} | {ours[0]} = {ours[1]} | {theirs[0]} = {theirs[1]} | {ratio[0]} = {ratio[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="customers in the sandbox")
    parser.add_argument("--output", type=Path, default=None,
                        help="where the figures go (default: results.json, and only for a full run)")
    parser.add_argument("--quick", action="store_true", help="CI: check the harness runs, keep no results")
    parser.add_argument("--only", choices=("csv", "xlsx", "pipeline", "read", "plan", "apply", "edit", "family"),
                        help="run one group of figures")
    args = parser.parse_args()

    port = _free_port()
    env = {**os.environ, "BULKIO_BASE_URL": f"http://127.0.0.1:{port}", "BULKIO_API_KEY": KEY, "BULKIO_CONFIG": ""}
    server = subprocess.Popen([sys.executable, "-m", "bulkio.cli", "sandbox", "--port", str(port), "--rows",
                               str(args.rows)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    figures: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 60 + args.rows / 2000
        while True:
            try:
                httpx.get(f"{env['BULKIO_BASE_URL']}/company", headers={"Authorization": f"Bearer {KEY}"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the sandbox did not start") from None
                time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if args.only in (None, "csv"):
                stream_wall, stream_rss, _ = _run(_STREAM, work / "s.csv", env)
                naive_wall, naive_rss, _ = _run(_NAIVE_CSV, work / "n.csv", env)
                figures["csv_export_peak_rss_mb"] = {
                    "bulkio_streaming": round(stream_rss, 1), "naive_in_memory": round(naive_rss, 1),
                    "ratio_naive_over_bulkio": round(naive_rss / stream_rss, 2),
                    "bulkio_seconds": round(stream_wall, 2), "naive_seconds": round(naive_wall, 2)}
            if args.only in (None, "xlsx"):
                _, _, bulkio_write = _run(_XLSX_BULKIO, work / "b.xlsx", env)
                _, _, openpyxl_write = _run(_XLSX_OPENPYXL, work / "o.xlsx", env)
                figures["xlsx_write_seconds"] = {
                    "bulkio_xlsxwriter": round(float(bulkio_write), 2),
                    "pandas_openpyxl": round(float(openpyxl_write), 2),
                    "ratio_openpyxl_over_bulkio": round(float(openpyxl_write) / float(bulkio_write), 2)}
            if args.only in (None, "pipeline"):
                bulkio_s, _, bulkio_requests = _run(_PIPELINE_BULKIO, work / "p.xlsx", env)
                stream_s = _run(_PIPELINE_BULKIO_STREAM, work / "s.xlsx", env)[0]
                naive_s, _, naive_requests = _run(_PIPELINE_NAIVE, work / "n.xlsx", env)
                floor_s = _run(_PIPELINE_FLOOR, work / "f.xlsx", env)[0]
                fetch_s, _, fetch_requests = _run(_FETCH_ONLY, work / "unused", env)
                figures["xlsx_export_seconds"] = {
                    "bulkio": round(bulkio_s, 2), "bulkio_stream_export": round(stream_s, 2),
                    "naive_offset_pages_openpyxl": round(naive_s, 2),
                    "raw_floor_fetch_write_row": round(floor_s, 2), "fetch_only_keyset": round(fetch_s, 2),
                    "ratio_naive_over_bulkio": round(naive_s / bulkio_s, 2),
                    "ratio_naive_over_bulkio_stream_export": round(naive_s / stream_s, 2),
                    "ratio_bulkio_over_floor": round(bulkio_s / floor_s, 2),
                    "ratio_bulkio_over_fetch_only": round(bulkio_s / fetch_s, 2),
                    "requests": {"bulkio": int(bulkio_requests), "naive": int(naive_requests),
                                 "fetch_only": int(fetch_requests)}}
            # the measuring modules import bulkio (pandas, pandera) only now: the parent stays small while the
            # export figures above read their children's peak RSS, which a fork starts from the parent's
            if args.only in (None, "read"):
                from .read_validate import measure

                figures.update(measure(_run, env, work, quick=args.quick))
            if args.only in (None, "plan"):
                from .plan_diff import measure_plan

                figures["plan_compare_seconds"] = measure_plan(env, work)
            if args.only in (None, "apply"):  # its own sandbox, rate-limited: 10k + 10k + 1k at --rows 100000
                from .apply_requests import measure_apply

                figures["apply_requests"] = measure_apply(
                    args.rows // 10 + args.rows // 100, creates=args.rows // 10, updates=args.rows // 10,
                    deletes=args.rows // 100, factor=100.0, sample=0.05)
            if args.only in (None, "edit"):  # fresh sandboxes of their own: 1% of the rows edited, each distinctly
                from .edit_requests import measure_edit

                figures["edit_requests"] = measure_edit(args.rows)
            if args.only in (None, "family"):  # fresh sandboxes of their own, of at most 1,000 customers
                from .family_requests import measure_family

                figures.update(measure_family(min(args.rows, 1000)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {"rows": args.rows, "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "figures": figures}
    print(json.dumps(result, indent=2))
    table = _table(result)
    print(table, file=sys.stderr)
    output = args.output or (Path(__file__).with_name("results.json") if args.only is None else None)
    if not args.quick and output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        output.with_suffix(".md").write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()

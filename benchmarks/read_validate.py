"""Read + validate an edited export: bulkio (python-calamine, then the schema derived from the Resource) against
``pandas.read_excel(engine="openpyxl")`` followed by the very same pandera schema, measured in one run; and how
long and how much memory reading a 100 MB CSV takes (bulkio's own CSV export, its rows repeated up to the size).

The workbook is what a user sends back: bulkio's export of every sandbox customer, opened and saved by openpyxl
(shared strings, as Excel saves them) after a few edits, some valid and some not. Each side runs in a fresh
interpreter; the clock covers reading and validating only (the lookups are fetched from the server and pandera is
imported before it starts, the same for both).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["measure", "measure_csv_read", "measure_read_validate"]

_PREPARE = """
import sys, bulkio, openpyxl
with bulkio.Client() as client:
    bulkio.write_workbook(bulkio.export_table(client, "customer"), sys.argv[1])
book = openpyxl.load_workbook(sys.argv[1])            # edited and saved as a user's spreadsheet program would
sheet = book["customer"]
header = {cell.value: cell.column for cell in sheet[1]}
last = sheet.max_row
for row in range(2, last + 1):
    if row % 97 == 0:
        sheet.cell(row=row, column=header["name"]).value = f"{sheet.cell(row=row, column=header['name']).value} Ltd"
    if row % 89 == 0:
        sheet.cell(row=row, column=header["phone"]).value = "+44 20 7946 0000"
    if row % 997 == 0:
        sheet.cell(row=row, column=header["taxPercent"]).value = 20              # a percentage, not a fraction
    if row % 1999 == 0:
        sheet.cell(row=row, column=header["customerTypeId"]).value = "Distributer"  # an unknown label
for offset in range(1, 11):                           # and a few new customers at the end
    sheet.cell(row=last + offset, column=header["name"]).value = f"Benchmark New Customer {offset}"
book.save(sys.argv[1])
"""

_BULKIO = """
import sys, time, bulkio
import pandera.pandas  # both sides import pandera before the clock starts (the baseline needs it for its except)
from bulkio.api.lookups import fetch_lookups
from bulkio.sheets.read import read_sheet
from bulkio.validate.rules import validate
with bulkio.Client() as client:
    lookups = fetch_lookups(client, "customer")
started = time.perf_counter()
report = validate(read_sheet(sys.argv[1]), lookups)
print(time.perf_counter() - started, len(report.errors))
"""

_OPENPYXL = """
import sys, time, bulkio, pandas as pd
import pandera.pandas
from pandera.errors import SchemaErrors
from bulkio.api.lookups import fetch_lookups
from bulkio.resources import CUSTOMER
from bulkio.validate.rules import build_schema
with bulkio.Client() as client:
    lookups = fetch_lookups(client, "customer")
started = time.perf_counter()
frame = pd.read_excel(sys.argv[1], sheet_name="customer", engine="openpyxl", dtype=object)
schema, _ = build_schema(CUSTOMER, list(frame.columns), lookups, creates=bool(frame["id"].isna().any()))
try:
    schema.validate(frame, lazy=True)
    failures = 0
except SchemaErrors as exc:
    failures = len(exc.failure_cases)
print(time.perf_counter() - started, failures)
"""

_BIG_CSV = """
import sys, bulkio
from pathlib import Path
from bulkio.export.stream import stream_export
path = Path(sys.argv[1])
with bulkio.Client() as client:
    stream_export(client, "customer", str(path))
header, _, body = path.read_bytes().partition(b"\\n")
with path.open("ab") as handle:
    while handle.tell() < {target}:
        handle.write(body)
"""

_CSV_READ = """
import sys, time
from bulkio.sheets.read import read_sheet
started = time.perf_counter()
sheet = read_sheet(sys.argv[1], "customer")
print(time.perf_counter() - started, len(sheet.frame))
"""

Runner = Callable[[str, Path, dict[str, str]], tuple[float, float, str]]


def measure_read_validate(run: Runner, env: dict[str, str], work: Path) -> dict[str, Any]:
    """Export and edit the sandbox's customers once, then time both readers on that one file.

    :param run: the harness's ``_run(code, path, env)``: (wall seconds, peak RSS MB, stdout) of a fresh interpreter.
    :returns: the figure: both times, both peaks, their ratio, and the error counts (a sanity check that both
        sides saw the planted errors).
    """
    workbook = work / "edited.xlsx"
    run(_PREPARE, workbook, env)
    _, bulkio_rss, bulkio_out = run(_BULKIO, workbook, env)
    _, openpyxl_rss, openpyxl_out = run(_OPENPYXL, workbook, env)
    bulkio_s, bulkio_errors = bulkio_out.split()
    openpyxl_s, openpyxl_failures = openpyxl_out.split()
    return {
        "bulkio_calamine": round(float(bulkio_s), 2),
        "pandas_openpyxl_same_schema": round(float(openpyxl_s), 2),
        "ratio_openpyxl_over_bulkio": round(float(openpyxl_s) / float(bulkio_s), 2),
        "bulkio_peak_rss_mb": round(bulkio_rss, 1), "openpyxl_peak_rss_mb": round(openpyxl_rss, 1),
        "bulkio_errors": int(bulkio_errors), "schema_failure_cases": int(openpyxl_failures),
        "workbook_mb": round(workbook.stat().st_size / 1e6, 1),
    }


def measure_csv_read(run: Runner, env: dict[str, str], work: Path, megabytes: int) -> dict[str, Any]:
    """Read a CSV of at least `megabytes` MB (bulkio's export, rows repeated) in a fresh interpreter."""
    path = work / "big.csv"
    run(_BIG_CSV.replace("{target}", str(megabytes * 10**6)), path, env)
    _, peak, out = run(_CSV_READ, path, env)
    seconds, rows = out.split()
    return {"megabytes": round(path.stat().st_size / 1e6, 1), "rows": int(rows), "seconds": round(float(seconds), 2),
            "peak_rss_mb": round(peak, 1)}


def measure(run: Runner, env: dict[str, str], work: Path, *, quick: bool) -> dict[str, dict[str, Any]]:
    """Both reading figures for the harness (`--quick`: a 5 MB CSV instead of 100 MB)."""
    return {"read_validate_seconds": measure_read_validate(run, env, work),
            "csv_read": measure_csv_read(run, env, work, 5 if quick else 100)}

"""Re-saving a file through a real spreadsheet program (LibreOffice Calc, headless), as a user who opens a file
bulkio wrote, changes nothing and saves it would: the round trip that turns booleans into ``=TRUE()`` formulas,
writes serial dates with 15 significant digits and types CSV text as numbers.

- XLSX -> XLSX: opened and saved as "Excel 2007-365" (``Calc MS Excel 2007 XML``), the hidden sheets kept.
- CSV -> CSV: opened as a double-click opens it, with the Text Import dialog's defaults in a fresh profile
  (Office.Calc/Dialogs/CSVImport in LibreOffice's ``main.xcd``: separators ``,`` ``;`` and tab, ``"`` as the text
  delimiter, *Detect special numbers* off, *Evaluate formulas* off, *Format quoted field as text* off; the character
  set is UTF-8, which the BOM of bulkio's CSV tells): numbers in decimal or scientific notation and ISO 8601
  timestamps become typed cells (``1E5`` is 100000, ``00123`` is 123), ``true`` stays text. Or, with
  ``csv_import=CSV_IMPORT_SPECIAL``, with *Detect special numbers* ticked, which is also what LibreOffice does
  headless when the option is not given (``--infilter=CSV:44,34,76,1``, the run that issue 18 reports): ``true``
  becomes the boolean TRUE and ``1E5`` a number shown as ``1.00E+05``. Then saved as CSV with "Keep current format"
  (comma, ``"``, UTF-8 without a BOM, *Save cell content as shown*: a number is written as its cell shows it, in 15
  significant digits at most; a timestamp to the millisecond).

One conversion starts a whole LibreOffice process (about 1.5 to 3 s, most of it start-up; the first one with a new
profile a little more). Each call gets its own profile directory, so conversions may run in parallel (pytest-xdist)
without clashing over LibreOffice's profile lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["CSV_EXPORT", "CSV_IMPORT", "CSV_IMPORT_SPECIAL", "REQUIRE_ENV", "XLSX_FILTER", "ResaveError", "resave",
           "soffice", "timed_resave"]

REQUIRE_ENV = "BULKIO_REQUIRE_LIBREOFFICE"
"""When set (CI sets it), a missing LibreOffice fails the tests that need it instead of skipping them."""

XLSX_FILTER = "Calc MS Excel 2007 XML"

# Filter options, comma-separated tokens (LibreOffice Help, "CSV Filter Options"): field separators (ASCII codes,
# several joined by "/"), text delimiter, character set (76 = UTF-8), first line, column formats (empty: Standard),
# language (0: the user interface's), quoted field as text, detect special numbers, save cell content as shown,
# export cell formulas, remove spaces, sheet to export, evaluate formulas.
CSV_IMPORT = "44/59/9,34,76,1,,0,false,false,true,false,false,0,false"
"""What a double-click on a CSV gets: the Text Import dialog's defaults in a fresh profile."""
CSV_IMPORT_SPECIAL = "44,34,76,1"
"""The same with *Detect special numbers* ticked: LibreOffice's choice when the filter options stop before it."""
CSV_EXPORT = "44,34,76,1,,0,false,true,true,false,false"
"""What "Keep current format" writes: comma, double quotes, UTF-8, cell content as shown."""

_TIMEOUT = 180.0


class ResaveError(RuntimeError):
    """LibreOffice did not write the converted file."""


def soffice() -> str | None:
    """The LibreOffice executable on PATH (``soffice`` or ``libreoffice``), or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def resave(source: Path, target: Path | None = None, *, csv_import: str | None = None) -> Path:
    """`source` (``.xlsx`` or ``.csv``) opened and saved again by LibreOffice, in the same format, at `target`
    (by default over `source`). Returns the path written. `csv_import`: the CSV import's filter options
    (`CSV_IMPORT` by default: the dialog's defaults)."""
    program = soffice()
    if program is None:
        raise ResaveError("LibreOffice (soffice) is not on PATH: apt-get install libreoffice-calc-nogui")
    suffix = source.suffix.lower()
    if suffix == ".xlsx":
        convert, infilter = f"xlsx:{XLSX_FILTER}", None
    elif suffix == ".csv":
        convert, infilter = f"csv:Text - txt - csv (StarCalc):{CSV_EXPORT}", f"CSV:{csv_import or CSV_IMPORT}"
    else:
        raise ValueError(f"cannot re-save {source.name}: only .xlsx and .csv")
    target = target or source
    with tempfile.TemporaryDirectory(prefix="bulkio-soffice-") as work:
        base = Path(work)
        profile, outdir, staged = base / "profile", base / "out", base / "in"
        outdir.mkdir()
        staged.mkdir()
        given = staged / f"sheet{suffix}"  # a plain name: the output is named after the input
        shutil.copyfile(source, given)
        command = [program, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                   "--nolockcheck", "--convert-to", convert, "--outdir", str(outdir)]
        if infilter:
            command.append(f"--infilter={infilter}")
        command.append(str(given))
        env = {**os.environ, "HOME": str(base)}  # nothing of the user's own LibreOffice settings leaks in
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT, env=env, check=False)
        written = outdir / given.name
        if done.returncode != 0 or not written.exists():
            raise ResaveError(f"soffice exited {done.returncode} without writing {written.name}: "
                              f"{(done.stderr or done.stdout).strip()[:500]}")
        shutil.copyfile(written, target)
    return target


def timed_resave(source: Path, target: Path | None = None, *, csv_import: str | None = None
                 ) -> tuple[Path, float]:
    """`resave`, and how long it took in seconds."""
    start = time.perf_counter()
    path = resave(source, target, csv_import=csv_import)
    return path, time.perf_counter() - start

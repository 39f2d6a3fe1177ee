"""One public surface: `bulkio.__all__`; `import bulkio` does not pull in the CLI or the sandbox."""

from __future__ import annotations

import subprocess
import sys

import bulkio


def test_all_names_resolve() -> None:
    for name in bulkio.__all__:
        assert getattr(bulkio, name) is not None, name
    for name in ("Client", "export", "export_table", "write_workbook", "write_csv", "CUSTOMER", "Resource",
                 "read_workbook", "validate", "plan", "apply", "undo"):
        assert name in bulkio.__all__


def test_import_stays_light() -> None:
    code = "import sys, bulkio; print(sorted(m for m in sys.modules if m in ('bulkio.cli', 'bulkio.sandbox', 'typer',"
    code += " 'uvicorn', 'starlette') or m.startswith(('bulkio.sandbox.', 'uvicorn.', 'starlette.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

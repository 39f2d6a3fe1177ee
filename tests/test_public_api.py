"""One public surface: `bulkio.__all__`, spelled out here so a name joins or leaves the API only on purpose (as
httpx's ``tests/test_exported_members.py`` does); ``import bulkio`` does not pull in the CLI or the sandbox."""

from __future__ import annotations

import subprocess
import sys
import types

import bulkio
import bulkio.errors

PUBLIC_API = {
    # the pipeline, in the order a round trip runs it
    "Client", "Settings", "get_resource", "resource_for", "fetch_lookups", "export", "export_table", "export_family",
    "write_workbook",
    "write_csv", "read_sheet", "read_workbook", "validate", "plan", "apply", "resume", "undo",
    # what it hands around
    "CUSTOMER", "Resource", "Column", "ColumnType", "Reference", "Sheet", "ValidationReport", "Plan", "Kind",
    "Results", "Status", "__version__",
    # a table and its children in one workbook (export_family, then plan/apply/resume/undo take it whole)
    "Link", "FamilyExport", "FamilyPlan", "FamilyResults",
    # every exception it raises on purpose (the tree in bulkio.errors)
    "BulkioError", "ConfigError", "UnknownResource", "ApiError", "TransportError", "WorkbookError", "CellError",
    "LabelError", "ValidationFailed", "PlanConflict", "ApplyError",
}
"""The public API by role; `__all__` holds the same names, sorted."""


def test_all_is_the_public_api_name_by_name() -> None:
    assert set(bulkio.__all__) == PUBLIC_API
    assert len(bulkio.__all__) == len(PUBLIC_API)  # each name once


def test_every_name_in_all_is_importable() -> None:
    for name in bulkio.__all__:
        assert getattr(bulkio, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from bulkio import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC_API


def test_nothing_public_is_missing_from_all() -> None:
    """Every public name of the package is in `__all__`; submodules are how it is laid out, not what it offers."""
    public = {name for name, value in vars(bulkio).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert public == set(bulkio.__all__) - {"__version__"}


def test_every_exception_bulkio_raises_is_exported() -> None:
    for name in bulkio.errors.__all__:
        error = getattr(bulkio.errors, name)
        if isinstance(error, type) and issubclass(error, BaseException):
            assert getattr(bulkio, name) is error, name
            assert issubclass(error, bulkio.BulkioError), name


def test_import_stays_light() -> None:
    code = "import sys, bulkio; print(sorted(m for m in sys.modules if m in ('bulkio.cli', 'bulkio.sandbox', 'typer',"
    code += " 'uvicorn', 'starlette') or m.startswith(('bulkio.sandbox.', 'uvicorn.', 'starlette.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""One public surface: `bulkio.__all__`, spelled out here so a name joins or leaves the API only on purpose (as
httpx's ``tests/test_exported_members.py`` does); ``import bulkio`` does not pull in the CLI or the sandbox."""

from __future__ import annotations

import subprocess
import sys
import types

import bulkio
import bulkio.errors

PUBLIC_API = [
    "CUSTOMER",
    "ApiError",
    "ApplyError",
    "BulkioError",
    "CellError",
    "Client",
    "Column",
    "ColumnType",
    "ConfigError",
    "Kind",
    "LabelError",
    "Plan",
    "PlanConflict",
    "Reference",
    "Resource",
    "Results",
    "Settings",
    "Sheet",
    "Status",
    "TransportError",
    "UnknownResource",
    "ValidationFailed",
    "ValidationReport",
    "WorkbookError",
    "__version__",
    "apply",
    "export",
    "export_table",
    "fetch_lookups",
    "get_resource",
    "plan",
    "read_sheet",
    "read_workbook",
    "resource_for",
    "resume",
    "undo",
    "validate",
    "write_csv",
    "write_workbook",
]


def test_all_is_the_public_api_name_by_name() -> None:
    assert bulkio.__all__ == PUBLIC_API


def test_every_name_in_all_is_importable() -> None:
    for name in bulkio.__all__:
        assert getattr(bulkio, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from bulkio import *", namespace)
    assert set(PUBLIC_API) <= set(namespace)


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

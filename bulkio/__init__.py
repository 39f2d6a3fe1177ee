"""bulkio: move Carbon ERP records between the PostgREST API and spreadsheets in bulk.

The data flow is ``client -> export -> (sheet) -> read -> validate -> plan -> apply -> results``.
`bulkio.cli` and `bulkio.sandbox` are not imported here, so ``import bulkio`` in a notebook stays light.
"""

from __future__ import annotations

from ._version import __version__
from .apply import apply, resume
from .client import Client
from .config import Settings
from .errors import (
    ApiError,
    ApplyError,
    BulkioError,
    ConfigError,
    PlanConflict,
    TransportError,
    ValidationFailed,
    WorkbookError,
)
from .export import export, export_table
from .lookups import fetch_lookups
from .plan import Kind, Plan, plan
from .read import Sheet, read_sheet
from .resources import CUSTOMER, Column, ColumnType, Reference, Resource, get_resource, resource_for
from .results import Results, Status
from .undo import undo
from .validate import ValidationReport, validate
from .workbook import write_csv, write_workbook

read_workbook = read_sheet
"""The design's name for `read_sheet`."""

__all__ = [
    "CUSTOMER",
    "ApiError",
    "ApplyError",
    "BulkioError",
    "Client",
    "Column",
    "ColumnType",
    "ConfigError",
    "Kind",
    "Plan",
    "PlanConflict",
    "Reference",
    "Resource",
    "Results",
    "Settings",
    "Sheet",
    "Status",
    "TransportError",
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

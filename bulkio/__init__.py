"""bulkio: move Carbon ERP records between the PostgREST API and spreadsheets in bulk.

The data flow is ``client -> export -> (sheet) -> read -> validate -> plan -> apply -> results``.
`bulkio.cli` and `bulkio.sandbox` are not imported here, so ``import bulkio`` in a notebook stays light.
"""

from __future__ import annotations

from ._version import __version__
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
from .resources import CUSTOMER, Column, ColumnType, Reference, Resource, get_resource
from .workbook import write_csv, write_workbook

__all__ = [
    "CUSTOMER",
    "ApiError",
    "ApplyError",
    "BulkioError",
    "Client",
    "Column",
    "ColumnType",
    "ConfigError",
    "PlanConflict",
    "Reference",
    "Resource",
    "Settings",
    "TransportError",
    "ValidationFailed",
    "WorkbookError",
    "__version__",
    "export",
    "export_table",
    "get_resource",
    "write_csv",
    "write_workbook",
]

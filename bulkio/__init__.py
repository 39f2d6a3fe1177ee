"""bulkio: move Carbon ERP records between the PostgREST API and spreadsheets in bulk.

The data flow is ``client -> export -> (sheet) -> read -> validate -> plan -> apply -> results``.
`bulkio.cli` and `bulkio.sandbox` are not imported here, so ``import bulkio`` in a notebook stays light.
"""

from __future__ import annotations

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
from .resources import CUSTOMER, Column, ColumnType, Reference, Resource, get_resource

__version__ = "0.1.0"

__all__ = [
    "CUSTOMER",
    "ApiError",
    "ApplyError",
    "BulkioError",
    "Column",
    "ColumnType",
    "ConfigError",
    "PlanConflict",
    "Reference",
    "Resource",
    "TransportError",
    "ValidationFailed",
    "WorkbookError",
    "__version__",
    "get_resource",
]

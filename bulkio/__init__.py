"""bulkio: move Carbon ERP records between the PostgREST API and spreadsheets in bulk.

The data flow is ``client -> export -> (sheet) -> read -> validate -> plan -> apply -> results``.
`bulkio.cli` and `bulkio.sandbox` are not imported here, so ``import bulkio`` in a notebook stays light.

``__all__`` is the public API, pinned name by name by ``tests/test_public_api.py``: a name joins or leaves it on
purpose. Every exception bulkio raises is here (`bulkio.errors` has the tree), so callers need one import.
"""

from ._version import __version__
from .api.catalog import resource_for
from .api.client import Client
from .api.lookups import fetch_lookups
from .config import Settings
from .errors import (
    ApiError,
    ApplyError,
    BulkioError,
    CellError,
    ConfigError,
    LabelError,
    PlanConflict,
    TransportError,
    UnknownResource,
    ValidationFailed,
    WorkbookError,
)
from .export.family import FamilyExport, export_family
from .export.table import export, export_table
from .plan import FamilyPlan, Kind, Plan, plan
from .resources import CUSTOMER, Column, ColumnType, Link, Reference, Resource, get_resource
from .run.apply import apply, resume
from .run.family import FamilyResults
from .run.results import Results, Status
from .run.undo import undo
from .sheets.read import Sheet, read_sheet
from .sheets.write import write_csv, write_workbook
from .validate.report import ValidationReport
from .validate.rules import validate

read_workbook = read_sheet
"""The design's name for `read_sheet`."""

__all__ = [
    "CUSTOMER",
    "ApiError",
    "ApplyError",
    "BulkioError",
    "CellError",
    "Client",
    "Column",
    "ColumnType",
    "ConfigError",
    "FamilyExport",
    "FamilyPlan",
    "FamilyResults",
    "Kind",
    "LabelError",
    "Link",
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
    "export_family",
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

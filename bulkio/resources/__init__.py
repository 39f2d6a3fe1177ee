"""Tables as data: `Resource` definitions, the registry of the ones bulkio knows by name, and definitions built from
a server's OpenAPI document. No module here sends a request or imports the client.

Two ways to a table's definition:

- `get_resource(name)` (`registry`): the hand-written definitions only (`customer` and the tables it references).
  Fast, offline, no side effects: what code without a server connection (templates, reading a workbook) can rely on.
- `resource_for(client, name)` (`bulkio.api.catalog`): any table the client's key can see. The hand-written definition
  when there is one (it knows more: natural key, labels, read-only columns, ranges), else one built from the
  server's OpenAPI document (`openapi`).
"""

from __future__ import annotations

from ..errors import UnknownResource
from .base import Column, ColumnType, Reference, Resource
from .customer import (
    COMPANY,
    CURRENCY_CODE,
    CUSTOMER,
    CUSTOMER_CONTACT,
    CUSTOMER_STATUS,
    CUSTOMER_TYPE,
    USER,
)
from .family import Link, children_of
from .openapi import (
    TableInfo,
    column_type,
    definition_differences,
    differences,
    resource_from_definition,
    resource_in,
    tables_in,
)
from .registry import RESOURCES, get_resource

__all__ = [
    "COMPANY",
    "CURRENCY_CODE",
    "CUSTOMER",
    "CUSTOMER_CONTACT",
    "CUSTOMER_STATUS",
    "CUSTOMER_TYPE",
    "RESOURCES",
    "USER",
    "Column",
    "ColumnType",
    "Link",
    "Reference",
    "Resource",
    "TableInfo",
    "UnknownResource",
    "children_of",
    "column_type",
    "definition_differences",
    "differences",
    "get_resource",
    "resource_from_definition",
    "resource_in",
    "tables_in",
]


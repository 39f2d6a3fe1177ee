"""Tables as data: `Resource` definitions, the registry of the ones bulkio knows by name, and definitions built from
a server's OpenAPI document. No module here sends a request or imports the client.

Two ways to a table's definition:

- `get_resource(name)` (`registry`): the hand-written definitions only (`customer` and the tables it references).
  Fast, offline, no side effects: what code without a server connection (templates, reading a workbook) can rely on.
- `resource_for(client, name)` (`bulkio.catalog`): any table the client's key can see. The hand-written definition
  when there is one (it knows more: natural key, labels, read-only columns, ranges), else one built from the
  server's OpenAPI document (`openapi`).

The four functions below that take a client are kept so that ``from bulkio.resources import resource_for`` (and
``server_tables``, ``server_differences``, ``fetch_openapi``) keeps working; their home is `bulkio.catalog`. They only
call the client they are given, so this package still imports nothing above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ..client import Client

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
    "Reference",
    "Resource",
    "TableInfo",
    "UnknownResource",
    "column_type",
    "definition_differences",
    "differences",
    "fetch_openapi",
    "get_resource",
    "resource_for",
    "resource_from_definition",
    "resource_in",
    "server_differences",
    "server_tables",
    "tables_in",
]


def resource_for(client: Client, name: str | Resource) -> Resource:
    """`bulkio.catalog.resource_for`, under the name it had here (the client resolves, this package stays offline)."""
    return client.resource(name)


def fetch_openapi(client: Client, *, refresh: bool = False) -> dict[str, Any]:
    """`bulkio.catalog.fetch_openapi`, under the name it had here: `Client.openapi`."""
    return client.openapi(refresh=refresh)


def server_tables(client: Client) -> list[TableInfo]:
    """`bulkio.catalog.server_tables`, under the name it had here."""
    return tables_in(client.openapi())


def server_differences(client: Client, resource: Resource) -> list[str]:
    """`bulkio.catalog.server_differences`, under the name it had here."""
    return definition_differences(client.openapi(), resource)

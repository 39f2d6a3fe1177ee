"""Tables as data: `Resource` definitions and the registry of the ones bulkio knows by name.

Two ways to a table's definition:

- `get_resource(name)`: the hand-written definitions only (`customer` and the tables it references). Fast, offline,
  no side effects: what code without a server connection (templates, reading a workbook) can rely on.
- `resource_for(client, name)`: any table the client's key can see. The hand-written definition when there is one
  (it knows more: natural key, labels, read-only columns, ranges), else one built from the server's OpenAPI document
  (`bulkio.resources.openapi`).
"""

from __future__ import annotations

import difflib

from ..errors import BulkioError
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
    differences,
    fetch_openapi,
    resource_for,
    resource_from_definition,
    server_differences,
    server_tables,
)

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
    "differences",
    "fetch_openapi",
    "get_resource",
    "resource_for",
    "resource_from_definition",
    "server_differences",
    "server_tables",
]

RESOURCES: dict[str, Resource] = {
    r.name: r for r in (CUSTOMER, CUSTOMER_TYPE, CUSTOMER_STATUS, USER, CURRENCY_CODE, COMPANY, CUSTOMER_CONTACT)
}
"""The hand-written definitions, by table name."""


class UnknownResource(BulkioError, KeyError):
    """No definition of that table: not a hand-written one (`get_resource`), or not on the server (`resource_for`).

    A `KeyError` too, so ``except KeyError`` around a registry lookup keeps working; its text is the message
    itself (a plain KeyError would show it quoted).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def get_resource(name: str | Resource) -> Resource:
    """The hand-written definition of table `name` (a `Resource` is returned as it is). Never asks the server.

    :raises UnknownResource: naming the known tables, the closest one, and how to reach any other table the server
        has (`resource_for(client, name)`, or `bulkio resources` to list them).
    """
    if isinstance(name, Resource):
        return name
    try:
        return RESOURCES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(RESOURCES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownResource(
            f"no hand-written definition of table {name!r}; {hint}bulkio knows {', '.join(sorted(RESOURCES))}. "
            f"Any other table your server has is built from its OpenAPI document with a client: "
            f"resource_for(client, {name!r}) from Python, and `bulkio resources` lists them") from None

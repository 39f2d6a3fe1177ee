"""The tables a server has, as a client's key sees them: definitions by name, the list, and drift.

Above both `bulkio.api.client` (which fetches the OpenAPI document, once per client: `Client.openapi`) and
`bulkio.resources` (which turns a document into definitions, offline), so neither of those imports the other's
upper half: the client resolves names through the pure `resources.openapi`, and this module only asks the client.

Example::

    with Client() as client:
        resource_for(client, "customer")      # CUSTOMER, hand-written: no request
        resource_for(client, "supplier")      # built from the server's document (one ``GET /`` per client)
        [t.name for t in server_tables(client)]
"""

from __future__ import annotations

from typing import Any

from ..resources import Resource, TableInfo, definition_differences, tables_in
from .client import Client

__all__ = ["fetch_openapi", "resource_for", "server_differences", "server_tables"]


def fetch_openapi(client: Client, *, refresh: bool = False) -> dict[str, Any]:
    """The server's OpenAPI document: one ``GET /``, kept for the client's lifetime (a limited key's requests count).

    :param refresh: ask the server again (after a migration).
    :raises ApiError: the server refused, or its root is not a Swagger 2.0 document with ``definitions``.
    """
    return client.openapi(refresh=refresh)


def resource_for(client: Client, name: str | Resource) -> Resource:
    """The `Resource` of table `name` on the client's server: the hand-written one when bulkio has it (no request),
    else one built from the server's OpenAPI document (`Client.resource`).

    :raises UnknownResource: the key sees no such table (the message names the closest ones).
    :raises ApiError: the server's root is not an OpenAPI document (only hand-written tables can be used then).
    """
    return client.resource(name)


def server_tables(client: Client) -> list[TableInfo]:
    """Every table the client's key can see, sorted by name, with what bulkio knows of each."""
    return tables_in(client.openapi())


def server_differences(client: Client, resource: Resource) -> list[str]:
    """How `resource` differs from the table the client's server describes ([] when it is not a hand-written
    definition: a built one says what the server says)."""
    return definition_differences(client.openapi(), resource)

"""The tables a server has, as a client's key sees them: definitions by name, the list, and drift.

Above both `bulkio.api.client` (which fetches the OpenAPI document, once per client: `Client.openapi`) and
`bulkio.resources` (which turns a document into definitions, offline), so neither of those imports the other's
upper half: the client resolves names through the pure `resources.openapi`, and this module only asks the client.

Example::

    with Client() as client:
        resource_for(client, "customer")      # CUSTOMER, hand-written: no request
        resource_for(client, "supplier")      # built from the server's document (one ``GET /`` per client)
        [t.name for t in server_tables(client)]
        related_tables(client, CUSTOMER)      # [Link(customerContact.customerId -> customer.id)]
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, ConfigError, UnknownResource
from ..resources import RESOURCES, Link, Resource, TableInfo, children_of, definition_differences, tables_in
from .client import Client

__all__ = ["fetch_openapi", "link_for", "related_tables", "resource_for", "server_differences", "server_tables"]


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


def _known_tables(client: Client) -> list[Resource]:
    """Every table definition the client can use: the hand-written ones, and those the server's OpenAPI document
    describes (built through `Client.resource`, so a hand-written definition wins). A server without a document
    leaves the hand-written ones: bulkio can use no other table there anyway."""
    tables = dict(RESOURCES)
    try:
        infos = server_tables(client)
    except ApiError:
        return list(tables.values())
    for info in infos:
        if info.usable and info.name not in tables:
            try:
                tables[info.name] = client.resource(info.name)
            except UnknownResource:
                continue
    return list(tables.values())


def related_tables(client: Client, parent: Resource | str) -> list[Link]:
    """The tables that can be exported and imported with `parent` (its children, `bulkio.resources.children_of`),
    among the hand-written definitions and the server's tables. One ``GET /`` at most, cached on the client.

    :raises UnknownResource: the server has no table `parent`.
    """
    return children_of(client.resource(parent), _known_tables(client))


def link_for(client: Client, parent: Resource | str, child: str) -> Link:
    """The link of table `child` to `parent` (``customerContact`` -> ``customerContact.customerId``).

    :raises ConfigError: `child` is not a child of `parent`; the message names those that are.
    """
    links = related_tables(client, parent)
    found = [link for link in links if link.child.name == child]
    if len(found) == 1:
        return found[0]
    name = client.resource(parent).name
    if found:
        raise ConfigError(f"{child} refers to {name} through {len(found)} columns "
                          f"({', '.join(link.column for link in found)}): bulkio cannot tell which one to follow")
    can = ", ".join(f"{link.child.name} (by {link.column})" for link in links) or "none"
    raise ConfigError(f"{child} cannot be exported with {name}: it is not a table whose rows each belong to one "
                      f"{name} (a NOT NULL reference to {name}.{client.resource(parent).key}). "
                      f"Tables that can: {can}")

"""The hand-written definitions bulkio knows by name, and the offline way to them (`get_resource`).

Kept apart from `bulkio.resources.openapi` (which builds definitions from a server's document) so both can use it
without importing each other, and apart from the package's ``__init__`` so that one only gathers names.
"""

from __future__ import annotations

import difflib

from ..errors import UnknownResource
from .base import Resource
from .customer import COMPANY, CURRENCY_CODE, CUSTOMER, CUSTOMER_CONTACT, CUSTOMER_STATUS, CUSTOMER_TYPE, USER

__all__ = ["RESOURCES", "get_resource"]

RESOURCES: dict[str, Resource] = {
    r.name: r for r in (CUSTOMER, CUSTOMER_TYPE, CUSTOMER_STATUS, USER, CURRENCY_CODE, COMPANY, CUSTOMER_CONTACT)
}
"""The hand-written definitions, by table name."""


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

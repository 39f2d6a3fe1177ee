"""Tables as data: `Resource` definitions and the registry of the ones bulkio knows by name."""

from __future__ import annotations

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
    "get_resource",
]

RESOURCES: dict[str, Resource] = {
    r.name: r for r in (CUSTOMER, CUSTOMER_TYPE, CUSTOMER_STATUS, USER, CURRENCY_CODE, COMPANY, CUSTOMER_CONTACT)
}


def get_resource(name: str | Resource) -> Resource:
    """The hand-written definition of table `name` (a `Resource` is returned as it is).

    :raises KeyError: naming the known tables when there is no such definition.
    """
    if isinstance(name, Resource):
        return name
    try:
        return RESOURCES[name]
    except KeyError:
        raise KeyError(f"unknown resource {name!r}; known: {', '.join(sorted(RESOURCES))}") from None

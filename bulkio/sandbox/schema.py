"""What the sandbox adds to the shared `Resource` definitions to behave like Carbon's database.

The column facts (types, NOT NULL, defaults, references, ranges, unique constraints) come from `bulkio.resources`,
so the sandbox and the client share one source of truth. Only database *behaviour* lives here: how ids and readable
ids are generated, which rows a key may see (row-level security), which tables a key may write, and triggers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..resources import (
    COMPANY,
    CURRENCY_CODE,
    CUSTOMER,
    CUSTOMER_CONTACT,
    CUSTOMER_STATUS,
    CUSTOMER_TYPE,
    USER,
    Column,
    ColumnType,
    Reference,
    Resource,
)

__all__ = ["SUPPLIER", "TABLES", "TableSpec", "base58_id", "now_iso", "sqlite_ddl"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58_id(prefix: str, rng: Any = None) -> str:
    """Carbon's ids: a prefix and 22 base58 characters, as a base58-encoded uuid4 (``cust_2VQ...``).

    With `rng` (a `random.Random`) the id is reproducible, for the seed.
    """
    if rng is not None:
        return f"{prefix}_{''.join(rng.choices(_B58, k=22))}"
    number = uuid.uuid4().int
    chars = []
    while number:
        number, rest = divmod(number, 58)
        chars.append(_B58[rest])
    return f"{prefix}_{''.join(reversed(chars))}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class TableSpec:
    """A served table: its `Resource` plus the database behaviour the sandbox reproduces.

    :param id_prefix: prefix of generated text ids (``cust``); None when the key has no default.
    :param readable_prefix: prefix of the per-company readable id sequence (``CUS`` -> ``CUS000001``).
    :param rls: how row-level security scopes a key's rows: ``company`` (``companyId`` equals the key's company),
        ``self`` (the company table itself), ``member`` (users of the key's company), or None (visible to all).
    :param writable: whether keys may insert, update or delete at all.
    :param undeletable_when: a column whose non-null value makes a delete trigger raise (intercompany customers).
    """

    resource: Resource
    id_prefix: str | None = None
    readable_prefix: str | None = None
    rls: str | None = "company"
    writable: bool = True
    undeletable_when: str | None = None

    @property
    def name(self) -> str:
        return self.resource.name

    def defaults(self) -> dict[str, Callable[[], Any]]:
        """Server defaults for columns an insert leaves out (the readable id is filled separately)."""
        out: dict[str, Callable[[], Any]] = {}
        for column in self.resource.columns:
            if not column.has_default:
                continue
            if column.name == self.resource.key and self.id_prefix:
                prefix = self.id_prefix
                out[column.name] = lambda prefix=prefix: base58_id(prefix)
            elif column.type is ColumnType.TIMESTAMP:
                out[column.name] = now_iso
            elif column.type is ColumnType.NUMERIC:
                out[column.name] = lambda: 0
            elif column.type is ColumnType.TEXT_ARRAY:
                out[column.name] = list
        return out


SUPPLIER = Resource(
    name="supplier",
    columns=(
        Column("id", nullable=False, has_default=True),
        Column("name", nullable=False),
        Column("taxId", max_length=32),
        Column("accountManagerId", reference=Reference("user")),
        Column("currencyCode", reference=Reference("currencyCode", column="code")),
        Column("phone"),
        Column("paymentTermDays", ColumnType.INTEGER),
        Column("rating", ColumnType.NUMERIC),
        Column("companyId", nullable=False, reference=Reference("company")),
        Column("createdAt", ColumnType.TIMESTAMP, nullable=False, has_default=True),
        Column("tags", ColumnType.TEXT_ARRAY, has_default=True),
        Column("customFields", ColumnType.JSON),
    ),
    unique=(("name", "companyId"),),
    description="suppliers",
)
"""A table bulkio has no hand-written definition for: it exists in the sandbox only to prove that any table the
server describes in its OpenAPI document can be exported, validated and imported (`bulkio.resources.openapi`)."""

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(CUSTOMER, id_prefix="cust", readable_prefix="CUS", undeletable_when="intercompanyCompanyId"),
        TableSpec(CUSTOMER_TYPE, id_prefix="ctyp"),
        TableSpec(CUSTOMER_STATUS, id_prefix="csts"),
        TableSpec(CUSTOMER_CONTACT, id_prefix="ccon"),
        TableSpec(SUPPLIER, id_prefix="supp"),
        TableSpec(USER, id_prefix="user", rls="member", writable=False),
        TableSpec(COMPANY, id_prefix="comp", rls="self", writable=False),
        TableSpec(CURRENCY_CODE, rls=None, writable=False),
    )
}


def _sqlite_type(column: Column) -> str:
    if column.type is ColumnType.NUMERIC:
        return "REAL"
    if column.type in (ColumnType.INTEGER, ColumnType.BOOLEAN):
        return "INTEGER"
    return "TEXT"


def sqlite_ddl() -> list[str]:
    """CREATE statements: the storage only, tables first, then indexes (CREATE INDEX / CREATE UNIQUE INDEX), which
    the store builds after the seed is loaded. Constraints are checked by `store.py` so errors read like Postgres'."""
    statements = []
    for spec in TABLES.values():
        resource = spec.resource
        cols = ", ".join(
            f'"{c.name}" {_sqlite_type(c)}' + (" PRIMARY KEY" if c.name == resource.key else "")
            for c in resource.columns
        )
        # "_ctid" plays Postgres' physical row order: an unordered read returns rows in it, and an update moves a
        # row to the end, so a client that pages without `order` sees what it would see on the real server
        statements.append(f'CREATE TABLE "{resource.name}" ({cols}, "_ctid" INTEGER)')
        for unique in resource.unique:
            index_cols = ", ".join(f'"{c}"' for c in unique)
            statements.append(
                f'CREATE UNIQUE INDEX "{resource.name}_{"_".join(unique)}_key" ON "{resource.name}" ({index_cols})'
            )
        for column in resource.columns:
            if column.reference is None:
                continue
            indexed = f'"{column.name}"'
            if spec.rls == "company" and column.name == "companyId":
                # row-level security filters every read by company: with the key second, a keyset page
                # (companyId = ? AND id > ? ORDER BY id LIMIT n) and its count are index range scans
                indexed += f', "{resource.key}"'
            statements.append(f'CREATE INDEX "{resource.name}_{column.name}_idx" ON "{resource.name}" ({indexed})')
    statements.append('CREATE TABLE "_membership" ("userId" TEXT, "companyId" TEXT, '
                      'PRIMARY KEY ("userId", "companyId"))')
    statements.append('CREATE TABLE "_sequence" ("table" TEXT, "companyId" TEXT, "value" INTEGER, '
                      'PRIMARY KEY ("table", "companyId"))')
    return statements

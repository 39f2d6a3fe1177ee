"""A `Resource` describes one Carbon table as data: its columns, key, natural key and references.

Resources only *describe*; the client, exporter, validator, planner and the sandbox *act* on them. Keeping every fact
about a table in one frozen dataclass means a second table needs a definition, not new code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Column", "ColumnType", "Reference", "Resource"]


class ColumnType(StrEnum):
    """The Postgres types bulkio knows how to move through a spreadsheet."""

    TEXT = "text"
    NUMERIC = "numeric"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp with time zone"
    DATE = "date"
    JSON = "jsonb"
    TEXT_ARRAY = "text[]"
    VECTOR = "halfvec"


@dataclass(frozen=True)
class Reference:
    """A foreign key, and the column of the referenced table that people recognise it by.

    :param table: the referenced table (``customerType``).
    :param column: the referenced column (``id``).
    :param label: the referenced table's column shown instead of the id in sheets (``name``, ``email``); ``None``
        keeps the raw value (when the referenced table has nothing better to show).
    :param on_delete: what the database does to referencing rows when the referenced row is deleted
        (``restrict``, ``no action``, ``cascade``, ``set null``).
    """

    table: str
    column: str = "id"
    label: str | None = None
    on_delete: str = "no action"


@dataclass(frozen=True)
class Column:
    """One column of a resource.

    :param name: the column name exactly as the API spells it (``customerTypeId``).
    :param type: its Postgres type.
    :param nullable: False for NOT NULL columns.
    :param has_default: the server fills the column when an insert omits it (``now()``, ``0``, generated ids).
    :param read_only: managed by the server or by bulkio itself; an importer ignores edits to it.
    :param reference: the foreign key, if any.
    :param minimum, maximum: a CHECK range (inclusive).
    :param choices: the allowed values, if the column is an enum.
    :param max_length: the longest allowed text, where the database says so.
    :param exported: included when exporting with the default select (``embedding`` is not).
    :param format: a hint for validation and display: ``email``, ``phone``, ``url``, ``percent``, ``email[]``.
    :param description: one line for templates and the README.
    """

    name: str
    type: ColumnType = ColumnType.TEXT
    nullable: bool = True
    has_default: bool = False
    read_only: bool = False
    reference: Reference | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    max_length: int | None = None
    exported: bool = True
    format: str | None = None
    description: str = ""

    @property
    def required(self) -> bool:
        """An insert must send this column: NOT NULL and no server default."""
        return not self.nullable and not self.has_default

    @property
    def is_array(self) -> bool:
        """A text array: one cell in a sheet, its items joined (`bulkio.sheets.values`)."""
        return self.type is ColumnType.TEXT_ARRAY

    @property
    def is_json(self) -> bool:
        """A JSON object (``customFields``): flattened into one sheet column per key."""
        return self.type is ColumnType.JSON


@dataclass(frozen=True)
class Resource:
    """One table served by PostgREST.

    :param name: the table name, which is also its path (``/customer``).
    :param columns: every column, in the order sheets show them.
    :param key: the primary-key column; a sheet row with an empty key is a create.
    :param natural_key: columns that identify a row for people and are unique per tenant (``("name",)``); used to
        make creates idempotent on resume and to detect duplicates before the server does.
    :param unique: every UNIQUE constraint, as column tuples (the natural key with ``companyId`` among them).
    :param tenant_column: the column row-level security scopes by (``companyId``); inserts must send it.
    :param label: the column people call a row by (``name`` for a customer type); references show it.
    :param batch_size: rows per write request by default.
    :param description: one line for ``bulkio resources``.
    :param example: one plausible row (column, value pairs) for the template's Example sheet.
    """

    name: str
    columns: tuple[Column, ...]
    key: str = "id"
    natural_key: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    tenant_column: str | None = "companyId"
    label: str | None = None
    batch_size: int = 500
    description: str = ""
    example: tuple[tuple[str, object], ...] = ()
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {column.name: column for column in self.columns}
        if len(by_name) != len(self.columns):
            raise ValueError(f"resource {self.name!r} lists a column twice")
        if self.key not in by_name:
            raise ValueError(f"resource {self.name!r}: key {self.key!r} is not a column")
        for name in (*self.natural_key, *(c for u in self.unique for c in u)):
            if name not in by_name:
                raise ValueError(f"resource {self.name!r}: {name!r} is not a column")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def path(self) -> str:
        """The table's URL path under the API root (PostgREST serves table ``t`` at ``/t``)."""
        return f"/{self.name}"

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def column(self, name: str) -> Column:
        """The column called `name`; KeyError naming the resource when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no column {name!r}") from None

    @property
    def column_names(self) -> list[str]:
        """Every column's name, in table order."""
        return [column.name for column in self.columns]

    @property
    def exported_columns(self) -> list[str]:
        """The default select: every column except the ones never exported (vectors)."""
        return [column.name for column in self.columns if column.exported]

    @property
    def writable_columns(self) -> list[str]:
        """Columns an importer may send: not read-only, not the key."""
        return [c.name for c in self.columns if not c.read_only and c.name != self.key]

    @property
    def references(self) -> dict[str, Reference]:
        """The foreign-key columns and what each points at, by column name."""
        return {c.name: c.reference for c in self.columns if c.reference is not None}

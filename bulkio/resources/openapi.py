"""Any Carbon table: a `Resource` built from the OpenAPI (Swagger 2.0) document PostgREST serves at ``GET /``.

PostgREST describes every table the key may see under ``definitions``: the columns in table order, the Postgres
type in ``format`` (``text``, ``numeric``, ``timestamp with time zone``, ``jsonb``, ``text[]``, ...), NOT NULL
columns in ``required`` (those with a server default too: PostgREST issue #2559), the default in ``default`` when it
reads as JSON, and the keys as ``<pk/>`` and ``<fk table='t' column='c'/>`` notes in the descriptions.

It cannot say which columns are unique (the natural key), which column people call a row by (the label a reference
shows instead of an id), which columns the server or bulkio manages, or CHECK ranges. The hand-written definitions
(`bulkio.resources.customer`) say that, so they win: `resource_in` returns the hand-written definition of a table
when bulkio has one and builds the others from the document. `differences` tells where a hand-written definition
and the server disagree.

Everything here is a function of a document already in hand: no request, no client. Fetching the document (once
per client) is `Client.openapi`'s job, and `bulkio.api.catalog` puts the two together (``resource_for(client, name)``),
so tables stay data and this module can be tested with a dict.

Example::

    resource_in(document, "customer", server=url)  # CUSTOMER, hand-written
    resource_in(document, "supplier", server=url)  # built from the document
    [t.name for t in tables_in(document)]
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UnknownResource
from .base import Column, ColumnType, Reference, Resource
from .registry import RESOURCES

__all__ = [
    "TableInfo",
    "column_type",
    "definition_differences",
    "differences",
    "resource_from_definition",
    "resource_in",
    "tables_in",
]

_FK = re.compile(r"<fk table='([^']*)' column='([^']*)'/>")
_PK = "<pk/>"
_NOTE = "Note:\n"

# Carbon's conventions, shared by every table (not one table's facts): the tenant column that row-level security
# scopes by (sent by bulkio from the key's company, never typed), and the audit columns the server and bulkio fill
_TENANT = "companyId"
_MANAGED = frozenset({"createdAt", "createdBy", "updatedAt", "updatedBy"})

_TYPES = {
    "text": ColumnType.TEXT, "character varying": ColumnType.TEXT, "character": ColumnType.TEXT,
    "uuid": ColumnType.TEXT, "citext": ColumnType.TEXT,
    "numeric": ColumnType.NUMERIC, "real": ColumnType.NUMERIC, "double precision": ColumnType.NUMERIC,
    "smallint": ColumnType.INTEGER, "integer": ColumnType.INTEGER, "bigint": ColumnType.INTEGER,
    "boolean": ColumnType.BOOLEAN,
    "timestamp with time zone": ColumnType.TIMESTAMP, "timestamp without time zone": ColumnType.TIMESTAMP,
    "date": ColumnType.DATE,
    "json": ColumnType.JSON, "jsonb": ColumnType.JSON,
}
_VECTORS = frozenset({"vector", "halfvec", "sparsevec"})
_BY_JSON_TYPE = {"number": ColumnType.NUMERIC, "integer": ColumnType.INTEGER, "boolean": ColumnType.BOOLEAN,
                 "array": ColumnType.TEXT_ARRAY}


def column_type(prop: Mapping[str, Any]) -> ColumnType:
    """The `ColumnType` of one OpenAPI property, from its Postgres type (``format``), else its JSON ``type``.

    Types bulkio has no cell rules for (``interval``, ``bytea``, enums, ...) travel as text, which is how PostgREST
    renders and accepts them; arrays of any element type travel as a text array (one cell, items joined).
    """
    fmt = str(prop.get("format") or "")
    if fmt.endswith("[]"):
        return ColumnType.TEXT_ARRAY
    if fmt in _TYPES:
        return _TYPES[fmt]
    if fmt.rpartition(".")[2] in _VECTORS:  # pgvector types, schema-qualified (``public.halfvec``)
        return ColumnType.VECTOR
    return _BY_JSON_TYPE.get(str(prop.get("type")), ColumnType.TEXT)


def _comment(description: str) -> str:
    """The column's own comment: PostgREST appends its notes after a blank line (or alone, from ``Note:``)."""
    head = description.split(_NOTE, 1)[0] if _NOTE in description else description
    return head.strip()


def resource_from_definition(name: str, definition: Mapping[str, Any], *,
                             known: Mapping[str, Resource] | None = None) -> Resource:
    """A `Resource` from one table's entry under ``definitions``.

    :param known: hand-written definitions by table name (default: bulkio's); a reference to one of them shows its
        label (customer names, user e-mails) instead of ids. A reference to any other table keeps raw ids.
    :raises ValueError: the table has no single-column primary key (nothing to match sheet rows by).

    What OpenAPI cannot say is left out or taken from Carbon's conventions: no natural key, no label, no ranges;
    the key is read-only when the server generates it; ``companyId`` (the tenant column) and the audit columns
    (``createdAt``, ``createdBy``, ``updatedAt``, ``updatedBy``) are read-only, as in every hand-written definition;
    vectors are never exported.
    """
    if known is None:
        known = RESOURCES
    properties: Mapping[str, Mapping[str, Any]] = definition.get("properties") or {}
    required = set(definition.get("required") or ())
    keys = [c for c, p in properties.items() if _PK in str(p.get("description") or "")]
    if not keys and "id" in properties:
        keys = ["id"]  # a view shows no key notes: Carbon's tables and their views are keyed by id
    if len(keys) != 1:
        why = "no primary key" if not keys else f"a primary key of {len(keys)} columns ({', '.join(keys)})"
        raise ValueError(f"table {name!r} has {why}: bulkio matches sheet rows by a single key column")
    key = keys[0]
    tenant = _TENANT if _TENANT in properties else None
    columns = []
    for column_name, prop in properties.items():
        kind = column_type(prop)
        description = str(prop.get("description") or "")
        has_default = "default" in prop
        if column_name == key and kind is ColumnType.INTEGER and not has_default:
            has_default = True  # serial / identity: PostgREST cannot show ``nextval(...)`` as JSON
        reference = None
        fk = _FK.search(description)
        if fk is not None:
            table, target = fk.groups()
            label = None if column_name == tenant or table not in known else known[table].label
            reference = Reference(table, target, label=label)
        choices = prop.get("enum")
        max_length = prop.get("maxLength")
        columns.append(Column(
            column_name,
            kind,
            nullable=column_name not in required,
            has_default=has_default,
            read_only=(column_name == key and has_default) or column_name == tenant or column_name in _MANAGED
            or kind is ColumnType.VECTOR,
            reference=reference,
            choices=tuple(str(c) for c in choices) if isinstance(choices, list) and choices else None,
            max_length=int(max_length) if isinstance(max_length, int) else None,
            exported=kind is not ColumnType.VECTOR,
            description=_comment(description),
        ))
    return Resource(name=name, columns=tuple(columns), key=key, tenant_column=tenant,
                    description=_comment(str(definition.get("description") or "")))


@dataclass(frozen=True)
class TableInfo:
    """One table the key can see, as ``bulkio resources`` lists it.

    :param name: the table (its path is ``/<name>``).
    :param columns: how many columns the server describes.
    :param hand_written: bulkio has a hand-written definition (natural key, labels, ranges); else it is built.
    :param writable: the document offers POST/PATCH/DELETE on it (views and read-only tables do not).
    :param usable: bulkio can build a `Resource` for it (a single-column key); `problem` says why not.
    :param description: the table's summary, if the server has one.
    """

    name: str
    columns: int
    hand_written: bool
    writable: bool
    usable: bool = True
    problem: str = ""
    description: str = ""


def _writable(document: Mapping[str, Any], name: str) -> bool:
    path = (document.get("paths") or {}).get(f"/{name}") or {}
    return any(method in path for method in ("post", "patch", "delete"))


def tables_in(document: Mapping[str, Any]) -> list[TableInfo]:
    """Every table `document` describes, sorted by name, with what bulkio knows of each."""
    out = []
    for name, definition in sorted(document["definitions"].items(), key=lambda item: item[0].casefold()):
        summary = str(((document.get("paths") or {}).get(f"/{name}") or {}).get("get", {}).get("summary") or "")
        problem = ""
        if name not in RESOURCES:
            try:
                resource_from_definition(name, definition)
            except ValueError as exc:
                problem = str(exc)
        description = RESOURCES[name].description if name in RESOURCES else summary or _comment(
            str(definition.get("description") or ""))
        out.append(TableInfo(name, len(definition.get("properties") or {}), name in RESOURCES,
                             _writable(document, name), not problem, problem, description))
    return out


def resource_in(document: Mapping[str, Any], name: str | Resource, *, server: str) -> Resource:
    """The `Resource` of table `name`: the hand-written one when bulkio has it, else one built from `document`.

    :param server: the API's base URL, to name it in the error.
    :raises UnknownResource: the document has no such table (the message names the closest ones), or bulkio cannot
        use it (no single-column key).
    """
    if isinstance(name, Resource):
        return name
    if name in RESOURCES:
        return RESOURCES[name]
    definitions: Mapping[str, Any] = document["definitions"]
    if name not in definitions:
        close = difflib.get_close_matches(name, list(definitions), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownResource(f"the API at {server} has no table {name!r} that this key can see{hint} "
                              f"(`bulkio resources` lists the {len(definitions)} it can)")
    try:
        return resource_from_definition(name, definitions[name], known=RESOURCES)
    except ValueError as exc:
        raise UnknownResource(str(exc)) from None


def differences(hand_written: Resource, built: Resource) -> list[str]:
    """Where a hand-written definition and the server's document disagree, one sentence each (empty: they agree).

    Checked: columns on one side only, types, NOT NULL, the key, and reference targets. Not checked: what OpenAPI
    cannot say (labels, ranges, read-only, natural key) and defaults (PostgREST shows only JSON-readable ones).
    """
    out = []
    server = {c.name: c for c in built.columns}
    mine = {c.name: c for c in hand_written.columns}
    missing = [n for n in server if n not in mine]
    if missing:
        out.append(f"the server has columns the definition lacks (not exported or imported): {', '.join(missing)}")
    gone = [n for n in mine if n not in server]
    if gone:
        out.append(f"the definition has columns the server lacks: {', '.join(gone)}")
    if hand_written.key != built.key:
        out.append(f"the key is {built.key!r} on the server, {hand_written.key!r} in the definition")
    for name in (n for n in mine if n in server):
        a, b = mine[name], server[name]
        if a.type is not b.type:
            out.append(f"{name}: {b.type.value} on the server, {a.type.value} in the definition")
        if a.nullable != b.nullable:
            out.append(f"{name}: {'nullable' if b.nullable else 'NOT NULL'} on the server")
        ref_a = (a.reference.table, a.reference.column) if a.reference else None
        ref_b = (b.reference.table, b.reference.column) if b.reference else None
        if ref_a != ref_b:
            shown = f"{ref_b[0]}.{ref_b[1]}" if ref_b else "nothing"
            out.append(f"{name}: references {shown} on the server")
    return out


def definition_differences(document: Mapping[str, Any], resource: Resource) -> list[str]:
    """How `resource` differs from the table `document` describes ([] when it is not a hand-written definition: a
    built one says what the document says)."""
    if RESOURCES.get(resource.name) is not resource:
        return []
    definition = document["definitions"].get(resource.name)
    if definition is None:
        return [f"the server has no table {resource.name!r} this key can see"]
    return differences(resource, resource_from_definition(resource.name, definition))

"""The OpenAPI (Swagger 2.0) document PostgREST serves at `/`, built from the shared resource definitions.

Faithful to PostgREST's `Response/OpenAPI.hs`, quirks included, so that bulkio's reader of it is honest:

- `required` lists every NOT NULL column, *with or without* a default (PostgREST issue #2559): a column with a
  server default is told apart by its `default`, not by `required`;
- `default` is the column's default expression as JSON when it reads as JSON once PostgREST has quoted string-typed
  ones (`now()` -> ``"now()"``, `0` -> ``0``); an array or jsonb default such as ``'{}'::text[]`` does not, and is
  left out;
- `format` is the Postgres type (``character varying`` with `maxLength` for a sized text), `type` its JSON type
  (none for json/jsonb), arrays carry `items`;
- descriptions carry the ``<pk/>`` and ``<fk table='t' column='c'/>`` notes.
"""

from __future__ import annotations

from typing import Any

from ..resources import Column, ColumnType
from .schema import TABLES, TableSpec

__all__ = ["openapi_document"]

_JSON_TYPES = {
    ColumnType.TEXT: "string",
    ColumnType.NUMERIC: "number",
    ColumnType.INTEGER: "integer",
    ColumnType.BOOLEAN: "boolean",
    ColumnType.TIMESTAMP: "string",
    ColumnType.DATE: "string",
    ColumnType.TEXT_ARRAY: "array",
    ColumnType.VECTOR: "string",
}

_NO_DEFAULT = object()


def _default(spec: TableSpec, column: Column) -> Any:
    """What PostgREST shows as the column's `default` (`_NO_DEFAULT` when it shows none).

    The sandbox's defaults, as the expressions Postgres would report: generated ids and readable ids are function
    calls (text: quoted), timestamps ``now()`` (quoted), numbers a literal; array defaults (``'{}'::text[]``) are no
    JSON, and PostgREST drops them.
    """
    if not column.has_default:
        return _NO_DEFAULT
    if column.name == spec.resource.key and spec.id_prefix:
        return f"id('{spec.id_prefix}'::text)"
    if column.name == "readableId" and spec.readable_prefix:
        return f"next_readable_id('{spec.name}'::text)"
    if column.type is ColumnType.TIMESTAMP:
        return "now()"
    if column.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
        return 0
    return _NO_DEFAULT


def _format(column: Column) -> str:
    if column.type is ColumnType.VECTOR:
        return "public.halfvec"
    if column.type is ColumnType.TEXT and column.max_length is not None:
        return "character varying"
    return column.type.value


def _property(spec: TableSpec, column: Column) -> dict[str, Any]:
    key = spec.resource.key
    prop: dict[str, Any] = {"format": _format(column)}
    default = _default(spec, column)
    if default is not _NO_DEFAULT:
        prop["default"] = default
    if column.type in _JSON_TYPES:
        prop["type"] = _JSON_TYPES[column.type]
    if column.type is ColumnType.TEXT_ARRAY:
        prop["items"] = {"type": "string"}
    notes = []
    if column.name == key:
        notes.append("Note:\nThis is a Primary Key.<pk/>")
    if column.reference is not None:
        ref = column.reference
        notes.append(f"Note:\nThis is a Foreign Key to `{ref.table}.{ref.column}`."
                     f"<fk table='{ref.table}' column='{ref.column}'/>")
    if notes:
        prop["description"] = "\n".join(notes)
    if column.max_length is not None:
        prop["maxLength"] = column.max_length
    return prop


def openapi_document(base_url: str) -> dict[str, Any]:
    """Swagger 2.0: every table under `definitions`, with `required` listing its NOT NULL columns."""
    host = base_url.split("://", 1)[-1]
    definitions = {}
    paths: dict[str, Any] = {"/": {"get": {"summary": "OpenAPI description (this document)", "tags": ["Introspection"],
                                           "produces": ["application/openapi+json", "application/json"],
                                           "responses": {"200": {"description": "OK"}}}}}
    for name, spec in TABLES.items():
        resource = spec.resource
        definitions[name] = {
            "type": "object",
            "required": [c.name for c in resource.columns if not c.nullable],
            "properties": {c.name: _property(spec, c) for c in resource.columns},
        }
        ref = {"$ref": f"#/definitions/{name}"}
        ok = {"description": "OK", "schema": {"type": "array", "items": ref}}
        methods = {"get": {"tags": [name], "summary": resource.description, "responses": {"200": ok,
                                                                                         "206": {"description":
                                                                                                 "Partial Content"}}}}
        if spec.writable:
            methods["post"] = {"tags": [name], "responses": {"201": {"description": "Created"}}}
            methods["patch"] = {"tags": [name], "responses": {"204": {"description": "No Content"}}}
            methods["delete"] = {"tags": [name], "responses": {"204": {"description": "No Content"}}}
        paths[f"/{name}"] = methods
    return {
        "swagger": "2.0",
        "info": {"title": "Carbon API (bulkio sandbox)", "version": "12.2.3",
                 "description": "A PostgREST-dialect stand-in for Carbon, served by bulkio's sandbox."},
        "host": host,
        "basePath": "/",
        "schemes": [base_url.split("://", 1)[0]],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": definitions,
    }

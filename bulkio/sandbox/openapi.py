"""The OpenAPI (Swagger 2.0) document PostgREST serves at `/`, built from the shared resource definitions."""

from __future__ import annotations

from typing import Any

from ..resources import Column, ColumnType
from .schema import TABLES

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


def _property(column: Column, key: str) -> dict[str, Any]:
    prop: dict[str, Any] = {"format": "public.halfvec" if column.type is ColumnType.VECTOR else column.type.value}
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
    """Swagger 2.0: every table under `definitions`, with `required` listing NOT NULL columns without default."""
    host = base_url.split("://", 1)[-1]
    definitions = {}
    paths: dict[str, Any] = {"/": {"get": {"summary": "OpenAPI description (this document)", "tags": ["Introspection"],
                                           "produces": ["application/openapi+json", "application/json"],
                                           "responses": {"200": {"description": "OK"}}}}}
    for name, spec in TABLES.items():
        resource = spec.resource
        definitions[name] = {
            "type": "object",
            "required": [c.name for c in resource.columns if c.required],
            "properties": {c.name: _property(c, resource.key) for c in resource.columns},
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

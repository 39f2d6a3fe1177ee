"""The OpenAPI (Swagger 2.0) document at `/` (reference.md, "OpenAPI")."""

from __future__ import annotations

from typing import Any

import pytest

from .rawhttp import Api


@pytest.fixture
def doc(api: Api) -> dict[str, Any]:
    response = api.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/")
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def customer(doc: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = doc["definitions"]["customer"]
    return definition


def test_root_serves_swagger_2(doc: dict[str, Any]) -> None:
    assert doc["swagger"] == "2.0" and "/customer" in doc["paths"]


def test_every_served_table_is_defined(doc: dict[str, Any]) -> None:
    assert {"customer", "customerType", "customerStatus", "customerContact", "user", "currencyCode",
            "company"} <= set(doc["definitions"])


def test_customer_lists_every_column(customer: dict[str, Any]) -> None:
    assert {"id", "readableId", "name", "customerTypeId", "customerStatusId", "accountManagerId", "assignee", "logo",
            "companyId", "createdAt", "createdBy", "updatedAt", "updatedBy", "customFields", "currencyCode", "phone",
            "fax", "website", "taxPercent", "tags", "defaultCc", "salesContactId", "intercompanyCompanyId",
            "embedding"} <= set(customer["properties"])


@pytest.mark.parametrize(("column", "type_", "format_"), [
    ("name", "string", "text"),
    ("phone", "string", "text"),
    ("taxPercent", "number", "numeric"),
    ("createdAt", "string", "timestamp with time zone"),
    ("tags", "array", "text[]"),
    ("defaultCc", "array", "text[]"),
])
def test_column_types_and_formats(customer: dict[str, Any], column: str, type_: str, format_: str) -> None:
    prop = customer["properties"][column]
    assert (prop["type"], prop["format"]) == (type_, format_)


def test_jsonb_column_format(customer: dict[str, Any]) -> None:
    assert customer["properties"]["customFields"]["format"] == "jsonb"


def test_array_items_are_strings(customer: dict[str, Any]) -> None:
    assert customer["properties"]["tags"]["items"] == {"type": "string"}


def test_required_lists_every_not_null_column_defaults_included(customer: dict[str, Any]) -> None:
    """As PostgREST does (its issue #2559): `required` is NOT NULL, whether or not the server has a default."""
    required = set(customer["required"])
    assert {"name", "companyId", "id", "readableId", "createdAt", "taxPercent"} <= required
    assert not required & {"tags", "phone", "customerTypeId", "updatedAt"}  # nullable


def test_defaults_show_as_postgrest_shows_them(customer: dict[str, Any]) -> None:
    """String-typed defaults quoted (`now()`), numbers as they are, array defaults ('{}'::text[]) left out."""
    props = customer["properties"]
    assert props["createdAt"]["default"] == "now()"
    assert props["taxPercent"]["default"] == 0
    assert isinstance(props["id"]["default"], str)
    assert "default" not in props["tags"] and "default" not in props["name"] and "default" not in props["phone"]


def test_a_primary_key_without_default_is_required(doc: dict[str, Any]) -> None:
    assert "code" in doc["definitions"]["currencyCode"]["required"]
    assert "default" not in doc["definitions"]["currencyCode"]["properties"]["code"]


def test_sized_text_is_character_varying_with_max_length(doc: dict[str, Any]) -> None:
    code = doc["definitions"]["currencyCode"]["properties"]["code"]
    assert (code["format"], code["type"], code["maxLength"]) == ("character varying", "string", 3)


def test_jsonb_has_no_json_type(customer: dict[str, Any]) -> None:
    assert "type" not in customer["properties"]["customFields"]


def test_supplier_is_served_with_an_integer_column(doc: dict[str, Any]) -> None:
    supplier = doc["definitions"]["supplier"]
    assert supplier["properties"]["paymentTermDays"] == {"format": "integer", "type": "integer"}
    assert {"post", "patch", "delete"} <= set(doc["paths"]["/supplier"])


def test_primary_key_is_marked(customer: dict[str, Any]) -> None:
    assert "<pk/>" in customer["properties"]["id"]["description"]
    assert "<pk/>" not in customer["properties"].get("name", {}).get("description", "")


@pytest.mark.parametrize(("column", "table", "target"), [
    ("customerTypeId", "customerType", "id"),
    ("customerStatusId", "customerStatus", "id"),
    ("accountManagerId", "user", "id"),
    ("companyId", "company", "id"),
    ("currencyCode", "currencyCode", "code"),
    ("salesContactId", "customerContact", "id"),
])
def test_foreign_keys_are_marked(customer: dict[str, Any], column: str, table: str, target: str) -> None:
    assert f"<fk table='{table}' column='{target}'/>" in customer["properties"][column]["description"]


def test_no_unique_information(customer: dict[str, Any]) -> None:
    """reference.md: the document has no UNIQUE information (the natural key comes from the resource)."""
    assert "unique" not in str(customer).lower()

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


def test_required_lists_not_null_columns_without_default(customer: dict[str, Any]) -> None:
    required = set(customer["required"])
    assert {"name", "companyId"} <= required
    assert not required & {"id", "readableId", "taxPercent", "createdAt", "tags", "phone", "customerTypeId",
                           "updatedAt"}  # nullable, or filled by a server default


def test_a_primary_key_without_default_is_required(doc: dict[str, Any]) -> None:
    assert "code" in doc["definitions"]["currencyCode"]["required"]


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

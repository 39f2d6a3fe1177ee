"""The OpenAPI (Swagger 2.0) document at `/` (reference.md, "OpenAPI")."""

from __future__ import annotations

from .rawhttp import Api


def test_root_serves_swagger_with_every_table(api: Api) -> None:
    doc = api.get("/").json()
    assert doc["swagger"] == "2.0"
    assert {"customer", "customerType", "customerStatus", "user", "currencyCode", "company"} <= set(doc["definitions"])
    assert "/customer" in doc["paths"]


def test_customer_definition_types_required_and_keys(api: Api) -> None:
    customer = api.get("/").json()["definitions"]["customer"]
    props = customer["properties"]
    assert props["name"]["format"] == "text" and props["name"]["type"] == "string"
    assert props["taxPercent"]["format"] == "numeric" and props["taxPercent"]["type"] == "number"
    assert props["createdAt"]["format"] == "timestamp with time zone"
    assert props["customFields"]["format"] == "jsonb"
    assert props["tags"]["format"] == "text[]" and props["tags"]["type"] == "array"
    assert set(customer["required"]) >= {"name", "companyId"}
    assert "taxPercent" not in customer["required"]  # NOT NULL but with a default
    assert "<pk/>" in props["id"]["description"]
    assert "<fk table='customerType' column='id'/>" in props["customerTypeId"]["description"]

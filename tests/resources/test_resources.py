"""The resource definitions say what `shared/reference.md` says, and every reference points somewhere real."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

import bulkio.resources
from bulkio.resources import CUSTOMER, RESOURCES, ColumnType, get_resource
from bulkio.sandbox import Sandbox


def test_every_reference_points_at_a_known_table_and_column() -> None:
    for resource in RESOURCES.values():
        for name, ref in resource.references.items():
            target = get_resource(ref.table)
            assert ref.column in target, f"{resource.name}.{name} -> {ref.table}.{ref.column}"
            if ref.label is not None:
                assert ref.label in target, f"{resource.name}.{name} label {ref.label}"


def test_customer_facts_from_the_reference() -> None:
    assert CUSTOMER.key == "id"
    assert CUSTOMER.natural_key == ("name",)
    assert ("name", "companyId") in CUSTOMER.unique
    # NOT NULL without a default: the columns a POST must send
    assert [c.name for c in CUSTOMER.columns if c.required] == ["name", "companyId"]
    tax = CUSTOMER.column("taxPercent")
    assert (tax.minimum, tax.maximum, tax.type, tax.has_default) == (0, 1, ColumnType.NUMERIC, True)
    assert CUSTOMER.column("phone").type is ColumnType.TEXT  # phone numbers are never numbers
    assert CUSTOMER.column("tags").is_array and CUSTOMER.column("defaultCc").is_array
    assert CUSTOMER.column("customFields").is_json
    assert "embedding" not in CUSTOMER.exported_columns
    for read_only in ("id", "readableId", "createdAt", "createdBy", "updatedAt", "updatedBy"):
        assert read_only not in CUSTOMER.writable_columns
    labels = {name: (ref.table, ref.label) for name, ref in CUSTOMER.references.items()}
    assert labels["customerTypeId"] == ("customerType", "name")
    assert labels["customerStatusId"] == ("customerStatus", "name")
    assert labels["accountManagerId"] == ("user", "email")
    assert labels["currencyCode"] == ("currencyCode", "code")


def test_unknown_resource_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="customer"):
        get_resource("custmer")


def test_sandbox_openapi_agrees_with_the_definitions(sandbox: Sandbox) -> None:
    doc = httpx.get(sandbox.url + "/", headers={"Authorization": f"Bearer {sandbox.api_key}"}).json()
    for name, resource in RESOURCES.items():
        definition = doc["definitions"][name]
        assert list(definition["properties"]) == resource.column_names
        for column in resource.columns:
            if column.required:
                assert column.name in definition["required"]
            if column.reference is not None:
                ref = column.reference
                assert f"<fk table='{ref.table}' column='{ref.column}'/>" in definition["properties"][column.name][
                    "description"]


def test_the_resources_package_imports_nothing_above_it() -> None:
    """Tables are data: no module of `bulkio.resources` imports the client, the catalog or httpx at run time (the
    client imports them, so such an import would close a cycle)."""
    upward = ("bulkio.api", "httpx", "..api")
    for path in Path(bulkio.resources.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        guarded = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) == "TYPE_CHECKING" for node in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in guarded or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                ["." * node.level + (node.module or "")]
            assert not any(n == u or n.startswith(f"{u}.") for n in names for u in upward), \
                f"{path.name}: {ast.unparse(node)}"

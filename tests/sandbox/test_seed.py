"""Seed data: realistic (the data that breaks naive tools) and deterministic (design.md, "The sandbox")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bulkio.sandbox import Sandbox

from .rawhttp import mine


@pytest.fixture(scope="module")
def rows(sandbox_server: Sandbox) -> Iterator[list[dict[str, Any]]]:
    sandbox_server.reset()
    yield [r for r in sandbox_server.rows("customer") if r["companyId"] == sandbox_server.company_id]


def test_the_same_seed_gives_the_same_data(sandbox: Sandbox) -> None:
    again = Sandbox(rows=120, seed=7)  # not started: the database alone
    for table in ("customer", "customerContact", "customerType", "user", "company", "supplier"):
        assert again.rows(table) == sandbox.rows(table), table
    assert again.keys == sandbox.keys and again.company_id == sandbox.company_id


def test_suppliers_are_seeded_for_both_companies_with_unique_names(sandbox: Sandbox) -> None:
    suppliers = sandbox.rows("supplier")
    mains = [s for s in suppliers if s["companyId"] == sandbox.company_id]
    assert len(mains) == 12 and len(suppliers) == 15  # rows // 10 for the main company, 3 for the other
    assert len({s["name"] for s in mains}) == len(mains)
    assert any(isinstance(s["paymentTermDays"], int) for s in mains) and any(s["tags"] for s in mains)


def test_another_seed_gives_other_data(sandbox: Sandbox) -> None:
    other = Sandbox(rows=120, seed=8)
    assert {r["id"] for r in other.rows()}.isdisjoint({r["id"] for r in sandbox.rows()})


def test_row_count_is_as_asked(sandbox: Sandbox) -> None:
    assert len(mine(sandbox)) == 120
    assert any(r["companyId"] == sandbox.other_company_id for r in sandbox.rows())


def test_unicode_names(rows: list[dict[str, Any]]) -> None:
    assert any(not r["name"].isascii() for r in rows)


def test_names_that_need_postgrest_quoting(rows: list[dict[str, Any]]) -> None:
    names = [r["name"] for r in rows]
    for char in (",", ".", "(", '"', "\\", ":"):
        assert any(char in n for n in names), char


def test_names_that_look_like_formulas(rows: list[dict[str, Any]]) -> None:
    assert any(r["name"][0] in "=+-@" for r in rows)


def test_names_are_unique_per_company(sandbox: Sandbox) -> None:
    for company in (sandbox.company_id, sandbox.other_company_id):
        names = [r["name"] for r in sandbox.rows() if r["companyId"] == company]
        assert len(names) == len(set(names))


def test_phones_keep_plus_and_leading_zeros(rows: list[dict[str, Any]]) -> None:
    phones = [r["phone"] for r in rows if r["phone"]]
    assert all(isinstance(p, str) for p in phones)
    assert any(p.startswith("+") for p in phones) and any(p.startswith("0") for p in phones)


def test_tags_and_custom_fields(rows: list[dict[str, Any]]) -> None:
    assert any(r["tags"] for r in rows) and any(r["tags"] == [] for r in rows)
    assert any(isinstance(r["customFields"], dict) and r["customFields"] for r in rows)
    assert any(r["defaultCc"] for r in rows)


@pytest.mark.parametrize("column", ["customerTypeId", "customerStatusId", "accountManagerId", "assignee",
                                    "currencyCode", "salesContactId", "intercompanyCompanyId", "createdBy"])
def test_every_reference_is_used(rows: list[dict[str, Any]], column: str) -> None:
    assert any(r[column] for r in rows)


@pytest.mark.parametrize("column", ["customerTypeId", "currencyCode", "phone", "updatedAt", "customFields"])
def test_some_values_are_null(rows: list[dict[str, Any]], column: str) -> None:
    assert any(r[column] is None for r in rows) and any(r[column] is not None for r in rows)


def test_references_point_at_existing_rows_of_the_same_company(sandbox: Sandbox) -> None:
    types = {t["id"]: t["companyId"] for t in sandbox.rows("customerType")}
    statuses = {t["id"]: t["companyId"] for t in sandbox.rows("customerStatus")}
    contacts = {c["id"]: c["companyId"] for c in sandbox.rows("customerContact")}
    currencies = {c["code"] for c in sandbox.rows("currencyCode")}
    users = {u["id"] for u in sandbox.rows("user")}
    for r in sandbox.rows():
        assert r["customerTypeId"] is None or types[r["customerTypeId"]] == r["companyId"]
        assert r["customerStatusId"] is None or statuses[r["customerStatusId"]] == r["companyId"]
        assert r["salesContactId"] is None or contacts[r["salesContactId"]] == r["companyId"]
        assert r["currencyCode"] is None or r["currencyCode"] in currencies
        assert r["accountManagerId"] is None or r["accountManagerId"] in users


def test_values_respect_the_schema(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        assert 0 <= r["taxPercent"] <= 1
        assert r["id"].startswith("cust_") and r["readableId"].startswith("CUS")
        assert r["createdAt"] and r["embedding"] is None


def test_readable_ids_are_the_sequence(rows: list[dict[str, Any]]) -> None:
    assert sorted(r["readableId"] for r in rows) == [f"CUS{n:06d}" for n in range(1, len(rows) + 1)]

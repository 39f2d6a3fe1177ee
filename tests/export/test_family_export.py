"""A table and its children in one export (issue 19): the parent as `export_table` reads it, the children in pages
(never a request per parent), their link column labelled from the parent rows in hand."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bulkio.api.catalog import link_for, related_tables
from bulkio.api.client import Client
from bulkio.api.query import as_params
from bulkio.config import Settings
from bulkio.errors import ConfigError
from bulkio.export.family import FamilyExport, export_family
from bulkio.export.table import export_table
from bulkio.resources import CUSTOMER, CUSTOMER_CONTACT, Link
from bulkio.sandbox import Sandbox

LOOKUP_TABLES = 4  # customerType, customerStatus, user (four columns, one read), currencyCode


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def _client(sandbox: Sandbox, **settings: Any) -> Client:
    return Client(settings=Settings.load(base_url=sandbox.url, api_key=sandbox.api_key).with_(**settings))


def _contacts(sandbox: Sandbox, customers: set[str] | None = None) -> list[dict[str, Any]]:
    """The main company's contacts straight from the database, of `customers` only when given."""
    rows = [r for r in sandbox.rows("customerContact") if r["companyId"] == sandbox.company_id]
    return [r for r in rows if customers is None or r["customerId"] in customers]


def _paths(sandbox: Sandbox, table: str) -> list[str]:
    return [path for method, path in sandbox.requests if method == "GET" and path.startswith(f"/{table}?")]


# ------------------------------------------------------------------------------------------------ catalog
def test_related_tables_come_from_references_with_one_openapi_read_at_most(client: Client,
                                                                        sandbox: Sandbox) -> None:
    assert related_tables(client, "customer") == [Link(CUSTOMER, CUSTOMER_CONTACT, "customerId")]
    assert related_tables(client, "customerContact") == []  # customer.salesContactId is nullable: no child
    company_children = {link.child.name for link in related_tables(client, "company")}
    assert "supplier" in company_children  # a table only the server's OpenAPI document describes
    assert [path for _, path in sandbox.requests if path == "/"] == ["/"]


def test_link_for_names_the_tables_that_can_go_with_the_parent(client: Client) -> None:
    assert link_for(client, "customer", "customerContact").on_delete == "cascade"
    with pytest.raises(ConfigError, match=r"currencyCode cannot be exported with customer.*customerContact"):
        link_for(client, "customer", "currencyCode")


# ------------------------------------------------------------------------------------------------ rows
def test_unfiltered_parent_reads_the_child_table_whole_ordered_by_parent_then_key(client: Client,
                                                                               sandbox: Sandbox) -> None:
    family = export_family(client, "customer", ["customerContact"], raw_ids=True)
    assert isinstance(family, FamilyExport) and family.links == (link_for(client, "customer", "customerContact"),)
    child = family.children[0]
    expected = sorted((r["customerId"], r["id"]) for r in _contacts(sandbox))
    assert list(zip(child.frame["customerId"], child.frame["id"], strict=True)) == expected
    assert family.rows == {"customer": len(family.parent.frame), "customerContact": len(expected)}
    assert child.lookups == {} and child.info.raw_ids
    assert not [p for p in _paths(sandbox, "customerContact") if "customerId=" in p]  # no filter by parent


def test_the_parent_is_exported_as_export_table_exports_it(client: Client) -> None:
    family = export_family(client, "customer", ["customerContact"], filters=["taxPercent=gt.0.1"],
                           order="name.asc")
    alone = export_table(client, "customer", where=["taxPercent=gt.0.1"], order="name.asc")
    assert family.parent.frame.equals(alone.frame)
    assert family.parent.info.filters == alone.info.filters == ("taxPercent=gt.0.1",)
    assert set(family.parent.lookups) == set(alone.lookups)


def test_filtered_parent_reads_children_by_in_lists_under_the_url_budget(sandbox: Sandbox) -> None:
    with _client(sandbox, url_budget=700) as client:  # a small budget: many lists, as long ids would make
        family = export_family(client, "customer", ["customerContact"], filters=["name=ilike.*a*"])
        ids = set(family.parent.frame["id"])
        chunks = client.in_chunks(CUSTOMER_CONTACT, "customerId", ids, CUSTOMER_CONTACT.exported_columns)
        budget = client.settings.url_budget
        base = len(client.base_url)
    child_paths = _paths(sandbox, "customerContact")
    assert len(chunks) > 5
    assert len(child_paths) == len(chunks) < len(ids) / 10  # a request per list, never one per parent
    assert all(base + len(path) <= budget for path in child_paths)
    wanted = {r["id"] for r in _contacts(sandbox, ids)}
    assert set(family.children[0].frame["id"]) == wanted and wanted
    assert len(_contacts(sandbox)) > len(wanted)  # contacts of customers not exported are left out


def test_limit_reads_only_the_children_of_the_rows_exported(client: Client, sandbox: Sandbox) -> None:
    family = export_family(client, "customer", ["customerContact"], limit=30, raw_ids=True)
    ids = set(family.parent.frame["id"])
    assert len(ids) == 30
    assert set(family.children[0].frame["customerId"]) <= ids
    assert len(family.children[0].frame) == len(_contacts(sandbox, ids))
    assert family.children[0].info.filters == ("customerId in the exported customer rows",)
    with pytest.raises(ValueError, match="should look like"):  # words, never mistaken for a PostgREST filter
        as_params(family.children[0].info.filters)


def test_a_filter_matching_no_parent_sends_no_child_request(client: Client, sandbox: Sandbox) -> None:
    family = export_family(client, "customer", ["customerContact"], filters=["name=eq.nobody at all"])
    assert family.rows == {"customer": 0, "customerContact": 0}
    assert _paths(sandbox, "customerContact") == []


def test_link_column_shows_parent_names_built_from_the_parent_rows(client: Client, sandbox: Sandbox) -> None:
    family = export_family(client, "customer", ["customerContact"])
    child = family.children[0]
    names = dict(zip(family.parent.frame["id"], family.parent.frame["name"], strict=True))
    shown = child.display()
    assert list(shown["customerId"]) == [names[i] for i in child.frame["customerId"]]
    assert child.lookups["customerId"].table == "customer" and child.lookups["customerId"].label == "name"
    assert not [p for p in _paths(sandbox, "customer") if "select=id%2Cname&" in p]  # no lookup read of customers
    server = {r["id"]: r for r in _contacts(sandbox)}
    accented = [r for r in shown.to_dict("records") if any(ch in r["firstName"] for ch in "øëéíñö")]
    assert accented and all(r["firstName"] == server[r["id"]]["firstName"] for r in accented)
    assert all(r["lastName"] == server[r["id"]]["lastName"] for r in shown.to_dict("records"))


def test_child_info_shares_the_stamp_taken_before_the_first_read(client: Client) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    family = export_family(client, "customer", ["customerContact"])
    after = datetime.now(UTC)
    child, parent = family.children[0].info, family.parent.info
    assert child.exported_at == parent.exported_at
    assert before <= datetime.fromisoformat(child.exported_at) <= after
    assert (child.resource, child.order, child.filters) == ("customerContact", "customerId.asc,id.asc", ())
    assert child.rows == len(family.children[0].frame)


def test_a_select_without_key_or_label_gets_both(client: Client) -> None:
    family = export_family(client, "customer", ["customerContact"], select=["phone"], limit=5)
    assert list(family.parent.frame.columns) == ["id", "name", "phone"]
    assert family.children[0].display()["customerId"].isin(set(family.parent.frame["name"])).all()


def test_filters_given_twice_and_a_table_that_is_not_a_child_are_refused(client: Client) -> None:
    with pytest.raises(ConfigError, match="once"):
        export_family(client, "customer", ["customerContact"], filters=["a=eq.1"], where=["a=eq.1"])
    with pytest.raises(ConfigError, match="customerContact"):
        export_family(client, "customer", ["currencyCode"])


# ------------------------------------------------------------------------------------------------ requests
def _family_requests(rows: int, page_size: int) -> tuple[int, int, int]:
    """(requests, parents, contacts) of an unfiltered family export from a sandbox seeded with `rows` customers."""
    with Sandbox(rows=rows, seed=7) as sandbox, _client(sandbox, page_size=page_size) as client:
        client.openapi()  # the catalog's one GET /, cached on the client: counted apart
        sandbox.reset()
        family = export_family(client, "customer", ["customerContact"])
        return len(sandbox.requests), family.rows["customer"], family.rows["customerContact"]


def test_requests_are_parent_pages_lookups_and_child_pages_never_one_per_parent() -> None:
    requests, parents, contacts = _family_requests(1000, 200)
    assert parents == 1000 and contacts > 300
    pages = math.ceil(parents / 200) + math.ceil(contacts / 200)
    assert pages + LOOKUP_TABLES <= requests <= pages + LOOKUP_TABLES + 2  # concurrent paging may ask once more
    few, _, _ = _family_requests(200, 1000)
    many, _, _ = _family_requests(1000, 1000)
    assert few == many == 1 + 1 + LOOKUP_TABLES  # a page of parents, a page of children: 5x the parents, same cost

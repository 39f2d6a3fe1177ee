"""Reading: select, embedding, order, paging, counts and the silent max-rows cap (reference.md, "Reading")."""

from __future__ import annotations

from typing import Any

from bulkio.sandbox import Sandbox

from .rawhttp import Api, error_code, mine


def _pg_sorted(rows: list[dict[str, Any]], *terms: tuple[str, bool, bool]) -> list[dict[str, Any]]:
    """Sort as Postgres does: each term is (column, descending, nulls_first)."""
    out = list(rows)
    for column, descending, nulls_first in reversed(terms):
        present = sorted((r for r in out if r[column] is not None), key=lambda r: r[column], reverse=descending)
        absent = [r for r in out if r[column] is None]
        out = absent + present if nulls_first else present + absent
    return out


# ------------------------------------------------------------------------------------------------ select
def test_select_returns_only_the_named_columns(api: Api) -> None:
    response = api.get("/customer", {"select": "id,name", "limit": "5"})
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 5 and all(set(r) == {"id", "name"} for r in rows)


def test_select_star_returns_every_column(api: Api) -> None:
    row = api.get("/customer", {"select": "*", "limit": "1"}).json()[0]
    assert {"id", "readableId", "name", "customerTypeId", "companyId", "createdAt", "taxPercent", "tags",
            "defaultCc", "customFields", "salesContactId", "intercompanyCompanyId"} <= set(row)


def test_no_select_means_star(api: Api) -> None:
    plain = api.get("/customer", {"limit": "1", "order": "id"}).json()
    star = api.get("/customer", {"select": "*", "limit": "1", "order": "id"}).json()
    assert plain == star


def test_select_alias_renames_the_key(api: Api) -> None:
    row = api.get("/customer", {"select": "customer:name", "limit": "1"}).json()[0]
    assert set(row) == {"customer"}


def test_embedding_gives_a_nested_object_or_null(api: Api, sandbox: Sandbox) -> None:
    response = api.get("/customer", {"select": "*,customerType(name)", "order": "id"})
    assert response.status_code == 200
    rows = response.json()
    types = {r["id"]: r["name"] for r in sandbox.rows("customerType")}
    assert any(r["customerType"] is None for r in rows) and any(r["customerType"] for r in rows)
    for row in rows:
        assert "customerTypeId" in row  # `*` keeps the plain columns
        expected = None if row["customerTypeId"] is None else {"name": types[row["customerTypeId"]]}
        assert row["customerType"] == expected


def test_ambiguous_embedding_asks_for_a_hint(api: Api) -> None:
    response = api.get("/customer", {"select": "id,user(email)"})  # accountManagerId, assignee, createdBy, ...
    assert error_code(response, 300) == "PGRST201"


def test_embedding_with_a_hint_and_alias(api: Api) -> None:
    response = api.get("/customer", {"select": "id,manager:user!accountManagerId(email)", "limit": "3"})
    assert response.status_code == 200 and all(set(r) == {"id", "manager"} for r in response.json())


def test_embedding_one_to_many_gives_a_list(api: Api, sandbox: Sandbox) -> None:
    rows = api.get("/customer", {"select": "id,contacts:customerContact!customerId(id)"}).json()
    contacts = sandbox.rows("customerContact")
    for r in rows:
        assert sorted(c["id"] for c in r["contacts"]) == sorted(c["id"] for c in contacts if c["customerId"] == r["id"])
    assert any(r["contacts"] for r in rows) and any(r["contacts"] == [] for r in rows)


def test_embedding_a_table_related_both_ways_is_ambiguous(api: Api) -> None:
    """customer -> customerContact (salesContactId) and customerContact -> customer (customerId): 300 PGRST201."""
    assert error_code(api.get("/customer", {"select": "id,customerContact(id)"}), 300) == "PGRST201"


def test_unknown_column_in_select_is_400_42703(api: Api) -> None:
    assert error_code(api.get("/customer", {"select": "id,nope"}), 400) == "42703"


def test_unknown_column_in_an_embedding_is_400_42703(api: Api) -> None:
    assert error_code(api.get("/customer", {"select": "id,customerType(nope)"}), 400) == "42703"


def test_unknown_relationship_is_400_pgrst200(api: Api) -> None:
    assert error_code(api.get("/customer", {"select": "id,nosuchtable(name)"}), 400) == "PGRST200"


# ------------------------------------------------------------------------------------------------ order
def test_order_asc_puts_nulls_last_by_default(api: Api, sandbox: Sandbox) -> None:
    got = api.get("/customer", {"select": "readableId,currencyCode", "order": "currencyCode.asc,readableId"}).json()
    want = _pg_sorted(mine(sandbox), ("currencyCode", False, False), ("readableId", False, False))
    assert [r["readableId"] for r in got] == [r["readableId"] for r in want]
    assert got[0]["currencyCode"] is not None and got[-1]["currencyCode"] is None


def test_order_without_direction_is_asc(api: Api) -> None:
    plain = api.get("/customer", {"select": "id", "order": "currencyCode,readableId"}).json()
    asc = api.get("/customer", {"select": "id", "order": "currencyCode.asc,readableId.asc"}).json()
    assert plain == asc


def test_order_desc_puts_nulls_first_by_default(api: Api, sandbox: Sandbox) -> None:
    got = api.get("/customer", {"select": "readableId,currencyCode", "order": "currencyCode.desc,readableId"}).json()
    want = _pg_sorted(mine(sandbox), ("currencyCode", True, True), ("readableId", False, False))
    assert [r["readableId"] for r in got] == [r["readableId"] for r in want]
    assert got[0]["currencyCode"] is None and got[-1]["currencyCode"] is not None


def test_order_nullsfirst_and_nullslast_override_the_default(api: Api, sandbox: Sandbox) -> None:
    first = api.get("/customer", {"select": "readableId", "order": "currencyCode.asc.nullsfirst,readableId"}).json()
    want = _pg_sorted(mine(sandbox), ("currencyCode", False, True), ("readableId", False, False))
    assert [r["readableId"] for r in first] == [r["readableId"] for r in want]
    last = api.get("/customer", {"select": "readableId", "order": "currencyCode.desc.nullslast,readableId"}).json()
    want = _pg_sorted(mine(sandbox), ("currencyCode", True, False), ("readableId", False, False))
    assert [r["readableId"] for r in last] == [r["readableId"] for r in want]


def test_order_multi_column(api: Api, sandbox: Sandbox) -> None:
    got = api.get("/customer", {"select": "readableId",
                                "order": "currencyCode.asc,taxPercent.desc,readableId.desc"}).json()
    want = _pg_sorted(mine(sandbox), ("currencyCode", False, False), ("taxPercent", True, True),
                      ("readableId", True, True))
    assert [r["readableId"] for r in got] == [r["readableId"] for r in want]


def test_unknown_order_modifier_is_400_pgrst100(api: Api) -> None:
    assert error_code(api.get("/customer", {"order": "name.sideways"}), 400) == "PGRST100"


def test_unknown_order_column_is_400_42703(api: Api) -> None:
    assert error_code(api.get("/customer", {"order": "nope.asc"}), 400) == "42703"


def test_unordered_reads_follow_physical_order_and_updates_move_rows(api: Api) -> None:
    """No order -> no promise: an updated row moves to the end, as in a Postgres heap (so clients must order)."""
    before = [r["id"] for r in api.get("/customer", {"select": "id"}).json()]
    api.patch("/customer", {"phone": "+1 555 0100"}, {"id": f"eq.{before[0]}"})
    after = [r["id"] for r in api.get("/customer", {"select": "id"}).json()]
    assert after[-1] == before[0] and sorted(after) == sorted(before)


# ------------------------------------------------------------------------------------------------ paging, counts
def _ids(api: Api, **params: str) -> list[str]:
    return [r["id"] for r in api.get("/customer", {"select": "id", "order": "id", **params}).json()]


def test_limit_and_offset(api: Api) -> None:
    everything = _ids(api)
    assert _ids(api, limit="10", offset="20") == everything[20:30]
    assert _ids(api, limit="10") == everything[:10]
    assert _ids(api, offset=str(len(everything) - 3)) == everything[-3:]


def test_range_header_pages_like_limit_offset(api: Api) -> None:
    everything = _ids(api)
    response = api.get("/customer", {"select": "id", "order": "id"}, Range="20-29")
    assert response.status_code == 200 and [r["id"] for r in response.json()] == everything[20:30]
    assert response.headers["content-range"] == "20-29/*"


def test_range_header_with_count_is_206(api: Api, sandbox: Sandbox) -> None:
    response = api.get("/customer", {"select": "id", "order": "id"}, Range="0-24", Prefer="count=exact")
    assert response.status_code == 206 and len(response.json()) == 25
    assert response.headers["content-range"] == f"0-24/{len(mine(sandbox))}"


def test_count_exact_on_a_partial_page_is_206_with_the_total(api: Api, sandbox: Sandbox) -> None:
    response = api.get("/customer", {"select": "id", "limit": "25"}, Prefer="count=exact")
    assert response.status_code == 206 and len(response.json()) == 25
    assert response.headers["content-range"] == f"0-24/{len(mine(sandbox))}"


def test_count_exact_on_a_later_page(api: Api, sandbox: Sandbox) -> None:
    response = api.get("/customer", {"select": "id", "limit": "25", "offset": "50"}, Prefer="count=exact")
    assert response.status_code == 206 and response.headers["content-range"] == f"50-74/{len(mine(sandbox))}"


def test_count_exact_when_everything_fits_is_200(api: Api, sandbox: Sandbox) -> None:
    total = len(mine(sandbox))
    response = api.get("/customer", {"select": "id"}, Prefer="count=exact")
    assert response.status_code == 200 and len(response.json()) == total
    assert response.headers["content-range"] == f"0-{total - 1}/{total}"


def test_count_exact_respects_filters(api: Api, sandbox: Sandbox) -> None:
    euros = sum(r["currencyCode"] == "EUR" for r in mine(sandbox))
    response = api.get("/customer", {"select": "id", "currencyCode": "eq.EUR"}, Prefer="count=exact")
    assert response.status_code == 200 and response.headers["content-range"] == f"0-{euros - 1}/{euros}"


def test_without_count_the_total_is_a_star(api: Api) -> None:
    response = api.get("/customer", {"select": "id", "limit": "25"})
    assert response.status_code == 200 and response.headers["content-range"] == "0-24/*"


def test_offset_past_the_end_with_count_is_416_pgrst103(api: Api, sandbox: Sandbox) -> None:
    total = len(mine(sandbox))
    response = api.get("/customer", {"select": "id", "offset": str(total + 5)}, Prefer="count=exact")
    assert error_code(response, 416) == "PGRST103"
    assert response.headers["content-range"] == f"*/{total}"


def test_offset_past_the_end_without_count_is_an_empty_200(api: Api, sandbox: Sandbox) -> None:
    response = api.get("/customer", {"select": "id", "offset": str(len(mine(sandbox)) + 5)})
    assert response.status_code == 200 and response.json() == []


def test_an_empty_result_with_count_is_200_star_over_zero(api: Api) -> None:
    response = api.get("/customer", {"select": "id", "id": "eq.cust_none"}, Prefer="count=exact")
    assert response.status_code == 200 and response.json() == []
    assert response.headers["content-range"] == "*/0"


def test_an_empty_result_without_count_is_star_over_star(api: Api) -> None:
    response = api.get("/customer", {"select": "id", "id": "eq.cust_none"})
    assert response.status_code == 200 and response.headers["content-range"] == "*/*"


def test_offset_exactly_at_the_end_with_count_is_an_empty_206(api: Api, sandbox: Sandbox) -> None:
    total = len(mine(sandbox))
    response = api.get("/customer", {"select": "id", "offset": str(total)}, Prefer="count=exact")
    assert response.status_code == 206 and response.json() == []
    assert response.headers["content-range"] == f"*/{total}"


def test_max_rows_caps_a_larger_limit_silently(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 10
    response = api.get("/customer", {"select": "id", "limit": "50"})
    assert response.status_code == 200 and len(response.json()) == 10
    assert response.headers["content-range"] == "0-9/*"


def test_max_rows_caps_an_unlimited_read_and_the_count_tells(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 10
    response = api.get("/customer", {"select": "id"}, Prefer="count=exact")
    assert response.status_code == 206 and len(response.json()) == 10
    assert response.headers["content-range"] == f"0-9/{len(mine(sandbox))}"


def test_max_rows_pages_with_offset(api: Api, sandbox: Sandbox) -> None:
    everything = _ids(api)
    sandbox.switches.max_rows = 10
    assert _ids(api, limit="50", offset="10") == everything[10:20]


def test_bad_limit_is_400_pgrst100(api: Api) -> None:
    assert error_code(api.get("/customer", {"limit": "ten"}), 400) == "PGRST100"


# ------------------------------------------------------------------------------------------------ misc
def test_single_object_accept_header_gives_one_object(api: Api) -> None:
    one = api.get("/customer", {"select": "id", "limit": "1"}, Accept="application/vnd.pgrst.object+json")
    assert one.status_code == 200 and isinstance(one.json(), dict) and set(one.json()) == {"id"}


def test_single_object_accept_header_with_many_rows_is_406_pgrst116(api: Api) -> None:
    many = api.get("/customer", {"select": "id", "limit": "2"}, Accept="application/vnd.pgrst.object+json")
    assert error_code(many, 406) == "PGRST116"


def test_unknown_table_is_404(api: Api) -> None:
    assert error_code(api.get("/nosuchtable"), 404) in ("PGRST205", "42P01")


def test_responses_are_json_with_utf8(api: Api) -> None:
    response = api.get("/customer", {"select": "name", "limit": "1"})
    assert response.headers["content-type"].startswith("application/json")

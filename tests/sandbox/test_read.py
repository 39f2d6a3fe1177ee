"""Reading: select, embedding, order, paging, counts and the silent max-rows cap (reference.md, "Reading")."""

from __future__ import annotations

from bulkio.sandbox import Sandbox

from .rawhttp import Api, mine


def test_select_returns_only_the_named_columns(api: Api) -> None:
    rows = api.get("/customer", {"select": "id,name", "limit": "5"}).json()
    assert len(rows) == 5 and all(set(r) == {"id", "name"} for r in rows)


def test_select_alias_and_star(api: Api) -> None:
    row = api.get("/customer", {"select": "customer:name", "limit": "1"}).json()[0]
    assert set(row) == {"customer"}
    star = api.get("/customer", {"select": "*", "limit": "1"}).json()[0]
    assert {"id", "readableId", "name", "taxPercent", "tags", "customFields", "embedding"} <= set(star)


def test_embedding_many_to_one_gives_an_object_or_null(api: Api, sandbox: Sandbox) -> None:
    rows = api.get("/customer", {"select": "id,customerTypeId,customerType(name)", "order": "id"}).json()
    types = {r["id"]: r["name"] for r in sandbox.rows("customerType")}
    assert any(r["customerType"] is None for r in rows) and any(r["customerType"] for r in rows)
    for row in rows:
        if row["customerTypeId"] is None:
            assert row["customerType"] is None
        else:
            assert row["customerType"] == {"name": types[row["customerTypeId"]]}


def test_ambiguous_embedding_asks_for_a_hint(api: Api) -> None:
    response = api.get("/customer", {"select": "id,user(email)"})
    assert response.status_code == 300 and response.json()["code"] == "PGRST201"
    ok = api.get("/customer", {"select": "id,manager:user!accountManagerId(email)", "limit": "3"})
    assert ok.status_code == 200 and all("manager" in r for r in ok.json())


def test_order_multi_column_with_postgres_null_placement(api: Api) -> None:
    asc = api.get("/customer", {"select": "id,phone", "order": "phone.asc,id.asc"}).json()
    phones = [r["phone"] for r in asc]
    assert phones[-1] is None and phones[0] is not None  # asc: nulls last by default
    non_null = [p for p in phones if p is not None]
    assert non_null == sorted(non_null)
    desc = [r["phone"] for r in api.get("/customer", {"select": "phone", "order": "phone.desc"}).json()]
    assert desc[0] is None  # desc: nulls first by default
    first = [r["phone"] for r in api.get("/customer", {"select": "phone", "order": "phone.asc.nullsfirst"}).json()]
    assert first[0] is None and first[-1] is not None


def test_limit_offset_and_range_header_agree(api: Api) -> None:
    all_ids = [r["id"] for r in api.get("/customer", {"select": "id", "order": "id"}).json()]
    page = api.get("/customer", {"select": "id", "order": "id", "limit": "10", "offset": "20"}).json()
    assert [r["id"] for r in page] == all_ids[20:30]
    ranged = api.get("/customer", {"select": "id", "order": "id"}, Range="20-29").json()
    assert [r["id"] for r in ranged] == all_ids[20:30]


def test_count_exact_gives_content_range_and_206_when_partial(api: Api, sandbox: Sandbox) -> None:
    total = len(mine(sandbox))
    partial = api.get("/customer", {"select": "id", "limit": "25"}, Prefer="count=exact")
    assert partial.status_code == 206
    assert partial.headers["content-range"] == f"0-24/{total}"
    whole = api.get("/customer", {"select": "id"}, Prefer="count=exact")
    assert whole.status_code == 200 and whole.headers["content-range"] == f"0-{total - 1}/{total}"
    uncounted = api.get("/customer", {"select": "id", "limit": "25"})
    assert uncounted.status_code == 200 and uncounted.headers["content-range"] == "0-24/*"


def test_offset_past_the_end_with_count_is_416(api: Api, sandbox: Sandbox) -> None:
    total = len(mine(sandbox))
    response = api.get("/customer", {"select": "id", "offset": str(total + 5)}, Prefer="count=exact")
    assert response.status_code == 416 and response.json()["code"] == "PGRST103"
    assert response.headers["content-range"] == f"*/{total}"
    empty = api.get("/customer", {"select": "id", "offset": str(total + 5)})
    assert empty.status_code == 200 and empty.json() == []


def test_max_rows_caps_every_response_silently(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 10
    response = api.get("/customer", {"select": "id", "limit": "50"})
    assert response.status_code == 200 and len(response.json()) == 10
    counted = api.get("/customer", {"select": "id"}, Prefer="count=exact")
    assert counted.status_code == 206 and counted.headers["content-range"] == f"0-9/{len(mine(sandbox))}"


def test_unordered_reads_follow_physical_order_and_updates_move_rows(api: Api, sandbox: Sandbox) -> None:
    """No order -> no promise: an updated row moves to the end, as in a Postgres heap (so clients must order)."""
    before = [r["id"] for r in api.get("/customer", {"select": "id"}).json()]
    api.patch("/customer", {"phone": "+1 555 0100"}, {"id": f"eq.{before[0]}"})
    after = [r["id"] for r in api.get("/customer", {"select": "id"}).json()]
    assert after[-1] == before[0] and sorted(after) == sorted(before)


def test_unknown_column_and_bad_order_are_400(api: Api) -> None:
    unknown = api.get("/customer", {"select": "id,nope"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "42703"
    bad = api.get("/customer", {"order": "name.sideways"})
    assert bad.status_code == 400 and bad.json()["code"] == "PGRST100"


def test_single_object_accept_header(api: Api) -> None:
    one = api.get("/customer", {"select": "id", "limit": "1"}, Accept="application/vnd.pgrst.object+json")
    assert one.status_code == 200 and isinstance(one.json(), dict)
    many = api.get("/customer", {"select": "id", "limit": "2"}, Accept="application/vnd.pgrst.object+json")
    assert many.status_code == 406 and many.json()["code"] == "PGRST116"


def test_unknown_table_is_404(api: Api) -> None:
    response = api.get("/nosuchtable")
    assert response.status_code == 404 and response.json()["code"] == "PGRST205"


def test_seed_is_deterministic_and_realistic(sandbox: Sandbox) -> None:
    other = Sandbox(rows=120, seed=7)
    assert [r["id"] for r in other.rows("customer")] == [r["id"] for r in sandbox.rows("customer")]
    rows = mine(sandbox)
    names = [r["name"] for r in rows]
    assert any(not n.isascii() for n in names) and any("," in n for n in names)
    assert any(n.startswith("=") for n in names)
    phones = [r["phone"] for r in rows if r["phone"]]
    assert any(p.startswith("+") for p in phones) and any(p.startswith("0") for p in phones)
    assert any(r["tags"] for r in rows) and any(r["customFields"] for r in rows)
    assert any(r["customerTypeId"] is None for r in rows)
    for column in ("customerTypeId", "customerStatusId", "accountManagerId", "currencyCode", "salesContactId",
                   "intercompanyCompanyId"):
        assert any(r[column] for r in rows), column
    assert all(0 <= r["taxPercent"] <= 1 for r in rows)

"""Upsert: ``POST`` with ``Prefer: resolution=merge-duplicates`` (or ``ignore-duplicates``) and ``on_conflict``, as
PostgREST sends ``INSERT ... ON CONFLICT (target) DO UPDATE SET <every listed column> = EXCLUDED.<column>``.

What bulkio's bulk updates rely on and must guard against: listed columns are overwritten (NULL where a row lacks
one), a row missing from the table is inserted (a row deleted meanwhile comes back), NOT NULL and the INSERT
policy's row-level security apply to every proposed row, and a key without the INSERT privilege is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bulkio.sandbox import Sandbox

from .rawhttp import Api, error_code, mine, row

_MERGE = "resolution=merge-duplicates, return=representation"


def _two(sandbox: Sandbox) -> list[dict[str, Any]]:
    return mine(sandbox)[:2]


def _body(current: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The key, the NOT NULL columns as they are, and the changes: what bulkio's bulk path sends."""
    return {"id": current["id"], "name": current["name"], "companyId": current["companyId"], **changes}


def test_merge_duplicates_updates_existing_rows_each_with_its_own_value(api: Api, sandbox: Sandbox) -> None:
    a, b = _two(sandbox)
    before = len(mine(sandbox))
    response = api.post("/customer", [_body(a, phone="+1 1"), _body(b, phone="+1 2")],
                        {"on_conflict": "id", "columns": "id,name,companyId,phone"}, Prefer=_MERGE)
    assert response.status_code == 200  # nothing inserted: 200, as PostgREST 12
    assert "resolution=merge-duplicates" in response.headers["preference-applied"]
    assert {r["id"]: r["phone"] for r in response.json()} == {a["id"]: "+1 1", b["id"]: "+1 2"}
    after_a = row(sandbox, a["id"])
    assert after_a is not None and after_a["phone"] == "+1 1"
    assert after_a["createdAt"] == a["createdAt"] and after_a["readableId"] == a["readableId"]  # not listed: kept
    assert len(mine(sandbox)) == before


def test_columns_limits_what_is_written_and_a_listed_column_a_row_lacks_becomes_null(api: Api,
                                                                                     sandbox: Sandbox) -> None:
    a, b = _two(sandbox)
    sandbox.concurrent_edit("customer", b["id"], {"fax": "+1 fax"})
    response = api.post("/customer", [_body(a, phone="+1 9", website="ignored.example"), _body(b)],
                        {"columns": "id,name,companyId,phone,fax"}, Prefer=_MERGE)
    assert response.status_code == 200
    after_a, after_b = row(sandbox, a["id"]), row(sandbox, b["id"])
    assert after_a is not None and after_b is not None
    assert after_a["phone"] == "+1 9" and after_a["website"] == a["website"]  # not in columns=: not written
    assert after_b["fax"] is None and after_b["phone"] is None  # listed, absent from the row: NULL (reference.md)


def test_a_missing_row_is_inserted_so_a_row_deleted_meanwhile_comes_back(api: Api, sandbox: Sandbox) -> None:
    victim = next(r for r in mine(sandbox) if r["intercompanyCompanyId"] is None and r["salesContactId"] is None)
    assert api.delete("/customer", {"id": f"eq.{victim['id']}"}).status_code == 204
    response = api.post("/customer", [_body(victim, phone="+1 back")], {"on_conflict": "id"}, Prefer=_MERGE)
    assert response.status_code == 201  # something was inserted
    back = row(sandbox, victim["id"])
    assert back is not None and back["phone"] == "+1 back"
    assert back["createdAt"] != victim["createdAt"]  # a new row: the server's default, how a client can tell
    assert response.json()[0]["createdAt"] == back["createdAt"]


def test_not_null_applies_to_every_proposed_row(api: Api, sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    response = api.post("/customer", [{"id": a["id"], "companyId": a["companyId"], "phone": "+1 5"}],
                        Prefer=_MERGE)
    assert error_code(response, 400) == "23502"  # name is NOT NULL without a default, even though the row exists
    assert "name" in response.json()["message"]
    assert row(sandbox, a["id"]) == a


def test_rls_on_the_insert_path_refuses_another_companys_row(api: Api, sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    response = api.post("/customer", [_body(a, companyId=sandbox.other_company_id, phone="+1 6")], Prefer=_MERGE)
    assert error_code(response, 403) == "42501"
    assert "row-level security" in response.json()["message"]
    assert row(sandbox, a["id"]) == a


def test_a_conflicting_row_of_another_company_is_refused_not_skipped(api_for: Callable[..., Api],
                                                                    sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    other = api_for(sandbox.keys["other"])
    response = other.post("/customer", [_body(a, companyId=sandbox.other_company_id, phone="+1 7")], Prefer=_MERGE)
    assert error_code(response, 403) == "42501"
    assert row(sandbox, a["id"]) == a


def test_a_key_without_insert_rights_is_refused(api_for: Callable[..., Api], sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    nocreate = api_for(sandbox.keys["nocreate"])
    response = nocreate.post("/customer", [_body(a, phone="+1 8")], Prefer=_MERGE)
    assert error_code(response, 403) == "42501"
    assert row(sandbox, a["id"]) == a
    assert nocreate.patch("/customer", {"phone": "+1 8"}, {"id": f"eq.{a['id']}"}).status_code == 204


def test_on_conflict_names_a_unique_constraint(api: Api, sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    body = [{"name": a["name"], "companyId": a["companyId"], "phone": "+1 nat"}]
    response = api.post("/customer", body, {"on_conflict": "name,companyId"}, Prefer=_MERGE)
    assert response.status_code == 200 and response.json()[0]["id"] == a["id"]
    assert error_code(api.post("/customer", body, {"on_conflict": "phone"}, Prefer=_MERGE), 400) == "42P10"


def test_another_unique_constraint_still_raises(api: Api, sandbox: Sandbox) -> None:
    a, b = _two(sandbox)
    response = api.post("/customer", [_body(a, name=b["name"])], {"on_conflict": "id"}, Prefer=_MERGE)
    assert error_code(response, 409) == "23505"
    assert row(sandbox, a["id"]) == a


def test_the_same_row_twice_cannot_be_merged(api: Api, sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    response = api.post("/customer", [_body(a, phone="+1 a"), _body(a, phone="+1 b")], Prefer=_MERGE)
    assert error_code(response, 500) == "21000"
    assert row(sandbox, a["id"]) == a


def test_ignore_duplicates_inserts_new_rows_and_leaves_existing_ones(api: Api, sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    fresh = {"id": "cust_upsertIgnoreNew000000", "name": "Ignore New", "companyId": sandbox.company_id}
    response = api.post("/customer", [_body(a, phone="+1 ignored"), fresh], {"columns": "id,name,companyId,phone"},
                        Prefer="resolution=ignore-duplicates, return=representation")
    assert response.status_code == 201 and [r["id"] for r in response.json()] == [fresh["id"]]
    assert row(sandbox, a["id"]) == a and row(sandbox, fresh["id"]) is not None


def test_on_conflict_without_a_resolution_is_a_plain_insert(api: Api, sandbox: Sandbox) -> None:
    a = _two(sandbox)[0]
    response = api.post("/customer", [_body(a, phone="+1 plain")], {"on_conflict": "id"})
    assert error_code(response, 409) == "23505"
    assert "customer_pkey" in response.json()["message"]  # the primary key's index is checked first, as Postgres

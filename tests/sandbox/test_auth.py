"""Auth and row-level security: one company per key, scopes, both header styles (reference.md, "Auth")."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bulkio.sandbox import Sandbox

from .rawhttp import Api, affected, error_code, mine, new_customer, row


@pytest.mark.parametrize("header", ["bearer", "carbon-key"])
def test_both_key_headers_work(sandbox: Sandbox, api_for: Callable[..., Api], header: str) -> None:
    response = api_for(sandbox.api_key, header=header).get("/customer", {"select": "id"})
    assert response.status_code == 200 and {r["id"] for r in response.json()} == {r["id"] for r in mine(sandbox)}


def test_no_key_is_401(api_for: Callable[..., Api]) -> None:
    assert error_code(api_for(None).get("/customer"), 401) == "42501"


def test_no_key_cannot_write(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    before = len(sandbox.rows())
    assert api_for(None).post("/customer", [new_customer(sandbox, "Anon")]).status_code == 401
    assert len(sandbox.rows()) == before


@pytest.mark.parametrize("header", ["bearer", "carbon-key"])
def test_a_wrong_key_is_401_pgrst301(api_for: Callable[..., Api], header: str) -> None:
    assert error_code(api_for("not-a-key", header=header).get("/customer"), 401) == "PGRST301"


def test_a_key_sees_none_of_another_companys_rows(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    theirs = api_for(sandbox.keys["other"]).get("/customer", {"select": "id,companyId"}).json()
    assert theirs and {r["companyId"] for r in theirs} == {sandbox.other_company_id}
    assert not {r["id"] for r in theirs} & {r["id"] for r in mine(sandbox)}


def test_filtering_on_another_companys_id_finds_nothing(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    target = mine(sandbox)[0]["id"]
    assert api_for(sandbox.keys["other"]).get("/customer", {"id": f"eq.{target}"}).json() == []


def test_counts_see_only_the_keys_company(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    theirs = sum(r["companyId"] == sandbox.other_company_id for r in sandbox.rows())
    response = api_for(sandbox.keys["other"]).get("/customer", {"select": "id", "limit": "1"}, Prefer="count=exact")
    assert response.headers["content-range"] == f"0-0/{theirs}"


def test_lookup_tables_are_scoped_to_the_company(sandbox: Sandbox, api: Api) -> None:
    assert [c["id"] for c in api.get("/company").json()] == [sandbox.company_id]
    types = api.get("/customerType", {"select": "companyId"}).json()
    assert types and {t["companyId"] for t in types} == {sandbox.company_id}


def test_embedding_respects_row_level_security(sandbox: Sandbox, api: Api) -> None:
    """An embedded contact list only holds the key's company's contacts."""
    rows = api.get("/customer", {"select": "id,customerContact!customerId(companyId)"}).json()
    companies = {c["companyId"] for r in rows for c in r["customerContact"]}
    assert companies == {sandbox.company_id}


def test_patching_another_companys_row_affects_nothing(sandbox: Sandbox, api: Api) -> None:
    theirs = next(r for r in sandbox.rows() if r["companyId"] == sandbox.other_company_id)
    response = api.patch("/customer", {"name": "Hijacked"}, {"id": f"eq.{theirs['id']}"}, Prefer="count=exact")
    assert response.status_code == 204 and affected(response) == 0
    assert row(sandbox, theirs["id"]) == theirs


def test_deleting_another_companys_row_affects_nothing(sandbox: Sandbox, api: Api) -> None:
    theirs = next(r for r in sandbox.rows() if r["companyId"] == sandbox.other_company_id
                  and r["intercompanyCompanyId"] is None)
    response = api.delete("/customer", {"id": f"eq.{theirs['id']}"}, Prefer="count=exact")
    assert response.status_code == 204 and affected(response) == 0
    assert row(sandbox, theirs["id"]) == theirs


def test_a_broad_patch_touches_only_the_keys_company(sandbox: Sandbox, api: Api) -> None:
    response = api.patch("/customer", {"logo": "everyone.png"}, {"logo": "is.null"}, Prefer="count=exact")
    touched = {r["companyId"] for r in sandbox.rows() if r["logo"] == "everyone.png"}
    assert touched == {sandbox.company_id} and affected(response) == sum(
        r["logo"] == "everyone.png" for r in sandbox.rows())


def test_inserting_for_another_company_is_403_42501(api: Api, sandbox: Sandbox) -> None:
    before = len(sandbox.rows())
    response = api.post("/customer", [{"name": "Spy", "companyId": sandbox.other_company_id}])
    assert error_code(response, 403) == "42501"
    assert len(sandbox.rows()) == before


def test_moving_a_row_to_another_company_is_403_42501(api: Api, sandbox: Sandbox) -> None:
    target = mine(sandbox)[0]
    response = api.patch("/customer", {"companyId": sandbox.other_company_id}, {"id": f"eq.{target['id']}"})
    assert error_code(response, 403) == "42501"
    assert row(sandbox, target["id"]) == target


def test_a_readonly_key_can_read(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    assert api_for(sandbox.keys["readonly"]).get("/customer", {"limit": "1"}).status_code == 200


def test_a_readonly_key_cannot_post(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    before = len(sandbox.rows())
    response = api_for(sandbox.keys["readonly"]).post("/customer", [new_customer(sandbox, "R")])
    assert error_code(response, 403) == "42501"
    assert len(sandbox.rows()) == before


def test_a_readonly_key_cannot_patch(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    target = mine(sandbox)[0]
    response = api_for(sandbox.keys["readonly"]).patch("/customer", {"logo": "l"}, {"id": f"eq.{target['id']}"})
    assert error_code(response, 403) == "42501"
    assert row(sandbox, target["id"]) == target


def test_a_nodelete_key_can_create_and_update(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    nodelete = api_for(sandbox.keys["nodelete"])
    target = mine(sandbox)[0]["id"]
    assert nodelete.post("/customer", [new_customer(sandbox, "ND")]).status_code == 201
    assert nodelete.patch("/customer", {"logo": "l"}, {"id": f"eq.{target}"}).status_code == 204


def test_a_nodelete_key_cannot_delete(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    target = next(r for r in mine(sandbox) if r["intercompanyCompanyId"] is None)
    response = api_for(sandbox.keys["nodelete"]).delete("/customer", {"id": f"eq.{target['id']}"})
    assert error_code(response, 403) == "42501"
    assert row(sandbox, target["id"]) == target

"""Auth and row-level security: one company per key, scopes, both header styles (reference.md, "Auth")."""

from __future__ import annotations

from collections.abc import Callable

from bulkio.sandbox import Sandbox

from .rawhttp import Api, mine


def test_bearer_and_carbon_key_headers_both_work(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    for header in ("bearer", "carbon-key"):
        response = api_for(sandbox.api_key, header=header).get("/customer", {"select": "id", "limit": "1"})
        assert response.status_code == 200, header


def test_no_key_is_401_and_a_wrong_key_is_401(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    anonymous = api_for(None).get("/customer")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "42501"
    wrong = api_for("not-a-key").get("/customer")
    assert wrong.status_code == 401 and wrong.json()["code"] == "PGRST301"


def test_a_key_sees_only_its_company(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    ours = {r["id"] for r in api_for(sandbox.api_key).get("/customer", {"select": "id"}).json()}
    theirs = {r["id"] for r in api_for(sandbox.keys["other"]).get("/customer", {"select": "id"}).json()}
    assert ours == {r["id"] for r in mine(sandbox)}
    assert theirs and not ours & theirs
    companies = api_for(sandbox.api_key).get("/company").json()
    assert [c["id"] for c in companies] == [sandbox.company_id]


def test_another_companys_rows_cannot_be_changed(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    theirs = next(r for r in sandbox.rows() if r["companyId"] == sandbox.other_company_id)
    api = api_for(sandbox.api_key)
    patched = api.patch("/customer", {"name": "Hijacked"}, {"id": f"eq.{theirs['id']}"}, Prefer="count=exact")
    assert patched.status_code == 204 and patched.headers["content-range"] == "*/0"
    deleted = api.delete("/customer", {"id": f"eq.{theirs['id']}"}, Prefer="count=exact")
    assert deleted.headers["content-range"] == "*/0"
    assert next(r for r in sandbox.rows() if r["id"] == theirs["id"]) == theirs


def test_inserting_for_another_company_is_403_42501(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [{"name": "Spy", "companyId": sandbox.other_company_id}])
    assert response.status_code == 403 and response.json()["code"] == "42501"
    moved = api.patch("/customer", {"companyId": sandbox.other_company_id}, {"id": f"eq.{mine(sandbox)[0]['id']}"})
    assert moved.status_code == 403 and moved.json()["code"] == "42501"


def test_scopes(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    readonly = api_for(sandbox.keys["readonly"])
    assert readonly.get("/customer", {"limit": "1"}).status_code == 200
    refused = readonly.post("/customer", [{"name": "R", "companyId": sandbox.company_id}])
    assert refused.status_code == 403 and refused.json()["code"] == "42501"
    nodelete = api_for(sandbox.keys["nodelete"])
    target = mine(sandbox)[0]["id"]
    assert nodelete.patch("/customer", {"logo": "l"}, {"id": f"eq.{target}"}).status_code == 204
    assert nodelete.delete("/customer", {"id": f"eq.{target}"}).status_code == 403

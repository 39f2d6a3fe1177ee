"""Carbon's customer constraints with Postgres' codes and HTTP statuses (reference.md, the table and error codes)."""

from __future__ import annotations

from collections.abc import Callable

from bulkio.sandbox import Sandbox

from .rawhttp import Api, mine


def test_duplicate_name_in_a_company_is_409_23505(api: Api, sandbox: Sandbox) -> None:
    existing = mine(sandbox)[0]["name"]
    response = api.post("/customer", [{"name": existing, "companyId": sandbox.company_id}])
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "23505" and existing in body["details"]


def test_the_same_name_in_another_company_is_fine(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    ours = {r["name"] for r in mine(sandbox)}
    theirs = next(r["name"] for r in sandbox.rows() if r["companyId"] == sandbox.other_company_id
                  and r["name"] not in ours)
    other = api_for(sandbox.keys["other"])
    assert other.post("/customer", [{"name": "Only Mine", "companyId": sandbox.other_company_id}]).status_code == 201
    mine_api = api_for(sandbox.api_key)
    assert mine_api.post("/customer", [{"name": theirs, "companyId": sandbox.company_id}]).status_code == 201


def test_unknown_reference_is_409_23503(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [{"name": "Ref", "companyId": sandbox.company_id, "customerTypeId": "nope"}])
    assert response.status_code == 409
    assert response.json()["code"] == "23503" and "customerType" in response.json()["details"]


def test_missing_name_is_400_23502(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [{"companyId": sandbox.company_id, "phone": "1"}])
    assert response.status_code == 400 and response.json()["code"] == "23502"
    assert '"name"' in response.json()["message"]


def test_missing_company_is_refused_by_row_level_security_first(api: Api) -> None:
    """companyId has no default; Postgres checks RLS policies before NOT NULL, so a NULL companyId is a 42501."""
    response = api.post("/customer", [{"name": "Homeless"}])
    assert response.status_code == 403 and response.json()["code"] == "42501"


def test_tax_percent_is_a_fraction(api: Api, sandbox: Sandbox) -> None:
    over = api.post("/customer", [{"name": "T", "companyId": sandbox.company_id, "taxPercent": 1.5}])
    assert over.status_code == 400 and over.json()["code"] == "23514"
    text = api.post("/customer", [{"name": "T", "companyId": sandbox.company_id, "taxPercent": "abc"}])
    assert text.status_code == 400 and text.json()["code"] == "22P02"
    ok = api.post("/customer", [{"name": "T", "companyId": sandbox.company_id, "taxPercent": "0.2"}],
                  Prefer="return=representation")
    assert ok.status_code == 201 and ok.json()[0]["taxPercent"] == 0.2


def test_intercompany_customers_cannot_be_deleted(api: Api, sandbox: Sandbox) -> None:
    target = next(r for r in mine(sandbox) if r["intercompanyCompanyId"])
    response = api.delete("/customer", {"id": f"eq.{target['id']}"})
    assert response.status_code == 400 and response.json()["code"] == "P0001"
    assert any(r["id"] == target["id"] for r in sandbox.rows())


def test_a_referenced_contact_cannot_be_deleted(api: Api, sandbox: Sandbox) -> None:
    contact = next(r["salesContactId"] for r in mine(sandbox) if r["salesContactId"])
    response = api.delete("/customerContact", {"id": f"eq.{contact}"})
    assert response.status_code == 409 and response.json()["code"] == "23503"


def test_deleting_a_customer_cascades_to_its_contacts(api: Api, sandbox: Sandbox) -> None:
    contacts = sandbox.rows("customerContact")
    owner = next(r for r in mine(sandbox) if r["intercompanyCompanyId"] is None
                 and any(c["customerId"] == r["id"] for c in contacts))
    assert api.delete("/customer", {"id": f"eq.{owner['id']}"}).status_code == 204
    assert not any(c["customerId"] == owner["id"] for c in sandbox.rows("customerContact"))


def test_readable_ids_are_a_sequence_per_company(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    ours = api_for(sandbox.api_key).post("/customer", [{"name": "Seq A", "companyId": sandbox.company_id}],
                                              Prefer="return=representation").json()[0]
    theirs = api_for(sandbox.keys["other"]).post(
        "/customer", [{"name": "Seq B", "companyId": sandbox.other_company_id}],
        Prefer="return=representation").json()[0]
    assert ours["readableId"] == f"CUS{len(mine(sandbox)):06d}"
    other_count = sum(r["companyId"] == sandbox.other_company_id for r in sandbox.rows())
    assert theirs["readableId"] == f"CUS{other_count:06d}"

"""Carbon's customer constraints with Postgres' codes and HTTP statuses (reference.md, the table and error codes)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bulkio.sandbox import Sandbox

from .rawhttp import Api, error_code, mine, new_customer, row


def test_duplicate_name_in_a_company_is_409_23505(api: Api, sandbox: Sandbox) -> None:
    existing = mine(sandbox)[0]["name"]
    response = api.post("/customer", [new_customer(sandbox, existing)])
    assert error_code(response, 409) == "23505"
    assert existing in response.json()["details"]


def test_renaming_onto_an_existing_name_is_409_23505(api: Api, sandbox: Sandbox) -> None:
    first, second = mine(sandbox)[:2]
    response = api.patch("/customer", {"name": first["name"]}, {"id": f"eq.{second['id']}"})
    assert error_code(response, 409) == "23505"


def test_a_name_used_by_another_company_is_fine(api: Api, sandbox: Sandbox) -> None:
    ours = {r["name"] for r in mine(sandbox)}
    theirs = next(r["name"] for r in sandbox.rows() if r["companyId"] == sandbox.other_company_id
                  and r["name"] not in ours)
    assert api.post("/customer", [new_customer(sandbox, theirs)]).status_code == 201


def test_a_duplicate_readable_id_in_a_company_is_409_23505(api: Api, sandbox: Sandbox) -> None:
    taken = mine(sandbox)[0]["readableId"]
    assert error_code(api.post("/customer", [new_customer(sandbox, "Copycat", readableId=taken)]), 409) == "23505"


def test_a_duplicate_id_is_409_23505(api: Api, sandbox: Sandbox) -> None:
    taken = mine(sandbox)[0]["id"]
    assert error_code(api.post("/customer", [new_customer(sandbox, "Clone", id=taken)]), 409) == "23505"


def test_unknown_customer_type_is_409_23503(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [new_customer(sandbox, "Ref", customerTypeId="ctyp_nope")])
    assert error_code(response, 409) == "23503"
    assert "customerType" in response.json()["details"]


def test_unknown_currency_is_409_23503(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "Ref", currencyCode="XXX")]), 409) == "23503"


def test_unknown_reference_on_patch_is_409_23503(api: Api, sandbox: Sandbox) -> None:
    response = api.patch("/customer", {"accountManagerId": "user_nope"}, {"id": f"eq.{mine(sandbox)[0]['id']}"})
    assert error_code(response, 409) == "23503"


def test_a_known_reference_is_accepted(api: Api, sandbox: Sandbox) -> None:
    kind = next(t["id"] for t in sandbox.rows("customerType") if t["companyId"] == sandbox.company_id)
    response = api.post("/customer", [new_customer(sandbox, "Typed", customerTypeId=kind, currencyCode="EUR")],
                        Prefer="return=representation")
    assert response.status_code == 201 and response.json()[0]["customerTypeId"] == kind


def test_missing_name_is_400_23502(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [{"companyId": sandbox.company_id, "phone": "1"}])
    assert error_code(response, 400) == "23502"
    assert '"name"' in response.json()["message"]


def test_null_name_is_400_23502(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, None)]), 400) == "23502"


def test_patching_a_name_to_null_is_400_23502(api: Api, sandbox: Sandbox) -> None:
    response = api.patch("/customer", {"name": None}, {"id": f"eq.{mine(sandbox)[0]['id']}"})
    assert error_code(response, 400) == "23502"


def test_missing_company_is_refused(api: Api, sandbox: Sandbox) -> None:
    """companyId is NOT NULL without a default, and the RLS insert policy requires the key's company.

    Postgres runs RLS WITH CHECK before NOT NULL (``ExecInsert``: ``ExecWithCheckOptions(WCO_RLS_INSERT_CHECK)``
    ahead of ``ExecConstraints``), so a NULL companyId is refused as 42501 (403 with a key), not 23502.
    """
    before = len(sandbox.rows())
    assert error_code(api.post("/customer", [{"name": "Homeless"}]), 403) == "42501"
    assert len(sandbox.rows()) == before


def test_tax_percent_above_one_is_400_23514(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "T", taxPercent=1.5)]), 400) == "23514"


def test_negative_tax_percent_is_400_23514(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "T", taxPercent=-0.01)]), 400) == "23514"


def test_tax_percent_bounds_are_inclusive(api: Api, sandbox: Sandbox) -> None:
    body = [new_customer(sandbox, "Zero", taxPercent=0), new_customer(sandbox, "One", taxPercent=1)]
    assert api.post("/customer", body).status_code == 201


def test_tax_percent_as_text_is_400_22p02(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "T", taxPercent="abc")]), 400) == "22P02"


def test_tax_percent_as_numeric_text_is_accepted(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [new_customer(sandbox, "T", taxPercent="0.2")], Prefer="return=representation")
    assert response.status_code == 201 and response.json()[0]["taxPercent"] == 0.2


def test_tax_percent_too_large_for_numeric_10_5_is_400_22003(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "T", taxPercent=123456)]), 400) == "22003"


def test_null_tax_percent_is_400_23502(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "T", taxPercent=None)]), 400) == "23502"


def test_tags_that_are_not_an_array_are_400_22p02(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "T", tags={"a": 1})]), 400) == "22P02"


def test_an_intercompany_customer_cannot_be_deleted(api: Api, sandbox: Sandbox) -> None:
    target = next(r for r in mine(sandbox) if r["intercompanyCompanyId"])
    response = api.delete("/customer", {"id": f"eq.{target['id']}"})
    assert error_code(response, 400) == "P0001"
    assert row(sandbox, target["id"]) == target


def test_a_contact_referenced_as_sales_contact_cannot_be_deleted(api: Api, sandbox: Sandbox) -> None:
    contact = next(r["salesContactId"] for r in mine(sandbox) if r["salesContactId"])
    response = api.delete("/customerContact", {"id": f"eq.{contact}"})
    assert error_code(response, 409) == "23503"
    assert row(sandbox, contact, "customerContact") is not None


def test_deleting_a_customer_cascades_to_its_contacts(api: Api, sandbox: Sandbox) -> None:
    contacts = sandbox.rows("customerContact")
    owner = next(r for r in mine(sandbox) if r["intercompanyCompanyId"] is None
                 and any(c["customerId"] == r["id"] for c in contacts))
    assert api.delete("/customer", {"id": f"eq.{owner['id']}"}).status_code == 204
    assert not any(c["customerId"] == owner["id"] for c in sandbox.rows("customerContact"))


def test_readable_ids_are_a_sequence_per_company(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    ours_before = len(mine(sandbox))
    theirs_before = sum(r["companyId"] == sandbox.other_company_id for r in sandbox.rows())
    ours = api_for(sandbox.api_key).post("/customer", [new_customer(sandbox, "Seq A")],
                                         Prefer="return=representation").json()[0]
    theirs = api_for(sandbox.keys["other"]).post(
        "/customer", [{"name": "Seq B", "companyId": sandbox.other_company_id}],
        Prefer="return=representation").json()[0]
    assert ours["readableId"] == f"CUS{ours_before + 1:06d}"
    assert theirs["readableId"] == f"CUS{theirs_before + 1:06d}"


def test_readable_ids_are_not_reused_after_a_delete(api: Api, sandbox: Sandbox) -> None:
    count = len(mine(sandbox))
    first = api.post("/customer", [new_customer(sandbox, "Brief")], Prefer="return=representation").json()[0]
    api.delete("/customer", {"id": f"eq.{first['id']}"})
    second = api.post("/customer", [new_customer(sandbox, "Later")], Prefer="return=representation").json()[0]
    assert (first["readableId"], second["readableId"]) == (f"CUS{count + 1:06d}", f"CUS{count + 2:06d}")


def test_an_explicit_readable_id_is_kept(api: Api, sandbox: Sandbox) -> None:
    created = api.post("/customer", [new_customer(sandbox, "Mine", readableId="CUS999999")],
                       Prefer="return=representation").json()[0]
    assert created["readableId"] == "CUS999999"


def test_nul_characters_are_refused_as_postgres_refuses_them(sandbox: Sandbox) -> None:
    """Postgres text cannot hold NUL (22021) and jsonb refuses \\u0000 (22P05): both are 400s, nothing written."""
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.api_key}"}) as http:
        for body, code in (({"name": "A\x00B"}, "22021"), ({"name": "Ok", "customFields": {"k": "x\x00"}}, "22P05"),
                           ({"name": "Ok2", "tags": ["a\x00"]}, "22021")):
            response = http.post("/customer", json=[{**body, "companyId": sandbox.company_id}])
            assert response.status_code == 400 and response.json()["code"] == code, body
    assert not any(r["name"] in ("A\x00B", "Ok", "Ok2") for r in sandbox.rows())

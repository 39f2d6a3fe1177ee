"""Writing: bulk POST, Prefer headers, PATCH/DELETE by filter, counts, max-affected, tx=rollback (reference.md)."""

from __future__ import annotations

from bulkio.sandbox import Sandbox

from .rawhttp import Api, mine


def _new(sandbox: Sandbox, name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "companyId": sandbox.company_id, **extra}


def test_post_array_with_representation_fills_server_columns(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [_new(sandbox, "Nova Ltd"), _new(sandbox, "Orbit AG")],
                        Prefer="return=representation")
    assert response.status_code == 201
    rows = response.json()
    assert [r["name"] for r in rows] == ["Nova Ltd", "Orbit AG"]
    count = len(mine(sandbox))
    assert rows[0]["id"].startswith("cust_") and len(rows[0]["id"]) > 20
    assert [r["readableId"] for r in rows] == [f"CUS{count - 1:06d}", f"CUS{count:06d}"]
    assert rows[0]["createdAt"] and rows[0]["taxPercent"] == 0 and rows[0]["tags"] == []


def test_post_minimal_is_the_default(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", _new(sandbox, "Quiet Co"))
    assert response.status_code == 201 and response.content == b""
    assert any(r["name"] == "Quiet Co" for r in mine(sandbox))


def test_bulk_post_is_atomic(api: Api, sandbox: Sandbox) -> None:
    before = len(sandbox.rows())
    response = api.post("/customer", [_new(sandbox, "Good One", taxPercent=0), _new(sandbox, "Bad One", taxPercent=3)])
    assert response.status_code == 400 and response.json()["code"] == "23514"
    assert len(sandbox.rows()) == before


def test_differing_keys_are_pgrst102_unless_columns_names_them(api: Api, sandbox: Sandbox) -> None:
    rows = [_new(sandbox, "A1"), _new(sandbox, "A2", phone="+44 1")]
    refused = api.post("/customer", rows)
    assert refused.status_code == 400 and refused.json()["code"] == "PGRST102"
    accepted = api.post("/customer", rows, {"columns": "name,companyId,phone"}, Prefer="return=representation")
    assert accepted.status_code == 201 and [r["phone"] for r in accepted.json()] == [None, "+44 1"]


def test_columns_ignores_other_keys_and_missing_default_fills_defaults(api: Api, sandbox: Sandbox) -> None:
    body = [_new(sandbox, "B1", phone="+1 2", fax="ignored")]
    row = api.post("/customer", body, {"columns": "name,companyId,phone,taxPercent,tags"},
                   Prefer="return=representation, missing=default").json()[0]
    assert row["fax"] is None and row["taxPercent"] == 0 and row["tags"] == []
    without = api.post("/customer", [_new(sandbox, "B2")], {"columns": "name,companyId,taxPercent"})
    assert without.status_code == 400 and without.json()["code"] == "23502"  # NULL instead of the default


def test_unknown_column_in_body_is_pgrst204(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [_new(sandbox, "C1", colour="red")])
    assert response.status_code == 400 and response.json()["code"] == "PGRST204"


def test_patch_by_filter_updates_every_match_and_counts(api: Api, sandbox: Sandbox) -> None:
    targets = [r for r in mine(sandbox) if r["currencyCode"] == "EUR"]
    response = api.patch("/customer", {"website": "https://eu.example.com"}, {"currencyCode": "eq.EUR"},
                         Prefer="count=exact")
    assert response.status_code == 204 and response.headers["content-range"] == f"*/{len(targets)}"
    assert {r["id"] for r in mine(sandbox) if r["website"] == "https://eu.example.com"} == {r["id"] for r in targets}


def test_patch_returns_rows_with_representation(api: Api, sandbox: Sandbox) -> None:
    target = mine(sandbox)[5]
    response = api.patch("/customer", {"phone": "0044 20 1"}, {"id": f"eq.{target['id']}", "select": "id,phone"},
                         Prefer="return=representation")
    assert response.status_code == 200 and response.json() == [{"id": target["id"], "phone": "0044 20 1"}]


def test_patch_is_atomic(api: Api, sandbox: Sandbox) -> None:
    first, second = mine(sandbox)[:2]
    response = api.patch("/customer", {"name": "Same Name"}, {"id": f"in.({first['id']},{second['id']})"})
    assert response.status_code == 409 and response.json()["code"] == "23505"
    assert {r["name"] for r in mine(sandbox)} >= {first["name"], second["name"]}


def test_delete_by_filter_counts(api: Api, sandbox: Sandbox) -> None:
    victims = [r for r in mine(sandbox) if r["intercompanyCompanyId"] is None and r["salesContactId"] is None][:3]
    ids = ",".join(r["id"] for r in victims)
    response = api.delete("/customer", {"id": f"in.({ids})"}, Prefer="count=exact")
    assert response.status_code == 204 and response.headers["content-range"] == "*/3"
    assert not {r["id"] for r in victims} & {r["id"] for r in sandbox.rows()}


def test_max_affected_strict_refuses_and_rolls_back(api: Api, sandbox: Sandbox) -> None:
    before = sandbox.rows()
    response = api.patch("/customer", {"logo": "x"}, {"currencyCode": "eq.USD"},
                         Prefer="handling=strict, max-affected=1")
    assert response.status_code == 400 and response.json()["code"] == "PGRST124"
    assert sandbox.rows() == before
    one = mine(sandbox)[0]["id"]
    ok = api.patch("/customer", {"logo": "x"}, {"id": f"eq.{one}"}, Prefer="handling=strict, max-affected=1")
    assert ok.status_code == 204


def test_tx_rollback_is_ignored_unless_the_server_allows_it(api: Api, sandbox: Sandbox) -> None:
    ignored = api.post("/customer", [_new(sandbox, "Rolled?")], Prefer="tx=rollback, return=representation")
    assert ignored.status_code == 201
    assert "tx=rollback" not in ignored.headers.get("preference-applied", "")
    assert any(r["name"] == "Rolled?" for r in sandbox.rows())  # committed, as the real server does

    sandbox.switches.allow_tx_override = True
    before = len(sandbox.rows())
    honoured = api.post("/customer", [_new(sandbox, "Rolled back")], Prefer="tx=rollback, return=representation")
    assert honoured.status_code == 201 and honoured.json()[0]["name"] == "Rolled back"
    assert "tx=rollback" in honoured.headers["preference-applied"]
    assert len(sandbox.rows()) == before


def test_errors_are_postgrest_json_objects(api: Api, sandbox: Sandbox) -> None:
    body = api.post("/customer", [_new(sandbox, "x", taxPercent="abc")]).json()
    assert set(body) == {"code", "message", "details", "hint"} and body["code"] == "22P02"

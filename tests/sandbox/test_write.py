"""Writing: bulk POST, Prefer headers, PATCH/DELETE by filter, counts, max-affected, tx=rollback (reference.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bulkio.sandbox import Sandbox

from .rawhttp import Api, affected, error_code, mine, new_customer, row


def _deletable(sandbox: Sandbox) -> list[dict[str, object]]:
    """Main-company customers a delete may remove (no intercompany trigger)."""
    return [r for r in mine(sandbox) if r["intercompanyCompanyId"] is None]


# ------------------------------------------------------------------------------------------------ POST
def test_post_one_object_is_201_with_an_empty_body_by_default(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", new_customer(sandbox, "Quiet Co"))
    assert response.status_code == 201 and response.content == b""
    assert [r["name"] for r in mine(sandbox)].count("Quiet Co") == 1


def test_post_return_minimal_is_201_with_an_empty_body(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [new_customer(sandbox, "Minimal Co")], Prefer="return=minimal")
    assert response.status_code == 201 and response.content == b""
    assert any(r["name"] == "Minimal Co" for r in mine(sandbox))


def test_post_an_array_inserts_every_row(api: Api, sandbox: Sandbox) -> None:
    before = len(mine(sandbox))
    response = api.post("/customer", [new_customer(sandbox, f"Bulk {i}") for i in range(5)])
    assert response.status_code == 201
    assert len(mine(sandbox)) == before + 5


def test_post_with_representation_returns_the_rows_with_server_columns(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [new_customer(sandbox, "Nova Ltd"), new_customer(sandbox, "Orbit AG")],
                        Prefer="return=representation")
    assert response.status_code == 201
    rows = response.json()
    assert [r["name"] for r in rows] == ["Nova Ltd", "Orbit AG"]
    for r in rows:
        assert re.fullmatch(r"cust_[1-9A-HJ-NP-Za-km-z]{20,24}", r["id"]), r["id"]
        assert re.fullmatch(r"CUS\d{6}", r["readableId"]), r["readableId"]
        assert r["companyId"] == sandbox.company_id and r["taxPercent"] == 0 and r["tags"] == []
    assert rows[0]["id"] != rows[1]["id"]


def test_post_one_object_with_representation_returns_an_array(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", new_customer(sandbox, "Solo"), Prefer="return=representation")
    assert response.status_code == 201 and isinstance(response.json(), list) and len(response.json()) == 1


def test_post_representation_honours_select(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [new_customer(sandbox, "Picky")], {"select": "id,name"},
                        Prefer="return=representation")
    assert response.status_code == 201 and set(response.json()[0]) == {"id", "name"}


def test_readable_ids_continue_the_company_sequence(api: Api, sandbox: Sandbox) -> None:
    count = len(mine(sandbox))  # the seed numbers CUS000001 .. CUS<count>
    rows = api.post("/customer", [new_customer(sandbox, "Seq 1"), new_customer(sandbox, "Seq 2")],
                    Prefer="return=representation").json()
    assert [r["readableId"] for r in rows] == [f"CUS{count + 1:06d}", f"CUS{count + 2:06d}"]


def test_created_at_is_filled_by_the_server(api: Api, sandbox: Sandbox) -> None:
    created = api.post("/customer", [new_customer(sandbox, "Timed")],
                       Prefer="return=representation").json()[0]["createdAt"]
    when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    assert when.tzinfo is not None and abs(datetime.now(UTC) - when) < timedelta(minutes=1)


def test_bulk_post_is_atomic(api: Api, sandbox: Sandbox) -> None:
    before = len(sandbox.rows())
    body = [new_customer(sandbox, "Good One", taxPercent=0), new_customer(sandbox, "Bad One", taxPercent=3)]
    assert error_code(api.post("/customer", body), 400) == "23514"
    assert len(sandbox.rows()) == before and not any(r["name"] == "Good One" for r in sandbox.rows())


def test_bulk_post_with_a_duplicate_inside_the_body_is_atomic(api: Api, sandbox: Sandbox) -> None:
    before = len(sandbox.rows())
    body = [new_customer(sandbox, "Twin"), new_customer(sandbox, "Other"), new_customer(sandbox, "Twin")]
    assert error_code(api.post("/customer", body), 409) == "23505"
    assert len(sandbox.rows()) == before


def test_differing_keys_are_400_pgrst102(api: Api, sandbox: Sandbox) -> None:
    before = len(sandbox.rows())
    body = [new_customer(sandbox, "A1"), new_customer(sandbox, "A2", phone="+44 1")]
    assert error_code(api.post("/customer", body), 400) == "PGRST102"
    assert len(sandbox.rows()) == before


def test_columns_allows_differing_keys(api: Api, sandbox: Sandbox) -> None:
    body = [new_customer(sandbox, "A1"), new_customer(sandbox, "A2", phone="+44 1")]
    response = api.post("/customer", body, {"columns": "name,companyId,phone"}, Prefer="return=representation")
    assert response.status_code == 201 and [r["phone"] for r in response.json()] == [None, "+44 1"]


def test_columns_ignores_keys_it_does_not_name(api: Api, sandbox: Sandbox) -> None:
    body = [new_customer(sandbox, "B1", phone="+1 2", fax="ignored", colour="ignored too")]
    response = api.post("/customer", body, {"columns": "name,companyId,phone"}, Prefer="return=representation")
    assert response.status_code == 201
    created = response.json()[0]
    assert created["phone"] == "+1 2" and created["fax"] is None and "colour" not in created


def test_missing_default_fills_absent_keys_with_defaults(api: Api, sandbox: Sandbox) -> None:
    body = [new_customer(sandbox, "D1", taxPercent=0.2, tags=["vip"]), new_customer(sandbox, "D2")]
    response = api.post("/customer", body, {"columns": "name,companyId,taxPercent,tags"},
                        Prefer="return=representation, missing=default")
    assert response.status_code == 201
    d1, d2 = response.json()
    assert (d1["taxPercent"], d1["tags"]) == (0.2, ["vip"])
    assert (d2["taxPercent"], d2["tags"], d2["defaultCc"]) == (0, [], [])


def test_without_missing_default_absent_keys_are_null(api: Api, sandbox: Sandbox) -> None:
    body = [new_customer(sandbox, "D1", taxPercent=0.2), new_customer(sandbox, "D2")]
    response = api.post("/customer", body, {"columns": "name,companyId,taxPercent"})
    assert error_code(response, 400) == "23502"  # NULL, not the default, for D2's taxPercent
    assert not any(r["name"] == "D1" for r in sandbox.rows())


def test_columns_not_sent_at_all_take_their_defaults(api: Api, sandbox: Sandbox) -> None:
    created = api.post("/customer", [new_customer(sandbox, "Defaults")], Prefer="return=representation").json()[0]
    assert created["taxPercent"] == 0 and created["tags"] == [] and created["defaultCc"] == []
    assert created["phone"] is None and created["customFields"] is None


def test_unknown_column_in_a_body_is_400_pgrst204(api: Api, sandbox: Sandbox) -> None:
    assert error_code(api.post("/customer", [new_customer(sandbox, "C1", colour="red")]), 400) == "PGRST204"


def test_invalid_json_is_400(api: Api) -> None:
    response = api.http.post("/customer", content=b"{not json", headers={"Content-Type": "application/json"})
    assert error_code(response, 400) in ("PGRST102", "22P02")


def test_values_round_trip_exactly(api: Api, sandbox: Sandbox) -> None:
    sent = new_customer(sandbox, "Ünïcødé, \"Quoted\" (Ltd.)", phone="0044 020 7946 0000", taxPercent=0.0825,
                        tags=["a,b", "key account", "ü"], defaultCc=["x@example.com"],
                        customFields={"region": "EMEA", "nested": {"n": 1.5, "flag": True}, "list": [1, "2"]})
    created = api.post("/customer", [sent], Prefer="return=representation").json()[0]
    fetched = api.get("/customer", {"id": f"eq.{created['id']}"}).json()[0]
    for key, value in sent.items():
        assert created[key] == value and fetched[key] == value, key


def test_timestamps_render_as_postgres_json(api: Api, sandbox: Sandbox) -> None:
    """timestamptz in JSON: ISO 8601 with a `+00:00` offset, fractional seconds without trailing zeros."""
    target = mine(sandbox)[0]["id"]
    for sent, shown in [("2026-01-02T03:04:05.120Z", "2026-01-02T03:04:05.12+00:00"),
                        ("2026-01-02 04:04:05+01", "2026-01-02T03:04:05+00:00"),
                        ("2026-01-02T03:04:05.123456+00:00", "2026-01-02T03:04:05.123456+00:00")]:
        response = api.patch("/customer", {"updatedAt": sent}, {"id": f"eq.{target}", "select": "updatedAt"},
                             Prefer="return=representation")
        assert response.status_code == 200 and response.json() == [{"updatedAt": shown}], sent
        found = api.get("/customer", {"select": "id", "id": f"eq.{target}", "updatedAt": f"eq.{sent}"}).json()
        assert found == [{"id": target}], sent


def test_an_invalid_timestamp_is_400_22007(api: Api, sandbox: Sandbox) -> None:
    response = api.patch("/customer", {"updatedAt": "yesterday-ish"}, {"id": f"eq.{mine(sandbox)[0]['id']}"})
    assert error_code(response, 400) == "22007"


# ------------------------------------------------------------------------------------------------ PATCH
def test_patch_by_filter_updates_every_matching_row(api: Api, sandbox: Sandbox) -> None:
    targets = {r["id"] for r in mine(sandbox) if r["currencyCode"] == "EUR"}
    response = api.patch("/customer", {"website": "https://eu.example.com"}, {"currencyCode": "eq.EUR"})
    assert response.status_code == 204 and response.content == b""
    assert {r["id"] for r in mine(sandbox) if r["website"] == "https://eu.example.com"} == targets


def test_patch_leaves_other_rows_and_columns_alone(api: Api, sandbox: Sandbox) -> None:
    before = {r["id"]: r for r in sandbox.rows()}
    target = mine(sandbox)[3]
    api.patch("/customer", {"phone": "+1 000"}, {"id": f"eq.{target['id']}"})
    for after in sandbox.rows():
        expected = {**before[after["id"]], "phone": "+1 000"} if after["id"] == target["id"] else before[after["id"]]
        assert after == expected


def test_patch_count_exact_gives_the_affected_count(api: Api, sandbox: Sandbox) -> None:
    targets = [r for r in mine(sandbox) if r["currencyCode"] == "EUR"]
    response = api.patch("/customer", {"logo": "eu.png"}, {"currencyCode": "eq.EUR"}, Prefer="count=exact")
    assert response.status_code == 204 and affected(response) == len(targets) > 1


def test_patch_matching_nothing_is_204_with_a_zero_count(api: Api) -> None:
    response = api.patch("/customer", {"logo": "x"}, {"id": "eq.cust_nothing"}, Prefer="count=exact")
    assert response.status_code == 204 and affected(response) == 0


def test_patch_with_representation_returns_the_updated_rows(api: Api, sandbox: Sandbox) -> None:
    target = mine(sandbox)[5]
    response = api.patch("/customer", {"phone": "0044 20 1"}, {"id": f"eq.{target['id']}", "select": "id,phone"},
                         Prefer="return=representation")
    assert response.status_code == 200 and response.json() == [{"id": target["id"], "phone": "0044 20 1"}]


def test_patch_is_atomic(api: Api, sandbox: Sandbox) -> None:
    first, second = mine(sandbox)[:2]
    response = api.patch("/customer", {"name": "Same Name"}, {"id": f"in.({first['id']},{second['id']})"})
    assert error_code(response, 409) == "23505"
    assert row(sandbox, first["id"]) == first and row(sandbox, second["id"]) == second


def test_patch_with_a_bad_value_changes_nothing(api: Api, sandbox: Sandbox) -> None:
    before = sandbox.rows()
    assert error_code(api.patch("/customer", {"taxPercent": 2}, {"currencyCode": "eq.EUR"}), 400) == "23514"
    assert sandbox.rows() == before


def test_patch_of_an_unknown_column_is_400_pgrst204(api: Api, sandbox: Sandbox) -> None:
    response = api.patch("/customer", {"colour": "red"}, {"id": f"eq.{mine(sandbox)[0]['id']}"})
    assert error_code(response, 400) == "PGRST204"


# ------------------------------------------------------------------------------------------------ DELETE
def test_delete_by_filter_removes_every_matching_row(api: Api, sandbox: Sandbox) -> None:
    before = len(mine(sandbox))
    victims = {r["id"] for r in _deletable(sandbox)[:4]}
    response = api.delete("/customer", {"id": f"in.({','.join(victims)})"})
    assert response.status_code == 204 and response.content == b""
    assert not victims & {r["id"] for r in sandbox.rows()}
    assert len(mine(sandbox)) == before - 4


def test_delete_count_exact_gives_the_affected_count(api: Api, sandbox: Sandbox) -> None:
    victims = [r["id"] for r in _deletable(sandbox)[:3]]
    response = api.delete("/customer", {"id": f"in.({','.join(victims)})"}, Prefer="count=exact")
    assert response.status_code == 204 and affected(response) == 3


def test_delete_with_representation_returns_the_deleted_rows(api: Api, sandbox: Sandbox) -> None:
    victim = _deletable(sandbox)[0]
    response = api.delete("/customer", {"id": f"eq.{victim['id']}"}, Prefer="return=representation")
    assert response.status_code == 200 and response.json() == [victim]


def test_delete_is_atomic(api: Api, sandbox: Sandbox) -> None:
    plain = _deletable(sandbox)[0]
    protected = next(r for r in mine(sandbox) if r["intercompanyCompanyId"])
    response = api.delete("/customer", {"id": f"in.({plain['id']},{protected['id']})"})
    assert error_code(response, 400) == "P0001"
    assert row(sandbox, plain["id"]) == plain and row(sandbox, protected["id"]) == protected


# ------------------------------------------------------------------------------------------------ max-affected
def test_max_affected_strict_refuses_a_patch_and_rolls_back(api: Api, sandbox: Sandbox) -> None:
    before = sandbox.rows()
    response = api.patch("/customer", {"logo": "x"}, {"currencyCode": "eq.USD"},
                         Prefer="handling=strict, max-affected=1")
    assert error_code(response, 400) == "PGRST124"
    assert sandbox.rows() == before


def test_max_affected_strict_refuses_a_delete_and_rolls_back(api: Api, sandbox: Sandbox) -> None:
    before = len(sandbox.rows())
    ids = ",".join(r["id"] for r in _deletable(sandbox)[:3])
    response = api.delete("/customer", {"id": f"in.({ids})"}, Prefer="handling=strict, max-affected=2")
    assert error_code(response, 400) == "PGRST124"
    assert len(sandbox.rows()) == before


def test_max_affected_strict_within_the_limit_writes(api: Api, sandbox: Sandbox) -> None:
    target = mine(sandbox)[0]["id"]
    response = api.patch("/customer", {"logo": "x"}, {"id": f"eq.{target}"},
                         Prefer="handling=strict, max-affected=1")
    assert response.status_code == 204
    assert row(sandbox, target)["logo"] == "x"  # type: ignore[index]


def test_max_affected_without_strict_is_ignored(api: Api, sandbox: Sandbox) -> None:
    usd = [r["id"] for r in mine(sandbox) if r["currencyCode"] == "USD"]
    response = api.patch("/customer", {"logo": "x"}, {"currencyCode": "eq.USD"}, Prefer="max-affected=1")
    assert response.status_code == 204 and len(usd) > 1
    assert all(row(sandbox, i)["logo"] == "x" for i in usd)  # type: ignore[index]


# ------------------------------------------------------------------------------------------------ tx=rollback
def test_tx_rollback_is_ignored_and_the_write_commits_by_default(api: Api, sandbox: Sandbox) -> None:
    response = api.post("/customer", [new_customer(sandbox, "Rolled?")], Prefer="tx=rollback, return=representation")
    assert response.status_code == 201
    assert "tx=rollback" not in response.headers.get("preference-applied", "")
    assert any(r["name"] == "Rolled?" for r in sandbox.rows())


def test_tx_rollback_is_honoured_when_the_server_allows_it(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.allow_tx_override = True
    before = sandbox.rows()
    response = api.post("/customer", [new_customer(sandbox, "Rolled back")],
                        Prefer="tx=rollback, return=representation")
    assert response.status_code == 201 and response.json()[0]["name"] == "Rolled back"
    assert "tx=rollback" in response.headers["preference-applied"]
    assert sandbox.rows() == before


def test_tx_rollback_on_patch_and_delete(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.allow_tx_override = True
    before = sandbox.rows()
    target = _deletable(sandbox)[0]["id"]
    patched = api.patch("/customer", {"logo": "x"}, {"id": f"eq.{target}"}, Prefer="tx=rollback, count=exact")
    assert patched.status_code == 204 and affected(patched) == 1
    assert "tx=rollback" in patched.headers["preference-applied"]
    deleted = api.delete("/customer", {"id": f"eq.{target}"}, Prefer="tx=rollback")
    assert deleted.status_code == 204 and "tx=rollback" in deleted.headers["preference-applied"]
    assert sandbox.rows() == before


def test_tx_rollback_still_reports_constraint_errors(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.allow_tx_override = True
    existing = mine(sandbox)[0]["name"]
    response = api.post("/customer", [new_customer(sandbox, existing)], Prefer="tx=rollback")
    assert error_code(response, 409) == "23505"

"""Errors: PostgREST's JSON object `{code, message, details, hint}` with the statuses of reference.md's table."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from bulkio.sandbox import Sandbox

from .rawhttp import Api, mine, new_customer

# (label, status, code, request): each request is made with the main company's key
CASES: list[tuple[str, int, str, Callable[[Api, Sandbox], httpx.Response]]] = [
    ("unique", 409, "23505", lambda a, s: a.post("/customer", [new_customer(s, mine(s)[0]["name"])])),
    ("foreign key", 409, "23503", lambda a, s: a.post("/customer", [new_customer(s, "x", customerTypeId="no")])),
    ("not null", 400, "23502", lambda a, s: a.post("/customer", [{"companyId": s.company_id}])),
    ("check", 400, "23514", lambda a, s: a.post("/customer", [new_customer(s, "x", taxPercent=1.5)])),
    ("invalid text", 400, "22P02", lambda a, s: a.post("/customer", [new_customer(s, "x", taxPercent="abc")])),
    ("out of range", 400, "22003", lambda a, s: a.post("/customer", [new_customer(s, "x", taxPercent=1e9)])),
    ("rls", 403, "42501", lambda a, s: a.post("/customer", [{"name": "x", "companyId": s.other_company_id}])),
    ("trigger", 400, "P0001", lambda a, s: a.delete(
        "/customer", {"id": f"eq.{next(r['id'] for r in mine(s) if r['intercompanyCompanyId'])}"})),
    ("parse", 400, "PGRST100", lambda a, s: a.get("/customer", {"name": "zz.x"})),
    ("keys differ", 400, "PGRST102", lambda a, s: a.post("/customer", [new_customer(s, "x"), {"name": "y"}])),
    ("range", 416, "PGRST103", lambda a, s: a.get("/customer", {"offset": "100000"}, Prefer="count=exact")),
    ("unknown column", 400, "PGRST204", lambda a, s: a.post("/customer", [new_customer(s, "x", nope=1)])),
    ("not one row", 406, "PGRST116", lambda a, s: a.get("/customer", Accept="application/vnd.pgrst.object+json")),
    ("max affected", 400, "PGRST124", lambda a, s: a.patch("/customer", {"logo": "x"}, {"logo": "is.null"},
                                                           Prefer="handling=strict, max-affected=1")),
    ("column missing", 400, "42703", lambda a, s: a.get("/customer", {"select": "nope"})),
]


@pytest.mark.parametrize(("label", "status", "code", "send"), CASES, ids=[c[0] for c in CASES])
def test_errors_have_exactly_code_message_details_hint(api: Api, sandbox: Sandbox, label: str, status: int,
                                                       code: str, send: Callable[[Api, Sandbox],
                                                                                 httpx.Response]) -> None:
    response = send(api, sandbox)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"code", "message", "details", "hint"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert body["details"] is None or isinstance(body["details"], str)
    assert body["hint"] is None or isinstance(body["hint"], str)


def test_auth_errors_have_the_same_shape(sandbox: Sandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.get(f"{sandbox.url}/customer", headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"code", "message", "details", "hint"}


def test_a_failed_write_leaves_no_trace(api: Api, sandbox: Sandbox) -> None:
    before = sandbox.rows()
    for _, _, _, send in CASES:
        send(api, sandbox)
    assert sandbox.rows() == before

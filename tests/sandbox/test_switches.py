"""Fault switches: the proxy's rate limit, 503 storms, dropped connections, latency, the concurrent editor."""

from __future__ import annotations

import time

import httpx
import pytest

from bulkio.sandbox import Sandbox

from .rawhttp import Api, mine


def test_rate_limit_answers_429_with_retry_after_and_headers(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit = 3
    answers = [api.get("/customer", {"select": "id", "limit": "1"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    refused = answers[3]
    assert refused.headers["x-ratelimit-limit"] == "3" and int(refused.headers["retry-after"]) >= 1
    assert int(refused.headers["x-ratelimit-reset"]) >= int(time.time())


def test_rate_limit_window_resets(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit, sandbox.switches.rate_window = 1, 0.3
    assert api.get("/customer", {"limit": "1"}).status_code == 200
    assert api.get("/customer", {"limit": "1"}).status_code == 429
    time.sleep(0.35)
    assert api.get("/customer", {"limit": "1"}).status_code == 200


def test_fail_503_then_recovery(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.fail_503 = 2
    codes = [api.get("/customer", {"limit": "1"}).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_drop_before_commit_writes_nothing(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop = 1
    with pytest.raises(httpx.TransportError):
        api.post("/customer", [{"name": "Lost", "companyId": sandbox.company_id}])
    assert not any(r["name"] == "Lost" for r in sandbox.rows())


def test_drop_after_commit_leaves_the_write_done(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
    with pytest.raises(httpx.TransportError):
        api.post("/customer", [{"name": "Ghost", "companyId": sandbox.company_id}])
    assert any(r["name"] == "Ghost" for r in sandbox.rows())
    assert api.get("/customer", {"limit": "1"}).status_code == 200  # the next request is fine


def test_drop_skip_lets_requests_through_first(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop, sandbox.switches.drop_skip = 1, 2
    assert api.get("/customer", {"limit": "1"}).status_code == 200
    assert api.get("/customer", {"limit": "1"}).status_code == 200
    with pytest.raises(httpx.TransportError):
        api.get("/customer", {"limit": "1"})


def test_latency(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.latency = 0.2
    started = time.perf_counter()
    api.get("/customer", {"limit": "1"})
    assert time.perf_counter() - started >= 0.2


def test_concurrent_editor_now_and_after_requests(api: Api, sandbox: Sandbox) -> None:
    first, second = mine(sandbox)[:2]
    sandbox.concurrent_edit("customer", first["id"], {"phone": "+1 555 0199"})
    edited = next(r for r in sandbox.rows() if r["id"] == first["id"])
    assert edited["phone"] == "+1 555 0199" and edited["updatedAt"] != first["updatedAt"]
    sandbox.concurrent_edit("customer", second["id"], {"name": "Edited Behind Your Back"}, after_requests=2)
    api.get("/customer", {"limit": "1"})
    assert next(r for r in sandbox.rows() if r["id"] == second["id"])["name"] == second["name"]
    api.get("/customer", {"limit": "1"})
    assert next(r for r in sandbox.rows() if r["id"] == second["id"])["name"] == "Edited Behind Your Back"


def test_requests_are_logged_and_reset_restores_everything(api: Api, sandbox: Sandbox) -> None:
    seeded = sandbox.rows()
    api.get("/customer", {"select": "id", "limit": "2"})
    api.post("/customer", [{"name": "Temp", "companyId": sandbox.company_id}])
    sandbox.switches.latency = 1.0
    assert sandbox.requests == [("GET", "/customer?select=id&limit=2"), ("POST", "/customer")]
    sandbox.reset()
    assert sandbox.rows() == seeded and sandbox.requests == [] and sandbox.switches.latency == 0

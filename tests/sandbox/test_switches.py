"""Fault switches: the proxy's rate limit, 503 storms, dropped connections, latency, the concurrent editor."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from bulkio.sandbox import Sandbox

from .rawhttp import Api, mine, new_customer, row


def _ping(api: Api) -> httpx.Response:
    return api.get("/customer", {"select": "id", "limit": "1"})


def _reset_ok(value: str) -> bool:
    """`X-RateLimit-Reset`: epoch seconds of the window's end, or (as some proxies) seconds until it."""
    reset = int(value)
    return reset >= int(time.time()) or 0 <= reset <= 60


# ------------------------------------------------------------------------------------------------ latency
def test_latency_delays_every_response(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.latency = 0.2
    started = time.perf_counter()
    assert _ping(api).status_code == 200
    assert time.perf_counter() - started >= 0.2


# ------------------------------------------------------------------------------------------------ rate limit
def test_rate_limit_answers_429_beyond_the_limit(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit = 3
    assert [_ping(api).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_rate_limit_429_carries_retry_after_and_rate_headers(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit = 1
    _ping(api)
    refused = _ping(api)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-limit"] == "1" and refused.headers["x-ratelimit-remaining"] == "0"
    assert _reset_ok(refused.headers["x-ratelimit-reset"])


def test_rate_limit_headers_are_on_every_response(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit = 3
    answers = [_ping(api) for _ in range(3)]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "3" for a in answers)
    assert all(_reset_ok(a.headers["x-ratelimit-reset"]) for a in answers)


def test_rate_limit_is_per_key(sandbox: Sandbox, api_for: Callable[..., Api]) -> None:
    sandbox.switches.rate_limit = 1
    assert _ping(api_for(sandbox.api_key)).status_code == 200
    assert _ping(api_for(sandbox.api_key)).status_code == 429
    assert _ping(api_for(sandbox.keys["other"])).status_code == 200


def test_rate_limit_refusal_writes_nothing(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit = 1
    _ping(api)
    assert api.post("/customer", [new_customer(sandbox, "Throttled")]).status_code == 429
    assert not any(r["name"] == "Throttled" for r in sandbox.rows())


def test_rate_limit_window_resets(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit, sandbox.switches.rate_window = 1, 0.3
    assert _ping(api).status_code == 200
    assert _ping(api).status_code == 429
    time.sleep(0.35)
    assert _ping(api).status_code == 200


# ------------------------------------------------------------------------------------------------ 503
def test_fail_503_then_recovery(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.fail_503 = 2
    first = _ping(api)
    assert first.status_code == 503 and set(first.json()) == {"code", "message", "details", "hint"}
    assert [_ping(api).status_code for _ in range(2)] == [503, 200]


def test_fail_503_writes_nothing(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.fail_503 = 1
    assert api.post("/customer", [new_customer(sandbox, "Unavailable")]).status_code == 503
    assert not any(r["name"] == "Unavailable" for r in sandbox.rows())


# ------------------------------------------------------------------------------------------------ drop
def test_drop_raises_a_transport_error(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop = 1
    with pytest.raises(httpx.TransportError):
        _ping(api)
    assert _ping(api).status_code == 200  # the next request is fine


def test_drop_before_commit_writes_nothing(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop = 1
    with pytest.raises(httpx.TransportError):
        api.post("/customer", [new_customer(sandbox, "Lost")])
    assert not any(r["name"] == "Lost" for r in sandbox.rows())


def test_drop_after_commit_leaves_the_write_done(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
    with pytest.raises(httpx.TransportError):
        api.post("/customer", [new_customer(sandbox, "Ghost")])
    assert [r["name"] for r in sandbox.rows()].count("Ghost") == 1
    assert _ping(api).status_code == 200


def test_drop_skip_lets_requests_through_first(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop, sandbox.switches.drop_skip = 1, 2
    assert [_ping(api).status_code for _ in range(2)] == [200, 200]
    with pytest.raises(httpx.TransportError):
        _ping(api)


def test_drop_methods_limits_what_is_dropped(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.drop, sandbox.switches.drop_methods = 1, frozenset({"POST"})
    assert _ping(api).status_code == 200
    with pytest.raises(httpx.TransportError):
        api.post("/customer", [new_customer(sandbox, "Dropped")])


# ------------------------------------------------------------------------------------------------ concurrent edit
def test_concurrent_edit_now_changes_the_row_and_its_updated_at(sandbox: Sandbox) -> None:
    first = mine(sandbox)[0]
    sandbox.concurrent_edit("customer", first["id"], {"phone": "+1 555 0199"})
    edited = row(sandbox, first["id"])
    assert edited is not None and edited["phone"] == "+1 555 0199" and edited["updatedAt"] != first["updatedAt"]


def test_concurrent_edit_after_requests(api: Api, sandbox: Sandbox) -> None:
    target = mine(sandbox)[1]
    sandbox.concurrent_edit("customer", target["id"], {"name": "Edited Behind Your Back"}, after_requests=2)
    _ping(api)
    assert row(sandbox, target["id"])["name"] == target["name"]  # type: ignore[index]
    _ping(api)
    assert row(sandbox, target["id"])["name"] == "Edited Behind Your Back"  # type: ignore[index]


def test_concurrent_edit_defeats_a_guarded_patch(api: Api, sandbox: Sandbox) -> None:
    """The compare-and-set a client sends (filter on the base value) affects 0 rows after a concurrent edit."""
    target = next(r for r in mine(sandbox) if r["phone"])
    sandbox.concurrent_edit("customer", target["id"], {"phone": "+1 555 0199"})
    guard = {"id": f"eq.{target['id']}", "phone": f"eq.{target['phone']}"}
    response = api.patch("/customer", {"phone": "+44 1"}, guard, Prefer="count=exact")
    assert response.status_code == 204 and response.headers["content-range"].endswith("/0")
    assert row(sandbox, target["id"])["phone"] == "+1 555 0199"  # type: ignore[index]


# ------------------------------------------------------------------------------------------------ log, reset
def test_requests_are_logged(api: Api, sandbox: Sandbox) -> None:
    api.get("/customer", {"select": "id", "limit": "2"})
    api.post("/customer", [new_customer(sandbox, "Temp")])
    assert sandbox.requests == [("GET", "/customer?select=id&limit=2"), ("POST", "/customer")]


def test_refused_and_dropped_requests_are_logged_too(api: Api, sandbox: Sandbox) -> None:
    sandbox.switches.fail_503, sandbox.switches.drop = 1, 1
    _ping(api)
    with pytest.raises(httpx.TransportError):
        _ping(api)
    assert len(sandbox.requests) == 2


def test_reset_restores_rows_switches_and_log(api: Api, sandbox: Sandbox) -> None:
    seeded = sandbox.rows()
    api.post("/customer", [new_customer(sandbox, "Temp")])
    api.delete("/customer", {"id": f"eq.{next(r['id'] for r in mine(sandbox) if not r['intercompanyCompanyId'])}"})
    sandbox.switches.latency, sandbox.switches.rate_limit, sandbox.switches.max_rows = 1.0, 5, 3
    sandbox.switches.allow_tx_override = True
    sandbox.reset()
    assert sandbox.rows() == seeded and sandbox.requests == []
    assert (sandbox.switches.latency, sandbox.switches.rate_limit, sandbox.switches.max_rows) == (0, None, 1000)
    assert sandbox.switches.allow_tx_override is False


def test_reset_restarts_the_readable_id_sequence(api: Api, sandbox: Sandbox) -> None:
    count = len(mine(sandbox))
    api.post("/customer", [new_customer(sandbox, "Temp")])
    sandbox.reset()
    created = api.post("/customer", [new_customer(sandbox, "Again")], Prefer="return=representation").json()[0]
    assert created["readableId"] == f"CUS{count + 1:06d}"

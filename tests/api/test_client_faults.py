"""Retries, pacing and unknown outcomes: the sandbox's fault switches first, `httpx.MockTransport` only for faults the
sandbox cannot make (timeouts and refused connections before any response, scripted status sequences)."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bulkio.api.client import Client, RateLimiter
from bulkio.api.query import eq
from bulkio.errors import ApiError, TransportError
from bulkio.sandbox import Sandbox

KEY = "sk_test_do-not-print-0123456789"
Step = httpx.Response | type[Exception] | Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A clock that only moves when someone sleeps: waits are recorded, never spent."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _scripted(*steps: Step) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering with `steps` in turn (the last one repeats); exception types are raised."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = steps[min(len(seen), len(steps)) - 1]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("scripted failure", request=request)  # type: ignore[call-arg]
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step

    return httpx.MockTransport(handler), seen


def _error(status: int, code: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"code": code, "message": f"status {status}", "details": None, "hint": None}
    return httpx.Response(status, json=body, headers=headers)


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201 if request.method == "POST" else 200, json=[{"id": "cust_1", "name": "A"}],
                          headers={"Content-Range": "*/1"})


def _mock_client(transport: httpx.MockTransport, fake: FakeTime, **kwargs: Any) -> Client:
    client = Client("https://carbon.test", KEY, transport=transport, sleep=fake.sleep, **kwargs)
    client.limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    return client


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def quick(sandbox: Sandbox, fake: FakeTime) -> Iterator[Client]:
    """A sandbox client whose backoff waits are recorded instead of slept."""
    with Client(sandbox.url, sandbox.api_key, sleep=fake.sleep) as c:
        yield c


def _count(sb: Sandbox, method: str) -> int:
    return sum(m == method for m, _ in sb.requests)


# ------------------------------------------------------------------------------------------------ sandbox switches
def test_reads_retried_through_a_503_storm(quick: Client, sandbox: Sandbox, fake: FakeTime) -> None:
    sandbox.switches.fail_503 = 3
    rows, _ = quick.get("customer", [("select", "id"), ("limit", "1")])
    assert len(rows) == 1
    assert (quick.retries, quick.requests_made, _count(sandbox, "GET")) == (3, 4, 4)
    assert len(fake.sleeps) == 3 and all(0 <= s <= 0.5 * 2 ** i for i, s in enumerate(fake.sleeps))  # full jitter


def test_storm_longer_than_the_retries(sandbox: Sandbox, fake: FakeTime) -> None:
    sandbox.switches.fail_503 = 10
    with Client(sandbox.url, sandbox.api_key, max_retries=2, sleep=fake.sleep) as c, \
            pytest.raises(ApiError) as info:
        c.get("customer")
    assert (info.value.status, info.value.code, info.value.retryable) == (503, "57P01", True)
    assert _count(sandbox, "GET") == 3 and c.retries == 2


def test_refused_write_is_sent_again_and_applied_once(quick: Client, sandbox: Sandbox) -> None:
    sandbox.switches.fail_503 = 1
    result = quick.insert("customer", [{"name": "Sent twice", "companyId": sandbox.company_id}])
    assert result.count == 1 and quick.retries == 1 and _count(sandbox, "POST") == 2
    assert sum(r["name"] == "Sent twice" for r in sandbox.rows("customer")) == 1


def test_dropped_read_is_retried(quick: Client, sandbox: Sandbox) -> None:
    sandbox.switches.drop = 2
    assert quick.count("customer") == 120
    assert quick.retries == 2 and _count(sandbox, "GET") == 3


@pytest.mark.parametrize("after_commit", [False, True])
def test_dropped_insert_is_not_retried(quick: Client, sandbox: Sandbox, after_commit: bool) -> None:
    sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, after_commit
    with pytest.raises(TransportError) as info:
        quick.insert("customer", [{"name": "Maybe", "companyId": sandbox.company_id}])
    assert info.value.outcome_known is False and "may or may not" in str(info.value)
    assert info.value.method == "POST" and KEY not in str(info.value)
    assert _count(sandbox, "POST") == 1 and quick.retries == 0
    # the outcome really is unknown to the client: the row exists exactly when the server committed before the drop
    assert sum(r["name"] == "Maybe" for r in sandbox.rows("customer")) == (1 if after_commit else 0)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_dropped_update_and_delete_are_not_retried(quick: Client, sandbox: Sandbox, method: str) -> None:
    target = sorted(r["id"] for r in sandbox.rows("customer") if r["companyId"] == sandbox.company_id)[0]
    sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
    with pytest.raises(TransportError) as info:
        if method == "PATCH":
            quick.update("customer", {"id": eq(target)}, {"phone": "+1 555 0199"})
        else:
            quick.delete("customer", {"id": eq(target)})
    assert info.value.outcome_known is False
    assert _count(sandbox, method) == 1


def test_read_timeout_retried_then_reported(sandbox: Sandbox, fake: FakeTime) -> None:
    sandbox.switches.latency = 0.3
    with Client(sandbox.url, sandbox.api_key, timeout=0.05, max_retries=1, sleep=fake.sleep) as c, \
            pytest.raises(TransportError) as info:
        c.get("customer", [("limit", "1")])
    assert info.value.outcome_known is True and "2 attempt" in str(info.value)
    assert c.requests_made == 2


# ------------------------------------------------------------------------------------------------ rate limiting
def test_rate_limited_key_is_paced_not_refused(sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit, sandbox.switches.rate_window = 10, 1.0
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.keys['nodelete']}"}) as raw:
        statuses = [raw.get("/customer", params={"limit": "1"}).status_code for _ in range(12)]
    assert statuses.count(429) >= 1                      # the switch bites a naive client
    started = time.monotonic()
    with Client(sandbox.url, sandbox.api_key) as c:
        for _ in range(25):
            c.get("customer", [("select", "id"), ("limit", "1")])
    elapsed = time.monotonic() - started
    assert c.retries == 0 and c.requests_made == 25      # no 429 reached the client, let alone the caller
    assert c.limiter.waited > 0 and elapsed >= 1.9       # 25 requests at 10 a window span three windows


def test_concurrent_requests_share_the_pace(sandbox: Sandbox) -> None:
    sandbox.switches.rate_limit, sandbox.switches.rate_window = 8, 1.0
    with Client(sandbox.url, sandbox.api_key) as c, ThreadPoolExecutor(4) as pool:
        totals = list(pool.map(lambda _: c.count("customer"), range(20)))
    assert totals == [120] * 20
    assert c.retries == 0 and c.requests_made == 20


def test_429_waits_for_retry_after(fake: FakeTime) -> None:
    transport, seen = _scripted(_error(429, None, {"Retry-After": "7"}), _ok)
    with _mock_client(transport, fake) as c:
        rows, _ = c.get("customer")
    assert rows == [{"id": "cust_1", "name": "A"}]
    assert len(seen) == 2 and fake.sleeps == [7.0] and c.retries == 1


def test_limiter_learns_the_window() -> None:
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    limiter.acquire()
    limiter.finish({"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "10"})
    limiter.acquire()
    limiter.acquire()
    limiter.finish()
    limiter.finish()
    assert fake.sleeps == []
    limiter.acquire()                                     # the window is spent: wait for its reset
    assert fake.sleeps == [10.0]
    limiter.acquire()                                     # the new window has the learned limit: 3
    limiter.acquire()
    assert fake.sleeps == [10.0]
    # an answer of the new window: none left, and two requests still in flight
    limiter.finish({"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "10"})
    limiter.acquire()                                     # the next window: the limit less the 2 in flight = 1
    assert fake.sleeps == [10.0, 10.0]
    # spent, and the reset is unknown until an answer comes: wait for one (bounded: none comes in this test)
    limiter.acquire()
    assert fake.sleeps[2] == 0.05 and sum(fake.sleeps[2:]) == pytest.approx(5.0, abs=0.06)


def test_limiter_believes_only_lower_figures_within_a_window() -> None:
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        limiter.acquire()
    # answers overtake each other: the one saying 1 is left arrives before the (older) one saying 5
    limiter.finish({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "30"})
    limiter.finish({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "30"})
    limiter.finish()
    limiter.acquire()
    limiter.acquire()
    assert fake.sleeps[-1] == pytest.approx(30.0)


def test_limiter_counts_requests_in_flight() -> None:
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        limiter.acquire()
    # the first answer says 2 are left, but 2 more requests are on their way: nothing is left
    limiter.finish({"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": str(time.time() + 30)})
    limiter.acquire()
    assert len(fake.sleeps) == 1 and 28 <= fake.sleeps[0] <= 31  # epoch-seconds reset understood


def test_limiter_fixed_budget_and_hold() -> None:
    fake = FakeTime()
    limiter = RateLimiter(3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(4):
        limiter.acquire()
        limiter.finish()
    assert fake.sleeps == [60.0]
    limiter.hold(5)
    limiter.acquire()
    assert fake.sleeps[-1] == 5.0 and limiter.waited == 65.0


def test_limiter_blocks_threads_until_the_window_resets() -> None:
    limiter = RateLimiter()
    limiter.acquire()
    limiter.finish({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0.3"})
    started = time.monotonic()
    threads = [threading.Thread(target=limiter.acquire) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 0.25


# ------------------------------------------------------------------------------------------------ scripted faults
def test_503_honours_retry_after_seconds_and_dates(fake: FakeTime) -> None:
    date = email.utils.formatdate(time.time() + 120, usegmt=True)
    transport, seen = _scripted(_error(503, "57P01", {"Retry-After": "3"}), _error(503, None, {"Retry-After": date}),
                                _ok)
    with _mock_client(transport, fake) as c:
        c.get("customer")
    assert len(seen) == 3 and fake.sleeps[0] == 3.0 and 115 <= fake.sleeps[1] <= 121


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_retried_for_reads(fake: FakeTime, status: int) -> None:
    transport, seen = _scripted(_error(status), _error(status), _ok)
    with _mock_client(transport, fake) as c:
        c.get("customer")
    assert len(seen) == 3 and c.retries == 2


@pytest.mark.parametrize(("status", "code"), [(429, None), (503, "57P01"), (504, "PGRST003"), (500, "40001")])
def test_writes_the_server_refused_are_retried(fake: FakeTime, status: int, code: str | None) -> None:
    transport, seen = _scripted(_error(status, code), _ok)
    with _mock_client(transport, fake) as c:
        result = c.insert("customer", [{"name": "A"}])
    assert result.count == 1 and [r.method for r in seen] == ["POST", "POST"]


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
@pytest.mark.parametrize("fault", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError,
                                   _error(502), _error(504)])
def test_writes_with_unknown_outcome_are_never_retried(fake: FakeTime, method: str, fault: Step) -> None:
    transport, seen = _scripted(fault, _ok)
    with _mock_client(transport, fake) as c, pytest.raises(TransportError) as info:
        if method == "POST":
            c.insert("customer", [{"name": "A"}])
        elif method == "PATCH":
            c.update("customer", {"id": "eq.cust_1"}, {"name": "B"})
        else:
            c.delete("customer", {"id": "eq.cust_1"})
    assert info.value.outcome_known is False and len(seen) == 1 and c.retries == 0
    assert info.value.url == "https://carbon.test/customer" and KEY not in str(info.value)


def test_connection_refused_before_sending_is_retried_even_for_writes(fake: FakeTime) -> None:
    transport, seen = _scripted(httpx.ConnectError, httpx.ConnectTimeout, _ok)
    with _mock_client(transport, fake) as c:
        assert c.insert("customer", [{"name": "A"}]).count == 1
    assert len(seen) == 3 and c.retries == 2


def test_unreachable_server(fake: FakeTime) -> None:
    transport, seen = _scripted(httpx.ConnectError)
    with _mock_client(transport, fake, max_retries=2) as c, pytest.raises(TransportError) as info:
        c.insert("customer", [{"name": "A"}])
    assert info.value.outcome_known is True and len(seen) == 3 and "3 attempt" in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_read_timeout_on_a_read_is_retried(fake: FakeTime) -> None:
    transport, seen = _scripted(httpx.ReadTimeout, _ok)
    with _mock_client(transport, fake) as c:
        assert c.count("customer") == 1
    assert len(seen) == 2


def test_client_errors_are_not_retried(fake: FakeTime) -> None:
    transport, seen = _scripted(_error(409, "23505"), _ok)
    with _mock_client(transport, fake) as c, pytest.raises(ApiError) as info:
        c.insert("customer", [{"name": "A"}])
    assert info.value.code == "23505" and len(seen) == 1


def test_answers_that_are_not_postgrest(fake: FakeTime) -> None:
    transport, _ = _scripted(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with _mock_client(transport, fake, max_retries=1) as c, pytest.raises(ApiError) as info:
        c.get("customer")
    assert (info.value.status, info.value.code, info.value.message) == (502, None, "Bad Gateway")
    transport, _ = _scripted(httpx.Response(200, text="<html>login</html>"))
    with _mock_client(transport, fake) as c, pytest.raises(ApiError, match="not JSON"):
        c.get("customer")


def test_auth_headers_sent(fake: FakeTime) -> None:
    transport, seen = _scripted(_ok)
    with _mock_client(transport, fake) as c:
        c.get("customer")
    with Client("https://carbon.test", KEY, auth="carbon-key", transport=transport) as c:
        c.get("customer")
    assert seen[0].headers["authorization"] == f"Bearer {KEY}" and "carbon-key" not in seen[0].headers
    assert seen[1].headers["carbon-key"] == KEY and "authorization" not in seen[1].headers
    assert KEY not in str(seen[0].url)

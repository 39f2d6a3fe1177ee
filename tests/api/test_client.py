"""The client against the sandbox over loopback: auth, paging, writes and their counts, errors and their sentences."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bulkio.api.client import Client, WriteResult, parse_content_range
from bulkio.api.query import eq, in_, or_
from bulkio.config import Settings
from bulkio.errors import ApiError, ConfigError
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def _mine(sb: Sandbox) -> list[dict[str, Any]]:
    return [r for r in sb.rows("customer") if r["companyId"] == sb.company_id]


def _gets(sb: Sandbox) -> list[str]:
    return [target for method, target in sb.requests if method == "GET"]


def _one(client: Client, sb: Sandbox) -> dict[str, Any]:
    rows, _ = client.get("customer", [("select", "id,name"), ("order", "id.asc"), ("limit", "1")])
    return rows[0]


# ------------------------------------------------------------------------------------------------ auth
def test_bearer_and_carbon_key_auth(sandbox: Sandbox) -> None:
    for auth in ("bearer", "carbon-key"):
        with Client(sandbox.url, sandbox.api_key, auth=auth) as c:
            assert c.company_id() == sandbox.company_id
    with Client(sandbox.url, sandbox.keys["other"]) as c:
        assert c.company_id() == sandbox.other_company_id   # the key sees exactly its own company


def test_company_id_is_asked_once(client: Client, sandbox: Sandbox) -> None:
    assert client.company_id() == client.company_id() == sandbox.company_id
    assert len([t for t in _gets(sandbox) if t.startswith("/company")]) == 1


def test_wrong_key_is_refused_with_a_sentence_and_no_key(sandbox: Sandbox) -> None:
    wrong = "sk_wrong_" + "x" * 20
    with Client(sandbox.url, wrong) as c, pytest.raises(ApiError) as info:
        c.get("customer")
    error = info.value
    assert (error.status, error.code) == (401, "PGRST301")
    assert "API key was refused" in error.sentence
    assert wrong not in str(error) and wrong not in repr(error) and wrong not in (error.url or "")


def test_no_key_is_a_config_error(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("BULKIO_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="BULKIO_API_KEY"):
        Client(sandbox.url)


def test_https_enforced_off_loopback() -> None:
    with pytest.raises(ConfigError, match="https"):
        Client("http://carbon.example.com", "k")
    with Client("https://carbon.example.com", "k") as c:  # no request is made
        assert c.base_url == "https://carbon.example.com"


def test_key_never_in_repr_errors_or_logs(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = sandbox.api_key
    texts: list[str] = []
    with Client(sandbox.url, key) as c:
        texts += [repr(c), str(c), repr(c.settings), str(c.settings)]
        c.get("customer", [("limit", "2")])
        sandbox.switches.fail_503 = 1
        c.get("customer", [("limit", "1")])       # a retry, logged
        for call in (lambda: c.insert("customer", [{"name": None, "companyId": sandbox.company_id}]),
                     lambda: c.get("nope"),
                     lambda: c.request("GET", "/nope")):
            with pytest.raises(Exception) as info:
                call()
            texts += [str(info.value), repr(info.value)]
    assert c.retries == 1
    texts += [record.getMessage() for record in caplog.records]
    assert any("retrying GET" in t for t in texts)
    assert all(key not in text for text in texts)


# ------------------------------------------------------------------------------------------------ reads
def test_get_and_count(client: Client, sandbox: Sandbox) -> None:
    mine = _mine(sandbox)
    rows, total = client.get(CUSTOMER, [("select", "id,name"), ("order", "id.asc"), ("limit", "5")], count=True)
    assert total == len(mine) == 120
    assert [r["id"] for r in rows] == sorted(r["id"] for r in mine)[:5]
    assert set(rows[0]) == {"id", "name"}
    assert client.count("customer") == 120
    assert client.count("customer", ["name=like.*GmbH*"]) == sum("GmbH" in r["name"] for r in mine)
    assert client.count("customer", {"name": "eq.no such customer"}) == 0


def test_pages_when_the_server_caps_them_silently(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    pages = list(client.iter_pages("customer", select=["id", "name"], page_size=1000))
    ids = [r["id"] for page in pages for r in page]
    assert [len(p) for p in pages] == [25, 25, 25, 25, 20]
    assert sorted(ids) == ids == sorted(r["id"] for r in _mine(sandbox))   # each row once, in key order
    gets = _gets(sandbox)
    assert len(gets) == 5                           # the exact count ends paging: no empty page asked for
    assert all("order=id.asc" in g for g in gets) and "id=gt." in gets[1]


def test_offset_pages_with_another_order_break_ties_by_key(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    pages = list(client.iter_pages("customer", select=["name", "taxPercent"], order="taxPercent.desc"))
    rows = [r for page in pages for r in page]
    mine = _mine(sandbox)
    assert len(rows) == len(mine) and all(set(r) == {"name", "taxPercent"} for r in rows)  # the key was stripped
    assert sorted(r["name"] for r in rows) == sorted(r["name"] for r in mine)
    assert [r["taxPercent"] for r in rows] == sorted((r["taxPercent"] for r in mine), reverse=True)
    gets = _gets(sandbox)
    assert all("order=taxPercent.desc%2Cid.asc" in g for g in gets) and "offset=25" in gets[1]


def test_pages_in_descending_key_order_and_with_a_limit(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 10
    ids = sorted((r["id"] for r in _mine(sandbox)), reverse=True)
    got = [r["id"] for p in client.iter_pages("customer", select=["id"], order="id.desc", page_size=30) for r in p]
    assert got == ids
    limited = [r["id"] for p in client.iter_pages("customer", select="id", order=["id.desc"], limit=23) for r in p]
    assert limited == ids[:23]


def test_pages_with_filters(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 7
    rows = [r for p in client.iter_pages("customer", select=["id", "taxPercent"],
                                         filters=["taxPercent=gte.0.1"]) for r in p]
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in _mine(sandbox) if r["taxPercent"] >= 0.1)


def _new_rows(sb: Sandbox, prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"name": f"{prefix} {i:03d}", "companyId": sb.company_id} for i in range(n)]


def test_keyset_pages_while_rows_are_inserted_meanwhile(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 20
    before = {r["id"] for r in _mine(sandbox)}
    seen: list[str] = []
    for n, page in enumerate(client.iter_pages("customer", select=["id", "name"])):
        seen += [r["id"] for r in page]
        if n < 3:  # another user inserts rows between our pages; their random ids land before and after us
            client.insert("customer", _new_rows(sandbox, f"Meanwhile {n}", 15))
    assert len(seen) == len(set(seen))              # no row twice
    assert before <= set(seen)                      # no row that existed from the start was missed
    assert seen == sorted(seen)


def test_offset_pages_while_rows_are_inserted_before_the_cursor(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 20
    before = {r["id"] for r in _mine(sandbox)}
    seen: list[str] = []
    for n, page in enumerate(client.iter_pages("customer", select=["id", "name"], order="name.asc")):
        seen += [r["id"] for r in page]
        if n < 3:  # these sort first, shifting every later row by 10: the next page repeats rows already seen
            client.insert("customer", _new_rows(sandbox, f"0000 early {n}", 10))
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def test_keyset_pages_count_what_is_left(client: Client, sandbox: Sandbox) -> None:
    # a page exactly as long as what is left ends paging without another request
    pages = list(client.iter_pages("customer", select=["id"], page_size=60))
    assert [len(p) for p in pages] == [60, 60]
    assert len(_gets(sandbox)) == 2


# ------------------------------------------------------------------------------------------------ concurrent pages
def _concurrent_ids(client: Client, **kwargs: Any) -> list[str]:
    return [r["id"] for p in client.iter_pages("customer", select=["id"], concurrency=4, **kwargs) for r in p]


def _planned(rows: int, page: int) -> int:
    """Requests of a concurrent read: the first page, then pages that overlap the previous one by a row."""
    return 1 + -(-(rows - page) // (page - 1))


def test_concurrent_pages_every_row_once_under_a_max_rows_cap(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25  # the server serves 25 of the 1000 asked, silently
    ids = _concurrent_ids(client)
    assert ids == sorted(r["id"] for r in _mine(sandbox))  # each row once, in key order
    gets = _gets(sandbox)
    assert len(gets) == _planned(120, 25) == 5  # no more requests than sequential pages here (and no empty page)
    assert all("order=id.asc" in g for g in gets) and sum("offset=" in g for g in gets) == 4
    assert all("id=gte." in g for g in gets[1:])  # offsets count from the latest frontier: the server skips little
    assert "count" not in gets[0]  # (the count travels in a header, not the URL)


def test_concurrent_pages_in_descending_order_with_a_limit(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 20
    ids = sorted((r["id"] for r in _mine(sandbox)), reverse=True)
    assert _concurrent_ids(client, order="id.desc") == ids
    sandbox.requests.clear()
    assert _concurrent_ids(client, order="id.desc", limit=50) == ids[:50]
    assert len(_gets(sandbox)) == _planned(50, 20) == 3  # the last page asks only for the rows still wanted


class _Between(httpx.HTTPTransport):
    """Another user's write made exactly between two of our page requests that are in flight together: the second
    request waits until the first one's answer is in, then `meanwhile` runs, then it goes out. (The sandbox can
    change rows after N requests, but not between two requests that overlap in time.)"""

    def __init__(self, first: str, second: str, meanwhile: Callable[[], None]) -> None:
        super().__init__()
        self.first, self.second, self.meanwhile = first, second, meanwhile
        self.first_done, self.fired = threading.Event(), False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        query = request.url.query.decode()
        if self.second in query and not self.fired:
            self.fired = True
            assert self.first_done.wait(10)
            self.meanwhile()
        response = super().handle_request(request)
        if self.first in query and not self.first_done.is_set():
            response.read()
            self.first_done.set()
        return response


def test_concurrent_pages_bridge_rows_deleted_between_two_pages(sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    before = sorted(r["id"] for r in _mine(sandbox))
    doomed = before[30:32]  # inside page one (read before they go): page two now starts two rows late

    def delete() -> None:
        with Client(sandbox.url, sandbox.api_key) as other:
            other.delete("customer", {"id": in_(doomed)})

    with Client(sandbox.url, sandbox.api_key, transport=_Between("offset=0", "offset=24", delete)) as c:
        ids = [r["id"] for p in c.iter_pages("customer", select=["id"], concurrency=2) for r in p]
    assert ids == before  # the gap was bridged: no row lost, none twice (the two doomed ones were read in time)
    bridges = [g for g in _gets(sandbox) if "id=gt." in g]
    assert len(bridges) == 1 and len(_gets(sandbox)) == _planned(120, 25) + 1


def test_concurrent_pages_drop_rows_repeated_by_an_insert_between_two_pages(sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    before = sorted(r["id"] for r in _mine(sandbox))
    added: list[str] = []

    def insert() -> None:
        with Client(sandbox.url, sandbox.api_key) as other:
            rows = other.insert("customer", _new_rows(sandbox, "Between", 30)).rows
            added.extend(r["id"] for r in rows)

    with Client(sandbox.url, sandbox.api_key, transport=_Between("offset=0", "offset=24", insert)) as c:
        ids = [r["id"] for p in c.iter_pages("customer", select=["id"], concurrency=2) for r in p]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)  # page two starts early: its repeats are dropped
    assert set(before) <= set(ids) <= set(before) | set(added)  # (an added row shows if it was there when its
    assert set(added) & set(ids)                                 # place was read: some were, some were not)


def test_concurrent_pages_drop_repeats_and_reach_rows_inserted_meanwhile(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    before = {r["id"] for r in _mine(sandbox)}
    seen: list[str] = []
    new: list[str] = []
    for n, page in enumerate(client.iter_pages("customer", select=["id"], concurrency=4)):
        seen += [r["id"] for r in page]
        if n == 0:  # 40 rows arrive with random ids, before our frontier (shifting pages) and after it
            new = [r["id"] for r in client.insert("customer", _new_rows(sandbox, "Meanwhile", 40)).rows]
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    frontier = sorted(before)[24]
    assert set(seen) == before | {i for i in new if i > frontier}  # every row ahead of us, none behind twice


@pytest.mark.parametrize("seed", range(3))
def test_concurrent_pages_while_another_user_inserts_and_deletes(client: Client, sandbox: Sandbox,
                                                                 seed: int) -> None:
    sandbox.switches.max_rows = 10 + seed
    sandbox.switches.latency = 0.005 * seed  # different interleavings of our requests with the other user's writes
    before = sorted(r["id"] for r in _mine(sandbox))
    gone: set[str] = set()
    seen: list[str] = []
    with Client(sandbox.url, sandbox.api_key) as other:
        for n, page in enumerate(client.iter_pages("customer", select=["id"], concurrency=3)):
            seen += [r["id"] for r in page]
            if n % 2 == 0 and n < 8:
                doomed = [before[(n * 13 + k * 7 + seed) % len(before)] for k in range(3)]
                other.delete("customer", {"id": in_(doomed)})
                gone.update(doomed)
                other.insert("customer", _new_rows(sandbox, f"Other {n}", 4))
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert set(before) - gone <= set(seen)  # every row that was there throughout, exactly once


def test_concurrent_pages_overlap_in_time_but_never_exceed_the_bound(sandbox: Sandbox) -> None:
    class Gauge(httpx.HTTPTransport):
        def __init__(self) -> None:
            super().__init__()
            self.lock, self.now, self.peak = threading.Lock(), 0, 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                return super().handle_request(request)
            finally:
                with self.lock:
                    self.now -= 1

    sandbox.switches.max_rows = 10
    sandbox.switches.latency = 0.05
    gauge = Gauge()
    with Client(sandbox.url, sandbox.api_key, transport=gauge) as c:
        ids = [r["id"] for p in c.iter_pages("customer", select=["id"], concurrency=3) for r in p]
    assert ids == sorted(r["id"] for r in _mine(sandbox))
    assert 2 <= gauge.peak <= 3
    assert c.requests_made == len(_gets(sandbox)) == _planned(120, 10)


def test_concurrent_pages_survive_a_dropped_connection_and_a_concurrent_edit(sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    sandbox.switches.drop, sandbox.switches.drop_skip = 1, 2  # the third request's connection breaks: retried
    target = sorted(r["id"] for r in _mine(sandbox))[60]
    sandbox.concurrent_edit("customer", target, {"phone": "+1 555 0100"}, after_requests=1)  # as page one arrives
    with Client(sandbox.url, sandbox.api_key) as c:
        rows = [r for p in c.iter_pages("customer", select=["id", "phone"], concurrency=4) for r in p]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in _mine(sandbox))
    assert c.retries == 1 and c.requests_made == _planned(120, 25) + 1
    assert [r["phone"] for r in rows if r["id"] == target] == ["+1 555 0100"]  # read after the edit, once


def test_concurrent_pages_are_paced_by_the_rate_limiter(sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    sandbox.switches.rate_limit, sandbox.switches.rate_window = 3, 1.0
    with Client(sandbox.url, sandbox.api_key) as c:
        ids = [r["id"] for p in c.iter_pages("customer", select=["id"], concurrency=4) for r in p]
    assert ids == sorted(r["id"] for r in _mine(sandbox))
    assert c.retries == 0 and c.limiter.waited > 0  # slowed down by the headers, never refused


# ------------------------------------------------------------------------------------------------ writes
def test_insert_returns_rows_and_counts(client: Client, sandbox: Sandbox) -> None:
    rows = [{"name": "Alpha Widgets", "companyId": sandbox.company_id, "phone": "+44 20 0000"},
            {"name": "Beta Widgets", "companyId": sandbox.company_id, "taxPercent": 0.2}]  # keys differ: columns=
    result = client.insert("customer", rows)
    assert isinstance(result, WriteResult) and result.count == 2 and result.status == 201
    alpha, beta = result.rows
    assert alpha["id"].startswith("cust_") and alpha["readableId"].startswith("CUS")
    assert alpha["phone"] == "+44 20 0000" and alpha["taxPercent"] == 0 and alpha["tags"] == []  # defaults
    assert beta["taxPercent"] == 0.2 and beta["phone"] is None
    assert {"return=representation", "missing=default"} <= result.preference_applied
    assert client.count("customer") == 122

    quiet = client.insert("customer", [{"name": "Gamma", "companyId": sandbox.company_id}], returning=False)
    assert (quiet.rows, quiet.count) == ([], 1)
    n = len(sandbox.requests)
    assert client.insert("customer", []) == WriteResult([], 0)
    assert len(sandbox.requests) == n               # nothing to send: no request


def test_insert_without_missing_default_sends_null(client: Client, sandbox: Sandbox) -> None:
    rows = [{"name": "Delta", "companyId": sandbox.company_id, "taxPercent": 0.1}, {"name": "Epsilon",
                                                                                   "companyId": sandbox.company_id}]
    with pytest.raises(ApiError) as info:
        client.insert("customer", rows, missing_default=False)
    assert info.value.code == "23502" and "taxPercent" in info.value.sentence
    assert client.count("customer", {"name": "in.(Delta,Epsilon)"}) == 0   # all or none


def test_update_counts_and_rows(client: Client, sandbox: Sandbox) -> None:
    targets = sorted(r["id"] for r in _mine(sandbox))[:3]
    result = client.update("customer", [("id", in_(targets))], {"phone": "+1 555 0100"})
    assert result.count == 3 and sorted(r["id"] for r in result.rows) == targets
    assert all(r["phone"] == "+1 555 0100" for r in result.rows)
    quiet = client.update("customer", {"id": in_(targets)}, {"fax": "+1"}, returning=False)
    assert (quiet.rows, quiet.count, quiet.status) == ([], 3, 204)
    uncounted = client.update("customer", {"id": in_(targets)}, {"fax": "+2"}, returning=False, count=False)
    assert uncounted.count is None
    none = client.update("customer", {"id": "eq.cust_nope"}, {"fax": "+3"})
    assert (none.rows, none.count) == ([], 0)
    with pytest.raises(ValueError, match="give a filter"):
        client.update("customer", [], {"fax": "+4"})


def test_max_affected_rolls_back(client: Client, sandbox: Sandbox) -> None:
    targets = sorted(r["id"] for r in _mine(sandbox))[:3]
    with pytest.raises(ApiError) as info:
        client.update("customer", {"id": in_(targets)}, {"phone": "changed"}, max_affected=2)
    assert (info.value.status, info.value.code) == (400, "PGRST124")
    assert "nothing was changed" in info.value.sentence
    assert not any(r["phone"] == "changed" for r in _mine(sandbox))
    assert client.update("customer", {"id": in_(targets)}, {"phone": "ok"}, max_affected=3).count == 3


def test_delete_counts_and_rows(client: Client, sandbox: Sandbox) -> None:
    made = client.insert("customer", _new_rows(sandbox, "Doomed", 4)).rows
    ids = [r["id"] for r in made]
    gone = client.delete("customer", {"id": in_(ids[:2])})
    assert (gone.count, gone.rows) == (2, [])
    gone = client.delete("customer", [("id", in_(ids[2:]))], returning=True)
    assert gone.count == 2 and sorted(r["id"] for r in gone.rows) == sorted(ids[2:])
    assert client.count("customer", {"id": in_(ids)}) == 0
    with pytest.raises(ValueError):
        client.delete("customer", None)


def test_long_in_lists_split_under_the_url_budget(sandbox: Sandbox) -> None:
    budget = 700
    with Client(settings=Settings(base_url=sandbox.url, api_key=sandbox.api_key, url_budget=budget)) as c:
        ids = [r["id"] for r in _mine(sandbox)]
        params = [("select", "id")]
        got: list[str] = []
        for chunk in c.split_in("customer", "id", ids, params):
            rows, _ = c.get("customer", [*params, ("id", in_(chunk))])
            got += [r["id"] for r in rows]
    assert sorted(got) == sorted(ids)
    gets = _gets(sandbox)
    assert len(gets) > 3 and all(len(sandbox.url) + len(g) <= budget for g in gets)


def test_tx_rollback_probe_trusts_only_preference_applied(client: Client, sandbox: Sandbox) -> None:
    assert client.probe_tx_rollback() is False      # ignored, as the real server does by default
    result = client.insert("customer", [{"name": "Committed anyway", "companyId": sandbox.company_id}],
                           tx_rollback=True)
    assert "tx=rollback" not in result.preference_applied
    assert client.count("customer", {"name": "eq.Committed anyway"}) == 1
    sandbox.switches.allow_tx_override = True
    assert client.probe_tx_rollback() is True
    result = client.insert("customer", [{"name": "Rolled back", "companyId": sandbox.company_id}], tx_rollback=True)
    assert "tx=rollback" in result.preference_applied and result.rows[0]["name"] == "Rolled back"
    assert client.count("customer", {"name": "eq.Rolled back"}) == 0
    assert len(_mine(sandbox)) == 121


# ------------------------------------------------------------------------------------------------ errors
def test_duplicate_name(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ApiError) as info:
        client.insert("customer", [{"name": "Acme Dup", "companyId": sandbox.company_id}] * 2)
    e = info.value
    assert (e.status, e.code, e.method) == (409, "23505", "POST")
    assert e.sentence == "a customer named 'Acme Dup' already exists"
    assert "duplicate key" in e.message and e.details is not None and "Acme Dup" in e.details
    assert e.url is not None and e.url.startswith(f"{sandbox.url}/customer?columns=")
    assert str(e).startswith("HTTP 409: a customer named 'Acme Dup' already exists [23505] (POST ")
    assert e.to_dict()["code"] == "23505" and not e.retryable
    assert client.count("customer", {"name": "eq.Acme Dup"}) == 0


def test_name_with_comma_in_duplicate_details(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ApiError) as info:
        client.insert("customer", [{"name": "Smith, Jones & Co. Ltd.", "companyId": sandbox.company_id}])
    assert info.value.sentence == "a customer named 'Smith, Jones & Co. Ltd.' already exists"


def test_unknown_reference(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ApiError) as info:
        client.insert("customer", [{"name": "Refless", "companyId": sandbox.company_id, "customerTypeId": "ct_nope"}])
    e = info.value
    assert (e.status, e.code) == (409, "23503")
    assert e.sentence == "customerTypeId 'ct_nope' refers to no customerType row (unknown reference)"


def test_delete_of_a_referenced_row(client: Client, sandbox: Sandbox) -> None:
    contact = sandbox.rows("customerContact")[0]
    client.update("customer", {"id": eq(contact["customerId"])}, {"salesContactId": contact["id"]})
    with pytest.raises(ApiError) as info:
        client.delete("customerContact", {"id": eq(contact["id"])})
    assert (info.value.status, info.value.code) == (409, "23503")
    assert "still used by customer rows" in info.value.sentence


@pytest.mark.parametrize(("body", "status", "code", "sentence"), [
    ({"name": None}, 400, "23502", "name is required but was empty (missing required column)"),
    ({"taxPercent": 20}, 400, "23514", "taxPercent must be between 0 and 1 (a fraction: 0.2 means 20 %)"),
    ({"taxPercent": "twenty"}, 400, "22P02", "a value has the wrong form for its column: invalid input syntax"),
    ({"colour": "red"}, 400, "PGRST204", "the server has no such column: Could not find the 'colour' column"),
])
def test_bad_data_sentences(client: Client, sandbox: Sandbox, body: dict[str, Any], status: int, code: str,
                            sentence: str) -> None:
    row = _one(client, sandbox)
    with pytest.raises(ApiError) as info:
        client.update("customer", {"id": eq(row["id"])}, body)
    e = info.value
    assert (e.status, e.code, e.method) == (status, code, "PATCH")
    assert e.sentence.startswith(sentence)


def test_scopes_and_row_level_security(sandbox: Sandbox) -> None:
    with Client(sandbox.url, sandbox.keys["readonly"]) as c, pytest.raises(ApiError) as info:
        c.insert("customer", [{"name": "Nope", "companyId": sandbox.company_id}])
    assert (info.value.status, info.value.code) == (403, "42501") and "lacks the scope" in info.value.sentence
    with Client(sandbox.url, sandbox.keys["other"]) as c:
        assert c.count("customer") == 25                          # only its own company's rows
        with pytest.raises(ApiError) as info:
            c.insert("customer", [{"name": "Intruder", "companyId": sandbox.company_id}])
    assert info.value.code == "42501" and "row-level security" in info.value.sentence


def test_query_errors(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ApiError) as info:   # bulk body whose keys differ, sent without columns=
        client.request("POST", "/customer", json=[{"name": "A", "companyId": sandbox.company_id}, {"name": "B"}])
    assert (info.value.status, info.value.code) == (400, "PGRST102") and "same keys" in info.value.sentence
    with pytest.raises(ApiError) as info:
        client.get("customer", [("offset", "500"), ("limit", "10")], count=True)
    assert (info.value.status, info.value.code) == (416, "PGRST103") and "past the end" in info.value.sentence
    with pytest.raises(ApiError) as info:
        client.request("GET", "/customer", params=[("limit", "2")],
                       headers={"Accept": "application/vnd.pgrst.object+json"})
    assert (info.value.status, info.value.code) == (406, "PGRST116") and "exactly one row" in info.value.sentence
    with pytest.raises(ApiError) as info:
        client.get("customer", [("name", "almost.Acme")])
    assert (info.value.status, info.value.code) == (400, "PGRST100") and "could not parse" in info.value.sentence


def test_content_range_parsing() -> None:
    assert parse_content_range("0-24/3573") == (0, 24, 3573)
    assert parse_content_range("*/12") == (None, None, 12)
    assert parse_content_range("0-24/*") == (0, 24, None)
    assert parse_content_range(None) == (None, None, None)


# ------------------------------------------------------------------------------------------------ quoting round trip
_NAMES = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30) | \
    st.text(alphabet=st.sampled_from(list(',.:()"\\ +%&=#?*{}\'é株\t')), min_size=1, max_size=12) | \
    st.sampled_from(["null", "true", "", " ", "a,b", '"', "\\", "()", "+44 20", "in.(x)", "eq.1", "a\\\"b"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES)
@example(name="")
@example(name="null")
@example(name='O\'Brien "Tools" (Cork), Ltd.: a\\b')
@example(name=" +44 20 7946 0000 ")
@example(name="in.(x,y)")
def test_any_text_survives_the_filter_parser(client: Client, sandbox: Sandbox, name: str) -> None:
    """Update a row's name to `name`, then find exactly that row by ``in.(...)``, ``or=(...)`` and ``eq.``."""
    mine = sorted(_mine(sandbox), key=lambda r: r["id"])
    row, other = mine[0], mine[1]
    assume(name not in {r["name"] for r in mine[1:]})
    updated = client.update("customer", {"id": eq(row["id"])}, {"name": name})
    assert updated.count == 1 and updated.rows[0]["name"] == name
    select = ("select", "id,name")
    rows, _ = client.get("customer", [select, ("name", in_([name, other["name"]]))])
    assert sorted(r["id"] for r in rows) == sorted([row["id"], other["id"]])
    rows, _ = client.get("customer", [select, ("or", or_([("name", "eq", name), ("name", "in", [name, "\\"])]))])
    assert rows == [{"id": row["id"], "name": name}]
    rows, _ = client.get("customer", [select, ("name", eq(name))])
    assert rows == [{"id": row["id"], "name": name}]


def test_plus_sign_is_not_a_space(client: Client) -> None:
    rows, _ = client.get("customer", [("select", "name"), ("name", eq("+44 Imports"))])
    assert rows == [{"name": "+44 Imports"}]
    rows, _ = client.get("customer", [("select", "name"), ("name", in_(["+44 Imports", " 44 Imports"]))])
    assert rows == [{"name": "+44 Imports"}]


def test_requests_go_over_one_keep_alive_connection(sandbox: Sandbox) -> None:
    opened: list[tuple[str, int]] = []
    transport = httpx.HTTPTransport()
    backend = transport._pool._network_backend  # type: ignore[attr-defined]
    connect = backend.connect_tcp

    def counting(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        opened.append((host, port))
        return connect(host, port, *args, **kwargs)

    backend.connect_tcp = counting
    with Client(sandbox.url, sandbox.api_key, transport=transport) as c:
        for _ in range(5):
            c.count("customer")
    assert c.requests_made == 5 and opened == [("127.0.0.1", sandbox.port)]

"""Bulk updates (issue 16, part 3): rows each with a value of their own in two requests per batch (a read and an
upsert), as an informed choice beside the default guarded PATCH per distinct body.

Through the sandbox: request counts, a row changed between plan and apply is a conflict in both paths, a row
deleted between the bulk read and the write does not come back, resume after a dropped batch neither loses nor
duplicates, undo reverts, and a key that may not insert falls back to guarded PATCHes with one line.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bulkio.api.client import Client
from bulkio.cli.app import app
from bulkio.errors import ApplyError
from bulkio.plan import FieldChange, Kind, Plan, RowPlan
from bulkio.resources import CUSTOMER
from bulkio.run.apply import apply, pace_note, resume, update_requests
from bulkio.run.journal import Journal
from bulkio.run.results import Status
from bulkio.run.undo import undo
from bulkio.sandbox import Sandbox
from bulkio.validate.report import ValidationReport

from ..commands import cli_env, exported
from ..workbooks import cell


class _NoSleep:
    def __call__(self, seconds: float) -> None:
        return None


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    """The session's sandbox, reset (120 customers of the main company)."""
    return sandbox


def _client(sb: Sandbox, key: str | None = None, transport: httpx.BaseTransport | None = None) -> Client:
    return Client(sb.url, key or sb.api_key, sleep=_NoSleep(), transport=transport)


def _mine(sb: Sandbox) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in sb.rows() if r["companyId"] == sb.company_id}


def _targets(sb: Sandbox, n: int) -> list[dict[str, Any]]:
    """`n` customers that may also be deleted (no intercompany trigger)."""
    rows = [r for r in _mine(sb).values() if r["intercompanyCompanyId"] is None]
    assert len(rows) >= n
    return sorted(rows, key=lambda r: r["id"])[:n]


def _phone_plan(rows: list[dict[str, Any]], tag: str = "new") -> Plan:
    """What `plan` makes of a sheet giving each row a phone number of its own: a guarded update per row (the
    plan's machinery is tested elsewhere; here the rows are the point)."""
    updates = tuple(
        RowPlan(Kind.UPDATE, r["id"], i + 2, r["name"], (FieldChange("phone", r["phone"], f"+1 {tag} {i:04d}"),),
                body={"phone": f"+1 {tag} {i:04d}"}, guard={"phone": r["phone"]})
        for i, r in enumerate(rows))
    return Plan(resource=CUSTOMER, source="phones.xlsx", sheet=None, rows=updates, unchanged=(), three_way=False,
                delete_missing=False, skip_invalid=False, issues=ValidationReport(()), warnings=(), server_hash="",
                fetched=(), created_at=datetime.now(UTC).isoformat(timespec="seconds"), host="sandbox")


def _methods(sb: Sandbox, since: int) -> list[str]:
    return [m for m, _ in sb.requests[since:]]


# ------------------------------------------------------------------------------------------------ requests
def test_distinct_values_take_two_requests_per_batch(sb: Sandbox, tmp_path: Path) -> None:
    rows = _targets(sb, 100)
    result = _phone_plan(rows)
    with _client(sb) as client:
        assert update_requests(client, result, 50) == 100  # the default: a guarded PATCH per distinct body
        assert update_requests(client, result, 50, bulk_updates=True) == math.ceil(100 / 50) * 2
        start, seen = client.requests_made, len(sb.requests)
        results = apply(client, result, batch_size=50, root=tmp_path, bulk_updates=True)
        assert client.requests_made - start == results.requests == 4
    assert sorted(_methods(sb, seen)) == ["GET", "GET", "POST", "POST"]  # a read and an upsert per batch
    assert results.complete and len(results.of(Status.UPDATED)) == 100 and not results.warnings
    after = _mine(sb)
    for i, r in enumerate(rows):
        now = after[r["id"]]
        assert now["phone"] == f"+1 new {i:04d}" and now["updatedAt"] is not None
        assert {k: v for k, v in now.items() if k not in ("phone", "updatedAt")} == \
            {k: v for k, v in r.items() if k not in ("phone", "updatedAt")}  # nothing else written
    assert len(after) == len(_mine(sb))


def test_rows_changing_other_columns_go_in_their_own_batch(sb: Sandbox, tmp_path: Path) -> None:
    """An upsert writes every column it lists: rows that change different columns are never sent together, so no
    row is given back a value it was not meant to change."""
    a, b = _targets(sb, 2)
    both = _phone_plan([a])
    website = RowPlan(Kind.UPDATE, b["id"], 3, b["name"], (FieldChange("website", b["website"], "w.example"),),
                      body={"website": "w.example"}, guard={"website": b["website"]})
    both.rows = (*both.rows, website)
    with _client(sb) as client:
        results = apply(client, both, root=tmp_path, bulk_updates=True)
    assert results.requests == 4 and len(results.of(Status.UPDATED)) == 2
    after = _mine(sb)
    assert after[a["id"]]["website"] == a["website"] and after[b["id"]]["phone"] == b["phone"]


# ------------------------------------------------------------------------------------------------ guards
@pytest.mark.parametrize("bulk", [False, True], ids=["guarded PATCH", "bulk"])
def test_a_row_changed_between_plan_and_apply_is_a_conflict(sb: Sandbox, tmp_path: Path, bulk: bool) -> None:
    rows = _targets(sb, 6)
    result = _phone_plan(rows)
    sb.concurrent_edit("customer", rows[3]["id"], {"phone": "+1 theirs"})
    with _client(sb) as client:
        results = apply(client, result, root=tmp_path, bulk_updates=bulk)
    conflicts = results.of(Status.CONFLICT)
    assert [r.key for r in conflicts] == [rows[3]["id"]] and "changed on the server" in (conflicts[0].error or "")
    assert len(results.of(Status.UPDATED)) == 5
    assert _mine(sb)[rows[3]["id"]]["phone"] == "+1 theirs"  # never overwritten


class _DeleteAfterRead(httpx.BaseTransport):
    """Forwards to the sandbox; right after the bulk read (a GET by ``id=in.``) comes back, deletes `victim` through
    the sandbox's API, as another user would in that moment.

    Why a transport and not a sandbox switch: the sandbox's concurrent editor (`Sandbox.concurrent_edit`) only
    changes rows' values; it cannot delete one, and nothing else in the sandbox acts between two requests of a
    client. The delete itself is a real request to the sandbox, so the server's state is real.
    """

    def __init__(self, sb: Sandbox, victim: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.sb, self.victim, self.fired = sb, victim, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.fired and request.method == "GET" and "id=in." in str(request.url):
            response.read()
            self.fired = True
            with httpx.Client(base_url=self.sb.url, headers={"Authorization": f"Bearer {self.sb.api_key}"}) as other:
                assert other.delete("/customer", params={"id": f"eq.{self.victim}"}).status_code == 204
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_row_deleted_between_the_bulk_read_and_write_does_not_come_back(sb: Sandbox, tmp_path: Path) -> None:
    rows = _targets(sb, 5)
    victim = rows[2]["id"]
    result = _phone_plan(rows)
    seen = len(sb.requests)
    with _client(sb, transport=_DeleteAfterRead(sb, victim)) as client:
        results = apply(client, result, root=tmp_path, bulk_updates=True)
    assert victim not in _mine(sb)  # the upsert inserted it again; it was deleted at once
    outcome = next(r for r in results.rows if r.key == victim)
    assert outcome.status is Status.CONFLICT and "deleted on the server" in (outcome.error or "")
    assert len(results.of(Status.UPDATED)) == 4
    assert [m for m in _methods(sb, seen)] == ["GET", "DELETE", "POST", "DELETE"]  # read, theirs, upsert, ours
    undone = [u for u in Journal(results.folder).undo_records() if u["kind"] == "updated"]
    assert victim not in {row["key"] for u in undone for row in u["rows"]}


# ------------------------------------------------------------------------------------------------ resume
@pytest.mark.parametrize("after_commit", [True, False], ids=["dropped after commit", "dropped before"])
def test_resume_after_a_dropped_bulk_batch_neither_loses_nor_duplicates(sb: Sandbox, tmp_path: Path,
                                                                        after_commit: bool) -> None:
    rows = _targets(sb, 20)
    result = _phone_plan(rows)
    before = len(_mine(sb))
    sb.switches.drop, sb.switches.drop_after_commit = 1, after_commit
    sb.switches.drop_methods = frozenset({"POST"})
    with _client(sb) as client:
        with pytest.raises(ApplyError, match="--resume") as info:
            apply(client, result, batch_size=10, concurrency=1, root=tmp_path, bulk_updates=True)
        stopped = info.value.results
        assert stopped is not None and not stopped.complete
        seen = len(sb.requests)
        finished = resume(client, stopped.run_id, root=tmp_path)
    assert finished.complete and len(finished.of(Status.UPDATED)) == 20
    posts = _methods(sb, seen).count("POST")
    assert posts == (1 if after_commit else 2)  # the committed batch is not sent again
    after = _mine(sb)
    assert len(after) == before
    assert [after[r["id"]]["phone"] for r in rows] == [f"+1 new {i:04d}" for i in range(20)]


def test_resume_deletes_a_row_the_dropped_upsert_brought_back(sb: Sandbox, tmp_path: Path) -> None:
    rows = _targets(sb, 4)
    victim = rows[1]["id"]
    sb.switches.drop, sb.switches.drop_after_commit = 1, True
    sb.switches.drop_methods = frozenset({"POST"})
    with _client(sb, transport=_DeleteAfterRead(sb, victim)) as client, pytest.raises(ApplyError) as info:
        apply(client, _phone_plan(rows), root=tmp_path, bulk_updates=True)
    assert victim in _mine(sb)  # the upsert committed, its answer was lost: the row is back for now
    with _client(sb) as client:
        finished = resume(client, info.value.results.run_id, root=tmp_path)
    assert victim not in _mine(sb)
    outcome = next(r for r in finished.rows if r.key == victim)
    assert outcome.status is Status.CONFLICT and len(finished.of(Status.UPDATED)) == 3


# ------------------------------------------------------------------------------------------------ undo
@pytest.mark.parametrize("bulk_undo", [False, True], ids=["undo by PATCH", "undo in bulk"])
def test_undo_reverts_bulk_updates(sb: Sandbox, tmp_path: Path, bulk_undo: bool) -> None:
    rows = _targets(sb, 12)
    with _client(sb) as client:
        done = apply(client, _phone_plan(rows), root=tmp_path, bulk_updates=True)
        reverted = undo(client, done.run_id, root=tmp_path, bulk_updates=bulk_undo)
    assert len(reverted.of(Status.UPDATED)) == 12
    after = _mine(sb)
    assert [after[r["id"]]["phone"] for r in rows] == [r["phone"] for r in rows]
    if bulk_undo:
        assert reverted.requests <= 3  # the undo's read of the rows, then one read and one upsert


# ------------------------------------------------------------------------------------------------ fallback
def test_a_key_without_insert_rights_falls_back_to_guarded_patches(sb: Sandbox, tmp_path: Path) -> None:
    rows = _targets(sb, 3)
    seen = len(sb.requests)
    with _client(sb, sb.keys["nocreate"]) as client:
        results = apply(client, _phone_plan(rows), root=tmp_path, bulk_updates=True)
    assert results.complete and len(results.of(Status.UPDATED)) == 3
    assert len(results.warnings) == 1 and "guarded PATCH" in results.warnings[0] and "insert" in results.warnings[0]
    assert _methods(sb, seen) == ["GET", "POST", "PATCH", "PATCH", "PATCH"]
    assert [_mine(sb)[r["id"]]["phone"] for r in rows] == [f"+1 new {i:04d}" for i in range(3)]


# ------------------------------------------------------------------------------------------------ the CLI's note
def test_the_pace_note_names_the_bulk_option_when_updates_are_many(sb: Sandbox) -> None:
    with _client(sb) as client:
        assert pace_note(client, _phone_plan(_targets(sb, 50))) is None
        note = pace_note(client, _phone_plan(_targets(sb, 90)))
        assert note is not None
        assert "90 requests" in note and "2 min at 60 requests a minute" in note and "--bulk-updates" in note
        assert "just before the write, not in it" in note


@pytest.mark.usefixtures("in_tmp")
def test_bulkio_apply_names_the_bulk_option_and_applies_with_it(sb: Sandbox, tmp_path: Path) -> None:
    """The whole round trip as a user makes it: export, 60 phones each its own, ``bulkio apply`` (which says how
    long the PATCHes would take and names ``--bulk-updates``), then ``bulkio apply --bulk-updates``."""
    env = cli_env(sb)
    path = exported(sb, tmp_path / "c.xlsx", {(row, "phone"): f"+44 20 7946 {row:04d}" for row in range(2, 62)})
    runner = CliRunner()
    asked = runner.invoke(app, ["apply", str(path)], env=env, input="n\n")
    assert "60 requests" in asked.output and "--bulk-updates" in asked.output, asked.output
    assert "just before the write, not in it" in asked.output
    seen = len(sb.requests)
    done = runner.invoke(app, ["apply", str(path), "--yes", "--bulk-updates"], env=env)
    assert done.exit_code == 0, done.output
    writes = [m for m, _ in sb.requests[seen:] if m != "GET"]
    assert writes == ["POST"]  # one upsert for the 60 rows (batch 500, one read under the URL budget)
    assert _mine(sb)[cell(path, 30, "id")]["phone"] == "+44 20 7946 0030"


class _IgnoresResolution(httpx.BaseTransport):
    """A server that does not know ``Prefer: resolution`` (an old PostgREST, a proxy that drops it): the upsert
    arrives as a plain INSERT. The sandbox honours the preference, so the header is dropped on the way."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        prefer = ", ".join(p for p in request.headers.get("prefer", "").split(", ") if not p.startswith("resolution"))
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "prefer"]
        return self.inner.handle_request(httpx.Request(request.method, request.url, headers=[*headers,
                                                       ("prefer", prefer)], content=request.read()))

    def close(self) -> None:
        self.inner.close()


def test_a_server_that_ignores_the_resolution_gets_guarded_patches(sb: Sandbox, tmp_path: Path) -> None:
    rows = _targets(sb, 4)
    before = len(_mine(sb))
    with _client(sb, transport=_IgnoresResolution()) as client:
        results = apply(client, _phone_plan(rows), root=tmp_path, bulk_updates=True)
    assert len(results.of(Status.UPDATED)) == 4 and len(results.warnings) == 1
    assert "resolution=merge-duplicates" in results.warnings[0]
    assert len(_mine(sb)) == before


@pytest.mark.usefixtures("in_tmp")
def test_bulkio_apply_says_when_bulk_updates_fell_back(sb: Sandbox, tmp_path: Path) -> None:
    """The fallback's one line reaches the person at the terminal, beside the run's counts."""
    env = cli_env(sb, key=sb.keys["nocreate"])
    path = exported(sb, tmp_path / "c.xlsx", {(row, "phone"): f"+44 20 7946 {row:04d}" for row in range(2, 5)})
    done = CliRunner().invoke(app, ["apply", str(path), "--yes", "--bulk-updates"], env=env)
    assert done.exit_code == 0, done.output
    assert "warning:" in done.output and "guarded PATCH" in done.output, done.output

"""The lean plan (issue 16): with an export snapshot, the plan reads from the server only what its decisions need,
so its requests follow the edit, not the export; the server's changes to untouched rows are still reported where the
table has updatedAt; ``full_read`` keeps the old full read; the stale check reads only the rows the plan writes.

Through a sandbox of 2,000 customers (more than one page), edited as a user leaves a sheet."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bulkio.api.catalog import resource_for
from bulkio.api.client import Client
from bulkio.config import Settings
from bulkio.export.table import export_table
from bulkio.plan import Kind, Plan, plan
from bulkio.plan.fetch import CLOCK_MARGIN, changed_since
from bulkio.run.apply import apply
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import Sheet, read_sheet
from bulkio.sheets.write import write_csv, write_workbook
from bulkio.validate.report import IssueCode

ROWS = 2000
LOOKUP_TABLES = 4  # customerType, customerStatus, user, currencyCode: one request each, read before the plan's own


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=ROWS, seed=11) as sb:
        yield sb


@pytest.fixture
def sb(big_sandbox: Sandbox) -> Sandbox:
    big_sandbox.reset()
    return big_sandbox


def _client(sb: Sandbox, **settings: Any) -> Client:
    return Client(settings=Settings.load(base_url=sb.url, api_key=sb.api_key).with_(**settings))


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with _client(sb) as c:
        yield c


def _export(client: Client, path: Path, table: str = "customer", **kwargs: Any) -> Sheet:
    resource = resource_for(client, table)
    return read_sheet(write_workbook(export_table(client, resource, **kwargs), path), resource)


@pytest.fixture
def exported(client: Client, tmp_path: Path) -> Sheet:
    return _export(client, tmp_path / "c.xlsx")


def _edited(sheet: Sheet, edits: Mapping[int, Mapping[str, Any]] | None = None, *, deletes: Iterable[int] = (),
            creates: Iterable[Mapping[str, Any]] = (), drop: Iterable[int] = ()) -> Sheet:
    """The sheet as a user leaves it: cells changed ({position: {column: value}}), rows marked ``_action =
    delete``, rows added at the end and rows removed."""
    frame = sheet.frame.copy().astype(object)
    for position, cells in (edits or {}).items():
        for name, value in cells.items():
            frame.at[position, name] = value
    if "_action" not in frame:
        frame["_action"] = None
    for position in deletes:
        frame.at[position, "_action"] = "delete"
    rows = list(sheet.rows)
    new = list(creates)
    if new:
        frame = pd.concat([frame, pd.DataFrame(new, columns=frame.columns).astype(object)], ignore_index=True)
        rows += range(rows[-1] + 1, rows[-1] + 1 + len(new))
    gone = set(drop)
    keep = [p for p in range(len(frame)) if p not in gone]
    frame = frame.iloc[keep].reset_index(drop=True)
    frame = frame.where(frame.notna(), None)
    return Sheet(sheet.file, sheet.sheet, sheet.resource, frame, [rows[p] for p in keep], sheet.meta, sheet.base, [])


def _key(sheet: Sheet, position: int) -> str:
    return str(sheet.frame.at[position, "id"])


def _reads(sb: Sandbox, start: int, table: str = "customer") -> list[str]:
    return [p for m, p in sb.requests[start:] if m == "GET" and p.startswith(f"/{table}?")]


def _server(sb: Sandbox, key: str) -> dict[str, Any]:
    return next(r for r in sb.rows() if r["id"] == key)


def _phones(positions: Iterable[int]) -> dict[int, dict[str, Any]]:
    return {p: {"phone": f"+44 20 7946 {p:05d}"} for p in positions}


def _creates(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"name": f"Lean Plan New Customer {i:04d} Ltd", "taxPercent": 0.2} for i in range(start, start + count)]


# ------------------------------------------------------------------------------------------------ requests
@pytest.mark.parametrize("page_size", [1000, 100])
def test_the_plan_reads_what_the_sheet_changes_not_the_export(sb: Sandbox, tmp_path: Path, page_size: int) -> None:
    # the issue's edit at 2,000 rows: 1% of the rows each with its own phone, 20 deletes, 20 creates
    with _client(sb, page_size=page_size) as client:
        sheet = _edited(_export(client, tmp_path / "c.xlsx"), _phones(range(0, ROWS, 100)),
                        deletes=range(1, 21), creates=_creates(20))
        start = len(sb.requests)
        lean = plan(client, sheet)
        (read,) = _reads(sb, start)  # ids, the new rows' names and the rows changed since the export, at once
        assert "id.in." in read and "name.in." in read and "updatedAt.gt." in read
        counts = lean.counts()
        assert (counts[Kind.UPDATE], counts[Kind.DELETE], counts[Kind.CREATE]) == (20, 20, 20)
        assert counts[Kind.UNCHANGED] == ROWS - 40 and not lean.errors
        assert lean.requests == LOOKUP_TABLES + 1  # whatever the export's size
        full = plan(client, sheet, full_read=True)  # every row: pages of the export, or ids when fewer requests
        assert full.requests >= LOOKUP_TABLES + min(ROWS // page_size, 10) and full.counts() == counts


def test_an_edit_bigger_than_the_export_filter_reads_the_filter(client: Client, sb: Sandbox, exported: Sheet) -> None:
    # 1,000 ids take 6 requests; the export's 2,000 rows 2 pages: the cheaper way is taken
    sheet = _edited(exported, _phones(range(0, ROWS, 2)))
    start = len(sb.requests)
    result = plan(client, sheet)
    reads = _reads(sb, start)
    assert len(reads) == 2 and not any("id.in." in p or "id=in." in p for p in reads)
    assert result.counts()[Kind.UPDATE] == ROWS // 2 and result.requests == LOOKUP_TABLES + 2


def test_every_request_url_keeps_under_the_budget(sb: Sandbox, tmp_path: Path) -> None:
    budget = 2000
    with _client(sb, url_budget=budget, page_size=100) as client:
        exported = _export(client, tmp_path / "c.xlsx")
        sheet = _edited(exported, _phones(range(0, 600, 2)), deletes=range(1, 40, 2),
                        creates=_creates(30))
        start = len(sb.requests)
        result = plan(client, sheet)
        reads = _reads(sb, start)
    assert len(reads) > 3 and all(len(sb.url) + len(p) <= budget for p in reads)
    counts = result.counts()
    assert (counts[Kind.UPDATE], counts[Kind.DELETE], counts[Kind.CREATE]) == (300, 20, 30)


def test_a_new_rows_name_the_server_holds_is_found_in_the_same_read(client: Client, sb: Sandbox,
                                                                   exported: Sheet) -> None:
    taken = "Renamed Meanwhile Ltd"
    sb.concurrent_edit("customer", _key(exported, 7), {"name": taken})  # not in the sheet: only the server has it
    sheet = _edited(exported, _phones([3]), creates=[{"name": taken}, *_creates(1)])
    start = len(sb.requests)
    result = plan(client, sheet, skip_invalid=True)
    assert len(_reads(sb, start)) == 1
    (error,) = result.errors
    assert error.code is IssueCode.EXISTS_ON_SERVER and error.value == taken
    assert [r.kind for r in result.rows if r.key is None] == [Kind.SKIPPED, Kind.CREATE]


def test_a_two_way_plan_says_what_reading_every_row_cost(client: Client, sb: Sandbox, tmp_path: Path) -> None:
    path = write_csv(export_table(client, "customer"), tmp_path / "c.csv")
    result = plan(client, path, resource="customer")
    (note,) = [w for w in result.warnings if "request" in w]
    assert f"every row with the server ({result.requests - LOOKUP_TABLES} request(s) for {ROWS} ids)" in note
    assert "without an export snapshot" in note


# ------------------------------------------------------------------------------------------------ server changes
def test_a_server_change_to_an_untouched_row_is_kept_and_never_written(client: Client, sb: Sandbox,
                                                                       exported: Sheet, tmp_path: Path) -> None:
    untouched = _key(exported, 500)
    exported_site = exported.frame.at[500, "website"]
    sb.concurrent_edit("customer", untouched, {"website": "https://theirs.example.com"})
    result = plan(client, _edited(exported, _phones([10])))
    assert result.requests == LOOKUP_TABLES + 1
    row = next(r for r in result.rows if r.key == untouched)
    assert row.kind is Kind.UNCHANGED and row.row == exported.rows[500]
    assert [(k.column, k.before, k.base) for k in row.kept] == [("website", "https://theirs.example.com",
                                                                 exported_site)]
    counts = result.counts()
    assert (counts[Kind.UPDATE], counts[Kind.UNCHANGED]) == (1, ROWS - 1)
    assert result.unchanged[0][0] == _key(exported, 0)  # in sheet order, as a full read lists them
    start = len(sb.requests)
    apply(client, result, root=tmp_path)
    writes = [p for m, p in sb.requests[start:] if m != "GET"]
    assert writes and not any(untouched in p for p in writes)
    assert _server(sb, untouched)["website"] == "https://theirs.example.com"


def test_a_row_both_changed_is_a_conflict(client: Client, sb: Sandbox, exported: Sheet) -> None:
    key = _key(exported, 10)
    sb.concurrent_edit("customer", key, {"phone": "+1 555 0199"})
    (conflict,) = plan(client, _edited(exported, _phones([10]))).of(Kind.CONFLICT)
    (change,) = conflict.changes
    assert conflict.key == key and (change.before, change.after) == ("+1 555 0199", "+44 20 7946 00010")


def test_rows_deleted_on_the_server_are_found_among_the_rows_read(client: Client, sb: Sandbox,
                                                                  exported: Sheet) -> None:
    edited, untouched = _key(exported, 10), _key(exported, 11)
    client.delete("customer", [("id", f"in.({edited},{untouched})")])
    result = plan(client, _edited(exported, _phones([10])))
    (conflict,) = result.of(Kind.CONFLICT)
    assert conflict.key == edited and "deleted on the server" in conflict.reason
    # an untouched row deleted meanwhile is not looked for: nothing would be written to it (full_read finds it)
    assert (untouched, exported.rows[11]) in result.unchanged
    assert {r.key for r in plan(client, _edited(exported, _phones([10])), full_read=True).of(Kind.CONFLICT)} == {
        edited, untouched}


def test_within_a_filtered_export_the_changes_are_read_within_its_filter(sb: Sandbox, tmp_path: Path) -> None:
    with _client(sb, page_size=50) as client:
        exported = _export(client, tmp_path / "c.xlsx", where=["currencyCode=eq.EUR"])
        assert len(exported.frame) > 150  # several pages: the lean read is cheaper
        untouched = _key(exported, 40)
        sb.concurrent_edit("customer", untouched, {"logo": "theirs.png"})
        start = len(sb.requests)
        result = plan(client, _edited(exported, _phones([3])))
        by_ids, changed = _reads(sb, start)
    assert "id.in." in by_ids and "updatedAt.gt" not in by_ids  # ids are read wherever they are now
    assert "currencyCode=eq.EUR" in changed and "updatedAt=gt." in changed
    row = next(r for r in result.rows if r.key == untouched)
    assert [(k.column, k.before) for k in row.kept] == [("logo", "theirs.png")]


def test_the_changes_are_read_from_before_the_export_with_a_margin_for_clocks(exported: Sheet) -> None:
    assert exported.meta is not None
    since = changed_since(exported)
    assert since is not None
    stamp = datetime.fromisoformat(exported.meta["exported_at"])
    assert datetime.fromisoformat(since) == stamp - CLOCK_MARGIN
    assert CLOCK_MARGIN.total_seconds() >= 5 * 60  # clocks a few minutes apart


def test_a_change_made_while_the_export_was_read_is_reported(sb: Sandbox, tmp_path: Path) -> None:
    with _client(sb, page_size=100) as client:
        first = min(r["id"] for r in sb.rows() if r["companyId"] == sb.company_id)  # on the first page
        sb.concurrent_edit("customer", first, {"logo": "meanwhile.png"}, after_requests=8)  # 20 pages to read
        exported = _export(client, tmp_path / "c.xlsx")
        assert exported.frame.at[0, "id"] == first and exported.frame.at[0, "logo"] != "meanwhile.png"
        result = plan(client, _edited(exported, _phones([5])))
    row = next(r for r in result.rows if r.key == first)
    assert [(k.column, k.before) for k in row.kept] == [("logo", "meanwhile.png")]


def test_a_table_without_updated_at_says_its_server_changes_are_not_reported(sb: Sandbox, tmp_path: Path) -> None:
    with _client(sb, page_size=2) as client:
        exported = _export(client, tmp_path / "s.xlsx", "supplier")
        assert len(exported.frame) > 4
        theirs = _key(exported, 3)
        column = "phone" if "phone" in exported.frame else "name"
        sb.concurrent_edit("supplier", theirs, {column: "+1 555 0123"})
        sheet = _edited(exported, {1: {column: "+1 555 0100"}})
        lean = plan(client, sheet)
        full = plan(client, sheet, full_read=True)
    (note,) = [w for w in lean.warnings if "updatedAt" in w]
    assert "supplier has no updatedAt" in note and "full_read" in note
    assert not any(r.kept for r in lean.rows)
    assert [(r.key, [k.column for k in r.kept]) for r in full.rows if r.kept] == [(theirs, [column])]
    assert lean.counts() == full.counts()


# ------------------------------------------------------------------------------------------------ the same plan
def _shape(result: Plan) -> tuple[Any, ...]:
    rows = [(r.kind, r.key, r.row, r.label, r.changes, r.kept, r.body, r.guard, r.reason) for r in result.rows]
    issues = [(i.row, i.column, i.code, i.message) for i in result.issues.issues]
    return rows, list(result.unchanged), issues, result.fetched, result.server_hash


def test_full_read_and_lean_make_the_same_plan(client: Client, sb: Sandbox, exported: Sheet) -> None:
    both, theirs, kept_only, doomed, changed_doomed = (_key(exported, p) for p in (20, 21, 22, 30, 31))
    sb.concurrent_edit("customer", both, {"phone": "+1 555 0001"})  # edited in the sheet too: a conflict
    sb.concurrent_edit("customer", theirs, {"website": "https://theirs.example.com"})  # another column: kept
    sb.concurrent_edit("customer", kept_only, {"logo": "theirs.png"})  # untouched in the sheet: kept
    sb.concurrent_edit("customer", changed_doomed, {"fax": "+1 555 0002"})  # to delete: a conflict
    taken = "Renamed Meanwhile Ltd"
    sb.concurrent_edit("customer", _key(exported, 50), {"name": taken})  # untouched: kept; a create: refused
    sheet = _edited(exported, {**_phones([5, 20, 21]), 6: {"taxPercent": 42}, 7: {"tags": "lean, full"}},
                    deletes=[30, 31], creates=[*_creates(2), {"name": taken}], drop=[40, 41])
    lean = plan(client, sheet, delete_missing=True, skip_invalid=True)
    full = plan(client, sheet, delete_missing=True, skip_invalid=True, full_read=True)
    assert _shape(lean) == _shape(full)
    counts = lean.counts()
    assert (counts[Kind.UPDATE], counts[Kind.CONFLICT], counts[Kind.DELETE], counts[Kind.CREATE],
            counts[Kind.SKIPPED]) == (3, 2, 3, 2, 2)
    assert {r.key for r in lean.rows if r.kept} == {theirs, kept_only, _key(exported, 50)}
    assert doomed in lean.fetched and _key(exported, 40) in lean.fetched  # a delete, and a row dropped
    assert lean.requests < full.requests


# ------------------------------------------------------------------------------------------------ is_stale
def test_is_stale_reads_and_covers_only_the_rows_the_plan_writes(client: Client, sb: Sandbox,
                                                                 exported: Sheet) -> None:
    sheet = _edited(exported, _phones(range(5)), deletes=[7], creates=_creates(1))
    result = plan(client, sheet)
    assert set(result.fetched) == {_key(exported, p) for p in (0, 1, 2, 3, 4, 7)}
    start = len(sb.requests)
    assert not result.is_stale(client)
    (read,) = _reads(sb, start)
    assert "id=in." in read
    sb.concurrent_edit("customer", _key(exported, 100), {"logo": "theirs.png"})  # a row the plan leaves alone
    assert not result.is_stale(client)
    sb.concurrent_edit("customer", _key(exported, 7), {"website": "https://moved.example.com"})  # its delete
    assert result.is_stale(client)


def test_a_plan_that_writes_nothing_is_never_stale_and_costs_nothing(client: Client, sb: Sandbox,
                                                                    exported: Sheet) -> None:
    result = plan(client, exported)
    assert not result.has_changes and result.requests == LOOKUP_TABLES + 1  # the rows changed since the export
    sb.concurrent_edit("customer", _key(exported, 3), {"logo": "theirs.png"})
    start = len(sb.requests)
    assert not result.is_stale(client) and len(sb.requests) == start

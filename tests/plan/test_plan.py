"""The dry-run plan on real workbooks against the sandbox: every kind, three-way and two-way, and the reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from bulkio.api.client import Client
from bulkio.config import Settings
from bulkio.errors import ValidationFailed
from bulkio.export.table import export_table
from bulkio.plan import Kind, Plan, Unchanged, plan
from bulkio.plan.fetch import key_requests
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_csv, write_workbook
from bulkio.validate.report import IssueCode

from ..workbooks import cell, edit_sheet, header


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def _export(client: Client, path: Path, **kwargs: Any) -> Path:
    return write_workbook(export_table(client, "customer", **kwargs), path)


def _edit(path: Path, edits: dict[tuple[int, str], Any], *, append: list[dict[str, Any]] | None = None,
          drop_rows: list[int] | None = None) -> Path:
    return edit_sheet(path, edits, append=append or (), drop_rows=drop_rows or ())


def _mine(sandbox: Sandbox, client: Client) -> list[dict[str, Any]]:
    return [r for r in sandbox.rows() if r["companyId"] == client.company_id()]


def _server(sandbox: Sandbox, key: str) -> dict[str, Any]:
    return next(r for r in sandbox.rows() if r["id"] == key)


# ------------------------------------------------------------------------------------------------ nothing changed
def test_an_untouched_export_plans_to_zero_changes(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    before = len(sandbox.requests)
    result = plan(client, _export(client, tmp_path / "c.xlsx"))
    assert result.three_way and not result.has_changes and not result.has_conflicts and not result.errors
    assert result.counts()[Kind.UNCHANGED] == len(_mine(sandbox, client))
    assert all(method == "GET" for method, _ in sandbox.requests[before:])  # a plan never writes


def test_an_untouched_csv_export_plans_to_zero_changes_two_way(client: Client, tmp_path: Path) -> None:
    path = write_csv(export_table(client, "customer"), tmp_path / "c.csv")
    result = plan(client, path, resource="customer")
    assert not result.three_way and not result.has_changes and result.counts()[Kind.UNCHANGED] > 100
    assert any("two-way" in w or "server only" in w for w in result.warnings)


# ------------------------------------------------------------------------------------------------ each kind
def test_update_lists_only_the_changed_columns_with_before_and_after(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    key, old_phone = cell(path, 2, "id"), cell(path, 2, "phone")
    _edit(path, {(2, "phone"): "+44 20 7946 0000", (2, "taxPercent"): "17.5%"})
    result = plan(client, path)
    (row,) = result.of(Kind.UPDATE)
    assert (row.key, row.row) == (key, 2)
    assert {c.column: (c.before, c.after) for c in row.changes}["phone"] == (old_phone, "+44 20 7946 0000")
    assert row.body["taxPercent"] == 0.175 and set(row.body) == {"phone", "taxPercent"}
    assert row.guard["phone"] == old_phone  # compare-and-set on the value the user saw


def test_labels_are_planned_as_ids(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    key = cell(path, 3, "id")
    current = _server(sandbox, key)["customerStatusId"]
    statuses = {r["name"]: r["id"] for r in sandbox.rows("customerStatus") if r["companyId"] ==
                _server(sandbox, key)["companyId"]}
    other = next(name for name, ident in statuses.items() if ident != current)
    _edit(path, {(3, "customerStatusId"): other})
    (row,) = plan(client, path).of(Kind.UPDATE)
    assert row.body == {"customerStatusId": statuses[other]}


def test_create_delete_and_unchanged(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    doomed = cell(path, 5, "id")
    _edit(path, {(5, "_action"): "delete"},
          append=[{"name": "Brand New Ltd", "tags": "new, vip", "taxPercent": 0.1, "customFields.region": "North"}])
    result = plan(client, path)
    (create,) = result.of(Kind.CREATE)
    assert create.key is None and create.body == {"name": "Brand New Ltd", "tags": ["new", "vip"], "taxPercent": 0.1,
                                                  "customFields": {"region": "North"}}
    (delete,) = result.of(Kind.DELETE)
    assert delete.key == doomed and delete.row == 5
    assert result.counts()[Kind.UNCHANGED] == len(_mine(sandbox, client)) - 1


def test_a_custom_field_edit_patches_the_whole_object_guarded_by_it(client: Client, sandbox: Sandbox,
                                                                    tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    columns = header(openpyxl.load_workbook(path)["customer"])
    custom = sorted(name for name in columns if str(name).startswith("customFields."))
    assert custom
    row_number = next(r for r in range(2, 60) if _server(sandbox, cell(path, r, "id"))["customFields"])
    key = cell(path, row_number, "id")
    server_fields = _server(sandbox, key)["customFields"]
    _edit(path, {(row_number, custom[0]): "edited"})
    (row,) = plan(client, path).of(Kind.UPDATE)
    expected = {**server_fields, custom[0].split(".", 1)[1]: "edited"}
    assert row.body == {"customFields": expected} and row.guard == {"customFields": server_fields}


def test_a_custom_field_edited_from_false_to_0_is_an_update(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    # False == 0 in Python: grouped as one value, the second edit below went unplanned (the sheet's 0 was taken
    # for the exported False)
    first = _export(client, tmp_path / "first.xlsx")
    zero, false = cell(first, 2, "id"), cell(first, 3, "id")
    sandbox.concurrent_edit("customer", zero, {"customFields": {"flag": 0}})
    sandbox.concurrent_edit("customer", false, {"customFields": {"flag": False}})
    client.count("customer")
    path = _export(client, tmp_path / "c.xlsx")
    assert (cell(path, 2, "id"), cell(path, 3, "id")) == (zero, false)
    _edit(path, {(2, "customFields.flag"): 5, (3, "customFields.flag"): 0})
    updates = {r.key: r.body for r in plan(client, path).of(Kind.UPDATE)}
    assert updates[zero]["customFields"]["flag"] == 5
    assert updates[false]["customFields"]["flag"] == 0 and updates[false]["customFields"]["flag"] is not False


def test_a_concurrent_edit_of_the_same_column_is_a_conflict(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    key, exported_name = cell(path, 4, "id"), cell(path, 4, "name")
    _edit(path, {(4, "name"): "Mine Ltd"})
    sandbox.concurrent_edit("customer", key, {"name": "Theirs Ltd"})
    client.count("customer")  # the editor strikes on the next request
    result = plan(client, path)
    (conflict,) = result.of(Kind.CONFLICT)
    (change,) = conflict.changes
    assert (change.base, change.before, change.after) == (exported_name, "Theirs Ltd", "Mine Ltd")
    assert "both changed name" in conflict.reason and not result.of(Kind.UPDATE)


def test_a_conflict_shows_the_exported_value_as_an_api_value(client: Client, sandbox: Sandbox,
                                                             tmp_path: Path) -> None:
    # plan.json, to_frame and the reports promise API values for base, before and after: a list, not "a, b"; the
    # text "12", not its cell '"12"'
    key = _mine(sandbox, client)[3]["id"]
    sandbox.concurrent_edit("customer", key, {"tags": ["a", "b"], "customFields": {"code": "12"}})
    client.count("customer")
    path = _export(client, tmp_path / "c.xlsx")
    row = next(r for r in range(2, 400) if cell(path, r, "id") == key)
    _edit(path, {(row, "tags"): "mine", (row, "customFields.code"): "13"})
    sandbox.concurrent_edit("customer", key, {"tags": ["theirs"], "customFields": {"code": "14"}})
    client.count("customer")
    (conflict,) = plan(client, path).of(Kind.CONFLICT)
    shown = {c.column: (c.base, c.before, c.after) for c in conflict.changes}
    assert shown == {"tags": (["a", "b"], ["theirs"], ["mine"]), "customFields.code": ("12", "14", 13)}


def test_a_server_only_change_is_kept_and_listed(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    key = cell(path, 6, "id")
    _edit(path, {(6, "website"): "https://mine.example.com"})
    sandbox.concurrent_edit("customer", key, {"phone": "+1 555 0100"})
    client.count("customer")
    (row,) = plan(client, path).of(Kind.UPDATE)
    assert set(row.body) == {"website"}  # the server's phone is not overwritten with the exported one
    assert [(k.column, k.before) for k in row.kept] == [("phone", "+1 555 0100")]


def test_a_server_list_whose_items_hold_commas_is_a_change(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    # ["a", "b"] shows as "a, b"; ["a, b"] (one item) joins to the same text but is another list (its cell is JSON)
    key = _mine(sandbox, client)[4]["id"]
    sandbox.concurrent_edit("customer", key, {"tags": ["a", "b"]})
    client.count("customer")
    path = _export(client, tmp_path / "c.xlsx")
    row = next(r for r in range(2, 400) if cell(path, r, "id") == key)
    assert cell(path, row, "tags") == "a, b"
    _edit(path, {(row, "website"): "https://mine.example.com"})
    sandbox.concurrent_edit("customer", key, {"tags": ["a, b"]})
    client.count("customer")
    (update,) = plan(client, path).of(Kind.UPDATE)
    assert set(update.body) == {"website"}
    assert [(k.column, k.before) for k in update.kept] == [("tags", ["a, b"])]  # the server's change, seen


def test_the_same_change_on_both_sides_is_no_change(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {(7, "logo"): "same.png"})
    sandbox.concurrent_edit("customer", cell(path, 7, "id"), {"logo": "same.png"})
    client.count("customer")
    result = plan(client, path)
    assert not result.has_changes and not result.has_conflicts


def test_a_row_deleted_on_the_server_is_a_conflict(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    key = cell(path, 8, "id")
    _edit(path, {(8, "logo"): "x.png"})
    client.delete("customer", [("id", f"eq.{key}")])
    (conflict,) = plan(client, path).of(Kind.CONFLICT)
    assert conflict.key == key and "deleted on the server" in conflict.reason


def test_deleting_a_row_the_server_changed_is_a_conflict(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    key = cell(path, 9, "id")
    _edit(path, {(9, "_action"): "delete"})
    sandbox.concurrent_edit("customer", key, {"website": "https://changed.example.com"})
    client.count("customer")
    result = plan(client, path)
    assert not result.of(Kind.DELETE) and result.of(Kind.CONFLICT)[0].key == key


# ------------------------------------------------------------------------------------------------ delete-missing
def test_missing_rows_are_deleted_only_when_asked(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    gone = cell(path, 10, "id")
    _edit(path, {}, drop_rows=[10])
    assert not plan(client, path).of(Kind.DELETE)
    (delete,) = plan(client, path, delete_missing=True).of(Kind.DELETE)
    assert delete.key == gone and delete.row is None


def test_delete_missing_never_reaches_outside_the_exported_filter(client: Client, sandbox: Sandbox,
                                                                  tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx", where=["currencyCode=eq.EUR"])
    book = openpyxl.load_workbook(path)
    rows = book["customer"].max_row
    _edit(path, {}, drop_rows=list(range(3, rows + 1)))  # keep one row of the filtered export
    result = plan(client, path, delete_missing=True)
    eur = [r for r in sandbox.rows() if r["currencyCode"] == "EUR" and r["companyId"] == client.company_id()]
    assert len(result.of(Kind.DELETE)) == len(eur) - 1
    assert {r.key for r in result.of(Kind.DELETE)} <= {r["id"] for r in eur}


def test_limited_export_deletes_only_rows_it_held(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx", limit=5)
    _edit(path, {}, drop_rows=[2])
    assert len(plan(client, path, delete_missing=True).of(Kind.DELETE)) == 1


def test_delete_missing_without_a_snapshot_is_refused(client: Client, tmp_path: Path) -> None:
    path = write_csv(export_table(client, "customer"), tmp_path / "c.csv")
    with pytest.raises(ValueError, match="snapshot"):
        plan(client, path, resource="customer", delete_missing=True)


# ------------------------------------------------------------------------------------------------ invalid rows
def test_invalid_rows_are_skipped_and_block_unless_asked(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {(2, "taxPercent"): 20, (3, "phone"): "+1 555 0199"})
    result = plan(client, path)
    assert [r.row for r in result.of(Kind.SKIPPED)] == [2] and len(result.of(Kind.UPDATE)) == 1
    assert result.blocked
    with pytest.raises(ValidationFailed, match="row 2"):
        result.check_applicable()
    lenient = plan(client, path, skip_invalid=True)
    assert not lenient.blocked and lenient.of(Kind.SKIPPED)[0].reason


def test_server_checks_unknown_id_and_existing_name(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    taken = cell(path, 2, "name")
    _edit(path, {(3, "id"): "cust_doesNotExist"}, append=[{"name": taken}], drop_rows=[2])
    result = plan(client, path)
    codes = {i.code for i in result.errors}
    assert {IssueCode.UNKNOWN_KEY, IssueCode.EXISTS_ON_SERVER} <= codes
    assert len(result.of(Kind.SKIPPED)) == 2


def test_delete_without_an_id_is_an_error(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {}, append=[{"name": "Nobody Yet", "_action": "delete"}])
    result = plan(client, path)
    assert any(i.code is IssueCode.BAD_ACTION and "no id" in i.message for i in result.errors)


# ------------------------------------------------------------------------------------------------ requests
def test_the_server_is_read_by_the_exports_filter_when_that_is_cheaper(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key) as client:
        path = _export(client, tmp_path / "c.xlsx")
    for budget, by_ids in ((6000, False), (1500, False)):
        settings = Settings.load(base_url=sandbox.url, api_key=sandbox.api_key).with_(url_budget=budget)
        with Client(settings=settings) as client:
            before = len(sandbox.requests)
            result = plan(client, path)
            paths = [p for _, p in sandbox.requests[before:]]
            assert result.requests == len(paths)
            fetches = [p for p in paths if p.startswith("/customer?") and "name=in." not in p]
            assert len(fetches) == 1 and ("id=in." in fetches[0]) is by_ids  # one page of the filter


def test_counting_id_requests_stops_once_the_filter_is_known_cheaper(client: Client) -> None:
    # cutting the URLs of 100,000 ids takes a second: the plan only needs to know which way is cheaper
    ids = [f"cust_{i:08d}" for i in range(5000)]
    every = key_requests(client, CUSTOMER, ids, ["id", "name"])
    assert every > 10
    assert key_requests(client, CUSTOMER, ids, ["id", "name"], beyond=3) == 4  # one past, so "more than 3" is known
    assert key_requests(client, CUSTOMER, ids, ["id", "name"], beyond=every) == every


def test_ids_outside_the_filter_are_fetched_by_id(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key) as client:
        path = _export(client, tmp_path / "c.xlsx", where=["currencyCode=eq.EUR"])
        outside = next(r for r in _mine(sandbox, client) if r["currencyCode"] != "EUR")
        import bulkio

        shown = bulkio.export(client, "customer", filters=[f"id=eq.{outside['id']}"]).iloc[0]
        columns = header(openpyxl.load_workbook(path)["customer"])
        writable = set(CUSTOMER.writable_columns) | {"id"}
        record = {name: (None if pd.isna(shown[name]) else shown[name]) for name in columns
                  if name in shown.index and (name in writable or str(name).startswith("customFields."))}
        _edit(path, {}, append=[{**record, "logo": "moved.png"}])
        before = len(sandbox.requests)
        result = plan(client, path)
        assert any("id=in." in p for _, p in sandbox.requests[before:])
        (row,) = result.of(Kind.UPDATE)
        assert row.key == outside["id"] and row.body == {"logo": "moved.png"}


def test_a_dataframe_can_be_planned_two_way(client: Client) -> None:
    import bulkio

    frame = bulkio.export(client, "customer")
    frame.loc[0, "website"] = "https://frame.example.com"
    result = plan(client, frame, resource="customer")
    (row,) = result.of(Kind.UPDATE)
    assert row.body == {"website": "https://frame.example.com"} and not result.three_way


# ------------------------------------------------------------------------------------------------ batches and guards
def test_identical_patches_share_one_batch_whatever_their_guards(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {(r, "logo"): "brand.png" for r in range(2, 12)} | {(12, "logo"): "other.png"})
    result = plan(client, path)
    updates = result.of(Kind.UPDATE)
    assert len({json.dumps(r.guard) for r in updates}) > 1  # the rows had different logos before
    batches = [b for b in result.batches() if b.kind is Kind.UPDATE]
    assert sorted(len(b.rows) for b in batches) == [1, 10]


def test_is_stale_sees_a_server_change_to_a_row_it_writes(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {(2, "logo"): "a.png"})
    result = plan(client, path)
    assert not result.is_stale(client)
    sandbox.concurrent_edit("customer", cell(path, 5, "id"), {"logo": "b.png"})  # a row the plan leaves alone
    client.count("customer")
    assert not result.is_stale(client)
    sandbox.concurrent_edit("customer", cell(path, 2, "id"), {"phone": "+1 555 0100"})  # the row it updates
    client.count("customer")
    assert result.is_stale(client)


# ------------------------------------------------------------------------------------------------ reports
@pytest.fixture
def mixed(client: Client, sandbox: Sandbox, tmp_path: Path) -> Plan:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {(2, "phone"): "+1 555 0101", (3, "_action"): "delete", (4, "name"): "Mine Ltd",
                 (5, "taxPercent"): 42},
          append=[{"name": "Created Ltd"}])
    sandbox.concurrent_edit("customer", cell(path, 4, "id"), {"name": "Theirs Ltd"})
    client.count("customer")
    return plan(client, path, skip_invalid=True)


def test_to_frame_has_one_row_per_changed_field(mixed: Plan) -> None:
    frame = mixed.to_frame()
    assert set(frame["kind"]) == {"update", "delete", "conflict", "create", "skipped"}
    update = frame[frame["kind"] == "update"].iloc[0]
    assert (update["column"], update["after"], update["row"]) == ("phone", "+1 555 0101", 2)


def test_to_json_is_stable_and_complete(mixed: Plan, tmp_path: Path) -> None:
    document = json.loads(mixed.to_json(tmp_path / "plan.json"))
    assert document["schema"] == 1 and document["mode"] == "three-way"
    assert document["counts"]["conflict"] == 1 and document["counts"]["skipped"] == 1
    assert {r["kind"] for r in document["rows"]} >= {"update", "delete", "conflict", "create", "skipped"}
    assert json.loads((tmp_path / "plan.json").read_text()) == document
    assert any(i["code"] == "out_of_range" for i in document["issues"])


def test_to_markdown_and_html(mixed: Plan) -> None:
    markdown = mixed.to_markdown()
    assert "| conflict | 1 |" in markdown and "Theirs Ltd" in markdown and "## update" in markdown
    page = mixed._repr_html_()
    assert "<details" in page and "Theirs Ltd" in page and "1 conflict" in page


def test_markdown_is_capped(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {(r, "logo"): f"logo{r}.png" for r in range(2, 40)})
    assert "... 28 more" in plan(client, path).to_markdown(limit=10)


def test_markdown_counts_rows_without_an_id_one_by_one(client: Client, tmp_path: Path) -> None:
    """Skipped new rows have no key: the heading counted them as one row (found trying a CRM list as a new user)."""
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {}, append=[{"name": f"Broken New Ltd {n}", "taxPercent": 20} for n in range(4)])
    markdown = plan(client, path, skip_invalid=True).to_markdown()
    assert "## skipped (4 rows)" in markdown


def test_to_excel_puts_before_and_after_side_by_side(mixed: Plan, tmp_path: Path) -> None:
    path = mixed.to_excel(tmp_path / "plan.xlsx")
    book = openpyxl.load_workbook(path)
    assert {"Summary", "update", "delete", "conflict", "create", "skipped"} <= set(book.sheetnames)
    sheet = book["update"]
    header = [c.value for c in sheet[1]]
    assert header[header.index("before") + 1] == "after"
    after = sheet.cell(row=2, column=header.index("after") + 1)
    assert after.value == "+1 555 0101" and after.fill.fgColor.rgb.endswith("FFF2CC")


def test_is_stale_reads_only_the_rows_the_plan_writes(client: Client, sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    _edit(path, {(2, "logo"): "a.png"})
    result = plan(client, path)
    assert result.fetched == (cell(path, 2, "id"),)
    start = len(sandbox.requests)
    assert not result.is_stale(client)
    reads = [p for _, p in sandbox.requests[start:]]
    assert len(reads) == 1 and f"id=in.%28{cell(path, 2, 'id')}%29" in reads[0]  # the one row it would write


def test_unchanged_rows_read_as_key_and_row_pairs() -> None:
    unchanged = Unchanged(["a", "b", "c"], [2, 3, 4]) + [("gone", 0)]  # noqa: RUF005 (Unchanged.__add__ is tested)
    assert len(unchanged) == 4 and list(unchanged) == [("a", 2), ("b", 3), ("c", 4), ("gone", 0)]
    assert unchanged[1] == ("b", 3) and unchanged[-1] == ("gone", 0) and list(unchanged[1:3]) == [("b", 3), ("c", 4)]
    assert unchanged == [("a", 2), ("b", 3), ("c", 4), ("gone", 0)] and unchanged != [("a", 2)]
    assert isinstance(unchanged[0][1], int) and Unchanged() == () and not Unchanged()
    with pytest.raises(ValueError):
        Unchanged(["a"], [])


def test_reports_show_a_reference_by_its_label_while_the_plan_keeps_the_id(client: Client, tmp_path: Path) -> None:
    path = _export(client, tmp_path / "c.xlsx")
    types = {r["name"]: r["id"] for page in client.iter_pages("customerType", select=["id", "name"]) for r in page}
    now = cell(path, 2, "customerTypeId")
    other = next(name for name in sorted(types) if name != now)
    _edit(path, {(2, "customerTypeId"): other})
    result = plan(client, path)
    [update] = result.of(Kind.UPDATE)
    assert update.body == {"customerTypeId": types[other]}  # what apply sends: the id
    shown = result.to_frame().set_index("column").loc["customerTypeId"]
    assert (shown["before"], shown["after"]) == (now, other)  # what people read: the names
    assert types[other] not in result.to_markdown() and f"| {other} |" in result.to_markdown()
    assert f"<ins>{other}</ins>" in result.to_html() and types[other] not in result.to_html()
    assert result.labels == {"customerTypeId": {types[now]: now, types[other]: other}}

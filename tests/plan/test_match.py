"""Sheets from other systems planned through the sandbox (issue 17): rows matched on a natural key, headers read
as columns, `only`, the blank rule both ways, partial sheets, and the requests matching costs."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import bulkio
from bulkio.api.client import Client
from bulkio.errors import ConfigError, WorkbookError
from bulkio.export.table import export_table
from bulkio.plan import Kind, plan
from bulkio.plan.match import match_keys, parse_match
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_csv, write_workbook
from bulkio.validate.report import IssueCode

from ..workbooks import edit_sheet

MAP = {"Customer Name": "name", "Tel": "phone"}


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def _mine(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sorted((r for r in sandbox.rows() if r["companyId"] == sandbox.company_id), key=lambda r: r["readableId"])


def _by_id(sandbox: Sandbox, key: str) -> dict[str, Any]:
    return next(r for r in sandbox.rows() if r["id"] == key)


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_customer_keys_are_name_and_readable_id() -> None:
    assert match_keys(CUSTOMER) == [("name",), ("readableId",)]
    assert parse_match("name", CUSTOMER) == (("name",), None)
    with pytest.raises(ConfigError, match=r"phone is not a unique key of customer; it has: name, readableId"):
        parse_match("phone", CUSTOMER)
    with pytest.raises(ConfigError, match="no column 'nmae'"):
        parse_match("nmae", CUSTOMER)
    with pytest.raises(ConfigError, match="the table's key"):
        parse_match("id", CUSTOMER)


def test_matched_rows_update_missed_rows_create(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    first, second = _mine(sandbox)[:2]
    path = _csv(tmp_path / "crm.csv", ["Customer Name", "Tel"],
                [[first["name"], "+44 20 7946 0001"], ["Brand New GmbH", "+49 30 1234 5678"],
                 [second["name"], second["phone"]]])
    result = plan(client, path, resource="customer", match="name", mapping=MAP)
    assert result.counts()[Kind.UPDATE] == 1 and result.counts()[Kind.CREATE] == 1
    update = result.of(Kind.UPDATE)[0]
    assert (update.key, update.row, update.label) == (first["id"], 2, first["name"])
    assert [(c.column, c.before, c.after) for c in update.changes] == [("phone", first["phone"], "+44 20 7946 0001")]
    assert (second["id"], 4) in list(result.unchanged)
    assert result.of(Kind.CREATE)[0].label == "Brand New GmbH"
    notes = "\n".join(result.warnings)
    assert "matched on name: 2 row(s) to existing customer rows (rows 2, 4); 1 row(s) matched nothing (rows 3)" \
        in notes
    assert "'Customer Name' -> name (mapped)" in notes and "blank cells leave fields as they are" in notes
    bulkio.apply(client, result)
    after = _by_id(sandbox, first["id"])
    assert after["phone"] == "+44 20 7946 0001" and after["taxPercent"] == first["taxPercent"]
    assert any(r["name"] == "Brand New GmbH" for r in _mine(sandbox))
    again = plan(client, path, resource="customer", match="name", mapping=MAP)
    assert not again.has_changes  # the same list imported twice: nothing left to do


def test_matching_is_case_and_space_exact(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    name = _mine(sandbox)[0]["name"]
    path = _csv(tmp_path / "c.csv", ["name", "phone"], [[name.upper(), "+1 555 0100"],
                                                        [f"  {name}  ", "+1 555 0101"]])
    result = plan(client, path, resource="customer", match="name")
    create, update = result.of(Kind.CREATE), result.of(Kind.UPDATE)
    assert [r.row for r in create] == [2] and [r.row for r in update] == [3]  # cells are trimmed, as every cell


def test_a_key_two_sheet_rows_share_is_an_error_at_both(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    row = _mine(sandbox)[0]
    path = _csv(tmp_path / "c.csv", ["readableId", "phone"], [[row["readableId"], "+1"], ["CUS999999", "+2"],
                                                              [row["readableId"], "+3"]])
    result = plan(client, path, resource="customer", match="readableId")
    errors = [(i.row, i.code, i.message) for i in result.errors if i.code is IssueCode.DUPLICATE_MATCH]
    assert [(r, c) for r, c, _ in errors] == [(2, IssueCode.DUPLICATE_MATCH), (4, IssueCode.DUPLICATE_MATCH)]
    assert "also on row 4" in errors[0][2] and "also on row 2" in errors[1][2]
    assert result.blocked and not result.of(Kind.UPDATE)
    assert any(i.code is IssueCode.MISSING_COLUMN for i in result.errors)  # CUS999999 would be new: no name
    updates = plan(client, path, resource="customer", match="readableId", only="update")
    assert [i.code for i in updates.errors] == [IssueCode.DUPLICATE_MATCH] * 2  # new rows are not wanted
    named = _csv(tmp_path / "n.csv", ["name", "phone"], [[row["name"], "+1"], [row["name"], "+2"]])
    codes = [(i.row, i.code) for i in plan(client, named, resource="customer", match="name").errors]
    assert codes == [(2, IssueCode.DUPLICATE_NAME), (3, IssueCode.DUPLICATE_NAME)]  # said once, by validation


def test_a_key_matching_several_server_rows_is_an_error_never_a_pick(sandbox: Sandbox, client: Client,
                                                                      tmp_path: Path) -> None:
    suppliers = [r for r in sandbox.rows("supplier") if r["companyId"] == sandbox.company_id]
    by_currency: dict[str, list[str]] = {}
    for r in suppliers:
        by_currency.setdefault(r["currencyCode"], []).append(r["id"])
    shared = next(c for c, ids in by_currency.items() if len(ids) > 1)
    path = _csv(tmp_path / "s.csv", ["Currency Code", "Phone"], [[shared, "+44 1"]])
    result = plan(client, path, resource="supplier", match="currencyCode")
    issue = next(i for i in result.errors if i.code is IssueCode.AMBIGUOUS_MATCH)
    assert issue.row == 2 and f"matches {len(by_currency[shared])} supplier rows" in issue.message
    assert by_currency[shared][0] in issue.message or by_currency[shared][1] in issue.message
    assert any("declares no unique key" in w for w in result.warnings)  # OpenAPI shows no UNIQUE constraint
    assert not result.has_changes


def test_a_key_of_several_columns(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    supplier = next(r for r in sandbox.rows("supplier") if r["companyId"] == sandbox.company_id)
    path = _csv(tmp_path / "s.csv", ["name", "currencyCode", "phone"],
                [[supplier["name"], supplier["currencyCode"], "+44 20 7946 0042"],
                 [supplier["name"], "XXX" if supplier["currencyCode"] != "XXX" else "YYY", "+44 1"]])
    result = plan(client, path, resource="supplier", match="name,currencyCode")
    update = result.of(Kind.UPDATE)[0]
    assert (update.key, update.row) == (supplier["id"], 2)
    assert update.label == f"{supplier['name']} / {supplier['currencyCode']}"  # no natural key: the match key
    assert [r.row for r in result.rows if r.kind is not Kind.UPDATE] == [3]  # the same name, another currency
    assert any("matched on name+currencyCode: 1 row(s)" in w for w in result.warnings)


def test_a_partial_sheet_is_labelled_by_its_match_key(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    row = _mine(sandbox)[3]
    path = _csv(tmp_path / "c.csv", ["Readable ID", "website"], [[row["readableId"], "https://new.example.com"]])
    result = plan(client, path, resource="customer", match="readableId")
    update = result.of(Kind.UPDATE)[0]
    assert (update.key, update.label) == (row["id"], row["readableId"])
    assert result.to_frame()["label"].tolist() == [row["readableId"]]
    assert "'Readable ID' -> readableId (loose)" in "\n".join(result.warnings)


def test_only_restricts_what_a_plan_does(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    row = _mine(sandbox)[0]
    path = _csv(tmp_path / "c.csv", ["name", "phone"], [[row["name"], "+1 555 0100"], ["Brand New Ltd", "+1"]])
    updates = plan(client, path, resource="customer", match="name", only="update")
    assert [r.kind for r in updates.rows] == [Kind.UPDATE, Kind.SKIPPED]
    assert updates.rows[1].reason == "no customer on the server has this name, and only update was allowed"
    assert "only update: 1 row(s) that would create/delete were skipped" in updates.warnings
    creates = plan(client, path, resource="customer", match="name", only=["create"])
    assert [r.kind for r in creates.rows] == [Kind.SKIPPED, Kind.CREATE]
    assert creates.rows[0].reason == "would be an update, and only create was allowed"
    bulkio.apply(client, updates)
    assert not any(r["name"] == "Brand New Ltd" for r in _mine(sandbox))
    with pytest.raises(ConfigError, match="upsert is not one of create, update, delete"):
        plan(client, path, resource="customer", only="upsert")


def test_blank_cells_keep_or_clear(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    row = next(r for r in _mine(sandbox) if r["phone"] and r["website"] and r["taxPercent"])
    path = _csv(tmp_path / "c.csv", ["name", "phone", "website", "taxPercent"],
                [[row["name"], "", "https://kept.example.com", ""]])
    kept = plan(client, path, resource="customer", match="name")
    update = kept.of(Kind.UPDATE)[0]
    assert [c.column for c in update.changes] == ["website"] and set(update.body) == {"website"}
    assert not kept.errors  # a blank required cell (taxPercent) of an existing row keeps its value
    assert "blank cells leave fields as they are (blank='keep'; --blank clear clears them)" in kept.warnings
    cleared = plan(client, path, resource="customer", match="name", blank="clear")
    assert "blank cells clear their fields (blank='clear')" in cleared.warnings
    assert any("taxPercent cannot be emptied" in i.message for i in cleared.errors)
    only_phone = _csv(tmp_path / "p.csv", ["name", "phone"], [[row["name"], ""]])
    cleared = plan(client, only_phone, resource="customer", match="name", blank="clear")
    assert [(c.column, c.after) for c in cleared.of(Kind.UPDATE)[0].changes] == [("phone", None)]
    bulkio.apply(client, kept)
    after = _by_id(sandbox, row["id"])
    assert (after["phone"], after["website"], after["taxPercent"]) == (row["phone"], "https://kept.example.com",
                                                                     row["taxPercent"])
    with pytest.raises(ConfigError, match="not one of keep, clear"):
        plan(client, path, resource="customer", match="name", blank="ignore")


def test_bulkio_own_export_keeps_todays_rule(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    path = write_csv(export_table(client, "customer", limit=3), tmp_path / "export.csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    cells = next(csv.reader([lines[1]]))
    phone = header.index("phone")
    assert cells[phone]
    cells[phone] = ""
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, cells, *csv.reader(lines[2:])])
    result = plan(client, path, resource="customer")
    assert [(c.column, c.after) for c in result.of(Kind.UPDATE)[0].changes] == [("phone", None)]
    assert not any("blank cells" in w for w in result.warnings)  # today's rule, as before
    kept = plan(client, path, resource="customer", blank="keep")
    assert not kept.has_changes and "blank cells leave fields as they are" in "\n".join(kept.warnings)


def test_a_matched_row_in_an_export_keeps_its_blank_cells(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    path = write_workbook(export_table(client, "customer", limit=5), tmp_path / "c.xlsx")
    far = _mine(sandbox)[40]  # not in the export: its row is pasted in with a name and a phone, nothing else
    edit_sheet(path, {(2, "phone"): "+1 555 0100", (3, "taxPercent"): None},
               append=[{"name": far["name"], "phone": "+1 555 0199"}])
    result = plan(client, path, match="name")
    assert [(r.kind, r.row, r.key) for r in result.rows] == [
        (Kind.UPDATE, 2, result.rows[0].key), (Kind.SKIPPED, 3, result.rows[1].key), (Kind.UPDATE, 7, far["id"])]
    assert [(c.column, c.after) for c in result.rows[2].changes] == [("phone", "+1 555 0199")]  # taxPercent kept
    assert [(i.row, i.code) for i in result.errors] == [(3, IssueCode.REQUIRED)]  # the export's row clears: refused
    assert "cannot be emptied" in result.rows[1].reason
    assert any("blank cells of the 1 matched row(s) leave fields as they are" in w for w in result.warnings)


def test_a_custom_field_left_blank_is_kept(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    row = next(r for r in _mine(sandbox) if isinstance(r.get("customFields"), dict) and len(r["customFields"]) >= 2)
    first, second = sorted(row["customFields"])[:2]
    path = _csv(tmp_path / "c.csv", ["name", f"customFields.{first}", f"customFields.{second}"],
                [[row["name"], "changed", ""]])
    update = plan(client, path, resource="customer", match="name").of(Kind.UPDATE)[0]
    assert [c.column for c in update.changes] == [f"customFields.{first}"]
    assert update.body["customFields"] == {**row["customFields"], first: "changed"}


def test_the_sheet_must_hold_the_match_key(client: Client, tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", ["Client", "phone"], [["Acme", "+1"]])
    with pytest.raises(WorkbookError, match=r"needs a 'name' column.*--map 'Header=column'"):
        plan(client, path, resource="customer", match="name")
    path = _csv(tmp_path / "d.csv", ["Customer Name", "phone"], [["Acme", "+1"]])
    with pytest.raises(WorkbookError, match=r"--map 'Customer Name=name'"):
        plan(client, path, resource="customer", match="name")


def test_a_key_an_encoding_mangled_is_flagged(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    row = next(r for r in _mine(sandbox) if r["name"].encode("cp1252", errors="replace") != r["name"].encode(
        "cp1252", errors="ignore"))
    mangled = row["name"].encode("cp1252", errors="replace").decode("cp1252")  # as Excel saves "CSV (;)"
    path = tmp_path / "c.csv"
    path.write_bytes(f"name;phone\r\n{mangled};+1 555 0100\r\n".encode("cp1252"))
    result = plan(client, path, resource="customer", match="name")
    warning = next(i for i in result.issues.warnings if i.row == 2 and i.column == "name")
    assert "save the sheet as 'CSV UTF-8'" in warning.message and result.of(Kind.CREATE)


def test_a_mapping_file_is_reused(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    row = _mine(sandbox)[0]
    mapping = tmp_path / "crm.toml"
    mapping.write_text('[columns]\n"Customer Name" = "name"\n"Tel" = "phone"\n"Fax" = "fax"\n', encoding="utf-8")
    for month in ("jan", "feb"):
        path = _csv(tmp_path / f"{month}.csv", ["Customer Name", "Tel"], [[row["name"], f"+1 555 {month}"]])
        result = plan(client, path, resource="customer", match="name", mapping=mapping)
        assert [c.after for c in result.of(Kind.UPDATE)[0].changes] == [f"+1 555 {month}"]
        assert "the mapping names 'Fax', which the sheet does not have" in result.warnings


def test_matching_costs_requests_in_proportion_to_the_sheet(tmp_path: Path) -> None:
    with Sandbox(rows=2000, seed=11) as sb, Client(sb.url, sb.api_key) as c:
        mine = [r for r in sb.rows() if r["companyId"] == sb.company_id]
        assert len(mine) == 2000
        per_url = len(next(iter(c.split_in(CUSTOMER, "id", sorted(r["id"] for r in mine), []))))
        rows = [[r["name"], f"+44 20 7946 {i:04d}"] for i, r in enumerate(mine)]
        path = _csv(tmp_path / "big.csv", ["Customer Name", "Tel"], rows)
        sb.reset()
        result = plan(c, path, resource="customer", match="name", mapping=MAP)
        matching = [p for m, p in sb.requests if m == "GET" and "name=in." in p]
        assert len(matching) <= math.ceil(2000 / per_url) + 2
        assert result.counts()[Kind.UPDATE] == 2000
        assert result.requests <= 2 * math.ceil(2000 / per_url) + 5  # the match, then the rows by id

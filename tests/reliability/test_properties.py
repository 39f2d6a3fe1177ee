"""Properties (hypothesis, few examples each so the suite stays fast), for arbitrary customers put on the server
through the client:

- export -> read -> plan is empty (XLSX three-way and CSV two-way);
- apply(plan) leaves nothing to do: the results workbook (the user's rows with the new ids) plans to no change;
- apply then undo restores the server, except ``updatedAt`` (set to the time of the undo on rows set back, as
  `bulkio.run.undo` documents).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bulkio.api.client import Client
from bulkio.export.table import export_table
from bulkio.plan import Kind, plan
from bulkio.run.apply import apply
from bulkio.run.results import Status, write_results_workbook
from bulkio.run.undo import undo
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet
from bulkio.sheets.write import write_csv, write_workbook

from .helpers import edit_workbook, mine, sheet_rows

_LETTERS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))  # what a sheet may write (no controls)
_STORED = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")  # what the server may hold
_PREFIX = st.sampled_from(["", "=", "+", "-", "@", "'", "'=", "0", " "])  # formula-looking, apostrophes, zeros
_TEXT = st.builds(lambda p, s: (p + s).strip(), _PREFIX, st.text(_LETTERS, min_size=1, max_size=30)).filter(bool)
_NAME = _TEXT.map(lambda s: "~" + s)  # "~": never a seeded customer's name
_PHONE = st.from_regex(r"\+?0{0,2}[1-9][0-9 ()-]{4,12}", fullmatch=True).map(str.strip)
_TAG = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=10)
_JSON_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_CUSTOM = st.dictionaries(st.sampled_from(["region", "segment", "note", "score"]),
                          st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), _JSON_TEXT,
                                    st.integers(-10**6, 10**6).map(lambda n: n / 100)), max_size=3)
CUSTOMER = st.fixed_dictionaries({
    "name": _NAME,
    "phone": st.one_of(st.none(), _PHONE),
    "logo": st.one_of(st.none(), _TEXT),
    "website": st.one_of(st.none(), _TEXT),
    "tags": st.lists(_TAG, max_size=3, unique=True),
    "customFields": st.one_of(st.none(), _CUSTOM),
    "taxPercent": st.integers(0, 100000).map(lambda n: n / 100000),
    "currencyCode": st.one_of(st.none(), st.sampled_from(["EUR", "USD", "GBP", "JPY"])),
})
# customers another API client stored: their text may hold control characters (Postgres refuses only NUL)
_STORED_TEXT = st.text(_STORED, min_size=1, max_size=20).filter(lambda t: t.strip() == t and bool(t))
STORED_CUSTOMER = CUSTOMER.flatmap(lambda c: st.fixed_dictionaries({
    **{k: st.just(v) for k, v in c.items()},
    "logo": st.one_of(st.none(), _STORED_TEXT),
    "customFields": st.one_of(st.none(), st.dictionaries(st.sampled_from(["note", "memo"]), _STORED_TEXT,
                                                         max_size=2)),
}))
CUSTOMERS = st.lists(CUSTOMER, min_size=1, max_size=4, unique_by=lambda c: c["name"].casefold())
STORED_CUSTOMERS = st.lists(STORED_CUSTOMER, min_size=1, max_size=4, unique_by=lambda c: c["name"].casefold())

EDIT = st.one_of(
    st.just(None),
    st.just("delete"),
    st.fixed_dictionaries({}, optional={"name": _NAME, "phone": st.one_of(st.none(), _PHONE), "logo": _TEXT,
                                        "website": st.one_of(st.none(), _TEXT),
                                        "tags": st.lists(_TAG, max_size=3, unique=True),
                                        "taxPercent": st.integers(0, 100).map(lambda n: n / 100)}),
)
PROPERTY = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])


def _insert(sb: Sandbox, client: Client, customers: list[dict[str, Any]]) -> list[str]:
    sb.reset()
    rows = client.insert("customer", [{**c, "companyId": sb.company_id} for c in customers]).rows
    return [str(r["id"]) for r in rows]


def _export(client: Client, ids: list[str], folder: Path) -> tuple[Path, Path]:
    exported = export_table(client, "customer", where=[f"id=in.({','.join(ids)})"])
    return write_workbook(exported, folder / "c.xlsx"), write_csv(exported, folder / "c.csv")


@PROPERTY
@given(customers=STORED_CUSTOMERS)
def test_export_read_plan_is_empty(sandbox_server: Sandbox, tmp_path_factory: Any,
                                   customers: list[dict[str, Any]]) -> None:
    with Client(sandbox_server.url, sandbox_server.api_key) as client:
        ids = _insert(sandbox_server, client, customers)
        xlsx, csv = _export(client, ids, tmp_path_factory.mktemp("prop"))
        for path, three_way in ((xlsx, True), (csv, False)):
            result = plan(client, read_sheet(path, "customer"))
            assert result.three_way is three_way
            assert not result.errors, [str(e) for e in result.errors]
            assert not result.has_changes and not result.has_conflicts, result.to_frame().to_dict("records")
            assert result.counts()[Kind.UNCHANGED] == len(customers)


@PROPERTY
@given(customers=CUSTOMERS, edits=st.lists(EDIT, min_size=4, max_size=4),
       new=st.lists(CUSTOMER, max_size=2, unique_by=lambda c: c["name"].casefold()))
def test_apply_then_nothing_left_to_do_and_undo_restores(sandbox_server: Sandbox, tmp_path_factory: Any,
                                                         customers: list[dict[str, Any]],
                                                         edits: list[Any], new: list[dict[str, Any]]) -> None:
    names = {c["name"].casefold() for c in customers}
    new = [c for c in new if c["name"].casefold() not in names]
    folder = tmp_path_factory.mktemp("prop")
    with Client(sandbox_server.url, sandbox_server.api_key) as client:
        ids = _insert(sandbox_server, client, customers)
        xlsx, _ = _export(client, ids, folder)
        before = mine(sandbox_server)
        cells = sheet_rows(xlsx)
        changes: dict[tuple[int, str], Any] = {}
        taken = set(names)
        for row, edit in zip(sorted(cells), edits, strict=False):
            if edit == "delete":
                changes[(row, "_action")] = "delete"
            elif edit:
                if "name" in edit and edit["name"].casefold() in taken | {c["name"].casefold() for c in new}:
                    edit = {k: v for k, v in edit.items() if k != "name"}
                taken |= {edit["name"].casefold()} if "name" in edit else set()
                changes.update({(row, k): (json.dumps(v) if k == "tags" else v) for k, v in edit.items()})
        appended = [{**{k: v for k, v in c.items() if k not in ("customFields", "tags")},
                     "tags": json.dumps(c["tags"])} for c in new]
        edit_workbook(xlsx, changes, append=appended, as_text=True)
        planned = plan(client, xlsx)
        assert not planned.errors, [str(e) for e in planned.errors]
        results = apply(client, planned, root=folder)
        assert results.complete and not results.of(Status.FAILED) and not results.of(Status.CONFLICT)
        sheet = read_sheet(xlsx)
        again = write_results_workbook(results, sheet.frame, sheet.rows, folder / "c.results.xlsx")
        status = sheet_rows(again)
        kept = [r for r in sorted(status) if status[r]["_status"] != "deleted"]
        replanned = plan(client, again, resource="customer")
        pending = [r for r in replanned.rows if r.row in kept and r.kind is not Kind.UNCHANGED]
        assert not pending, [(r.kind, r.row, r.changes) for r in pending]
        reverted = undo(client, results.run_id, root=folder)
        assert reverted.complete and not reverted.of(Status.FAILED)
        assert mine(sandbox_server) == before


def test_untouched_control_characters_from_the_server_plan_to_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    """The server may hold text with control characters (Postgres refuses only NUL; another API client put them
    there): an untouched export of such rows plans to no change, and the other rows of the sheet still apply."""
    with Client(sandbox.url, sandbox.api_key) as client:
        client.insert("customer", [{"name": "~Bell Ltd", "companyId": sandbox.company_id, "logo": "bell\x07.png",
                                    "customFields": {"note": "unit\x1fseparated"}}])
        xlsx, csv = _export(client, [str(r["id"]) for r in client.get("customer", [("name", "eq.~Bell Ltd")])[0]],
                            tmp_path)
        for path in (xlsx, csv):
            result = plan(client, read_sheet(path, "customer"))
            assert not result.errors, [str(e) for e in result.errors]
            assert not result.has_changes

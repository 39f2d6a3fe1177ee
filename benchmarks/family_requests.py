"""Requests a family workbook costs (issue 19): customers and their contacts exported, edited and imported together,
against what a user does without families, measured in the same run. Requests are the run time at a real Carbon
key (60 requests a minute); they are counted by the client (`Client.requests_made`), exactly.

The sandbox holds `rows` customers; the seed gives a third of them a contact, and the setup adds `contacts_each`
more to every customer (bulk inserts, not counted), so every customer has some.

Export (nothing written to the server):

- ``bulkio``: ``export_family(client, "customer", ["customerContact"])`` and the workbook written;
- ``per_parent`` baseline: the customers exported, then each one's contacts read (``customerContact?customerId=
  eq.<id>``, a request per customer), what a script reading "the contacts of each customer" does;
- ``two_exports`` baseline: two one-table exports, customers then contacts (whose ``customerId`` labels fetch the
  whole customer table again);
- the same three with a filtered parent (``name=ilike.A*``); the contacts export of ``two_exports`` cannot be
  filtered by its customers' names, so it reads every contact (the user filters in Excel).

Import of one realistic edit, each path from its own export in its own sandbox seeded alike: `creates` new customers
with two new contacts each, `moves` contacts moved to another existing customer, `deletes` customers deleted (their
contacts go with them: ``ON DELETE CASCADE``).

- ``bulkio``: ``bulkio.plan`` of the family workbook, then ``bulkio.apply`` (parent, then the children with their
  parents' new ids);
- baseline, without families: the customer sheet planned and applied; each new customer's id looked up by name (a
  request each, as a user pasting ids in by hand does); the contacts sheet (its own export) planned and applied.
  Two cheaper ways to the ids are measured too and reported beside it: one ``name=in.(...)`` request for all of
  them, and none (the contacts sheet names the new customers by name, which its plan resolves once they exist).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl

from bulkio.api.client import Client
from bulkio.api.query import eq, in_
from bulkio.export.family import export_family
from bulkio.export.table import export_table
from bulkio.plan import FamilyPlan, Kind, plan
from bulkio.run.apply import apply
from bulkio.run.results import Status
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_workbook

__all__ = ["measure_family"]

_KEY = "bench-family-key-not-secret"
PARENT, CHILD = "customer", "customerContact"
FILTER = "name=ilike.A*"
_NEW = "Bench Family New Customer {:04d} Ltd"


@contextmanager
def _sandbox(rows: int, contacts_each: int) -> Iterator[Client]:
    """A fresh sandbox of `rows` customers, each given `contacts_each` more contacts; a client of it."""
    with Sandbox(rows=rows, seed=7, api_key=_KEY) as sandbox, Client(sandbox.url, _KEY) as client:
        company = client.company_id()
        customers = [r["id"] for page in client.iter_pages(PARENT, select=["id"]) for r in page]
        new = [{"customerId": customer, "firstName": f"Bench{n}", "lastName": f"Contact {i:05d}",
                "email": f"bench{n}.{i}@family.example.com", "companyId": company}
               for i, customer in enumerate(customers) for n in range(contacts_each)]
        for start in range(0, len(new), 500):
            client.insert(CHILD, new[start:start + 500], returning=False)
        yield client


def _counted(client: Client, work: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """(what `work` returns, the requests it sent)."""
    before = client.requests_made
    result = work(*args, **kwargs)
    return result, client.requests_made - before


def _exports(client: Client, work: Path, where: list[str] | None) -> dict[str, Any]:
    """The three ways to a customers-and-contacts export, each's requests (the same rows, checked)."""
    family, ours = _counted(client, export_family, client, PARENT, [CHILD], where=where)
    write_workbook(family, work / "family.xlsx")

    def per_parent() -> int:
        parents = export_table(client, PARENT, where=where)
        write_workbook(parents, work / "customers.xlsx")
        return sum(len(client.get(CHILD, [("customerId", eq(key))])[0]) for key in parents.frame["id"])

    contacts, theirs = _counted(client, per_parent)

    def two_exports() -> None:
        write_workbook(export_table(client, PARENT, where=where), work / "customers.xlsx")
        write_workbook(export_table(client, CHILD), work / "contacts.xlsx")

    _, two = _counted(client, two_exports)
    customers, children = len(family.parent.frame), len(family.children[0].frame)
    if contacts != children:
        raise SystemExit(f"the family export has {children} contacts, the per-customer reads {contacts}")
    return {"customers": customers, "contacts": children, "bulkio_requests": ours,
            "baseline_per_parent_requests": theirs, "ratio_per_parent_over_bulkio_requests": round(theirs / ours, 1),
            "two_exports_baseline_requests": two, "ratio_two_exports_over_bulkio_requests": round(two / ours, 2),
            "minutes_at_60_per_minute": {"bulkio": round(ours / 60, 2), "per_parent": round(theirs / 60, 1),
                                         "two_exports": round(two / 60, 2)}}


def _edit(path: Path, sheet_name: str, edits: Mapping[tuple[int, str], Any], append: Sequence[Mapping[str, Any]],
          drop: Sequence[int] = ()) -> None:
    """Change cells ``(excel row, column) -> value`` of one data sheet, append rows and remove the `drop` rows, as a
    user does in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book[sheet_name]
    columns = {cell.value: cell.column for cell in sheet[1] if cell.value}
    for (row, name), value in edits.items():
        sheet.cell(row=row, column=columns[name]).value = value
    first = sheet.max_row + 1
    for offset, record in enumerate(append):
        for name, value in record.items():
            sheet.cell(row=first + offset, column=columns[name]).value = value
    for row in sorted(drop, reverse=True):
        sheet.delete_rows(row)
    book.save(path)


def _rows(path: Path, sheet_name: str) -> dict[int, dict[str, Any]]:
    """Excel row -> {column: value} of one data sheet."""
    book = openpyxl.load_workbook(path, read_only=True)  # holds the file open until closed
    try:
        rows = book[sheet_name].iter_rows(values_only=True)
        names = [str(n) for n in next(rows)]
        return {r: dict(zip(names, values, strict=False)) for r, values in enumerate(rows, start=2) if any(values)}
    finally:
        book.close()


class _Edit:
    """The one edit both paths make, chosen from the exported customers and contacts (labels, as exported). A
    contact is known by its email (the setup's are unique, and alike in every sandbox seeded alike)."""

    def __init__(self, customers: Mapping[int, Mapping[str, Any]], contacts: Mapping[int, Mapping[str, Any]],
                 creates: int, moves: int, deletes: int) -> None:
        names = [c["name"] for c in customers.values()]
        self.deleted, kept = names[:deletes], names[deletes:]
        movable = [c for c in contacts.values() if c["customerId"] in set(kept)
                   and str(c["email"]).endswith("@family.example.com")][:moves]
        if len(movable) < moves or len(kept) < 2:
            raise SystemExit(f"the sandbox has too few customers and contacts for {moves} moves and {deletes} deletes")
        self.moves = {c["email"]: next(n for n in reversed(kept) if n != c["customerId"]) for c in movable}
        self.new = [_NEW.format(i) for i in range(creates)]

    def customer_sheet(self, path: Path) -> None:
        """The deletes (``_action``) and the new customers, at the bottom."""
        rows = {c["name"]: r for r, c in _rows(path, PARENT).items()}
        _edit(path, PARENT, {(rows[name], "_action"): "delete" for name in self.deleted},
              [{"name": name, "phone": f"+44 20 7946 {i:05d}"} for i, name in enumerate(self.new)])

    def contact_sheet(self, path: Path, parents: Mapping[str, str], *, drop_deleted: bool = False) -> None:
        """The moves, and two new contacts per new customer naming it as `parents` says (its name, or its id);
        `drop_deleted`: the rows of the deleted customers' contacts removed (a sheet exported on its own still
        names those customers, which no longer exist once its customers sheet is applied)."""
        contacts = _rows(path, CHILD)
        rows = {c["email"]: r for r, c in contacts.items()}
        new = [{"customerId": parents[name], "firstName": first, "lastName": f"New {i:04d}",
                "email": f"{first.lower()}.{i}@new-family.example.com"}
               for i, name in enumerate(self.new) for first in ("Ada", "Grace")]
        gone = [r for r, c in contacts.items() if c["customerId"] in set(self.deleted)] if drop_deleted else []
        _edit(path, CHILD, {(rows[email], "customerId"): name for email, name in self.moves.items()}, new, gone)

    def check(self, counts: Mapping[str, Mapping[Any, int]], kinds: tuple[Any, Any, Any], what: str) -> None:
        """:raises SystemExit: `counts` (per table, of `kinds`: create, update, delete) are not this edit."""
        create, update, delete = kinds
        got = (counts[PARENT][create], counts[PARENT][delete], counts[CHILD][create], counts[CHILD][update])
        if got != (len(self.new), len(self.deleted), 2 * len(self.new), len(self.moves)):
            raise SystemExit(f"{what} is not the edit: {counts}")


def _family_import(client: Client, work: Path, creates: int, moves: int, deletes: int
                   ) -> tuple[dict[str, Any], _Edit]:
    """The family workbook exported, edited, planned and applied: (the requests, the edit made)."""
    path = write_workbook(export_family(client, PARENT, [CHILD]), work / "family-import.xlsx")
    edit = _Edit(_rows(path, PARENT), _rows(path, CHILD), creates, moves, deletes)
    edit.customer_sheet(path)
    edit.contact_sheet(path, {name: name for name in edit.new})
    planned, plan_requests = _counted(client, plan, client, path)
    if not isinstance(planned, FamilyPlan) or planned.errors or planned.has_conflicts:
        raise SystemExit(f"the family plan is not applicable: {planned!r}")
    edit.check(planned.counts(), (Kind.CREATE, Kind.UPDATE, Kind.DELETE), "the family plan")
    results, apply_requests = _counted(client, apply, client, planned, root=work)
    edit.check(results.counts(), (Status.CREATED, Status.UPDATED, Status.DELETED), "the family run")
    return {"plan_requests": plan_requests, "apply_requests": apply_requests,
            "requests": plan_requests + apply_requests, "cascades_told": len(planned.cascades)}, edit


def _plan_apply(client: Client, path: Path, work: Path) -> tuple[dict[Kind, int], dict[Status, int], int, int]:
    """One sheet planned and applied: (plan counts, results counts, plan requests, apply requests)."""
    planned, plan_requests = _counted(client, plan, client, path)
    if planned.errors or planned.has_conflicts:
        raise SystemExit(f"{path.name}: the plan is not applicable: {planned!r}")
    results, apply_requests = _counted(client, apply, client, planned, root=work)
    return planned.counts(), results.counts(), plan_requests, apply_requests


def _baseline_import(client: Client, work: Path, edit: _Edit) -> dict[str, Any]:
    """Without families: the customer sheet, the new customers' ids, then the contacts sheet; each sheet its own
    export, both made before the edit (as the family workbook was)."""
    customers = write_workbook(export_table(client, PARENT), work / "customers-import.xlsx")
    contacts = write_workbook(export_table(client, CHILD), work / "contacts-import.xlsx")
    edit.customer_sheet(customers)
    parent_plan, parent_done, customers_plan, customers_apply = _plan_apply(client, customers, work)

    # the new customers' ids: a request each (by hand), or one in.() request for all; both measured
    found, in_list = _counted(client, client.get, PARENT, [("name", in_(edit.new)), ("select", "id,name")])
    ids: dict[str, str] = {}
    before = client.requests_made
    for name in edit.new:
        [row] = client.get(PARENT, [("name", eq(name)), ("select", "id,name")])[0]
        ids[name] = row["id"]
    per_customer = client.requests_made - before
    if {r["name"]: r["id"] for r in found[0]} != ids:
        raise SystemExit("the in.() lookup and the per-customer lookups disagree")

    edit.contact_sheet(contacts, ids, drop_deleted=True)
    child_plan, child_done, contacts_plan, contacts_apply = _plan_apply(client, contacts, work)
    edit.check({PARENT: parent_plan, CHILD: child_plan}, (Kind.CREATE, Kind.UPDATE, Kind.DELETE), "the baseline plans")
    edit.check({PARENT: parent_done, CHILD: child_done}, (Status.CREATED, Status.UPDATED, Status.DELETED),
               "the baseline runs")
    sheets = customers_plan + customers_apply + contacts_plan + contacts_apply
    return {"customers_plan_requests": customers_plan, "customers_apply_requests": customers_apply,
            "id_lookup_requests_one_per_customer": per_customer, "id_lookup_requests_one_in_list": in_list,
            "contacts_plan_requests": contacts_plan, "contacts_apply_requests": contacts_apply,
            "requests": sheets + per_customer, "requests_with_one_in_list": sheets + in_list,
            "requests_with_names_no_lookup": sheets}


def measure_family(rows: int = 1000, *, contacts_each: int = 2, creates: int = 20, moves: int = 10,
                   deletes: int = 5) -> dict[str, dict[str, Any]]:
    """The export and import figures (module docstring) on fresh sandboxes of `rows` customers."""
    with tempfile.TemporaryDirectory() as tmp, _sandbox(rows, contacts_each) as client:
        work = Path(tmp)
        export = _exports(client, work, None)
        export["filtered"] = {"where": FILTER, **_exports(client, work, [FILTER])}
        ours, edit = _family_import(client, work, creates, moves, deletes)
    with tempfile.TemporaryDirectory() as tmp, _sandbox(rows, contacts_each) as client:
        theirs = _baseline_import(client, Path(tmp), edit)
    export = {"contacts_added_per_customer": contacts_each, **export}
    mine, base = ours["requests"], theirs["requests"]
    return {
        "family_export_requests": export,
        "family_import_requests": {
            "customers": rows, "new_customers": creates, "new_contacts": 2 * creates, "contacts_moved": moves,
            "customers_deleted_with_their_contacts": deletes,
            "bulkio_requests": mine, "bulkio": ours,
            "baseline_requests": base, "baseline": theirs,
            "ratio_baseline_over_bulkio_requests": round(base / mine, 2),
            "ratio_baseline_one_in_list_over_bulkio_requests": round(theirs["requests_with_one_in_list"] / mine, 2),
            "ratio_baseline_no_lookup_over_bulkio_requests": round(theirs["requests_with_names_no_lookup"] / mine, 2),
            "minutes_at_60_per_minute": {"bulkio": round(mine / 60, 2), "baseline": round(base / 60, 2)}},
    }

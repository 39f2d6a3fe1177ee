"""Applying a workbook of customers and their contacts (issue 19): parents first on create, children first on
delete, new ids linked, one run that resumes after a stop between the parent and child batches, and one undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkio.api.client import Client
from bulkio.errors import ApplyError, ConfigError, PlanConflict
from bulkio.plan import FamilyPlan, Kind, Plan, plan
from bulkio.run.apply import apply, resume
from bulkio.run.family import FamilyResults, is_family_run, write_family_results
from bulkio.run.results import Status
from bulkio.run.undo import undo
from bulkio.sandbox import Sandbox
from tests.plan.test_family_plan import CONTACTS, family_workbook, move_a_contact, rows_of
from tests.workbooks import edit_sheet

VOLATILE = {"updatedAt", "updatedBy"}


def state(sandbox: Sandbox) -> dict[str, dict[str, dict[str, Any]]]:
    """Both tables of the main company, by id, without the columns every write changes."""
    return {table: {r["id"]: {c: v for c, v in r.items() if c not in VOLATILE}
                    for r in sandbox.rows(table) if r["companyId"] == sandbox.company_id}
            for table in ("customer", CONTACTS)}


def contacts_of(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    """The main company's contacts of the customer called `name`."""
    [customer] = [c for c in sandbox.rows("customer") if c["name"] == name and c["companyId"] == sandbox.company_id]
    return sorted((c for c in sandbox.rows(CONTACTS) if c["customerId"] == customer["id"]),
                  key=lambda c: c["email"] or "")


@pytest.fixture
def workbook(sandbox: Sandbox, tmp_path: Path) -> Path:
    return family_workbook(sandbox, tmp_path / "family.xlsx")


def new_family(path: Path, name: str = "Ørsted Façades Ltd") -> Path:
    """A new customer and two new contacts of it, as a user types them."""
    edit_sheet(path, append=[{"name": name, "phone": "+45 99 55 11 00"}])
    return edit_sheet(path, sheet_name=CONTACTS, append=[
        {"customerId": name, "firstName": "Åsa", "email": "asa@orsted.example"},
        {"customerId": name, "firstName": "Zoë", "email": "zoe@orsted.example"}])


def apply_with_a_name_taken_meanwhile(sandbox: Sandbox, workbook: Path, root: Path) -> FamilyResults:
    """A new customer and its two contacts, planned; someone creates a customer of that name; then applied: the
    customer's create fails (its name is taken), the run goes on."""
    new_family(workbook, "Taken Meanwhile Ltd")
    with Client(sandbox.url, sandbox.api_key) as client:
        result = plan(client, workbook)
        client.insert("customer", [{"name": "Taken Meanwhile Ltd", "companyId": sandbox.company_id}])
        return apply(client, result, root=root)


def test_a_new_customer_and_its_two_new_contacts_in_one_apply(sandbox: Sandbox, workbook: Path,
                                                             tmp_path: Path) -> None:
    new_family(workbook)
    with Client(sandbox.url, sandbox.api_key) as client:
        result = plan(client, workbook)
        done = apply(client, result, root=tmp_path)
    assert isinstance(done, FamilyResults) and done.complete
    [customer] = done.results_for("customer").of(Status.CREATED)
    contacts = contacts_of(sandbox, "Ørsted Façades Ltd")
    assert [c["email"] for c in contacts] == ["asa@orsted.example", "zoe@orsted.example"]
    assert {c["customerId"] for c in contacts} == {customer.id}
    assert sorted(r.id for r in done.results_for(CONTACTS).of(Status.CREATED)) == sorted(c["id"] for c in contacts)
    posts = [path.split("?")[0] for method, path in sandbox.requests if method == "POST"]
    assert posts == ["/customer", f"/{CONTACTS}"]  # parents first, one bulk POST per table


def test_a_contact_moved_to_another_customer_is_applied(sandbox: Sandbox, workbook: Path, tmp_path: Path) -> None:
    row, contact, other = move_a_contact(workbook)
    with Client(sandbox.url, sandbox.api_key) as client:
        done = apply(client, plan(client, workbook), root=tmp_path)
    assert [r.status for r in done.results_for(CONTACTS).rows if r.row == row] == [Status.UPDATED]
    [moved] = [c for c in sandbox.rows(CONTACTS) if c["id"] == contact["id"]]
    assert moved["customerId"] == other["id"]


def test_a_parent_delete_takes_its_contacts_and_undo_brings_the_whole_family_back(sandbox: Sandbox,
                                                                                 workbook: Path,
                                                                                 tmp_path: Path) -> None:
    before = state(sandbox)
    contacts = rows_of(workbook, CONTACTS)
    customers = {c["name"]: r for r, c in rows_of(workbook, "customer").items()}
    doomed = next(c["customerId"] for c in contacts.values()
                  if not any(x["intercompanyCompanyId"] for x in rows_of(workbook, "customer").values()
                             if x["name"] == c["customerId"]))
    edit_sheet(workbook, {(customers[doomed], "_action"): "delete"})
    new_family(workbook)
    with Client(sandbox.url, sandbox.api_key) as client:
        result = plan(client, workbook)
        assert [c.label for c in result.cascades] == [doomed]
        done = apply(client, result, root=tmp_path)
        assert done.complete
        assert doomed not in {c["name"] for c in state(sandbox)["customer"].values()}
        assert done.results_for("customer").counts()[Status.DELETED] == 1
        assert len(state(sandbox)["customer"]) == len(before["customer"])  # one gone, one new
        assert is_family_run(done.folder)
        reverted = undo(client, done.folder)
    assert isinstance(reverted, FamilyResults)
    assert not any(r.status in (Status.FAILED, Status.CONFLICT) for t in reverted.tables for r in t.rows)
    assert state(sandbox) == before


class _LoseChildWrites(httpx.BaseTransport):
    """The network between the parent's and the children's batches: each POST to the child table is sent, then
    its answer lost (`sent`), or never sent at all (the connection refused)."""

    def __init__(self, *, sent: bool) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent = sent

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == f"/{CONTACTS}":
            if self.sent:
                self.inner.handle_request(request).read()
                raise httpx.ReadError("connection reset after the request was sent", request=request)
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("sent", [False, True], ids=["before-the-child-batch", "answer-of-the-child-batch-lost"])
def test_a_run_stopped_between_the_parent_and_child_batches_resumes_without_duplicates(
        sandbox: Sandbox, workbook: Path, tmp_path: Path, sent: bool) -> None:
    new_family(workbook)
    flaky = Client(sandbox.url, sandbox.api_key, transport=_LoseChildWrites(sent=sent), max_retries=1,
                   sleep=lambda _: None)
    with flaky:
        result = plan(flaky, workbook)
        with pytest.raises(ApplyError, match="--resume") as stopped:
            apply(flaky, result, root=tmp_path)
    partial = stopped.value.results
    assert f"--resume {partial.run_id}`" in str(stopped.value) and partial.run_id in str(partial.folder)
    assert "--resume" not in (partial.stopped or "-")  # the phase's own run is not the one to resume
    assert isinstance(partial, FamilyResults) and not partial.complete
    assert len(partial.results_for("customer").of(Status.CREATED)) == 1  # the parent phase was done
    assert len(partial.results_for(CONTACTS).of(Status.PENDING)) == 2  # not sent, or sent and its answer lost
    assert len(contacts_of(sandbox, "Ørsted Façades Ltd")) == (2 if sent else 0)
    with Client(sandbox.url, sandbox.api_key) as client:
        done = resume(client, partial.folder)
        again = resume(client, partial.folder)  # a finished run: read back, nothing sent
    assert done.complete and again.complete
    contacts = contacts_of(sandbox, "Ørsted Façades Ltd")
    assert [c["email"] for c in contacts] == ["asa@orsted.example", "zoe@orsted.example"]  # each once
    [customer] = done.results_for("customer").of(Status.CREATED)
    assert {c["customerId"] for c in contacts} == {customer.id}


def test_a_parent_that_fails_to_be_created_leaves_its_children_unwritten(sandbox: Sandbox, workbook: Path,
                                                                        tmp_path: Path) -> None:
    done = apply_with_a_name_taken_meanwhile(sandbox, workbook, tmp_path)
    [failed] = done.results_for("customer").of(Status.FAILED)
    skipped = done.results_for(CONTACTS).of(Status.SKIPPED)
    assert len(skipped) == 2
    assert all(f"row {failed.row} of its sheet) was not created (failed" in (r.error or "") for r in skipped)
    assert contacts_of(sandbox, "Taken Meanwhile Ltd") == []



def test_a_contact_its_customer_stops_naming_is_deleted_in_the_same_apply(sandbox: Sandbox, workbook: Path,
                                                                         tmp_path: Path) -> None:
    from tests.plan.test_family_plan import sales_contact

    customer_row, customer, contact_row = sales_contact(workbook)
    edit_sheet(workbook, {(customer_row, "salesContactId"): None})
    edit_sheet(workbook, {(contact_row, "_action"): "delete"}, sheet_name=CONTACTS)
    with Client(sandbox.url, sandbox.api_key) as client:
        result = plan(client, workbook)
        assert not result.errors
        done = apply(client, result, root=tmp_path)  # the customer's update goes before the contact's delete
    assert done.complete and not any(r.status is Status.FAILED for t in done.tables for r in t.rows)
    after = state(sandbox)
    assert after["customer"][customer["id"]]["salesContactId"] is None
    assert customer["salesContactId"] not in after[CONTACTS]


def test_a_contact_moved_away_from_a_customer_the_workbook_deletes_survives_it(sandbox: Sandbox, workbook: Path,
                                                                              tmp_path: Path) -> None:
    before = state(sandbox)
    contacts, customers = rows_of(workbook, CONTACTS), rows_of(workbook, "customer")
    named = {c["salesContactId"] for c in customers.values()}
    row, contact = next((r, c) for r, c in contacts.items() if c["id"] not in named)
    doomed = next(r for r, c in customers.items() if c["name"] == contact["customerId"])
    other = next(c for c in customers.values() if c["name"] != contact["customerId"])
    edit_sheet(workbook, {(doomed, "_action"): "delete"})
    edit_sheet(workbook, {(row, "customerId"): other["name"]}, sheet_name=CONTACTS)
    with Client(sandbox.url, sandbox.api_key) as client:
        result = plan(client, workbook)
        assert not result.errors
        assert all(contact["id"] not in str(c) for c in result.cascades)
        assert sum(c.children for c in result.cascades) == sum(
            1 for c in contacts.values() if c["customerId"] == contact["customerId"]) - 1
        done = apply(client, result, root=tmp_path)
        assert done.complete, done
        moved = state(sandbox)[CONTACTS][contact["id"]]  # moved before its old customer was deleted
        assert moved["customerId"] == other["id"]
        undo(client, done.folder)
    assert state(sandbox) == before


def test_the_results_workbook_plans_again_as_the_family_with_nothing_left_to_do(sandbox: Sandbox, workbook: Path,
                                                                               tmp_path: Path) -> None:
    new_family(workbook)
    row, _, _ = move_a_contact(workbook)
    with Client(sandbox.url, sandbox.api_key) as client:
        done = apply(client, plan(client, workbook), root=tmp_path)
        results = write_family_results(done, workbook, tmp_path / "family.results.xlsx")
        again = plan(client, results)
    assert [p.resource.name for p in again.plans] == ["customer", CONTACTS]
    assert not again.has_changes and not again.errors, again  # each table's snapshot is the server after the run
    assert rows_of(results, CONTACTS)[row]["_status"] == "updated"


def test_a_failed_customer_fixed_in_the_results_workbook_is_applied_with_its_contacts(sandbox: Sandbox,
                                                                                   workbook: Path,
                                                                                   tmp_path: Path) -> None:
    done = apply_with_a_name_taken_meanwhile(sandbox, workbook, tmp_path)
    with Client(sandbox.url, sandbox.api_key) as client:
        results = write_family_results(done, workbook, tmp_path / "family.results.xlsx")
        [failed] = done.results_for("customer").of(Status.FAILED)
        skipped = [r.row for r in done.results_for(CONTACTS).of(Status.SKIPPED)]
        edit_sheet(results, {(failed.row, "name"): "Not Taken Ltd"})  # the user fixes the failed row ...
        edit_sheet(results, {(r, "customerId"): "Not Taken Ltd" for r in skipped}, sheet_name=CONTACTS)
        fixed = plan(client, results)
        assert [len(p.of(Kind.CREATE)) for p in fixed.plans] == [1, 2] and not fixed.errors
        apply(client, fixed, root=tmp_path)  # ... and applies the results workbook
    assert [c["firstName"] for c in contacts_of(sandbox, "Not Taken Ltd")] == ["Åsa", "Zoë"]


def test_a_saved_family_plan_is_applied_as_reviewed_without_planning_again(sandbox: Sandbox, workbook: Path,
                                                                           tmp_path: Path) -> None:
    new_family(workbook)
    with Client(sandbox.url, sandbox.api_key) as client:
        reviewed = plan(client, workbook)
        saved_file = reviewed.save(tmp_path / "review.bulkio-plan.json")
    with pytest.raises(ConfigError, match=r"FamilyPlan\.load"), Client(sandbox.url, sandbox.api_key) as client:
        Plan.load(saved_file, client)  # the parent's plan alone would apply part of the review
    with Client(sandbox.url, sandbox.api_key) as client:
        loaded = FamilyPlan.load(saved_file, client)
        start = len(sandbox.requests)
        done = apply(client, loaded, root=tmp_path)
    assert [len(p.rows) for p in loaded.plans] == [len(p.rows) for p in reviewed.plans]
    sent = [(m, path.split("?")[0]) for m, path in sandbox.requests[start:]]
    assert sent == [("GET", "/company"), ("POST", "/customer"), ("POST", f"/{CONTACTS}")]  # no second plan
    [customer] = done.results_for("customer").of(Status.CREATED)
    assert {c["customerId"] for c in contacts_of(sandbox, "Ørsted Façades Ltd")} == {customer.id}


def test_a_saved_family_plan_is_refused_once_its_workbook_is_edited(sandbox: Sandbox, workbook: Path,
                                                                    tmp_path: Path) -> None:
    new_family(workbook)
    with Client(sandbox.url, sandbox.api_key) as client:
        saved_file = plan(client, workbook).save(tmp_path / "review.bulkio-plan.json")
        edit_sheet(workbook, {(2, "firstName"): "Edited"}, sheet_name=CONTACTS)  # the child sheet, after review
        with pytest.raises(PlanConflict, match="edited after this plan was saved"):
            FamilyPlan.load(saved_file, client)

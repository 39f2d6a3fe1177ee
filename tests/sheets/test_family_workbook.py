"""The family workbook (issue 19): a data sheet per table, the parent's hidden sheets as in a one-table workbook
(plus ``with``), each child's own ``_bulkio.<table>`` / ``_base.<table>``, and the child's link column as the
parent's names with a dropdown of the parent sheet's names."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import bulkio
from bulkio.api.client import Client
from bulkio.api.lookups import Lookup
from bulkio.errors import WorkbookError
from bulkio.export.family import FamilyExport, export_family
from bulkio.export.table import export_table
from bulkio.resources import CUSTOMER, Column, Link, Reference, Resource
from bulkio.sandbox import Sandbox
from bulkio.sheets.exported import Export
from bulkio.sheets.flatten import flatten
from bulkio.sheets.layout import base_sheet, is_data_sheet, meta_sheet
from bulkio.sheets.read import read_sheet, sheet_xml_member, workbook_family
from bulkio.sheets.write import write_csv, write_workbook

from ..workbooks import edit_sheet


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


@pytest.fixture
def family(client: Client) -> FamilyExport:
    return export_family(client, "customer", ["customerContact"])


@pytest.fixture
def book(family: FamilyExport, tmp_path: Path) -> Path:
    return write_workbook(family, tmp_path / "family.xlsx")


def _sheet_xml(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        member = sheet_xml_member(archive, name)
        assert member is not None, name
        return archive.read(member)


def _sheets(path: Path) -> list[tuple[str, str]]:
    """(name, state) of each sheet, in workbook order."""
    with zipfile.ZipFile(path) as archive:
        tags = re.findall(r"<sheet [^>]*>", archive.read("xl/workbook.xml").decode())
    out = []
    for tag in tags:
        name, state = re.search(r'name="([^"]*)"', tag), re.search(r'state="([^"]*)"', tag)
        assert name is not None
        out.append((name.group(1), state.group(1) if state else "visible"))
    return out


def test_layout_names() -> None:
    assert (meta_sheet(), base_sheet()) == ("_bulkio", "_base")
    assert (meta_sheet("customerContact"), base_sheet("customerContact")) == (
        "_bulkio.customerContact", "_base.customerContact")
    assert is_data_sheet("customerContact") and is_data_sheet("customer")
    assert not any(map(is_data_sheet, ("_bulkio", "_base", "Lookups", "_base.customerContact",
                                       "_bulkio.customerContact")))


def test_sheets_parent_first_and_each_child_with_very_hidden_meta_and_base(book: Path) -> None:
    assert _sheets(book) == [("customer", "visible"), ("customerContact", "visible"), ("Lookups", "visible"),
                             ("_bulkio", "veryHidden"), ("_base", "veryHidden"),
                             ("_bulkio.customerContact", "veryHidden"), ("_base.customerContact", "veryHidden")]
    assert workbook_family(book) == ("customer", ["customerContact"])


def test_the_parent_reads_back_exactly_as_a_one_table_workbook(family: FamilyExport, book: Path,
                                                                tmp_path: Path) -> None:
    parent = read_sheet(book)
    alone = read_sheet(write_workbook(family.parent, tmp_path / "alone.xlsx"))
    assert parent.resource is CUSTOMER and parent.sheet == "customer"
    assert parent.frame.equals(alone.frame)
    assert parent.base is not None and alone.base is not None
    assert list(parent.base) == list(alone.base) == list(family.parent.frame["id"])
    assert parent.meta is not None and parent.meta["with"] == '["customerContact"]'
    assert {k: v for k, v in parent.meta.items() if k != "with"} == alone.meta
    assert workbook_family(tmp_path / "alone.xlsx") is None


def test_the_child_reads_back_with_its_own_snapshot_and_meta(family: FamilyExport, book: Path) -> None:
    child = family.children[0]
    for sheet in (read_sheet(book, sheet="customerContact"), read_sheet(book, "customerContact")):
        assert sheet.resource.name == "customerContact" and sheet.sheet == "customerContact"
        assert sheet.meta is not None
        assert (sheet.meta["resource"], sheet.meta["parent"], sheet.meta["parent_column"]) == (
            "customerContact", "customer", "customerId")
        assert sheet.meta["exported_at"] == family.parent.info.exported_at and "with" not in sheet.meta
        assert sheet.base is not None and list(sheet.base) == list(child.frame["id"])
        assert sheet.base[child.frame["id"][0]]["customerId"] == child.frame["customerId"][0]  # raw id kept
        names = child.display()["customerId"].tolist()
        assert sheet.frame["customerId"].tolist() == names  # the untouched parent names read back
        assert "José" in set(sheet.frame["firstName"]) or "Zoë" in set(sheet.frame["firstName"])


def test_untouched_family_workbook_plans_no_change_for_either_sheet(client: Client, book: Path) -> None:
    parent = bulkio.plan(client, read_sheet(book))
    assert parent.resource is CUSTOMER and not parent.has_changes and not parent.errors
    child = bulkio.plan(client, read_sheet(book, sheet="customerContact"))
    assert child.resource.name == "customerContact" and not child.has_changes and not child.errors


def test_an_edit_of_a_child_cell_reads_back_beside_the_snapshot(book: Path, family: FamilyExport) -> None:
    other = family.parent.frame["name"].iloc[-1]
    edit_sheet(book, {(2, "firstName"): "Søren-Ünal", (2, "customerId"): other}, sheet_name="customerContact")
    sheet = read_sheet(book, sheet="customerContact")
    assert sheet.frame["firstName"].iloc[0] == "Søren-Ünal" and sheet.frame["customerId"].iloc[0] == other
    assert sheet.base is not None and sheet.meta is not None and sheet.meta["parent"] == "customer"
    assert read_sheet(book).meta["with"] == '["customerContact"]'  # type: ignore[index]


def test_the_link_column_has_a_dropdown_of_the_parent_sheet_names(book: Path, family: FamilyExport) -> None:
    xml = _sheet_xml(book, "customerContact")
    letter = "C"  # customer: id, readableId, name
    assert list(family.parent.frame.columns)[2] == "name"
    rows = len(family.parent.frame)
    validation = re.search(rb'<dataValidation [^>]*sqref="B2:B\d+"[^>]*>(.*?)</dataValidation>', xml)
    assert validation is not None  # customerId is the contact sheet's column B
    assert validation.group(1) == f"<formula1>'customer'!${letter}$2:${letter}${rows + 1001}</formula1>".encode()
    assert b'prompt="Names the customer this row belongs to, by its name' in validation.group(0)
    assert b"Lookups" not in validation.group(0)


def _note_family(client: Client) -> FamilyExport:
    """customer with a made-up child table that, like its parent, has a `currencyCode` shown as labels."""
    note = Resource("note", (
        Column("id", nullable=False, read_only=True),
        Column("customerId", nullable=False, reference=Reference("customer", label="name")),
        Column("currencyCode", reference=Reference("currencyCode", column="code", label="code")),
    ), tenant_column=None)
    parent = export_table(client, "customer")
    ids = list(parent.frame["id"][:3])
    frame = flatten([{"id": f"note_{i}", "customerId": c, "currencyCode": "XAU"} for i, c in enumerate(ids)],
                    note, columns=note.column_names)
    names = dict(zip(parent.frame["id"], parent.frame["name"], strict=True))
    lookups = {"customerId": Lookup("customerId", "customer", "id", "name", names),
               "currencyCode": Lookup("currencyCode", "currencyCode", "code", "code", {"XAU": "XAU", "XAG": "XAG"})}
    info = replace(parent.info, resource="note", rows=3)
    return FamilyExport(parent, (Export(note, frame, info, lookups),), (Link(CUSTOMER, note, "customerId"),))


def test_child_lookups_get_their_own_lookups_columns(client: Client, tmp_path: Path) -> None:
    book = write_workbook(_note_family(client), tmp_path / "notes.xlsx")
    lookups = pd.read_excel(book, sheet_name="Lookups", dtype=str, engine="calamine")
    assert {"currencyCode", "note.currencyCode"} <= set(lookups.columns)
    assert lookups["note.currencyCode"].dropna().tolist() == ["XAG", "XAU"]
    assert "note.customerId" not in lookups.columns  # the parent sheet is its list
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[list(lookups.columns).index("note.currencyCode")]
    parent_letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[list(lookups.columns).index("currencyCode")]
    assert f"'Lookups'!${letter}$2:${letter}$3".encode() in _sheet_xml(book, "note")
    assert f"'Lookups'!${parent_letter}$2".encode() in _sheet_xml(book, "customer")
    assert f"'Lookups'!${parent_letter}$2".encode() not in _sheet_xml(book, "note")


def test_csv_refuses_a_family(family: FamilyExport, tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="one table"):
        write_csv(family, tmp_path / "family.csv")
    path = tmp_path / "c.csv"
    path.write_text("id,name\n1,a\n")
    assert workbook_family(path) is None

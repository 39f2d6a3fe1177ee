"""Headers of sheets from other systems read as columns: exact names, labels, loose spelling, a mapping given on
the command line or in a TOML file (and written back), and the closest names for a header that names nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkio.errors import ConfigError, WorkbookError
from bulkio.resources import CUSTOMER
from bulkio.sheets.headers import (
    closest,
    column_label,
    infer_headers,
    load_mapping,
    parse_pairs,
    rename_headers,
    resolve_headers,
)
from bulkio.sheets.read import read_sheet
from bulkio.validate.report import IssueCode
from bulkio.validate.rules import validate


def test_labels_are_the_column_names_in_words() -> None:
    assert column_label(CUSTOMER.column("taxPercent")) == "Tax Percent"
    assert column_label(CUSTOMER.column("customerTypeId")) == "Customer Type"  # a reference, without its Id
    assert column_label(CUSTOMER.column("readableId")) == "Readable Id"  # not a reference: Id is a word
    assert column_label(CUSTOMER.column("name")) == "Name"


def test_exact_then_label_then_loose_then_nothing() -> None:
    headers = resolve_headers(["name", "Tax Percent", "CUSTOMER_TYPE", "e-mail-ish", "phone ", "_action",
                               "customFields.erpCode", "Currency code"], CUSTOMER)
    assert headers.columns == {"name": "name", "Tax Percent": "taxPercent", "CUSTOMER_TYPE": "customerTypeId",
                               "phone ": "phone", "_action": "_action",
                               "customFields.erpCode": "customFields.erpCode", "Currency code": "currencyCode"}
    assert headers.how["Tax Percent"] == "label" and headers.how["CUSTOMER_TYPE"] == "loose"
    assert headers.how["name"] == headers.how["_action"] == "exact"
    assert headers.unmatched == ("e-mail-ish",)
    assert headers.renamed == {"Tax Percent": "taxPercent", "CUSTOMER_TYPE": "customerTypeId", "phone ": "phone",
                               "Currency code": "currencyCode"}


def test_a_mapping_wins_and_is_checked() -> None:
    mapping = {"Customer Name": "name", "Tel": "phone", "Fax no": "fax"}
    headers = resolve_headers(["Customer Name", "Tel"], CUSTOMER, mapping)
    assert headers.columns == {"Customer Name": "name", "Tel": "phone"}
    assert headers.how == {"Customer Name": "mapped", "Tel": "mapped"}
    assert headers.unused == ("Fax no",)  # a reused mapping file may name more than this sheet holds
    with pytest.raises(ConfigError, match=r"no column 'nmae'; closest: name"):
        resolve_headers(["Customer Name"], CUSTOMER, {"Customer Name": "nmae"})
    assert resolve_headers(["ERP"], CUSTOMER, {"ERP": "customFields.erp"}).columns == {"ERP": "customFields.erp"}


def test_two_headers_for_one_column_is_an_error_naming_both() -> None:
    with pytest.raises(WorkbookError, match=r"'Name' and 'Customer Name' are both read as column 'name'"):
        resolve_headers(["Name", "Customer Name"], CUSTOMER, {"Customer Name": "name"}, file="c.csv")


def test_closest_names_by_name_and_label() -> None:
    assert closest("Phone Number", CUSTOMER)[0] == "phone"
    assert closest("Custmer Type", CUSTOMER)[0] == "customerTypeId"
    assert closest("Customer Name", CUSTOMER)[0] == "name"  # the name it holds, not customerTypeId's spelling
    assert closest("Fax Number", CUSTOMER)[0] == "fax"
    assert closest("zzzz", CUSTOMER) == []


def test_map_pairs() -> None:
    assert parse_pairs(["Customer Name=name", " Tel = phone", "a=b=fax"]) == {"Customer Name": "name",
                                                                              "Tel": "phone", "a=b": "fax"}
    for bad in ("name", "=name", "Tel="):
        with pytest.raises(ConfigError, match="Sheet header=column"):
            parse_pairs([bad])


def test_mapping_file_round_trip(tmp_path: Path) -> None:
    headers = resolve_headers(["Nom du client", "Téléphone \"fixe\"", "Tax Percent", "name2"], CUSTOMER,
                              {"Nom du client": "name", "Téléphone \"fixe\"": "phone"})
    path = headers.save(tmp_path / "customers.toml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# bulkio header mapping") and 'resource = "customer"' in text
    assert load_mapping(path) == {"Nom du client": "name", "Téléphone \"fixe\"": "phone", "Tax Percent": "taxPercent"}


@pytest.mark.parametrize(("text", "message"), [
    ("columns = [", "not TOML"),
    ("[other]\na = 'b'", r"\[columns\] table"),
    ("[columns]\na = 1", r"\[columns\] table"),
])
def test_a_bad_mapping_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_mapping(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_mapping(tmp_path / "missing.toml")


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_sheet_renamed_keeps_its_column_letters(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", "Name,Tel,Tax Percent,Colour\nAcme Ltd,+44 1,20%,red\n")
    sheet, headers = rename_headers(read_sheet(path, "customer"), {"Tel": "phone"})
    assert list(sheet.frame.columns) == ["name", "phone", "taxPercent", "Colour"]
    assert headers.unmatched == ("Colour",)
    issues = validate(sheet).issues
    unknown = [i for i in issues if i.code is IssueCode.UNKNOWN_COLUMN]
    assert len(unknown) == 1 and "'Colour'" in unknown[0].message and "closest" not in unknown[0].message
    taxes = validate(rename_headers(read_sheet(_csv(tmp_path / "d.csv", "Name,Tax Percent\nA,200\n"), "customer"))[0])
    assert [i.letter for i in taxes.issues if i.column == "taxPercent"] == ["B"]  # where the user's cell is


def test_an_unknown_header_names_the_closest_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", "name,Phone Numbr\nAcme Ltd,+44 1\n")
    issue = next(i for i in validate(read_sheet(path, "customer")).issues if i.code is IssueCode.UNKNOWN_COLUMN)
    assert issue.message == ("unknown column 'Phone Numbr': customer has no such column; the closest: phone "
                             "(--map 'Phone Numbr=phone' reads it as phone) (rename or delete it)")


def test_an_exported_sheet_is_left_as_it_is(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", "id,name,phone\ncust_1,Acme Ltd,+44 1\n")
    read = read_sheet(path, "customer")
    sheet, headers = rename_headers(read)
    assert sheet is read and not headers.renamed and headers.describe() is None


def test_infer_headers_reads_the_file(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", "Customer Name,TAX_PERCENT\nAcme Ltd,0.2\n")
    headers = infer_headers(path, CUSTOMER, {"Customer Name": "name"})
    assert headers.renamed == {"Customer Name": "name", "TAX_PERCENT": "taxPercent"}
    assert "'TAX_PERCENT' -> taxPercent (loose)" in (headers.describe() or "")

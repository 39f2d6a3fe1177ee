"""`bulkio validate` and the error workbook: bad cells highlighted at their Excel place, messages as comments."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from msoffcrypto.format.ooxml import OOXMLFile
from typer.testing import CliRunner

from bulkio.api.client import Client
from bulkio.cli.app import app
from bulkio.export.table import export_table
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_workbook

runner = CliRunner()


def _env(sandbox: Sandbox) -> dict[str, str]:
    return {"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key, "BULKIO_CONFIG": "",
            "COLUMNS": "200"}


def _export(sandbox: Sandbox, path: Path) -> Path:
    with Client(sandbox.url, sandbox.api_key) as client:
        return write_workbook(export_table(client, "customer"), path)


def test_a_clean_export_validates(sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(sandbox, tmp_path / "customers.xlsx")
    result = runner.invoke(app, ["validate", str(path)], env=_env(sandbox))
    assert result.exit_code == 0, result.output
    assert "no errors" in result.output
    assert not (tmp_path / "customers.errors.xlsx").exists()


def test_errors_exit_1_and_the_error_workbook_marks_each_cell(sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(sandbox, tmp_path / "customers.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = {c.value: c.column for c in sheet[1]}
    sheet.cell(row=4, column=header["taxPercent"]).value = 20
    sheet.cell(row=7, column=header["customerTypeId"]).value = "Nope"
    book.save(path)

    result = runner.invoke(app, ["validate", str(path)], env=_env(sandbox))
    assert result.exit_code == 1
    assert "2 error(s)" in result.output and "customers.errors.xlsx" in result.output
    assert sandbox.api_key not in result.output

    errors = openpyxl.load_workbook(tmp_path / "customers.errors.xlsx")
    data = errors["customer"]
    tax = data.cell(row=4, column=header["taxPercent"])
    assert tax.value == 20 and tax.fill.fgColor.rgb.endswith("FFC7CE") and "fraction" in tax.comment.text
    kind = data.cell(row=7, column=header["customerTypeId"])
    assert kind.value == "Nope" and "Distributor" in kind.comment.text
    assert data.cell(row=5, column=header["taxPercent"]).comment is None  # good cells stay plain
    listed = [[c.value for c in row] for row in errors["Errors"].iter_rows(min_row=2)]
    assert [(r[0], r[1]) for r in listed] == [(4, "V taxPercent"), (7, "D customerTypeId")]
    links = [errors["Errors"].cell(row=r, column=6).hyperlink.location for r in (2, 3)]
    assert links == ["'customer'!V4", "'customer'!D7"]


def test_a_csv_needs_its_table_named(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,taxPercent\nNew Co,0.2\n", encoding="utf-8")
    refused = runner.invoke(app, ["validate", str(path)], env=_env(sandbox))
    assert refused.exit_code == 1 and "name it" in refused.output
    ok = runner.invoke(app, ["validate", str(path), "--resource", "customer"], env=_env(sandbox))
    assert ok.exit_code == 0, ok.output


def test_an_encrypted_workbook_is_one_line_and_exit_1(sandbox: Sandbox, tmp_path: Path) -> None:
    plain = _export(sandbox, tmp_path / "plain.xlsx")
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as source, locked.open("wb") as target:
        OOXMLFile(source).encrypt("s3cret", target)
    result = runner.invoke(app, ["validate", str(locked)], env=_env(sandbox))
    assert result.exit_code == 1
    assert "locked.xlsx" in result.output and "encrypted" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "locked.errors.xlsx").exists()


def test_hidden_rows_are_validated_and_marked_like_the_others(sandbox: Sandbox, tmp_path: Path) -> None:
    path = _export(sandbox, tmp_path / "customers.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    header = {c.value: c.column for c in sheet[1]}
    sheet.cell(row=6, column=header["taxPercent"]).value = 20
    sheet.row_dimensions[6].hidden = True  # filtered away in Excel: still imported, so still checked
    book.save(path)
    result = runner.invoke(app, ["validate", str(path)], env=_env(sandbox))
    assert result.exit_code == 1 and "1 hidden row(s) (first: row 6)" in result.output.replace("\n", " ")
    errors = openpyxl.load_workbook(tmp_path / "customers.errors.xlsx")["customer"]
    assert errors.cell(row=6, column=header["taxPercent"]).comment is not None
    assert not errors.row_dimensions[6].hidden  # shown in the error workbook, where it must be fixed

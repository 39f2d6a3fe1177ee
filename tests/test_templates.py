"""templates/ holds what `bulkio template` generates, and it matches the resource definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from typer.testing import CliRunner

from bulkio.cli.app import app
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import template_columns, write_template

TEMPLATES = Path(__file__).parents[1] / "templates"


def _cells(path: Path) -> dict[str, Any]:
    book = openpyxl.load_workbook(path)
    return {name: [[(c.value, c.comment.text if c.comment else None) for c in row] for row in book[name].iter_rows()]
            for name in book.sheetnames}


def test_committed_templates_are_current(tmp_path: Path) -> None:
    fresh = write_template(CUSTOMER, tmp_path / "customer.xlsx", example=dict(CUSTOMER.example))
    assert _cells(TEMPLATES / "customer.xlsx") == _cells(fresh), "run: bulkio template customer -o templates/..."
    header = (TEMPLATES / "customer.csv").read_text(encoding="utf-8-sig").strip()
    assert header.split(",") == template_columns(CUSTOMER)


def test_template_has_every_column_with_its_rules_and_an_example(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_template(CUSTOMER, tmp_path / "t.xlsx", example=dict(CUSTOMER.example)))
    sheet = book["customer"]
    header = [c.value for c in sheet[1]]
    assert header == [*template_columns(CUSTOMER), "_action"]
    assert sheet.max_row == 1
    comments = {c.value: c.comment.text for c in sheet[1] if c.comment}
    assert "Required" in comments["name"] and "fraction" in comments["taxPercent"]
    assert "Read-only" in comments["id"]
    example = {h: v.value for h, v in zip(header, book["Example"][2], strict=False)}
    assert example["name"] == "Example Tools Ltd" and example["taxPercent"] == 0.2
    meta = {r[0].value: r[1].value for r in book["_bulkio"].iter_rows()}
    assert meta["kind"] == "template" and book["_bulkio"].sheet_state == "veryHidden"


def test_template_from_server_has_dropdowns(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "live.xlsx"
    result = CliRunner().invoke(app, ["template", "customer", "-o", str(out), "--from-server"],
                                env={"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key,
                                     "BULKIO_CONFIG": ""})
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert "Lookups" in book.sheetnames
    sources = [dv.formula1 for dv in book["customer"].data_validations.dataValidation]
    # the editable reference columns: type, status, account manager, assignee, currency (not createdBy/updatedBy)
    assert sum("Lookups" in (s or "") for s in sources) == 5

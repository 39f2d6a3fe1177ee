"""``bulkio export <table> --with <child>`` and ``bulkio resources <table>``'s list of the tables that can go with it
(issue 19), run as a user runs them against the sandbox."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bulkio.cli.app import app
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet, workbook_family

from ..commands import cli_env

runner = CliRunner()


def _contacts(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.rows("customerContact") if r["companyId"] == sandbox.company_id)


def test_export_with_writes_a_sheet_per_table_and_prints_each_count(sandbox: Sandbox, in_tmp: Path) -> None:
    result = runner.invoke(app, ["export", "customer", "--with", "customerContact", "-o", "c.xlsx"],
                           env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    contacts = _contacts(sandbox)
    assert "customer rows         120" in result.output
    assert f"customerContact rows  {contacts}" in result.output
    assert workbook_family(in_tmp / "c.xlsx") == ("customer", ["customerContact"])
    assert len(read_sheet(in_tmp / "c.xlsx", sheet="customerContact").frame) == contacts
    assert sandbox.api_key not in result.output


def test_export_with_a_filter_takes_only_the_children_of_the_rows_exported(sandbox: Sandbox, in_tmp: Path) -> None:
    result = runner.invoke(app, ["export", "customer", "--with", "customerContact", "--with", "customerContact",
                                 "--where", "name=ilike.a*", "-o", "a.xlsx"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    parents = read_sheet(in_tmp / "a.xlsx")
    children = read_sheet(in_tmp / "a.xlsx", sheet="customerContact")
    assert 0 < len(parents.frame) < 120 and parents.meta is not None and parents.meta["filters"] == '["name=ilike.a*"]'
    assert set(children.frame["customerId"]) <= set(parents.frame["name"])
    assert workbook_family(in_tmp / "a.xlsx") == ("customer", ["customerContact"])  # asked twice, written once


def test_a_table_that_is_not_a_child_is_refused_naming_those_that_are(sandbox: Sandbox, in_tmp: Path) -> None:
    result = runner.invoke(app, ["export", "customer", "--with", "currencyCode", "-o", "c.xlsx"],
                           env=cli_env(sandbox))
    assert result.exit_code == 1
    assert "currencyCode cannot be exported with customer" in result.output
    assert "customerContact" in result.output
    assert not (in_tmp / "c.xlsx").exists()


def test_csv_and_parquet_hold_one_table(sandbox: Sandbox, in_tmp: Path) -> None:
    for name in ("c.csv", "c.parquet"):
        result = runner.invoke(app, ["export", "customer", "--with", "customerContact", "-o", name],
                               env=cli_env(sandbox))
        assert result.exit_code == 2
        assert "holds one table" in result.output and not (in_tmp / name).exists()
    assert sandbox.requests == []  # refused before asking the server anything


def test_resources_lists_what_can_be_exported_with_a_table(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["resources", "customer"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert "can be exported with: customerContact (customerContact.customerId, on delete cascade)" in result.output
    result = runner.invoke(app, ["resources", "customerContact"], env=cli_env(sandbox))
    assert result.exit_code == 0 and "can be exported with: none" in result.output

"""`bulkio plan` and `apply` on a list from another system, as a new user runs them (issue 17): --match, --map,
--mapping and --save-mapping, --only, --blank."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkio.cli.app import EXIT_CHANGES, app
from bulkio.sandbox import Sandbox

from ..commands import cli_env

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("in_tmp")


def _mine(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sorted((r for r in sandbox.rows() if r["companyId"] == sandbox.company_id), key=lambda r: r["readableId"])


def _crm_export(sandbox: Sandbox, path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A CRM's list: its own headers, no ids, Windows-1252 as Excel saves CSV; two customers the server has (one
    with a blank phone), one new."""
    known = [r for r in _mine(sandbox) if r["phone"] and r["website"]][:2]
    rows = [["Customer Name", "Tel", "Web Site"], [known[0]["name"], "+44 20 7946 0100", known[0]["website"]],
            [known[1]["name"], "", "https://www.new-site.example"], ["Brasserie Château-Léoville", "+33 1 23 45 67 89",
                                                                     ""]]
    with path.open("w", newline="", encoding="cp1252", errors="replace") as handle:
        csv.writer(handle, delimiter=";").writerows(rows)
    return path, known


def test_plan_a_crm_list_on_its_names(sandbox: Sandbox, tmp_path: Path) -> None:
    path, _ = _crm_export(sandbox, tmp_path / "crm.csv")
    args = ["plan", str(path), "--resource", "customer", "--match", "name", "--map", "Customer Name=name",
            "--map", "Tel=phone", "--save-mapping", "crm.toml"]
    result = runner.invoke(app, args, env=cli_env(sandbox))
    assert result.exit_code == EXIT_CHANGES, result.output
    out = " ".join(result.output.split())
    assert "matched on name: 2 row(s) to existing customer rows (rows 2-3); 1 row(s) matched nothing (rows 4)" in out
    assert "'Web Site' -> website (loose)" in out and "blank cells leave fields as they are" in out
    assert "+44 20 7946 0100" in out and "https://www.new-site.example" in out and "Brasserie" in out
    saved = (tmp_path / "crm.toml").read_text(encoding="utf-8")
    assert '"Customer Name" = "name"' in saved and '"Web Site" = "website"' in saved
    again = runner.invoke(app, ["plan", str(path), "--resource", "customer", "--match", "name", "--mapping",
                                "crm.toml"], env=cli_env(sandbox))
    assert again.exit_code == EXIT_CHANGES and " ".join(again.output.split()).count("(mapped)") == 3


def test_apply_only_updates_keeps_blank_cells(sandbox: Sandbox, tmp_path: Path) -> None:
    path, known = _crm_export(sandbox, tmp_path / "crm.csv")
    result = runner.invoke(app, ["apply", str(path), "--resource", "customer", "--match", "name", "--map",
                                 "Customer Name=name", "--map", "Tel=phone", "--only", "update", "--yes"],
                           env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert "only update: 1 row(s) that would create/delete were skipped" in " ".join(result.output.split())
    now = {r["id"]: r for r in _mine(sandbox)}
    assert now[known[0]["id"]]["phone"] == "+44 20 7946 0100"
    assert now[known[1]["id"]]["phone"] == known[1]["phone"]  # blank: kept
    assert now[known[1]["id"]]["website"] == "https://www.new-site.example"
    assert not any(r["name"].startswith("Brasserie") for r in now.values())
    assert (tmp_path / "crm.results.xlsx").exists()


def test_blank_clear_clears(sandbox: Sandbox, tmp_path: Path) -> None:
    path, known = _crm_export(sandbox, tmp_path / "crm.csv")
    result = runner.invoke(app, ["apply", str(path), "--resource", "customer", "--match", "name", "--map",
                                 "Customer Name=name", "--map", "Tel=phone", "--blank", "clear", "--only", "update",
                                 "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert {r["id"]: r for r in _mine(sandbox)}[known[1]["id"]]["phone"] is None


@pytest.mark.parametrize(("option", "message"), [
    (["--only", "upsert"], "upsert is not one of create, update, delete"),
    (["--blank", "ignore"], "not one of keep, clear"),
    (["--match", "phone"], "phone is not a unique key of customer; it has: name, readableId"),
    (["--map", "Tel"], "write it as 'Sheet header=column'"),
    (["--map", "Tel=telephone"], "customer has no column 'telephone'; closest: phone"),
    (["--mapping", "missing.toml"], "mapping file missing.toml: cannot read it"),
])
def test_bad_options_are_one_line(sandbox: Sandbox, tmp_path: Path, option: list[str], message: str) -> None:
    path, _ = _crm_export(sandbox, tmp_path / "crm.csv")
    result = runner.invoke(app, ["plan", str(path), "--resource", "customer", "--map", "Customer Name=name",
                                 *option], env=cli_env(sandbox))
    assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output


def test_a_saved_plan_keeps_its_match(sandbox: Sandbox, tmp_path: Path) -> None:
    path, known = _crm_export(sandbox, tmp_path / "crm.csv")
    planned = runner.invoke(app, ["plan", str(path), "--resource", "customer", "--match", "name", "--map",
                                  "Customer Name=name", "--map", "Tel=phone", "--save", "r.json"], env=cli_env(sandbox))
    assert planned.exit_code == EXIT_CHANGES, planned.output
    refused = runner.invoke(app, ["apply", "r.json", "--yes", "--match", "name"], env=cli_env(sandbox))
    assert refused.exit_code == 2 and "a saved plan keeps the options" in " ".join(refused.output.split())
    applied = runner.invoke(app, ["apply", "r.json", "--yes"], env=cli_env(sandbox))
    assert applied.exit_code == 0, applied.output
    assert {r["id"]: r for r in _mine(sandbox)}[known[0]["id"]]["phone"] == "+44 20 7946 0100"
    again = runner.invoke(app, ["plan", str(path), "--resource", "customer", "--match", "name", "--map",
                                "Customer Name=name", "--map", "Tel=phone"], env=cli_env(sandbox))
    assert again.exit_code == 0 and "matched on name: 3 row(s)" in " ".join(again.output.split())

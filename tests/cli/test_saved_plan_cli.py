"""`bulkio plan --save` then `bulkio apply <saved plan>`, as a user runs them: the plan reviewed is the plan
written, with no second plan; a sheet edited since, a missing sheet, another host or a bad file are refused in one
line with nothing written; results, journal, resume and undo work as for `bulkio apply sheet.xlsx`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkio.api.client import Client
from bulkio.cli.app import EXIT_CHANGES, EXIT_CONFLICTS, app
from bulkio.plan import Plan
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox

from ..commands import cli_env, exported
from ..workbooks import cell, edit_sheet

runner = CliRunner()
LOOKUPS = {f"/{c.reference.table}" for c in CUSTOMER.columns if c.reference is not None and c.reference.label}
"""The reference tables a plan reads for labels (a saved plan needs none of them)."""


pytestmark = pytest.mark.usefixtures("in_tmp")


def _mine(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {r["id"]: {c: v for c, v in r.items() if c != "updatedAt"} for r in sandbox.rows()
            if r["companyId"] == sandbox.company_id}


def _saved(sandbox: Sandbox, tmp_path: Path, edits: dict[tuple[int, str], Any],
           append: list[dict[str, Any]] | None = None, name: str = "review.bulkio-plan.json") -> tuple[Path, Path]:
    """An edited export, planned and saved with `bulkio plan --save`: (sheet, saved plan)."""
    sheet = exported(sandbox, tmp_path / "c.xlsx", edits, append)
    saved = tmp_path / name
    result = runner.invoke(app, ["plan", str(sheet), "--save", str(saved)], env=cli_env(sandbox))
    assert result.exit_code == EXIT_CHANGES, result.output
    assert f"saved the plan to {saved}" in result.output and saved.exists()
    return sheet, saved


def _refused(sandbox: Sandbox, args: list[str], url: str | None = None) -> str:
    """Run `bulkio apply ARGS`, which must fail in one line with nothing written; return its output."""
    before, start = _mine(sandbox), len(sandbox.requests)
    result = runner.invoke(app, ["apply", *args, "--yes"], env=cli_env(sandbox, url=url))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.output.startswith("error:"), result.output
    assert result.output.count("error:") == 1  # one message (rich wraps it at the terminal's width)
    assert [m for m, _ in sandbox.requests[start:] if m != "GET"] == [] and _mine(sandbox) == before
    assert not (Path.cwd() / ".bulkio" / "runs").exists()
    return " ".join(result.output.split())


def test_plan_save_then_apply_writes_what_was_reviewed_without_a_second_plan(sandbox: Sandbox,
                                                                            tmp_path: Path) -> None:
    before = _mine(sandbox)
    sheet, saved = _saved(sandbox, tmp_path, {(2, "logo"): "reviewed.png", (3, "_action"): "delete"},
                          append=[{"name": "Saved Cli Ltd"}])
    assert sandbox.api_key not in saved.read_text(encoding="utf-8")
    with Client(sandbox.url, sandbox.api_key) as client:  # what the stale check alone costs
        loaded = Plan.load(saved, client)
        start = client.requests_made
        assert not loaded.is_stale(client)
        stale_check = client.requests_made - start
    start = len(sandbox.requests)
    result = runner.invoke(app, ["apply", str(saved), "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    requests = sandbox.requests[start:]
    assert not [p for _, p in requests if p.split("?")[0] in LOOKUPS or p == "/"]  # no lookups, no catalog
    first_write = next(i for i, (m, _) in enumerate(requests) if m != "GET")
    reads = [p for m, p in requests[:first_write] if p.startswith("/customer?")]
    assert len(reads) == stale_check  # before writing, only the stale check reads the rows
    assert [m for m, _ in requests if m != "GET"] == ["POST", "PATCH", "DELETE"]
    assert f"saved plan {saved}" in " ".join(result.output.split()) and "SHA-256 checked" in result.output
    rows = _mine(sandbox)
    assert rows[cell(sheet, 2, "id")]["logo"] == "reviewed.png" and cell(sheet, 3, "id") not in rows
    assert [r["name"] for r in rows.values()].count("Saved Cli Ltd") == 1
    assert (tmp_path / "c.results.xlsx").exists()
    run = next(line.split()[-1] for line in result.output.splitlines() if line.startswith("undo with:"))
    header = json.loads((tmp_path / ".bulkio" / "runs" / run / "run.json").read_text())
    assert header["source"] == str(sheet)
    result = runner.invoke(app, ["undo", run, "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert _mine(sandbox) == before


def test_a_saved_plan_is_known_by_its_content_whatever_its_name(sandbox: Sandbox, tmp_path: Path) -> None:
    sheet, saved = _saved(sandbox, tmp_path, {(2, "logo"): "named.png"}, name="review.txt")
    result = runner.invoke(app, ["apply", str(saved), "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert _mine(sandbox)[cell(sheet, 2, "id")]["logo"] == "named.png"


def test_a_row_changed_on_the_server_since_the_save_is_a_conflict_and_the_rest_applied(
        sandbox: Sandbox, tmp_path: Path) -> None:
    sheet, saved = _saved(sandbox, tmp_path, {(2, "phone"): "+1 555 0201", (3, "phone"): "+1 555 0202"})
    changed, other = cell(sheet, 2, "id"), cell(sheet, 3, "id")
    sandbox.concurrent_edit("customer", changed, {"phone": "+1 555 9998"})
    result = runner.invoke(app, ["apply", str(saved), "--yes"], env=cli_env(sandbox))
    assert result.exit_code == EXIT_CONFLICTS, result.output
    output = " ".join(result.output.split())
    assert "the server changed since this plan was made" in output and "conflict" in output
    rows = _mine(sandbox)
    assert rows[changed]["phone"] == "+1 555 9998" and rows[other]["phone"] == "+1 555 0202"


def test_a_sheet_edited_after_the_save_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    sheet, saved = _saved(sandbox, tmp_path, {(2, "logo"): "reviewed.png"})
    edit_sheet(sheet, {(3, "logo"): "slipped in.png"})
    output = _refused(sandbox, [str(saved)])
    assert str(sheet) in output and "edited after this plan was saved" in output


def test_a_missing_sheet_is_refused_unless_without_sheet(sandbox: Sandbox, tmp_path: Path) -> None:
    sheet, saved = _saved(sandbox, tmp_path, {(2, "logo"): "no sheet.png"})
    key = cell(sheet, 2, "id")
    sheet.unlink()
    output = _refused(sandbox, [str(saved)])
    assert str(saved) in output and "gone" in output and "--without-sheet" in output
    result = runner.invoke(app, ["apply", str(saved), "--yes", "--without-sheet"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert _mine(sandbox)[key]["logo"] == "no sheet.png" and not (tmp_path / "c.results.xlsx").exists()
    assert "gone (--without-sheet)" in " ".join(result.output.split())


def test_a_plan_saved_against_another_host_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    _, saved = _saved(sandbox, tmp_path, {(2, "logo"): "elsewhere.png"})
    output = _refused(sandbox, [str(saved)], url="http://127.0.0.1:9")
    assert str(saved) in output and "made against" in output


@pytest.mark.parametrize("content", ['{"format": "bulkio-plan", "version": 7}', "{not json", '{"rows": []}'])
def test_a_bad_saved_plan_is_refused_in_one_line(sandbox: Sandbox, tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    output = _refused(sandbox, [str(bad)])
    assert str(bad) in output


def test_plan_options_cannot_be_given_again_with_a_saved_plan(sandbox: Sandbox, tmp_path: Path) -> None:
    _, saved = _saved(sandbox, tmp_path, {(2, "logo"): "options.png"})
    result = runner.invoke(app, ["apply", str(saved), "--yes", "--skip-invalid"], env=cli_env(sandbox))
    assert result.exit_code == 2 and "--skip-invalid" in result.output
    sheet = exported(sandbox, tmp_path / "d.xlsx")
    result = runner.invoke(app, ["apply", str(sheet), "--yes", "--without-sheet"], env=cli_env(sandbox))
    assert result.exit_code == 2 and "saved plan" in result.output


def test_a_stopped_saved_apply_resumes_and_writes_its_results(sandbox: Sandbox, tmp_path: Path) -> None:
    sheet, saved = _saved(sandbox, tmp_path, {(2, "logo"): "resumed.png"}, append=[{"name": "Resumed Saved Ltd"}])
    sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
    sandbox.switches.drop_methods = frozenset({"POST"})
    result = runner.invoke(app, ["apply", str(saved), "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 1 and "--resume" in result.output
    run = result.output.split("bulkio apply --resume ")[1].split("`")[0].split()[0]
    sandbox.switches.drop = 0
    (tmp_path / "c.results.xlsx").unlink(missing_ok=True)
    result = runner.invoke(app, ["apply", "--resume", run, "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in _mine(sandbox).values()].count("Resumed Saved Ltd") == 1
    assert _mine(sandbox)[cell(sheet, 2, "id")]["logo"] == "resumed.png"
    assert (tmp_path / "c.results.xlsx").exists()  # beside the sheet the saved plan was made from

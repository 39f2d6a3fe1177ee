"""`bulkio plan`, `apply` and `undo` as a user runs them: exit codes, reports, confirmation, resume, undo."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from bulkio.api.client import Client
from bulkio.cli.app import EXIT_CHANGES, EXIT_CONFLICTS, app
from bulkio.sandbox import Sandbox

from ..commands import cli_env, exported
from ..workbooks import cell

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("in_tmp")


def _mine(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in sandbox.rows() if r["companyId"] == sandbox.company_id}


def test_plan_exit_codes_say_nothing_changes_or_conflicts(sandbox: Sandbox, tmp_path: Path) -> None:
    path = exported(sandbox, tmp_path / "c.xlsx")
    assert runner.invoke(app, ["plan", str(path)], env=cli_env(sandbox)).exit_code == 0
    exported(sandbox, path, {(2, "logo"): "new.png"})
    result = runner.invoke(app, ["plan", str(path)], env=cli_env(sandbox))
    assert result.exit_code == EXIT_CHANGES and "new.png" in result.output and "update" in result.output
    sandbox.concurrent_edit("customer", cell(path, 2, "id"), {"logo": "theirs.png"})
    with Client(sandbox.url, sandbox.api_key) as someone:
        someone.count("customer")
    result = runner.invoke(app, ["plan", str(path)], env=cli_env(sandbox))
    assert result.exit_code == EXIT_CONFLICTS and "conflict" in result.output


def test_plan_with_errors_exits_1_and_lists_them(sandbox: Sandbox, tmp_path: Path) -> None:
    path = exported(sandbox, tmp_path / "c.xlsx", {(3, "taxPercent"): 20})
    result = runner.invoke(app, ["plan", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 1 and "taxPercent" in result.output


@pytest.mark.parametrize("suffix", [".md", ".json", ".xlsx"])
def test_plan_writes_its_report(sandbox: Sandbox, tmp_path: Path, suffix: str) -> None:
    path = exported(sandbox, tmp_path / "c.xlsx", {(2, "logo"): "reported.png"})
    report = tmp_path / f"plan{suffix}"
    result = runner.invoke(app, ["plan", str(path), "--report", str(report)], env=cli_env(sandbox))
    assert result.exit_code == EXIT_CHANGES and report.exists()
    if suffix == ".json":
        assert json.loads(report.read_text())["counts"]["update"] == 1
    elif suffix == ".md":
        assert "reported.png" in report.read_text()
    else:
        assert "update" in openpyxl.load_workbook(report).sheetnames


def test_server_check_runs_only_where_rollback_is_honoured(sandbox: Sandbox, tmp_path: Path) -> None:
    path = exported(sandbox, tmp_path / "c.xlsx", append=[{"name": "Bad Contact Ltd", "salesContactId": "cc_no"}])
    before = _mine(sandbox)
    result = runner.invoke(app, ["plan", str(path), "--server-check"], env=cli_env(sandbox))
    assert "does not honour" in result.output and result.exit_code == EXIT_CHANGES
    sandbox.switches.allow_tx_override = True
    result = runner.invoke(app, ["plan", str(path), "--server-check"], env=cli_env(sandbox))
    assert result.exit_code == 1 and "Bad Contact Ltd" in result.output and "salesContactId" in result.output
    assert _mine(sandbox) == before  # rolled back, and nothing sent where it would commit


def test_apply_off_a_terminal_needs_yes_and_writes_nothing_without(sandbox: Sandbox, tmp_path: Path) -> None:
    path = exported(sandbox, tmp_path / "c.xlsx", {(2, "logo"): "asked.png"})
    result = runner.invoke(app, ["apply", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 1 and "--yes" in result.output
    assert _mine(sandbox)[cell(path, 2, "id")]["logo"] != "asked.png"


def test_apply_then_undo(sandbox: Sandbox, tmp_path: Path) -> None:
    before = {k: {c: v for c, v in r.items() if c != "updatedAt"} for k, r in _mine(sandbox).items()}
    path = exported(sandbox, tmp_path / "c.xlsx", {(2, "logo"): "applied.png", (3, "_action"): "delete"},
                     append=[{"name": "Cli Created Ltd"}])
    result = runner.invoke(app, ["apply", str(path), "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.results.xlsx").exists()
    run = next(line.split()[-1] for line in result.output.splitlines() if line.startswith("undo with:"))
    assert (tmp_path / ".bulkio" / "runs" / run / "journal.jsonl").exists()
    names = [r["name"] for r in _mine(sandbox).values()]
    assert "Cli Created Ltd" in names and cell(path, 3, "id") not in _mine(sandbox)
    result = runner.invoke(app, ["undo", run, "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    after = {k: {c: v for c, v in r.items() if c != "updatedAt"} for k, r in _mine(sandbox).items()}
    assert after == before


def test_a_stopped_apply_says_how_to_resume_and_resume_finishes(sandbox: Sandbox, tmp_path: Path) -> None:
    path = exported(sandbox, tmp_path / "c.xlsx", {(2, "logo"): "resumed.png"}, append=[{"name": "Resumed Ltd"}])
    sandbox.switches.drop, sandbox.switches.drop_after_commit = 1, True
    sandbox.switches.drop_methods = frozenset({"POST"})
    result = runner.invoke(app, ["apply", str(path), "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 1 and "--resume" in result.output
    run = result.output.split("bulkio apply --resume ")[1].split("`")[0].split()[0]
    result = runner.invoke(app, ["apply", "--resume", run, "--yes"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    names = [r["name"] for r in _mine(sandbox).values()]
    assert names.count("Resumed Ltd") == 1
    assert _mine(sandbox)[cell(path, 2, "id")]["logo"] == "resumed.png"


def test_every_import_command_has_help() -> None:
    for command in ("plan", "apply", "undo"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def _until(fd: int, text: str, seen: list[str], timeout: float = 60.0, count: int = 1) -> str:
    """Read the terminal until `text` has shown up `count` times; returns everything read so far."""
    deadline = time.monotonic() + timeout
    while "".join(seen).count(text) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"waited for {text!r}; the terminal shows: {''.join(seen)[-2000:]}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen.append(os.read(fd, 65536).decode(errors="replace"))
            except OSError:
                break
    return "".join(seen)


def test_on_a_terminal_apply_asks_and_shows_a_new_plan_when_the_server_moved(sandbox: Sandbox,
                                                                             tmp_path: Path) -> None:
    path = exported(sandbox, tmp_path / "c.xlsx", {(2, "logo"): "asked.png"})
    other = cell(path, 9, "id")
    main, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "bulkio.cli", "apply", str(path)], stdin=secondary,
                               stdout=secondary, stderr=secondary, cwd=tmp_path,
                               env={**os.environ, **cli_env(sandbox), "TERM": "dumb"})
    os.close(secondary)
    seen: list[str] = []
    try:
        _until(main, "apply these changes?", seen)
        sandbox.concurrent_edit("customer", other, {"website": "https://moved.example.com"})
        with Client(sandbox.url, sandbox.api_key) as someone:
            someone.count("customer")
        os.write(main, b"y\n")
        _until(main, "the server changed since this plan", seen)
        assert "".join(seen).count("apply these changes?") == 1
        _until(main, "apply these changes?", seen, count=2)  # the new plan, asked again
        os.write(main, b"y\n")
        process.wait(timeout=60)
        _until(main, "undo with", seen, timeout=5)
    finally:
        process.kill()
        os.close(main)
    assert process.returncode == 0
    mine = _mine(sandbox)
    assert mine[cell(path, 2, "id")]["logo"] == "asked.png"
    assert mine[other]["website"] == "https://moved.example.com"  # the other edit was never overwritten


def test_plan_full_read_reads_every_exported_row_and_the_lean_plan_only_the_edit(sandbox: Sandbox,
                                                                                  tmp_path: Path) -> None:
    """Pages of 10 rows: re-reading the export's rows takes a request per page, the edited row one by id."""
    config = tmp_path / "bulkio.toml"
    config.write_text("page_size = 10\n")
    env = {**cli_env(sandbox), "BULKIO_CONFIG": str(config)}
    path = exported(sandbox, tmp_path / "c.xlsx", {(2, "logo"): "lean.png"})
    reads = {}
    for flag in ([], ["--full-read"]):
        before = len(sandbox.requests)
        result = runner.invoke(app, ["plan", str(path), *flag], env=env)
        assert result.exit_code == 3, result.output
        reads[bool(flag)] = [p for _, p in sandbox.requests[before:] if p.startswith("/customer?")]
    rows = len(_mine(sandbox))
    assert len(reads[True]) >= rows // 10  # every page of the export again
    assert len(reads[False]) == 1  # the edited row (and rows changed since the export) in one request
    saved = tmp_path / "review.bulkio-plan.json"
    assert runner.invoke(app, ["plan", str(path), "--save", str(saved)], env=env).exit_code == 3
    refused = runner.invoke(app, ["apply", str(saved), "--full-read", "--yes"], env=env)
    assert refused.exit_code == 2 and "--full-read" in refused.output

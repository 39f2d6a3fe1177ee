"""The `bulkio` command, driven as a user would (typer's CliRunner, and a real subprocess for the server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openpyxl
import pytest
from typer.testing import CliRunner

from bulkio.cli.app import SANDBOX_DEMO_KEY, app
from bulkio.sandbox import Sandbox

runner = CliRunner()


def _env(sandbox: Sandbox, key: str | None = None) -> dict[str, str]:
    return {"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": key or sandbox.api_key, "BULKIO_CONFIG": "",
            "COLUMNS": "200"}


def test_every_command_has_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("sandbox", "ping", "export", "demo"):
        assert command in result.output
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0 and "Usage" in sub.output, command


def test_ping_reports_server_company_and_rows_but_never_the_key(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["ping"], env=_env(sandbox))
    assert result.exit_code == 0, result.output
    rows = sum(r["companyId"] == sandbox.company_id for r in sandbox.rows())
    assert "Northwind Fabrication Ltd." in result.output and str(rows) in result.output
    assert "PostgREST" in result.output
    assert sandbox.api_key not in result.output


def test_ping_with_a_bad_key_says_so_in_one_line(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["ping"], env=_env(sandbox, key="sk-wrong-key-123"))
    assert result.exit_code == 1
    assert "refused" in result.output and "sk-wrong-key-123" not in result.output
    assert "Traceback" not in result.output


def test_ping_refuses_plain_http_off_loopback() -> None:
    result = runner.invoke(app, ["ping"], env={"BULKIO_BASE_URL": "http://carbon.example.com",
                                               "BULKIO_API_KEY": "k", "BULKIO_CONFIG": ""})
    assert result.exit_code == 1 and "https" in result.output


def test_export_xlsx_and_csv(sandbox: Sandbox, tmp_path: Path) -> None:
    xlsx = tmp_path / "out.xlsx"
    result = runner.invoke(app, ["export", "customer", "-o", str(xlsx), "--where", "currencyCode=eq.EUR",
                                 "--order", "name.asc"], env=_env(sandbox))
    assert result.exit_code == 0, result.output
    euros = sorted(r["name"] for r in sandbox.rows() if r["companyId"] == sandbox.company_id
                   and r["currencyCode"] == "EUR")
    sheet = openpyxl.load_workbook(xlsx)["customer"]
    names_col = [c.value for c in sheet[1]].index("name")
    assert [row[names_col].value for row in sheet.iter_rows(min_row=2)] == euros
    assert f"exported {len(euros)} customer rows" in result.output

    csv = tmp_path / "out.csv"
    result = runner.invoke(app, ["export", "customer", "-o", str(csv), "--select", "id,name", "--limit", "7"],
                           env=_env(sandbox))
    assert result.exit_code == 0, result.output
    assert csv.read_text(encoding="utf-8-sig").splitlines()[0] == "id,name"
    assert len(csv.read_text(encoding="utf-8-sig").splitlines()) == 8


def test_export_refuses_an_unknown_file_type(sandbox: Sandbox, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "customer", "-o", str(tmp_path / "x.txt")], env=_env(sandbox))
    assert result.exit_code == 2 and ".xlsx" in result.output


def test_export_bad_filter_is_one_clear_line(sandbox: Sandbox, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "customer", "-o", str(tmp_path / "x.xlsx"), "--where", "colour=eq.red"],
                           env=_env(sandbox))
    assert result.exit_code == 1 and "colour" in result.output and "Traceback" not in result.output


def test_demo_writes_the_workbook_and_says_what_next(tmp_path: Path) -> None:
    out = tmp_path / "customers.xlsx"
    result = runner.invoke(app, ["demo", "--rows", "40", "-o", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(out)["customer"].max_row == 41
    assert str(out) in result.output and "make sandbox" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sandbox_command_serves_until_stopped() -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "BULKIO_API_KEY"}
    process = subprocess.Popen([sys.executable, "-m", "bulkio.cli", "sandbox", "--port", str(port), "--rows", "15"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/customer", params={"select": "id"},
                                     headers={"Authorization": f"Bearer {SANDBOX_DEMO_KEY}"})
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the sandbox did not start")
                time.sleep(0.1)
        assert response.status_code == 200 and len(response.json()) == 15
    finally:
        process.terminate()
        process.communicate(timeout=10)

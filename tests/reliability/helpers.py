"""Shared by the reliability suite: a workbook exported once per session, edits as a user makes them, and the
server's rows compared with the state a run intended."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from bulkio.sandbox import Sandbox
from bulkio.sandbox.schema import TABLES

VOLATILE = ("updatedAt",)
"""Columns a run sets on every row it writes (undo too): left out of state comparisons."""


def header(sheet: Any) -> dict[str, int]:
    return {c.value: c.column for c in sheet[1]}


def copy_export(template: Path, target: Path) -> Path:
    shutil.copyfile(template, target)
    return target


def edit_workbook(path: Path, edits: Mapping[tuple[int, str], Any] | None = None, *,
                  append: Iterable[Mapping[str, Any]] = (), as_text: bool = False) -> Path:
    """Change cells ``(excel_row, column) -> value`` and append rows, as a user does in Excel (openpyxl).

    Text starting with ``=`` is a formula, as typed in Excel; with `as_text` it is text (typed as ``'=...``).
    """
    book = openpyxl.load_workbook(path)
    sheet = book["customer"]
    columns = header(sheet)

    def put(row: int, name: str, value: Any) -> None:
        cell = sheet.cell(row=row, column=columns[name])
        cell.value = value
        if as_text and isinstance(value, str):
            cell.data_type = "s"

    for (row, name), value in (edits or {}).items():
        put(row, name, value)
    for record in append:
        row = sheet.max_row + 1
        for name, value in record.items():
            put(row, name, value)
    book.save(path)
    return path


def sheet_rows(path: Path) -> dict[int, dict[str, Any]]:
    """Excel row -> {column: value} of the data sheet."""
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["customer"].iter_rows(values_only=True))
    book.close()
    names = rows[0]
    return {i: dict(zip(names, values, strict=False)) for i, values in enumerate(rows[1:], start=2)}


def mine(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """The main company's customers, straight from the database, without the volatile columns."""
    return {r["id"]: {c: v for c, v in r.items() if c not in VOLATILE}
            for r in sandbox.rows() if r["companyId"] == sandbox.company_id}


def everything(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the sandbox serves (all companies): a snapshot for "nothing was written"."""
    return {table: sandbox.rows(table) for table in TABLES}


@dataclass
class Intent:
    """What a run is meant to do, in API values: the state the server must end in."""

    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)
    creates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """name -> values the created row must hold."""
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Rows a concurrent editor changed: these values must survive (a conflict is never overwritten)."""
    foreign_creates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Rows created by someone else during the run (name -> values): kept, and never created twice."""


def check_state(before: Mapping[str, dict[str, Any]], after: Mapping[str, dict[str, Any]], intent: Intent
                ) -> dict[str, int]:
    """Assert `after` is `before` with `intent` carried out: 0 rows lost, 0 duplicated, 0 conflicts overwritten.

    :returns: counts of what was checked (for the matrix).
    """
    expected = {k: dict(v) for k, v in before.items()}
    for key, changes in intent.updates.items():
        expected[key].update(changes)
    for key, values in intent.kept.items():
        expected[key].update(values)
    for key in intent.deletes:
        expected.pop(key, None)
    names = [r["name"] for r in after.values()]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    assert not duplicated, f"rows duplicated: {duplicated}"
    new = {k: r for k, r in after.items() if k not in before}
    by_name = {r["name"]: r for r in new.values()}
    wanted = {**intent.creates, **intent.foreign_creates}
    assert sorted(by_name) == sorted(wanted), f"created {sorted(by_name)}, intended {sorted(wanted)}"
    for name, values in wanted.items():
        got = {c: by_name[name].get(c) for c in values}
        assert got == dict(values), f"created row {name!r}: {got} != {values}"
    kept_after = {k: r for k, r in after.items() if k in before}
    lost = sorted(set(expected) - set(kept_after))
    assert not lost, f"rows lost: {lost}"
    resurrected = sorted(set(kept_after) - set(expected))
    assert not resurrected, f"rows that should be deleted: {resurrected}"
    wrong = {k: {c: (kept_after[k].get(c), v) for c, v in row.items() if kept_after[k].get(c) != v}
             for k, row in expected.items()}
    wrong = {k: v for k, v in wrong.items() if v}
    assert not wrong, f"rows not in the intended state (key: {{column: (server, intended)}}): {wrong}"
    return {"created": len(new), "updated": len(intent.updates), "deleted": len(intent.deletes),
            "kept": len(intent.kept)}


def bulkio_command(*args: str) -> list[str]:
    """``bulkio ARGS`` as a process of this interpreter (the package under test, whatever is on PATH)."""
    return [sys.executable, "-c", "from bulkio.cli import main; main()", *args]


def bulkio_env(sandbox: Sandbox) -> dict[str, str]:
    """A ``bulkio`` process's environment pointed at `sandbox`, no config file, unbuffered output."""
    return {**os.environ, "BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key, "BULKIO_CONFIG": "",
            "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def start_apply(path: Path, folder: Path, sandbox: Sandbox, concurrency: int) -> subprocess.Popen[bytes]:
    """A real ``bulkio apply PATH --yes`` in `folder` (its runs go under ``folder/.bulkio/runs``), in batches of 2
    rows with `concurrency` in flight: the process a SIGKILL test kills."""
    return subprocess.Popen(bulkio_command("apply", str(path), "--yes", "--batch-size", "2", "--concurrency",
                                           str(concurrency)),
                            cwd=folder, env=bulkio_env(sandbox), stdout=subprocess.PIPE, stderr=subprocess.PIPE)

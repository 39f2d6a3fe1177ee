"""Streaming CSV / Parquet exports write exactly what the in-memory export writes, chunk by chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from bulkio.api.client import Client
from bulkio.errors import TransportError, WorkbookError
from bulkio.export.stream import stream_export
from bulkio.export.table import export, export_table
from bulkio.sandbox import Sandbox
from bulkio.sheets.write import write_csv, write_workbook


@pytest.fixture
def client(sandbox: Sandbox) -> Client:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def test_streamed_csv_is_byte_identical_to_the_in_memory_csv(client: Client, sandbox: Sandbox,
                                                              tmp_path: Path) -> None:
    sandbox.switches.max_rows = 30
    info = stream_export(client, "customer", tmp_path / "streamed.csv", chunk_rows=17, page_size=50)
    whole = write_csv(export_table(client, "customer"), tmp_path / "whole.csv")
    assert (tmp_path / "streamed.csv").read_bytes() == whole.read_bytes()
    assert info.rows == sum(r["companyId"] == sandbox.company_id for r in sandbox.rows())


def test_custom_field_keys_seen_only_in_late_pages_still_get_a_column(client: Client, sandbox: Sandbox,
                                                                     tmp_path: Path) -> None:
    last = max(r["id"] for r in sandbox.rows() if r["companyId"] == sandbox.company_id)
    sandbox.concurrent_edit("customer", last, {"customFields": {"lateKey": "only here"}})
    stream_export(client, "customer", tmp_path / "late.csv", chunk_rows=10)
    frame = pd.read_csv(tmp_path / "late.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert "customFields.lateKey" in frame.columns
    assert list(frame["customFields.lateKey"]).count("only here") == 1


def test_streamed_parquet_keeps_types_and_rows(client: Client, tmp_path: Path) -> None:
    stream_export(client, "customer", tmp_path / "c.parquet", chunk_rows=25, where=["taxPercent=gt.0"])
    streamed = pd.read_parquet(tmp_path / "c.parquet")
    expected = export(client, "customer", filters=["taxPercent=gt.0"])
    assert list(streamed.columns) == list(expected.columns)
    assert list(streamed["id"]) == list(expected["id"])
    assert list(streamed["taxPercent"]) == list(expected["taxPercent"])
    assert (streamed["createdAt"] == expected["createdAt"]).all()


def test_streaming_refuses_other_suffixes(client: Client, tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match=r"\.csv, \.parquet or \.xlsx"):
        stream_export(client, "customer", tmp_path / "c.json")


def _cells(path: Path) -> dict[str, Any]:
    """Everything a reader sees of a workbook: per sheet its state, and per cell value, type, number format, font
    and fill; column widths and formats, comments, validations, freeze panes and filter."""
    book = openpyxl.load_workbook(path)
    seen: dict[str, Any] = {}
    for sheet in book.worksheets:
        seen[sheet.title] = {
            "state": sheet.sheet_state, "freeze": sheet.freeze_panes, "filter": sheet.auto_filter.ref,
            "validations": sorted((str(v.sqref), v.formula1) for v in sheet.data_validations.dataValidation),
            "widths": {k: (d.width, d.number_format) for k, d in sheet.column_dimensions.items()},
            "cells": [[(c.value, c.data_type, c.number_format, c.font.b, c.font.color and c.font.color.rgb,
                        c.fill.fgColor.rgb, c.comment and c.comment.text) for c in row] for row in sheet.iter_rows()],
        }
    return seen


@pytest.mark.parametrize("raw_ids", [False, True])
def test_streamed_xlsx_holds_what_the_in_memory_workbook_holds(client: Client, sandbox: Sandbox, tmp_path: Path,
                                                               raw_ids: bool) -> None:
    sandbox.switches.max_rows = 30  # pages of 30: widths come from several pages, a late key re-renders them
    mine = sorted(r["id"] for r in sandbox.rows() if r["companyId"] == sandbox.company_id)
    sandbox.concurrent_edit("customer", mine[-1], {"customFields": {"aLateKey": "=only here", "zz": [1, 2]}})
    info = stream_export(client, "customer", tmp_path / "streamed.xlsx", raw_ids=raw_ids)
    whole = write_workbook(export_table(client, "customer", raw_ids=raw_ids), tmp_path / "whole.xlsx")
    streamed, expected = _cells(tmp_path / "streamed.xlsx"), _cells(whole)
    for sheet in expected:
        if sheet == "_bulkio":  # the export time differs
            continue
        assert streamed[sheet] == expected[sheet], sheet
    assert list(streamed) == list(expected) and info.rows == len(mine)
    header = [c[0] for c in streamed["customer"]["cells"][0]]
    assert "customFields.aLateKey" in header and header.index("customFields.aLateKey") < header.index(
        "customFields.region")


def test_streamed_xlsx_of_nothing(client: Client, tmp_path: Path) -> None:
    stream_export(client, "customer", tmp_path / "none.xlsx", where=["name=eq.no such customer"])
    whole = write_workbook(export_table(client, "customer", where=["name=eq.no such customer"]),
                           tmp_path / "whole.xlsx")
    assert _cells(tmp_path / "none.xlsx")["customer"] == _cells(whole)["customer"]


def test_a_failed_xlsx_stream_leaves_no_file_and_no_open_spool(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.switches.max_rows = 25
    sandbox.switches.drop, sandbox.switches.drop_skip = 1, 6  # the lookups and two pages pass, then a page breaks
    with Client(sandbox.url, sandbox.api_key, max_retries=0) as impatient, pytest.raises(TransportError):
        stream_export(impatient, "customer", tmp_path / "broken.xlsx")
    assert not (tmp_path / "broken.xlsx").exists()

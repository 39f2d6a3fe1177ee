"""Streaming CSV / Parquet exports write exactly what the in-memory export writes, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bulkio.client import Client
from bulkio.errors import WorkbookError
from bulkio.export import export, export_table
from bulkio.sandbox import Sandbox
from bulkio.stream import stream_export
from bulkio.workbook import write_csv


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


def test_streaming_refuses_xlsx(client: Client, tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match=r"\.csv or \.parquet"):
        stream_export(client, "customer", tmp_path / "c.xlsx")

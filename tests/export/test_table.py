"""Export: every page, in a stable order, typed, labels for references, few requests, exact round trip."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bulkio.api.client import Client
from bulkio.errors import TransportError
from bulkio.export.table import export, export_table
from bulkio.resources import CUSTOMER
from bulkio.sandbox import Sandbox
from bulkio.sheets.flatten import flatten, unflatten
from bulkio.sheets.values import normalize, to_cell, to_cells


@pytest.fixture
def client(sandbox: Sandbox) -> Any:
    with Client(sandbox.url, sandbox.api_key) as c:
        yield c


def _mine(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r for r in sandbox.rows() if r["companyId"] == sandbox.company_id]


def test_every_row_once_in_key_order_with_typed_columns(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25  # the server caps pages silently: export must not stop at a short page
    frame = export(client, "customer", raw_ids=True)
    assert list(frame["id"]) == sorted(r["id"] for r in _mine(sandbox))
    assert isinstance(frame["id"].dtype, pd.StringDtype) and isinstance(frame["phone"].dtype, pd.StringDtype)
    assert str(frame["taxPercent"].dtype) == "Float64"
    assert str(frame["createdAt"].dtype).startswith("datetime64") and str(frame["createdAt"].dt.tz) == "UTC"
    assert "embedding" not in frame and "customFields" not in frame
    assert {"customFields.region", "customFields.creditLimit"} <= set(frame.columns)


def test_requests_are_pages_plus_one_per_lookup_table(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    reported: list[tuple[int, int | None]] = []
    export_table(client, "customer", progress=lambda done, total: reported.append((done, total)))
    rows = len(_mine(sandbox))
    pages = 1 + -(-(rows - 25) // 24)  # concurrent pages overlap the previous one by a row (bulkio.api.paging)
    customer_gets = [r for r in sandbox.requests if r[1].startswith("/customer?")]
    assert len(customer_gets) == pages  # the exact count makes a final empty request unnecessary
    assert sum("offset=" in r[1] for r in customer_gets) == pages - 1  # fetched concurrently (bounded)
    assert reported[-1] == (rows, rows) and {t for _, t in reported} == {rows}  # the total came with page one
    lookup_tables = {r[1].split("?")[0] for r in sandbox.requests} - {"/customer"}
    assert lookup_tables == {"/customerType", "/customerStatus", "/user", "/currencyCode"}
    assert len(sandbox.requests) == pages + 4


def test_references_read_as_labels_unless_raw_ids(client: Client, sandbox: Sandbox) -> None:
    types = {r["id"]: r["name"] for r in sandbox.rows("customerType")}
    emails = {r["id"]: r["email"] for r in sandbox.rows("user")}
    rows = {r["id"]: r for r in _mine(sandbox)}
    frame = export(client, "customer")
    for _, row in frame.iterrows():
        source = rows[row["id"]]
        expected_type = types.get(source["customerTypeId"]) if source["customerTypeId"] else None
        assert (None if pd.isna(row["customerTypeId"]) else row["customerTypeId"]) == expected_type
        expected_manager = emails.get(source["accountManagerId"]) if source["accountManagerId"] else None
        assert (None if pd.isna(row["accountManagerId"]) else row["accountManagerId"]) == expected_manager
    raw = export(client, "customer", raw_ids=True)
    assert set(raw["customerTypeId"].dropna()) <= set(types)


def test_select_filters_order_and_limit(client: Client, sandbox: Sandbox) -> None:
    frame = export(client, "customer", select=["name", "phone"], filters=["currencyCode=eq.EUR"],
                   order="name.desc", limit=5)
    expected = sorted((r for r in _mine(sandbox) if r["currencyCode"] == "EUR"), key=lambda r: r["name"],
                      reverse=True)[:5]
    assert list(frame.columns) == ["name", "phone"]
    assert list(frame["name"]) == [r["name"] for r in expected]


def test_export_info_names_the_host_never_the_key(client: Client, sandbox: Sandbox) -> None:
    result = export_table(client, "customer", where={"taxPercent": "gt.0.1"})
    assert result.info.host == sandbox.url.split("://")[1]
    assert result.info.filters == ("taxPercent=gt.0.1",) and result.info.rows == len(result.frame)
    assert sandbox.api_key not in repr(result.info.to_dict())


_NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=25).filter(
    lambda s: s.strip() == s and s.strip())
_TAG = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
_JSON_TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")  # Postgres refuses NUL
_CUSTOM = st.dictionaries(
    st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=8),
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(_JSON_TEXT, max_size=10),
              st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: round(f, 4)),
              st.dictionaries(st.text(_JSON_TEXT, max_size=4), st.integers(0, 9), max_size=2)),
    max_size=4)
_CUSTOMER = st.fixed_dictionaries({
    "name": _NAME.map(lambda s: "~" + s),  # never a seeded name (hypothesis mines literals from the source)
    "phone": st.one_of(st.none(), st.from_regex(r"\+?0{0,2}[1-9][0-9 ()-]{4,12}", fullmatch=True)),
    "tags": st.lists(_TAG, max_size=4),
    "customFields": st.one_of(st.none(), _CUSTOM),
    "taxPercent": st.integers(0, 100000).map(lambda n: n / 100000),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])
@given(customers=st.lists(_CUSTOMER, min_size=1, max_size=5, unique_by=lambda c: c["name"]))
def test_export_then_unflatten_gives_back_what_the_server_holds(sandbox_server: Sandbox,
                                                               customers: list[dict[str, Any]]) -> None:
    sandbox_server.reset()
    with Client(sandbox_server.url, sandbox_server.api_key) as client:
        company = client.company_id()
        created = client.insert("customer", [{**c, "companyId": company} for c in customers]).rows
        ids = [r["id"] for r in created]
        result = export_table(client, "customer", where=[f"id=in.({','.join(ids)})"], raw_ids=True)
    back = {r["id"]: r for r in unflatten(result.frame, CUSTOMER)}
    for server_row in created:
        row = back[server_row["id"]]
        for column in ("name", "phone", "tags", "taxPercent"):
            # "no change" is judged by values.normalize, the diff's rule (text is trimmed, [] == no tags)
            spec = CUSTOMER.column(column)
            assert normalize(spec, row[column]) == normalize(spec, server_row[column]), column
        assert row.get("customFields") == (server_row["customFields"] or None)  # null, {} and no columns alike


def test_prefetching_sends_no_extra_page_when_a_limit_is_reached(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    frame = export(client, "customer", raw_ids=True, limit=30)
    assert len(frame) == 30
    assert len([r for r in sandbox.requests if r[1].startswith("/customer?")]) == 2


def test_an_error_while_prefetching_reaches_the_caller(sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    sandbox.switches.fail_503 = 0
    with Client(sandbox.url, sandbox.api_key, max_retries=0) as impatient:
        sandbox.switches.drop, sandbox.switches.drop_skip = 1, 2  # the third page's connection breaks
        with pytest.raises(TransportError):
            export(impatient, "customer", raw_ids=True)


@given(values=st.lists(st.one_of(st.none(), st.text(), st.integers(), st.floats(allow_nan=True),
                                 st.lists(st.text(max_size=5), max_size=3))))
def test_to_cells_gives_what_to_cell_gives_value_by_value(values: list[Any]) -> None:
    for name in ("name", "phone", "tags", "taxPercent"):
        column = CUSTOMER.column(name)
        fast = to_cells(column, values)
        slow = [to_cell(column, v) for v in values]
        assert [(type(a), a) for a in fast] == [(type(b), b) for b in slow], name


def test_pages_flattened_as_they_arrive_equal_all_rows_flattened_at_once(client: Client, sandbox: Sandbox) -> None:
    sandbox.switches.max_rows = 25
    mine = sorted(_mine(sandbox), key=lambda r: r["id"])
    sandbox.concurrent_edit("customer", mine[-1]["id"], {"customFields": {"aLateKey": "only here", "region": 7}})
    sandbox.concurrent_edit("customer", mine[3]["id"], {"customFields": None})
    result = export_table(client, "customer", raw_ids=True)
    rows = [r for page in client.iter_pages("customer", select=CUSTOMER.exported_columns) for r in page]
    pd.testing.assert_frame_equal(result.frame, flatten(rows, CUSTOMER))
    assert list(result.frame.columns).index("customFields.aLateKey") < list(result.frame.columns).index(
        "customFields.region")  # keys in order, though this one came last
    assert result.frame["customFields.aLateKey"].tolist().count(None) == len(mine) - 1

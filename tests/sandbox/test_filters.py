"""Filters: operators, `not.`, `or=(...)`, and PostgREST's quoting inside `in.(...)` / `or=(...)` (reference.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from bulkio.sandbox import Sandbox

from .rawhttp import Api, error_code, mine, new_customer, quoted

# names that break naive quoting: commas, dots, colons, parentheses, quotes, backslashes, spaces, unicode
TRICKY = [
    "Fidelity, Comma & Co.",
    'Fidelity "Quoted" (Paren) Ltd.',
    "Fidelity\\Back\\slash: Ltd",
    "Fidelity  Two  Spaces",
    "Fidélité Ünïcode 株式会社",
    "Fidelity.Dots.Only",
    "Fidelity a+b Plus",
]


@pytest.fixture
def tricky(api: Api, sandbox: Sandbox) -> dict[str, str]:
    """The tricky names inserted for the main company: name -> id."""
    response = api.post("/customer", [new_customer(sandbox, n) for n in TRICKY],
                        Prefer="return=representation")
    assert response.status_code == 201, response.text
    return {r["name"]: r["id"] for r in response.json()}


def _names(api: Api, params: dict[str, str]) -> list[str]:
    response = api.get("/customer", {"select": "name", **params})
    assert response.status_code == 200, response.text
    return [r["name"] for r in response.json()]


def _ids(api: Api, params: dict[str, str] | list[tuple[str, str]]) -> set[str]:
    pairs = list(params.items()) if isinstance(params, dict) else params
    response = api.get("/customer", [("select", "id"), *pairs])
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()}


def _where(sandbox: Sandbox, predicate: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["id"] for r in mine(sandbox) if predicate(r)}


# ------------------------------------------------------------------------------------------------ operators
def test_eq_on_text(api: Api, sandbox: Sandbox) -> None:
    assert _ids(api, {"currencyCode": "eq.EUR"}) == _where(sandbox, lambda r: r["currencyCode"] == "EUR")


def test_eq_on_numeric(api: Api, sandbox: Sandbox) -> None:
    assert _ids(api, {"taxPercent": "eq.0.2"}) == _where(sandbox, lambda r: r["taxPercent"] == 0.2)


def test_neq_excludes_nulls_like_sql(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"currencyCode": "neq.EUR"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] is not None and r["currencyCode"] != "EUR")


@pytest.mark.parametrize(("op", "test"), [
    ("gt", lambda v: v > 0.1), ("gte", lambda v: v >= 0.1), ("lt", lambda v: v < 0.1), ("lte", lambda v: v <= 0.1),
])
def test_numeric_comparisons(api: Api, sandbox: Sandbox, op: str, test: Callable[[float], bool]) -> None:
    got = _ids(api, {"taxPercent": f"{op}.0.1"})
    want = _where(sandbox, lambda r: test(r["taxPercent"]))
    assert got == want and 0 < len(want) < len(mine(sandbox))


def test_comparison_on_a_timestamp(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"createdAt": "lt.2024-06-01T00:00:00Z"})
    assert got == _where(sandbox, lambda r: r["createdAt"] < "2024-06-01")
    assert got


def test_like_is_case_sensitive_with_star_wildcards(api: Api, tricky: dict[str, str]) -> None:
    assert sorted(_names(api, {"name": "like.Fidelity*"})) == sorted(n for n in TRICKY if n.startswith("Fidelity"))
    assert _names(api, {"name": "like.fidelity*"}) == []
    assert sorted(_names(api, {"name": "like.*Ltd*", "id": f"in.({','.join(tricky.values())})"})) == sorted(
        n for n in TRICKY if "Ltd" in n)


def test_ilike_ignores_case(api: Api, tricky: dict[str, str]) -> None:
    assert sorted(_names(api, {"name": "ilike.FIDEL*"})) == sorted(n for n in TRICKY if n.startswith("Fidel"))


def test_is_null_and_not_is_null(api: Api, sandbox: Sandbox) -> None:
    nulls = _ids(api, {"phone": "is.null"})
    assert nulls == _where(sandbox, lambda r: r["phone"] is None) and nulls
    assert _ids(api, {"phone": "not.is.null"}) == _where(sandbox, lambda r: r["phone"] is not None)


def test_not_eq(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"currencyCode": "not.eq.EUR"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] is not None and r["currencyCode"] != "EUR")


def test_in_list(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"currencyCode": "in.(EUR,GBP)"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] in ("EUR", "GBP")) and got


def test_not_in_list_excludes_nulls_like_sql(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"currencyCode": "not.in.(EUR,GBP)"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] not in (None, "EUR", "GBP"))


def test_in_by_ids(api: Api, sandbox: Sandbox) -> None:
    ids = [r["id"] for r in mine(sandbox)[:7]]
    assert _ids(api, {"id": f"in.({','.join(ids)})"}) == set(ids)


def test_empty_in_list_matches_nothing(api: Api) -> None:
    assert _ids(api, {"id": "in.()"}) == set()


def test_filters_on_several_columns_are_anded(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"currencyCode": "eq.EUR", "taxPercent": "gt.0.1"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] == "EUR" and r["taxPercent"] > 0.1)


def test_the_same_column_twice_is_anded(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, [("taxPercent", "gt.0.05"), ("taxPercent", "lt.0.2")])
    assert got == _where(sandbox, lambda r: 0.05 < r["taxPercent"] < 0.2) and got


def test_or(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"or": "(currencyCode.eq.EUR,taxPercent.gt.0.19)"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] == "EUR" or r["taxPercent"] > 0.19)


def test_or_with_nested_and_and_not(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"or": "(currencyCode.eq.EUR,and(phone.is.null,taxPercent.not.eq.0))"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] == "EUR"
                         or (r["phone"] is None and r["taxPercent"] != 0))


def test_or_with_in_inside(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"or": "(currencyCode.in.(EUR,GBP),phone.is.null)"})
    assert got == _where(sandbox, lambda r: r["currencyCode"] in ("EUR", "GBP") or r["phone"] is None)


def test_array_contains(api: Api, sandbox: Sandbox) -> None:
    got = _ids(api, {"tags": "cs.{vip}"})
    assert got == _where(sandbox, lambda r: "vip" in (r["tags"] or [])) and got


# ------------------------------------------------------------------------------------------------ quoting
def test_quoted_values_inside_in(api: Api, tricky: dict[str, str]) -> None:
    listed = ",".join(quoted(n) for n in TRICKY)
    assert sorted(_names(api, {"name": f"in.({listed})"})) == sorted(TRICKY)


@pytest.mark.parametrize("name", TRICKY)
def test_each_quoted_value_inside_in_matches_exactly_its_row(api: Api, tricky: dict[str, str], name: str) -> None:
    assert _ids(api, {"name": f"in.({quoted(name)})"}) == {tricky[name]}


def test_quoted_values_inside_not_in(api: Api, tricky: dict[str, str]) -> None:
    listed = ",".join(quoted(n) for n in TRICKY)
    got = _names(api, {"name": f"not.in.({listed})"})
    assert got and not set(got) & set(TRICKY)


def test_quoted_values_inside_or(api: Api, tricky: dict[str, str]) -> None:
    terms = ",".join(f"name.eq.{quoted(n)}" for n in TRICKY)
    assert sorted(_names(api, {"or": f"({terms})"})) == sorted(TRICKY)


def test_quoted_value_inside_or_with_in(api: Api, tricky: dict[str, str]) -> None:
    chosen = TRICKY[:3]
    got = _names(api, {"or": f"(name.in.({','.join(quoted(n) for n in chosen)}),id.eq.none)"})
    assert sorted(got) == sorted(chosen)


def test_eq_needs_no_quoting(api: Api, tricky: dict[str, str]) -> None:
    for name in TRICKY:
        assert _ids(api, {"name": f"eq.{name}"}) == {tricky[name]}, name


def test_an_unquoted_comma_splits_an_in_list_even_percent_encoded(api: Api, tricky: dict[str, str]) -> None:
    name = "Fidelity, Comma & Co."
    assert _ids(api, {"name": f"in.({name})"}) == set()
    raw = f"/customer?select=id&name=in.({quote(name, safe='')})"  # the comma sent as %2C: still a separator
    assert "%2C" in raw
    response = api.http.get(raw)
    assert response.status_code == 200 and response.json() == []


def test_plus_sent_as_percent_2b_is_a_plus(api: Api, sandbox: Sandbox) -> None:
    api.post("/customer", [new_customer(sandbox, "Plus Phone", phone="+99 1234 5678")])
    response = api.http.get("/customer?select=name&phone=eq.%2B99%201234%205678")
    assert response.status_code == 200 and response.json() == [{"name": "Plus Phone"}]


def test_a_bare_plus_in_a_query_is_a_space(api: Api, sandbox: Sandbox) -> None:
    api.post("/customer", [new_customer(sandbox, "Plus Phone", phone="+99 1234 5678")])
    api.post("/customer", [new_customer(sandbox, "Space Phone", phone=" 99 1234 5678")])
    response = api.http.get("/customer?select=name&phone=eq.+99+1234+5678")
    assert sandbox.requests[-1][1].endswith("phone=eq.+99+1234+5678")  # sent as written
    assert response.status_code == 200 and response.json() == [{"name": "Space Phone"}]


def test_percent_encoded_unicode_and_ampersand_in_eq(api: Api, tricky: dict[str, str]) -> None:
    name = "Fidélité Ünïcode 株式会社"
    response = api.http.get(f"/customer?select=id&name=eq.{quote(name, safe='')}")
    assert response.status_code == 200 and response.json() == [{"id": tricky[name]}]
    amp = "Fidelity, Comma & Co."
    response = api.http.get(f"/customer?select=id&name=eq.{quote(amp, safe='')}")
    assert response.json() == [{"id": tricky[amp]}]


# ------------------------------------------------------------------------------------------------ refusals
def test_unknown_column_in_a_filter_is_400_42703(api: Api) -> None:
    assert error_code(api.get("/customer", {"nope": "eq.1"}), 400) == "42703"


def test_unknown_column_inside_or_is_400_42703(api: Api) -> None:
    assert error_code(api.get("/customer", {"or": "(nope.eq.1,name.eq.x)"}), 400) == "42703"


def test_unknown_operator_is_400_pgrst100(api: Api) -> None:
    assert error_code(api.get("/customer", {"name": "foo.bar"}), 400) == "PGRST100"


def test_a_filter_without_an_operator_is_400_pgrst100(api: Api) -> None:
    assert error_code(api.get("/customer", {"name": "Acme"}), 400) == "PGRST100"


def test_a_malformed_or_is_400_pgrst100(api: Api) -> None:
    assert error_code(api.get("/customer", {"or": "name.eq.x"}), 400) == "PGRST100"


def test_an_unterminated_quote_is_400_pgrst100(api: Api) -> None:
    assert error_code(api.get("/customer", {"name": 'in.("abc,def)'}), 400) == "PGRST100"


def test_a_non_numeric_value_for_a_numeric_column_is_400_22p02(api: Api) -> None:
    assert error_code(api.get("/customer", {"taxPercent": "gt.abc"}), 400) == "22P02"


# ------------------------------------------------------------------------------------------------ equality on jsonb
def test_jsonb_equality_ignores_key_order_and_spacing(api: Api, sandbox: Sandbox) -> None:
    """As Postgres' jsonb ``=``: bulkio's guarded updates compare ``customFields`` with ``eq.<json>``."""
    row = next(r for r in sandbox.rows() if r["customFields"] and len(r["customFields"]) > 1)
    fields = row["customFields"]
    reordered = "{" + ", ".join(f'"{k}": {json.dumps(fields[k])}' for k in reversed(list(fields))) + "}"
    assert row["id"] in _ids(api, {"customFields": f"eq.{reordered}"})
    assert row["id"] not in _ids(api, {"customFields": f"neq.{reordered}"})
    assert row["id"] not in _ids(api, {"customFields": 'eq.{"other": 1}'})


def test_jsonb_equality_with_bad_json_is_22p02(api: Api) -> None:
    response = api.get("/customer", {"customFields": "eq.{not json"})
    assert error_code(response, 400) == "22P02"


def test_array_equality_is_exact_and_ordered(api: Api, sandbox: Sandbox) -> None:
    row = next(r for r in sandbox.rows() if r["tags"] and len(r["tags"]) > 1)
    literal = "{" + ",".join(quoted(t) for t in row["tags"]) + "}"
    assert row["id"] in _ids(api, {"tags": f"eq.{literal}"})
    backwards = "{" + ",".join(quoted(t) for t in reversed(row["tags"])) + "}"
    assert row["id"] not in _ids(api, {"tags": f"eq.{backwards}"})

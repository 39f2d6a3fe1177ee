"""PostgREST query building: quoting inside lists, filter forms, and splitting long `in` lists under a URL budget."""

from __future__ import annotations

import doctest

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bulkio.api.query
from bulkio.api.query import as_params, encoded_length, eq, guard_filters, guarded_filters, in_, or_, quote, split_in

_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
_NASTY = st.text(alphabet=st.sampled_from(list(',.:()"\\ +%&=#?é\t\n{}*')), max_size=12)


def _unquote(item: str) -> str:
    """PostgREST's reading of one list item (independent of the sandbox's parser): strip quotes, undo escapes."""
    if not (item.startswith('"') and item.endswith('"') and len(item) >= 2):
        return item
    out, i, body = [], 0, item[1:-1]
    while i < len(body):
        if body[i] == "\\":
            i += 1
        out.append(body[i])
        i += 1
    return "".join(out)


def test_doctests_pass() -> None:
    assert doctest.testmod(bulkio.api.query).failed == 0


@pytest.mark.parametrize(("value", "quoted"), [
    ("Acme", "Acme"),
    ("cust_4Xz9", "cust_4Xz9"),
    ("+44 Imports", '"+44 Imports"'),
    ("+4420", "+4420"),                       # '+' needs percent-encoding, not quotes
    ("Smith, Jones", '"Smith, Jones"'),
    ("A.B.C.", '"A.B.C."'),
    ("a:b", '"a:b"'),
    ("O'Brien (Cork)", '"O\'Brien (Cork)"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("Back\\slash", '"Back\\\\slash"'),
    ("tab\there", '"tab\there"'),
    ("", '""'),
    ("null", '"null"'),
    ("TRUE", '"TRUE"'),
    ("株式会社", "株式会社"),
    (42, "42"),
    (0.2, '"0.2"'),
    (True, "true"),
])
def test_quote(value: object, quoted: str) -> None:
    assert quote(value) == quoted


def test_none_is_refused_with_a_pointer_to_is_null() -> None:
    with pytest.raises(ValueError, match=r"is\.null"):
        quote(None)
    with pytest.raises(ValueError, match=r"is\.null"):
        eq(None)
    with pytest.raises(ValueError):
        in_(["a", None])


@given(_TEXT)
def test_quote_is_undone_by_postgrest_reading(value: str) -> None:
    quoted = quote(value)
    assert _unquote(quoted) == value
    if quoted == value:  # left unquoted: nothing in it that PostgREST's list syntax would read specially
        assert not any(ch in value for ch in ',.:()"\\') and value.strip() == value and value


@given(st.lists(_NASTY, min_size=1, max_size=6))
def test_in_list_splits_back_into_the_values(values: list[str]) -> None:
    text = in_(values)
    assert text.startswith("in.(") and text.endswith(")")
    # split on commas outside quotes, as PostgREST does
    items, buf, quoted, escaped = [], "", False, False
    for ch in text[4:-1]:
        if escaped:
            buf, escaped = buf + ch, False
        elif ch == "\\" and quoted:
            buf, escaped = buf + ch, True
        elif ch == '"':
            buf, quoted = buf + ch, not quoted
        elif ch == "," and not quoted:
            items, buf = [*items, buf], ""
        else:
            buf += ch
    assert [_unquote(i) for i in [*items, buf]] == values


def test_eq_is_literal() -> None:
    assert eq("Smith, Jones (UK)") == "eq.Smith, Jones (UK)"
    assert eq(False) == "eq.false"


def test_or_builds_every_operator_kind() -> None:
    text = or_([("name", "eq", "A, B"), ("id", "in", ["x", "y.z"]), ("phone", "is", None), ("tags", "not.is", True),
                ("name", "ilike", "*acme*")])
    assert text == '(name.eq."A, B",id.in.(x,"y.z"),phone.is.null,tags.not.is.true,name.ilike.*acme*)'


def test_as_params_accepts_every_form() -> None:
    expected = [("name", "eq.Acme"), ("taxPercent", "gt.0.1")]
    assert as_params(["name=eq.Acme", "taxPercent=gt.0.1"]) == expected
    assert as_params([("name", "eq.Acme"), ("taxPercent", "gt.0.1")]) == expected
    assert as_params({"name": "eq.Acme", "taxPercent": "gt.0.1"}) == expected
    assert as_params("name=eq.a=b") == [("name", "eq.a=b")]
    assert as_params(None) == []
    with pytest.raises(ValueError, match=r"column=operator\.value"):
        as_params(["just-a-name"])


@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=5))
def test_encoded_length_is_what_httpx_sends(params: list[tuple[str, str]]) -> None:
    url = httpx.Request("GET", "http://h/p", params=params).url
    assert encoded_length(params) == len(url.query)


def test_plus_travels_as_percent_2b_and_comma_inside_quotes() -> None:
    url = httpx.Request("GET", "http://h/customer", params=[("name", in_(["+44 Imports", "A,B"]))]).url
    assert "%2B44+Imports" in str(url)
    assert url.params["name"] == 'in.("+44 Imports","A,B")'


def _url(column: str, chunk: list[str], base: str, others: list[tuple[str, str]]) -> str:
    return str(httpx.Request("GET", base, params=[*others, (column, in_(chunk))]).url)


@pytest.mark.parametrize("budget", [200, 333, 1000, 6000])
@given(values=st.lists(_NASTY.filter(bool) | st.text(min_size=1, max_size=30), min_size=1, max_size=120))
def test_split_in_chunks_fit_the_budget_and_are_maximal(budget: int, values: list[str]) -> None:
    base, others = "http://127.0.0.1:8000/customer", [("select", "id,name"), ("companyId", "eq.comp 1")]
    base_len = len(str(httpx.Request("GET", base, params=others).url))
    if any(len(_url("name", [v], base, others)) > budget for v in values):
        with pytest.raises(ValueError, match="too long for one request URL"):
            list(split_in("name", values, budget, base_len))
        return
    chunks = list(split_in("name", values, budget, base_len))
    assert [v for chunk in chunks for v in chunk] == values      # every value once, in order
    for i, chunk in enumerate(chunks):
        assert chunk
        assert len(_url("name", chunk, base, others)) <= budget
        if i + 1 < len(chunks):                                    # one more value would not have fitted
            assert len(_url("name", [*chunk, chunks[i + 1][0]], base, others)) > budget


def test_split_in_without_other_parameters_counts_the_question_mark() -> None:
    base = "http://127.0.0.1:8000/customer"
    values = [f"cust_{i:04d}" for i in range(2000)]
    chunks = list(split_in("id", values, 6000, len(base)))
    assert len(chunks) > 1
    assert all(len(_url("id", c, base, [])) <= 6000 for c in chunks)
    assert len(_url("id", [*chunks[0], chunks[1][0]], base, [])) > 6000


def test_split_in_refuses_a_value_that_cannot_fit() -> None:
    with pytest.raises(ValueError, match="too long"):
        list(split_in("name", ["x" * 500], 300, 40))
    assert list(split_in("name", [], 300, 40)) == []


# ------------------------------------------------------------------------------------------------ guards
def test_guarded_filters_share_an_in_list_per_guard() -> None:
    one = guarded_filters("id", [("a", {"logo": None}), ("b", {"logo": None})])
    assert one == [("id", "in.(a,b)"), ("logo", "is.null")]
    mixed = guarded_filters("id", [("a", {"logo": None}), ("b", {"logo": "x, y.png"}), ("c", {"logo": None})])
    assert mixed == [("or", '(and(id.in.(a,c),logo.is.null),and(id.in.(b),logo.eq."x, y.png"))')]


def test_guard_filters_spell_postgrest_values() -> None:
    assert guard_filters({"phone": None, "tags": ["a", "b c"], "taxPercent": 0.2, "customFields": {"b": 1, "a": 2},
                          "name": "Smith, Jones"}) == [
        ("phone", "is.null"), ("tags", 'eq.{a,"b c"}'), ("taxPercent", "eq.0.2"),
        ("customFields", 'eq.{"a":2,"b":1}'), ("name", "eq.Smith, Jones")]

"""Building PostgREST query strings: filters, quoting inside `in.(...)` / `or=(...)`, URL-budget splitting, and the
guards of conditional writes (`guard_filters`, `guarded_filters`).

PostgREST's rules (``shared/reference.md``): inside ``in.(...)`` and ``or=(...)`` a value containing ``,`` ``.``
``:`` ``(`` ``)`` ``"`` ``\\`` or white space must be double-quoted, with ``\\"`` and ``\\\\`` escaped; percent-encoding
does not protect a comma. ``+`` must travel as ``%2B`` (else it is a space).

These helpers build *unencoded* parameter values, e.g. ``("name", 'in.("Smith, Jones",Acme)')``; httpx encodes them
when the request is sent (``+`` -> ``%2B``, space -> ``+``, ``,`` -> ``%2C``), exactly as `encoded_length` counts.
All functions are pure.

Example::

    params = [("select", "id,name"), ("name", in_(["Acme", "Smith, Jones & Co."]))]
    params.append(("or", or_([("phone", "like", "+44*"), ("phone", "is", None)])))
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus, urlencode

from ..config import DEFAULT_URL_BUDGET

__all__ = [
    "GUARD_LIMIT",
    "Filters",
    "as_params",
    "encoded_length",
    "eq",
    "guard_filters",
    "guard_size",
    "guarded_filters",
    "in_",
    "or_",
    "quote",
    "split_in",
]


Filters = Sequence[tuple[str, str]] | Sequence[str] | Mapping[str, str] | None
"""Filters as ``[("name", "eq.Acme")]``, ``["name=eq.Acme"]`` or ``{"name": "eq.Acme"}``."""

_NEEDS_QUOTES = re.compile(r'[,.:()"\\\s]')
_RESERVED = frozenset({"null", "true", "false"})
_LIST_OPERATORS = frozenset({"in", "not.in"})
_IS_OPERATORS = frozenset({"is", "not.is"})


def _text(value: Any) -> str:
    """A Python value as PostgREST text: booleans as ``true``/``false``; None is refused (use ``is.null``)."""
    if value is None:
        raise ValueError("None cannot be compared with eq/in: filter it with is.null (e.g. ('phone', 'is.null'))")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def quote(value: Any) -> str:
    """A value as it must appear inside ``in.(...)`` or ``or=(...)``.

    Values with a reserved character (``,.:()"\\`` or white space), empty strings and the words ``null``, ``true``
    and ``false`` (as text; Python booleans stay bare) are double-quoted, with ``"`` and ``\\`` backslash-escaped.
    Quoting is always safe, so it errs on the side of quoting. Other values are returned as they are.

    :param value: the value (numbers and booleans are written as PostgREST reads them).
    :raises ValueError: for None (PostgREST compares with null through ``is.null``, never inside a list).

    >>> quote("Acme")
    'Acme'
    >>> quote('Smith, Jones "Ltd."')
    '"Smith, Jones \\\\"Ltd.\\\\""'
    >>> quote("")
    '""'
    """
    text = _text(value)
    if isinstance(value, bool):
        return text
    if text == "" or text.lower() in _RESERVED or _NEEDS_QUOTES.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def eq(value: Any) -> str:
    """``eq.<value>`` for a top-level parameter (``name=eq.Acme, Inc.``): no quoting, PostgREST takes it literally.

    :raises ValueError: for None (use ``is.null``).

    >>> eq("Smith, Jones")
    'eq.Smith, Jones'
    """
    return f"eq.{_text(value)}"


def in_(values: Iterable[Any]) -> str:
    """``in.(a,"b,c")``: every value quoted as PostgREST needs (an empty list matches nothing: ``in.()``).

    :raises ValueError: for a None among the values.

    >>> in_(["Acme", "Smith, Jones"])
    'in.(Acme,"Smith, Jones")'
    """
    return "in.(" + ",".join(quote(v) for v in values) + ")"


def or_(conditions: Iterable[tuple[str, str, Any]]) -> str:
    """The value of an ``or`` parameter from ``(column, operator, value)`` triples.

    ``in``/``not.in`` take a list of values, ``is``/``not.is`` take None / True / False, every other operator one
    value (quoted when needed).

    >>> or_([("name", "eq", "Acme, Inc."), ("id", "in", ["a", "b"]), ("phone", "is", None)])
    '(name.eq."Acme, Inc.",id.in.(a,b),phone.is.null)'
    """
    parts = []
    for column, operator, value in conditions:
        if operator in _LIST_OPERATORS:
            parts.append(f"{column}.{operator}.(" + ",".join(quote(v) for v in value) + ")")
        elif operator in _IS_OPERATORS:
            parts.append(f"{column}.{operator}.{'null' if value is None else _text(value)}")
        else:
            parts.append(f"{column}.{operator}.{quote(value)}")
    return "(" + ",".join(parts) + ")"


def as_params(filters: Filters) -> list[tuple[str, str]]:
    """Normalise any accepted filter form to ``[(column, "operator.value"), ...]``.

    :raises ValueError: for a string without ``=`` (naming it, with an example).

    >>> as_params(["name=eq.Acme", ("id", "in.(a,b)")])
    [('name', 'eq.Acme'), ('id', 'in.(a,b)')]
    """
    if not filters:
        return []
    if isinstance(filters, Mapping):
        return [(str(k), str(v)) for k, v in filters.items()]
    if isinstance(filters, str):
        filters = [filters]
    out = []
    for item in filters:
        if isinstance(item, tuple):
            out.append((str(item[0]), str(item[1])))
            continue
        column, sep, expr = str(item).partition("=")
        if not sep or not column.strip() or not expr.strip():
            raise ValueError(f"filter {item!r} should look like column=operator.value, e.g. name=ilike.*acme*")
        out.append((column.strip(), expr.strip()))
    return out


def encoded_length(params: Sequence[tuple[str, str]]) -> int:
    """Bytes of the query string httpx sends for `params` (``a=1&b=2``, form-encoded: ``+`` -> ``%2B``)."""
    return len(urlencode(list(params)))


def _encoded(text: str) -> int:
    return len(quote_plus(text, safe=""))


def split_in(column: str, values: Iterable[Any], budget: int = DEFAULT_URL_BUDGET, base_url_len: int = 0,
             ) -> Iterator[list[Any]]:
    """Chunks of `values`, in order, each as large as fits: ``<url>?...&column=in.(...)`` stays within `budget`.

    :param column: the filtered column (``id``).
    :param values: the values to match; each is quoted as `in_` quotes it.
    :param budget: bytes the whole URL may take.
    :param base_url_len: bytes of the URL without this parameter: scheme, host, path and the other parameters,
        e.g. ``len(str(httpx.URL(url, params=others)))``; the ``?`` or ``&`` before the parameter is counted here.
    :raises ValueError: when a single value does not fit (naming its length, never the budget's reason).

    >>> list(split_in("id", ["a", "b", "c"], budget=34, base_url_len=16))
    [['a', 'b'], ['c']]
    """
    # "&column=in.(" ... ")" with "(" -> %28, ")" -> %29 and a %2C between values
    fixed = base_url_len + 1 + _encoded(column) + len("=in.%28") + len("%29")
    room = budget - fixed
    chunk: list[Any] = []
    size = 0
    for value in values:
        item = _encoded(quote(value))
        if item > room:
            raise ValueError(f"a value of {column} takes {item} bytes encoded: too long for one request URL "
                             f"({room} bytes are left under the URL budget)")
        extra = item + (3 if chunk else 0)
        if chunk and size + extra > room:
            yield chunk
            chunk, size, extra = [], 0, item
        chunk.append(value)
        size += extra
    if chunk:
        yield chunk


# ------------------------------------------------------------------------------------------------ guards
GUARD_LIMIT = 300
"""Longest value (characters, `guard_size`) a guard filter carries in the URL; a row whose guard would carry a
longer one is guarded by ``updatedAt`` instead (the plan decides)."""


def _array_literal(items: Sequence[Any]) -> str:
    """A Postgres array literal (``{a,"b c"}``): items with ``{},"\\`` or spaces, empty or NULL are quoted."""
    out = []
    for item in items:
        text = str(item)
        if text == "" or text.upper() == "NULL" or any(c in text for c in '{},"\\') or any(c.isspace() for c in text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out.append(text)
    return "{" + ",".join(out) + "}"


def _guard_value(value: Any) -> tuple[str, str]:
    """(operator, text) PostgREST compares a guarded column with: ``is null``, else ``eq`` to the value's text."""
    if value is None:
        return "is", "null"
    if isinstance(value, list):
        return "eq", _array_literal(value)
    if isinstance(value, dict):
        return "eq", json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "eq", "true" if value else "false"
    return "eq", str(value)


def guard_filters(guard: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A guard (``{column: value the server must still hold}``) as PostgREST filters: ``is.null``, ``eq.<text>``,
    ``eq.{a,b}`` (arrays), ``eq.<json>`` (jsonb). A write carrying them matches no row that changed meanwhile.

    >>> guard_filters({"phone": None, "tags": ["a", "b c"]})
    [('phone', 'is.null'), ('tags', 'eq.{a,"b c"}')]
    """
    return [(column, "{}.{}".format(*_guard_value(value))) for column, value in guard.items()]


def _guard_terms(guard: Mapping[str, Any]) -> list[str]:
    """A guard as terms of a logic tree (``phone.eq."+44 20"``): values quoted as PostgREST needs there."""
    terms = []
    for column, value in guard.items():
        operator, text = _guard_value(value)
        terms.append(f"{column}.{operator}.{text if operator == 'is' else quote(text)}")
    return terms


def guarded_filters(key: str, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[tuple[str, str]]:
    """The filter of one guarded PATCH for `rows` ((id, guard) pairs) that share a patch body.

    Rows with the same guard share one ``id=in.(...)``: a single guard is ``id=in.(...)&col=eq.v``; several are
    ``or=(and(id.in.(...),col.eq.v),and(id.in.(...),col.is.null),...)``. Either way a row whose guarded columns
    changed on the server matches nothing and is not overwritten.
    """
    groups: dict[str, tuple[Mapping[str, Any], list[str]]] = {}
    for ident, guard in rows:
        signature = json.dumps(guard, sort_keys=True, default=str)
        groups.setdefault(signature, (guard, []))[1].append(ident)
    if len(groups) == 1:
        guard, keys = next(iter(groups.values()))
        return [(key, in_(keys)), *guard_filters(guard)]
    terms = []
    for guard, keys in groups.values():
        ids = f"{key}.in.({','.join(quote(k) for k in keys)})"
        terms.append(f"and({','.join([ids, *_guard_terms(guard)])})" if guard else ids)
    return [("or", "(" + ",".join(terms) + ")")]


def guard_size(value: Any) -> int:
    """How long a guard value is, as `GUARD_LIMIT` counts it (its JSON text; nothing for null)."""
    return len(json.dumps(value, ensure_ascii=False)) if value is not None else 0

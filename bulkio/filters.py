"""Building PostgREST query strings: filters, quoting inside `in.(...)` / `or=(...)`, and URL-budget splitting.

PostgREST's rules (``shared/reference.md``): inside ``in.(...)`` and ``or=(...)`` a value containing ``,`` ``.``
``:`` ``(`` ``)`` ``"`` ``\\`` or white space must be double-quoted, with ``\\"`` and ``\\\\`` escaped; percent-encoding
does not protect a comma. ``+`` must travel as ``%2B`` (else it is a space): httpx's query encoding does that, so
these helpers build *unencoded* parameter values and let httpx encode them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "DEFAULT_URL_BUDGET",
    "Filters",
    "as_params",
    "encoded_length",
    "eq",
    "in_",
    "or_",
    "quote",
    "split_in",
]

DEFAULT_URL_BUDGET = 6000
"""Bytes a request URL may take: PostgREST accepts ~50 KiB, proxies in front of it often stop at 8 KiB."""

Filters = Sequence[tuple[str, str]] | Sequence[str] | Mapping[str, str] | None
"""Filters as ``[("name", "eq.Acme")]``, ``["name=eq.Acme"]`` or ``{"name": "eq.Acme"}``."""

_NEEDS_QUOTES = re.compile(r'[,.:()"\\\s]')
_RESERVED = frozenset({"null", "true", "false"})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def quote(value: Any) -> str:
    """A value as it must appear inside ``in.(...)`` or ``or=(...)``.

    >>> quote("Acme")
    'Acme'
    >>> quote('Smith, Jones "Ltd."')
    '"Smith, Jones \\\\"Ltd.\\\\""'
    """
    text = _text(value)
    if text == "" or text.lower() in _RESERVED or _NEEDS_QUOTES.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def eq(value: Any) -> str:
    """``eq.<value>``: a top-level filter value needs no quoting (only list syntax does)."""
    return f"eq.{_text(value)}"


def in_(values: Iterable[Any]) -> str:
    """``in.(a,"b,c")``: every value quoted as PostgREST needs."""
    return "in.(" + ",".join(quote(v) for v in values) + ")"


def or_(conditions: Iterable[tuple[str, str, Any]]) -> str:
    """``(a.eq.1,b.in.(x,y))`` from ``[("a", "eq", 1), ("b", "in", ["x", "y"])]`` for the ``or`` parameter."""
    parts = []
    for column, operator, value in conditions:
        if operator in ("in", "not.in"):
            parts.append(f"{column}.{operator}.(" + ",".join(quote(v) for v in value) + ")")
        elif operator in ("is", "not.is"):
            parts.append(f"{column}.{operator}.{_text(value)}")
        else:
            parts.append(f"{column}.{operator}.{quote(value)}")
    return "(" + ",".join(parts) + ")"


def as_params(filters: Filters) -> list[tuple[str, str]]:
    """Normalise any accepted filter form to ``[(column, "operator.value"), ...]``.

    :raises ValueError: for a string without ``=`` (naming it, with an example).
    """
    if not filters:
        return []
    if isinstance(filters, Mapping):
        return [(str(k), str(v)) for k, v in filters.items()]
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
    """Length of the query string httpx will send for `params` (same encoding rules)."""
    return len(urlencode(list(params)))


def split_in(column: str, values: Sequence[Any], *, budget: int = DEFAULT_URL_BUDGET, used: int = 0,
             ) -> Iterator[list[Any]]:
    """Chunks of `values` whose ``column=in.(...)`` parameter keeps the URL under `budget` bytes.

    :param used: bytes the rest of the URL already takes (scheme, host, path, other parameters).
    :raises ValueError: when a single value alone does not fit.
    """
    room = budget - used - len(column) - len("=in.%28%29") - 1
    chunk: list[Any] = []
    size = 0
    for value in values:
        item = len(urlencode([("", quote(value))])) - 1 + 3  # the value, encoded, plus an encoded comma
        if item > room:
            raise ValueError(f"a value of {column} is too long for one request URL ({item} bytes > {room})")
        if chunk and size + item > room:
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += item
    if chunk:
        yield chunk

"""Postgres value semantics for the sandbox: JSON bodies coerced to column types, SQLite encoding, LIKE, arrays.

Errors carry the codes and messages Postgres would send (22P02 invalid text, 22003 numeric overflow, 22007 bad
timestamp), so the store can raise them unchanged.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ..resources import Column, ColumnType
from .errors import PgError
from .query import split_list

__all__ = ["coerce", "decode_value", "encode_value", "filter_value", "pg_contains", "pg_jsonb", "pg_like",
           "quote_ident"]

_NUMERIC_LIMIT = 1e5  # numeric(10,5): at most 5 digits before the point


def quote_ident(name: str) -> str:
    """Postgres quotes identifiers that are not all lower case (as in its error details)."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else f'"{name}"'


@lru_cache(maxsize=512)
def _like_regex(pattern: str, ci: bool) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch in "*%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ci else 0))


def pg_like(value: Any, pattern: Any, ci: int) -> int | None:
    """SQL LIKE / ILIKE for SQLite (PostgREST's `*` is `%`): NULL in, NULL out."""
    if value is None or pattern is None:
        return None
    return 1 if _like_regex(str(pattern), bool(ci)).fullmatch(str(value)) else 0


def pg_contains(array_json: Any, items_json: str, contained: int) -> int | None:
    """Array containment `@>` (or `<@` when `contained`) over JSON-encoded arrays."""
    if array_json is None:
        return None
    have, want = set(json.loads(array_json)), set(json.loads(items_json))
    return int(have <= want) if contained else int(want <= have)


def _canonical_json(value: Any) -> str:
    def tidy(item: Any) -> Any:  # jsonb compares numbers by value: 1 = 1.0
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {k: tidy(v) for k, v in item.items()}
        if isinstance(item, list):
            return [tidy(v) for v in item]
        return item
    return json.dumps(tidy(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def pg_jsonb(stored: Any) -> str | None:
    """A stored JSON text as a canonical text, so ``=`` compares as jsonb does (key order and spacing ignored)."""
    return None if stored is None else _canonical_json(json.loads(stored))


def _canonical_timestamp(raw: str, column: Column) -> str:
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "T", 1) if len(raw) > 10 else raw.strip())
    except ValueError:
        raise PgError(400, "22007", f'invalid input syntax for type {column.type.value}: "{raw}"') from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _display_timestamp(stored: str) -> str:
    """As Postgres renders timestamptz in JSON: fractional seconds without trailing zeros (``05.12+00:00``)."""
    head, dot, rest = stored.partition(".")
    if not dot:
        return stored
    digits, offset = rest[:6], rest[6:]
    digits = digits.rstrip("0")
    return f"{head}.{digits}{offset}" if digits else f"{head}{offset}"


def _parse_array_literal(raw: str) -> list[Any]:
    if not (raw.startswith("{") and raw.endswith("}")):
        raise PgError(400, "22P02", f'malformed array literal: "{raw}"',
                      details='Array value must start with "{" or dimension information.')
    inner = raw[1:-1]
    if not inner:
        return []
    return [None if item == "NULL" else item for item in split_list(inner)]


def encode_value(column: Column, value: Any) -> Any:
    """A Python value as SQLite stores it: objects, arrays and vectors as JSON text."""
    if value is None:
        return None
    if column.type in (ColumnType.JSON, ColumnType.TEXT_ARRAY, ColumnType.VECTOR):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def decode_value(column: Column, value: Any) -> Any:
    """A stored value as PostgREST renders it in JSON."""
    if value is None:
        return None
    if column.type in (ColumnType.JSON, ColumnType.TEXT_ARRAY, ColumnType.VECTOR):
        return json.loads(value)
    if column.type is ColumnType.NUMERIC:
        return int(value) if float(value).is_integer() else value
    if column.type is ColumnType.TIMESTAMP:
        return _display_timestamp(value)
    return value


def coerce(column: Column, value: Any) -> Any:
    """A JSON body value cast to the column's type, as Postgres casts it (or its error)."""
    value = _coerce(column, value)
    if column.type in (ColumnType.JSON, ColumnType.VECTOR) and value is not None \
            and "\\u0000" in json.dumps(value):
        raise PgError(400, "22P05", "unsupported Unicode escape sequence",
                      details="\\u0000 cannot be converted to text.")
    texts = value if isinstance(value, list) and column.type is ColumnType.TEXT_ARRAY else [value]
    if any(isinstance(t, str) and "\x00" in t for t in texts):
        raise PgError(400, "22021", 'invalid byte sequence for encoding "UTF8": 0x00')
    return value


def _coerce(column: Column, value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    if kind is ColumnType.TEXT:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return str(value)
    if kind is ColumnType.NUMERIC:
        if isinstance(value, (bool, dict, list)):
            raise PgError(400, "22P02", f'invalid input syntax for type numeric: "{json.dumps(value)}"')
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise PgError(400, "22P02", f'invalid input syntax for type numeric: "{value}"') from None
        if math.isinf(number) or (not math.isnan(number) and abs(number) >= _NUMERIC_LIMIT):
            raise PgError(400, "22003", "numeric field overflow",
                          details="A field with precision 10, scale 5 must round to an absolute value less "
                                  "than 10^5.")
        return number if math.isnan(number) else round(number, 5)
    if kind is ColumnType.INTEGER:
        try:
            return int(str(value).strip()) if not isinstance(value, bool) else int(value)
        except ValueError:
            raise PgError(400, "22P02", f'invalid input syntax for type integer: "{value}"') from None
    if kind is ColumnType.BOOLEAN:
        if isinstance(value, bool):
            return int(value)
        text = str(value).strip().lower()
        if text in ("true", "t", "yes", "on", "1"):
            return 1
        if text in ("false", "f", "no", "off", "0"):
            return 0
        raise PgError(400, "22P02", f'invalid input syntax for type boolean: "{value}"')
    if kind is ColumnType.TIMESTAMP:
        return _canonical_timestamp(str(value), column)
    if kind is ColumnType.TEXT_ARRAY:
        if isinstance(value, str):
            value = _parse_array_literal(value)
        if not isinstance(value, list):
            raise PgError(400, "22P02", f'malformed array literal: "{json.dumps(value)}"',
                          details='Array value must start with "{" or dimension information.')
        return [None if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                for v in value]
    return value  # json, vector: stored as given


def filter_value(column: Column, raw: str) -> Any:
    """A filter's text value cast to the column's type for comparison."""
    if column.type is ColumnType.NUMERIC:
        try:
            return float(raw)
        except ValueError:
            raise PgError(400, "22P02", f'invalid input syntax for type numeric: "{raw}"') from None
    if column.type is ColumnType.INTEGER:
        try:
            return int(raw)
        except ValueError:
            raise PgError(400, "22P02", f'invalid input syntax for type integer: "{raw}"') from None
    if column.type is ColumnType.TIMESTAMP:
        return _canonical_timestamp(raw, column)
    if column.type is ColumnType.TEXT_ARRAY:
        return encode_value(column, coerce(column, raw))
    if column.type is ColumnType.JSON:
        try:
            return _canonical_json(json.loads(raw))
        except json.JSONDecodeError:
            raise PgError(400, "22P02", "invalid input syntax for type json",
                          details=f'Token "{raw[:20]}" is invalid.') from None
    return raw

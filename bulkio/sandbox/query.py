"""Parsing PostgREST's query grammar: `select`, `order`, column filters and `or=(...)` / `and=(...)` logic trees.

Written from PostgREST's documented grammar, independently of bulkio's own query builder (`bulkio/api/query.py`), so
tests that send the client's quoting through this parser are an honest check of both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import PgError

__all__ = [
    "OPERATORS",
    "Condition",
    "Embed",
    "Field",
    "Logic",
    "OrderTerm",
    "parse_filter",
    "parse_logic",
    "parse_order",
    "parse_select",
    "split_list",
]

OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "is", "in", "cs", "cd"})


@dataclass(frozen=True)
class Field:
    name: str
    alias: str | None = None


@dataclass(frozen=True)
class Embed:
    target: str                      # a table name or a foreign-key column name
    hint: str | None = None          # `user!accountManagerId(...)`
    alias: str | None = None
    items: tuple[Field | Embed | str, ...] = ()


@dataclass(frozen=True)
class OrderTerm:
    column: str
    descending: bool = False
    nulls_first: bool | None = None  # None: Postgres' default (asc -> nulls last, desc -> nulls first)


@dataclass(frozen=True)
class Condition:
    column: str
    operator: str
    value: str | tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Logic:
    operator: str                    # "and" | "or"
    terms: tuple[Condition | Logic, ...] = field(default_factory=tuple)
    negated: bool = False


def _parse_error(text: str, details: str) -> PgError:
    return PgError(400, "PGRST100", f'"failed to parse {text}"', details=details)


def split_list(text: str, *, what: str = "list") -> list[str]:
    """Split a PostgREST list on top-level commas: double quotes and parentheses protect what they enclose.

    Quoted items are returned with their quotes removed and ``\\"`` / ``\\\\`` unescaped; unquoted items as written.
    """
    items: list[str] = []
    buf: list[str] = []
    depth = 0
    i = 0
    quoted_item = False
    while i < len(text):
        ch = text[i]
        if ch == '"' and depth == 0 and not "".join(buf).strip():
            # a quoted item: read to the closing quote, honouring backslash escapes
            i += 1
            value: list[str] = []
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                value.append(text[i])
                i += 1
            if i >= len(text):
                raise _parse_error(what, f"unterminated quote in {text!r}")
            buf = value
            quoted_item = True
            i += 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _parse_error(what, f"unbalanced ')' in {text!r}")
        if ch == "," and depth == 0:
            items.append("".join(buf))
            buf, quoted_item = [], False
        else:
            if quoted_item:
                raise _parse_error(what, f"unexpected {ch!r} after a quoted value in {text!r}")
            buf.append(ch)
        i += 1
    if depth != 0:
        raise _parse_error(what, f"unbalanced '(' in {text!r}")
    items.append("".join(buf))
    return items


def _split_raw(text: str) -> list[str]:
    """Split on top-level commas keeping quotes as written (for nested logic trees parsed again later)."""
    items, buf, depth, in_quote, i = [], [], 0, False, 0
    while i < len(text):
        ch = text[i]
        if in_quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
            buf.append(ch)
        elif ch == "(":
            depth += 1
            buf.append(ch)
        elif ch == ")":
            depth -= 1
            buf.append(ch)
        elif ch == "," and depth == 0:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if in_quote or depth != 0:
        raise _parse_error("logic tree", f"unbalanced quotes or parentheses in {text!r}")
    items.append("".join(buf))
    return items


def parse_select(text: str | None) -> tuple[Field | Embed | str, ...]:
    """`*`, `a,b`, `alias:a`, `customerType(name)`, `manager:user!accountManagerId(email)` -> items ("*" for star)."""
    if text is None or text.strip() == "":
        return ("*",)
    items: list[Field | Embed | str] = []
    for raw in _split_raw(text):
        part = raw.strip()
        if not part:
            raise _parse_error("select", f"empty item in select={text!r}")
        if part == "*":
            items.append("*")
            continue
        alias = None
        head = part.split("(", 1)[0]
        if ":" in head and "::" not in head:
            alias, part = part.split(":", 1)
        if "(" in part:
            if not part.endswith(")"):
                raise _parse_error("select", f"expected ')' at the end of {raw!r}")
            target, inner = part[:-1].split("(", 1)
            hint = None
            if "!" in target:
                target, hint = target.split("!", 1)
            items.append(Embed(target.strip(), hint, alias, parse_select(inner)))
        else:
            name = part.split("::", 1)[0]  # casts are accepted and ignored
            if not name.replace("_", "a").isalnum():
                raise _parse_error("select", f"unexpected {name!r} in select")
            items.append(Field(name, alias))
    return tuple(items)


def parse_order(text: str | None) -> tuple[OrderTerm, ...]:
    if not text:
        return ()
    terms = []
    for raw in text.split(","):
        parts = raw.strip().split(".")
        column, modifiers = parts[0], parts[1:]
        descending, nulls_first = False, None
        for modifier in modifiers:
            if modifier == "asc":
                descending = False
            elif modifier == "desc":
                descending = True
            elif modifier == "nullsfirst":
                nulls_first = True
            elif modifier == "nullslast":
                nulls_first = False
            else:
                raise _parse_error("order", f"unexpected {modifier!r} expecting asc, desc, nullsfirst or nullslast")
        if not column:
            raise _parse_error("order", f"empty column in order={text!r}")
        terms.append(OrderTerm(column, descending, nulls_first))
    return tuple(terms)


def _operator_value(column: str, expr: str, source: str) -> Condition:
    negated = False
    if expr.startswith("not."):
        negated, expr = True, expr[4:]
    op, sep, value = expr.partition(".")
    if not sep or op not in OPERATORS:
        raise _parse_error(f"filter ({source})", f"unknown or missing operator {op!r} (expected one of "
                                                   f"{', '.join(sorted(OPERATORS))})")
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise _parse_error(f"filter ({source})", "in expects a parenthesised list: in.(a,b)")
        return Condition(column, op, tuple(split_list(value[1:-1], what=f"filter ({source})")), negated)
    if op in ("cs", "cd"):
        if not (value.startswith("{") and value.endswith("}")):
            raise _parse_error(f"filter ({source})", f"{op} expects an array literal: {op}.{{a,b}}")
        inner = value[1:-1]
        return Condition(column, op, tuple(split_list(inner)) if inner else (), negated)
    if op == "is" and value.lower() not in ("null", "true", "false", "unknown", "not_null"):
        raise _parse_error(f"filter ({source})", "is expects null, not_null, true, false or unknown")
    return Condition(column, op, value, negated)


def parse_filter(column: str, expr: str) -> Condition:
    """`?name=eq.Acme` -> Condition("name", "eq", "Acme")."""
    return _operator_value(column, expr, f"{column}={expr}")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return split_list(value)[0]
    return value


def parse_logic(operator: str, text: str, *, negated: bool = False) -> Logic:
    """`or=(a.eq.1,and(b.gt.2,c.is.null))` -> a `Logic` tree (value of the query parameter without the key)."""
    if not (text.startswith("(") and text.endswith(")")):
        raise _parse_error(f"logic tree ({operator}={text})", "expected a parenthesised list")
    terms: list[Condition | Logic] = []
    for raw in _split_raw(text[1:-1]):
        term = raw.strip()
        not_prefix = term.startswith("not.")
        bare = term[4:] if not_prefix else term
        for nested in ("and", "or"):
            if bare.startswith(nested + "("):
                terms.append(parse_logic(nested, bare[len(nested):], negated=not_prefix))
                break
        else:
            column, sep, expr = term.partition(".")
            if not sep:
                raise _parse_error(f"logic tree ({operator}={text})", f"expected column.operator.value in {term!r}")
            condition = _operator_value(column, expr, term)
            if isinstance(condition.value, str):
                condition = Condition(condition.column, condition.operator, _unquote(condition.value),
                                      condition.negated)
            terms.append(condition)
    return Logic(operator, tuple(terms), negated)

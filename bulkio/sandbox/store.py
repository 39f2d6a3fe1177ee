"""The sandbox's database: SQLite storage with Postgres' constraint semantics and error messages.

Constraints are checked here in Python (NOT NULL, CHECK, foreign keys, row-level security, triggers) rather than by
SQLite, so that every refusal carries the code, message and details Postgres would send. Unique constraints use
SQLite unique indexes (they must see concurrent rows) and are translated to Postgres' 23505.

All access goes through one connection guarded by a lock: the sandbox serves one request at a time, which makes
each request one transaction, as PostgREST's are.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..resources import Column, ColumnType
from .errors import PgError
from .pgtypes import coerce, decode_value, encode_value, filter_value, pg_contains, pg_jsonb, pg_like, quote_ident
from .query import Condition, Embed, Field, Logic, OrderTerm
from .schema import TABLES, TableSpec, now_iso, sqlite_ddl

__all__ = ["Principal", "Store"]



@dataclass(frozen=True)
class Principal:
    """Who is asking: the API key's company, user and scopes."""

    company_id: str
    user_id: str | None
    scopes: frozenset[str]



class Store:
    """Tables of every company, in one in-memory SQLite database."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.create_function("pg_like", 3, pg_like, deterministic=True)
        self._conn.create_function("pg_contains", 3, pg_contains, deterministic=True)
        self._conn.create_function("pg_jsonb", 1, pg_jsonb, deterministic=True)
        statements = sqlite_ddl()
        for statement in statements:
            if not statement.startswith("CREATE UNIQUE INDEX") and not statement.startswith("CREATE INDEX"):
                self._conn.execute(statement)
        # indexes are built once the seed is in (`save_pristine`): a million rows load ~3x faster without them
        self._pending_indexes = [s for s in statements if "INDEX" in s.split("(", 1)[0]]
        self._ctid = itertools.count(1)
        self._pristine: sqlite3.Connection | None = None

    # ----------------------------------------------------------------- housekeeping
    def create_indexes(self) -> None:
        """Build the indexes (unique constraints among them); the seed loads before them, for speed."""
        with self.lock:
            for statement in self._pending_indexes:
                self._conn.execute(statement)
            self._pending_indexes = []

    def save_pristine(self) -> None:
        """Build any pending indexes and remember the current state as the one `restore_pristine` goes back to."""
        self.create_indexes()
        with self.lock:
            self._pristine = sqlite3.connect(":memory:", check_same_thread=False)
            self._conn.backup(self._pristine)

    def restore_pristine(self) -> None:
        with self.lock:
            assert self._pristine is not None, "save_pristine() first"
            self._pristine.backup(self._conn)

    @contextmanager
    def transaction(self, *, rollback: bool = False) -> Iterator[None]:
        """One request, one transaction: committed unless it raises or `rollback` is asked for."""
        with self.lock:
            self._conn.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("ROLLBACK" if rollback else "COMMIT")

    def bulk_load(self, table: str, records: Sequence[dict[str, Any]]) -> None:
        """Load trusted rows (the seed) without checks."""
        spec = TABLES[table]
        names = [c.name for c in spec.resource.columns]
        sql = (f'INSERT INTO "{table}" ({", ".join(_q(n) for n in names)}, "_ctid") '
               f'VALUES ({", ".join("?" for _ in names)}, ?)')
        with self.transaction():
            self._conn.executemany(
                sql, ([*self._encode_row(spec, r), next(self._ctid)] for r in records)
            )

    def add_membership(self, user_id: str, company_id: str) -> None:
        with self.lock:
            self._conn.execute('INSERT INTO "_membership" VALUES (?, ?)', (user_id, company_id))

    def set_sequence(self, table: str, company_id: str, value: int) -> None:
        with self.lock:
            self._conn.execute('INSERT OR REPLACE INTO "_sequence" VALUES (?, ?, ?)', (table, company_id, value))

    def all_rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of every company (no row-level security): for tests and demos."""
        spec = TABLES[table]
        with self.lock:
            return self._fetch(spec, f'SELECT * FROM "{table}" ORDER BY "_ctid"', [])

    def raw_update(self, table: str, key: Any, changes: dict[str, Any]) -> int:
        """A change made behind the API user's back (the concurrent editor). Sets `updatedAt` like the app would."""
        spec = TABLES[table]
        resource = spec.resource
        changes = {name: coerce(resource.column(name), value) for name, value in changes.items()}
        if "updatedAt" in resource and "updatedAt" not in changes:
            changes["updatedAt"] = now_iso()
        with self.transaction():
            return self._update_rows(spec, [key], changes)


    def _encode_row(self, spec: TableSpec, record: dict[str, Any]) -> list[Any]:
        dumps = json.dumps
        names, as_json = _layout(spec)
        return [
            (dumps(value, ensure_ascii=False, separators=(",", ":")) if flag and value is not None else value)
            for value, flag in zip(map(record.get, names), as_json, strict=True)
        ]


    def _fetch(self, spec: TableSpec, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self._conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        columns = [spec.resource.column(n) if n in spec.resource else None for n in names]
        out = []
        for raw in cursor.fetchall():
            out.append({
                name: decode_value(col, value)
                for name, col, value in zip(names, columns, raw, strict=True) if col is not None
            })
        return out

    # ----------------------------------------------------------------- WHERE / ORDER
    def _rls(self, spec: TableSpec, principal: Principal | None) -> tuple[str, list[Any]]:
        if principal is None or spec.rls is None:
            return "1", []
        if spec.rls == "company":
            return '"companyId" = ?', [principal.company_id]
        if spec.rls == "self":
            return '"id" = ?', [principal.company_id]
        return '"id" IN (SELECT "userId" FROM "_membership" WHERE "companyId" = ?)', [principal.company_id]

    def _column(self, spec: TableSpec, name: str) -> Column:
        if name not in spec.resource:
            raise PgError(400, "42703", f"column {spec.name}.{name} does not exist")
        return spec.resource.column(name)


    def _condition_sql(self, spec: TableSpec, cond: Condition) -> tuple[str, list[Any]]:
        column = self._column(spec, cond.column)
        col = _q(cond.column)
        op, value = cond.operator, cond.value
        comparisons = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        if op in comparisons and column.type is ColumnType.JSON:
            if op not in ("eq", "neq"):
                raise PgError(400, "42883", f"operator does not exist: jsonb {comparisons[op]} unknown")
            sql, params = f"pg_jsonb({col}) {comparisons[op]} ?", [filter_value(column, str(value))]
        elif op in comparisons:
            sql, params = f"{col} {comparisons[op]} ?", [filter_value(column, str(value))]
        elif op in ("like", "ilike"):
            sql, params = f"pg_like({col}, ?, {int(op == 'ilike')})", [value]
        elif op == "is":
            word = str(value).lower()
            sql = {"null": f"{col} IS NULL", "not_null": f"{col} IS NOT NULL", "unknown": f"{col} IS NULL",
                   "true": f"{col} = 1", "false": f"{col} = 0"}[word]
            params = []
        elif op == "in":
            items = [filter_value(column, v) for v in value]
            sql = f"{col} IN ({', '.join('?' for _ in items)})" if items else "0"
            params = items
        else:  # cs, cd
            sql = f"pg_contains({col}, ?, {int(op == 'cd')})"
            params = [json.dumps(list(value))]
        return (f"NOT ({sql})" if cond.negated else sql), params

    def _logic_sql(self, spec: TableSpec, node: Condition | Logic) -> tuple[str, list[Any]]:
        if isinstance(node, Condition):
            return self._condition_sql(spec, node)
        parts, params = [], []
        for term in node.terms:
            sql, p = self._logic_sql(spec, term)
            parts.append(f"({sql})")
            params.extend(p)
        joined = f" {node.operator.upper()} ".join(parts) or ("1" if node.operator == "and" else "0")
        return (f"NOT ({joined})" if node.negated else joined), params

    def _where(self, spec: TableSpec, principal: Principal | None,
               filters: Sequence[Condition | Logic]) -> tuple[str, list[Any]]:
        sql, params = self._rls(spec, principal)
        parts = [sql]
        for node in filters:
            part, p = self._logic_sql(spec, node)
            parts.append(f"({part})")
            params = [*params, *p]
        return " AND ".join(parts), params

    def _order_sql(self, spec: TableSpec, order: Sequence[OrderTerm]) -> str:
        if not order:
            return ' ORDER BY "_ctid"'  # heap order: no promise, and updated rows move to the end
        terms = []
        for term in order:
            self._column(spec, term.column)
            nulls_first = term.descending if term.nulls_first is None else term.nulls_first
            terms.append(f"{_q(term.column)} {'DESC' if term.descending else 'ASC'} "
                         f"NULLS {'FIRST' if nulls_first else 'LAST'}")
        return " ORDER BY " + ", ".join(terms)

    # ----------------------------------------------------------------- reads
    def select(self, table: str, principal: Principal, *, filters: Sequence[Condition | Logic] = (),
               order: Sequence[OrderTerm] = (), limit: int | None = None, offset: int = 0,
               count: bool = False) -> tuple[list[dict[str, Any]], int | None]:
        spec = TABLES[table]
        where, params = self._where(spec, principal, filters)
        sql = f'SELECT * FROM "{table}" WHERE {where}{self._order_sql(spec, order)}'
        total = None
        if count:
            total = self._conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}', params).fetchone()[0]
        sql += f" LIMIT {-1 if limit is None else int(limit)} OFFSET {int(offset)}"
        return self._fetch(spec, sql, params), total

    def check_select(self, table: str, items: Sequence[Field | Embed | str]) -> None:
        """Raise the error PostgREST would for an unknown column or relationship, before anything is done."""
        spec = TABLES[table]
        for item in items:
            if isinstance(item, Field):
                self._column(spec, item.name)
            elif isinstance(item, Embed):
                target, _, _ = self._relationship(spec, item)
                self.check_select(target.name, item.items)

    def _relationship(self, spec: TableSpec, embed: Embed) -> tuple[TableSpec, str, str]:
        """(target table, local column, target column) for an embedding; the local side holds the foreign key
        for many-to-one, the target side for one-to-many (target column starts with '<').

        As PostgREST: every foreign key between the two tables, in either direction, is a candidate; more than one
        is 300 PGRST201 unless a hint (`table!fk_column` or `table!constraint_name`) picks one.
        """
        name = embed.target
        if name in spec.resource and spec.resource.column(name).reference is not None:
            ref = spec.resource.column(name).reference
            assert ref is not None
            return TABLES[ref.table], name, ref.column
        if name not in TABLES:
            raise self._no_relationship(spec.name, name)
        target = TABLES[name]
        # (local column, target column, one-to-many, constraint, foreign-key column)
        options: list[tuple[str, str, bool, str, str]] = [
            (c.name, c.reference.column, False, f"{spec.name}_{c.name}_fkey", c.name)
            for c in spec.resource.columns if c.reference is not None and c.reference.table == name
        ]
        if name != spec.name:
            options += [(c.reference.column, c.name, True, f"{name}_{c.name}_fkey", c.name)
                        for c in target.resource.columns if c.reference is not None and c.reference.table == spec.name]
        if embed.hint:
            options = [o for o in options if embed.hint in (o[3], o[4])]
        if len(options) == 1:
            local, remote, one_to_many, _, _ = options[0]
            return target, local, ("<" if one_to_many else "") + remote
        if not options:
            raise self._no_relationship(spec.name, name)
        details = [{"cardinality": "one-to-many" if many else "many-to-one",
                    "embedding": f"{spec.name} with {name}",
                    "relationship": f"{constraint} using {spec.name}({local}) and {name}({remote})"}
                   for local, remote, many, constraint, _ in options]
        raise PgError(300, "PGRST201", f"Could not embed because more than one relationship was found for "
                      f"'{spec.name}' and '{name}'", details=details,
                      hint=f"Try changing '{name}' to one of the following: "
                           + ", ".join(f"'{name}!{o[3]}'" for o in options)
                           + ". Find the desired relationship in the 'details' key.")

    @staticmethod
    def _no_relationship(table: str, name: str) -> PgError:
        return PgError(400, "PGRST200", f"Could not find a relationship between '{table}' and '{name}' in the "
                       "schema cache", hint="Verify that the table and the foreign key exist.")

    def shape(self, table: str, principal: Principal, rows: list[dict[str, Any]],
              items: Sequence[Field | Embed | str]) -> list[dict[str, Any]]:
        """Project full rows onto a parsed `select`, embedding related rows (subject to row-level security)."""
        spec = TABLES[table]
        out: list[dict[str, Any]] = [{} for _ in rows]
        for item in items:
            if item == "*":
                for o, row in zip(out, rows, strict=True):
                    o.update(row)
            elif isinstance(item, Field):
                self._column(spec, item.name)
                for o, row in zip(out, rows, strict=True):
                    o[item.alias or item.name] = row.get(item.name)
            elif isinstance(item, Embed):
                target, local, remote = self._relationship(spec, item)
                keys = sorted({row[local] for row in rows if row.get(local) is not None})
                one_to_many = remote.startswith("<")
                remote_col = remote[1:] if one_to_many else remote
                related: list[dict[str, Any]] = []
                if keys:
                    where, params = self._where(target, principal,
                                                [Condition(remote_col, "in", tuple(map(str, keys)))])
                    related = self._fetch(target, f'SELECT * FROM "{target.name}" WHERE {where} ORDER BY "_ctid"',
                                          params)
                shaped = self.shape(target.name, principal, related, item.items)
                label = item.alias or item.target
                if one_to_many:
                    groups: dict[Any, list[dict[str, Any]]] = {}
                    for raw, view in zip(related, shaped, strict=True):
                        groups.setdefault(raw[remote_col], []).append(view)
                    for o, row in zip(out, rows, strict=True):
                        o[label] = groups.get(row.get(local), [])
                else:
                    by_key = {raw[remote_col]: view for raw, view in zip(related, shaped, strict=True)}
                    for o, row in zip(out, rows, strict=True):
                        o[label] = by_key.get(row.get(local))
        return out

    # ----------------------------------------------------------------- writes
    def _require(self, spec: TableSpec, principal: Principal, scope: str) -> None:
        if not spec.writable or scope not in principal.scopes:
            raise PgError(403, "42501", f"permission denied for table {spec.name}")

    def _failing_row(self, spec: TableSpec, record: dict[str, Any]) -> str:
        shown = ", ".join("null" if record.get(c.name) is None else str(record.get(c.name))
                          for c in spec.resource.columns if c.type is not ColumnType.VECTOR)
        return f"Failing row contains ({shown})."

    def _check_row(self, spec: TableSpec, principal: Principal, record: dict[str, Any],
                   changed: Sequence[str], fk_cache: dict[tuple[str, Any], bool]) -> None:
        resource = spec.resource
        if spec.rls == "company" and record.get("companyId") != principal.company_id:
            raise PgError(403, "42501", f'new row violates row-level security policy for table "{spec.name}"')
        for column in resource.columns:
            value = record.get(column.name)
            if value is None and not column.nullable:
                raise PgError(400, "23502", f'null value in column "{column.name}" of relation "{spec.name}" '
                              "violates not-null constraint", details=self._failing_row(spec, record))
            if value is not None and column.name in changed and (column.minimum is not None
                                                                  or column.maximum is not None):
                low = column.minimum if column.minimum is not None else -math.inf
                high = column.maximum if column.maximum is not None else math.inf
                if not (low <= value <= high):
                    raise PgError(400, "23514", f'new row for relation "{spec.name}" violates check constraint '
                                  f'"{spec.name}_{column.name}_check"', details=self._failing_row(spec, record))
        for column in resource.columns:
            value = record.get(column.name)
            ref = column.reference
            if ref is None or value is None or column.name not in changed:
                continue
            cache_key = (f"{ref.table}.{ref.column}", value)
            if cache_key not in fk_cache:
                found = self._conn.execute(f'SELECT 1 FROM "{ref.table}" WHERE {_q(ref.column)} = ? LIMIT 1',
                                           (value,)).fetchone()
                fk_cache[cache_key] = found is not None
            if not fk_cache[cache_key]:
                raise PgError(409, "23503", f'insert or update on table "{spec.name}" violates foreign key '
                              f'constraint "{spec.name}_{column.name}_fkey"',
                              details=f'Key ({quote_ident(column.name)})=({value}) is not present in table '
                                      f'"{ref.table}".')

    def _unique_error(self, spec: TableSpec, exc: sqlite3.IntegrityError, record: dict[str, Any]) -> PgError:
        text = str(exc)
        columns = [part.split(".", 1)[1] for part in text.split(":", 1)[1].split(",")] if ":" in text else []
        columns = [c.strip() for c in columns]
        if columns == [spec.resource.key] or not columns:
            name, columns = f"{spec.name}_pkey", [spec.resource.key]
        else:
            name = f"{spec.name}_{'_'.join(columns)}_key"
        keys = ", ".join(quote_ident(c) for c in columns)
        values = ", ".join(str(record.get(c)) for c in columns)
        return PgError(409, "23505", f'duplicate key value violates unique constraint "{name}"',
                       details=f"Key ({keys})=({values}) already exists.")

    def _next_readable(self, spec: TableSpec, company_id: str) -> str:
        row = self._conn.execute('SELECT "value" FROM "_sequence" WHERE "table" = ? AND "companyId" = ?',
                                 (spec.name, company_id)).fetchone()
        value = (row[0] if row else 0) + 1
        self._conn.execute('INSERT OR REPLACE INTO "_sequence" VALUES (?, ?, ?)', (spec.name, company_id, value))
        return f"{spec.readable_prefix}{value:06d}"

    def unknown_column(self, spec: TableSpec, name: str) -> PgError:
        return PgError(400, "PGRST204", f"Could not find the '{name}' column of '{spec.name}' in the schema cache")

    def _listed(self, spec: TableSpec, payload: list[dict[str, Any]], columns: Sequence[str] | None) -> list[str]:
        """The columns an INSERT names: ``columns=``, else the first row's keys (every row must have the same)."""
        if columns is None:
            keys = list(payload[0]) if payload else []
            first = set(keys)
            if any(set(row) != first for row in payload[1:]):
                raise PgError(400, "PGRST102", "All object keys must match")
        else:
            keys = list(columns)
        for name in keys:
            if name not in spec.resource:
                raise self.unknown_column(spec, name)
        return keys

    def _insert_record(self, spec: TableSpec, principal: Principal, record: dict[str, Any],
                       fk_cache: dict[tuple[str, Any], bool]) -> dict[str, Any]:
        """Insert one proposed row (the readable id filled as Carbon's trigger does), checked as Postgres would."""
        resource = spec.resource
        names = [c.name for c in resource.columns]
        if spec.readable_prefix and record.get("readableId") is None and record.get("companyId"):
            record["readableId"] = self._next_readable(spec, record["companyId"])
        self._check_row(spec, principal, record, names, fk_cache)
        sql = (f'INSERT INTO "{spec.name}" ({", ".join(_q(n) for n in names)}, "_ctid") '
               f'VALUES ({", ".join("?" for _ in names)}, ?)')
        try:
            self._conn.execute(sql, [*self._encode_row(spec, record), next(self._ctid)])
        except sqlite3.IntegrityError as exc:
            key = resource.key
            taken = self._conn.execute(f'SELECT 1 FROM "{spec.name}" WHERE {_q(key)} = ?',
                                       [encode_value(resource.column(key), record.get(key))]).fetchone()
            if taken:  # Postgres checks the primary key's index first (the oldest); SQLite may name another
                raise self._unique_error(spec, sqlite3.IntegrityError(f"UNIQUE constraint failed: {spec.name}.{key}"),
                                         record) from None
            raise self._unique_error(spec, exc, record) from None
        return {k: decode_value(resource.column(k), encode_value(resource.column(k), v)) for k, v in record.items()}

    def insert(self, table: str, principal: Principal, payload: list[dict[str, Any]], *,
               columns: Sequence[str] | None, missing_default: bool) -> list[dict[str, Any]]:
        """INSERT one statement's rows; all or none (the caller's transaction rolls back on error)."""
        spec = TABLES[table]
        self._require(spec, principal, "create")
        keys = self._listed(spec, payload, columns)
        defaults = spec.defaults()
        fk_cache: dict[tuple[str, Any], bool] = {}
        return [self._insert_record(spec, principal, self._proposed(spec, row, keys, missing_default, defaults),
                                    fk_cache) for row in payload]

    def _proposed(self, spec: TableSpec, row: dict[str, Any], keys: Sequence[str], missing_default: bool,
                  defaults: dict[str, Any]) -> dict[str, Any]:
        """The row an INSERT proposes: the listed columns from the body (NULL where a row lacks one, unless
        ``missing=default``), the defaults for the others."""
        record: dict[str, Any] = {}
        for column in spec.resource.columns:
            if column.name in keys and column.name in row:
                record[column.name] = coerce(column, row[column.name])
            elif column.name in defaults and (column.name not in keys or missing_default):
                record[column.name] = defaults[column.name]()
            else:
                record[column.name] = None
        return record

    def _conflict_target(self, spec: TableSpec, on_conflict: Sequence[str] | None) -> tuple[str, ...]:
        """The arbiter of ``ON CONFLICT``: the primary key, or the UNIQUE constraint `on_conflict` names."""
        resource = spec.resource
        target = tuple(on_conflict or (resource.key,))
        for name in target:
            self._column(spec, name)
        if set(target) != {resource.key} and not any(set(target) == set(u) for u in resource.unique):
            raise PgError(400, "42P10", "there is no unique or exclusion constraint matching the ON CONFLICT "
                          "specification")
        return target

    def upsert(self, table: str, principal: Principal, payload: list[dict[str, Any]], *,
               columns: Sequence[str] | None, missing_default: bool, on_conflict: Sequence[str] | None,
               merge: bool) -> tuple[list[dict[str, Any]], bool]:
        """``INSERT ... ON CONFLICT (target) DO UPDATE SET <every listed column> = EXCLUDED.<column>`` (`merge`)
        or ``DO NOTHING``, as PostgREST sends for ``Prefer: resolution=merge-duplicates / ignore-duplicates``.

        As Postgres: the INSERT privilege is needed whatever happens (and UPDATE to merge); the INSERT policy's
        row-level security check, NOT NULL and CHECK apply to every *proposed* row, conflicting or not; a row
        missing from the table is inserted (a row deleted meanwhile comes back); a conflicting row of another
        company is refused, not skipped. Returns (rows written, whether any was inserted): PostgREST answers 201
        when one was, 200 when every row merged.
        """
        spec = TABLES[table]
        resource = spec.resource
        self._require(spec, principal, "create")
        if merge:
            self._require(spec, principal, "update")
        keys = self._listed(spec, payload, columns)
        target = self._conflict_target(spec, on_conflict)
        defaults = spec.defaults()
        fk_cache: dict[tuple[str, Any], bool] = {}
        written: list[dict[str, Any]] = []
        seen: set[tuple[Any, ...]] = set()
        inserted = False
        for row in payload:
            record = self._proposed(spec, row, keys, missing_default, defaults)
            filled_later = spec.readable_prefix and record.get("readableId") is None  # the insert trigger fills it
            self._check_row(spec, principal, {**record, **({"readableId": "?"} if filled_later else {})}, (),
                            fk_cache)
            arbiter = tuple(record.get(c) for c in target)
            if arbiter in seen and merge:
                raise PgError(500, "21000", "ON CONFLICT DO UPDATE command cannot affect row a second time",
                              hint="Ensure that no rows proposed for insertion within the same command have "
                                   "duplicate constrained values.")
            seen.add(arbiter)
            where = " AND ".join(f"{_q(c)} = ?" for c in target)
            params = [encode_value(resource.column(c), v) for c, v in zip(target, arbiter, strict=True)]
            existing = self._fetch(spec, f'SELECT * FROM "{table}" WHERE {where}', params)
            if not existing:
                written.append(self._insert_record(spec, principal, record, fk_cache))
                inserted = True
            elif merge:
                written.append(self._merge_record(spec, principal, existing[0], record, keys, fk_cache))
        return written, inserted

    def _merge_record(self, spec: TableSpec, principal: Principal, current: dict[str, Any], record: dict[str, Any],
                      keys: Sequence[str], fk_cache: dict[tuple[str, Any], bool]) -> dict[str, Any]:
        """The DO UPDATE branch: every listed column takes the proposed value, NULL included."""
        if spec.rls == "company" and current.get("companyId") != principal.company_id:
            raise PgError(403, "42501", f'new row violates row-level security policy (USING expression) for table '
                          f'"{spec.name}"')
        return self._change_row(spec, principal, current, {name: record[name] for name in keys}, fk_cache)

    def _change_row(self, spec: TableSpec, principal: Principal, current: dict[str, Any], changes: dict[str, Any],
                    fk_cache: dict[tuple[str, Any], bool]) -> dict[str, Any]:
        """UPDATE one row with `changes`, the new row checked as Postgres would (RLS, NOT NULL, CHECK, foreign keys
        of the changed columns, unique constraints); returns the new row."""
        record = {**current, **changes}
        self._check_row(spec, principal, record, list(changes), fk_cache)
        try:
            self._update_rows(spec, [current[spec.resource.key]], changes)
        except sqlite3.IntegrityError as exc:
            raise self._unique_error(spec, exc, record) from None
        return record

    def _update_rows(self, spec: TableSpec, keys: Sequence[Any], changes: dict[str, Any]) -> int:
        if not keys or not changes:
            return 0
        assignments = ", ".join(f"{_q(n)} = ?" for n in changes) + ', "_ctid" = ?'
        key = _q(spec.resource.key)
        count = 0
        for value in keys:
            params = [encode_value(spec.resource.column(n), v) for n, v in changes.items()]
            count += self._conn.execute(f'UPDATE "{spec.name}" SET {assignments} WHERE {key} = ?',
                                        [*params, next(self._ctid), value]).rowcount
        return count

    def update(self, table: str, principal: Principal, filters: Sequence[Condition | Logic],
               body: dict[str, Any]) -> list[dict[str, Any]]:
        spec = TABLES[table]
        resource = spec.resource
        self._require(spec, principal, "update")
        for name in body:
            if name not in resource:
                raise self.unknown_column(spec, name)
        changes = {name: coerce(resource.column(name), value) for name, value in body.items()}
        rows, _ = self.select(table, principal, filters=filters)
        fk_cache: dict[tuple[str, Any], bool] = {}
        updated = []
        for row in rows:
            updated.append(self._change_row(spec, principal, row, changes, fk_cache))
        if updated:
            key = resource.key
            fresh = {r[key]: r for r in self.select(
                table, principal, filters=[Condition(key, "in", tuple(str(r[key]) for r in updated))])[0]}
            updated = [fresh.get(r[key], r) for r in updated]
        return updated

    def delete(self, table: str, principal: Principal, filters: Sequence[Condition | Logic]) -> list[dict[str, Any]]:
        spec = TABLES[table]
        self._require(spec, principal, "delete")
        rows, _ = self.select(table, principal, filters=filters)
        if spec.undeletable_when:
            for row in rows:
                if row.get(spec.undeletable_when) is not None:
                    raise PgError(400, "P0001", f"Cannot delete {spec.name} {row[spec.resource.key]}: it is an "
                                  f"intercompany {spec.name} ({spec.undeletable_when} is set)")
        self._delete_keys(spec, [row[spec.resource.key] for row in rows])
        return rows

    def _delete_keys(self, spec: TableSpec, keys: list[Any]) -> None:
        """Delete rows by key, cascading and then checking the foreign keys that point at them."""
        if not keys:
            return
        key = _q(spec.resource.key)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            self._conn.execute(f'DELETE FROM "{spec.name}" WHERE {key} IN ({", ".join("?" for _ in chunk)})', chunk)
        for other in TABLES.values():
            for column in other.resource.columns:
                ref = column.reference
                if ref is None or ref.table != spec.name:
                    continue
                for start in range(0, len(keys), 500):
                    chunk = keys[start:start + 500]
                    marks = ", ".join("?" for _ in chunk)
                    hits = self._conn.execute(
                        f'SELECT {_q(other.resource.key)}, {_q(column.name)} FROM "{other.name}" '
                        f"WHERE {_q(column.name)} IN ({marks})", chunk).fetchall()
                    if not hits:
                        continue
                    if ref.on_delete == "cascade":
                        self._delete_keys(other, [h[0] for h in hits])
                    elif ref.on_delete == "set null":
                        self._update_rows(other, [h[0] for h in hits], {column.name: None})
                    else:
                        raise PgError(409, "23503", f'update or delete on table "{spec.name}" violates foreign key '
                                      f'constraint "{other.name}_{column.name}_fkey" on table "{other.name}"',
                                      details=f"Key ({quote_ident(ref.column)})=({hits[0][1]}) is still "
                                              f'referenced from table "{other.name}".')


_LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[bool, ...]]] = {}


def _layout(spec: TableSpec) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """Column names and which of them are stored as JSON text (objects, arrays, vectors): computed once per table.

    Keyed by table name: hashing the frozen `Resource` itself would hash every column on every call.
    """
    layout = _LAYOUTS.get(spec.name)
    if layout is None:
        columns = spec.resource.columns
        layout = _LAYOUTS[spec.name] = (
            tuple(c.name for c in columns),
            tuple(c.type in (ColumnType.JSON, ColumnType.TEXT_ARRAY, ColumnType.VECTOR) for c in columns),
        )
    return layout


def _q(name: str) -> str:
    return f'"{name}"'

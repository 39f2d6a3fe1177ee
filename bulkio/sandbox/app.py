"""The sandbox's HTTP face: PostgREST's request dialect over `Store`, plus the fault switches of Carbon's proxy.

Two layers, as in the real deployment: `FaultLayer` plays the hosted proxy and the network (latency, rate limit, 503
storms, dropped connections, a concurrent editor); the starlette app plays PostgREST (auth, query grammar, Prefer
headers, status codes, Content-Range).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PgError
from .openapi import openapi_document
from .query import Condition, Logic, parse_filter, parse_logic, parse_order, parse_select
from .schema import TABLES
from .store import Principal, Store
from .switches import Switches

__all__ = ["SandboxState", "build_app"]

_RESERVED = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})
_OBJECT_MEDIA = "application/vnd.pgrst.object+json"
_RESOLUTIONS = ("merge-duplicates", "ignore-duplicates")


@dataclass
class SandboxState:
    """Everything the running server shares between requests."""

    store: Store
    principals: dict[str, Principal]
    switches: Switches = field(default_factory=Switches)
    requests: list[tuple[str, str]] = field(default_factory=list)
    rate_windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


# ------------------------------------------------------------------------------------------------ PostgREST layer
def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json; charset=utf-8")


def _error_response(error: PgError) -> Response:
    return _json(error.body(), error.status, error.headers)


def _prefer(request: Request) -> dict[str, str]:
    prefs: dict[str, str] = {}
    for header in request.headers.getlist("prefer"):
        for part in header.split(","):
            name, _, value = part.strip().partition("=")
            if name:
                prefs[name.strip().lower()] = value.strip()
    return prefs


def _principal(state: SandboxState, request: Request, table: str) -> Principal:
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("carbon-key")
    if not key:
        raise PgError(401, "42501", f"permission denied for table {table}",
                      hint="Send an API key: 'Authorization: Bearer <key>' or 'carbon-key: <key>'.")
    principal = state.principals.get(key)
    if principal is None:
        raise PgError(401, "PGRST301", "No suitable key or wrong key type",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token", '
                                                   'error_description="No suitable key or wrong key type"'})
    return principal


def _filters(params: list[tuple[str, str]]) -> list[Condition | Logic]:
    out: list[Condition | Logic] = []
    for key, value in params:
        if key in _RESERVED:
            continue
        negated = key.startswith("not.")
        bare = key[4:] if negated else key
        if bare in ("or", "and"):
            out.append(parse_logic(bare, value, negated=negated))
        else:
            out.append(parse_filter(key, value))
    return out


def _int_param(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        value = int(params[name])
    except ValueError:
        raise PgError(400, "PGRST100", f'"failed to parse {name} parameter ({params[name]})"') from None
    if value < 0:
        raise PgError(400, "PGRST100", f'"failed to parse {name} parameter ({params[name]})"')
    return value


def _range(request: Request, params: dict[str, str]) -> tuple[int, int | None]:
    offset = _int_param(params, "offset") or 0
    limit = _int_param(params, "limit")
    header = request.headers.get("range")
    if header and "limit" not in params and "offset" not in params:
        spec = header.split("=", 1)[-1].strip()
        first, _, last = spec.partition("-")
        try:
            offset = int(first)
            limit = int(last) - offset + 1 if last else None
        except ValueError:
            raise PgError(416, "PGRST103", "Requested range not satisfiable", details=f"invalid Range {header!r}") \
                from None
        if limit is not None and limit <= 0:
            raise PgError(416, "PGRST103", "Requested range not satisfiable",
                          details=f"the range end is before its start in {header!r}")
    return offset, limit


def _applied(prefs: dict[str, str], *, tx_rollback: bool) -> dict[str, str]:
    applied = [f"{name}={prefs[name]}" for name in ("resolution", "return", "count", "missing", "handling",
                                                    "max-affected")
               if name in prefs and (name != "resolution" or prefs[name] in _RESOLUTIONS)]
    if tx_rollback:
        applied.append("tx=rollback")
    return {"Preference-Applied": ", ".join(applied)} if applied else {}


def _post(store: Store, table: str, principal: Principal, payload: list[dict[str, Any]],
          columns: list[str] | None, params: dict[str, str], prefs: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """INSERT, or upsert under ``Prefer: resolution=merge-duplicates`` / ``ignore-duplicates`` (on the primary key,
    or the UNIQUE columns ``on_conflict`` names; without the preference ``on_conflict`` is ignored, as PostgREST
    does). (rows written, status): a merge that inserted nothing answers 200, as PostgREST 12 does."""
    missing_default = prefs.get("missing") == "default"
    resolution = prefs.get("resolution")
    if resolution not in _RESOLUTIONS:
        return store.insert(table, principal, payload, columns=columns, missing_default=missing_default), 201
    target = [c.strip() for c in params["on_conflict"].split(",")] if params.get("on_conflict") else None
    written, inserted = store.upsert(table, principal, payload, columns=columns, missing_default=missing_default,
                                     on_conflict=target, merge=resolution == "merge-duplicates")
    merged_only = resolution == "merge-duplicates" and not inserted  # ignore-duplicates always answers 201
    return written, 200 if merged_only else 201


def _as_object(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if len(rows) != 1:
        raise PgError(406, "PGRST116", "JSON object requested, multiple (or no) rows returned",
                      details=f"The result contains {len(rows)} rows")
    return rows[0]


def _read(state: SandboxState, request: Request, table: str, principal: Principal,
          filters: list[Condition | Logic], items: list[Any], params: dict[str, str], prefs: dict[str, str]
          ) -> Response:
    """GET / HEAD: a page of rows under ``db-max-rows``, with ``Content-Range`` (and the exact count if asked)."""
    store = state.store
    if "view" not in principal.scopes:
        raise PgError(403, "42501", f"permission denied for table {table}")
    count = prefs.get("count") in ("exact", "planned", "estimated")
    offset, limit = _range(request, params)
    cap = state.switches.max_rows
    limit = cap if limit is None else min(limit, cap)
    order = parse_order(params.get("order"))
    with store.transaction():
        rows, total = store.select(table, principal, filters=filters, order=order, limit=limit, offset=offset,
                                   count=count)
        shaped = store.shape(table, principal, rows, items)
    shown_total = "*" if total is None else str(total)
    if total is not None and offset > total:
        raise PgError(416, "PGRST103", "Requested range not satisfiable",
                      details=f"An offset of {offset} was requested, but there are only {total} rows.",
                      headers={"Content-Range": f"*/{total}"})
    content_range = f"{offset}-{offset + len(rows) - 1}/{shown_total}" if rows else f"*/{shown_total}"
    status = 206 if total is not None and len(rows) < total else 200
    headers = {"Content-Range": content_range, **_applied({k: v for k, v in prefs.items() if k == "count"},
                                                         tx_rollback=False)}
    want_object = _OBJECT_MEDIA in request.headers.get("accept", "")
    return _json(_as_object(shaped) if want_object else shaped, status, headers)


def _handle(state: SandboxState, request: Request, table: str, body: bytes) -> Response:
    spec = TABLES.get(table)
    if spec is None:
        raise PgError(404, "PGRST205", f"Could not find the table 'public.{table}' in the schema cache")
    principal = _principal(state, request, table)
    params = dict(request.query_params)
    multi = list(request.query_params.multi_items())
    prefs = _prefer(request)
    store = state.store
    items = parse_select(params.get("select"))
    store.check_select(table, items)
    filters = _filters(multi)
    want_object = _OBJECT_MEDIA in request.headers.get("accept", "")
    count = prefs.get("count") in ("exact", "planned", "estimated")
    method = request.method

    if method in ("GET", "HEAD"):
        return _read(state, request, table, principal, filters, items, params, prefs)

    rollback = prefs.get("tx") == "rollback" and state.switches.allow_tx_override
    representation = prefs.get("return") == "representation"
    max_affected = prefs.get("max-affected") if prefs.get("handling") == "strict" else None
    try:
        payload = json.loads(body) if body else None
    except json.JSONDecodeError as exc:
        raise PgError(400, "PGRST102", "Empty or invalid json", details=str(exc)) from None

    with store.transaction(rollback=rollback):
        if method == "POST":
            if isinstance(payload, dict):
                payload = [payload]
            if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
                raise PgError(400, "PGRST102", "Empty or invalid json")
            columns = [c.strip() for c in params["columns"].split(",")] if "columns" in params else None
            written, status = _post(store, table, principal, payload, columns, params, prefs)
        elif method == "PATCH":
            if not isinstance(payload, dict):
                raise PgError(400, "PGRST102", "Empty or invalid json")
            written = store.update(table, principal, filters, payload)
            status = 200 if representation else 204
        elif method == "DELETE":
            written = store.delete(table, principal, filters)
            status = 200 if representation else 204
        else:
            raise PgError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        if max_affected is not None and method != "POST" and len(written) > int(max_affected):
            raise PgError(400, "PGRST124", "Query result exceeds max-affected preference constraint",
                          details=f"The query affects {len(written)} rows")
        shaped = store.shape(table, principal, written, items) if representation else []
        if want_object and representation:
            shaped_object: Any = _as_object(shaped)

    headers = {"Content-Range": f"*/{len(written) if count else '*'}", **_applied(prefs, tx_rollback=rollback)}
    if not representation:
        return Response(status_code=status if method == "POST" else 204, headers=headers)
    return _json(shaped_object if want_object else shaped, status, headers)


def build_app(state: SandboxState) -> ASGIApp:
    async def table_endpoint(request: Request) -> Response:
        body = await request.body()
        try:
            return await run_in_threadpool(_handle, state, request, request.path_params["table"], body)
        except PgError as error:
            return _error_response(error)

    async def root(request: Request) -> Response:
        try:
            _principal(state, request, "/")
        except PgError as error:
            return _error_response(error)
        return JSONResponse(openapi_document(str(request.base_url).rstrip("/")))

    app = Starlette(routes=[
        Route("/", root, methods=["GET"]),
        Route("/{table}", table_endpoint, methods=["GET", "HEAD", "POST", "PATCH", "DELETE"]),
    ])
    return FaultLayer(app, state)


# ------------------------------------------------------------------------------------------------ proxy / network layer
class FaultLayer:
    """The hosted proxy and the network in front of PostgREST: where the fault switches act."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state, switches = self.state, self.state.switches
        method = scope["method"]
        target = scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        with state.lock:
            state.requests.append((method, target))
            seen = len(state.requests)
            due = [edit for edit in switches.edits if edit.after_requests <= seen]
            switches.edits = [edit for edit in switches.edits if edit.after_requests > seen]
        for edit in due:
            await run_in_threadpool(state.store.raw_update, edit.table, edit.key, edit.changes)
        if switches.latency:
            await asyncio.sleep(switches.latency)

        extra_headers: list[tuple[bytes, bytes]] = []
        if switches.rate_limit:
            refused, extra_headers = self._rate_limit(scope, switches.rate_limit, switches.rate_window)
            if refused is not None:
                await refused(scope, receive, send)
                return
        if switches.fail_503 > 0:
            switches.fail_503 -= 1
            await _error_response(PgError(503, "57P01", "terminating connection due to administrator command",
                                          hint="The database is restarting: retry later."))(scope, receive, send)
            return
        if switches.drop > 0 and method in switches.drop_methods and switches.drop_skip > 0:
            switches.drop_skip -= 1
        elif switches.drop > 0 and method in switches.drop_methods:
            switches.drop -= 1
            if switches.drop_after_commit:
                async def swallow(message: Message) -> None:
                    return None
                await self.app(scope, receive, swallow)
            await _drop(send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra_headers:
                message = {**message, "headers": [*message.get("headers", []), *extra_headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _rate_limit(self, scope: Scope, limit: int, window: float) -> tuple[ASGIApp | None, list[tuple[bytes, bytes]]]:
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization") or headers.get(b"carbon-key") or b"anonymous"
        now = time.monotonic()
        with self.state.lock:
            start, used = self.state.rate_windows.get(auth.decode(), (now, 0))
            if now - start >= window:
                start, used = now, 0
            refused = used >= limit
            if not refused:
                used += 1
            self.state.rate_windows[auth.decode()] = (start, used)
        reset_in = max(0.0, start + window - now)
        rate_headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(math.ceil(time.time() + reset_in)),
        }
        if refused:
            retry_after = str(max(1, math.ceil(reset_in)))
            body = {"code": "429", "message": "Too Many Requests", "details": f"Rate limit of {limit} requests per "
                    f"{window:g} s exceeded", "hint": f"Retry after {retry_after} s"}
            return _json(body, 429, {**rate_headers, "Retry-After": retry_after}), []
        return None, [(k.lower().encode(), v.encode()) for k, v in rate_headers.items()]


async def _drop(send: Send) -> None:
    """Start a response and break the connection before it is complete: what the client sees of a dropped link."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": b"[", "more_body": True})
    raise ConnectionAbortedError("sandbox: connection dropped on purpose (fault switch)")

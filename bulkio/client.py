"""PostgREST over httpx: auth, retries, pacing, paging and bulk writes, honest to ``shared/reference.md``.

One keep-alive `httpx.Client` serves every request. Failures become `ApiError` (the server said no) or
`TransportError` (no complete answer). Reads and refused requests (429, 503) are retried with backoff and jitter,
honouring ``Retry-After``; a write whose outcome is unknown (the connection broke after it was sent, or a gateway
timed out) is never repeated here: the caller (apply) checks the server first.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import __version__
from .config import Settings
from .errors import ApiError, TransportError
from .filters import Filters, as_params
from .resources import Resource, get_resource

__all__ = ["Client", "RateLimiter", "WriteResult", "parse_content_range"]

log = logging.getLogger("bulkio.client")

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_REFUSED_STATUSES = frozenset({429, 503})  # the server did not process the request: safe to resend a write
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``0-24/3573`` -> (0, 24, 3573); ``*/12`` -> (None, None, 12); ``0-24/*`` -> (0, 24, None)."""
    if not value:
        return None, None, None
    span, _, total = value.strip().partition("/")
    first = last = None
    if "-" in span:
        a, _, b = span.partition("-")
        first, last = int(a), int(b)
    return first, last, (int(total) if total.isdigit() else None)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class RateLimiter:
    """Paces requests so a limited key is slowed down instead of refused.

    It learns the window from ``X-RateLimit-Limit / -Remaining / -Reset`` (reset as epoch seconds or as seconds to
    go), counts requests sent since, and also honours an optional fixed `per_minute` budget.
    """

    def __init__(self, per_minute: int | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._sent: deque[float] = deque()
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until a request may be sent, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                if self._reset_at is not None and now >= self._reset_at:
                    self._remaining, self._reset_at = None, None
                wait = 0.0
                if self._remaining is not None and self._remaining <= 0 and self._reset_at is not None:
                    wait = self._reset_at - now
                if self.per_minute:
                    while self._sent and now - self._sent[0] >= 60.0:
                        self._sent.popleft()
                    if len(self._sent) >= self.per_minute:
                        wait = max(wait, self._sent[0] + 60.0 - now)
                if wait <= 0:
                    if self._remaining is not None:
                        self._remaining -= 1
                    if self.per_minute:
                        self._sent.append(now)
                    return
            self.waited += wait
            self._sleep(wait)

    def observe(self, headers: httpx.Headers) -> None:
        """Learn the server's view of the window from a response."""
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            left, reset_value = int(remaining), float(reset)
        except ValueError:
            return
        seconds = reset_value - time.time() if reset_value > 1e9 else reset_value
        with self._lock:
            self._remaining = left
            self._reset_at = self._clock() + max(0.0, seconds)

    def hold(self, seconds: float) -> None:
        """The server refused us (429): send nothing more for `seconds`."""
        with self._lock:
            self._remaining = 0
            self._reset_at = self._clock() + seconds


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the rows the server returned (with ``return=representation``) and the affected count."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    count: int | None = None
    status: int = 0
    preference_applied: frozenset[str] = frozenset()


_SENTENCES: dict[str, Callable[[ApiError, Resource | None], str]] = {}


def _sentence(code: str) -> Callable[[Callable[[ApiError, Resource | None], str]],
                                     Callable[[ApiError, Resource | None], str]]:
    def register(fn: Callable[[ApiError, Resource | None], str]) -> Callable[[ApiError, Resource | None], str]:
        _SENTENCES[code] = fn
        return fn
    return register


def _key_values(details: str | None) -> tuple[list[str], list[str]]:
    """``Key (name, "companyId")=(Acme, c1) already exists.`` -> (["name", "companyId"], ["Acme", "c1"])."""
    if not details or not details.startswith("Key ("):
        return [], []
    names, _, rest = details[5:].partition(")=(")
    values = rest.rsplit(")", 1)[0]
    columns = [n.strip().strip('"') for n in names.split(",")]
    # values are joined by ", " and may contain it themselves: the later columns (ids) never do, so split right
    return columns, [v.strip() for v in values.rsplit(", ", len(columns) - 1)]


@_sentence("23505")
def _duplicate(error: ApiError, resource: Resource | None) -> str:
    names, values = _key_values(error.details)
    shown = [(n, v) for n, v in zip(names, values, strict=False) if n != "companyId"]
    thing = resource.name if resource else "row"
    if shown:
        what = " and ".join(f"{n} {v!r}" if n != "name" else f"named {v!r}" for n, v in shown)
        return f"a {thing} {what} already exists"
    return f"a {thing} with these values already exists"


@_sentence("23503")
def _foreign_key(error: ApiError, resource: Resource | None) -> str:
    names, values = _key_values(error.details)
    if "still referenced" in (error.details or ""):
        table = (error.details or "").rsplit("from table", 1)[-1].strip(' ".')
        return f"this row is still used by {table} rows, so it cannot be deleted"
    if names:
        table = (error.details or "").rsplit("in table", 1)[-1].strip(' ".')
        return f"{names[0]} {values[0] if values else ''!r} refers to no {table} row"
    return "a reference points at a row that does not exist"


@_sentence("23502")
def _not_null(error: ApiError, resource: Resource | None) -> str:
    column = error.message.split('"')[1] if '"' in error.message else "a required column"
    return f"{column} is required but was empty"


@_sentence("23514")
def _check(error: ApiError, resource: Resource | None) -> str:
    constraint = error.message.rsplit('"', 2)[-2] if error.message.count('"') >= 2 else ""
    column = constraint.split("_")[1] if constraint.count("_") >= 2 else ""
    if resource is not None and column in resource:
        c = resource.column(column)
        if c.minimum is not None or c.maximum is not None:
            hint = " (a fraction: 0.2 means 20 %)" if c.format == "percent" else ""
            return f"{column} must be between {c.minimum:g} and {c.maximum:g}{hint}"
    return f"a value breaks the rule {constraint or 'of a check constraint'}"


@_sentence("22P02")
def _bad_text(error: ApiError, resource: Resource | None) -> str:
    return f"a value has the wrong form: {error.message}"


@_sentence("42501")
def _denied(error: ApiError, resource: Resource | None) -> str:
    if "row-level security" in error.message:
        return "the API key's company may not write this row (row-level security)"
    if error.status == 401:
        return "no API key was accepted: set BULKIO_API_KEY"
    return "the API key lacks the scope for this (view, create, update or delete)"


@_sentence("PGRST301")
def _bad_key(error: ApiError, resource: Resource | None) -> str:
    return "the API key was refused: check BULKIO_API_KEY"


@_sentence("PGRST102")
def _keys_differ(error: ApiError, resource: Resource | None) -> str:
    return "the rows of one bulk insert must have the same keys (send columns=)"


@_sentence("PGRST103")
def _range(error: ApiError, resource: Resource | None) -> str:
    return f"the requested page is past the end ({error.details})"


@_sentence("PGRST116")
def _not_one(error: ApiError, resource: Resource | None) -> str:
    return f"exactly one row was expected ({error.details})"


@_sentence("PGRST124")
def _too_many(error: ApiError, resource: Resource | None) -> str:
    return f"the write would affect more rows than allowed ({error.details}); nothing was changed"


@_sentence("PGRST204")
def _unknown_column(error: ApiError, resource: Resource | None) -> str:
    return f"the server has no such column: {error.message}"


@_sentence("P0001")
def _raised(error: ApiError, resource: Resource | None) -> str:
    return error.message


def _api_error(response: httpx.Response, resource: Resource | None) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    request = response.request
    url = str(request.url.copy_with(query=None)) + (f"?{request.url.query.decode()[:200]}" if request.url.query
                                                    else "")
    error = ApiError(response.status_code, body.get("code"), str(body.get("message") or response.reason_phrase),
                     body.get("details"), body.get("hint"), method=request.method, url=url)
    describe = _SENTENCES.get(str(body.get("code")))
    if describe is not None:
        error = ApiError(error.status, error.code, error.message, error.details, error.hint, method=error.method,
                         url=error.url, sentence=describe(error, resource))
    return error


class Client:
    """A PostgREST client for Carbon.

    :param base_url: the API root (default: settings, ``$BULKIO_BASE_URL`` or ``https://rest.carbon.ms``).
    :param api_key: the key (default: ``$BULKIO_API_KEY`` or the config file); never logged or shown.
    :param settings: ready-made `Settings`; other arguments override it.
    :param transport: an httpx transport (tests inject faults the sandbox cannot make with ``httpx.MockTransport``).
    :param sleep: how to wait (tests may speed backoff up).

    Example::

        with Client() as client:
            for page in client.iter_pages("customer", select=["id", "name"]):
                ...
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, auth: str | None = None,
                 timeout: float | None = None, max_retries: int | None = None, rate_limit: int | None = None,
                 settings: Settings | None = None, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        overrides = {"base_url": base_url, "api_key": api_key, "auth": auth, "timeout": timeout,
                     "max_retries": max_retries, "rate_limit": rate_limit}
        if settings is None:
            settings = Settings.load(**overrides)
        else:
            settings = settings.with_(**{k: v for k, v in overrides.items() if v is not None})
        key = settings.require_key()
        self.settings = settings
        header = {"Authorization": f"Bearer {key}"} if settings.auth == "bearer" else {"carbon-key": key}
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            headers={**header, "Accept": "application/json", "User-Agent": f"bulkio/{__version__}"},
            timeout=settings.timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max(4, settings.concurrency),
                                max_keepalive_connections=max(4, settings.concurrency)),
        )
        self._sleep = sleep
        self.limiter = RateLimiter(settings.rate_limit, sleep=sleep)
        self._counter_lock = threading.Lock()
        self.requests_made = 0
        self.retries = 0

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, auth={self.settings.auth!r}, api_key='***')"

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ one request
    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** attempt))

    def request(self, method: str, path: str, *, params: Sequence[tuple[str, str]] | None = None,
                json: Any = None, headers: Mapping[str, str] | None = None,
                resource: Resource | None = None) -> httpx.Response:
        """Send one request with pacing and retries; return a 2xx response or raise.

        :raises ApiError: the server answered with an error (after retries for 429/502/503/504 on safe requests).
        :raises TransportError: no complete answer; ``outcome_known=False`` for a write that may have been applied.
        """
        safe = method in _IDEMPOTENT
        attempt = 0
        while True:
            self.limiter.acquire()
            with self._counter_lock:
                self.requests_made += 1
            try:
                response = self._http.request(method, path, params=list(params or []), json=json,
                                              headers=dict(headers or {}))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                failure, outcome_known = exc, True        # never reached the server: safe to resend anything
            except httpx.TransportError as exc:
                failure, outcome_known = exc, safe        # sent: a write may have been applied
            else:
                self.limiter.observe(response.headers)
                if response.is_success:
                    return response
                status = response.status_code
                retryable = status in _RETRY_STATUSES and (safe or status in _REFUSED_STATUSES)
                if not retryable or attempt >= self.settings.max_retries:
                    if not safe and status in (502, 504):
                        raise TransportError(f"gateway error {status}: the write may or may not have been applied",
                                             method=method, url=path, outcome_known=False)
                    raise _api_error(response, resource)
                wait = _retry_after(response.headers.get("retry-after"))
                if status == 429:
                    self.limiter.hold(wait if wait is not None else self._backoff(attempt))
                    wait = 0.0
                self._retry(method, path, attempt, f"HTTP {status}", wait)
                attempt += 1
                continue
            if not outcome_known:
                raise TransportError(f"the connection broke after the request was sent ({type(failure).__name__}); "
                                     "the write may or may not have been applied", method=method, url=path,
                                     outcome_known=False) from failure
            if attempt >= self.settings.max_retries:
                raise TransportError(f"could not reach the server after {attempt + 1} attempts "
                                     f"({type(failure).__name__}: {failure})", method=method, url=path) from failure
            self._retry(method, path, attempt, type(failure).__name__, None)
            attempt += 1

    def _retry(self, method: str, path: str, attempt: int, why: str, wait: float | None) -> None:
        delay = self._backoff(attempt) if wait is None else wait
        with self._counter_lock:
            self.retries += 1
        log.info("retrying %s %s after %s (attempt %d, waiting %.2fs)", method, path, why, attempt + 1, delay)
        if delay > 0:
            self._sleep(delay)

    # ------------------------------------------------------------------ reads
    def get(self, resource: Resource | str, params: Sequence[tuple[str, str]] | None = None, *,
            count: bool = False) -> tuple[list[dict[str, Any]], int | None]:
        """One GET: (rows, total) where total is the exact count when `count` is asked, else None."""
        res = get_resource(resource)
        headers = {"Prefer": "count=exact"} if count else {}
        response = self.request("GET", res.path, params=params, headers=headers, resource=res)
        return response.json(), parse_content_range(response.headers.get("content-range"))[2]

    def count(self, resource: Resource | str, filters: Filters = None) -> int | None:
        """How many rows match `filters` (one request, ``Prefer: count=exact``)."""
        res = get_resource(resource)
        _, total = self.get(res, [("select", res.key), *as_params(filters), ("limit", "1")], count=True)
        return total

    def iter_pages(self, resource: Resource | str, *, select: Sequence[str] | None = None, order: str | None = None,
                   filters: Filters = None, page_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every matching row, page by page, each row once.

        Correct when the server caps pages silently (``db-max-rows``: a short page is not the end) and when rows
        are inserted meanwhile: with the default order (the key) it pages by key (``key=gt.<last>``), which no
        insert can shift; with another order it pages by offset and drops rows already seen. Each page asks for
        the exact count of what is left, so the last page is known without an extra empty request.
        """
        res = get_resource(resource)
        size = page_size or self.settings.page_size
        order = order or f"{res.key}.asc"
        terms = [t.strip() for t in order.split(",")]
        by_key = len(terms) == 1 and terms[0].split(".")[0] == res.key
        descending = by_key and ".desc" in terms[0]
        base = [("select", ",".join(select))] if select else []
        base += as_params(filters)
        seen: set[Any] = set()
        last_key: Any = None
        offset = 0
        while True:
            params = [*base, ("order", order), ("limit", str(size))]
            if by_key and last_key is not None:
                params.append((res.key, f"{'lt' if descending else 'gt'}.{last_key}"))
            elif not by_key and offset:
                params.append(("offset", str(offset)))
            rows, total = self.get(res, params, count=True)
            if not rows:
                return
            offset += len(rows)
            if by_key:
                if res.key not in rows[-1]:
                    raise ValueError(f"paging {res.name} by key needs {res.key!r} in select")
                last_key = rows[-1][res.key]
                fresh = rows
            else:
                keys = [row.get(res.key) for row in rows]
                fresh = [row for row, key in zip(rows, keys, strict=True) if key is None or key not in seen]
                seen.update(k for k in keys if k is not None)
            if fresh:
                yield fresh
            left = total - len(rows) if by_key and total is not None else (
                total - offset if total is not None else None)
            if left is not None and left <= 0:
                return

    # ------------------------------------------------------------------ writes
    def _write(self, method: str, res: Resource, params: list[tuple[str, str]], body: Any, prefer: list[str],
               ) -> WriteResult:
        response = self.request(method, res.path, params=params, json=body,
                                headers={"Prefer": ", ".join(prefer)} if prefer else None, resource=res)
        rows = response.json() if response.content else []
        applied = frozenset(p.strip() for p in response.headers.get("preference-applied", "").split(",")
                            if p.strip())
        count = parse_content_range(response.headers.get("content-range"))[2]
        if count is None and "return=representation" in prefer and isinstance(rows, list):
            count = len(rows)
        return WriteResult(rows if isinstance(rows, list) else [rows], count, response.status_code, applied)

    def insert(self, resource: Resource | str, rows: Sequence[Mapping[str, Any]], *,
               columns: Sequence[str] | None = None, missing_default: bool = True, returning: bool = True,
               select: Sequence[str] | None = None, tx_rollback: bool = False) -> WriteResult:
        """POST `rows` as one JSON array: one request, one transaction (all or none).

        `columns` (default: every key any row has) goes to ``?columns=``, so rows may omit keys; with
        `missing_default` absent keys take the column defaults instead of NULL.
        """
        res = get_resource(resource)
        if columns is None:
            names: dict[str, None] = {}
            for row in rows:
                names.update(dict.fromkeys(row))
            columns = list(names)
        params = [("columns", ",".join(columns))]
        if select:
            params.append(("select", ",".join(select)))
        prefer = ["return=representation" if returning else "return=minimal", "count=exact"]
        if missing_default:
            prefer.append("missing=default")
        if tx_rollback:
            prefer.append("tx=rollback")
        return self._write("POST", res, params, [dict(r) for r in rows], prefer)

    def update(self, resource: Resource | str, filters: Filters, body: Mapping[str, Any], *, returning: bool = True,
               max_affected: int | None = None, select: Sequence[str] | None = None,
               tx_rollback: bool = False) -> WriteResult:
        """PATCH every row matching `filters` with one `body` (one transaction); returns the rows and count."""
        return self._filtered_write("PATCH", resource, filters, dict(body), returning=returning,
                                    max_affected=max_affected, select=select, tx_rollback=tx_rollback)

    def delete(self, resource: Resource | str, filters: Filters, *, returning: bool = False,
               max_affected: int | None = None, select: Sequence[str] | None = None,
               tx_rollback: bool = False) -> WriteResult:
        """DELETE every row matching `filters` (one transaction); returns the count (and rows if `returning`)."""
        return self._filtered_write("DELETE", resource, filters, None, returning=returning,
                                    max_affected=max_affected, select=select, tx_rollback=tx_rollback)

    def _filtered_write(self, method: str, resource: Resource | str, filters: Filters, body: Any, *, returning: bool,
                        max_affected: int | None, select: Sequence[str] | None, tx_rollback: bool) -> WriteResult:
        res = get_resource(resource)
        params = as_params(filters)
        if not params:
            raise ValueError(f"refusing to {method} every {res.name} row: give a filter")
        if select:
            params.append(("select", ",".join(select)))
        prefer = ["return=representation" if returning else "return=minimal", "count=exact"]
        if max_affected is not None:
            prefer += ["handling=strict", f"max-affected={max_affected}"]
        if tx_rollback:
            prefer.append("tx=rollback")
        return self._write(method, res, params, body, prefer)

    def probe_tx_rollback(self, resource: Resource | str = "customer") -> bool:
        """Whether the server honours ``Prefer: tx=rollback`` (checked with a harmless write that matches nothing).

        Only a response that says ``Preference-Applied: tx=rollback`` counts: a server that ignores the preference
        commits, which is why the probe's filter matches no row.
        """
        res = get_resource(resource)
        harmless = {res.writable_columns[0]: None}  # applied to no row: the key is never null
        result = self._write("PATCH", res, [(res.key, "is.null")], harmless, ["return=minimal", "tx=rollback"])
        return "tx=rollback" in result.preference_applied

    def company_id(self) -> str:
        """The id of the company the key belongs to (row-level security shows it exactly one)."""
        rows, _ = self.get("company", [("select", "id"), ("limit", "2")])
        if len(rows) != 1:
            raise ApiError(403, "42501", f"the key sees {len(rows)} companies; expected exactly one")
        return str(rows[0]["id"])

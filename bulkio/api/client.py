"""PostgREST over httpx: auth, retries, pacing, paging and bulk writes, honest to ``shared/reference.md``.

One keep-alive `httpx.Client` serves every request. Failures become `ApiError` (the server said no) or
`TransportError` (no complete answer). Reads, and requests the server refused without doing them (429, 503, PostgREST's
pool timeout, serialization failures), are retried with backoff and jitter, honouring ``Retry-After``. A write whose
outcome is unknown (the connection broke after it was sent, a read timeout, a gateway error) is never repeated here:
it raises ``TransportError(outcome_known=False)`` and the caller (apply) checks the server first.

A `RateLimiter` fed by ``X-RateLimit-Limit / -Remaining / -Reset`` paces requests so a limited key (Carbon's hosted
proxy: 60 a minute) is slowed down, not refused. ``requests_made`` and ``retries`` count what was sent.

Methods take a table as a `Resource` or by name: `resource` resolves a name to bulkio's hand-written definition
without a request, or builds one from the server's OpenAPI document (`openapi`: one ``GET /``, kept per client)
through the offline `bulkio.resources.openapi`. Paging (`bulkio.api.paging`) is handed `get` for one table, never the
client, so nothing below the client imports it.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._version import __version__
from ..config import Settings
from ..errors import ApiError, TransportError
from ..resources import RESOURCES, Resource, resource_in
from . import paging
from .query import Filters, as_params, in_, split_in

__all__ = ["Client", "RateLimiter", "WriteResult", "parse_content_range"]

log = logging.getLogger("bulkio.client")

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # no byte reached the server
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0
_POLL = 0.05
_MAX_POLL = 5.0
_SAME_WINDOW = 0.5  # seconds: reset times closer than this name the same rate-limit window
_KEY_ROOM = 64  # bytes kept free in an ``in.(...)`` URL for a continuation page's key (Carbon's ids take ~30)

Row = dict[str, Any]


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``0-24/3573`` -> (0, 24, 3573); ``*/12`` -> (None, None, 12); ``0-24/*`` -> (0, 24, None)."""
    if not value:
        return None, None, None
    span, _, total = value.strip().partition("/")
    first = last = None
    if "-" in span:
        a, _, b = span.partition("-")
        if a.strip().isdigit() and b.strip().isdigit():
            first, last = int(a), int(b)
    total = total.strip()
    return first, last, (int(total) if total.isdigit() else None)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


class RateLimiter:
    """Paces requests so a limited key is slowed down instead of refused.

    It learns the window from ``X-RateLimit-Limit / -Remaining / -Reset`` (reset as epoch seconds or as seconds to
    go). What the server says is left is reduced by the requests still in flight (it may not have counted them yet);
    within a window only a lower figure is believed (answers overtake each other), and an answer from a window that is
    already over is ignored. A new window starts with the learned limit, less what is in flight. An optional fixed
    `per_minute` budget is honoured too.

    :param per_minute: a budget to keep to before the server says anything (None: only the headers).
    :param clock: a monotonic clock (tests pass a fake one).
    :param sleep: how to wait.
    """

    def __init__(self, per_minute: int | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._expired_at: float | None = None
        self._in_flight = 0
        self._sent: deque[float] = deque()
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until a request may be sent, then count it as in flight (pair with `finish`)."""
        polled = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if self._reset_at is not None and now >= self._reset_at:
                    # a new window: the full budget, less what is still in flight (the server may count it there)
                    self._remaining = None if self._limit is None else self._limit - self._in_flight
                    self._expired_at, self._reset_at = self._reset_at, None
                wait = 0.0
                if self._remaining is not None and self._remaining <= 0:
                    if self._reset_at is not None:
                        wait = self._reset_at - now
                    elif self._in_flight and polled < _MAX_POLL:  # an answer on its way will tell when it resets
                        wait = _POLL
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
                    self._in_flight += 1
                    return
            polled += wait
            self.waited += wait
            self._sleep(wait)

    def finish(self, headers: httpx.Headers | Mapping[str, str] | None = None) -> None:
        """A request sent after `acquire` is over; learn the server's view of the window from its `headers`."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if headers is None:
                return
            headers = httpx.Headers(headers)
            try:
                left = int(headers["x-ratelimit-remaining"])
                reset = float(headers["x-ratelimit-reset"])
            except (KeyError, ValueError):
                return
            with contextlib.suppress(KeyError, ValueError):
                self._limit = int(headers["x-ratelimit-limit"])
            reset_at = self._clock() + max(0.0, reset - time.time() if reset > 1e9 else reset)
            if self._expired_at is not None and reset_at <= self._expired_at + _SAME_WINDOW:
                return  # an answer from a window that is over: its figures are stale
            remaining = left - self._in_flight
            if self._reset_at is not None and reset_at <= self._reset_at + _SAME_WINDOW and \
                    self._remaining is not None:
                remaining = min(remaining, self._remaining)  # same window: a later answer may have overtaken this one
                reset_at = max(reset_at, self._reset_at)
            self._remaining, self._reset_at = remaining, reset_at

    def hold(self, seconds: float) -> None:
        """The server refused us (429): send nothing more for `seconds`."""
        with self._lock:
            self._remaining = 0
            self._reset_at = self._clock() + seconds


@dataclass(frozen=True)
class WriteResult:
    """What a write did.

    :param rows: the rows the server returned (with ``returning=True``), else empty.
    :param count: rows affected (``Content-Range: */N``, or the rows returned); None when the server did not say.
    :param status: the HTTP status.
    :param preference_applied: the preferences the server says it honoured (``tx=rollback``, ``max-affected=5``...).
    """

    rows: list[Row] = field(default_factory=list)
    count: int | None = None
    status: int = 0
    preference_applied: frozenset[str] = frozenset()


# ------------------------------------------------------------------------------------------------ error sentences
_KEY_REFUSED = "the API key was refused: check BULKIO_API_KEY (and BULKIO_AUTH: bearer or carbon-key)"
_PLAIN_SENTENCES = {  # filled from the error's message and details
    "22P02": "a value has the wrong form for its column: {message}",
    "22003": "a number is too large for its column ({details})",
    "PGRST100": "the server could not parse the query: {details}",
    "PGRST102": "the rows of one bulk insert must have the same keys (send columns=), or the body is not valid JSON",
    "PGRST103": "the requested page is past the end ({details})",
    "PGRST116": "exactly one row was expected ({details})",
    "PGRST124": "the write would affect more rows than allowed ({details}); nothing was changed",
    "PGRST204": "the server has no such column: {message}",
    "PGRST205": "the server has no such table: {message}",
    "PGRST301": _KEY_REFUSED, "PGRST302": _KEY_REFUSED, "PGRST303": _KEY_REFUSED,
    "P0001": "{message}",
    "429": "the API's rate limit was reached and retries ran out",
}


def _key_values(details: str | None) -> tuple[list[str], list[str]]:
    """``Key (name, "companyId")=(Acme, c1) already exists.`` -> (["name", "companyId"], ["Acme", "c1"])."""
    if not details or not details.startswith("Key (") or ")=(" not in details:
        return [], []
    names, _, rest = details[5:].partition(")=(")
    values = rest.rsplit(")", 1)[0]
    columns = [n.strip().strip('"') for n in names.split(",")]
    # values are joined by ", " and may contain it themselves: the later columns (ids) never do, so split right
    return columns, [v.strip() for v in values.rsplit(", ", len(columns) - 1)]


def _table_in(details: str | None, marker: str) -> str:
    """The table Postgres names after `marker` in an error's details (``... from table "quote".``)."""
    return (details or "").rsplit(marker, 1)[-1].strip(' ".') if marker in (details or "") else "another table"


def _sentence(error: ApiError, resource: Resource | None) -> str | None:
    """A plain-language sentence for a PostgREST / Postgres error, or None for codes it does not know."""
    code, message, details = error.code or str(error.status), error.message, error.details
    if code in _PLAIN_SENTENCES:
        return _PLAIN_SENTENCES[code].format(message=message, details=details or message)
    names, values = _key_values(details)
    if code == "23505":
        thing = resource.name if resource else "row"
        shown = [(n, v) for n, v in zip(names, values, strict=False) if not resource or n != resource.tenant_column]
        what = " and ".join(f"named {v!r}" if n == "name" else f"with {n} {v!r}" for n, v in shown)
        return f"a {thing} {what or 'with these values'} already exists"
    if code == "23503":
        if "still referenced" in (details or ""):
            return f"this row is still used by {_table_in(details, 'from table')} rows (a referenced row), so it " \
                   "cannot be deleted"
        if names:
            value = values[0] if values else ""
            return f"{names[0]} {value!r} refers to no {_table_in(details, 'in table')} row (unknown reference)"
        return "a reference points at a row that does not exist"
    if code == "23502":
        column = message.split('"')[1] if message.count('"') >= 2 else "a required column"
        return f"{column} is required but was empty (missing required column)"
    if code == "23514":
        constraint = message.rsplit('"', 2)[-2] if message.count('"') >= 2 else ""
        column = constraint.split("_")[1] if constraint.count("_") >= 2 else ""
        c = resource.column(column) if resource is not None and column in resource else None
        if c is not None and c.minimum is not None and c.maximum is not None:
            note = " (a fraction: 0.2 means 20 %)" if c.format == "percent" else ""
            return f"{column} must be between {c.minimum:g} and {c.maximum:g}{note}"
        return f"a value breaks the check {constraint or 'constraint'}"
    if code == "42501":
        if "row-level security" in message:
            return "the API key's company may not write this row (row-level security)"
        if error.status == 401:
            return "no API key was accepted: set BULKIO_API_KEY"
        return "the API key lacks the scope for this (view, create, update or delete)"
    return None


def _where(request: httpx.Request) -> str:
    """The request URL for messages: never a key (that travels in a header), the query cut at 200 characters."""
    query = request.url.query.decode("ascii", "replace")
    return str(request.url.copy_with(query=None)) + (f"?{query[:200]}" if query else "")


def _body(response: httpx.Response) -> dict[str, Any]:
    """PostgREST's error object, or {} when the body is not one (a proxy's HTML page, an empty 502)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _api_error(response: httpx.Response, resource: Resource | None) -> ApiError:
    """The `ApiError` of an error response: PostgREST's fields, the request's place, and a sentence for people."""
    body = _body(response)
    code = str(body["code"]) if body.get("code") is not None else None
    details = body.get("details")
    hint = body.get("hint")
    error = ApiError(response.status_code, code, str(body.get("message") or response.reason_phrase),
                     None if details is None else str(details), None if hint is None else str(hint),
                     method=response.request.method, url=_where(response.request))
    sentence = _sentence(error, resource)
    if sentence is not None:
        error = ApiError(error.status, error.code, error.message, error.details, error.hint, method=error.method,
                         url=error.url, sentence=sentence)
    return error


def _refused(status: int, code: str | None) -> bool:
    """The server turned the request away without doing it: safe to send again, even a write."""
    return status in (429, 503) or (status == 504 and code == "PGRST003") or (
        status == 500 and code in ("40001", "40P01"))


def _top_level(select: str) -> list[str]:
    """``*,customerType(id,name)`` -> ["*", "customerType(id,name)"]."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(select):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(select[start:i].strip())
            start = i + 1
    items.append(select[start:].strip())
    return items


def _order_terms(res: Resource, order: Sequence[str] | str | None) -> list[str]:
    """The ``order`` terms a read sends: the ones given, then the key (rows have no stable order otherwise)."""
    given = [order] if isinstance(order, str) else list(order or [])
    terms = [term.strip() for text in given for term in text.split(",") if term.strip()]
    if res.key not in [t.split(".")[0] for t in terms]:
        terms.append(f"{res.key}.asc")
    return terms


def _read_params(res: Resource, select: Sequence[str] | str | None) -> tuple[list[tuple[str, str]], bool]:
    """The ``select`` parameter a read sends (the key added, since paging needs it) and whether the key was added,
    to be removed from the rows again."""
    items = _top_level(select) if isinstance(select, str) else list(select or [])
    strip_key = bool(items) and res.key not in items and "*" not in items
    return ([("select", ",".join([*items, res.key] if strip_key else items))] if items else []), strip_key


class Client:
    """A PostgREST client for Carbon.

    :param base_url: the API root (default: settings, ``$BULKIO_BASE_URL`` or ``https://rest.carbon.ms``).
    :param api_key: the key (default: ``$BULKIO_API_KEY`` or the config file); never logged or shown.
    :param auth: ``bearer`` (``Authorization: Bearer <key>``) or ``carbon-key`` (a ``carbon-key: <key>`` header).
    :param timeout: seconds for connect / read / write.
    :param max_retries: retries of a refused or failed request before giving up.
    :param rate_limit: a requests-per-minute budget to keep to before the server announces one.
    :param settings: ready-made `Settings`; the other arguments override it.
    :param transport: an httpx transport (tests inject faults the sandbox cannot make with ``httpx.MockTransport``).
    :param sleep: how to wait between retries and for the rate limiter (tests may record instead of sleeping).
    :raises ConfigError: no key, or a URL that would carry the key over plain http off loopback.

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
        pool = max(4, settings.concurrency)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={**header, "Accept": "application/json", "User-Agent": f"bulkio/{__version__}"},
            timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )
        self._sleep = sleep
        self.limiter = RateLimiter(settings.rate_limit, sleep=sleep)
        self._counter_lock = threading.Lock()
        self._company_id: str | None = None
        self._document: dict[str, Any] | None = None
        self._document_lock = threading.Lock()
        self.requests_made = 0
        """Requests sent, retries included."""
        self.retries = 0
        """Requests sent again after a refusal or a failure."""

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, auth={self.settings.auth!r}, api_key='***')"

    @property
    def base_url(self) -> str:
        """The API root without a trailing slash, so ``base_url + path`` never doubles it."""
        return self.settings.base_url.rstrip("/")

    def resource(self, name: Resource | str) -> Resource:
        """The `Resource` of table `name` on this server: bulkio's hand-written definition (no request), else one
        built from the server's OpenAPI document (fetched once per client: `openapi`).

        :raises UnknownResource: the key sees no such table (the message names the closest ones).
        :raises ApiError: the server's root is not an OpenAPI document (only hand-written tables can be used then).
        """
        if isinstance(name, Resource):
            return name
        if name in RESOURCES:  # hand-written: known without asking the server
            return RESOURCES[name]
        return resource_in(self.openapi(), name, server=self.base_url)

    def openapi(self, *, refresh: bool = False) -> dict[str, Any]:
        """The server's OpenAPI document: one ``GET /``, kept for this client's lifetime (a limited key's requests
        count, and the tables do not change under a run).

        :param refresh: ask the server again (after a migration).
        :raises ApiError: the server refused, or its root is not a Swagger 2.0 document with ``definitions``.
        """
        with self._document_lock:
            cached = None if refresh else self._document
        if cached is not None:
            return cached
        response = self.request("GET", "/")
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("definitions"), dict):
            raise ApiError(response.status_code, message="the API root did not return an OpenAPI document",
                           method="GET", url=f"{self.base_url}/",
                           sentence=f"{self.base_url}/ did not describe its tables (no OpenAPI document): bulkio "
                                    "can only use its hand-written definitions there")
        with self._document_lock:
            self._document = document
        return document

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ one request
    def _backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to 0.5 s, 1 s, 2 s, ... (capped at 30 s)."""
        return random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** attempt))

    def request(self, method: str, path: str, *, params: Sequence[tuple[str, str]] | None = None,
                json: Any = None, headers: Mapping[str, str] | None = None,
                resource: Resource | None = None) -> httpx.Response:
        """Send one request with pacing and retries; return its 2xx response.

        Safe methods (GET, HEAD) are retried on 429/502/503/504 and on connection failures. Writes are retried only
        when the server refused them without doing them (429, 503, PostgREST's 504 PGRST003, 500 40001/40P01) or when
        the connection could not be opened at all.

        :param path: the path under the base URL (``/customer``).
        :param resource: names the table in error sentences.
        :raises ApiError: the server answered with an error (after retries, where allowed).
        :raises TransportError: no complete answer; ``outcome_known=False`` for a write that may have been applied.
        """
        method = method.upper()
        safe = method in _IDEMPOTENT
        url = f"{self.base_url}{path}"
        attempt = 0
        while True:
            self.limiter.acquire()
            with self._counter_lock:
                self.requests_made += 1
            try:
                response = self._http.request(method, path, params=list(params or []), json=json,
                                              headers=dict(headers or {}))
            except BaseException as exc:
                self.limiter.finish()
                if not isinstance(exc, httpx.RequestError):
                    raise
                if not (safe or isinstance(exc, _NEVER_SENT)):
                    raise TransportError(f"the connection broke after the request was sent ({type(exc).__name__}); "
                                         "the write may or may not have been applied: check before sending it again",
                                         method=method, url=url, outcome_known=False) from exc
                if attempt >= self.settings.max_retries:
                    raise TransportError(f"no answer after {attempt + 1} attempt(s) ({type(exc).__name__}: {exc})",
                                         method=method, url=url) from exc
                self._retry(method, url, attempt, type(exc).__name__, None)
                attempt += 1
                continue
            self.limiter.finish(response.headers)
            log.debug("%s %s -> %d", method, url, response.status_code)
            if response.is_success:
                return response
            status = response.status_code
            code = _body(response).get("code") if status >= 500 else None
            refused = _refused(status, None if code is None else str(code))
            if (refused or (safe and status in _RETRY_STATUSES)) and attempt < self.settings.max_retries:
                wait = _retry_after(response.headers.get("retry-after"))
                if status == 429:
                    self.limiter.hold(wait if wait is not None else self._backoff(attempt))
                    wait = 0.0  # the limiter waits before the next request
                self._retry(method, url, attempt, f"HTTP {status}", wait)
                attempt += 1
                continue
            if not safe and not refused and status in (502, 504):
                raise TransportError(f"gateway error {status}: the write may or may not have been applied: check "
                                     "before sending it again", method=method, url=url, outcome_known=False)
            raise _api_error(response, resource)

    def _retry(self, method: str, url: str, attempt: int, why: str, wait: float | None) -> None:
        delay = self._backoff(attempt) if wait is None else wait
        with self._counter_lock:
            self.retries += 1
        log.info("retrying %s %s after %s (retry %d of %d, waiting %.2f s)", method, url, why, attempt + 1,
                 self.settings.max_retries, delay)
        if delay > 0:
            self._sleep(delay)

    # ------------------------------------------------------------------ reads
    def get(self, resource: Resource | str, params: Sequence[tuple[str, str]] | None = None, *,
            count: bool = False) -> tuple[list[Row], int | None]:
        """One GET of ``/<resource>?<params>``: (rows, total), total being the exact count when `count` is asked.

        :raises ApiError, TransportError: as `request`.
        """
        res = self.resource(resource)
        headers = {"Prefer": "count=exact"} if count else {}
        response = self.request("GET", res.path, params=params, headers=headers, resource=res)
        rows = _json_body(response)
        if not isinstance(rows, list):
            rows = [rows]
        return rows, parse_content_range(response.headers.get("content-range"))[2]

    def count(self, resource: Resource | str, filters: Filters = None) -> int | None:
        """How many rows match `filters` (one request, ``Prefer: count=exact``); None if the server will not say."""
        res = self.resource(resource)
        _, total = self.get(res, [("select", res.key), *as_params(filters), ("limit", "1")], count=True)
        return total

    def iter_pages(self, resource: Resource | str, select: Sequence[str] | str | None = None,
                   order: Sequence[str] | str | None = None, filters: Filters = None,
                   page_size: int | None = None, *, limit: int | None = None, concurrency: int = 1,
                   on_count: Callable[[int | None], None] | None = None) -> Iterator[list[Row]]:
        """Every matching row, page by page, each row once (`bulkio.api.paging` says how, and why it is exact).

        Rows have no stable order unless one is sent, so `order` always goes out, with the key appended to break ties.
        Ordered by the key alone (the default), pages follow the key (``id=gt.<last>``), which rows inserted meanwhile
        cannot shift; with another order, pages go by offset and rows already seen are dropped. The server may cap a
        page silently (``db-max-rows``): a short page is not the end. The exact count of what is left (asked on each
        sequential page; on the first and last of concurrent ones) ends paging without an extra request.

        :param select: columns (the key is fetched too when needed, and removed again if not asked for).
        :param order: ``"name.asc,id.asc"`` or ``["name.asc"]``.
        :param filters: see `bulkio.api.query.as_params`.
        :param page_size: rows asked per request (None: ``settings.page_size``; only None means "not given", so
            no other value is quietly replaced by the settings).
        :param limit: stop after this many rows.
        :param concurrency: requests in flight at once when ordered by the key (offset pages that overlap by one
            row, merged in key order: about one request more per thousand pages); other orders page sequentially.
        :param on_count: called once, with the exact number of matching rows (None if the server will not say),
            as soon as the first page tells it.
        :raises ValueError: a `page_size` below 1.
        """
        res = self.resource(resource)
        size = self._page_size(page_size)
        terms = _order_terms(res, order)
        base, strip_key = _read_params(res, select)
        base += as_params(filters)
        fetch = functools.partial(self.get, res)  # paging is given one GET of this table, not the client
        if len(terms) == 1 and concurrency > 1:
            pages = paging.concurrent_key_pages(fetch, res.key, base, terms[0], size, workers=concurrency,
                                                limit=limit, on_count=on_count)
        else:
            pages = paging.sequential_pages(fetch, res.key, base, terms, size, limit=limit, on_count=on_count)
        for page in pages:
            yield [{k: v for k, v in row.items() if k != res.key} for row in page] if strip_key else page

    def _page_size(self, page_size: int | None) -> int:
        """`page_size`, or the settings' when it is None: the one place a read learns its page size."""
        size = self.settings.page_size if page_size is None else page_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"page_size must be a positive whole number, not {size!r}")
        return size

    def split_in(self, resource: Resource | str, column: str, values: Sequence[Any],
                 params: Sequence[tuple[str, str]] = ()) -> Iterator[list[Any]]:
        """Chunks of `values` for ``column=in.(...)`` requests that, with `params`, keep under ``settings.url_budget``.

        :raises ValueError: a single value too long for a URL.
        """
        res = self.resource(resource)
        url = self._http.build_request("GET", res.path, params=list(params)).url
        return split_in(column, values, self.settings.url_budget, len(str(url)))

    def rows_in(self, resource: Resource | str, column: str, values: Iterable[Any],
                select: Sequence[str] | None = None) -> list[Row]:
        """Every row whose `column` is one of `values`: ``column=in.(...)`` requests cut under the URL budget
        (`split_in`), each paged. The one way bulkio asks for rows by a list of ids or names.

        The budget is measured on the longest URL a page of a chunk can have: the select as `iter_pages` sends it
        (with the key), its ``order`` and ``limit``, and a continuation page's ``<key>=gt.<last key>``. Measured on
        the select alone, every request overshot ``url_budget`` by those parameters.

        :param select: the columns (default: all).
        """
        res = self.resource(resource)
        rows: list[Row] = []
        for chunk in self.in_chunks(res, column, values, select):
            for page in self.iter_pages(res, select=select, filters=[(column, in_(chunk))]):
                rows.extend(page)
        return rows

    def in_chunks(self, resource: Resource | str, column: str, values: Iterable[Any],
                  select: Sequence[str] | None = None) -> list[list[Any]]:
        """The chunks `rows_in` reads `values` in (sorted, each value once): one request each, unless a chunk holds
        more rows than a page. A run cuts its batches with it when each batch must be read in one request."""
        res = self.resource(resource)
        params, _ = _read_params(res, select)
        params += [("order", ",".join(_order_terms(res, None))), ("limit", str(self.settings.page_size)),
                   (res.key, "gt." + "x" * _KEY_ROOM)]
        return list(self.split_in(res, column, sorted(set(values)), params))

    # ------------------------------------------------------------------ writes
    def _write(self, method: str, res: Resource, params: list[tuple[str, str]], body: Any, prefer: list[str],
               ) -> WriteResult:
        """Send one write and read what it did (rows, count, the preferences the server honoured)."""
        response = self.request(method, res.path, params=params, json=body,
                                headers={"Prefer": ", ".join(prefer)} if prefer else None, resource=res)
        rows = _json_body(response) if response.content else []
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

        :param columns: sent as ``?columns=`` (default: every key any row has), so rows may lack keys.
        :param missing_default: absent keys take the column defaults (``Prefer: missing=default``), not NULL.
        :param returning: ask for the written rows (``return=representation``), e.g. for server-filled ids.
        :param select: the columns of the returned rows.
        :param tx_rollback: ask for a rolled-back transaction; only ``"tx=rollback" in result.preference_applied``
            proves it was honoured (see `probe_tx_rollback`).
        :raises ApiError: e.g. 23505 (duplicate name), 23503 (unknown reference), 23502, 23514, PGRST204.
        :raises TransportError: ``outcome_known=False`` when the rows may or may not have been inserted.
        """
        res = self.resource(resource)
        if not rows:
            return WriteResult([], 0)
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

    def upsert(self, resource: Resource | str, rows: Sequence[Mapping[str, Any]], *, columns: Sequence[str],
               on_conflict: Sequence[str] | None = None, select: Sequence[str] | None = None,
               ignore_duplicates: bool = False) -> WriteResult:
        """POST `rows` with ``Prefer: resolution=merge-duplicates`` (one request, one transaction): PostgREST's only
        way to give many rows each a value of its own (a PATCH has one body; PostgREST issue #1959).

        Not an update: a row missing from the table is *inserted* (one deleted meanwhile comes back), every column in
        `columns` is overwritten (NULL where a row lacks it), and every row must carry the NOT NULL columns. The
        caller reads first and checks what came back (`bulkio.run.apply` does: ``bulk_updates``).

        :param columns: sent as ``?columns=``: exactly what is written.
        :param on_conflict: the UNIQUE columns that identify a row (default: the primary key).
        :param select: the columns of the returned rows (``return=representation``: every row written comes back).
        :param ignore_duplicates: ``resolution=ignore-duplicates``: insert the new rows, leave existing ones alone.
        :raises ApiError: 403 42501 when the key may not insert; the data errors of `insert`.
        :raises TransportError: ``outcome_known=False`` when the rows may or may not have been written.
        """
        res = self.resource(resource)
        if not rows:
            return WriteResult([], 0)
        params = [("columns", ",".join(columns))]
        if on_conflict:
            params.append(("on_conflict", ",".join(on_conflict)))
        if select:
            params.append(("select", ",".join(select)))
        resolution = "ignore-duplicates" if ignore_duplicates else "merge-duplicates"
        prefer = [f"resolution={resolution}", "return=representation", "count=exact"]
        return self._write("POST", res, params, [dict(r) for r in rows], prefer)

    def update(self, resource: Resource | str, filters: Filters, body: Mapping[str, Any], *, returning: bool = True,
               count: bool = True, max_affected: int | None = None, select: Sequence[str] | None = None,
               tx_rollback: bool = False) -> WriteResult:
        """PATCH every row matching `filters` with one `body` (one transaction).

        :param count: ask for the affected count (``Prefer: count=exact`` -> ``Content-Range: */N``).
        :param max_affected: with ``handling=strict``: more matching rows -> ``ApiError`` PGRST124, nothing changed.
        :raises ValueError: no filter (a PATCH without one would change every row).
        :raises ApiError, TransportError: as `insert`.
        """
        return self._filtered_write("PATCH", resource, filters, dict(body), returning=returning, count=count,
                                    max_affected=max_affected, select=select, tx_rollback=tx_rollback)

    def delete(self, resource: Resource | str, filters: Filters, *, returning: bool = False, count: bool = True,
               max_affected: int | None = None, select: Sequence[str] | None = None,
               tx_rollback: bool = False) -> WriteResult:
        """DELETE every row matching `filters` (one transaction); the count, and the deleted rows if `returning`.

        :raises ValueError: no filter. :raises ApiError, TransportError: as `update` (23503 when still referenced).
        """
        return self._filtered_write("DELETE", resource, filters, None, returning=returning, count=count,
                                    max_affected=max_affected, select=select, tx_rollback=tx_rollback)

    def _filtered_write(self, method: str, resource: Resource | str, filters: Filters, body: Any, *, returning: bool,
                        count: bool, max_affected: int | None, select: Sequence[str] | None,
                        tx_rollback: bool) -> WriteResult:
        """PATCH or DELETE by filter: the one place that refuses a write without a filter (it would hit every row)."""
        res = self.resource(resource)
        params = as_params(filters)
        if not params:
            raise ValueError(f"refusing to {method} every {res.name} row: give a filter")
        if select:
            params.append(("select", ",".join(select)))
        prefer = ["return=representation" if returning else "return=minimal"]
        if count:
            prefer.append("count=exact")
        if max_affected is not None:
            prefer += ["handling=strict", f"max-affected={max_affected}"]
        if tx_rollback:
            prefer.append("tx=rollback")
        return self._write(method, res, params, body, prefer)

    def probe_tx_rollback(self, resource: Resource | str = "customer") -> bool:
        """Whether the server honours ``Prefer: tx=rollback``, checked with a harmless write that matches no row.

        Only a response that says ``Preference-Applied: tx=rollback`` counts: a server that ignores the preference
        commits, which is why the probe's filter (key is null) matches nothing.

        :raises ApiError: e.g. 403 when the key may not update `resource`.
        """
        res = self.resource(resource)
        harmless = {res.writable_columns[0]: None}
        result = self._write("PATCH", res, [(res.key, "is.null")], harmless, ["return=minimal", "tx=rollback"])
        return "tx=rollback" in result.preference_applied

    def company_id(self) -> str:
        """The id of the company the key belongs to (row-level security shows it exactly one); asked once.

        :raises ApiError: when the key sees no company or several.
        """
        if self._company_id is None:
            rows, _ = self.get("company", [("select", "id"), ("limit", "2")])
            if len(rows) != 1:
                raise ApiError(403, "42501", f"the key sees {len(rows)} companies; expected exactly one",
                               sentence=f"the API key should see exactly one company, it sees {len(rows)}")
            self._company_id = str(rows[0]["id"])
        return self._company_id


def _json_body(response: httpx.Response) -> Any:
    """The response's JSON; a 2xx that is not JSON means the base URL is not a PostgREST API, which is said so."""
    try:
        return response.json()
    except ValueError:
        raise ApiError(response.status_code, None, "the server's answer is not JSON", method=response.request.method,
                       url=_where(response.request), sentence="the server's answer is not JSON (is the base URL "
                       "a PostgREST API?)") from None

"""Reading every row of a table page by page, each row once, honest to PostgREST (``shared/reference.md``).

Three facts shape it: rows have no stable order unless ``order`` is sent (so it always is, the key breaking ties);
the server caps a page at ``db-max-rows`` silently (a short page is not the end); and other users insert and delete
rows while we read (no row that exists throughout may be lost or repeated).

**Sequentially** (`sequential_pages`): ordered by the key alone, each page starts after the previous page's last key
(``id=gt.<last>``), which inserts and deletes elsewhere cannot shift; with another order, pages go by offset and rows
already seen are dropped. Each page asks for the exact count of what is left, so paging stops without an extra
request.

**Concurrently** (`concurrent_key_pages`, ordered by the key): keyset pages cannot be asked for in parallel (each needs
the previous page's last key), but offset pages can. The first page (with ``count=exact``) gives the total and the
page size the server really serves; the rest are offset pages fetched by a bounded pool of workers, each starting
at the previous page's last row. That one row of overlap is the proof that nothing fell between two pages: a page
that holds the last row taken so far (the *frontier*) continues it exactly. A page that does not (rows were inserted
or deleted before it meanwhile) is bridged with a keyset page from the frontier, which is always right, and the
merge goes on. Keys are only ever compared for equality, never ordered in Python (the server's collation decides
the order). The last page carries the count, so the end is known; if rows appeared beyond it meanwhile, keyset pages
fetch them. Offsets count from the latest frontier (``id=gte.<frontier>&offset=2997``), so the server skips a few
pages' worth of rows however deep the read is (an offset from the start makes the database step over every row
before it: quadratic over a big table).

As with any reader, a row inserted or deleted while we read shows if it was there when the page covering its place
was read (pages are read out of order here); every row that is there throughout shows exactly once. Cost: one row of
overlap per page (100,000 rows in pages of 1,000: 101 requests instead of 100), plus one request per disturbance.
The client's rate limiter paces the workers like any other requests.

Paging is given a `Fetch` function (one GET: the parameters in, the rows and the count out), never the client: it
knows how to walk a table, the client knows how to send a request, and neither imports the other
(``Client.iter_pages`` passes its own `get`). Tests can walk a list of rows with a plain function.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from ..errors import ApiError

__all__ = ["MIN_CONCURRENT_PAGE", "Fetch", "concurrent_key_pages", "sequential_pages"]

Row = dict[str, Any]
Params = list[tuple[str, str]]
OnCount = Callable[[int | None], None]


class Fetch(Protocol):
    """One GET of the table being paged: ``fetch(params, count=True)`` -> (rows, the exact count of the matching
    rows when `count` is asked and the server says it, else None). `Client.get` bound to one table is one."""

    def __call__(self, params: Params, *, count: bool) -> tuple[list[Row], int | None]: ...

MIN_CONCURRENT_PAGE = 10
"""Pages the server caps below this many rows are read sequentially: one row of overlap would cost too much."""


def sequential_pages(fetch: Fetch, key: str, base: Params, terms: Sequence[str], size: int, *,
                     limit: int | None = None, on_count: OnCount | None = None, after: Any = None,
                     ) -> Iterator[list[Row]]:
    """Pages one after the other (keyset when ordered by the key alone, else offsets), each with the exact count.

    :param fetch: one GET of the table (see `Fetch`).
    :param key: the table's key column: the keyset pages follow it, and it tells rows already seen.
    :param base: the parameters every request sends (select, filters).
    :param terms: the ``order`` terms, the key among them (rows have no stable order otherwise).
    :param size: rows asked per request.
    :param limit: stop after this many rows.
    :param on_count: called once with the exact count of matching rows (None if the server will not say).
    :param after: start after this key (keyset order only).
    """
    by_key = len(terms) == 1
    descending = "desc" in terms[0].split(".")[1:]
    seen: set[Any] = set()
    last_key: Any = after
    offset = done = 0
    counted = on_count is None
    while limit is None or done < limit:
        want = size if limit is None else min(size, limit - done)
        params = [*base, ("order", ",".join(terms)), ("limit", str(want))]
        if by_key and last_key is not None:
            params.append((key, f"{'lt' if descending else 'gt'}.{last_key}"))
        elif not by_key and offset:
            params.append(("offset", str(offset)))
        try:
            rows, total = fetch(params, count=True)
        except ApiError as exc:
            if exc.code == "PGRST103" and not by_key and offset:  # rows deleted meanwhile: offset past the end
                return
            raise
        if not counted and on_count is not None:
            on_count(total)
            counted = True
        if not rows:
            return
        offset += len(rows)
        if by_key:
            last_key = rows[-1][key]
            fresh = rows
            left = None if total is None else total - len(rows)
        else:
            fresh = [row for row in rows if row.get(key) is None or row[key] not in seen]
            seen.update(row[key] for row in rows if row.get(key) is not None)
            left = None if total is None else total - offset
        fresh = fresh[: None if limit is None else limit - done]
        done += len(fresh)
        if fresh:
            yield fresh
        if left is not None and left <= 0:
            return


class _Merge:
    """The pages taken so far: the frontier (last key of the gap-free prefix), the keys of the last few pages, the
    rows left to take.

    Rows taken lie at or before the frontier and a page continues it only past the frontier, so no row can come
    twice; the recent keys serve to recognise a page that lies wholly behind the frontier. Only the last `window`
    pages' keys are kept (memory stays flat however many rows there are): a page from further back is not
    recognised, costs one bridging request, and is then dropped all the same.
    """

    def __init__(self, key: str, limit: int | None, window: int) -> None:
        self.key = key
        self.limit = limit
        self.frontier: Any = None
        self.recent: deque[set[Any]] = deque(maxlen=max(2, window))
        self.done = 0
        self.ended = False

    def seen(self, key: Any) -> bool:
        """`key` is among the rows of the last few pages taken (see the class docstring for why only those)."""
        return any(key in keys for keys in self.recent)

    def take(self, rows: Sequence[Row]) -> list[Row]:
        """Rows that continue the frontier without a gap (the caller checked that)."""
        fresh = [row for row in rows if not self.seen(row[self.key])]  # (none, but it costs nothing to be sure)
        if self.limit is not None:
            fresh = fresh[: self.limit - self.done]
        self.recent.append({row[self.key] for row in fresh})
        self.done += len(fresh)
        if rows:
            self.frontier = rows[-1][self.key]
        if self.limit is not None and self.done >= self.limit:
            self.ended = True
        return fresh

    def continues(self, rows: Sequence[Row]) -> int | None:
        """The index just after the frontier in `rows`, when `rows` hold it (their snapshot then has no gap after
        it); else None."""
        for index, row in enumerate(rows):
            if row[self.key] == self.frontier:
                return index + 1
        return None


def concurrent_key_pages(fetch: Fetch, key: str, base: Params, term: str, size: int, *, workers: int,
                         limit: int | None = None, on_count: OnCount | None = None) -> Iterator[list[Row]]:
    """Pages in key order (`term`: ``id.asc`` or ``id.desc``), fetched by up to `workers` requests at once.

    Yields each row once, in key order, as `sequential_pages` would; see the module docstring for why it is exact.
    `fetch` is called from the pool's threads, so it must be thread-safe (`Client.get` is). The other parameters
    are `sequential_pages`'s.
    """
    descending = "desc" in term.split(".")[1:]
    order = ("order", term)
    want = size if limit is None else min(size, limit)
    first, total = fetch([*base, order, ("limit", str(want))], count=True)
    if on_count is not None:
        on_count(total)
    merge = _Merge(key, limit, window=2 * workers + 2)
    page = merge.take(first)
    if page:
        yield page
    target = total if limit is None or total is None else min(total, limit)
    step = len(first)
    if not first or merge.ended or (target is not None and step >= target):
        return

    def keyset(after: Any) -> Iterator[list[Row]]:
        """Sequential keyset pages from `after` to the end (or the rows still wanted), each with the count."""
        return sequential_pages(fetch, key, base, [term], step, after=after,
                                limit=None if limit is None else limit - merge.done)

    if total is None or step < MIN_CONCURRENT_PAGE:  # no count to plan with, or pages too small to overlap
        for rows in keyset(merge.frontier):
            page = merge.take(rows)
            if page:
                yield page
        return

    planned = math.ceil((target - step) / (step - 1))  # pages after the first, each starting on the last one's end
    lower, exclusive = ("lte", "lt") if descending else ("gte", "gt")

    def fetch_planned(page: int, anchor: Any, offset: int) -> tuple[list[Row], int | None]:
        """Planned page `page` (1..planned), asked as `offset` rows on from the frontier `anchor` (``id=gte.<anchor>``:
        the server skips a few pages' worth of rows, never everything before them)."""
        ask = step if limit is None else max(1, min(step, target - page * (step - 1)))
        params = [*base, order, ("limit", str(ask)), (key, f"{lower}.{anchor}"), ("offset", str(offset))]
        try:
            return fetch(params, count=page == planned)  # the last page says where the end is
        except ApiError as exc:
            if exc.code == "PGRST103":  # rows were deleted meanwhile: this offset is past the end now
                return [], None
            raise

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bulkio-page")
    pending: deque[tuple[int, int, Future[tuple[list[Row], int | None]]]] = deque()
    plan = iter(range(1, planned + 1))

    def submit_next() -> None:
        page = next(plan, None)
        if page is not None:  # where this page starts, counted from the frontier (at index 0 of `gte.<frontier>`)
            offset = max(0, page * (step - 1) - (merge.done - 1))
            pending.append((page, offset, pool.submit(fetch_planned, page, merge.frontier, offset)))

    def bridge() -> list[Row]:
        """One keyset page from the frontier, which is always right; it marks the end when it reaches it."""
        params = [*base, order, ("limit", str(step)), (key, f"{exclusive}.{merge.frontier}")]
        rows, left = pool.submit(fetch, params, count=True).result()  # in the pool: still bounded
        fresh = merge.take(rows)
        if not rows or (left is not None and left <= len(rows)):
            merge.ended = True
        return fresh

    proven_end = False
    try:
        for _ in range(max(1, workers)):
            submit_next()
        while pending and not merge.ended:
            page, offset, future = pending.popleft()
            rows, count = future.result()
            out: list[list[Row]] = []
            start = merge.continues(rows)
            if start is None and rows and not merge.seen(rows[-1][key]):
                # rows were inserted or deleted before this page meanwhile: bridge from the frontier, then retry
                out.append(bridge())
                start = None if merge.ended else merge.continues(rows)
            if start is not None:
                out.append(merge.take(rows[start:]))
            if page == planned:  # the last planned page: did the end lie within it?
                proven_end = start is not None and count is not None and offset + len(rows) >= count
            if not rows and not merge.ended:  # past the end now (rows deleted meanwhile): the rest comes by key
                break
            submit_next()  # before handing pages out: keep `workers` requests in flight while the caller works
            yield from (rows for rows in out if rows)
    finally:
        for _, _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)  # nothing of ours is in flight past this point
    if not merge.ended and not proven_end:  # rows beyond the planned pages (inserted meanwhile), or a cut short plan
        for rows in keyset(merge.frontier):
            page = merge.take(rows)
            if page:
                yield page
            if merge.ended:
                break

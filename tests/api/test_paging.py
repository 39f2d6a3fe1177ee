"""Paging is given a fetch function, not the client: it walks any table a plain function serves, each row once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bulkio.api.paging import MIN_CONCURRENT_PAGE, concurrent_key_pages, sequential_pages

Row = dict[str, Any]


class Table:
    """A table of rows keyed by ``id``, served the way PostgREST serves it: ordered by id, capped at `cap` rows a
    page, filtered by ``id=gt.`` / ``gte.``, offset, and counted on request."""

    def __init__(self, size: int, cap: int = 1000) -> None:
        self.rows = [{"id": i, "name": f"n{i}"} for i in range(1, size + 1)]
        self.cap = cap
        self.requests: list[list[tuple[str, str]]] = []

    def __call__(self, params: Sequence[tuple[str, str]], *, count: bool) -> tuple[list[Row], int | None]:
        self.requests.append(list(params))
        rows = self.rows
        for name, value in params:
            if name == "id":
                op, _, bound = value.partition(".")
                rows = [r for r in rows if (r["id"] > int(bound) if op == "gt" else r["id"] >= int(bound))]
        query = dict(params)
        total = len(rows)
        offset = int(query.get("offset", 0))
        page = rows[offset: offset + min(int(query["limit"]), self.cap)]
        return page, (total if count else None)


@pytest.mark.parametrize(("size", "page"), [(0, 10), (1, 10), (95, 10), (100, 10), (101, 10), (50, 7)])
def test_sequential_pages_walk_a_plain_function(size: int, page: int) -> None:
    table = Table(size)
    pages = list(sequential_pages(table, "id", [], ["id.asc"], page))
    assert [r["id"] for p in pages for r in p] == list(range(1, size + 1))
    assert all(len(p) <= page for p in pages)


def test_concurrent_pages_walk_a_plain_function_and_say_the_count() -> None:
    table = Table(250, cap=MIN_CONCURRENT_PAGE * 2)
    counts: list[int | None] = []
    pages = list(concurrent_key_pages(table, "id", [], "id.asc", 100, workers=3, on_count=counts.append))
    assert [r["id"] for p in pages for r in p] == list(range(1, 251))
    assert counts == [250]

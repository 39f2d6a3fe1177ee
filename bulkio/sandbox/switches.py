"""Fault switches: the ways the sandbox misbehaves on purpose, for tests and demos."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Edit", "Switches"]


@dataclass
class Edit:
    """A change the "concurrent editor" makes once the server has received `after_requests` more requests."""

    after_requests: int
    table: str
    key: Any
    changes: dict[str, Any]


@dataclass
class Switches:
    """Mutable fault switches (all off by default). `Sandbox.reset()` turns them all off again.

    :param latency: seconds added before every response.
    :param rate_limit: requests per minute per API key, as Carbon's hosted proxy: beyond it, 429 with ``Retry-After``;
        every response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.
    :param rate_window: the rate limit's window in seconds (60: per minute; smaller to scale a benchmark down).
    :param fail_503: the next N requests are answered 503 (database unavailable), counting down.
    :param drop: the next N requests whose method is in `drop_methods` lose their connection (no complete response).
    :param drop_skip: let this many matching requests through before dropping (drop "after N requests").
    :param drop_after_commit: drop after the request was processed and committed, so the client cannot know the outcome
        (the realistic, nasty case); when False the request is dropped before anything is done.
    :param drop_methods: which methods `drop` applies to.
    :param max_rows: the server's ``db-max-rows``: every response is capped at this many rows, silently.
    :param allow_tx_override: honour ``Prefer: tx=rollback`` (``db-tx-end = commit-allow-override``); otherwise it is
        ignored and the write commits, as on the real server.
    :param edits: pending concurrent edits, applied when their request count is reached.
    """

    latency: float = 0.0
    rate_limit: int | None = None
    rate_window: float = 60.0
    fail_503: int = 0
    drop: int = 0
    drop_skip: int = 0
    drop_after_commit: bool = False
    drop_methods: frozenset[str] = frozenset({"GET", "POST", "PATCH", "DELETE"})
    max_rows: int = 1000
    allow_tx_override: bool = False
    edits: list[Edit] = field(default_factory=list)

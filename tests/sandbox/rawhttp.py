"""Raw-HTTP helpers for the fidelity tests: these pin the server's behaviour, so they never use bulkio's client."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bulkio.sandbox import Sandbox


class Api:
    """A thin httpx wrapper that knows the sandbox's URL and a key."""

    def __init__(self, sandbox: Sandbox, key: str | None, *, header: str = "bearer",
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {}
        if key is not None:
            headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"carbon-key": key}
        self.http = httpx.Client(base_url=sandbox.url, headers=headers, timeout=10, transport=transport,
                                 trust_env=False)
        self.sandbox = sandbox

    def get(self, path: str, params: Any = None, **headers: str) -> httpx.Response:
        return self.http.get(path, params=params, headers=_h(headers))

    def post(self, path: str, body: Any, params: Any = None, **headers: str) -> httpx.Response:
        return self.http.post(path, json=body, params=params, headers=_h(headers))

    def patch(self, path: str, body: Any, params: Any = None, **headers: str) -> httpx.Response:
        return self.http.patch(path, json=body, params=params, headers=_h(headers))

    def delete(self, path: str, params: Any = None, **headers: str) -> httpx.Response:
        return self.http.delete(path, params=params, headers=_h(headers))


def _h(headers: dict[str, str]) -> dict[str, str]:
    return {k.replace("_", "-"): v for k, v in headers.items()}


@pytest.fixture(scope="session")
def shared_transport() -> Iterator[httpx.HTTPTransport]:
    """One connection pool for the session: a new `httpx.Client` per test would build an SSL context each time."""
    transport = httpx.HTTPTransport()
    yield transport
    transport.close()


@pytest.fixture
def api_for(sandbox: Sandbox, shared_transport: httpx.HTTPTransport) -> Callable[..., Api]:
    """A factory of `Api` clients for any key (or None), sharing the session's connection pool."""

    def make(key: str | None, *, header: str = "bearer") -> Api:
        return Api(sandbox, key, header=header, transport=shared_transport)

    return make


@pytest.fixture
def api(api_for: Callable[..., Api], sandbox: Sandbox) -> Api:
    return api_for(sandbox.api_key)


def mine(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The main company's customers, straight from the database."""
    return [r for r in sandbox.rows("customer") if r["companyId"] == sandbox.company_id]


def row(sandbox: Sandbox, row_id: str, table: str = "customer") -> dict[str, Any] | None:
    """One row by id, straight from the database (None when it is gone)."""
    return next((r for r in sandbox.rows(table) if r["id"] == row_id), None)


def new_customer(sandbox: Sandbox, name: str, **extra: Any) -> dict[str, Any]:
    """A minimal valid customer body for the main company."""
    return {"name": name, "companyId": sandbox.company_id, **extra}


def quoted(value: str) -> str:
    """PostgREST's quoting of a value inside `in.(...)` / `or=(...)`, written here independently of bulkio."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def affected(response: httpx.Response) -> int:
    """The total of a mutation's `Content-Range`: PostgREST writes `*/N` (or `0-(N-1)/N`); both must agree with N."""
    match = re.fullmatch(r"(?:\*|(\d+)-(\d+))/(\d+)", response.headers["content-range"])
    assert match, response.headers["content-range"]
    first, last, total = match.groups()
    if first is not None:
        assert int(first) == 0 and int(last) == int(total) - 1, response.headers["content-range"]
    return int(total)


def error_code(response: httpx.Response, status: int) -> str:
    """Assert the status and PostgREST's error shape; return the `code`."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"code", "message", "details", "hint"}, body
    return str(body["code"])

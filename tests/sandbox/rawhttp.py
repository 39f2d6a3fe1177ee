"""Raw-HTTP helpers for the fidelity tests: these pin the server's behaviour, so they never use bulkio's client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bulkio.sandbox import Sandbox


class Api:
    """A thin httpx wrapper that knows the sandbox's URL and a key."""

    def __init__(self, sandbox: Sandbox, key: str | None, *, header: str = "bearer") -> None:
        headers = {}
        if key is not None:
            headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"carbon-key": key}
        self.http = httpx.Client(base_url=sandbox.url, headers=headers, timeout=10)
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


@pytest.fixture
def api_for(sandbox: Sandbox) -> Iterator[Callable[..., Api]]:
    """A factory of `Api` clients for other keys; every one is closed after the test."""
    made: list[Api] = []

    def make(key: str | None, *, header: str = "bearer") -> Api:
        made.append(Api(sandbox, key, header=header))
        return made[-1]

    yield make
    for client in made:
        client.http.close()


@pytest.fixture
def api(api_for: Callable[..., Api], sandbox: Sandbox) -> Api:
    return api_for(sandbox.api_key)


def mine(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The main company's customers, straight from the database."""
    return [r for r in sandbox.rows("customer") if r["companyId"] == sandbox.company_id]

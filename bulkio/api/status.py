"""`bulkio ping`: what the server is, whether the key works, which company it belongs to, how many rows it sees."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .client import Client

__all__ = ["ServerStatus", "check"]


@dataclass(frozen=True)
class ServerStatus:
    """The answer to "can bulkio work with this server and key?" (never holds the key)."""

    base_url: str
    server: str
    auth: str
    company_id: str
    company_name: str | None
    resource: str
    rows: int | None
    round_trip_ms: float
    rate_limit: str | None

    def facts(self) -> dict[str, Any]:
        """What ``bulkio ping`` prints, line by line (label -> value)."""
        return {
            "server": f"{self.base_url} ({self.server})",
            "auth": f"{self.auth}: key accepted",
            "company": f"{self.company_name or '?'} ({self.company_id})",
            f"{self.resource} rows": self.rows,
            "round trip": f"{self.round_trip_ms:.0f} ms",
            "rate limit": self.rate_limit or "none announced",
        }


def check(client: Client, resource: str = "customer") -> ServerStatus:
    """Three requests: the OpenAPI root (server version), the key's company, and the row count of `resource`.

    :raises ApiError: the key is refused or lacks the view scope; :raises TransportError: unreachable.
    """
    res = client.resource(resource)
    started = time.perf_counter()
    response = client.request("GET", "/")
    round_trip = (time.perf_counter() - started) * 1000
    info = response.json().get("info", {}) if response.headers.get("content-type", "").startswith(
        "application/") else {}
    server = f"PostgREST {info.get('version', '?')}" + (f", {info['title']}" if info.get("title") else "")
    limit = response.headers.get("x-ratelimit-limit")
    companies, _ = client.get("company", [("select", "id,name"), ("limit", "2")])
    company = companies[0] if len(companies) == 1 else {"id": "?", "name": None}
    rows = client.count(res)
    return ServerStatus(
        base_url=client.base_url,
        server=server,
        auth=client.settings.auth,
        company_id=str(company["id"]),
        company_name=company.get("name"),
        resource=res.name,
        rows=rows,
        round_trip_ms=round_trip,
        rate_limit=f"{limit} requests per window" if limit else None,
    )

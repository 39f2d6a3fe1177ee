"""Running the sandbox: in a thread on a free loopback port (tests, notebooks) or in the foreground (CLI)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .app import SandboxState, build_app
from .seed import seed_database
from .store import Store
from .switches import Edit, Switches

__all__ = ["Edit", "Sandbox", "Switches"]


class Sandbox:
    """A seeded Carbon stand-in. Use as a context manager, or `start()` / `stop()`.

    :param rows: customers of the main company (the other company gets 25).
    :param seed: the same seed gives the same rows, ids and keys.
    :param api_key: the main company's full-scope key; generated from the seed when None.
    :param port: 0 picks a free port.
    :param switches: initial fault switches (`reset()` turns them off again).
    """

    def __init__(self, rows: int = 500, seed: int = 7, *, api_key: str | None = None, host: str = "127.0.0.1",
                 port: int = 0, switches: Switches | None = None, log_level: str = "critical") -> None:
        self.store = Store()
        world = seed_database(self.store, rows=rows, seed=seed, admin_key=api_key)
        self.store.save_pristine()
        self.company_id = world.company_id
        self.other_company_id = world.other_company_id
        self.keys = world.keys
        self.state = SandboxState(self.store, world.principals, switches or Switches())
        self._initial_switches = dataclasses.replace(self.state.switches, edits=list(self.state.switches.edits))
        self.host = host
        self.port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ facts
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.keys["admin"]

    @property
    def switches(self) -> Switches:
        return self.state.switches

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self.state.requests

    def rows(self, table: str = "customer") -> list[dict[str, Any]]:
        """Every row of `table`, all companies, straight from the database."""
        return self.store.all_rows(table)

    def __repr__(self) -> str:  # never shows a key
        return f"Sandbox(url={self.url!r}, company_id={self.company_id!r})"

    # ------------------------------------------------------------------ control
    def concurrent_edit(self, table: str, key: Any, changes: dict[str, Any], *, after_requests: int = 0) -> None:
        """Change a row behind the API user's back, now or once `after_requests` more requests have arrived."""
        if after_requests <= 0:
            self.store.raw_update(table, key, changes)
        else:
            with self.state.lock:
                due = len(self.state.requests) + after_requests
                self.state.switches.edits.append(Edit(due, table, key, changes))

    def reset(self) -> None:
        """Back to the seeded rows; switches as at construction; request log and rate-limit windows cleared."""
        self.store.restore_pristine()
        with self.state.lock:
            for f in dataclasses.fields(Switches):
                value = getattr(self._initial_switches, f.name)
                setattr(self.state.switches, f.name, list(value) if isinstance(value, list) else value)
            self.state.requests.clear()
            self.state.rate_windows.clear()

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(build_app(self.state), log_level=self._log_level, access_log=False, lifespan="off",
                              timeout_graceful_shutdown=1, timeout_keep_alive=30)

    def start(self) -> Sandbox:
        """Serve in a daemon thread; returns when the server accepts connections."""
        # IPPROTO_TCP explicitly: with protocol 0 asyncio skips TCP_NODELAY and every response waits ~40 ms for a
        # delayed ACK on loopback
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(self._config())
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"bulkio-sandbox-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (`bulkio sandbox`)."""
        config = self._config()
        config.host, config.port = self.host, self.port
        uvicorn.Server(config).run()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

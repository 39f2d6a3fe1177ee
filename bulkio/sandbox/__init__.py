"""The embedded stand-in for Carbon's API: a PostgREST-dialect HTTP server over SQLite.

It serves ``customer`` and the tables it references with the PostgREST behaviour bulkio relies on (see
``shared/reference.md``), so every test and the demo talk real HTTP over loopback. It is a faithful test double and
demo target, not a database product.

Python API (tests use it through the fixtures in ``tests/conftest.py``)::

    from bulkio.sandbox import Sandbox

    with Sandbox(rows=500, seed=7) as sb:       # seeds SQLite, serves on a free loopback port in a thread
        sb.url                                  # "http://127.0.0.1:<port>"
        sb.api_key                              # full-scope key of the main company
        sb.keys["readonly"]                     # other keys: "admin" (= api_key), "readonly" (view only),
                                                # "nodelete" (view/create/update), "nocreate"
                                                # (view/update/delete: no upsert), "other" (another company)
        sb.company_id                           # the main company's id
        sb.switches.latency = 0.05              # mutable fault switches, see `Switches`
        sb.concurrent_edit("customer", row_id, {"phone": "+1 555 0100"})   # change a row behind the user's back
        sb.rows("customer")                     # every row of every company, straight from the database
        sb.requests                             # [(method, path_with_query), ...] received since the last reset
        sb.reset()                              # back to the seeded state, switches off, request log cleared
"""

from __future__ import annotations

from .server import Sandbox, Switches

__all__ = ["Sandbox", "Switches"]

"""A run's journal on disk (design decision 8): ``.bulkio/runs/<run-id>/``.

- ``run.json``: the plan as `apply` executes it (its batches, and the rows it does not write), written once before
  the first request;
- ``journal.jsonl``: append-only, one JSON line per event, flushed and fsync'd before the next request: a batch's
  intent (``sent``) before it goes out and its outcome (``done``, with every row's result) after it came back; a bulk
  update batch (``"bulk": true`` in ``run.json``, each row with its own body) also records what its read saw of each
  row's ``createdAt`` (``read``) before its upsert goes out, so that resume can tell a row the upsert inserted again;
- ``undo.jsonl``: what undo needs (`bulkio.run.undo`), written before the outcome line of the batch it belongs to: ids
  created, the values updated rows had, the full rows deleted and the rows the database deletes with them by
  cascade (``cascaded``, both read before the DELETE is sent), and the ids of rows put back at once because they
  changed as they were being deleted (``restored``).

A batch with ``sent`` and no ``done`` has an unknown outcome: resume checks the server before sending it again.
Nothing here ever holds the API key.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["FAMILY", "RUNS_DIR", "Journal", "find_run", "new_run_id"]

RUNS_DIR = Path(".bulkio") / "runs"
FAMILY = "family"
"""The ``kind`` in ``run.json`` of a family's run (`bulkio.run.family`): its phases are runs of their own."""


def new_run_id() -> str:
    """Sortable and unique enough: ``20261125-101500-3f9a``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def find_run(run: str | Path, root: str | Path | None = None) -> Path:
    """The folder of a run, given its id (under `root`/.bulkio/runs) or its path.

    :raises FileNotFoundError: naming where it looked.
    """
    candidates = [Path(run), Path(root or ".") / RUNS_DIR / str(run)]
    for path in candidates:
        if (path / "run.json").exists():
            return path
    raise FileNotFoundError(f"no bulkio run {str(run)!r} (looked in {', '.join(str(c) for c in candidates)})")


def _line(record: dict[str, Any]) -> str:
    """One record as one JSON line: a crash can leave only the last line cut short, which `Journal` then ignores."""
    return json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"


@dataclass
class Journal:
    """The files of one run. Appends are durable (flush + fsync) before `append` returns."""

    folder: Path

    @property
    def run_id(self) -> str:
        """The run's id, which is its folder's name: `find_run` finds a run by either."""
        return self.folder.name

    @classmethod
    def create(cls, root: str | Path | None, header: dict[str, Any]) -> Journal:
        """A new run's folder under `root` (default: here) with its ``run.json``, written whole or not at all
        (through a temporary file and a rename), so that resume never reads half a plan.

        :raises FileExistsError: the run id is taken (two runs started in the same second drew the same suffix).
        """
        folder = Path(root or ".") / RUNS_DIR / new_run_id()
        folder.mkdir(parents=True, exist_ok=False)
        journal = cls(folder)
        temporary = folder / "run.json.tmp"
        temporary.write_text(json.dumps({**header, "run": journal.run_id}, ensure_ascii=False, indent=1,
                                        default=str), encoding="utf-8")
        os.replace(temporary, folder / "run.json")
        return journal

    def header(self) -> dict[str, Any]:
        """``run.json``: the batches as the run planned them, the rows it writes none of, where its plan came from."""
        return json.loads((self.folder / "run.json").read_text(encoding="utf-8"))

    @property
    def is_family(self) -> bool:
        """Whether this is a family's run (`FAMILY`): `resume` and `undo` hand it to `bulkio.run.family`."""
        return self.header().get("kind") == FAMILY

    def _append(self, name: str, record: dict[str, Any]) -> None:
        """Append a timestamped record and fsync it: the record is on disk before the next request goes out."""
        with open(self.folder / name, "a", encoding="utf-8") as stream:
            stream.write(_line({"t": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}))
            stream.flush()
            os.fsync(stream.fileno())

    def append(self, record: dict[str, Any]) -> None:
        """Record an event in ``journal.jsonl`` (``sent`` before a batch goes out, ``done`` or ``stopped`` after),
        on disk before this returns: a crash right after still leaves the event for resume to see."""
        self._append("journal.jsonl", record)

    def undo(self, record: dict[str, Any]) -> None:
        """Record what undoing a batch needs in ``undo.jsonl`` (``kind``: created, updated, deleted, cascaded,
        restored), on disk before the batch's ``done`` event, so that a finished batch is always undoable."""
        self._append("undo.jsonl", record)

    def _read(self, name: str) -> Iterator[dict[str, Any]]:
        """The records of one file, stopping at a last line a crash cut short (it was never acted on)."""
        path = self.folder / name
        if not path.exists():
            return
        with open(path, encoding="utf-8") as stream:
            for text in stream:
                if not text.endswith("\n"):  # a line cut short by a crash: never acted on
                    return
                yield json.loads(text)

    def events(self) -> list[dict[str, Any]]:
        """The journal's events in order; a last line cut short by a crash is left out, as if never written."""
        return list(self._read("journal.jsonl"))

    def undo_records(self) -> list[dict[str, Any]]:
        """The undo records in order (`bulkio.run.undo` reads them); a last line cut short by a crash is left out."""
        return list(self._read("undo.jsonl"))

"""What a run did, row by row (design decision 9), and the results workbook people fix and import again.

The results workbook is the user's sheet with four more columns: ``_status`` (created / updated / deleted /
unchanged / conflict / failed / skipped / pending), ``_id`` and ``_readableId`` (filled for new rows, whose ``id``
cell is filled too, so importing the file again updates them instead of creating them twice) and ``_error``.
Validation and the plan ignore these four columns (`bulkio.sheets.layout.RESULT_COLUMNS`), so a fixed results workbook
imports like any other sheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from ..resources import Resource
from ..sheets.layout import ACTION_COLUMN, RESULT_COLUMNS
from ..sheets.values import is_empty, to_cell, to_custom_cell
from ..sheets.write import SheetFrame, write_frames
from .journal import Journal

__all__ = ["Results", "RowResult", "Status", "results_sheet", "write_results_workbook"]


class Status(StrEnum):
    """A row's outcome, as the results workbook's ``_status`` column writes it."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    FAILED = "failed"
    SKIPPED = "skipped"
    PENDING = "pending"
    """Not done: the run stopped before this row's batch (resume finishes it)."""


@dataclass(frozen=True)
class RowResult:
    """One row's outcome. `row` is the sheet's Excel row (None for a row deleted because it was missing)."""

    row: int | None
    key: str | None
    status: Status
    label: str | None = None
    id: str | None = None
    readable_id: str | None = None
    error: str | None = None
    filled: dict[str, Any] | None = None
    """Created rows: the values the server filled in for columns the row left empty (defaults)."""

    def to_dict(self) -> dict[str, Any]:
        """As the journal stores it (plain JSON): a resumed run reads it back with `from_dict`."""
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowResult:
        """The inverse of `to_dict`."""
        return cls(**{**data, "status": Status(data["status"])})


@dataclass
class Results:
    """Every row's outcome, the requests the run took, and how to resume it if it stopped."""

    run_id: str
    folder: Path
    resource: Resource
    rows: list[RowResult]
    requests: int = 0
    retries: int = 0
    stopped: str | None = None
    source: str | None = None
    sheet: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """Lines people should read (e.g. bulk updates the server refused, sent as guarded PATCHes instead)."""

    @property
    def complete(self) -> bool:
        """Whether every row was done: the run did not stop and no row waits for a resume."""
        return self.stopped is None and not any(r.status is Status.PENDING for r in self.rows)

    def counts(self) -> dict[Status, int]:
        """Rows per status, every status present (zero included), in `Status` order."""
        counts = dict.fromkeys(Status, 0)
        for r in self.rows:
            counts[r.status] += 1
        return counts

    def of(self, status: Status) -> list[RowResult]:
        """The rows that ended with `status`, in sheet order."""
        return [r for r in self.rows if r.status is status]

    def to_frame(self) -> pd.DataFrame:
        """One row per outcome (row, key, status, label, id, readable_id, error) for a notebook: empty cells are
        None and Excel row numbers stay integers (``Int64``) even where a row has none."""
        frame = pd.DataFrame([r.to_dict() for r in self.rows],
                             columns=["row", "key", "status", "label", "id", "readable_id", "error"])
        frame = frame.astype(object).where(frame.notna(), None)
        frame["row"] = frame["row"].astype("Int64")
        return frame

    def resume_hint(self) -> str:
        """The command that finishes this run, for messages that must say how to go on."""
        return f"bulkio apply --resume {self.run_id}"

    def _repr_html_(self) -> str:
        counts = ", ".join(f"{n} {s.value}" for s, n in self.counts().items() if n)
        head = f"<p><b>Run {self.run_id}</b>: {counts}; {self.requests} requests"
        for line in self.warnings:
            head += f"<br><span style='color:#b06000'>{line}</span>"
        if self.stopped:
            head += f"<br><span style='color:#c5221f'>stopped: {self.stopped} (resume: {self.resume_hint()})</span>"
        problems = self.to_frame()
        problems = problems[problems["status"].isin(["failed", "conflict", "pending"])]
        return head + "</p>" + (problems.head(50).to_html(index=False, na_rep="") if len(problems) else "")

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s.value}" for s, n in self.counts().items() if n)
        state = f", stopped: {self.stopped}" if self.stopped else ""
        return f"<Results run {self.run_id}: {counts or 'nothing'}; {self.requests} requests{state}>"


def _snapshot(results: Results, base: Mapping[str, Mapping[str, Any]], batches: Sequence[Mapping[str, Any]]
              ) -> tuple[list[str], dict[str, list[Any]]]:
    """The results workbook's own snapshot: the rows as the server holds them after the run (the exported values,
    with what the run's `batches` wrote), so importing the workbook again is three-way: a row the run left as a
    conflict stays one, and rows it applied plan as unchanged. Deleted rows are left out."""
    resource = results.resource
    names = list(next(iter(base.values())).keys()) if base else []
    sent_updates: dict[str, dict[str, Any]] = {}
    sent_creates: dict[int | None, dict[str, Any]] = {}
    for batch in batches:
        for row in batch["rows"]:
            if batch["kind"] == "update":  # a bulk batch's rows each carry their own body
                sent_updates[str(row["key"])] = dict(row.get("body") or batch["body"])
            elif batch["kind"] == "create":
                sent_creates[row["row"]] = dict(row["body"])

    def cell(name: str, value: Any) -> Any:
        return to_cell(resource.column(name), value) if name in resource else value

    def apply_body(values: dict[str, Any], body: Mapping[str, Any]) -> None:
        for name, value in body.items():
            if name in resource and resource.column(name).is_json:
                for column in names:
                    if column.startswith(f"{name}."):
                        field_key = column.split(".", 1)[1]
                        has = isinstance(value, dict) and field_key in value
                        values[column] = to_custom_cell(value[field_key]) if has else None
            elif name in values or name in names:
                values[name] = cell(name, value)

    out: dict[str, list[Any]] = {}
    for r in results.rows:
        if r.status is Status.DELETED:
            continue
        key = str(r.id or r.key) if (r.id or r.key) else None
        if key is None:
            continue
        if r.status is Status.CREATED:
            values: dict[str, Any] = dict.fromkeys(names)
            apply_body(values, {**sent_creates.get(r.row, {}), **(r.filled or {})})
            values[resource.key] = key
            if "readableId" in values:
                values["readableId"] = r.readable_id
        elif key in base:
            values = dict(base[key])
            if r.status is Status.UPDATED:
                apply_body(values, sent_updates.get(key, {}))
        else:
            continue
        out[key] = [values.get(n) for n in names if n != ACTION_COLUMN]
    return [n for n in names if n != ACTION_COLUMN], out


def write_results_workbook(results: Results, frame: pd.DataFrame, rows: Sequence[int], path: str | Path, *,
                           base: Mapping[str, Mapping[str, Any]] | None = None,
                           meta: Mapping[str, Any] | None = None) -> Path:
    """The user's sheet (`frame`, as read, one Excel row per entry of `rows`) with each row's outcome.

    Rows the run deleted because they were missing from the sheet are appended at the end, with their id.

    :param base, meta: the sheet's export snapshot and metadata: the results workbook then carries a snapshot of
        its own (`_snapshot`), so it plans three-way when imported again.
    """
    batches = Journal(results.folder).header().get("batches", [])
    return write_frames([results_sheet(results, frame, rows, batches, base=base, meta=meta)], path)


def results_sheet(results: Results, frame: pd.DataFrame, rows: Sequence[int], batches: Sequence[Mapping[str, Any]],
                  *, base: Mapping[str, Mapping[str, Any]] | None = None, meta: Mapping[str, Any] | None = None
                  ) -> SheetFrame:
    """One table's sheet of a results workbook (`write_results_workbook`): the user's rows with their outcome,
    and, given the sheet's snapshot and metadata, a snapshot of the rows after the run's `batches`."""
    by_row = {r.row: r for r in results.rows if r.row is not None}
    out = frame.copy().astype(object)
    key = results.resource.key
    status, ids, readable, errors = [], [], [], []
    for position, excel_row in enumerate(rows):
        result = by_row.get(excel_row)
        status.append(result.status.value if result else Status.UNCHANGED.value)
        ids.append(result.id if result else None)
        readable.append(result.readable_id if result else None)
        errors.append(result.error if result else None)
        if result is not None and result.status is Status.CREATED and result.id and key in out:
            out.loc[out.index[position], key] = result.id
            for name, value in (result.filled or {}).items():  # the server's defaults: the row now holds them
                if name in out and is_empty(out.loc[out.index[position], name]):
                    out.loc[out.index[position], name] = to_cell(results.resource.column(name), value)
    extra = [r for r in results.rows if r.row is None]
    if extra:
        tail = pd.DataFrame([{key: r.key, **({results.resource.natural_key[0]: r.label}
                                              if results.resource.natural_key else {})} for r in extra],
                            columns=out.columns).astype(object)
        out = pd.concat([out, tail], ignore_index=True)
        status += [r.status.value for r in extra]
        ids += [r.id for r in extra]
        readable += [r.readable_id for r in extra]
        errors += [r.error for r in extra]
    for name, cells in zip(RESULT_COLUMNS, (status, ids, readable, errors), strict=True):
        out[name] = cells
    out = out.where(out.notna(), None)
    snapshot = _snapshot(results, base, batches) if base else None
    return SheetFrame(out, results.resource, {**meta, "kind": "results", "run": results.run_id}
                      if meta and snapshot else None, snapshot)

"""The `Plan`: what importing a sheet would do, the questions `apply` and people ask of it (counts, batches, is it
stale, may it be applied), and its renderings (`report`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ConfigError, ValidationFailed
from ..resources import Resource
from ..validate.report import Issue, ValidationReport
from . import report, saved
from .fetch import reread, state_hash
from .parents import pending_row
from .rows import Batch, FieldChange, Kind, RowPlan

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["Plan"]


@dataclass
class Plan:
    """What importing a sheet would do. Made by `plan`; carried out by `bulkio.apply`.

    :param rows: every row that is not unchanged, in sheet order (rows missing from the sheet last).
    :param unchanged: (key, Excel row) of the unchanged rows (`Unchanged`, compact: most rows of a big sheet are
        unchanged).
    :param three_way: compared with the export snapshot; False: sheet against server only.
    :param issues: the validation report (with the server checks the plan made).
    :param server_hash: a hash of the server rows the plan saw (`Plan.is_stale` checks it).
    :param fetched: the ids whose server rows the hash covers: the rows the plan would update or delete.
    """

    resource: Resource
    source: str
    sheet: str | None
    rows: tuple[RowPlan, ...]
    unchanged: Sequence[tuple[str, int]]
    three_way: bool
    delete_missing: bool
    skip_invalid: bool
    issues: ValidationReport
    warnings: tuple[str, ...]
    server_hash: str
    fetched: tuple[str, ...]
    created_at: str
    host: str
    requests: int = 0
    select: tuple[str, ...] = ()
    scope: tuple[str, ...] | None = None
    """The export's filter, when the plan read the server through it and reading the rows it would write that way
    again takes fewer requests than by id (then `is_stale` does); None: by id."""
    source_sha256: str | None = None
    """The SHA-256 of the sheet file as the plan read it (None: a DataFrame, or a `Sheet` given in memory): what
    a saved plan vouches for (`saved`)."""
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{column: {id: label}}`` for the reference ids the rows' changes hold (a customer type's name, a contact's
    customer): what the reports show instead of ids (`readable`). Rows keep the ids `apply` sends."""

    # ------------------------------------------------------------------ for people
    def shown(self, column: str, value: Any) -> Any:
        """`value` of `column` as people know it: a reference id as its label, a new parent (a pending id, see
        `parents`) as its label and sheet row; anything else as it is."""
        names = self.labels.get(column)
        if not names or not isinstance(value, str) or value not in names:
            return value
        at = pending_row(value)
        return f"{names[value]} (new, row {at[1]})" if at else names[value]

    def readable(self) -> Plan:
        """A copy whose changes show reference labels instead of ids (`shown`), for the reports; the plan itself
        keeps the ids `apply` sends."""
        if not self.labels:
            return self

        def show(change: FieldChange) -> FieldChange:
            if change.column not in self.labels:
                return change
            return replace(change, before=self.shown(change.column, change.before),
                           after=self.shown(change.column, change.after), base=self.shown(change.column, change.base))

        rows = tuple(replace(r, changes=tuple(map(show, r.changes)), kept=tuple(map(show, r.kept)))
                     if any(c.column in self.labels for c in (*r.changes, *r.kept)) else r for r in self.rows)
        return replace(self, rows=rows)

    # ------------------------------------------------------------------ questions
    def of(self, kind: Kind) -> list[RowPlan]:
        """The rows of one kind (unchanged rows are built on demand)."""
        listed = [r for r in self.rows if r.kind is kind]
        if kind is Kind.UNCHANGED:
            listed += [RowPlan(Kind.UNCHANGED, key, row or None) for key, row in self.unchanged]
        return listed

    def counts(self) -> dict[Kind, int]:
        """How many rows of each kind (every kind, zero included)."""
        counts = dict.fromkeys(Kind, 0)
        for r in self.rows:
            counts[r.kind] += 1
        counts[Kind.UNCHANGED] += len(self.unchanged)
        return counts

    @property
    def errors(self) -> list[Issue]:
        """The validation errors (the sheet's and the server checks')."""
        return self.issues.errors

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would write anything."""
        return any(r.kind in (Kind.CREATE, Kind.UPDATE, Kind.DELETE) for r in self.rows)

    @property
    def has_conflicts(self) -> bool:
        """Whether a row needs a decision first (the user and the server both changed it)."""
        return any(r.kind is Kind.CONFLICT for r in self.rows)

    @property
    def blocked(self) -> bool:
        """Errors stop the apply, unless the plan was made with ``skip_invalid`` and every error is a row's."""
        errors = self.errors
        return bool(errors) and (not self.skip_invalid or any(e.row is None for e in errors))

    def check_applicable(self) -> None:
        """:raises ValidationFailed: when the sheet has errors that block applying."""
        if self.blocked:
            first = self.errors[0]
            raise ValidationFailed(self.issues, f"{len(self.errors)} error(s) in the sheet, first: {first}; fix "
                                   "them (bulkio validate writes an error workbook) or skip the rows with errors")

    def batches(self, batch_size: int | None = None) -> list[Batch]:
        """What `apply` sends: creates in arrays of `batch_size`; updates grouped by identical patch body (the
        requests are cut under the URL budget when sent, rows sharing a guard sharing its terms); deletes in groups
        of `batch_size`."""
        size = batch_size or self.resource.batch_size
        out: list[Batch] = []
        creates = self.of(Kind.CREATE)
        out += [Batch(Kind.CREATE, tuple(creates[i:i + size])) for i in range(0, len(creates), size)]
        groups: dict[str, list[RowPlan]] = {}
        for r in self.of(Kind.UPDATE):
            signature = json.dumps(r.body, sort_keys=True, default=str)
            groups.setdefault(signature, []).append(r)
        for members in groups.values():
            members.sort(key=lambda r: json.dumps(r.guard, sort_keys=True, default=str))  # shared guards adjoin
            for i in range(0, len(members), size):
                chunk = tuple(members[i:i + size])
                out.append(Batch(Kind.UPDATE, chunk, chunk[0].body))
        deletes = self.of(Kind.DELETE)
        out += [Batch(Kind.DELETE, tuple(deletes[i:i + size])) for i in range(0, len(deletes), size)]
        return out

    def is_stale(self, client: Client) -> bool:
        """Whether the server changed, since the plan was made, a row the plan would write (an update's or a
        delete's): only those are read again, by id (a request per ~200 rows, none for a plan that writes none), or
        through the export's filter when that takes fewer requests. The rest cannot make the plan wrong: a row the
        plan leaves alone is not written, and a create whose name was taken meanwhile fails alone, as any write
        the guards stop."""
        rows = reread(client, self.resource, self.fetched, self.scope, self.select)
        return state_hash(self.resource, rows) != self.server_hash

    # ------------------------------------------------------------------ saved plans (`saved`)
    def save(self, path: str | Path) -> Path:
        """Save the plan to apply later exactly as reviewed, without planning again (`saved.save`: JSON with the
        sheet's SHA-256; save right after planning)."""
        return saved.save(self, path)

    @classmethod
    def load(cls, path: str | Path, client: Client, *, require_sheet: bool = True) -> Plan:
        """A saved plan, to apply with `client`: refused if made against another host, if its sheet was edited
        since, or if the sheet is gone unless `require_sheet` is False (`saved.load_saved`).

        :raises ConfigError: the file holds a family's plans (`FamilyPlan.load` reads it): its parent's plan alone
            would apply part of what was reviewed."""
        loaded = cls.load_saved(path, client, require_sheet=require_sheet)
        if loaded.family is not None:
            raise ConfigError(f"{path}: the saved plan of a table and its children: load it with FamilyPlan.load "
                              "(bulkio apply reads either)")
        return loaded.plan

    @classmethod
    def load_saved(cls, path: str | Path, client: Client, *, require_sheet: bool = True) -> saved.SavedPlan:
        """`load`, with what the file says beside the plan: when and by which bulkio it was saved, and where its
        sheet was found (`saved.load_saved` says what is checked)."""
        return saved.load_saved(path, client, cls, require_sheet=require_sheet)

    # ------------------------------------------------------------------ renderings (`report`)
    def to_frame(self) -> pd.DataFrame:
        """One row per changed field (`report.to_frame`)."""
        return report.to_frame(self)

    def to_json(self, path: str | Path | None = None) -> str:
        """The plan as JSON, written to `path` too when given (`report.to_json`)."""
        return report.to_json(self, path)

    def to_markdown(self, path: str | Path | None = None, *, limit: int = 50) -> str:
        """A Markdown report, written to `path` too when given (`report.to_markdown`)."""
        return report.to_markdown(self, path, limit=limit)

    def to_excel(self, path: str | Path) -> Path:
        """An Excel report with before and after side by side (`report.to_excel`)."""
        return report.to_excel(self, path)

    def to_html(self, path: str | Path | None = None) -> str:
        """The review page, one self-contained file, written to `path` too when given (`report.to_html`)."""
        return report.to_html(self, path, page=True)

    def _repr_html_(self) -> str:
        return report.to_html(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {k.value}" for k, n in self.counts().items() if n)
        mode = "three-way" if self.three_way else "two-way"
        return f"<Plan {self.resource.name} from {Path(self.source).name}: {counts or 'nothing'} ({mode})>"

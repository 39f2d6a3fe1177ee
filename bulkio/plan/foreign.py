"""Sheets that did not come from bulkio (issue 17): what a plan does before and after its phases.

Before (`prepare`): the headers are read as columns (`sheets.headers`: exact names, labels, a mapping), and with
``match`` the rows without an id get the id of the one server row their natural key names (`match`). The plan then
compares them as it compares any row with an id.

After (`finish`):

- **blank cells**: in a sheet bulkio did not export, a blank cell leaves the field as it is (``blank="keep"``, the
  default there): such cells are taken out of the updates, and a row left with nothing to change is unchanged.
  ``blank="clear"`` clears the field. In bulkio's own export (it has the export snapshot, or its headers are the
  columns' names and it has the id column) a blank cell where the export had a value is a clear, as always; a row
  matched there has no exported values, so its blank cells leave their fields as they are. Columns the sheet does
  not have are never touched, whatever the rule;
- **only**: ``only={"create", "update"}`` (any subset of create, update, delete) lets the plan do only those; every
  other row that would write is *skipped*, with the reason;
- **labels**: a row without a ``name`` (a partial sheet: the match key and a few columns) is labelled by its match
  key;
- **notes**: the plan's warnings say how the headers were read, which rows matched on what, the blank rule, and what
  ``only`` left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..sheets.flatten import split_custom
from ..sheets.headers import HeaderMap, load_mapping, rename_headers
from ..sheets.layout import ACTION_COLUMN, DELETE
from ..sheets.read import Sheet
from ..sheets.values import empty_mask, is_empty
from ..validate.report import Issue, IssueCode, ValidationReport, column_letter, sorted_report
from .match import Match, match_rows
from .rows import FieldChange, Kind, RowPlan, Unchanged

if TYPE_CHECKING:
    from ..api.client import Client
    from .model import Plan

__all__ = ["BLANK_RULES", "ONLY_KINDS", "Prepared", "finish", "parse_only", "prepare"]

BLANK_RULES = ("keep", "clear")
"""What a blank cell of an existing row means: leave the field as it is, or clear it."""
ONLY_KINDS = (Kind.CREATE, Kind.UPDATE, Kind.DELETE)
"""The kinds of rows ``only`` may allow."""


def parse_only(only: str | Iterable[str] | None) -> frozenset[Kind] | None:
    """``"create,update"`` or ``["update"]`` as kinds (None: everything).

    :raises ConfigError: a kind other than create, update, delete; nothing named.
    """
    if only is None:
        return None
    names = [only] if isinstance(only, str) else list(only)
    words = [w.strip().lower() for n in names for w in str(n).split(",") if w.strip()]
    allowed = {k.value: k for k in ONLY_KINDS}
    bad = [w for w in words if w not in allowed]
    if bad or not words:
        raise ConfigError(f"only: {', '.join(bad) or 'nothing'} is not one of create, update, delete (any of "
                          "them, comma-separated: --only create,update)")
    return frozenset(allowed[w] for w in words)


def _blank_rule(blank: str | None, foreign: bool) -> str:
    if blank is None:
        return "keep" if foreign else "clear"
    rule = blank.strip().lower()
    if rule not in BLANK_RULES:
        raise ConfigError(f"blank: {blank!r} is not one of {', '.join(BLANK_RULES)}")
    return rule


@dataclass(frozen=True)
class Prepared:
    """A sheet made ready for the plan, and what `finish` needs to know about it.

    :param sheet: the sheet with its headers as column names and its matched rows' ids.
    :param headers: how the headers were read; :param match: what matching found (None: no ``match``).
    :param blank: the blank rule in force (``keep`` or ``clear``); :param foreign: the sheet is not bulkio's export.
    :param chosen: the user chose the blank rule (else the sheet's kind did).
    """

    sheet: Sheet
    headers: HeaderMap
    match: Match | None
    blank: str
    foreign: bool
    chosen: bool

    @property
    def keeping(self) -> set[int]:
        """Excel rows whose blank cells leave their fields as they are: every existing row under ``keep``; in
        bulkio's own export, the matched rows (the export has no values of theirs that a blank could clear)."""
        if self.blank == "keep":
            return self.existing
        if self.chosen or self.match is None:
            return set()
        return {self.sheet.rows[p] for p in self.match.ids}

    @property
    def blanks(self) -> str:
        """The rule `make_plan` applies to the whole sheet: ``keep`` when any row keeps its blank cells (`finish`
        then refuses the emptied required cells of the rows that clear)."""
        return "keep" if self.keeping else "clear"

    @property
    def existing(self) -> set[int]:
        """Excel rows of the rows with an id (given, or found by matching)."""
        key = self.sheet.resource.key
        if key not in self.sheet.frame.columns:
            return set()
        blank = empty_mask(self.sheet.frame[key].to_numpy(dtype=object))
        return {self.sheet.rows[p] for p in range(len(blank)) if not blank[p]}

    def report(self, report: ValidationReport) -> ValidationReport:
        """The validation report with what matching found (a key shared by rows that validation already reports as
        a duplicate name is said once); under ``blank="keep"``, a blank required cell of an existing row keeps the
        server's value, so it is not an error."""
        issues = list(report.issues)
        keeping = self.keeping
        if keeping:
            issues = [i for i in issues if not (i.code is IssueCode.REQUIRED and i.row in keeping)]
        if self.match is not None:
            said = {(i.row, i.column) for i in issues if i.code is IssueCode.DUPLICATE_NAME}
            issues += [i for i in self.match.issues if (i.row, i.column) not in said]
            issues += self.match.notices
        return report if issues == list(report.issues) else sorted_report(issues)

    def notes(self) -> list[str]:
        """What the plan says about reading the sheet: headers, matching, the blank rule."""
        out = []
        described = self.headers.describe()
        if described:
            out.append(described)
        out += [f"the mapping names {h!r}, which the sheet does not have" for h in self.headers.unused]
        if self.match is not None:
            if self.match.warning:
                out.append(self.match.warning)
            out.append(self.match.describe(self.sheet))
        if self.foreign or self.chosen:
            out.append("blank cells leave fields as they are (blank='keep'; --blank clear clears them)"
                       if self.blank == "keep" else "blank cells clear their fields (blank='clear')")
        elif self.keeping:
            out.append(f"blank cells of the {len(self.keeping)} matched row(s) leave fields as they are (the export "
                       "holds no values of theirs to clear; --blank clear clears them)")
        return out


def prepare(client: Client, sh: Sheet, *, match: str | Sequence[str] | None = None,
            mapping: Mapping[str, str] | str | Path | None = None, blank: str | None = None) -> Prepared:
    """Headers read as columns, matched rows given their ids, and the blank rule chosen.

    :param mapping: ``{"Sheet header": "column"}``, or the path of a mapping file (`sheets.headers.load_mapping`).
    :raises ConfigError: a bad match key, mapping or blank rule. :raises WorkbookError: two headers read as one
        column; the sheet lacks a match key column.
    """
    if isinstance(mapping, str | Path):
        mapping = load_mapping(mapping)
    sh, headers = rename_headers(sh, mapping)
    found = None
    if match is not None:
        sh, found = match_rows(client, sh, match)
    own = sh.base is not None or (not headers.renamed and match is None and sh.resource.key in sh.frame.columns)
    return Prepared(sh, headers, found, _blank_rule(blank, not own), not own, blank is not None)


def finish(result: Plan, prepared: Prepared, only: frozenset[Kind] | None = None) -> Plan:
    """The plan with the blank rule, ``only`` and match-key labels applied, and the notes added."""
    rows = list(result.rows)
    unchanged: list[tuple[str, int]] = []
    issues = _said_once(result.issues, prepared)
    keeping = prepared.keeping
    if keeping:
        rows, unchanged = _keep_blanks(rows, prepared.sheet, keeping)
        rows, issues = _emptied(rows, issues, prepared.sheet, keeping)
    rows = _labelled(rows, prepared)
    notes = prepared.notes()
    if only is not None:
        rows, issues, note = _only(rows, issues, only, prepared)
        notes += [note] if note else []
    before = result.unchanged
    if unchanged:
        before = before + unchanged if isinstance(before, Unchanged) else [*before, *unchanged]
    return replace(result, rows=tuple(rows), unchanged=before, issues=issues, warnings=(*result.warnings, *notes))


def _said_once(report: ValidationReport, prepared: Prepared) -> ValidationReport:
    """A row whose match key is in error is not also told that its key exists on the server (matching said why it
    found no one row)."""
    if prepared.match is None or not prepared.match.issues:
        return report
    bad = {i.row for i in prepared.match.issues}
    kept = [i for i in report.issues if not (i.code is IssueCode.EXISTS_ON_SERVER and i.row in bad)]
    return report if len(kept) == len(report.issues) else sorted_report(kept)


def _emptied(rows: list[RowPlan], report: ValidationReport, sh: Sheet, keeping: set[int]
             ) -> tuple[list[RowPlan], ValidationReport]:
    """Rows whose blank cells clear (not `keeping`) cannot empty a NOT NULL column (`make_plan` left that check to
    here when some rows keep their blank cells): such rows are skipped, with an error at the cell, as make_plan's."""
    res = sh.resource
    out, found = [], []
    for r in rows:
        emptied = [] if r.kind is not Kind.UPDATE or r.row in keeping else [
            c.column for c in r.changes if c.after is None and c.column in res and not res.column(c.column).nullable
            and not res.column(c.column).required]
        if not emptied:
            out.append(r)
            continue
        why = (f"{emptied[0]} cannot be emptied: the server requires a value (it was only optional for new "
               "rows)")
        found.append(Issue(sh.file, sh.sheet, r.row, column_letter(sh.frame, emptied[0]), emptied[0], None,
                           IssueCode.REQUIRED, why))
        out.append(RowPlan(Kind.SKIPPED, r.key, r.row, r.label, reason=why))
    return out, (sorted_report([*report.issues, *found]) if found else report)


def _keep_blanks(rows: list[RowPlan], sh: Sheet, keeping: set[int]) -> tuple[list[RowPlan], list[tuple[str, int]]]:
    """Updates of `keeping` rows without the fields whose sheet cell is blank; rows left with no change are
    unchanged."""
    where = {excel: p for p, excel in enumerate(sh.rows)}
    out: list[RowPlan] = []
    unchanged: list[tuple[str, int]] = []
    for r in rows:
        if r.kind is not Kind.UPDATE or r.row not in keeping or r.row not in where or r.key is None:
            out.append(r)
            continue
        blank = [c for c in r.changes if c.column in sh.frame.columns
                 and is_empty(sh.frame.iat[where[r.row], sh.frame.columns.get_loc(c.column)])]
        if not blank:
            out.append(r)
            continue
        changes = tuple(c for c in r.changes if c not in blank)
        if not changes:
            if r.kept:
                out.append(RowPlan(Kind.UNCHANGED, r.key, r.row, r.label, kept=r.kept))
            else:
                unchanged.append((r.key, r.row))
            continue
        body, guard = _without(sh, dict(r.body), dict(r.guard), blank, changes)
        out.append(replace(r, changes=changes, body=body, guard=guard))
    return out, unchanged


def _without(sh: Sheet, body: dict[str, Any], guard: dict[str, Any], blank: list[FieldChange],
             changes: tuple[FieldChange, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An update's body and guard without the blank cells' fields (a custom field's key put back as the server
    holds it; its object left out when no key of it changes any more)."""
    res = sh.resource
    for change in blank:
        split = split_custom(change.column, res)
        if split is None:
            body.pop(change.column, None)
            guard.pop(change.column, None)
            continue
        parent, key = split[0].name, split[1]
        if any((s := split_custom(c.column, res)) is not None and s[0].name == parent for c in changes):
            merged = dict(body.get(parent) or {})
            merged[key] = change.before
            body[parent] = merged
        else:
            body.pop(parent, None)
            guard.pop(parent, None)
    return body, guard


def _labelled(rows: list[RowPlan], prepared: Prepared) -> list[RowPlan]:
    """Rows without a label (a partial sheet without ``name``) labelled by their match key."""
    found = prepared.match
    if found is None:
        return rows
    sh = prepared.sheet
    key_of = {sh.rows[p]: text for p, text in found.keys.items()}
    return [replace(r, label=key_of[r.row]) if r.label is None and r.row in key_of else r for r in rows]


def _would_be(prepared: Prepared) -> dict[int, Kind]:
    """What each sheet row would do, by Excel row: delete (``_action``), update (an id, given or matched), create."""
    sh = prepared.sheet
    existing = prepared.existing
    actions = sh.frame[ACTION_COLUMN].to_numpy(dtype=object) if ACTION_COLUMN in sh.frame.columns else None
    out = {}
    for p, excel in enumerate(sh.rows):
        marked = actions is not None and str(actions[p]).strip().lower() == DELETE
        out[excel] = Kind.DELETE if marked else Kind.UPDATE if excel in existing else Kind.CREATE
    return out


def _only(rows: list[RowPlan], report: ValidationReport, only: frozenset[Kind], prepared: Prepared
          ) -> tuple[list[RowPlan], ValidationReport, str | None]:
    """Rows that would do what `only` does not allow are skipped, each saying why, whatever they would have been
    (a row with errors too: their errors go, since nothing of it is written)."""
    allowed = ",".join(k.value for k in ONLY_KINDS if k in only)
    would_be = _would_be(prepared)
    missed = set() if prepared.match is None else {prepared.sheet.rows[p] for p in prepared.match.missed}
    out: list[RowPlan] = []
    left: set[int] = set()
    skipped = 0
    unmatched = set() if prepared.match is None else {i.row for i in prepared.match.issues}
    for r in rows:
        kind = Kind.DELETE if r.row is None and r.kind is Kind.DELETE else would_be.get(r.row or 0, r.kind)
        if kind in only or r.kind is Kind.UNCHANGED or r.row in unmatched:  # a bad key stays an error
            out.append(r)
            continue
        skipped += 1
        if r.row is not None:
            left.add(r.row)
        why = f"would be {'an' if kind is Kind.UPDATE else 'a'} {kind.value}, and only {allowed} was allowed"
        if r.row in missed and prepared.match is not None:
            columns = "+".join(prepared.match.columns)
            why = f"no {prepared.sheet.resource.name} on the server has this {columns}, and only {allowed} was allowed"
        out.append(RowPlan(Kind.SKIPPED, r.key, r.row, r.label, reason=why))
    no_creates = Kind.CREATE not in only
    kept = [i for i in report.issues
            if not ((i.row is not None and i.row in left) or (no_creates and i.code is IssueCode.MISSING_COLUMN))]
    if len(kept) < len(report.issues):
        report = sorted_report(kept)
    if not skipped:
        return out, report, None
    others = "/".join(k.value for k in ONLY_KINDS if k not in only)
    return out, report, f"only {allowed}: {skipped} row(s) that would {others} were skipped"

"""Planning a workbook that holds a table and its children (design decision 16): a customer and its contacts.

Each sheet is planned as any sheet is (`plan`), with one difference: the child sheet's link column (a contact's
``customerId``, shown as the customer's name) is resolved by `parents.parent_lookup` against the parent sheet of the
same workbook, so a contact may name a customer the workbook creates. Then the checks only the whole family can
make (`_family_issues`): a child that names a parent the workbook deletes, or a new parent that will not be created,
is an error at its cell; a parent deleted with children that the database deletes along (``ON DELETE CASCADE``) is
told in the plan (`Cascade`), and one whose children the database would refuse to orphan (``RESTRICT``) is an error
at its ``_action`` cell unless the workbook deletes them too.

`bulkio.run.family` applies a `FamilyPlan`: children's deletes first, then the parent's rows, then the children's
creates and updates with the parents' new ids.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api.catalog import link_for
from ..api.lookups import Lookup, fetch_lookups
from ..errors import ConfigError, LabelError, ValidationFailed
from ..resources import Link
from ..sheets.layout import ACTION_COLUMN
from ..sheets.read import Sheet, read_sheet, workbook_family
from ..validate.report import Issue, IssueCode, column_letter, sorted_report
from . import html, saved
from .model import Plan
from .parents import cell_texts, parent_lookup, pending_id, pending_row
from .rows import Kind, RowPlan

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["Cascade", "FamilyPlan", "child_lookups", "plan_family"]


@dataclass(frozen=True)
class Cascade:
    """A parent row the plan deletes, and its children the database deletes with it (``ON DELETE CASCADE``)."""

    table: str
    key: str
    label: str | None
    row: int | None
    child: str
    children: int

    def __str__(self) -> str:
        who = f"{self.table} {self.label!r}" if self.label else f"{self.table} {self.key}"
        at = f" (row {self.row})" if self.row else ""
        return (f"deleting {who}{at} also deletes its {self.children} {self.child} row(s): the database deletes "
                "them with it (on delete cascade); bulkio undo brings them back")


@dataclass
class FamilyPlan:
    """What importing a family workbook would do: one `Plan` per sheet, parent first, and what ties them.

    :param plans: the parent's plan, then each child table's, in the workbook's order.
    :param links: how each child table refers to the parent (`Link`), one per child plan.
    :param cascades: the parent deletes that take children with them.
    """

    source: str
    plans: tuple[Plan, ...]
    links: tuple[Link, ...]
    cascades: tuple[Cascade, ...] = ()

    @property
    def parent(self) -> Plan:
        """The parent table's plan."""
        return self.plans[0]

    @property
    def children(self) -> tuple[Plan, ...]:
        """The child tables' plans, in the order of `links`."""
        return self.plans[1:]

    def plan_for(self, table: str) -> Plan:
        """The plan of one table of the family. :raises KeyError: naming the tables it has."""
        for p in self.plans:
            if p.resource.name == table:
                return p
        raise KeyError(f"the family has no table {table!r}; it has {', '.join(p.resource.name for p in self.plans)}")

    def counts(self) -> dict[str, dict[Kind, int]]:
        """Rows of each kind, per table."""
        return {p.resource.name: p.counts() for p in self.plans}

    @property
    def errors(self) -> list[Issue]:
        """Every table's errors."""
        return [i for p in self.plans for i in p.errors]

    @property
    def warnings(self) -> tuple[str, ...]:
        """The plans' warnings, each with its table, and the cascades."""
        return (*(f"{p.resource.name}: {w}" for p in self.plans for w in p.warnings), *map(str, self.cascades))

    @property
    def has_changes(self) -> bool:
        """Whether applying would write anything, to any table."""
        return any(p.has_changes for p in self.plans)

    @property
    def has_conflicts(self) -> bool:
        """Whether a row of any table needs a decision first."""
        return any(p.has_conflicts for p in self.plans)

    @property
    def blocked(self) -> bool:
        """Whether errors in any sheet stop the apply (each plan's rule)."""
        return any(p.blocked for p in self.plans)

    @property
    def requests(self) -> int:
        """The requests planning took."""
        return sum(p.requests for p in self.plans)

    def check_applicable(self) -> None:
        """:raises ValidationFailed: when a sheet has errors that block applying (none of the family is written)."""
        for p in self.plans:
            if p.blocked:
                errors = self.errors
                issues = sorted_report(i for q in self.plans for i in q.issues.issues)
                raise ValidationFailed(issues, f"{len(errors)} error(s) in the workbook, first: {errors[0]}; fix them "
                                       "(bulkio validate writes an error workbook) or skip the rows with errors")

    def is_stale(self, client: Client) -> bool:
        """Whether the server changed a row any table's plan would write (`Plan.is_stale`)."""
        return any(p.is_stale(client) for p in self.plans)

    def save(self, path: str | Path) -> Path:
        """Save every table's plan in one file, to apply later exactly as reviewed (`saved.save`: JSON with the
        workbook's SHA-256; save right after planning). `FamilyPlan.load` reads it back."""
        links = [{"parent": link.parent.name, "child": link.child.name, "column": link.column} for link in self.links]
        return saved.save(self.parent, path, children=self.children,
                          family={"links": links, "cascades": [dataclasses.asdict(c) for c in self.cascades]})

    @classmethod
    def load(cls, path: str | Path, client: Client, *, require_sheet: bool = True) -> FamilyPlan:
        """A saved family plan, to apply with `client`, refused as `Plan.load` refuses one (another host, a
        workbook edited since, a workbook gone unless `require_sheet` is False)."""
        return cls.of_saved(client, Plan.load_saved(path, client, require_sheet=require_sheet))

    @classmethod
    def of_saved(cls, client: Client, loaded: saved.SavedPlan) -> FamilyPlan:
        """The family a saved plan holds. :raises ConfigError: the file holds one table's plan."""
        if loaded.family is None:
            raise ConfigError(f"{loaded.path}: the saved plan of one table: load it with Plan.load")
        links = tuple(link_for(client, loaded.plan.resource, str(link["child"])) for link in loaded.family["links"])
        cascades = tuple(Cascade(**c) for c in loaded.family.get("cascades", ()))
        return cls(loaded.plan.source, (loaded.plan, *loaded.children), links, cascades)

    def to_markdown(self, path: str | Path | None = None, *, limit: int = 50) -> str:
        """Each table's Markdown report under its name, the cascades first."""
        parts = [f"# {Path(self.source).name}: {len(self.plans)} tables"]
        parts += [f"- {c}" for c in self.cascades]
        parts += [f"## {p.resource.name}\n\n{p.to_markdown(limit=limit)}" for p in self.plans]
        text = "\n\n".join(parts) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """The review page of every table, the cascades first (`html.render_family`), written to `path` too."""
        text = html.render_family(self.plans, [str(c) for c in self.cascades], self.source)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        """Each table's JSON report (`Plan.to_json`) under its name, with the cascades."""
        text = json.dumps({"source": self.source, "cascades": [str(c) for c in self.cascades],
                           "tables": {p.resource.name: json.loads(p.to_json()) for p in self.plans}},
                          ensure_ascii=False, indent=1)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _repr_html_(self) -> str:
        return html.render_family(self.plans, [str(c) for c in self.cascades], self.source, page=False)

    def __repr__(self) -> str:
        def line(p: Plan) -> str:
            counts = ", ".join(f"{n} {k.value}" for k, n in p.counts().items() if n)
            return f"{p.resource.name}: {counts or 'nothing'}"
        return f"<FamilyPlan from {Path(self.source).name}: {'; '.join(map(line, self.plans))}>"


def plan_family(client: Client, source: str | Path, *, delete_missing: bool = False, skip_invalid: bool = False,
                accept_reformatted: bool = False, full_read: bool = False,
                lookups: Mapping[str, Lookup] | None = None) -> FamilyPlan:
    """Plan a workbook exported with its children (``bulkio export customer --with customerContact``): every sheet,
    one plan each, references checked across the sheets. Never writes.

    The options are `plan`'s, for every sheet. :raises ConfigError: the workbook holds one table only.
    """
    from .make import plan  # the one-sheet planner, which sends a family workbook here

    family = workbook_family(source)
    if family is None:
        raise ConfigError(f"{source}: the workbook holds one table; plan it with plan()")
    child_tables = family[1]
    options: dict[str, Any] = {"delete_missing": delete_missing, "skip_invalid": skip_invalid,
                               "accept_reformatted": accept_reformatted, "full_read": full_read}
    parent_sheet = read_sheet(source)
    parent_plan = plan(client, parent_sheet, lookups=lookups, **options)
    plans, members = [parent_plan], []
    for table in child_tables:
        link = link_for(client, parent_plan.resource, table)
        child_sheet = read_sheet(source, sheet=table)
        looked_up = child_lookups(client, link, parent_sheet, child_sheet)
        plans.append(plan(client, child_sheet, lookups=looked_up, **options))
        members.append(_Member(link, child_sheet, looked_up[link.column]))
    result = FamilyPlan(str(source), tuple(plans), tuple(m.link for m in members))
    return _checked(client, result, parent_sheet, members)


@dataclass(frozen=True)
class _Member:
    """A child table as planned: how it links to the parent, its sheet, and the lookup its link cells went
    through."""

    link: Link
    sheet: Sheet
    lookup: Lookup


def child_lookups(client: Client, link: Link, parent: Sheet, child: Sheet) -> dict[str, Lookup]:
    """The child sheet's lookups: its link column's from the parent sheet, the others fetched as usual."""
    others = [str(c) for c in child.frame.columns if c in child.resource and c != link.column]
    return {**fetch_lookups(client, child.resource, others), link.column: parent_lookup(client, link, parent, child)}


# ------------------------------------------------------------------------------------------------ the family's checks
def _checked(client: Client, family: FamilyPlan, parent_sheet: Sheet, members: Sequence[_Member]) -> FamilyPlan:
    """The family with the checks across its sheets made: issues added to the plans they concern, the cascades
    told."""
    parent = family.parent
    deleted = {r.key: r for r in parent.rows if r.kind is Kind.DELETE and r.key}
    created = {pending_id(parent.resource.name, r.row) for r in parent.rows if r.kind is Kind.CREATE and r.row}
    children, cascades, refused = [], [], []
    for member, child in zip(members, family.children, strict=True):
        link = member.link
        issues = [*_child_issues(member, child, deleted, created),
                  *_named_by_parents(parent_sheet, member, child, deleted)]
        children.append(_with_issues(child, issues))
        on_server = _children_on_server(client, link, list(deleted))
        if link.on_delete == "cascade":  # children the workbook deletes or moves away go first, not by cascade
            going = {r.key for r in child.rows if r.kind is Kind.DELETE
                     or (r.kind is Kind.UPDATE and link.column in r.body)}
            left = {key: [k for k in on_server.get(key, []) if k not in going] for key in deleted}
            cascades += [Cascade(parent.resource.name, key, r.label, r.row, link.child.name, len(left[key]))
                         for key, r in deleted.items() if left[key]]
        else:
            refused += _orphans(parent_sheet, child, link, deleted, on_server)
    return replace(family, plans=(_with_issues(parent, refused), *children), cascades=tuple(cascades))


def _child_issues(member: _Member, child: Plan, deleted: Mapping[str, RowPlan], created: set[str]) -> list[Issue]:
    """Errors at the link cells of child rows the plan would write that name a parent the workbook deletes, or a
    new parent that will not be created."""
    sheet, link = member.sheet, member.link
    written = {r.row: r for r in child.rows if r.kind in (Kind.CREATE, Kind.UPDATE) and r.row}
    if not written or link.column not in sheet.frame:
        return []
    issues = []
    for position, cell in enumerate(sheet.frame[link.column].tolist()):
        row = sheet.rows[position]
        if row not in written:
            continue
        target = written[row].body.get(link.column, _parent_of(member.lookup, cell))
        message = None
        if target in deleted:
            who = deleted[target].label or target
            message = (f"{link.parent.name} {who!r} is deleted by this workbook (row {deleted[target].row} of its "
                       f"sheet): its {link.child.name} rows go with it; keep it, or name another {link.parent.name}")
        elif pending_row(target) and target not in created:
            at = pending_row(target)
            message = (f"{link.parent.name} {cell!r} (row {at[1] if at else '?'} of its sheet) will not be created "
                       f"(see its errors): fix that row, and this one follows it")
        if message:
            issues.append(Issue(sheet.file, sheet.sheet, row, column_letter(sheet.frame, link.column), link.column,
                                cell, IssueCode.UNKNOWN_LABEL, message))
    return issues


def _named_by_parents(parent_sheet: Sheet, member: _Member, child: Plan, deleted: Mapping[str, RowPlan]
                      ) -> list[Issue]:
    """Child deletes the database would refuse: a row of the parent sheet still names the child in a column it
    guards with ``RESTRICT`` (a customer's ``salesContactId``). An error at the child's ``_action`` cell saying
    what to do: empty the parent's cell (the parent's updates go before the children's deletes), or, when the
    parent is deleted too, leave the child to the parent's cascade."""
    link, sheet = member.link, member.sheet
    going = {r.key: r for r in child.rows if r.kind is Kind.DELETE and r.key and r.row}
    guarded = {c.name: c.reference.on_delete for c in link.parent.columns if c.reference is not None
               and c.name in parent_sheet.frame and c.reference.table == link.child.name
               and c.reference.on_delete in ("restrict", "no action")}
    if not going or not guarded:
        return []
    keys, labels = cell_texts(parent_sheet, link.parent.key), cell_texts(parent_sheet, link.label)
    issues = []
    for name, rule in guarded.items():
        for position, named in enumerate(cell_texts(parent_sheet, name)):
            if named not in going:
                continue
            who = f"{link.parent.name} {labels[position] or keys[position]!r} (row {parent_sheet.rows[position]})"
            todo = (f"deleting it deletes this {link.child.name} anyway (on delete cascade): leave this _action "
                    "blank" if keys[position] in deleted and link.on_delete == "cascade"
                    else f"empty that cell too (bulkio updates the {link.parent.name} first), or keep this row")
            issues.append(Issue(sheet.file, sheet.sheet, going[named].row, column_letter(sheet.frame, ACTION_COLUMN),
                                ACTION_COLUMN, "delete", IssueCode.BAD_ACTION,
                                f"{who} names this {link.child.name} in {name}, and the database will not delete "
                                f"it while it does (on delete {rule}): {todo}"))
    return issues


def _parent_of(lookup: Lookup, cell: Any) -> str | None:
    """The parent id a link cell names (None: empty, or a label validation already reported)."""
    if cell is None or not str(cell).strip():
        return None
    try:
        return lookup.id_for(str(cell).strip())
    except LabelError:
        return None


def _children_on_server(client: Client, link: Link, parents: Sequence[str]) -> dict[str, list[str]]:
    """The ids of the server's child rows of each of `parents` (a request per URL budget's worth; none for no
    parents)."""
    found: dict[str, list[str]] = {}
    if not parents:
        return found
    for row in client.rows_in(link.child, link.column, sorted(parents), [link.child.key, link.column]):
        found.setdefault(str(row[link.column]), []).append(str(row[link.child.key]))
    return found


def _orphans(parent_sheet: Sheet, child: Plan, link: Link, deleted: Mapping[str, RowPlan],
             on_server: Mapping[str, list[str]]) -> list[Issue]:
    """Parent deletes the database would refuse (``RESTRICT``/``NO ACTION``): children the workbook does not delete
    too. An error at the parent's ``_action`` cell, naming how many."""
    going = {r.key for r in child.rows if r.kind is Kind.DELETE}
    issues = []
    for key, r in deleted.items():
        left = [k for k in on_server.get(key, []) if k not in going]
        if left and r.row:
            issues.append(Issue(parent_sheet.file, parent_sheet.sheet, r.row,
                                column_letter(parent_sheet.frame, ACTION_COLUMN), ACTION_COLUMN, "delete",
                                IssueCode.BAD_ACTION,
                                f"{r.label or key} has {len(left)} {link.child.name} row(s) this workbook does not "
                                f"delete, and the database refuses to delete it while they exist (on delete "
                                f"{link.on_delete}): mark them delete too, on the {link.child.name} sheet"))
    return issues


def _with_issues(p: Plan, issues: Iterable[Issue]) -> Plan:
    """`p` with `issues` (errors) added: each row they name becomes skipped, saying why."""
    issues = list(issues)
    if not issues:
        return p
    why = {i.row: i.message for i in issues}
    rows = tuple(r if r.row not in why else RowPlan(Kind.SKIPPED, r.key, r.row, r.label, reason=why[r.row])
                 for r in p.rows)
    return replace(p, rows=rows, issues=sorted_report([*p.issues.issues, *issues]))


def family_of(source: object) -> tuple[str, list[str]] | None:
    """(parent, children) when `source` is a family workbook's path; None otherwise (one table, a CSV, a frame)."""
    return workbook_family(source) if isinstance(source, str | Path) else None

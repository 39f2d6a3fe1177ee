"""The dry run as a page people read before they write to their ERP, often after sending it to a colleague (issue 20).

One self-contained file: inline CSS, a few lines of inline JavaScript for the filter, no fonts, images or requests.
It reads like a code review of data: a header with where the sheet came from and what it would do (coloured counts),
then what needs a person first (errors, conflicts, each with what to do about it), then each row by its name and
Excel row with only the fields that change, old value struck in red, new in green.

Why a template string and no template engine: the page is one fixed layout filled with a few loops, and every value
goes through `html.escape` here, in one place (`_text`); an engine would add a dependency and a second escaping
rule to trust. Why a cap (`limit` rows a section): a page of 10,000 changes stays small and quick to open (1.6 MB,
0.04 s: benchmarks/plan_html.py), and plan.xlsx (``--report plan.xlsx``) lists every row.

`render(plan)` is the page; `render(plan, page=False)` the same body without the page chrome (no filter, no
``<html>``), for Jupyter, where it follows the notebook's light or dark theme.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from ..resources import RESOURCES, Column, ColumnType, Resource
from ..sheets.values import is_empty
from .rows import FieldChange, Kind, RowPlan

if TYPE_CHECKING:
    from ..validate.report import Issue
    from .model import Plan

__all__ = ["NOTEBOOK_LIMIT", "PAGE_LIMIT", "render", "write"]

PAGE_LIMIT = 1000
"""Rows a section of the page shows before its "and N more" line: a page of 10,000 changes stays about 1.6 MB,
quick to open and to filter."""
NOTEBOOK_LIMIT = 50
"""Rows a section shows in a notebook, where the output sits between cells."""

_BADGES = (Kind.CONFLICT, Kind.UPDATE, Kind.CREATE, Kind.DELETE, Kind.SKIPPED, Kind.UNCHANGED)
_VERBS = {Kind.CREATE: "create", Kind.UPDATE: "update", Kind.DELETE: "delete"}

_LIGHT = ("--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;--del:#ffebe9;--del-fg:#a0111f;"
          "--ins:#dafbe1;--ins-fg:#116329;--conflict:#9a6700;--conflict-bg:#fff8c5;--update:#0550ae;"
          "--update-bg:#ddf4ff;--create:#116329;--create-bg:#dafbe1;--delete:#a0111f;--delete-bg:#ffebe9;"
          "--error:#a0111f;--error-bg:#ffebe9;--plain:#59636e;--plain-bg:#eff2f5;")
_DARK = ("--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#151b23;--line:#3d444d;--del:#4c1f24;--del-fg:#ffa198;"
         "--ins:#1a3d26;--ins-fg:#7ee787;--conflict:#e3b341;--conflict-bg:#3b2e0b;--update:#79c0ff;"
         "--update-bg:#0c2d4f;--create:#7ee787;--create-bg:#1a3d26;--delete:#ffa198;--delete-bg:#4c1f24;"
         "--error:#ffa198;--error-bg:#4c1f24;--plain:#9198a1;--plain-bg:#212830;")
_CSS = """
$p{$light color:var(--fg);background:var(--bg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
 "Helvetica Neue",Arial,sans-serif;text-align:left;padding:4px 2px;font-variant-numeric:tabular-nums}
$p *{box-sizing:border-box}
$p h1{font-size:20px;margin:0 0 4px;font-weight:600}
$p .facts{color:var(--muted);margin:0 0 10px}
$p .facts b{color:var(--fg);font-weight:600}
$p .badges{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 8px}
$p .badge{border-radius:999px;padding:2px 10px;font-weight:600;font-size:13px;color:var(--c);background:var(--cb)}
$p .badge.zero{opacity:.45;font-weight:400}
$p .k-conflict{--c:var(--conflict);--cb:var(--conflict-bg)}$p .k-update{--c:var(--update);--cb:var(--update-bg)}
$p .k-create{--c:var(--create);--cb:var(--create-bg)}$p .k-delete{--c:var(--delete);--cb:var(--delete-bg)}
$p .k-error{--c:var(--error);--cb:var(--error-bg)}
$p .k-skipped,$p .k-unchanged,$p .k-kept{--c:var(--plain);--cb:var(--plain-bg)}
$p .verdict{margin:0 0 14px;padding:8px 12px;border-left:4px solid var(--c);background:var(--cb);color:var(--fg)}
$p .tools{position:sticky;top:0;z-index:1;display:flex;gap:8px;align-items:center;padding:8px 0;
 background:var(--bg);border-bottom:1px solid var(--line);margin-bottom:10px}
$p .tools input,$p .tools select{font:inherit;color:var(--fg);background:var(--panel);border:1px solid var(--line);
 border-radius:6px;padding:4px 8px}
$p .tools input{flex:0 1 340px}
$p .tools .shown{color:var(--muted)}
$p details{margin:0 0 14px;border:1px solid var(--line);border-radius:8px;overflow:hidden}
$p summary{cursor:pointer;padding:8px 12px;background:var(--panel);font-weight:600;border-left:4px solid var(--c)}
$p summary .n{color:var(--muted);font-weight:400}
$p .todo{margin:0;padding:8px 12px;border-bottom:1px solid var(--line)}
$p .scroll{overflow-x:auto}
$p table{border-collapse:collapse;width:100%}
$p th,$p td{text-align:left;vertical-align:top;padding:5px 12px;border-top:1px solid var(--line)}
$p thead th{font-weight:600;color:var(--muted);font-size:12px;border-top:0;white-space:nowrap}
$p tbody+tbody{border-top:2px solid var(--line)}
$p td.at{white-space:nowrap;color:var(--muted);width:1%}
$p td.who{width:28%;min-width:160px}
$p .label{font-weight:600}
$p .id{display:block;color:var(--muted);font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
$p .col{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap;width:1%}
$p del,$p ins{text-decoration-thickness:1px;border-radius:3px;padding:0 3px;word-break:break-word}
$p del{background:var(--del);color:var(--del-fg)}
$p ins{background:var(--ins);color:var(--ins-fg);text-decoration:none}
$p .arrow{color:var(--muted);padding:0 4px}
$p .empty{color:var(--muted);font-style:italic}
$p .note{color:var(--muted);font-size:12px}
$p .server{display:block;color:var(--muted);font-size:12px}
$p tr.kept td{color:var(--muted)}
$p tr.kept del,$p tr.kept ins{background:none;color:var(--muted)}
$p .three{display:grid;grid-template-columns:max-content 1fr;gap:1px 10px}
$p .three>small{color:var(--muted);font-size:12px;line-height:21px}
$p .more{padding:8px 12px;color:var(--muted);border-top:1px solid var(--line);font-style:italic}
$p .unchanged{color:var(--muted);margin:0 0 14px}
$p footer{color:var(--muted);font-size:12px;margin-top:18px}
$p code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--panel);padding:1px 4px;
 border-radius:4px}
$dark
@media print{$p{$light}$p .tools{display:none}$p details{break-inside:auto}$p tbody{break-inside:avoid}
 $p *{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
_ROOT = ".bulkio-plan"
_DARK_PAGE = "@media (prefers-color-scheme:dark){$p{$dark}}"
_DARK_NOTEBOOK = ("body[data-jp-theme-light=false] $p,body.vscode-dark $p,body.vscode-high-contrast $p,"
                  "html[theme=dark] $p{$dark}")
"""Jupyter's own theme decides in a notebook (JupyterLab, VS Code, Colab mark a dark theme so), not the system's:
a light notebook on a dark system stays light."""

_SCRIPT = """
(function(){var q=document.getElementById('bp-q'),c=document.getElementById('bp-c'),
n=document.getElementById('bp-n'),rows=[].slice.call(document.querySelectorAll('[data-c]'));
rows.forEach(function(r){r.t=r.textContent.toLowerCase()});
function run(){var t=q.value.trim().toLowerCase(),k=c.value,s=0;rows.forEach(function(r){
var ok=(!k||(' '+r.getAttribute('data-c')+' ').indexOf(' '+k+' ')>=0)&&(!t||r.t.indexOf(t)>=0);
r.hidden=!ok;if(ok)s++});n.textContent=(t||k)?s+' of '+rows.length+' rows shown':''}
q.addEventListener('input',run);c.addEventListener('change',run);
var h=new URLSearchParams(location.hash.slice(1));if(h.has('q')||h.has('c')){q.value=h.get('q')||'';
c.value=h.get('c')||'';run()}
window.addEventListener('beforeprint',function(){[].forEach.call(document.querySelectorAll('details'),
function(d){d.open=true})})})();
"""
"""The filter: rows whose text holds what is typed, and that touch the chosen column (``plan.html#q=Ltd&c=phone`` opens
the page filtered, a link to send). It reads the rows on the page, so it costs nothing to render and stays quick with
the capped sections."""

_PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark"><title>$title</title>
<style>html,body{margin:0;background:var(--bg)}body{padding:24px 32px;max-width:1200px;margin:auto}
:root{$light}@media (prefers-color-scheme:dark){:root{$dark}}@media print{:root{$light}body{padding:0}}$css</style>
</head><body><div class="bulkio-plan">
$header
<div class="tools"><input id="bp-q" type="search" placeholder="Filter rows: a name, a value, an id…"
 aria-label="Filter rows"><select id="bp-c" aria-label="Only rows changing this column">
<option value="">every column</option>$options</select>
<span class="shown" id="bp-n"></span></div>
$body
<footer>A dry run made by bulkio: nothing has been written. The Excel report
(<code>--report plan.xlsx</code>) lists every row field by field.</footer>
</div><script>$script</script></body></html>
""")


def _text(value: Any) -> str:
    """Any value as escaped text; the one way a value reaches the page."""
    return html.escape(str(value), quote=True)


def _n(count: int, word: str) -> str:
    """``1 conflict``, ``2 conflicts``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _shown(value: Any) -> str | None:
    """A value as people read it: a list as the sheet shows it (``a, b``), an object as compact JSON, empties as
    None."""
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return ", ".join(str(v) for v in value) or None
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None
    return None if is_empty(value) else str(value)


def _value(value: Any, tag: str = "span") -> str:
    """A value in `tag` (``del``, ``ins``), or a muted *empty*: a blank must be visible, not a missing cell."""
    shown = _shown(value)
    if shown is None:
        return '<span class="empty">empty</span>'
    return f"<{tag}>{_text(shown)}</{tag}>"


def _change(old: Any, new: Any) -> str:
    """old -> new, old struck in red, new in green."""
    return f'{_value(old, "del")}<span class="arrow">→</span>{_value(new, "ins")}'


def _who(r: RowPlan) -> str:
    """The row's label (its name, or the key), its id small beneath."""
    label = r.label or r.key or "(no name)"
    ident = f'<span class="id">{_text(r.key)}</span>' if r.key and r.key != label else ""
    return f'<span class="label">{_text(label)}</span>{ident}'


def _at(row: int | None) -> str:
    """Where the row is in the sheet, as Excel numbers it."""
    return f"row {row}" if row else "not in sheet"


def _record(r: RowPlan, lines: Sequence[tuple[str, str, str]]) -> str:
    """One row of the sheet as a `<tbody>` (so the filter shows or hides it whole): (column, cell html, tr class)
    per line, the row's place and label spanning them."""
    columns = " ".join(dict.fromkeys(column for column, _, _ in lines if column))
    lines = lines or [("", "", "")]
    span = f' rowspan="{len(lines)}"' if len(lines) > 1 else ""
    out = [f'<tbody data-c="{_text(columns)}">']
    for i, (column, cell, kind) in enumerate(lines):
        head = f'<td class="at"{span}>{_at(r.row)}</td><td class="who"{span}>{_who(r)}</td>' if i == 0 else ""
        klass = f' class="{kind}"' if kind else ""
        out.append(f'<tr{klass}>{head}<td class="col">{_text(column)}</td><td>{cell}</td></tr>')
    out.append("</tbody>")
    return "".join(out)


def _kept(change: FieldChange) -> tuple[str, str, str]:
    """A field only the server changed: shown, muted, as the server's edit, and said to be left alone."""
    return (change.column, f'<span class="note">changed on the server since the export, kept (not sent):</span> '
                           f"{_change(change.base, change.before)}", "kept")


def _update(r: RowPlan, three_way: bool) -> str:
    """The changed fields, before -> after; the exported value only where the server's differs from it."""
    lines = []
    for c in r.changes:
        cell = _change(c.before, c.after)
        if three_way and _shown(c.base) != _shown(c.before):  # the server moved: say from what
            cell += f'<span class="server">exported as {_value(c.base)}</span>'
        lines.append((c.column, cell, ""))
    return _record(r, [*lines, *(_kept(c) for c in r.kept)])


def _conflict(r: RowPlan) -> str:
    """Each conflicting field three ways (at export, the server's now, yours), then what to do."""
    lines = []
    for c in r.changes:
        yours = "<ins>delete the row</ins>" if c.after is None and "delete" in r.reason else _value(c.after, "ins")
        lines.append((c.column, f'<span class="three"><small>at export</small><span>{_value(c.base)}</span>'
                                f"<small>server now</small><b>{_value(c.before)}</b><small>yours</small>"
                                f"<span>{yours}</span></span>", ""))
    said = "" if r.reason.startswith("you and the server both") else f"{r.reason[:1].upper()}{r.reason[1:]}. "
    lines.append(("", f'<span class="note">{_text(said + _conflict_todo(r))}.</span>', ""))
    return _record(r, [*lines, *(_kept(c) for c in r.kept)])


def _conflict_todo(r: RowPlan) -> str:
    """What to do about one conflict, in words."""
    if not r.changes:
        return "Apply leaves it alone; to bring the row back, clear its id so that it is created again"
    if "delete" in r.reason:
        return "Apply keeps the row; look at the server's change, then export again and delete it there if it " \
               "should still go"
    return "Apply leaves the row as the server has it; to keep yours, export again and redo the edit"


def _create_table(rows: Sequence[RowPlan], resource: Resource) -> str:
    """New rows as one compact table of the columns any of them fills, in the table's column order."""
    order = {c.name: i for i, c in enumerate(resource.columns)}
    filled = dict.fromkeys(c.column for r in rows for c in r.changes if _shown(c.after) is not None)
    columns = sorted(filled, key=lambda name: (order.get(name.split(".", 1)[0], len(order)), name))
    head = "".join(f'<th class="col">{_text(c)}</th>' for c in columns)
    out = [f'<div class="scroll"><table><thead><tr><th>row</th>{head}</tr></thead>']
    for r in rows:
        values = {c.column: c.after for c in r.changes}
        cells = "".join(f"<td>{_text(_shown(values.get(c)) or '')}</td>" for c in columns)
        used = " ".join(c for c in columns if _shown(values.get(c)) is not None)
        out.append(f'<tbody data-c="{_text(used)}"><tr><td class="at">{_at(r.row)}</td>{cells}</tr></tbody>')
    out.append("</table></div>")
    return "".join(out)


def _cascades(resource: Resource) -> list[str]:
    """The tables whose rows the database deletes along with one of `resource`'s (ON DELETE CASCADE), as the
    hand-written table definitions say (an OpenAPI document does not)."""
    return sorted({f"{t.name}.{c.name}" for t in RESOURCES.values() for c in t.columns
                   if c.reference and c.reference.table == resource.name and c.reference.on_delete == "cascade"})


def _delete(r: RowPlan, resource: Resource) -> str:
    """A row to delete, with what the server holds in it now (the few columns people recognise a row by)."""
    skip = {resource.key, *resource.natural_key}
    held = [(name, _shown(v)) for name, v in r.guard.items() if name not in skip and name in resource
            and _recognisable(resource.column(name)) and _shown(v) is not None]
    summary = " · ".join(f"{_text(name)} {_text(v)}" for name, v in held[:4])
    return _record(r, [("", f'<span class="note">{summary}</span>' if summary else "", "")])


def _recognisable(column: Column) -> bool:
    """A column people know a row by: text they typed, not an id, a reference or a server stamp."""
    return column.type is ColumnType.TEXT and not (column.read_only or column.reference or column.has_default)


def _simple(r: RowPlan) -> str:
    """A row that is only its reason (skipped)."""
    return _record(r, [("", f'<span class="note">{_text(r.reason)}</span>', "")])


def _table(head: Sequence[str], bodies: Iterable[str]) -> str:
    """A table that scrolls sideways on a narrow screen rather than squeezing its values."""
    cells = "".join(f"<th>{_text(h)}</th>" for h in head)
    return f'<div class="scroll"><table><thead><tr>{cells}</tr></thead>{"".join(bodies)}</table></div>'


def _section(kind: str, title: str, count: int, content: str, todo: str = "", more: str = "") -> str:
    """A section that folds (``<details>``), open: its title and count stay in view when it is folded away."""
    todo_html = f'<p class="todo">{todo}</p>' if todo else ""
    return (f'<details open class="k-{kind}"><summary>{_text(title)} <span class="n">{count:,}</span></summary>'
            f"{todo_html}{content}{more}</details>")


def _more(hidden: int, kind: str, hint: str) -> str:
    """The line that ends a capped section: how many rows it leaves out, and where every row is (`hint`)."""
    if hidden <= 0:
        return ""
    return f'<div class="more">… and {hidden:,} more {_text(kind)}: see plan.xlsx ({hint})</div>'


def _issue_rows(issues: Sequence[Issue]) -> Iterable[str]:
    """Validation errors at their Excel places (row, column letter and name), one filterable row each."""
    for i in issues:
        where = f"{i.letter} · {i.column}" if i.letter else (i.column or "")
        yield (f'<tbody data-c="{_text(i.column or "")}"><tr><td class="at">{_at(i.row)}</td>'
               f'<td class="col">{_text(where)}</td><td>{_value(i.value)}</td><td>{_text(i.message)}</td></tr>'
               "</tbody>")


def _verdict(plan: Plan, counts: dict[Kind, int]) -> tuple[str, str]:
    """(kind, sentence): what applying would do, or what stops it."""
    name = plan.resource.name
    if plan.blocked:
        n = len(plan.errors)
        return "error", (f"Apply is refused: {_n(n, 'error')} in the sheet. Fix {'it' if n == 1 else 'them'} below "
                         "and plan again, or plan with --skip-invalid to leave those rows out.")
    doing = [f"{_VERBS[k]} {counts[k]:,}" for k in _VERBS if counts[k]]
    if not doing:
        sentence = "Nothing to write: the sheet and the server agree."
    else:
        listed = ", ".join(doing[:-1]) + " and " + doing[-1] if len(doing) > 1 else doing[0]
        rows = "row" if sum(counts[k] for k in _VERBS) == 1 else "rows"
        sentence = f"Nothing has been written. Applying would {listed} {rows} of {name}."
    if counts[Kind.CONFLICT]:
        n = counts[Kind.CONFLICT]
        return "conflict", f"{sentence} {_n(n, 'conflict')} {'is' if n == 1 else 'are'} left alone until you decide."
    return ("update" if doing else "unchanged"), sentence


def _badge(count: int, kind: Kind) -> str:
    """``1 conflict``, ``2 updates``, ``16 unchanged``."""
    return _n(count, kind.value) if kind in (*_VERBS, Kind.CONFLICT) else f"{count:,} {kind.value}"


def _header(plan: Plan, counts: dict[Kind, int], source: str) -> str:
    """Where the plan comes from and goes to, the counts as badges, and one sentence of what applying would do."""
    host = plan.host.rpartition("@")[2]  # a URL's user:password never reaches the page
    mode = "three-way (sheet, export, server)" if plan.three_way else "two-way (sheet against server: no snapshot)"
    facts = [("table", plan.resource.name), ("sheet", plan.sheet), ("host", host),
             ("planned", plan.created_at.replace("T", " ")), ("compare", mode), ("requests", plan.requests)]
    facts_html = " · ".join(f"{_text(k)} <b>{_text(v)}</b>" for k, v in facts if v not in (None, ""))
    badges = [f'<span class="badge k-{k.value}{"" if counts[k] else " zero"}">{_badge(counts[k], k)}</span>'
              for k in _BADGES]
    if plan.errors:
        badges.insert(0, f'<span class="badge k-error">{_n(len(plan.errors), "error")}</span>')
    kind, sentence = _verdict(plan, counts)
    return (f"<h1>Dry run: {_text(plan.resource.name)} from {_text(source)}</h1>"
            f'<p class="facts">{facts_html}</p><div class="badges">{"".join(badges)}</div>'
            f'<p class="verdict k-{kind}">{_text(sentence)}</p>')


def _rows(css: str, title: str, noun: str, rows: Sequence[RowPlan], head: Sequence[str],
          draw: Callable[[RowPlan], str], cap: tuple[int, str], todo: str = "") -> str:
    """A section of rows of one kind: at most `cap`'s limit of them drawn, then the "and N more" line."""
    limit, hint = cap
    bodies = [draw(r) for r in rows[:limit]]
    return _section(css, title, len(rows), _table(head, bodies), todo, _more(len(rows) - limit, noun, hint))


def _attention(plan: Plan, by_kind: dict[Kind, list[RowPlan]], cap: tuple[int, str]) -> list[str]:
    """What needs a person before anything is applied: errors, conflicts, warnings; each with what to do."""
    out, errors, limit = [], plan.errors, cap[0]
    if errors:
        todo = ("Fix these cells in the sheet and plan again (<code>bulkio validate</code> writes a copy with each "
                "one marked)" + (": until then their rows are skipped." if plan.skip_invalid else
                                 ", or plan with <code>--skip-invalid</code> to leave these rows out."))
        out.append(_section("error", "Errors", len(errors), _table(("row", "column", "value", "problem"),
                            _issue_rows(errors[:limit])), todo, _more(len(errors) - limit, "errors", cap[1])))
    if by_kind[Kind.CONFLICT]:
        todo = ("The server changed these rows since the export, as you did. Apply never overwrites them: it "
                "applies the rest and leaves each of these as the server has it.")
        out.append(_rows("conflict", "Conflicts", "conflicts", by_kind[Kind.CONFLICT],
                         ("row", plan.resource.name, "column", "at export, on the server now, and yours"),
                         _conflict, cap, todo))
    warnings = [*plan.warnings, *(i.message if i.row is None else str(i) for i in plan.issues.warnings)]
    if warnings:
        items = "".join(f"<li>{_text(w)}</li>" for w in warnings[:limit])
        out.append(_section("conflict", "Warnings", len(warnings), f'<ul class="todo">{items}</ul>'))
    return out


def _changes(plan: Plan, by_kind: dict[Kind, list[RowPlan]], cap: tuple[int, str]) -> list[str]:
    """What applying would write, then what it leaves alone and why: updates, deletes, creates, skipped rows, rows
    only the server changed."""
    res, out = plan.resource, []
    if by_kind[Kind.UPDATE]:
        out.append(_rows("update", "Updates", "updates", by_kind[Kind.UPDATE], ("row", res.name, "column",
                         "before → after"), lambda r: _update(r, plan.three_way), cap))
    if by_kind[Kind.DELETE]:
        cascades = ", ".join(f"<code>{_text(c)}</code>" for c in _cascades(res))
        todo = (f"The database also deletes, with each, the rows that point at it: {cascades} (ON DELETE CASCADE; "
                "<code>bulkio undo</code> brings them back).") if cascades else ""
        out.append(_rows("delete", "Deletes", "deletes", by_kind[Kind.DELETE], ("row", res.name, "",
                         "what the server holds now"), lambda r: _delete(r, res), cap, todo))
    if by_kind[Kind.CREATE]:
        creates, limit = by_kind[Kind.CREATE], cap[0]
        out.append(_section("create", "Creates", len(creates), _create_table(creates[:limit], res), "",
                            _more(len(creates) - limit, "creates", cap[1])))
    if by_kind[Kind.SKIPPED]:
        out.append(_rows("skipped", "Skipped (rows with errors)", "skipped rows", by_kind[Kind.SKIPPED],
                         ("row", res.name, "", "why"), _simple, cap))
    kept = [r for r in by_kind[Kind.UNCHANGED] if r.kept]
    if kept:
        out.append(_rows("kept", "Changed on the server only (kept)", "rows", kept, ("row", res.name, "column",
                         "at export → server now"), lambda r: _record(r, [_kept(c) for c in r.kept]), cap))
    aside = f" but for {_n(len(kept), 'row')} the server changed, listed above" if kept else ""
    out.append(f'<p class="unchanged">{_n(plan.counts()[Kind.UNCHANGED], "row")} unchanged: not listed{aside}.</p>')
    return out


def _body(plan: Plan, limit: int, hint: str) -> str:
    """The sections, in the order people act on them: errors, conflicts, warnings, then the changes. `hint` says
    where every row of a capped section is."""
    by_kind: dict[Kind, list[RowPlan]] = {k: [] for k in Kind}
    for r in plan.rows:
        by_kind[r.kind].append(r)
    return "\n".join([*_attention(plan, by_kind, (limit, hint)), *_changes(plan, by_kind, (limit, hint))])


def _changed_columns(plan: Plan) -> list[str]:
    """The filter's column choices: every column a listed row touches."""
    return sorted({c.column for r in plan.rows for c in (*r.changes, *r.kept)})


def _css(dark: str) -> str:
    """The styles, with the dark colours under `dark`'s condition (the system's on a page, the notebook's theme in
    Jupyter); all under the ``bulkio-plan`` class, so nothing leaks into a notebook around it."""
    return Template(_CSS).substitute(light=_LIGHT, dark=Template(dark).substitute(dark=_DARK, p=_ROOT), p=_ROOT)


def render(plan: Plan, *, page: bool = True, limit: int | None = None) -> str:
    """The plan as HTML: a whole page (`page=True`: title, filter box, print and dark styles), or the same body for
    a notebook (`page=False`). Each section lists at most `limit` rows, then says how many more plan.xlsx holds.

    >>> render(p)[:15]
    '<!doctype html>'
    """
    limit = (PAGE_LIMIT if page else NOTEBOOK_LIMIT) if limit is None else limit
    counts = plan.counts()
    source = Path(plan.source).name
    hint = (f"<code>bulkio plan {_text(source)} --report plan.xlsx</code> lists every row" if page
            else '<code>p.to_excel("plan.xlsx")</code> lists every row')
    header, body = _header(plan, counts, source), _body(plan, limit, hint)
    if not page:
        css = _css(_DARK_NOTEBOOK)
        return f'<div class="bulkio-plan"><style>{css}</style>{header}{body}</div>'
    css = _css(_DARK_PAGE)
    options = "".join(f'<option value="{_text(c)}">{_text(c)}</option>' for c in _changed_columns(plan))
    return _PAGE.substitute(title=_text(f"Dry run: {plan.resource.name} from {source}"), light=_LIGHT, dark=_DARK,
                            css=css, header=header, options=options, body=body, script=_SCRIPT)


def render_family(plans: Sequence[Plan], notes: Sequence[str], source: str, *, page: bool = True,
                  limit: int | None = None) -> str:
    """A family workbook's plans (a table and its children) as one page: `notes` first (what the database deletes
    along: the cascades), then each table's review under its name, as `render` shows one."""
    limit = (PAGE_LIMIT if page else NOTEBOOK_LIMIT) if limit is None else limit
    name = Path(source).name
    hint = f"<code>bulkio plan {_text(name)} --report plan.md</code> lists every row"
    plans = [p.readable() for p in plans]  # reference labels, not ids, as `report.to_html` shows one plan
    told = "".join(f"<li>{_text(n)}</li>" for n in notes)
    header = f'<ul class="notes">{told}</ul>' if told else ""
    body = "\n".join(f'<h2 id="{_text(p.resource.name)}">{_text(p.resource.name)}</h2>'
                     f"{_header(p, p.counts(), name)}{_body(p, limit, hint)}" for p in plans)
    if not page:
        return f'<div class="bulkio-plan"><style>{_css(_DARK_NOTEBOOK)}</style>{header}{body}</div>'
    columns = sorted({c for p in plans for c in _changed_columns(p)})
    options = "".join(f'<option value="{_text(c)}">{_text(c)}</option>' for c in columns)
    tables = ", ".join(p.resource.name for p in plans)
    return _PAGE.substitute(title=_text(f"Dry run: {tables} from {name}"), light=_LIGHT, dark=_DARK,
                            css=_css(_DARK_PAGE), header=header, options=options, body=body, script=_SCRIPT)


def write(plan: Plan, path: str | Path, *, limit: int | None = None) -> Path:
    """The page written to `path` (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(render(plan, limit=limit), encoding="utf-8")
    return path

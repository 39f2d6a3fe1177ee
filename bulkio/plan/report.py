"""Showing a plan where people look: a DataFrame, JSON (a stable, documented schema), Markdown, HTML (a review page
and the notebook view, both drawn by `html`), and an Excel report with before and after side by side.

Every rendering comes from the same field-level table (`to_frame`): one row per changed field, per conflicting
field, per field the server changed and the import keeps, plus one row per create, delete, skipped or conflicting
row without a field. Values are API values (ids, not labels), shown through `values.to_cell` where a sheet shows
them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import xlsxwriter

from ..sheets.values import is_empty
from . import html as _html
from .rows import Kind, RowPlan

if TYPE_CHECKING:
    from .model import Plan

__all__ = ["JSON_SCHEMA_VERSION", "to_excel", "to_frame", "to_html", "to_json", "to_markdown"]

JSON_SCHEMA_VERSION = 1
FRAME_COLUMNS = ["kind", "row", "key", "label", "column", "base", "before", "after", "note"]
_LISTED = (Kind.CONFLICT, Kind.UPDATE, Kind.CREATE, Kind.DELETE, Kind.SKIPPED)
"""The kinds a report lists row by row, in the order people read them (unchanged rows are counted)."""


def _shown(value: Any) -> Any:
    """A value as a report shows it: lists and objects as compact JSON, empties as None."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if not isinstance(value, (list, dict)) and is_empty(value):
        return None
    return value


def _field_rows(r: RowPlan) -> list[dict[str, Any]]:
    common = {"kind": r.kind.value, "row": r.row, "key": r.key, "label": r.label}
    out = []
    for change in r.changes:
        out.append({**common, "column": change.column, "base": _shown(change.base), "before": _shown(change.before),
                    "after": _shown(change.after), "note": r.reason if r.kind is Kind.CONFLICT else ""})
    for change in r.kept:
        out.append({**common, "column": change.column, "base": _shown(change.base),
                    "before": _shown(change.before), "after": _shown(change.before), "note": "server changed, kept"})
    if not out:
        out.append({**common, "column": None, "base": None, "before": None, "after": None, "note": r.reason})
    return out


def to_frame(plan: Plan) -> pd.DataFrame:
    """One row per changed field (and one per row without fields: deletes, skipped rows); unchanged rows are
    counted, not listed. References show their labels (`Plan.readable`), as every report built on it does."""
    records = [rec for r in plan.readable().rows if r.kind is not Kind.UNCHANGED or r.kept for rec in _field_rows(r)]
    frame = pd.DataFrame(records, columns=FRAME_COLUMNS)
    frame["row"] = frame["row"].astype("Int64")
    return frame


def _summary(plan: Plan) -> dict[str, Any]:
    return {
        "resource": plan.resource.name,
        "source": plan.source,
        "sheet": plan.sheet,
        "host": plan.host,
        "created_at": plan.created_at,
        "mode": "three-way" if plan.three_way else "two-way",
        "delete_missing": plan.delete_missing,
        "counts": {k.value: n for k, n in plan.counts().items()},
        "errors": len(plan.issues.errors),
        "warnings": [*plan.warnings, *(str(i) for i in plan.issues.warnings)],
        "requests": plan.requests,
        "server_hash": plan.server_hash,
    }


def to_json(plan: Plan, path: str | Path | None = None) -> str:
    """The plan as JSON (schema version 1, documented in the README): a summary, the rows with their field changes,
    and the validation errors. Written to `path` too when given."""
    rows = []
    for r in plan.rows:
        rows.append({
            "kind": r.kind.value, "row": r.row, "key": r.key, "label": r.label, "reason": r.reason or None,
            "changes": [{"column": c.column, "base": c.base, "before": c.before, "after": c.after}
                        for c in r.changes],
            "kept": [{"column": c.column, "base": c.base, "before": c.before} for c in r.kept],
        })
    document = {"schema": JSON_SCHEMA_VERSION, **_summary(plan), "rows": rows,
                "issues": [{"row": i.row, "column": i.column, "letter": i.letter, "code": str(i.code),
                            "severity": i.severity, "message": i.message} for i in plan.issues.issues]}
    text = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text


def _md(value: Any) -> str:
    text = "" if value is None or (not isinstance(value, (list, dict)) and is_empty(value)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(plan: Plan, path: str | Path | None = None, *, limit: int = 50) -> str:
    """A Markdown report: counts, then a table per kind (at most `limit` field rows each, then "... N more")."""
    summary = _summary(plan)
    lines = [f"# Plan: {summary['resource']} from {Path(plan.source).name}", "",
             f"{summary['mode']} compare against {summary['host']} at {summary['created_at']}; "
             f"{summary['requests']} request(s).", "",
             "| kind | rows |", "|---|---:|"]
    lines += [f"| {k} | {n} |" for k, n in summary["counts"].items()]
    for warning in summary["warnings"]:
        lines += ["", f"> {warning}"]
    if plan.issues.errors:
        lines += ["", f"**{len(plan.issues.errors)} validation error(s)**; first: {plan.issues.errors[0]}"]
    frame = to_frame(plan)
    for kind in (*_LISTED, Kind.UNCHANGED):
        part = frame[frame["kind"] == kind.value]
        if part.empty:
            continue
        count = len(part[["row", "key"]].drop_duplicates())  # a row is its Excel row or, missing, its key
        lines += ["", f"## {kind.value} ({count} rows)", "",
                  "| row | key | label | column | base | before | after | note |", "|---:|---|---|---|---|---|---|---|"]
        for rec in part.head(limit).to_dict("records"):
            lines.append("| " + " | ".join(_md(rec[c]) for c in ("row", "key", "label", "column", "base", "before",
                                                                   "after", "note")) + " |")
        if len(part) > limit:
            lines.append(f"\n... {len(part) - limit} more")
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def to_html(plan: Plan, path: str | Path | None = None, *, page: bool = False, limit: int | None = None) -> str:
    """The review page (`page=True`: a self-contained file with a filter box, light, dark and print styles) or the
    same review for Jupyter (`page=False`, the notebook's `_repr_html_`); both from `html.render`, so the notebook
    and the file a colleague opens never disagree. Written to `path` too when given.

    :param limit: rows a section lists before its "and N more" line (default: 1,000 on a page, 50 in a notebook).
    """
    text = _html.render(plan.readable(), page=page, limit=limit)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def to_excel(plan: Plan, path: str | Path) -> Path:
    """An Excel report: a Summary sheet, then one sheet per kind with base, before and after side by side and
    the changed value highlighted."""
    path = Path(path)
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                           "strings_to_numbers": False})
    bold = book.add_format({"bold": True, "bg_color": "#f1f3f4", "border": 1})
    changed = book.add_format({"bg_color": "#fff2cc"})
    summary = book.add_worksheet("Summary")
    info = _summary(plan)
    for r, (name, value) in enumerate([(k, v) for k, v in info.items() if k != "counts"]):
        summary.write_string(r, 0, name, bold)
        summary.write_string(r, 1, json.dumps(value) if isinstance(value, list) else str(value))
    start = len(info) + 1
    summary.write_string(start, 0, "kind", bold)
    summary.write_string(start, 1, "rows", bold)
    for offset, (kind, n) in enumerate(info["counts"].items(), start=1):
        summary.write_string(start + offset, 0, kind)
        summary.write_number(start + offset, 1, n)
    summary.set_column(0, 0, 18)
    summary.set_column(1, 1, 60)
    frame = to_frame(plan)
    for kind in _LISTED:
        part = frame[frame["kind"] == kind.value].drop(columns=["kind"])
        if part.empty:
            continue
        sheet = book.add_worksheet(kind.value)
        headers = list(part.columns)
        for c, name in enumerate(headers):
            sheet.write_string(0, c, name, bold)
        for r, rec in enumerate(part.to_dict("records"), start=1):
            for c, name in enumerate(headers):
                value = rec[name]
                fmt = changed if name == "after" and rec["before"] != rec["after"] else None
                if value is None or (not isinstance(value, str) and pd.isna(value)):
                    sheet.write_blank(r, c, None, fmt)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    sheet.write_number(r, c, value, fmt)
                else:
                    sheet.write_string(r, c, str(value), fmt)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, len(part), len(headers) - 1)
        sheet.set_column(0, len(headers) - 1, 18)
    book.close()
    return path

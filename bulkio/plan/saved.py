"""Saved plans: review once, apply what was reviewed (design decision 13).

``bulkio plan sheet.xlsx --save review.bulkio-plan.json`` writes the plan people looked at; ``bulkio apply
review.bulkio-plan.json`` (or `Plan.load` then `bulkio.apply`) writes exactly those rows, with their bodies and
guards, without planning again: no lookups, no second read of the server's rows. Anything the server changed
meanwhile is caught the way a fresh plan's writes are caught: each update's and delete's guard makes a changed row a
conflict, never an overwrite, and the stale check still says whether the server moved.

What a saved plan holds: the plan's every field (`Plan`), each row with its kind, key, Excel row, label, changes,
body, guard and reason, the unchanged rows (results list them), the issues and warnings, the host it was made
against, the select and scope its stale check reads again, and the server hash; plus the sheet's path and SHA-256,
so a sheet edited after the review is refused rather than reported against rows it no longer holds. Never the API
key: a plan does not hold one, and the file is meant to be passed around for review.

Why JSON: a saved plan is a review artifact, so people (and their diff tools, and code review) must be able to read
it; the values it carries are API values, which are JSON already (they are sent as JSON bodies), so nothing is
lost in the round trip; loading it runs no code (unlike pickle) and needs nothing beyond the standard library. The
file is one document with a format name and version first, and a checksum of the plan, so a foreign, damaged,
hand-edited or too new file is refused with one line naming it, before anything is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from .._version import __version__
from ..api.catalog import resource_for
from ..errors import ConfigError, PlanConflict, WorkbookError
from ..sheets.read import file_sha256
from ..validate.report import Issue, IssueCode, ValidationReport
from .rows import FieldChange, Kind, RowPlan, Unchanged

if TYPE_CHECKING:
    from ..api.client import Client
    from .model import Plan

__all__ = ["FORMAT", "SUFFIX", "VERSION", "SavedPlan", "decode_plan", "encode_plan", "load_saved", "looks_saved",
           "plain_plan", "save"]

FORMAT = "bulkio-plan"
"""The ``format`` every saved plan names first: how a JSON file is known as one."""
VERSION = 2
"""The layout of the file; a bulkio that reads version N refuses a file of a later version. Version 2 adds a family
(``family``: the children's plans, beside the parent's ``plan``); a one-table plan is still written as version 1, so
that a bulkio before families reads it, and refuses a family's (it would apply the parent alone)."""
SUFFIX = ".bulkio-plan.json"
"""The suggested file ending (the content, not the name, says what a file is)."""

_SPECIAL = ("resource", "rows", "unchanged", "issues")
"""`Plan` fields with an encoding of their own; every other field is plain data, saved as it is (so a field added
to `Plan` is saved without a change here, and the round-trip test says if it cannot be)."""
_NO_FILE = "DataFrame"
"""The `Plan.source` of a plan of a DataFrame (`bulkio.plan.make`): no sheet file to vouch for."""
_MTIME_SLACK = timedelta(seconds=1)
"""`Plan.created_at` is kept to the second: a sheet modified later than that is edited after the plan."""


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan read back, with what its file says about it.

    :param plan: the plan, ready for `bulkio.apply`.
    :param path: the file it was read from.
    :param saved_at: when it was saved (UTC, ISO 8601).
    :param bulkio_version: the bulkio that saved it.
    :param sheet: the sheet found with the SHA-256 it had when the plan was saved; None when the plan has no sheet
        file (a DataFrame) or the sheet is gone and the caller chose to go on without it (`sheet_gone`).
    :param sheet_gone: the plan's sheet is gone (loaded with ``require_sheet=False``): no results workbook.
    :param children: a family's child plans, in order (`bulkio.plan.family`; `plan` is the parent's).
    :param family: a family's links and cascades, as saved (``{"links": [...], "cascades": [...]}``); None for one
        table.
    """

    plan: Plan
    path: Path
    saved_at: str
    bulkio_version: str
    sheet: Path | None
    sheet_gone: bool = False
    children: tuple[Plan, ...] = ()
    family: Mapping[str, Any] | None = None


# ------------------------------------------------------------------------------------------------ saving
def save(plan: Plan, path: str | Path, *, children: Sequence[Plan] = (), family: Mapping[str, Any] | None = None
         ) -> Path:
    """Write `plan` to `path` (JSON, `FORMAT` version `VERSION`) and return the path; a family's (`plan` its
    parent's) with its `children` plans and `family` (links, cascades: `bulkio.plan.family.FamilyPlan.save`).

    The sheet's SHA-256 is taken now, so save right after planning: a sheet modified after the plan was made is
    refused here (`PlanConflict`), since the file would vouch for cells nobody reviewed. The file is written
    whole or not at all (a temporary file renamed into place).
    """
    target = Path(path)
    body = encode_plan(plan)
    document: dict[str, Any] = {"format": FORMAT, "version": VERSION if family is not None else 1,
                                "bulkio": __version__, "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                "sheet": _sheet_facts(plan), "plan": body}
    if family is not None:
        document["family"] = {**family, "children": [encode_plan(child) for child in children]}
    document = {**document, "checksum": _checksum(document)}
    text = json.dumps(document, ensure_ascii=False, indent=1, default=_json_value)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(text + "\n", encoding="utf-8")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _sheet_facts(plan: Plan) -> dict[str, Any] | None:
    """The sheet's path (as planned and absolute) and SHA-256; None for a plan of a DataFrame (no file)."""
    source = Path(plan.source)
    if plan.source == _NO_FILE and not source.is_file():
        return None
    if not source.is_file():
        raise WorkbookError("the sheet this plan was made from is gone: a saved plan vouches for its sheet, so "
                            "plan it again, then save", file=plan.source)
    digest = file_sha256(source)
    if plan.source_sha256 is not None:  # the bytes the plan read: any edit since differs, however soon
        changed = digest != plan.source_sha256
    else:  # a `Sheet` planned from memory: the file's time is all there is to go by
        modified = datetime.fromtimestamp(source.stat().st_mtime).astimezone()
        changed = modified > datetime.fromisoformat(plan.created_at) + _MTIME_SLACK
    if changed:
        raise PlanConflict(f"{plan.source}: the sheet was changed after this plan was made ({plan.created_at}): "
                           "plan it again, then save")
    return {"path": plan.source, "absolute": str(source.resolve()), "sha256": digest}


def plain_plan(plan: Plan) -> dict[str, Any]:
    """`encode_plan` as plain JSON values (numpy scalars as Python numbers, dates as ISO 8601), as a saved plan's
    file holds it: for a document that `json` writes without this module's encoder (a family run's journal)."""
    return json.loads(json.dumps(encode_plan(plan), default=_json_value))


def encode_plan(plan: Plan) -> dict[str, Any]:
    """Every field of `plan` as JSON-ready data."""
    out: dict[str, Any] = {"resource": plan.resource.name, "rows": [_encode_row(r) for r in plan.rows],
                           "unchanged": {"keys": [k for k, _ in plan.unchanged],
                                         "rows": [int(r) for _, r in plan.unchanged]},
                           "issues": [{**dataclasses.asdict(i), "code": i.code.value} for i in plan.issues.issues]}
    for spec in dataclasses.fields(plan):
        if spec.name not in _SPECIAL:
            out[spec.name] = _plain(spec.name, getattr(plan, spec.name))
    return out


_ROW_DEFAULTS = {spec.name: spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
                 for spec in dataclasses.fields(RowPlan)
                 if spec.default is not dataclasses.MISSING or spec.default_factory is not dataclasses.MISSING}


def _encode_row(row: RowPlan) -> dict[str, Any]:
    """A row with its kind, key and Excel row always, and its other fields where they are not empty (most rows of a
    big plan have no kept fields, guard or reason)."""
    out: dict[str, Any] = {"kind": row.kind.value, "key": row.key, "row": row.row}
    for name in ("label", "changes", "kept", "body", "guard", "reason"):
        value = getattr(row, name)
        if value == _ROW_DEFAULTS.get(name):
            continue
        if name in ("changes", "kept"):
            value = [dataclasses.asdict(c) for c in value]
        elif name in ("body", "guard"):
            value = dict(value)
        out[name] = value
    return out


def _plain(name: str, value: Any) -> Any:
    """A plain field's value as JSON data (tuples as lists)."""
    if isinstance(value, tuple | list):
        return [_plain(name, v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(name, v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"Plan.{name} holds a {type(value).__name__}, which bulkio.plan.saved does not know how to "
                    "save: give it an encoding there")


def _json_value(value: Any) -> Any:
    """What `json` cannot write itself: numpy scalars (their Python value) and dates (ISO 8601: an issue's cell)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"a saved plan cannot hold a {type(value).__name__}: {value!r}")


def _checksum(document: Mapping[str, Any]) -> str:
    """The SHA-256 of the document's canonical JSON (all but the checksum itself): a file edited or damaged since
    it was saved no longer matches."""
    text = json.dumps({k: v for k, v in document.items() if k != "checksum"}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"), default=_json_value)
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------------ loading
def looks_saved(path: str | Path) -> bool:
    """Whether `path` holds JSON rather than a sheet: its first byte (after a BOM and blanks) is ``{``, or it is
    named ``.json``. A workbook is a zip file and a CSV starts with its header, so the content decides; `load`
    then says whether it really is a saved plan."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{")


def load_saved(path: str | Path, client: Client, plan_type: type[Plan], *, require_sheet: bool = True) -> SavedPlan:
    """Read a saved plan and check that applying it writes what was reviewed (`Plan.load_saved` calls it with the
    class: this module encodes plans, it does not import the model, which imports it).

    Refused, each with one line naming the file and nothing written: a file that is not JSON, not a saved plan (a
    ``--report`` JSON, say), of a later format version, or changed since it was saved (its checksum); a plan made
    against another host than `client`'s; a sheet whose SHA-256 differs from the one saved (edited since the
    review); a sheet that is gone, unless `require_sheet` is False (then there is no sheet to write results
    beside). The sheet is looked for where it was planned, then beside the saved plan (the two travel together).

    :raises WorkbookError: the file cannot be read as a saved plan, or its sheet is gone.
    :raises ConfigError: the plan was made against another host.
    :raises PlanConflict: the sheet was edited after the plan was saved.
    """
    path = Path(path)
    document = _read_document(path)
    body = document["plan"]
    host = urlsplit(client.base_url).netloc
    if str(body.get("host", "")).lower() != host.lower():
        raise ConfigError(f"{path}: this plan was made against {body.get('host')}, and bulkio is set to {host} "
                          "(--base-url, $BULKIO_BASE_URL): apply it there, or plan again here")
    family = document.get("family")
    try:
        plan = decode_plan(body, client, plan_type)
        children = tuple(decode_plan(child, client, plan_type) for child in family["children"]) if family else ()
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkbookError(f"a damaged saved plan ({type(exc).__name__}: {exc}): save it again",
                            file=str(path)) from None
    sheet = _find_sheet(path, document.get("sheet"), require_sheet)
    if sheet is not None and Path(plan.source).resolve() != sheet.resolve():
        # moved beside the plan: results are written there (a family's sheets are all in that one workbook)
        plan = dataclasses.replace(plan, source=str(sheet))
        children = tuple(dataclasses.replace(child, source=str(sheet)) for child in children)
    return SavedPlan(plan, path, str(document.get("saved_at", "")), str(document.get("bulkio", "")), sheet,
                     sheet is None and document.get("sheet") is not None, children,
                     {k: v for k, v in family.items() if k != "children"} if family else None)


def _read_document(path: Path) -> dict[str, Any]:
    """The file's JSON, checked to be a saved plan of a version this bulkio reads and unchanged since saved."""
    def refuse(message: str) -> WorkbookError:
        return WorkbookError(message, file=str(path))

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise refuse("no such file") from None
    except UnicodeDecodeError as exc:
        raise refuse(f"not a saved plan: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror or exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise refuse(f"not a saved plan: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
                     ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        if isinstance(document, dict) and "schema" in document and "rows" in document:
            raise refuse("a plan report (bulkio plan --report), which holds no guards and cannot be applied: "
                         "save the plan with bulkio plan SHEET --save FILE")
        raise refuse(f"not a saved bulkio plan (it does not name the format {FORMAT!r})")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise refuse(f"a saved plan of format version {version!r} (bulkio {document.get('bulkio', '?')}); this "
                     f"bulkio ({__version__}) reads version {VERSION}: use that bulkio, or plan again")
    if not isinstance(document.get("plan"), dict) or document.get("checksum") != _checksum(document):
        raise refuse("the saved plan was changed or damaged after it was saved (its checksum differs): a saved "
                     "plan is applied exactly as reviewed, so plan again and save")
    return document


def _find_sheet(path: Path, facts: Any, require_sheet: bool) -> Path | None:
    """The plan's sheet, as it was when the plan was saved: where it was planned, or beside the saved plan."""
    if facts is None:
        return None  # a plan of a DataFrame: no sheet to check
    planned = Path(str(facts["path"]))
    places = [planned, Path(str(facts["absolute"])), path.parent / planned.name]
    found = list(dict.fromkeys(p.resolve() for p in places if p.is_file()))
    for candidate in found:
        if file_sha256(candidate) == facts["sha256"]:
            return planned if planned.is_file() and planned.resolve() == candidate else candidate
    if found:
        raise PlanConflict(f"{path}: the sheet {found[0]} was edited after this plan was saved (its SHA-256 "
                           "differs): nothing was written; plan it again and save, to apply what you review")
    if require_sheet:
        raise WorkbookError(f"the sheet this plan was made from is gone (looked for {planned} and beside the plan): "
                            "put it back, or apply without it (bulkio apply --without-sheet, "
                            "require_sheet=False: no results workbook then)", file=str(path))
    return None


def decode_plan(body: Mapping[str, Any], client: Client, plan_type: type[Plan]) -> Plan:
    """The `Plan` of a saved plan's ``plan`` object (checked by `_read_document`)."""
    names = {spec.name for spec in dataclasses.fields(plan_type)}
    unknown = sorted(set(body) - names)
    if unknown:
        raise ValueError(f"fields this bulkio does not know: {', '.join(unknown)}")
    fields: dict[str, Any] = {name: _tupled(value) for name, value in body.items() if name not in _SPECIAL}
    unchanged = body["unchanged"]
    fields.update(
        resource=resource_for(client, str(body["resource"])),
        rows=tuple(_decode_row(r) for r in body["rows"]),
        unchanged=Unchanged(list(unchanged["keys"]), list(unchanged["rows"])),
        issues=ValidationReport(tuple(Issue(**{**i, "code": IssueCode(i["code"])}) for i in body["issues"])),
    )
    return plan_type(**fields)


def _decode_row(data: Mapping[str, Any]) -> RowPlan:
    """A `RowPlan` from `_encode_row`'s form."""
    return RowPlan(Kind(data["kind"]), data["key"], data["row"], data.get("label"),
                   tuple(FieldChange(**c) for c in data.get("changes", ())),
                   tuple(FieldChange(**c) for c in data.get("kept", ())),
                   dict(data.get("body", {})), dict(data.get("guard", {})), data.get("reason", ""))


def _tupled(value: Any) -> Any:
    """A plain field's value back from JSON: lists as the tuples `Plan` holds."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    if isinstance(value, dict):
        return {k: _tupled(v) for k, v in value.items()}
    return value

"""A sheet's headers as a table's columns, for sheets that did not come from bulkio (issue 17).

A list from another system names its columns its own way (``Customer Name``, ``Tel``, ``TAX_PERCENT``). Each header
is resolved to a column of the resource, the first way that works:

1. a mapping the user gave (``--map "Customer Name=name"``, or a TOML mapping file: `load_mapping`);
2. the column's exact name (``taxPercent``: bulkio's own export, always);
3. the column's label as people read bulkio's header: its name in words (``Tax Percent``; a reference column
   without its ``Id``: ``Customer Type``);
4. the name or label ignoring case, spaces, underscores and hyphens (``TAX_PERCENT``, ``customer type``).

A header that resolves to nothing is left as it is: validation reports it as an unknown column and names the
closest columns (`closest`). Two headers resolving to one column are an error naming both. Headers bulkio itself
writes (``_action``, the results columns) and custom fields (``customFields.<key>``) are taken as they are.

`resolve_headers` says how each header was resolved (`HeaderMap`); `HeaderMap.save` writes what was inferred as a
mapping file that `load_mapping` reads back, so the next sheet from the same system needs no guessing.

Example::

    headers = resolve_headers(["Customer Name", "Tel", "Tax Percent"], CUSTOMER, {"Tel": "phone"})
    headers.columns   # {"Customer Name": "name", "Tel": "phone", "Tax Percent": "taxPercent"}
    headers.save("customers.toml")
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError, WorkbookError
from ..resources import Column, Resource
from .flatten import split_custom
from .read import Sheet, read_sheet

__all__ = ["HeaderMap", "closest", "column_label", "infer_headers", "load_mapping", "parse_pairs", "rename_headers",
           "resolve_headers"]

_LOOSE = re.compile(r"[\s_\-]+")
_WORDS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def column_label(column: Column) -> str:
    """The column's name in words, as a person reads bulkio's header: ``taxPercent`` -> ``Tax Percent``; a
    reference column without its ``Id`` (``customerTypeId`` -> ``Customer Type``)."""
    name = column.name
    if column.reference is not None and name.endswith("Id") and len(name) > 2:
        name = name[:-2]
    words = _WORDS.sub(" ", name).split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _loose(text: str) -> str:
    """`text` with case, spaces, underscores and hyphens ignored."""
    return _LOOSE.sub("", text).casefold()


def _own(header: str, resource: Resource) -> bool:
    """A header bulkio writes itself or a custom field's: taken as it is, never inferred."""
    return header.startswith("_") or split_custom(header, resource) is not None


def closest(header: str, resource: Resource, n: int = 3) -> list[str]:
    """The column names most like `header` (by name and by label, ignoring case and spacing), best first: a column
    whose name the header holds (``Customer Name`` holds ``name``, ``Phone Numbr`` ``phone``), longest first, then
    the nearest spellings."""
    candidates: dict[str, str] = {}
    for column in resource.columns:
        for form in (column.name, column_label(column)):
            candidates.setdefault(_loose(form), column.name)
    loose = _loose(header)
    held = sorted((f for f in candidates if len(f) > 2 and f in loose), key=len, reverse=True)
    found = difflib.get_close_matches(loose, list(candidates), n=n * 2, cutoff=0.5)
    return list(dict.fromkeys(candidates[f] for f in [*held, *found]))[:n]


@dataclass(frozen=True)
class HeaderMap:
    """How a sheet's headers were resolved to columns.

    :param columns: each resolved header's column, in sheet order (``{"Customer Name": "name"}``).
    :param how: how each resolved header was found: ``exact``, ``mapped``, ``label`` or ``loose``.
    :param unmatched: headers that name no column (validation reports each, with the closest columns).
    :param unused: mapped headers the sheet does not have.
    """

    resource: str
    columns: dict[str, str] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    unmatched: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()

    @property
    def renamed(self) -> dict[str, str]:
        """The headers that are not their column's exact name, with their columns."""
        return {h: c for h, c in self.columns.items() if h != c}

    def describe(self) -> str | None:
        """One line for the plan's notes (None when every header is a column's exact name)."""
        if not self.renamed:
            return None
        shown = ", ".join(f"{h!r} -> {c} ({self.how[h]})" for h, c in self.renamed.items())
        return f"headers read as columns: {shown}"

    def to_toml(self) -> str:
        """The renamed headers as a mapping file (`load_mapping` reads it back)."""
        lines = [f"# bulkio header mapping: sheet header = {self.resource} column",
                 "# use it again with: bulkio plan FILE --mapping THIS-FILE", "",
                 f"resource = {json.dumps(self.resource)}", "", "[columns]"]
        lines += [f"{json.dumps(h, ensure_ascii=False)} = {json.dumps(c)}" for h, c in self.renamed.items()]
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write `to_toml` to `path`."""
        path = Path(path)
        path.write_text(self.to_toml(), encoding="utf-8")
        return path


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``--map`` values (``"Customer Name=name"``) as a mapping; the last ``=`` splits, so a header may hold one.

    :raises ConfigError: a pair without ``=`` or with an empty side.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        header, sep, column = pair.rpartition("=")
        if not sep or not header.strip() or not column.strip():
            raise ConfigError(f"--map {pair!r}: write it as 'Sheet header=column', e.g. 'Customer Name=name'")
        out[header.strip()] = column.strip()
    return out


def load_mapping(path: str | Path) -> dict[str, str]:
    """A mapping file: a ``[columns]`` table of ``"Sheet header" = "column"`` (what `HeaderMap.save` writes).

    :raises ConfigError: the file is missing, is not TOML, or its table holds something other than text.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"mapping file {path}: cannot read it ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"mapping file {path}: not TOML ({exc})") from exc
    columns = data.get("columns")
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ConfigError(f"mapping file {path}: needs a [columns] table of \"Sheet header\" = \"column\" lines")
    return {str(h).strip(): v.strip() for h, v in columns.items()}


def _check_mapping(mapping: Mapping[str, str], resource: Resource) -> None:
    """Every mapped column must be one of the resource's (or a custom field's key)."""
    for header, column in mapping.items():
        if column not in resource and split_custom(column, resource) is None:
            near = closest(column, resource)
            hint = f"; closest: {', '.join(near)}" if near else ""
            raise ConfigError(f"mapping {header!r} -> {column!r}: {resource.name} has no column {column!r}{hint}")


def _by_label(resource: Resource) -> tuple[dict[str, str], dict[str, list[str]]]:
    """{label: column} and {loose name or label: [columns]} of the resource."""
    labels: dict[str, str] = {}
    loose: dict[str, list[str]] = {}
    for column in resource.columns:
        labels.setdefault(column_label(column), column.name)
        for form in {_loose(column.name), _loose(column_label(column))}:
            loose.setdefault(form, []).append(column.name)
    return labels, loose


def resolve_headers(headers: Sequence[str], resource: Resource, mapping: Mapping[str, str] | None = None,
                    file: str | None = None) -> HeaderMap:
    """Resolve each header to a column (see the module's docstring for the order).

    :raises ConfigError: a mapping names a column the resource does not have.
    :raises WorkbookError: two headers resolve to the same column.
    """
    mapping = dict(mapping or {})
    _check_mapping(mapping, resource)
    labels, loose = _by_label(resource)
    columns: dict[str, str] = {}
    how: dict[str, str] = {}
    unmatched = []
    for header in headers:
        if header in mapping:
            columns[header], how[header] = mapping[header], "mapped"
        elif header in resource or _own(header, resource):
            columns[header], how[header] = header, "exact"
        elif header in labels:
            columns[header], how[header] = labels[header], "label"
        elif len(loose.get(_loose(header), ())) == 1:
            columns[header], how[header] = loose[_loose(header)][0], "loose"
        else:
            unmatched.append(header)
    seen: dict[str, str] = {}
    for header, column in columns.items():
        if column in seen:
            raise WorkbookError(f"headers {seen[column]!r} and {header!r} are both read as column {column!r}: "
                                "delete one, or map them (--map 'Header=column')", file=file)
        seen[column] = header
    unused = tuple(h for h in mapping if h not in headers)
    return HeaderMap(resource.name, columns, how, tuple(unmatched), unused)


def rename_headers(sheet: Sheet, mapping: Mapping[str, str] | None = None) -> tuple[Sheet, HeaderMap]:
    """The sheet with its headers resolved to column names (columns keep their places, so Excel letters in
    messages stay right), and how they were resolved. A sheet whose headers are all exact names is returned as
    it is."""
    headers = resolve_headers([str(c) for c in sheet.frame.columns], sheet.resource, mapping, sheet.file)
    renamed = headers.renamed
    if not renamed:
        return sheet, headers
    frame = sheet.frame.rename(columns=renamed)
    return replace(sheet, frame=frame, kinds=None), headers


def infer_headers(path: str | Path, resource: Resource, mapping: Mapping[str, str] | None = None, *,
                  sheet: str | None = None) -> HeaderMap:
    """How the headers of the sheet at `path` read as `resource`'s columns (`resolve_headers`), e.g. to save them
    as a mapping file (`HeaderMap.save`)."""
    read = read_sheet(path, resource, sheet=sheet)
    return resolve_headers([str(c) for c in read.frame.columns], resource, mapping, read.file)

"""The checks only the server can answer: ids it does not hold, and new rows whose natural key it already holds.
One copy for `validate` (given a client) and the plan (which passes what it has already read, to save requests),
so both say the same thing in the same words."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..resources import Resource
from ..sheets.read import Sheet
from ..sheets.values import is_empty
from .report import Issue, IssueCode, column_letter

if TYPE_CHECKING:
    from ..api.client import Client

__all__ = ["new_row_names", "present_in", "present_on_server", "server_checks", "taken_name_issues",
           "unknown_key_issues"]


def present_on_server(client: Client, resource: Resource, column: str, values: Iterable[str]) -> set[str]:
    """Which of `values` the server holds in `column` (``column=in.(...)``, split under the URL budget)."""
    values = list(values)
    return present_in(client.rows_in(resource, column, values, [column]), column, values)


def present_in(rows: Iterable[Mapping[str, Any]], column: str, values: Iterable[str]) -> set[str]:
    """Which of `values` some of the server's `rows` hold in `column`, exactly as ``column=in.(...)`` matches (the
    plan asks for the names in a read that brings other rows too)."""
    wanted = set(values)
    return {str(row[column]) for row in rows if row.get(column) is not None and str(row[column]) in wanted}


def new_row_names(frame: pd.DataFrame, natural: str, keys: Sequence[str | None] | None) -> dict[int, str]:
    """The natural key (``name``) of each row without an id, by the row's place in `frame` (empty ones left out):
    the rows a create would refuse as a duplicate if the server already holds that name.

    :param keys: the rows' ids (None: the sheet has no id column, so every row is new).
    """
    if natural not in frame:
        return {}
    names = frame[natural].to_numpy(dtype=object)
    return {p: str(names[p]).strip() for p in range(len(frame))
            if (keys is None or not keys[p]) and not is_empty(names[p])}


def unknown_key_issues(sheet: Sheet, keys: Sequence[str | None], present: Container[str],
                       expected: Container[str] = ()) -> list[Issue]:
    """An error for each id the server does not have (a typo, another company's row, a row deleted meanwhile).

    One copy for `validate` (with a client) and the plan, so both say the same thing.

    :param keys: the rows' ids, in frame order (None or "" for a new row).
    :param present: the ids the server holds.
    :param expected: ids whose absence is not an error here (the plan: rows of the export deleted on the server
        since, which are conflicts).
    """
    key = sheet.resource.key
    letter = column_letter(sheet.frame, key)
    return [Issue(sheet.file, sheet.sheet, sheet.rows[position], letter, key, value, IssueCode.UNKNOWN_KEY,
                  f"no {sheet.resource.name} has id {value!r} on the server (deleted since the export, mistyped, "
                  "or another company's): clear it to create a new row")
            for position, value in enumerate(keys) if value and value not in present and value not in expected]


def taken_name_issues(sheet: Sheet, natural: str, names: Mapping[int, str], taken: Container[str]) -> list[Issue]:
    """An error for each new row whose natural key the server already holds (the create would be refused as a
    duplicate). One copy for `validate` and the plan.

    :param names: `new_row_names`; :param taken: the names the server holds.
    """
    letter = column_letter(sheet.frame, natural)
    return [Issue(sheet.file, sheet.sheet, sheet.rows[position], letter, natural, value, IssueCode.EXISTS_ON_SERVER,
                  f"a {sheet.resource.name} with {natural} {value!r} already exists on the server: give this row its "
                  "id to update it, or rename it")
            for position, value in names.items() if value in taken]


def server_checks(client: Client, sheet: Sheet, frame: pd.DataFrame) -> list[Issue]:
    """Ids the server does not have and new rows whose natural key already exists there, each asked of the server
    in as few requests as the URL budget allows."""
    resource = sheet.resource
    key = resource.key
    keys = [None if is_empty(v) else str(v).strip() for v in frame[key]] if key in frame else None
    out: list[Issue] = []
    if keys is not None:
        wanted = sorted({k for k in keys if k})
        out += unknown_key_issues(sheet, keys, present_on_server(client, resource, key, wanted) if wanted else set())
    for natural in resource.natural_key:
        names = new_row_names(frame, natural, keys)
        taken = present_on_server(client, resource, natural, sorted(set(names.values()))) if names else set()
        out += taken_name_issues(sheet, natural, names, taken)
    return out

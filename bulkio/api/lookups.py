"""References read as words: customer type names, status names, user e-mails, currency codes instead of ids.

A `Lookup` maps a reference column's ids to the referenced rows' labels and back. Export shows labels (with a
dropdown fed by a lookup sheet); import maps them back to ids. A label that two server rows share is an error,
never a guess; a label matching no row is reported with the valid choices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import LabelError
from ..resources import Resource

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Lookup", "fetch_lookups", "lookup_columns"]


@dataclass(frozen=True)
class Lookup:
    """Ids <-> labels for one reference column (e.g. ``customerTypeId`` <-> customer type names)."""

    column: str
    table: str
    key: str
    label: str
    labels: Mapping[str, str]                      # id -> label
    _ids: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    _folded: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids: dict[str, list[str]] = {}
        folded: dict[str, list[str]] = {}
        for key, label in self.labels.items():
            ids.setdefault(label, []).append(key)
            folded.setdefault(label.casefold(), []).append(key)
        object.__setattr__(self, "_ids", ids)
        object.__setattr__(self, "_folded", folded)

    @property
    def choices(self) -> tuple[str, ...]:
        """The valid labels, sorted, each once (what the sheet's dropdown offers)."""
        return tuple(sorted(self._ids, key=str.casefold))

    @property
    def ambiguous(self) -> tuple[str, ...]:
        """Labels that more than one server row carries: they cannot be used in a sheet."""
        return tuple(sorted(label for label, keys in self._ids.items() if len(keys) > 1))

    def label_for(self, key: Any) -> Any:
        """The label of id `key`; an id the key cannot see is shown as it is (nothing is lost)."""
        if key is None:
            return None
        return self.labels.get(key, key)

    def id_for(self, label: str) -> str:
        """The id whose label is `label` (exact, else case-insensitive when that is unique).

        An id typed instead of a label is accepted too: ``--raw-ids`` sheets and pasted ids keep working.

        :raises LabelError: no such label (code ``unknown_label``) or two rows share it (``ambiguous_label``).
        """
        keys = self._ids.get(label) or self._folded.get(label.casefold())
        if keys is None and label in self.labels:
            return label
        if not keys:
            shown = ", ".join(self.choices[:20]) + (" ..." if len(self.choices) > 20 else "")
            raise LabelError(f"unknown {self.table} {label!r}; valid: {shown}", code="unknown_label",
                             choices=self.choices)
        if len(keys) > 1:
            raise LabelError(f"{label!r} names {len(keys)} {self.table} rows on the server ({', '.join(keys)}); "
                             "rename one of them, or use --raw-ids", code="ambiguous_label", choices=self.choices)
        return keys[0]


def lookup_columns(resource: Resource, columns: Iterable[str] | None = None) -> dict[str, tuple[str, str, str]]:
    """{column: (table, key, label)} for the reference columns of `resource` that have a label."""
    wanted = set(columns) if columns is not None else None
    out = {}
    for name, ref in resource.references.items():
        if ref.label is None or (wanted is not None and name not in wanted):
            continue
        out[name] = (ref.table, ref.column, ref.label)
    return out


def fetch_lookups(client: Client, resource: Resource | str, columns: Iterable[str] | None = None
                  ) -> dict[str, Lookup]:
    """Fetch every referenced table once (``user`` serves four columns with one fetch) and build the lookups."""
    resource = client.resource(resource)
    wanted = lookup_columns(resource, columns)
    fetched: dict[tuple[str, str, str], dict[str, str]] = {}
    for target in sorted(set(wanted.values())):
        table, key, label = target
        labels: dict[str, str] = {}
        order = f"{label}.asc,{key}.asc" if label != key else f"{key}.asc"
        for page in client.iter_pages(table, select=[key, label] if key != label else [key], order=order):
            for row in page:
                if row.get(key) is not None and row.get(label) is not None:
                    labels[str(row[key])] = str(row[label])
        fetched[target] = labels
    return {
        name: Lookup(name, table, key, label, fetched[(table, key, label)])
        for name, (table, key, label) in wanted.items()
    }


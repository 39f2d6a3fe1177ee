"""Families of tables (design decision 16): which tables are children of which, read from the references alone.

A child of ``customer`` is a table with a NOT NULL reference to the customer's key (``customerContact.customerId``):
each of its rows belongs to exactly one customer, so the rows travel with their parent in one workbook. A nullable
reference (``customer.salesContactId`` -> ``customerContact``) only points at a row; it does not make the customer
a child of its contacts. No table is named in code: a new table with such a column is a child by its definition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .base import Resource

__all__ = ["Link", "children_of"]


@dataclass(frozen=True)
class Link:
    """How a child table hangs from its parent.

    :param parent: the parent table (``customer``).
    :param child: the child table (``customerContact``).
    :param column: the child's NOT NULL column holding the parent's key (``customerId``).
    """

    parent: Resource
    child: Resource
    column: str

    @property
    def on_delete(self) -> str:
        """What the database does to the children when their parent is deleted (``cascade``, ``restrict``, ...):
        the plan says "deleting Acme also deletes its 3 contacts" only where it is ``cascade``."""
        reference = self.child.column(self.column).reference
        return reference.on_delete if reference is not None else "no action"

    @property
    def label(self) -> str:
        """The parent column a child sheet names its parent by: the parent's label (``name``), else its natural
        key's first column, else its key (a table with nothing better to show keeps ids)."""
        parent = self.parent
        return parent.label or (parent.natural_key[0] if parent.natural_key else parent.key)

    def __str__(self) -> str:
        return f"{self.child.name}.{self.column} -> {self.parent.name}.{self.parent.key}"

    def __repr__(self) -> str:  # the two whole definitions would fill a screen
        return f"Link({self})"


def _link_columns(parent: Resource, child: Resource) -> list[str]:
    """The child's NOT NULL columns that reference the parent's key, in table order."""
    return [column.name for column in child.columns
            if column.reference is not None and not column.nullable
            and column.reference.table == parent.name and column.reference.column == parent.key]


def children_of(parent: Resource, tables: Iterable[Resource]) -> list[Link]:
    """The links of every table among `tables` that is a child of `parent`, sorted by child name then column.

    A table is a child when one of its NOT NULL reference columns points at the parent's key; a table that
    references the parent twice so (rare) gives one link per column. The parent itself is never its own child.

    >>> from bulkio.resources import CUSTOMER, CUSTOMER_CONTACT
    >>> [str(link) for link in children_of(CUSTOMER, [CUSTOMER, CUSTOMER_CONTACT])]
    ['customerContact.customerId -> customer.id']
    """
    links = {(child.name, name): Link(parent, child, name)
             for child in tables if child.name != parent.name for name in _link_columns(parent, child)}
    return [links[key] for key in sorted(links)]

"""Which tables are children of which (`bulkio.resources.family`): read from NOT NULL references to the key."""

from __future__ import annotations

from bulkio.resources import (
    COMPANY,
    CUSTOMER,
    CUSTOMER_CONTACT,
    RESOURCES,
    Column,
    Link,
    Reference,
    Resource,
    children_of,
)


def test_contacts_are_the_children_of_customers() -> None:
    links = children_of(CUSTOMER, RESOURCES.values())
    assert links == [Link(CUSTOMER, CUSTOMER_CONTACT, "customerId")]
    assert links[0].on_delete == "cascade"
    assert str(links[0]) == "customerContact.customerId -> customer.id"
    assert repr(links[0]) == "Link(customerContact.customerId -> customer.id)"


def test_a_nullable_reference_makes_no_child() -> None:
    # customer.salesContactId -> customerContact is nullable: a customer is not a child of its contacts
    assert children_of(CUSTOMER_CONTACT, RESOURCES.values()) == []


def test_the_parent_is_never_its_own_child_and_order_is_by_name() -> None:
    links = children_of(COMPANY, [*RESOURCES.values(), COMPANY])
    names = [link.child.name for link in links]
    assert "company" not in names
    assert names == sorted(names)
    assert {"customer", "customerContact"} <= set(names)
    assert all(link.column == "companyId" for link in links)


def test_a_reference_to_another_column_than_the_key_is_no_link() -> None:
    by_name = Resource("note", (Column("id", nullable=False),
                                Column("customerName", nullable=False, reference=Reference("customer", "name"))))
    assert children_of(CUSTOMER, [by_name]) == []


def test_a_table_referencing_its_parent_twice_gives_a_link_per_column_and_its_on_delete() -> None:
    pair = Resource("transfer", (
        Column("id", nullable=False),
        Column("toId", nullable=False, reference=Reference("customer", on_delete="restrict")),
        Column("fromId", nullable=False, reference=Reference("customer")),
    ))
    links = children_of(CUSTOMER, [pair])
    assert [(link.column, link.on_delete) for link in links] == [("fromId", "no action"), ("toId", "restrict")]

"""Carbon's `customer` table and the tables it references, written from `shared/reference.md`.

OpenAPI can tell column names and types; these hand-written definitions add what it cannot: the natural key, the
label people know a referenced row by, read-only columns, the `taxPercent` range and unique constraints.
"""

from __future__ import annotations

from .base import Column, ColumnType, Reference, Resource

__all__ = [
    "COMPANY",
    "CURRENCY_CODE",
    "CUSTOMER",
    "CUSTOMER_CONTACT",
    "CUSTOMER_STATUS",
    "CUSTOMER_TYPE",
    "USER",
]

T = ColumnType

COMPANY = Resource(
    name="company",
    columns=(
        Column("id", nullable=False, has_default=True, read_only=True),
        Column("name", nullable=False),
    ),
    natural_key=("name",),
    tenant_column=None,
    label="name",
    description="the companies (tenants) an API key belongs to",
)

USER = Resource(
    name="user",
    columns=(
        Column("id", nullable=False, has_default=True, read_only=True),
        Column("email", nullable=False, format="email"),
        Column("firstName"),
        Column("lastName"),
    ),
    natural_key=("email",),
    unique=(("email",),),
    tenant_column=None,
    label="email",
    description="people with an account: account managers, assignees",
)

CURRENCY_CODE = Resource(
    name="currencyCode",
    columns=(
        Column("code", nullable=False, max_length=3),
        Column("name"),
    ),
    key="code",
    natural_key=("code",),
    tenant_column=None,
    label="code",
    description="ISO 4217 currency codes",
)

def _company_names(name: str, description: str) -> Resource:
    """A per-company list of names (customer types, statuses): id, name, companyId; a name is unique per company."""
    return Resource(
        name=name,
        columns=(
            Column("id", nullable=False, has_default=True, read_only=True),
            Column("name", nullable=False),
            Column("companyId", nullable=False, reference=Reference("company"), read_only=True),
        ),
        natural_key=("name",),
        unique=(("name", "companyId"),),
        label="name",
        description=description,
    )


CUSTOMER_TYPE = _company_names("customerType", "customer types (e.g. Distributor, Retail)")
CUSTOMER_STATUS = _company_names("customerStatus", "customer statuses (e.g. Active, On Hold)")

_USER_REF = Reference("user", label="email")

CUSTOMER = Resource(
    name="customer",
    columns=(
        Column("id", nullable=False, has_default=True, read_only=True,
               description="server-generated; leave empty for a new customer"),
        Column("readableId", nullable=False, has_default=True, read_only=True,
               description="CUS000001, ...: filled by the server"),
        Column("name", nullable=False, description="unique per company"),
        Column("customerTypeId", reference=Reference("customerType", label="name"), description="customer type"),
        Column("customerStatusId", reference=Reference("customerStatus", label="name"),
               description="customer status"),
        Column("accountManagerId", reference=_USER_REF, description="account manager (user e-mail)"),
        Column("assignee", reference=_USER_REF, description="assignee (user e-mail)"),
        Column("logo", description="logo URL or path"),
        Column("companyId", nullable=False, reference=Reference("company"), read_only=True,
               description="the company that owns the row; set by bulkio from the API key"),
        Column("createdAt", T.TIMESTAMP, nullable=False, has_default=True, read_only=True),
        Column("createdBy", reference=Reference("user", label="email"), read_only=True),
        Column("updatedAt", T.TIMESTAMP, read_only=True, description="set by bulkio when it updates a row"),
        Column("updatedBy", reference=Reference("user", label="email"), read_only=True),
        Column("customFields", T.JSON, description="an object of user-defined keys"),
        Column("currencyCode", reference=Reference("currencyCode", column="code", label="code"),
               max_length=3, description="ISO 4217, e.g. USD"),
        Column("phone", format="phone", description="text: keeps its leading + and zeros"),
        Column("fax", format="phone"),
        Column("website", format="url"),
        Column("taxPercent", T.NUMERIC, nullable=False, has_default=True, minimum=0, maximum=1, format="percent",
               description="a fraction: 0.2 means 20 %"),
        Column("tags", T.TEXT_ARRAY, has_default=True),
        Column("defaultCc", T.TEXT_ARRAY, has_default=True, format="email[]", description="e-mail addresses"),
        Column("salesContactId", reference=Reference("customerContact", on_delete="restrict"),
               description="a customer contact id"),
        Column("intercompanyCompanyId", reference=Reference("company"),
               description="set for intercompany customers, which cannot be deleted"),
        Column("embedding", T.VECTOR, exported=False, read_only=True, description="halfvec(384); never exported"),
    ),
    natural_key=("name",),
    unique=(("name", "companyId"), ("readableId", "companyId")),
    label="name",
    description="customers",
    example=(("name", "Example Tools Ltd"), ("customerTypeId", "Distributor"), ("customerStatusId", "Active"),
             ("phone", "+44 20 7946 0958"), ("website", "https://tools.example.com"), ("currencyCode", "GBP"),
             ("taxPercent", 0.2), ("tags", "vip, export"), ("defaultCc", "accounts@tools.example.com")),
)

CUSTOMER_CONTACT = Resource(
    name="customerContact",
    columns=(
        Column("id", nullable=False, has_default=True, read_only=True),
        Column("customerId", nullable=False, reference=Reference("customer", label="name", on_delete="cascade")),
        Column("firstName"),
        Column("lastName"),
        Column("email", format="email"),
        Column("mobilePhone", format="phone"),
        Column("companyId", nullable=False, reference=Reference("company"), read_only=True),
        Column("createdAt", T.TIMESTAMP, nullable=False, has_default=True, read_only=True),
    ),
    natural_key=("email",),
    label="email",
    description="contacts of a customer",
)

"""Deterministic, realistic seed data: two companies, their users, lookups, customers and contacts.

Realistic means the data that breaks naive tools: unicode names, names with commas, dots, quotes and parentheses
(PostgREST quoting), names that look like formulas (`=SUM...`, `+44 Imports`), phone numbers with a leading `+` or
zeros, tags, nested custom fields, fractions for `taxPercent`, every reference used, and some nulls.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .schema import base58_id
from .store import Principal, Store

__all__ = ["SeedResult", "seed_database"]

ALL_SCOPES = frozenset({"view", "create", "update", "delete"})

_NOT_SLUG = re.compile(r"[^a-z0-9]")
_SPECIAL_NAMES = [
    "Müller & Söhne GmbH", "Łódź Metalworks S.A.", "株式会社さくら精機", "Café Olé, S.L.", 'O\'Brien "Tools" (Cork)',
    "Smith, Jones & Co. Ltd.", "Ångström Optics AB", "Δέλτα Engineering", "=SUM Trading", "+44 Imports",
    "-Minus Corp", "@Home Supplies", "Back\\slash Logistics", "A.B.C. (Holdings): Ltd", "Ünal Tekstil A.Ş.",
]
_FIRST = ["Acme", "Apex", "Beacon", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris", "Juniper",
          "Keystone", "Lumen", "Meridian", "Nimbus", "Orion", "Pioneer", "Quartz", "Redwood", "Summit", "Tidal",
          "Umbra", "Vertex", "Willow", "Xenon", "Yarrow", "Zephyr", "Northwind", "Bluewater", "Ironclad"]
_SECOND = ["Tools", "Fabrication", "Machining", "Plastics", "Logistics", "Components", "Robotics", "Castings",
           "Electronics", "Hydraulics", "Optics", "Textiles", "Foods", "Motors", "Alloys", "Packaging", "Systems",
           "Instruments", "Supply", "Works"]
_SUFFIX = ["Inc.", "Ltd", "GmbH", "LLC", "S.A.", "AB", "Co.", "Pty Ltd", "B.V.", "S.r.l.", "Oy", "K.K."]
_CITIES = ["Leeds", "Lyon", "Osaka", "Austin", "Porto", "Graz", "Turku", "Cork", "Pune", "Quito", "Bergen", "Gdańsk"]
_PHONES = ["+44 20 7946 {:04d}", "+1 (555) 010-{:04d}", "0049 89 123{:04d}", "020 7946 {:04d}", "+81 3-1234-{:04d}",
           "0800 123 {:04d}", "+33 1 23 45 {:04d}", "00353 21 49{:04d}"]
_TAGS = ["vip", "export", "net-30", "priority", "eu", "b2b", "reseller", "key account", "slow payer"]
_TAX = [0, 0.05, 0.07, 0.1, 0.19, 0.2, 0.21, 0.0825]
_CURRENCIES = [("USD", "US Dollar"), ("EUR", "Euro"), ("GBP", "Pound Sterling"), ("JPY", "Yen"),
               ("CHF", "Swiss Franc"), ("CAD", "Canadian Dollar"), ("SEK", "Swedish Krona"), ("PLN", "Zloty")]
_TYPES = ["Distributor", "Retail", "OEM", "Wholesale", "Government"]
_STATUSES = ["Active", "Inactive", "Prospect", "On Hold"]
_PEOPLE = [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Søren", "Kierkegaard"), ("Zoë", "Saldaña"),
           ("José", "Martí"), ("Li", "Wei"), ("Amara", "Okafor"), ("Noah", "O'Neil"), ("Ingrid", "Bergström"),
           ("Ravi", "Shankar"), ("Mia", "Kowalska")]


@dataclass(frozen=True)
class SeedResult:
    """What tests need to know about the seeded world."""

    company_id: str
    other_company_id: str
    keys: dict[str, str]
    principals: dict[str, Principal]


def _slug(name: str) -> str:
    return _NOT_SLUG.sub("", name.lower())[:20] or "firm"


def _customers(rng: random.Random, count: int, company: str, users: list[str], types: list[str],
               statuses: list[str], intercompany: str | None) -> list[dict[str, Any]]:
    names: set[str] = set()
    repeats: dict[str, int] = {}
    out = []
    epoch = datetime(2023, 6, 1, tzinfo=UTC)  # three years up to mid 2026: nothing in the future
    for n in range(count):
        if n < len(_SPECIAL_NAMES):
            name = _SPECIAL_NAMES[n]
        else:
            name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_SUFFIX)}"
            if name in names:
                name = f"{name} ({rng.choice(_CITIES)})"
            if name in names:  # numbered branches; the counter keeps a 200,000-row seed linear
                base = name
                while name in names:
                    repeats[base] = repeats.get(base, 1) + 1
                    name = f"{base} {repeats[base]}"
        names.add(name)
        slug = _slug(name)
        created = epoch + timedelta(seconds=rng.randrange(0, 3 * 365 * 86400), microseconds=rng.randrange(10**6))
        updated = created + timedelta(days=rng.randrange(1, 200)) if rng.random() < 0.4 else None
        custom: dict[str, Any] | None
        roll = rng.random()
        if roll < 0.1:
            custom = None
        elif roll < 0.15:
            custom = {}
        else:
            custom = {"region": rng.choice(["EMEA", "APAC", "AMER"]), "creditLimit": rng.choice([5000, 25000, 1e5]),
                      "segment": rng.choice(["SMB", "Enterprise", "Public"])}
            if rng.random() < 0.05:
                custom["billing"] = {"terms": "net 30", "portal": True}
        tags = rng.sample(_TAGS, rng.randrange(0, 4))
        if rng.random() < 0.01:
            tags.append("tools, hardware")
        out.append({
            "id": base58_id("cust", rng),
            "readableId": f"CUS{n + 1:06d}",
            "name": name,
            "customerTypeId": rng.choice(types) if rng.random() < 0.9 else None,
            "customerStatusId": rng.choice(statuses) if rng.random() < 0.9 else None,
            "accountManagerId": rng.choice(users) if rng.random() < 0.8 else None,
            "assignee": rng.choice(users) if rng.random() < 0.5 else None,
            "logo": f"https://cdn.example.com/logos/{slug}.png" if rng.random() < 0.1 else None,
            "companyId": company,
            "createdAt": created.isoformat(timespec="microseconds"),
            "createdBy": rng.choice(users),
            "updatedAt": updated.isoformat(timespec="microseconds") if updated else None,
            "updatedBy": rng.choice(users) if updated else None,
            "customFields": custom,
            "currencyCode": rng.choice(_CURRENCIES)[0] if rng.random() < 0.92 else None,
            "phone": rng.choice(_PHONES).format(rng.randrange(10000)) if rng.random() < 0.85 else None,
            "fax": rng.choice(_PHONES).format(rng.randrange(10000)) if rng.random() < 0.1 else None,
            "website": f"https://www.{slug}.example.com" if rng.random() < 0.7 else None,
            "taxPercent": rng.choice(_TAX),
            "tags": tags,
            "defaultCc": [f"accounts@{slug}.example.com"] if rng.random() < 0.3 else [],
            "salesContactId": None,
            "intercompanyCompanyId": intercompany if intercompany and n in (3, 7) else None,
            "embedding": None,
        })
    return out


def _suppliers(rng: random.Random, count: int, company: str, users: list[str]) -> list[dict[str, Any]]:
    """Suppliers: the table bulkio knows only from the OpenAPI document (an integer, a number, an array, jsonb)."""
    names: set[str] = set()
    out = []
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(count):
        name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_SUFFIX)}"
        while name in names:
            name = f"{name} ({rng.choice(_CITIES)})"
        names.add(name)
        created = epoch + timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
        out.append({
            "id": base58_id("supp", rng),
            "name": name,
            "taxId": f"GB{rng.randrange(10**9):09d}" if rng.random() < 0.8 else None,
            "accountManagerId": rng.choice(users) if rng.random() < 0.7 else None,
            "currencyCode": rng.choice(_CURRENCIES)[0],
            "phone": rng.choice(_PHONES).format(rng.randrange(10000)) if rng.random() < 0.9 else None,
            "paymentTermDays": rng.choice([None, 0, 14, 30, 45, 60]),
            "rating": rng.choice([None, 3.5, 4, 4.25, 5]),
            "companyId": company,
            "createdAt": created.isoformat(timespec="microseconds"),
            "tags": rng.sample(["preferred", "local", "iso-9001", "backup"], rng.randrange(0, 3)),
            "customFields": {"leadTimeDays": rng.choice([5, 10, 20])} if rng.random() < 0.5 else None,
        })
    return out


def seed_database(store: Store, *, rows: int = 500, seed: int = 7, other_rows: int = 25,
                  admin_key: str | None = None) -> SeedResult:
    """Fill `store` with a deterministic world; the same seed gives the same rows and ids."""
    rng = random.Random(seed)
    main, other = base58_id("comp", rng), base58_id("comp", rng)
    store.bulk_load("company", [{"id": main, "name": "Northwind Fabrication Ltd."},
                                {"id": other, "name": "Südwerk Maschinenbau GmbH"}])
    store.bulk_load("currencyCode", [{"code": c, "name": n} for c, n in _CURRENCIES])
    users: dict[str, list[str]] = {main: [], other: []}
    user_rows = []
    for i, (first, last) in enumerate(_PEOPLE):
        company = main if i < 8 else other
        user_id = base58_id("user", rng)
        domain = "northwind.example.com" if company == main else "suedwerk.example.de"
        user_rows.append({"id": user_id, "email": f"{_slug(first)}.{_slug(last)}@{domain}", "firstName": first,
                          "lastName": last})
        users[company].append(user_id)
        store.add_membership(user_id, company)
    store.bulk_load("user", user_rows)

    lookups: dict[tuple[str, str], list[str]] = {}
    for company in (main, other):
        for table, prefix, names in (("customerType", "ctyp", _TYPES), ("customerStatus", "csts", _STATUSES)):
            records = [{"id": base58_id(prefix, rng), "name": name, "companyId": company} for name in names]
            store.bulk_load(table, records)
            lookups[(table, company)] = [r["id"] for r in records]

    for company, count, intercompany in ((main, rows, other), (other, other_rows, main)):
        customers = _customers(rng, count, company, users[company], lookups[("customerType", company)],
                               lookups[("customerStatus", company)], intercompany)
        contacts = []
        for customer in customers[: max(1, count // 3)]:
            first, last = rng.choice(_PEOPLE)
            contact_id = base58_id("ccon", rng)
            contacts.append({"id": contact_id, "customerId": customer["id"], "firstName": first, "lastName": last,
                             "email": f"{_slug(first)}@{_slug(customer['name'])}.example.com",
                             "mobilePhone": f"+44 7700 9{rng.randrange(10**5):05d}", "companyId": company,
                             "createdAt": customer["createdAt"]})
            if rng.random() < 0.5:
                customer["salesContactId"] = contact_id
        store.bulk_load("customer", customers)
        store.bulk_load("customerContact", contacts)
        store.set_sequence("customer", company, count)

    # suppliers draw from their own generator, so adding them left every other seeded row and key unchanged
    supplier_rng = random.Random(f"supplier:{seed}")
    for company, count in ((main, min(40, max(5, rows // 10))), (other, 3)):
        store.bulk_load("supplier", _suppliers(supplier_rng, count, company, users[company]))

    token = f"{rng.getrandbits(64):016x}"
    keys = {
        "admin": admin_key or f"sbx_admin_{token}",
        "readonly": f"sbx_readonly_{token}",
        "nodelete": f"sbx_nodelete_{token}",
        "nocreate": f"sbx_nocreate_{token}",
        "other": f"sbx_other_{token}",
    }
    principals = {
        keys["admin"]: Principal(main, users[main][0], ALL_SCOPES),
        keys["readonly"]: Principal(main, users[main][1], frozenset({"view"})),
        keys["nodelete"]: Principal(main, users[main][2], frozenset({"view", "create", "update"})),
        keys["nocreate"]: Principal(main, users[main][2], frozenset({"view", "update", "delete"})),
        keys["other"]: Principal(other, users[other][0], ALL_SCOPES),
    }
    return SeedResult(main, other, keys, principals)

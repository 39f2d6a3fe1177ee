"""Any table: definitions built from the server's OpenAPI document, and a second and a third table (customerContact,
hand-written; supplier, known only from OpenAPI) exported, edited, read and validated through the same code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from typer.testing import CliRunner

from bulkio.api.catalog import fetch_openapi, resource_for, server_differences, server_tables
from bulkio.api.client import Client
from bulkio.api.lookups import fetch_lookups
from bulkio.cli.app import app
from bulkio.errors import ApiError, BulkioError
from bulkio.export.stream import stream_export
from bulkio.export.table import export_table
from bulkio.resources import (
    CUSTOMER,
    CUSTOMER_CONTACT,
    RESOURCES,
    ColumnType,
    Resource,
    UnknownResource,
    column_type,
    differences,
    get_resource,
    resource_from_definition,
    resource_in,
)
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import read_sheet
from bulkio.sheets.values import from_cell
from bulkio.sheets.write import write_workbook
from bulkio.validate.report import IssueCode
from bulkio.validate.rules import validate

runner = CliRunner()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(base_url=sandbox.url, api_key=sandbox.api_key) as c:
        yield c


@pytest.fixture
def supplier(client: Client) -> Resource:
    return resource_for(client, "supplier")


def _env(sandbox: Sandbox) -> dict[str, str]:
    return {"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key, "BULKIO_CONFIG": "", "COLUMNS": "200"}


def _edit(path: Path, table: str, edits: dict[tuple[int, str], Any]) -> None:
    """Change cells as a person would in Excel (openpyxl stands in for it)."""
    book = openpyxl.load_workbook(path)
    sheet = book[table]
    header = {c.value: c.column for c in sheet[1]}
    for (row, name), value in edits.items():
        sheet.cell(row=row, column=header[name]).value = value
    book.save(path)


# ------------------------------------------------------------------------------------------------ building
def test_every_hand_written_table_agrees_with_the_server(client: Client) -> None:
    """The builder read right: built from the sandbox's document, each hand-written table has the same columns,
    types, NOT NULL, key and reference targets (and the same required columns)."""
    document = fetch_openapi(client)
    for name, hand_written in RESOURCES.items():
        built = resource_from_definition(name, document["definitions"][name])
        assert differences(hand_written, built) == [], name
        assert [c.name for c in built.columns if c.required] == [c.name for c in hand_written.columns
                                                                  if c.required], name


def test_customer_built_from_openapi_has_what_openapi_can_say(client: Client) -> None:
    built = resource_from_definition("customer", fetch_openapi(client)["definitions"]["customer"])
    assert built.key == "id" and built.column("id").read_only and built.column("id").has_default
    assert [c.name for c in built.columns if c.required] == ["name", "companyId"]  # defaults told apart
    assert built.column("taxPercent").type is ColumnType.NUMERIC and not built.column("taxPercent").nullable
    assert built.column("tags").is_array and built.column("customFields").is_json
    assert built.column("embedding").type is ColumnType.VECTOR and "embedding" not in built.exported_columns
    assert built.column("customerTypeId").reference.label == "name"  # type: ignore[union-attr]
    assert built.column("companyId").read_only and built.tenant_column == "companyId"
    # what only the hand-written definition says
    assert built.natural_key == () and CUSTOMER.natural_key == ("name",)
    assert built.column("taxPercent").maximum is None and CUSTOMER.column("taxPercent").maximum == 1
    assert built.column("phone").format is None


def test_supplier_is_built_from_the_document(supplier: Resource) -> None:
    assert "supplier" not in RESOURCES
    assert supplier.key == "id" and supplier.column("id").read_only
    assert [c.name for c in supplier.columns if c.required] == ["name", "companyId"]
    kinds = {c.name: c.type for c in supplier.columns}
    assert kinds["paymentTermDays"] is ColumnType.INTEGER and kinds["rating"] is ColumnType.NUMERIC
    assert kinds["createdAt"] is ColumnType.TIMESTAMP and kinds["tags"] is ColumnType.TEXT_ARRAY
    assert kinds["customFields"] is ColumnType.JSON
    refs = {n: (r.table, r.column, r.label) for n, r in supplier.references.items()}
    assert refs == {"accountManagerId": ("user", "id", "email"),          # labels of hand-written tables
                    "currencyCode": ("currencyCode", "code", "code"),
                    "companyId": ("company", "id", None)}                # the tenant column keeps its id
    assert supplier.column("taxId").max_length == 32
    assert set(supplier.writable_columns) == {"name", "taxId", "accountManagerId", "currencyCode", "phone",
                                              "paymentTermDays", "rating", "tags", "customFields"}


@pytest.mark.parametrize(("prop", "kind"), [
    ({"format": "text", "type": "string"}, ColumnType.TEXT),
    ({"format": "character varying", "type": "string", "maxLength": 3}, ColumnType.TEXT),
    ({"format": "uuid", "type": "string"}, ColumnType.TEXT),
    ({"format": "bigint", "type": "integer"}, ColumnType.INTEGER),
    ({"format": "double precision", "type": "number"}, ColumnType.NUMERIC),
    ({"format": "boolean", "type": "boolean"}, ColumnType.BOOLEAN),
    ({"format": "timestamp without time zone", "type": "string"}, ColumnType.TIMESTAMP),
    ({"format": "date", "type": "string"}, ColumnType.DATE),
    ({"format": "json"}, ColumnType.JSON),
    ({"format": "integer[]", "type": "array", "items": {"type": "integer"}}, ColumnType.TEXT_ARRAY),
    ({"format": "extensions.vector", "type": "string"}, ColumnType.VECTOR),
    ({"format": "public.\"supplierStatus\"", "type": "string", "enum": ["Active"]}, ColumnType.TEXT),
    ({"format": "interval", "type": "string"}, ColumnType.TEXT),
])
def test_postgres_types_map_to_column_types(prop: dict[str, Any], kind: ColumnType) -> None:
    assert column_type(prop) is kind


# Definitions shaped as PostgREST writes them (Response/OpenAPI.hs): the cases the sandbox does not serve.
_NOTE_PK = "Note:\nThis is a Primary Key.<pk/>"


def test_a_serial_key_enum_choices_and_column_comments() -> None:
    definition = {
        "type": "object", "required": ["id", "status"],
        "properties": {
            "id": {"format": "bigint", "type": "integer", "description": _NOTE_PK},
            "status": {"format": "public.\"workStatus\"", "type": "string", "enum": ["Open", "Done"],
                       "default": "Open", "description": "where the work stands"},
            "workCenterId": {"format": "text", "type": "string",
                             "description": "the machine\n\nNote:\nThis is a Foreign Key to `workCenter.id`."
                                            "<fk table='workCenter' column='id'/>"},
        },
    }
    built = resource_from_definition("job", definition)
    key = built.column("id")
    assert key.has_default and key.read_only and not key.required  # nextval() cannot be shown as JSON
    status = built.column("status")
    assert status.choices == ("Open", "Done") and not status.required and status.description == "where the work stands"
    ref = built.column("workCenterId").reference
    assert ref is not None and (ref.table, ref.column, ref.label) == ("workCenter", "id", None)  # not hand-written
    assert built.column("workCenterId").description == "the machine"
    assert built.tenant_column is None


def test_a_view_without_key_notes_is_keyed_by_id_and_a_composite_key_is_refused() -> None:
    view = resource_from_definition("openJobs", {"properties": {"id": {"format": "text"}, "name": {"format": "text"}}})
    assert view.key == "id" and view.column("name").nullable  # a view's document has no `required`
    composite = {"properties": {"a": {"format": "text", "description": _NOTE_PK},
                                "b": {"format": "text", "description": _NOTE_PK}}}
    with pytest.raises(ValueError, match="2 columns"):
        resource_from_definition("pair", composite)


# ------------------------------------------------------------------------------------------------ resolving
def test_hand_written_tables_cost_no_request_and_others_one(client: Client, supplier: Resource) -> None:
    before = client.requests_made
    assert resource_for(client, "customer") is CUSTOMER
    assert resource_for(client, CUSTOMER_CONTACT) is CUSTOMER_CONTACT
    again = resource_for(client, "supplier")
    assert client.requests_made == before  # the document fetched for the fixture is kept for the client
    assert again == supplier


def test_the_document_is_kept_per_client_and_refreshed_on_request(sandbox: Sandbox) -> None:
    with Client(base_url=sandbox.url, api_key=sandbox.api_key) as one, \
            Client(base_url=sandbox.url, api_key=sandbox.api_key) as other:
        document = fetch_openapi(one)
        assert fetch_openapi(one) is document and one.requests_made == 1
        assert fetch_openapi(other) is not document and other.requests_made == 1  # each client asks once
        assert fetch_openapi(one, refresh=True) is not document and one.requests_made == 2


def test_a_document_in_hand_resolves_without_a_client(client: Client) -> None:
    document = fetch_openapi(client)
    assert resource_in(document, "customer", server="x") is CUSTOMER
    assert resource_in(document, "supplier", server="x") == resource_for(client, "supplier")
    with pytest.raises(UnknownResource, match="the API at x has no table 'suplier'"):
        resource_in(document, "suplier", server="x")


def test_get_resource_never_asks_the_server_and_says_how_to(sandbox: Sandbox) -> None:
    with pytest.raises(UnknownResource) as caught:
        get_resource("supplier")
    message = str(caught.value)
    assert "customer" in message and "customerContact" in message and "resource_for(client, 'supplier')" in message
    assert "bulkio resources" in message
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, BulkioError)  # old handlers still catch
    assert sandbox.requests == []


def test_a_table_the_server_lacks_names_the_closest(client: Client) -> None:
    with pytest.raises(UnknownResource, match="did you mean 'supplier'"):
        resource_for(client, "suplier")


def test_a_root_without_openapi_is_one_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>Carbon</html>", headers={"content-type": "text/html"})

    with Client(base_url="https://carbon.example.com", api_key="k", transport=httpx.MockTransport(handler)) as c:
        assert resource_for(c, "customer") is CUSTOMER  # hand-written tables still work
        with pytest.raises(ApiError, match="hand-written"):
            resource_for(c, "supplier")


def test_server_tables_say_what_bulkio_knows(client: Client) -> None:
    tables = {t.name: t for t in server_tables(client)}
    assert set(RESOURCES) | {"supplier"} <= set(tables)
    assert tables["supplier"].hand_written is False and tables["supplier"].usable
    assert tables["supplier"].columns == 12 and tables["supplier"].writable
    assert tables["customer"].hand_written and not tables["user"].writable


def test_server_differences_name_a_column_the_definition_lacks(client: Client) -> None:
    assert server_differences(client, CUSTOMER) == []
    trimmed = Resource(name="customer", columns=CUSTOMER.columns[:-1], natural_key=("name",))
    document = fetch_openapi(client)
    drift = differences(trimmed, resource_from_definition("customer", document["definitions"]["customer"]))
    assert drift == ["the server has columns the definition lacks (not exported or imported): embedding"]


# ------------------------------------------------------------------------------------------------ round trips
def test_customer_contact_exports_edits_reads_and_validates(client: Client, sandbox: Sandbox,
                                                            tmp_path: Path) -> None:
    contact = resource_for(client, "customerContact")
    exported = export_table(client, contact)
    mine = [r for r in sandbox.rows("customerContact") if r["companyId"] == sandbox.company_id]
    assert len(exported.frame) == len(mine) == 40
    path = write_workbook(exported, tmp_path / "contacts.xlsx")
    shown = exported.display()
    assert set(shown["customerId"]) <= {r["name"] for r in sandbox.rows("customer")}  # customers by name

    untouched = read_sheet(path)
    assert untouched.resource is CUSTOMER_CONTACT and untouched.base is not None
    assert validate(untouched, exported.lookups, client=client).issues == ()

    _edit(path, "customerContact", {(2, "lastName"): "Hopper-Smith", (3, "email"): "not an e-mail",
                                    (4, "customerId"): "No Such Customer Ltd"})
    sheet = read_sheet(path)
    assert sheet.frame.loc[0, "lastName"] == "Hopper-Smith"
    report = validate(sheet, fetch_lookups(client, contact), client=client)
    assert sorted((i.row, i.column, i.code) for i in report.errors) == [
        (3, "email", IssueCode.BAD_EMAIL), (4, "customerId", IssueCode.UNKNOWN_LABEL)]


def test_supplier_exports_edits_reads_and_validates_through_the_same_code(client: Client, sandbox: Sandbox,
                                                                          supplier: Resource,
                                                                          tmp_path: Path) -> None:
    exported = export_table(client, supplier)
    mine = [r for r in sandbox.rows("supplier") if r["companyId"] == sandbox.company_id]
    assert sorted(exported.frame["id"]) == sorted(r["id"] for r in mine)
    shown = exported.display()
    emails = {r["email"] for r in sandbox.rows("user")}
    assert set(shown["accountManagerId"].dropna()) <= emails  # a reference to a hand-written table, by label
    assert any(c.startswith("customFields.") for c in shown.columns)  # jsonb flattened as for customers
    path = write_workbook(exported, tmp_path / "suppliers.xlsx")

    sheet = read_sheet(path, supplier)
    assert sheet.meta is not None and sheet.meta["resource"] == "supplier"
    assert validate(sheet, exported.lookups, client=client).issues == ()

    _edit(path, "supplier", {(2, "paymentTermDays"): 45, (3, "paymentTermDays"): "thirty",
                             (4, "rating"): 4.5, (5, "name"): None, (6, "createdAt"): "2020-01-01"})
    report = validate(read_sheet(path, supplier), fetch_lookups(client, supplier), client=client)
    assert sorted((i.row, i.column, i.code) for i in report.errors) == [
        (3, "paymentTermDays", IssueCode.BAD_VALUE), (5, "name", IssueCode.REQUIRED)]
    assert [(i.row, i.column) for i in report.warnings] == [(6, "createdAt")]  # read-only: ignored on import


def test_supplier_csv_streams_and_reads_back(client: Client, supplier: Resource, tmp_path: Path) -> None:
    info = stream_export(client, supplier, tmp_path / "suppliers.csv")
    sheet = read_sheet(tmp_path / "suppliers.csv", supplier)
    assert info.rows == len(sheet.frame) == 12
    assert validate(sheet, fetch_lookups(client, supplier), client=client).errors == []


def test_supplier_cells_write_back_through_the_client(client: Client, sandbox: Sandbox, supplier: Resource,
                                                      tmp_path: Path) -> None:
    """What apply will do for a table known only from OpenAPI, by hand: sheet cells -> API values -> PATCH / POST."""
    path = write_workbook(export_table(client, supplier), tmp_path / "suppliers.xlsx")
    _edit(path, "supplier", {(2, "paymentTermDays"): 45, (2, "tags"): "local, new"})
    row = read_sheet(path, supplier).frame.iloc[0]
    body = {name: from_cell(supplier.column(name), row[name]) for name in ("paymentTermDays", "tags")}
    assert body == {"paymentTermDays": 45, "tags": ["local", "new"]}  # an integer stays an integer
    result = client.update(supplier, {"id": f"eq.{row['id']}"}, body, max_affected=1)
    assert result.count == 1
    server = next(r for r in sandbox.rows("supplier") if r["id"] == row["id"])
    assert (server["paymentTermDays"], server["tags"]) == (45, ["local", "new"])

    new = {"name": "Brand New Supplies Ltd", supplier.tenant_column: client.company_id(),
           "paymentTermDays": from_cell(supplier.column("paymentTermDays"), "30")}
    created = client.insert(supplier, [new]).rows[0]
    assert created["id"].startswith("supp_") and created["createdAt"] and created["paymentTermDays"] == 30
    with pytest.raises(ApiError, match="a supplier named 'Brand New Supplies Ltd' already exists"):
        client.insert(supplier, [new])


# ------------------------------------------------------------------------------------------------ the command
def test_resources_lists_the_tables_and_which_are_hand_written(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["resources"], env=_env(sandbox))
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    assert "from OpenAPI" in lines["supplier"] and "12" in lines["supplier"]
    assert "hand-written" in lines["customer"] and "24" in lines["customer"]
    assert "read-only" in lines["user"]


def test_resources_table_shows_its_columns(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["resources", "supplier"], env=_env(sandbox))
    assert result.exit_code == 0, result.output
    assert "built from the server's OpenAPI document" in result.output
    rows = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    assert "integer" in rows["paymentTermDays"] and "user.id (shows email)" in rows["accountManagerId"]
    assert "yes" in rows["name"] and "key" in rows["id"]


def test_resources_of_an_unknown_table_is_one_line(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["resources", "suplier"], env=_env(sandbox))
    assert result.exit_code == 1 and "did you mean 'supplier'" in result.output and "Traceback" not in result.output


def test_export_template_and_validate_take_any_table(sandbox: Sandbox, tmp_path: Path) -> None:
    env = _env(sandbox)
    xlsx = tmp_path / "suppliers.xlsx"
    result = runner.invoke(app, ["export", "supplier", "-o", str(xlsx)], env=env)
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(xlsx)["supplier"].max_row == 13  # header + 12 suppliers
    _edit(xlsx, "supplier", {(2, "rating"): "excellent"})
    result = runner.invoke(app, ["validate", str(xlsx)], env=env)  # the workbook names its table
    assert result.exit_code == 1 and "rating" in result.output, result.output
    template = tmp_path / "supplier.template.xlsx"
    result = runner.invoke(app, ["template", "supplier", "-o", str(template)], env=env)
    assert result.exit_code == 0, result.output
    header = [c.value for c in openpyxl.load_workbook(template)["supplier"][1]]
    assert "paymentTermDays" in header and "name" in header


def test_template_of_an_unknown_table_offline_names_the_known_ones(tmp_path: Path) -> None:
    result = runner.invoke(app, ["template", "custmer", "-o", str(tmp_path / "t.xlsx")],
                           env={"BULKIO_CONFIG": "", "BULKIO_API_KEY": "", "BULKIO_BASE_URL": "", "COLUMNS": "200"})
    assert result.exit_code == 1 and "did you mean 'customer'" in result.output

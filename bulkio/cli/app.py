"""The `bulkio` command: parse options, call one library function, render the result with rich.

Each command delegates to the library: this module sends no request and builds no table of its own (pandas and
httpx work happens in the library), and every `BulkioError` becomes a one-line message and exit code 1 (2 for
usage errors, as click does). The library's modules are imported inside the commands that use them: loading
this module loads the `bulkio` package (and with it pandas and httpx) but not pandera or the sandbox's web server
(uvicorn, starlette), so ``bulkio --help`` never loads them and each command loads only what it uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from .._version import __version__
from ..errors import ApplyError, BulkioError, ConfigError, UnknownResource
from ..sheets.layout import RESULT_COLUMNS

if TYPE_CHECKING:  # annotations only: the commands import the library themselves, when they run
    from ..api.client import Client
    from ..plan import Plan
    from ..plan.family import FamilyPlan
    from ..run.family import FamilyResults
    from ..run.results import Results

__all__ = ["app", "main"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="bulkio",
    help="Move Carbon ERP records between the API and spreadsheets: export, edit, validate, plan, apply.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

SANDBOX_DEMO_KEY = "sandbox-demo-key"
"""The sandbox's default admin key: a public, fake key that only the local sandbox accepts."""


@contextmanager
def _errors() -> Iterator[None]:
    """Turn bulkio's own errors into one red line and exit code 1 (tracebacks are for bugs, not for bad input)."""
    try:
        yield
    except BulkioError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        raise typer.Exit(1) from exc


def _version(value: bool) -> None:
    if value:
        console.print(f"bulkio {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Move Carbon ERP records between the API and spreadsheets: export, edit, validate, plan, apply."""


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to bind; keep it on loopback.")] = "127.0.0.1",
    rows: Annotated[int, typer.Option(help="Customers to seed for the main company.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same rows and ids.")] = 7,
    max_rows: Annotated[int, typer.Option(help="db-max-rows: the silent cap on every response.")] = 1000,
    allow_tx_override: Annotated[bool, typer.Option(help="Honour 'Prefer: tx=rollback' (off, like the real server).")
                                 ] = False,
    latency: Annotated[float, typer.Option(help="Seconds added to every response.")] = 0.0,
    rate_limit: Annotated[int | None, typer.Option(help="Requests per minute per key (429 beyond, as Carbon's proxy)."
                                                   )] = None,
    fail_503: Annotated[int, typer.Option("--fail-503", help="Answer the next N requests with 503.")] = 0,
    drop: Annotated[int, typer.Option(help="Drop the connection of N requests...")] = 0,
    drop_skip: Annotated[int, typer.Option(help="...after letting this many through.")] = 0,
    drop_after_commit: Annotated[bool, typer.Option(help="Drop after the write committed (outcome unknown).")
                                 ] = False,
    edit: Annotated[list[str] | None, typer.Option(
        help="Concurrent editor: 'N:ID:column=value' changes row ID after N more requests (repeatable).")] = None,
) -> None:
    """Serve a seeded Carbon stand-in (PostgREST dialect) on loopback, for the demo and for trying bulkio safely.

    The admin key is $BULKIO_API_KEY if set, else the public demo key 'sandbox-demo-key'.
    """
    from ..sandbox import Sandbox, Switches
    from ..sandbox.switches import Edit

    switches = Switches(latency=latency, rate_limit=rate_limit, fail_503=fail_503, drop=drop, drop_skip=drop_skip,
                        drop_after_commit=drop_after_commit, max_rows=max_rows, allow_tx_override=allow_tx_override)
    for spec in edit or []:
        try:
            after, key, assignment = spec.split(":", 2)
            column, value = assignment.split("=", 1)
            switches.edits.append(Edit(int(after), "customer", key, {column: value}))
        except ValueError:
            raise typer.BadParameter(f"--edit expects N:ID:column=value, got {spec!r}") from None
    api_key = os.environ.get("BULKIO_API_KEY") or SANDBOX_DEMO_KEY
    server = Sandbox(rows=rows, seed=seed, api_key=api_key, host=host, port=port, switches=switches,
                     log_level="warning")
    key_note = "$BULKIO_API_KEY" if os.environ.get("BULKIO_API_KEY") else f"the demo key '{SANDBOX_DEMO_KEY}'"
    console.print(f"[bold]bulkio sandbox[/] serving {rows} customers at [cyan]http://{host}:{port}[/]; "
                  f"it accepts {key_note}. Ctrl-C stops it.", highlight=False)
    server.serve_forever()


BaseUrl = Annotated[str | None, typer.Option("--base-url", envvar="BULKIO_BASE_URL", show_envvar=True,
                                           help="The API's base URL (default https://rest.carbon.ms). "
                                                "The key comes from $BULKIO_API_KEY or the config file.")]


def _client(base_url: str | None) -> Client:
    from ..api.client import Client

    return Client(base_url=base_url)


@app.command()
def ping(
    base_url: BaseUrl = None,
    resource: Annotated[str, typer.Option(help="Table whose rows to count.")] = "customer",
) -> None:
    """Check the connection: server, auth, company and row count (never prints the key)."""
    from ..api.status import check
    from .render import facts_table

    with _errors(), _client(base_url) as client:
        status = check(client, resource)
    console.print(facts_table("bulkio ping", status.facts()))


@app.command("export")
def export_command(
    resource: Annotated[str, typer.Argument(help="Table to export, e.g. customer (any table: bulkio resources).")
                        ] = "customer",
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .xlsx, .csv or .parquet.")] = Path(
        "customers.xlsx"),
    select: Annotated[str | None, typer.Option(help="Comma-separated columns (default: all but embedding).")] = None,
    where: Annotated[list[str] | None, typer.Option(help="PostgREST filter, e.g. 'name=ilike.*acme*' (repeatable).")
                     ] = None,
    order: Annotated[str | None, typer.Option(help="PostgREST order, e.g. 'name.asc' (the key breaks ties).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
    raw_ids: Annotated[bool, typer.Option(help="Keep reference ids instead of labels.")] = False,
    no_escape: Annotated[bool, typer.Option(help="CSV: do not escape formula-looking cells.")] = False,
    with_: Annotated[list[str] | None, typer.Option(
        "--with", help="Also export this child table's rows of the exported rows, on a sheet of its own, e.g. "
                       "customerContact (repeatable; .xlsx only; bulkio resources <table> lists them).")] = None,
    base_url: BaseUrl = None,
) -> None:
    """Export every row of a table to XLSX (formatted, with dropdowns and a hidden snapshot), CSV or Parquet."""
    from ..api.catalog import resource_for
    from ..export.family import export_family
    from ..export.stream import stream_export
    from ..sheets.write import write_workbook
    from .render import facts_table, row_progress

    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".csv", ".parquet"):
        raise typer.BadParameter(f"{output}: the file name must end in .xlsx, .csv or .parquet")
    if with_ and suffix != ".xlsx":
        raise typer.BadParameter(f"{output}: a {suffix} file holds one table; --with needs an .xlsx workbook "
                                 "(one sheet per table)", param_hint="--with")
    columns = [c.strip() for c in select.split(",") if c.strip()] if select else None
    if with_:
        with _errors(), _client(base_url) as client, row_progress(err_console, f"export {resource}") as progress:
            family = export_family(client, resource, with_, select=columns, filters=where, order=order,
                                   limit=limit, raw_ids=raw_ids, progress=progress)
            write_workbook(family, output)
        info = family.parent.info
        console.print(facts_table(f"exported {sum(family.rows.values())} rows", {
            **{f"{table} rows": count for table, count in family.rows.items()},
            "file": output.resolve(), "host": info.host, "filters": ", ".join(info.filters) or "none"}))
        return
    with _errors(), _client(base_url) as client, row_progress(err_console, f"export {resource}") as progress:
        res = resource_for(client, resource)  # any table the server has: hand-written, else from its OpenAPI
        # page by page: CSV and Parquet in constant memory; XLSX rows written while the next pages are fetched
        info = stream_export(client, res, output, select=columns, where=where, order=order, limit=limit,
                             raw_ids=raw_ids, escape=not no_escape, progress=progress)
    console.print(facts_table(f"exported {info.rows} {resource} rows", {
        "file": output.resolve(), "host": info.host, "order": info.order,
        "filters": ", ".join(info.filters) or "none"}))


SheetTable = Annotated[str | None, typer.Option(
    "--resource", help="Table (default: from the workbook; needed for CSV).")]
"""The table a sheet holds, for the commands that read one (validate, plan, apply)."""


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The edited workbook (.xlsx) or CSV file.")],
    resource: SheetTable = None,
    errors: Annotated[Path | None, typer.Option(help="Error workbook to write (default: <file>.errors.xlsx).")
                      ] = None,
    base_url: BaseUrl = None,
) -> None:
    """Check every cell of an edited sheet; on errors, write an error workbook and exit 1."""
    from ..api.catalog import resource_for
    from ..api.lookups import fetch_lookups
    from ..sheets.read import read_sheet, workbook_family, workbook_table
    from ..validate.errorbook import write_error_workbook
    from ..validate.rules import validate as run_validation
    from .render import issues_table

    with _errors():
        if resource is None and workbook_family(file) is not None:  # a table and its children: every sheet
            from .family import validate_family

            with _client(base_url) as client:
                if validate_family(console, err_console, client, file, errors):
                    raise typer.Exit(1)
            return
        with _client(base_url) as client:
            table = resource or workbook_table(file)
            sheet = read_sheet(file, resource_for(client, table) if table else None)
            lookups = fetch_lookups(client, sheet.resource)
            report = run_validation(sheet, lookups, client=client)
        for warning in sheet.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        if report.issues:
            console.print(issues_table(report))
        if report.has_errors():
            written = write_error_workbook(sheet, report, errors)
            console.print(f"[bold red]{len(report.errors)} error(s)[/], {len(report.warnings)} warning(s); "
                          f"wrote {written} with each bad cell highlighted", highlight=False)
            raise typer.Exit(1)
    console.print(f"[green]no errors[/] in {len(sheet.frame)} rows ({len(report.warnings)} warning(s))",
                  highlight=False)


@app.command()
def template(
    resource: Annotated[str, typer.Argument(help="Table, e.g. customer (not hand-written: asks the server).")
                        ] = "customer",
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .xlsx or .csv (header only).")
                      ] = Path("customer.template.xlsx"),
    from_server: Annotated[bool, typer.Option(help="Fetch the valid labels from the server for dropdowns.")] = False,
    base_url: BaseUrl = None,
) -> None:
    """Write a blank import workbook: headers with each column's type and rules, dropdowns, an example row."""
    from ..api.catalog import resource_for
    from ..api.lookups import fetch_lookups
    from ..resources import get_resource
    from ..sheets.write import template_columns, write_csv, write_template

    with _errors():
        try:
            res = get_resource(resource)
        except UnknownResource as offline:  # not hand-written: the server's OpenAPI document describes it
            try:
                client = _client(base_url)
            except ConfigError:
                raise offline from None  # no server to ask: say which tables bulkio knows offline
            with client:
                res = resource_for(client, resource)
        if output.suffix.lower() == ".csv":
            write_csv([], output, resource=res, columns=template_columns(res))  # no rows: the header alone
        elif output.suffix.lower() == ".xlsx":
            lookups = {}
            if from_server:
                with _client(base_url) as client:
                    lookups = fetch_lookups(client, res, template_columns(res))
            write_template(res, output, lookups=lookups, example=dict(res.example))
        else:
            raise typer.BadParameter(f"{output}: the file name must end in .xlsx or .csv")
    console.print(f"wrote the {res.name} template to {output}", highlight=False)


# ------------------------------------------------------------------------------------------------ plan / apply / undo
EXIT_CHANGES = 3
"""`bulkio plan` exit code: there are changes to apply (0: nothing to do; 1: errors)."""
EXIT_CONFLICTS = 4
"""`bulkio plan` / `apply` exit code: some rows conflict (or, for apply, failed); nothing was overwritten."""

DeleteMissing = Annotated[bool, typer.Option(help="Delete exported rows the sheet no longer holds (needs the "
                                                  "export snapshot of an exported workbook).")]
SkipInvalid = Annotated[bool, typer.Option(help="Plan and apply the valid rows; rows with errors are skipped.")]
AcceptReformatted = Annotated[bool, typer.Option(
    help="Write cells a spreadsheet program reformatted in a CSV (00123 -> 123, 1E5 -> 1.00E+05); by default they "
         "are left as they are, each with a warning.")]
FullRead = Annotated[bool, typer.Option(
    help="Read every exported row back from the server, not only the rows the sheet changes (the report of "
         "server changes to untouched rows then covers tables without updatedAt too; costs a request per page).")]


Match = Annotated[str | None, typer.Option(
    help="Rows without an id update the server row whose key this is (name, readableId; a table known from the "
         "server's document: any columns, with a warning); no match creates. Ambiguous keys are errors.")]
MapHeader = Annotated[list[str] | None, typer.Option(
    "--map", help="Read a sheet header as a column: 'Customer Name=name' (repeatable).")]
MappingFile = Annotated[Path | None, typer.Option(
    help="A TOML mapping file of headers to columns ([columns] then \"Customer Name\" = \"name\").")]
Only = Annotated[str | None, typer.Option(
    help="Do only these: create, update, delete (comma-separated); other rows are skipped, saying why.")]
Blank = Annotated[str | None, typer.Option(
    help="A blank cell of an existing row: 'keep' the field (default for sheets bulkio did not export) or 'clear' "
         "it (default for bulkio's own export).")]


def _foreign_options(match: str | None, maps: list[str] | None, mapping: Path | None, only: str | None,
                     blank: str | None) -> dict[str, Any]:
    """The plan's options for sheets from other systems (issue 17); --map pairs win over the mapping file's."""
    from ..sheets.headers import load_mapping, parse_pairs

    headers = {**(load_mapping(mapping) if mapping else {}), **parse_pairs(maps or ())}
    return {"match": match, "only": only, "blank": blank, "mapping": headers or None}


def _foreign_refused(foreign: dict[str, Any]) -> None:
    """A saved plan was matched, mapped and filtered when it was planned: those options belong to `bulkio plan`."""
    if any(foreign.values()):
        raise typer.BadParameter("--match, --map, --mapping, --only, --blank: a saved plan keeps the options it was "
                                 "planned with; plan again to change them")


def _make_plan(client: Client, file: Path, resource: str | None, delete_missing: bool, skip_invalid: bool,
               accept_reformatted: bool = False, full_read: bool = False, **foreign: Any) -> Plan:
    """The plan of `file`; `foreign`: match, only, blank, mapping (`_foreign_options`), refused by name (a usage
    error) for a workbook of a table and its children."""
    from ..plan import plan as make
    from ..sheets.read import workbook_family

    given = {"match": "--match", "only": "--only", "blank": "--blank", "mapping": "--map/--mapping"}
    named = [option for name, option in given.items() if foreign.get(name) is not None]
    if named and resource is None and workbook_family(file) is not None:
        from .family import refuse_for_family

        refuse_for_family(", ".join(named))

    return make(client, file, resource=resource, delete_missing=delete_missing, skip_invalid=skip_invalid,
                accept_reformatted=accept_reformatted, full_read=full_read, **foreign)


def _show_plan(result: Plan | FamilyPlan) -> None:
    from ..plan.family import FamilyPlan
    from .render import show_plan

    if isinstance(result, FamilyPlan):
        from .family import show_family_plan

        show_family_plan(console, err_console, result)
        return
    show_plan(console, err_console, result)


def _save_mapping(file: Path, result: Plan, mapping: dict[str, str] | None, target: Path) -> None:
    """``bulkio plan --save-mapping``: the headers as the plan read them, as a mapping file for --mapping."""
    from ..sheets.headers import infer_headers

    infer_headers(file, result.resource, mapping, sheet=result.sheet).save(target)
    console.print(f"wrote the header mapping to {target} (use it with --mapping {target})", highlight=False)


_REPORTS = {".xlsx": "to_excel", ".md": "to_markdown", ".json": "to_json", ".html": "to_html", ".htm": "to_html"}
"""``bulkio plan --report``: the file's suffix -> the plan's method that writes it."""


def _write_report(result: Plan | FamilyPlan, report: Path) -> None:
    from ..plan.family import FamilyPlan

    method = _REPORTS.get(report.suffix.lower())
    if method is None:
        raise typer.BadParameter(f"{report}: the report must end in .xlsx, .md, .json or .html")
    if isinstance(result, FamilyPlan) and method == "to_excel":  # one table's report: a sheet per kind
        raise typer.BadParameter(f"{report}: a workbook of several tables is reported as .html, .md or .json")
    getattr(result, method)(report)
    console.print(f"wrote the plan report to {report}", highlight=False)


@app.command("plan")
def plan_command(
    file: Annotated[Path, typer.Argument(help="The edited workbook (.xlsx) or CSV file.")],
    resource: SheetTable = None,
    delete_missing: DeleteMissing = False,
    skip_invalid: SkipInvalid = False,
    accept_reformatted: AcceptReformatted = False,
    full_read: FullRead = False,
    report: Annotated[Path | None, typer.Option(
        help="Also write the plan to plan.html (a page to review), plan.xlsx, plan.md or plan.json.")] = None,
    server_check: Annotated[bool, typer.Option(help="Where the server honours Prefer: tx=rollback, send the real "
                                                    "batches in rolled-back transactions to check constraints.")
                            ] = False,
    save: Annotated[Path | None, typer.Option(
        "--save", help="Also save the plan (e.g. review.bulkio-plan.json): 'bulkio apply FILE' then writes exactly "
                       "what you reviewed, without planning again.")] = None,
    match: Match = None,
    map_header: MapHeader = None,
    mapping: MappingFile = None,
    save_mapping: Annotated[Path | None, typer.Option(
        help="Write the headers as they were read (inferred and mapped) to this TOML file, for --mapping.")] = None,
    only: Only = None,
    blank: Blank = None,
    base_url: BaseUrl = None,
) -> None:
    """Dry run: what importing the sheet would create, update, delete; conflicts and errors. Writes nothing.

    With --save, the plan is saved to apply later exactly as shown. Exit code: 0 nothing to do, 3 changes to apply,
    4 conflicts, 1 errors.
    """
    with _errors(), _client(base_url) as client:
        foreign = _foreign_options(match, map_header, mapping, only, blank)
        result = _make_plan(client, file, resource, delete_missing, skip_invalid, accept_reformatted, full_read,
                            **foreign)
        _refused_for_family(result, ("--server-check", server_check), ("--save-mapping", save_mapping is not None))
        _show_plan(result)
        if save_mapping is not None:
            _save_mapping(file, result, foreign["mapping"], save_mapping)
        if report is not None:
            _write_report(result, report)
        if server_check:
            from ..run.apply import server_check as check

            ran, refused = check(client, result, batch_size=_batch_size(client, None))
            if not ran:
                err_console.print("[yellow]server check:[/] this server does not honour Prefer: tx=rollback, so "
                                  "nothing was sent (it would have been written)", highlight=False)
            elif refused:
                for row in refused:
                    err_console.print(f"[red]server check:[/] row {row.row} ({row.label}): {row.error}",
                                      highlight=False)
                raise typer.Exit(1)
            else:
                console.print("[green]server check:[/] the database accepted every batch (rolled back)")
        if save is not None:
            _save_plan(result, save)
    if result.blocked:
        raise typer.Exit(1)
    if result.has_conflicts:
        raise typer.Exit(EXIT_CONFLICTS)
    raise typer.Exit(EXIT_CHANGES if result.has_changes else 0)


def _refused_for_family(result: Plan | FamilyPlan, *options: tuple[str, bool]) -> None:
    """Options that work on one table's plan, given for a workbook of a table and its children: refused by name
    before anything is shown or written."""
    from ..plan.family import FamilyPlan

    given = [name for name, on in options if on]
    if isinstance(result, FamilyPlan) and given:
        from .family import refuse_for_family

        refuse_for_family(", ".join(given))


def _save_plan(result: Plan | FamilyPlan, path: Path) -> None:
    """``bulkio plan --save``: write the plan and say how to apply exactly it."""
    written = result.save(path)
    console.print(f"saved the plan to {written}: [cyan]bulkio apply {written}[/] writes exactly this, without "
                  "planning again (a sheet edited since is refused)", highlight=False)
    if result.blocked:
        err_console.print("[yellow]warning:[/] this plan has errors: apply refuses it until the sheet is fixed "
                          "and planned again", highlight=False)


def _batch_size(client: Client, given: int | None) -> int:
    """Rows per write: the option, else the settings (config file). `apply` and `server_check` fall back to the
    table's own default, never to the settings, so without this the config file's ``batch_size`` never arrived."""
    return client.settings.batch_size if given is None else given


def _confirm(yes: bool, question: str) -> None:
    """Go on when `yes` or the user says so; else say nothing was written and exit 1 (off a terminal: ask for
    --yes)."""
    if yes:
        return
    if not sys.stdin.isatty():
        err_console.print("[bold red]error:[/] not on a terminal: add --yes to apply without asking", highlight=False)
        raise typer.Exit(1)
    if not typer.confirm(question, default=False):
        console.print("nothing was written", highlight=False)
        raise typer.Exit(1)


def _finish(results: Results | FamilyResults, sheet_file: Path | None, output: Path | None) -> None:
    from ..run.family import FamilyResults
    from .render import results_table

    if isinstance(results, FamilyResults):
        from .family import show_family_results

        show_family_results(console, results, sheet_file, output)
        if any(r.status.value in ("failed", "conflict") for t in results.tables for r in t.rows):
            raise typer.Exit(EXIT_CONFLICTS)
        return

    for table in results_table(results):
        console.print(table)
    if sheet_file is not None and sheet_file.exists():
        from ..run.results import write_results_workbook
        from ..sheets.read import read_sheet

        target = output or sheet_file.with_name(f"{sheet_file.stem}.results.xlsx")
        sheet = read_sheet(sheet_file, results.resource, sheet=results.sheet)
        write_results_workbook(results, sheet.frame, sheet.rows, target, base=sheet.base, meta=sheet.meta)
        console.print(f"wrote {target}: your rows with {', '.join(RESULT_COLUMNS[:-1])} and {RESULT_COLUMNS[-1]}",
                      highlight=False)
    console.print(f"undo with: bulkio undo {results.run_id}", highlight=False)
    if any(r.status.value in ("failed", "conflict") for r in results.rows):
        raise typer.Exit(EXIT_CONFLICTS)


def _resume(client: Client, run: str, file: Path | None, results: Path | None, concurrency: int | None) -> None:
    """``bulkio apply --resume RUN``: finish the run, then write its results workbook beside the sheet it came
    from (the one the run recorded, unless `file` names another)."""
    from ..run.apply import resume
    from ..run.journal import Journal, find_run
    from .render import kind_progress

    header = Journal(find_run(run)).header()
    with kind_progress(err_console, client) as progress:
        try:
            done = resume(client, run, concurrency=concurrency, progress=progress)
        except ApplyError as exc:
            if exc.results is not None:
                _finish(exc.results, None, None)
            raise
    source = Path(header["source"]) if header.get("source") else None
    _finish(done, file or source, results)


def _nothing_to_apply(result: Plan | FamilyPlan) -> bool:
    """Whether `result` writes nothing (said so, and exit 4 when rows conflict); refuses a plan with errors first."""
    result.check_applicable()
    if result.has_changes:
        return False
    console.print("nothing to apply", highlight=False)
    if result.has_conflicts:
        raise typer.Exit(EXIT_CONFLICTS)
    return True


def _write(client: Client, result: Plan | FamilyPlan, sheet_file: Path | None, results: Path | None,
           batch_size: int | None, concurrency: int | None, bulk_updates: bool = False) -> None:
    """Apply `result` with progress bars, then show the outcome and write the results workbook beside `sheet_file`
    (also when the run stops): the one write of both ways into `bulkio apply`, so an option of the run is passed
    in one place."""
    from ..run.apply import apply
    from .render import kind_progress

    with kind_progress(err_console, client) as progress:
        try:
            done = apply(client, result, batch_size=_batch_size(client, batch_size), concurrency=concurrency,
                         progress=progress, bulk_updates=bulk_updates)
        except ApplyError as exc:
            if exc.results is not None:
                _finish(exc.results, sheet_file, results)
            raise
    _finish(done, sheet_file, results)


def _pace(client: Client, result: Plan | FamilyPlan, batch_size: int | None, bulk_updates: bool) -> None:
    """Before asking: how long the plan's updates take at the key's rate when they need many requests, and the
    bulk option with its trade-off (`bulkio.run.apply.pace_note`), for each table of a family."""
    from ..run.apply import pace_note

    for each in getattr(result, "plans", (result,)):
        note = pace_note(client, each, _batch_size(client, batch_size), bulk_updates=bulk_updates)
        if note:
            err_console.print(f"[yellow]note:[/] {each.resource.name}: {note}", highlight=False)


def _plan_options_refused(resource: str | None, delete_missing: bool, skip_invalid: bool,
                          accept_reformatted: bool, full_read: bool = False) -> None:
    """A saved plan was made with its own options: one given again could only disagree with what was reviewed."""
    given = [name for name, on in (("--resource", resource is not None), ("--delete-missing", delete_missing),
                                   ("--skip-invalid", skip_invalid), ("--accept-reformatted", accept_reformatted),
                                   ("--full-read", full_read))
             if on]
    if given:
        raise typer.BadParameter(f"{', '.join(given)}: a saved plan keeps the options it was planned with; plan "
                                 "again to change them")


def _apply_saved(client: Client, file: Path, yes: bool, without_sheet: bool, batch_size: int | None,
                 concurrency: int | None, results: Path | None, bulk_updates: bool = False) -> None:
    """``bulkio apply PLAN``: write exactly the saved plan, without a second plan (no lookups, no second read of
    the rows it compared). Its sheet must be unchanged, its host the client's. The stale check re-reads the rows
    it writes (not with `bulk_updates`: each batch re-reads its rows just before writing); if the server changed,
    it warns and goes on rather than plans again, since a new plan is not what was reviewed: the guards make each
    row the server changed a conflict, never an overwrite."""
    from ..plan import FamilyPlan, Plan
    from .render import saved_plan_table

    saved = Plan.load_saved(file, client, require_sheet=not without_sheet)
    result = FamilyPlan.of_saved(client, saved) if saved.family is not None else saved.plan
    console.print(saved_plan_table(saved))
    _show_plan(result)
    if _nothing_to_apply(result):
        return
    _pace(client, result, batch_size, bulk_updates)
    # the check only warns (guards turn each changed row into a conflict); with bulk updates each batch re-reads
    # its rows just before writing and deletes carry their guards, so the check would pay requests for nothing
    if not bulk_updates and result.is_stale(client):
        err_console.print("[yellow]warning:[/] the server changed since this plan was made: rows it writes that "
                          "changed become conflicts, never overwritten (plan again to include them)", highlight=False)
    _confirm(yes, "apply this saved plan?")
    _write(client, result, saved.sheet, results, batch_size, concurrency, bulk_updates)


@app.command("apply")
def apply_command(
    file: Annotated[Path | None, typer.Argument(help="The edited workbook (.xlsx) or CSV file, or a plan saved by "
                                                     "'bulkio plan --save'.")] = None,
    resource: SheetTable = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    delete_missing: DeleteMissing = False,
    skip_invalid: SkipInvalid = False,
    accept_reformatted: AcceptReformatted = False,
    full_read: FullRead = False,
    batch_size: Annotated[int | None, typer.Option(
        help="Rows per request (default: batch_size in the config file, else 500).")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Requests in flight at once (default: concurrency in the config file, else 4).")] = None,
    resume_run: Annotated[str | None, typer.Option("--resume", help="Finish a stopped run (its id, or folder).")
                          ] = None,
    results: Annotated[Path | None, typer.Option("--results", help="Results workbook to write "
                                                                   "(default: <file>.results.xlsx).")] = None,
    without_sheet: Annotated[bool, typer.Option(
        help="Apply a saved plan whose sheet is gone (no results workbook then); a sheet edited since the plan "
             "is refused all the same.")] = False,
    bulk_updates: Annotated[bool, typer.Option(
        "--bulk-updates", help="Updates with values of their own as a read and an upsert per batch instead of a "
        "guarded PATCH per distinct value: the guard is checked just before the write, not in it.")] = False,
    match: Match = None,
    map_header: MapHeader = None,
    mapping: MappingFile = None,
    only: Only = None,
    blank: Blank = None,
    base_url: BaseUrl = None,
) -> None:
    """Apply an edited sheet: plan, show, confirm, then write in guarded batches with a journal. Given a plan saved
    by 'bulkio plan --save', apply exactly that plan: no second plan.

    Exit code: 0 all applied, 4 some rows conflicted or failed (see the results workbook), 1 errors or a stopped
    run (resume it with --resume).
    """
    from ..plan.saved import looks_saved

    with _errors(), _client(base_url) as client:
        if resume_run is not None:
            _resume(client, resume_run, file, results, concurrency)
            return
        if file is None:
            raise typer.BadParameter("give the file to apply (or --resume RUN)")
        foreign = _foreign_options(match, map_header, mapping, only, blank)
        if looks_saved(file):
            _plan_options_refused(resource, delete_missing, skip_invalid, accept_reformatted, full_read)
            _foreign_refused(foreign)
            _apply_saved(client, file, yes, without_sheet, batch_size, concurrency, results, bulk_updates)
            return
        if without_sheet:
            raise typer.BadParameter("--without-sheet is for a saved plan (bulkio plan --save)")
        result = _make_plan(client, file, resource, delete_missing, skip_invalid, accept_reformatted, full_read,
                            **foreign)
        _show_plan(result)
        if _nothing_to_apply(result):
            return
        _pace(client, result, batch_size, bulk_updates)
        for _ in range(3):
            _confirm(yes, "apply these changes?")
            if yes or not result.is_stale(client):
                break
            err_console.print("[yellow]the server changed since this plan: here is the new one[/]")
            result = _make_plan(client, file, resource, delete_missing, skip_invalid, accept_reformatted,
                                full_read, **foreign)
            _show_plan(result)
        _write(client, result, file, results, batch_size, concurrency, bulk_updates)


@app.command()
def undo(
    run: Annotated[str, typer.Argument(help="The run to revert (its id, printed by apply, or its folder).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Undo without asking.")] = False,
    base_url: BaseUrl = None,
) -> None:
    """Revert an apply run: delete what it created, set back what it updated, re-insert what it deleted.

    Guarded like any import: a row changed since the run is a conflict, not overwritten.
    """
    from ..run.family import is_family_run
    from ..run.undo import plan_undo
    from ..run.undo import undo as revert
    from .render import kind_progress

    with _errors(), _client(base_url) as client:
        if is_family_run(run):  # a table and its children: each phase's reversal, undone in reverse order
            from .family import undo_family_run

            undo_family_run(console, err_console, client, run, yes, _confirm)
            return
        reversal = plan_undo(client, run)
        _show_plan(reversal)
        if not reversal.has_changes:
            console.print("nothing to undo", highlight=False)
            return
        _confirm(yes, "undo these changes?")
        with kind_progress(err_console, client) as progress:
            done = revert(client, run, progress=progress, reversal=reversal)
        _finish(done, None, None)


@app.command()
def resources(
    table: Annotated[str | None, typer.Argument(help="Show this table's columns (default: list the tables).")
                     ] = None,
    base_url: BaseUrl = None,
) -> None:
    """List the tables your key can see (from the server's OpenAPI document), or one table's columns."""
    from rich.table import Table

    from ..api.catalog import related_tables, resource_for, server_differences, server_tables
    from ..resources import RESOURCES

    with _errors(), _client(base_url) as client:
        if table is None:
            tables = server_tables(client)
        else:
            res = resource_for(client, table)
            drift = server_differences(client, res)
            children = related_tables(client, res)
    if table is None:
        listing = Table(title=f"{len(tables)} tables this key can see", title_justify="left")
        for title in ("table", "columns", "definition", "writes", "description"):
            listing.add_column(title, overflow="fold")
        for info in tables:
            kind = "hand-written" if info.hand_written else ("from OpenAPI" if info.usable else
                                                               f"[red]unusable[/]: {info.problem}")
            listing.add_row(info.name, str(info.columns), kind, "yes" if info.writable else "read-only",
                            info.description)
        console.print(listing)
        return
    kind = "hand-written definition" if table in RESOURCES else "built from the server's OpenAPI document"
    detail = Table(title=f"{res.name}: {len(res.columns)} columns, key {res.key} ({kind})", title_justify="left")
    for title in ("column", "type", "required", "key", "reference", "notes"):
        detail.add_column(title, overflow="fold")
    for column in res.columns:
        ref = column.reference
        shown = "" if ref is None else f"{ref.table}.{ref.column}" + (f" (shows {ref.label})" if ref.label else "")
        notes = ", ".join(n for n in ("read-only" if column.read_only else "",
                                      "not exported" if not column.exported else "",
                                      "natural key" if column.name in res.natural_key else "",
                                      column.description) if n)
        detail.add_row(column.name, column.type.value, "yes" if column.required else "",
                       "key" if column.name == res.key else "", shown, notes)
    console.print(detail)
    family = ", ".join(f"{link.child.name} ({link.child.name}.{link.column}, on delete {link.on_delete})"
                       for link in children)
    console.print(f"can be exported with: {family or 'none'}", highlight=False)
    for line in drift:
        err_console.print(f"[yellow]differs from the server:[/] {line}", highlight=False)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Workbook to write.")] = Path("customers.xlsx"),
    rows: Annotated[int, typer.Option(help="Customers in the sandbox.")] = 500,
    seed: Annotated[int, typer.Option(help="The sandbox's seed (bulkio sandbox uses the same default).")] = 7,
) -> None:
    """Start a sandbox Carbon, export its customers to a workbook, and say what to do next."""
    from ..api.client import Client
    from ..export.table import export_table
    from ..sandbox import Sandbox
    from ..sheets.write import write_workbook
    from .render import row_progress

    with _errors(), Sandbox(rows=rows, seed=seed, api_key=SANDBOX_DEMO_KEY) as server:
        console.print(f"[bold]1.[/] started a sandbox Carbon with {rows} customers at {server.url}",
                      highlight=False)
        with Client(base_url=server.url, api_key=server.api_key) as client:
            with row_progress(console, "2. exporting customers") as progress:
                result = export_table(client, "customer", progress=progress)
            requests = client.requests_made
        console.print(f"[bold]2.[/] exported {result.info.rows} customers in {requests} requests "
                      "(a count, the pages, one per lookup table)", highlight=False)
        path = write_workbook(result, output).resolve()
    console.print(f"[bold]3.[/] wrote [green]{path}[/] ({result.info.rows} customers, "
                  f"{len(result.frame.columns)} columns)", highlight=False)
    console.print(
        "\n[bold]Next:[/]\n"
        f"  - open {output} in Excel or LibreOffice: references show as names with dropdowns,\n"
        "    grey columns are read-only, hidden sheets remember what was exported.\n"
        "  - keep a sandbox running (same seed, same rows): [cyan]make sandbox[/]\n"
        "  - then, in another terminal:\n"
        "      [cyan]export BULKIO_BASE_URL=http://127.0.0.1:8765 BULKIO_API_KEY=sandbox-demo-key[/]\n"
        "      [cyan].venv/bin/bulkio ping[/]\n"
        "      [cyan].venv/bin/bulkio export customer -o eu.csv --where 'currencyCode=eq.EUR'[/]\n"
        f"  - edit {output} (change a cell, write delete in _action, add a row), save, then:\n"
        f"      [cyan].venv/bin/bulkio plan {output}[/]      the dry run: what would change, field by field\n"
        f"      [cyan].venv/bin/bulkio apply {output}[/]     asks, writes in guarded batches, prints the run id\n"
        "      [cyan].venv/bin/bulkio undo RUN-ID[/]          puts everything back",
        highlight=False, soft_wrap=True)


def main() -> None:
    """The ``bulkio`` console script (pyproject's ``[project.scripts]``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

"""The dry run: what importing a sheet would do, row by row and field by field. A plan never writes.

``plan(client, "customers.xlsx")`` reads the sheet, validates it, fetches from the server what its decisions need
(with an export snapshot: only the rows the sheet changes, deletes or pastes in, and the rows changed since the
export; without one: every row of the sheet; in as few requests as the URL budget allows) and compares sheet, export
snapshot and server (`compare`, design decision 3). Each row becomes a `RowPlan` of one `Kind`:

- **create**: an empty id; **update**: only the columns the user changed, each with before -> after;
- **delete**: ``_action = delete``, or a row of the export missing from the sheet with ``delete_missing=True`` (only
  rows the export held: a filtered or limited export never deletes outside what it exported);
- **conflict**: the user and the server both changed a column, differently, since the export; or the row was
  deleted on the server; or a row to delete was changed on the server;
- **skipped**: a row with a validation error (the plan can be applied without them only with ``skip_invalid``);
- **unchanged**; a column only the server changed is left alone and listed as *kept*.

The plan records what `apply` needs: each update's patch body and its guard (the server values of the changed
columns as seen now, so a concurrent edit makes the guarded PATCH match no row), batches, and a hash of the server
rows it saw, so a stale plan can be refused.

The package, in the order a plan is made: `rows` (the model: `Kind`, `RowPlan`, `FieldChange`, `Batch`,
`Unchanged`), `model` (the `Plan`), `fetch` (what the decisions need from the server), `reader` (cells into API
values and canonical forms), `diff` and `compare` (the vectorised three-way compare), `build` (rows into kinds, with
guards), `make` (`plan` and `make_plan`: the phases), `match` and `foreign` (sheets from other systems: rows
matched on a natural key, headers read as columns, ``only`` and the blank rule, before and after the phases),
`report` (DataFrame, Markdown, JSON, XLSX), `html` (the review page and the notebook view), `saved` (a plan kept
in a file, to apply later exactly as reviewed), and `parents` and `family` (a workbook of a table and its children:
one plan per sheet, the children naming their parents by label, new parents included).
"""

from .compare import Columns, columns, compared_columns, diff_rows
from .family import Cascade, FamilyPlan, plan_family
from .make import make_plan, plan
from .model import Plan
from .reader import CellReader, server_value
from .rows import Batch, FieldChange, Kind, RowPlan, Unchanged

__all__ = ["Batch", "Cascade", "CellReader", "Columns", "FamilyPlan", "FieldChange", "Kind", "Plan", "RowPlan",
           "Unchanged", "columns", "compared_columns", "diff_rows", "make_plan", "plan", "plan_family", "server_value"]

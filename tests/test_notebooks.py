"""The notebooks in notebooks/ run top to bottom (each in its own kernel, against the sandbox it starts itself) and
are committed without outputs. `make notebooks` runs just this module; `make test` runs it with everything else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))

# what each notebook leaves in its working folder: evidence that it did its job, not just that it did not raise
WRITES = {
    "01-export.ipynb": ["customers.xlsx", "customers.csv"],
    "02-edit-and-dry-run.ipynb": ["customers-edited.xlsx", "customers-edited.errors.xlsx",
                                  "customers-edited.plan.xlsx", "customers-edited.plan.md"],
    "03-apply-and-undo.ipynb": ["customers-edited.results.xlsx", ".bulkio/runs", "customers-with-contacts.xlsx",
                                "customers-with-contacts-edited.xlsx"],
}


def test_the_three_notebooks_are_there() -> None:
    assert [p.name for p in PATHS] == sorted(WRITES)


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}, "notebook metadata beyond the kernel"
    assert "BULKIO_API_KEY" in path.read_text(encoding="utf-8")  # each reads the key, else starts a sandbox


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_runs_top_to_bottom_against_a_sandbox(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("BULKIO_")]:  # never a real account from the test run
        monkeypatch.delenv(name)
    monkeypatch.setenv("BULKIO_CONFIG", "")  # no config file either
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's own paths warning, not ours
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on a cell's error
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    streams = [o for c in code for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not streams, [o.text for o in streams]  # warnings included
    html = [o for c in code for o in c.outputs if "text/html" in o.get("data", {})]
    assert html  # the rich views a person sees in Jupyter
    shown = json.dumps([o for c in code for o in c.outputs])
    assert "sbx_" not in shown and "api_key='***'" in shown  # the sandbox key (sbx_...) never shows
    for name in WRITES[path.name]:
        assert (tmp_path / name).exists(), name

"""The benchmark harness runs end to end at a small size (CI keeps it working; the figures come from full runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_quick_harness_measures_every_figure_against_its_baseline(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--rows", "600", "--quick", "--output", str(output)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    figures = result["figures"]
    assert set(figures) >= {"csv_export_peak_rss_mb", "xlsx_write_seconds", "xlsx_export_seconds",
                            "read_validate_seconds", "plan_compare_seconds", "apply_requests", "edit_requests"}
    for name, figure in figures.items():
        ratios = [v for k, v in figure.items() if k.startswith("ratio")]
        assert name == "csv_read" or ratios, f"{name} has no ratio to a baseline"
        assert all(isinstance(r, (int, float)) and r > 0 for r in ratios), (name, ratios)
    assert figures["plan_compare_seconds"]["rows_changed"] == 6  # 1% of 600, found by both sides
    assert figures["apply_requests"]["per_row_requests"] == 60 + 60 + 6
    edit = figures["edit_requests"]  # 6 edits each its own value, 20 deletes, 20 creates of a 600-row export
    assert (edit["edits_each_distinct"], edit["deletes"], edit["creates"]) == (6, 20, 20)
    assert edit["lean"]["plan_requests"] <= edit["full_read"]["plan_requests"]
    assert edit["lean_saved_bulk"]["apply_requests"] < edit["lean"]["apply_requests"]  # 6 PATCHes become 2 requests
    assert not output.exists()  # --quick keeps no results

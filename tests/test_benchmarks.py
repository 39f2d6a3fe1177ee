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


def test_the_family_figures_count_a_family_export_by_pages_and_a_family_import_against_its_baseline(
        tmp_path: Path) -> None:
    from benchmarks.family_requests import measure_family

    small, big = (measure_family(rows, creates=4, moves=3, deletes=2) for rows in (30, 90))
    for figures in (small, big):
        export, imported = figures["family_export_requests"], figures["family_import_requests"]
        assert export["contacts"] > export["customers"]  # the setup gave every customer contacts
        # the per-customer baseline: the customers' export, then a request per customer
        assert export["baseline_per_parent_requests"] > export["customers"] > export["bulkio_requests"]
        assert export["filtered"]["customers"] < export["customers"]
        assert imported["bulkio"]["requests"] == imported["bulkio_requests"] == (
            imported["bulkio"]["plan_requests"] + imported["bulkio"]["apply_requests"])
        assert imported["bulkio"]["cascades_told"] == 2
        baseline = imported["baseline"]
        assert baseline["id_lookup_requests_one_per_customer"] == 4 and baseline["id_lookup_requests_one_in_list"] == 1
        assert imported["baseline_requests"] == baseline["requests"] == baseline["requests_with_names_no_lookup"] + 4
        assert imported["baseline_requests"] > imported["bulkio_requests"]
        for figure in (export, export["filtered"], imported):
            ratios = [v for k, v in figure.items() if k.startswith("ratio")]
            assert ratios and all(r > 0 for r in ratios)
    # three times the customers (each table still one page): the family export costs the same requests, the
    # per-customer baseline sixty more
    assert big["family_export_requests"]["bulkio_requests"] == small["family_export_requests"]["bulkio_requests"]
    assert (big["family_export_requests"]["baseline_per_parent_requests"]
            - small["family_export_requests"]["baseline_per_parent_requests"]) == 60
    assert big["family_import_requests"]["bulkio_requests"] == small["family_import_requests"]["bulkio_requests"]

    output = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--rows", "40", "--only", "family", "--quick",
                           "--output", str(output)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(json.loads(done.stdout)["figures"]) == {"family_export_requests", "family_import_requests"}
    assert not output.exists()

"""The stage benchmark runs at a tiny size and reports every stage (no timing asserts)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from zairyu_sync import bench_pairs
from zairyu_sync.bench import format_table, run_benchmark
from zairyu_sync.bench_child import run_module
from zairyu_sync.rules import load_catalog

pytestmark = pytest.mark.unit

#: Which side each fresh-process pair ran first: they alternate, the naive side first.
SIDES_FIRST = {
    "rules_row_by_row": ("naive_reconcile", "reconcile"),
    "to_sql": ("to_sql", "load_run"),
}

STAGES = [
    "generate_sample",
    "write_erp_sqlite",
    "extract_sqlite",
    "validate",
    "isa_sync",
    "reconcile",
    "load_duckdb",
    "plan_alerts",
]


def test_benchmark_reports_every_stage(tmp_path: Path, as_of: date) -> None:
    output = tmp_path / "bench" / "results.json"
    report = run_benchmark(
        60, output=output, as_of=as_of, work_dir=tmp_path / "work", baseline_pairs=2
    )

    written = json.loads(output.read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(report))
    assert set(written) == {"machine", "parameters", "stages", "baselines", "measured_at"}
    assert written["machine"]["cpu_count"] >= 1
    assert written["machine"]["python"].startswith("3.")
    calibration = written["machine"]["calibration"]
    assert set(calibration) == {
        "python_loop_ns_per_item",
        "fresh_memory_seconds_per_gib",
        "arrow_hash_ns_per_key",
    }
    assert all(value > 0 for value in calibration.values())
    assert written["parameters"]["employees"] == 60
    assert written["parameters"]["as_of"] == "2026-11-25"
    assert written["parameters"]["postgres"] is False
    assert [stage["stage"] for stage in written["stages"]] == STAGES
    for stage in written["stages"]:
        assert set(stage) == {"stage", "rows", "seconds", "rows_per_second", "peak_rss_mb"}
        assert stage["rows"] > 0, stage["stage"]
        assert stage["seconds"] >= 0
        assert stage["peak_rss_mb"] > 0
    assert set(written["baselines"]) == {
        "sequential_requests",
        "rules_row_by_row",
        "three_conditions_row_by_row",
        "to_sql",
    }
    rules = written["baselines"]["rules_row_by_row"]
    reconciled = next(s for s in written["stages"] if s["stage"] == "reconcile")
    assert rules["rows"] == rules["input_rows"]["employees"] == reconciled["rows"]
    assert rules["findings"] == rules["ours_findings"] == written["parameters"]["findings"] > 0
    assert rules["same_findings"] is True
    assert rules["ours_reconcile_seconds"] == round(reconciled["seconds"], 4)
    assert rules["seconds"] > 0
    assert rules["rules"] == list(load_catalog().codes)
    three = written["baselines"]["three_conditions_row_by_row"]
    assert three["hits"] == three["vectorised_hits"] > 0
    assert written["baselines"]["sequential_requests"]["sampled_requests"] > 0
    assert written["baselines"]["to_sql"]["rows"] == next(
        s["rows"] for s in written["stages"] if s["stage"] == "load_duckdb"
    )
    for name, output_count in (
        ("rules_row_by_row", rules["findings"]),
        ("to_sql", written["baselines"]["to_sql"]["rows"]),
    ):
        fresh = written["baselines"][name]["fresh_processes"]
        assert fresh["output"] == output_count, name
        assert [pair["first"] for pair in fresh["pairs"]] == list(SIDES_FIRST[name]), name
        assert all(
            pair["naive_seconds"] > 0 and pair["ours_seconds"] > 0 for pair in fresh["pairs"]
        )
        ratios = sorted(pair["ratio"] for pair in fresh["pairs"])
        assert fresh["ratio"] == round((ratios[0] + ratios[1]) / 2, 2), name

    table = format_table(report)
    lines = table.splitlines()
    assert lines[0].startswith("machine: ") and lines[1].startswith("calibration: Python loop ")
    assert lines[3].split() == ["stage", "rows", "seconds", "rows/s", "peak", "MiB"]
    assert "reconcile" in table
    assert "baseline rules_row_by_row: naive/ours" in table
    assert "in fresh processes (median of 2 pairs)" in table
    assert "three_conditions_row_by_row: naive/ours" in table


def test_benchmark_refuses_negative_baseline_pairs(tmp_path: Path, as_of: date) -> None:
    with pytest.raises(ValueError, match="baseline_pairs"):
        run_benchmark(60, as_of=as_of, work_dir=tmp_path, baseline_pairs=-1)


def test_pairs_refuse_sides_that_disagree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seconds = {"naive_reconcile": 2.0, "reconcile": 0.1}
    digests = {"naive_reconcile": "a", "reconcile": "b"}

    def fake_child(side: str, inputs_dir: Path) -> dict[str, object]:
        return {"seconds": seconds[side], "output_count": 1, "output_digest": digests[side]}

    monkeypatch.setattr(bench_pairs, "_time_in_a_fresh_process", fake_child)
    with pytest.raises(RuntimeError, match="different outputs"):
        bench_pairs.time_pairs("rules", tmp_path, pairs=1)
    digests["reconcile"] = "a"
    report = bench_pairs.time_pairs("rules", tmp_path, pairs=3)
    assert [pair["first"] for pair in report["pairs"]] == [
        "naive_reconcile",
        "reconcile",
        "naive_reconcile",
    ]
    assert report["ratio"] == 20.0
    with pytest.raises(ValueError, match="at least 1"):
        bench_pairs.time_pairs("rules", tmp_path, pairs=0)


def test_a_timed_child_that_fails_is_an_error_not_a_result(tmp_path: Path) -> None:
    result = tmp_path / "timing.json"
    result.write_text('{"seconds": 1.0}', encoding="utf-8")  # a stale result is not read
    arguments = ["no-such-side", str(tmp_path), str(result)]
    with pytest.raises(ChildProcessError, match="exit status 1"):
        run_module("zairyu_sync.bench_pairs", arguments, result)
    assert not result.exists()


def test_benchmark_refuses_too_small_roster(tmp_path: Path, as_of: date) -> None:
    with pytest.raises(ValueError, match="at least"):
        run_benchmark(3, as_of=as_of, work_dir=tmp_path)

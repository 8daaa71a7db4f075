"""The reconcile benchmark's inputs: realistic, shaped to the workload, tiled into copies."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import zairyu_sync.reconcile as reconcile_module
from zairyu_sync.bench_reconcile import (
    ReconcileInputs,
    load_inputs,
    load_task_inputs,
    realistic_inputs,
    run_reconcile_benchmark,
    save_inputs,
    save_task_inputs,
    shape_workload,
    tile_inputs,
    time_reconcile,
)
from zairyu_sync.erp_sample import SCENARIOS
from zairyu_sync.errors import ReconcileError
from zairyu_sync.reconcile import ReconciliationResult, reconcile

pytestmark = pytest.mark.unit

AS_OF = date(2026, 11, 25)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> ReconcileInputs:
    work = tmp_path_factory.mktemp("bench-reconcile")
    return realistic_inputs(len(SCENARIOS) + 20, as_of=AS_OF, work_dir=work)


def _findings(inputs: ReconcileInputs, threads: int | None = None) -> pd.DataFrame:
    result: ReconciliationResult = inputs.evaluate(reconcile, threads=threads)
    return result.discrepancies


def test_saved_inputs_load_back_identical(base: ReconcileInputs, tmp_path: Path) -> None:
    save_inputs(base, tmp_path / "cache")
    loaded = load_inputs(tmp_path / "cache")
    for name, frame in base.frames().items():
        pd.testing.assert_frame_equal(loaded.frames()[name], frame, obj=name)
    assert loaded.erp_receipt_numbers == base.erp_receipt_numbers
    assert loaded.as_of == base.as_of


def test_workload_has_the_holder_share_with_daily_timesheets(base: ReconcileInputs) -> None:
    shaped = shape_workload(base, holder_share=0.5, timesheet_days=28)
    emp = shaped.employees
    holders = emp.loc[emp["outside_status_permission"] == "comprehensive", "employee_id"]
    assert len(holders) == round(0.5 * len(emp))
    ts = shaped.timesheets
    window = ts[ts["work_date"] >= pd.Timestamp(AS_OF) - pd.Timedelta(days=27)]
    days = window.groupby("employee_id")["work_date"].nunique()
    assert (days.reindex(holders, fill_value=0) == 28).all()
    kept = base.timesheets.merge(ts, how="left", indicator=True)
    assert (kept["_merge"] == "both").all()  # the base's own rows are all still there


def test_tiled_copies_are_independent_rosters(base: ReconcileInputs) -> None:
    single = _findings(base)
    tiled = tile_inputs(base, 2 * len(base.employees))
    assert tiled.employees["employee_id"].is_unique
    assert tiled.applications["receipt_number"].is_unique
    cards = tiled.employees["residence_card_number"].dropna()
    assert cards.is_unique
    findings = _findings(tiled)
    assert len(findings) == 2 * len(single)
    counts = findings["rule_code"].value_counts()
    pd.testing.assert_series_equal(counts, 2 * single["rule_code"].value_counts())


def test_a_partial_copy_gives_exactly_the_employees_asked_for(base: ReconcileInputs) -> None:
    wanted = len(base.employees) + len(base.employees) // 3
    tiled = tile_inputs(base, wanted)
    assert len(tiled.employees) == wanted
    ids = set(tiled.employees["employee_id"])
    assert set(tiled.applications["employee_id"]) <= ids
    assert set(tiled.timesheets["employee_id"]) <= ids


def test_tiled_frames_come_in_a_runs_order_and_are_searched_not_hashed(
    base: ReconcileInputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the extracts and the ISA sync order them; out of order, the findings are the same."""
    tiled = tile_inputs(base, 3 * len(base.employees))
    for name, key in [
        ("employees", "employee_id"),
        ("applications", "employee_id"),
        ("timesheets", "employee_id"),
        ("isa_applications", "receipt_number"),
    ]:
        values = tiled.frames()[name][key]
        assert values.is_monotonic_increasing, name
    searched = reconcile_module._unique_rows_in_order
    answers: list[object] = []

    def spy(*args: object) -> object:
        answers.append(searched(*args))  # type: ignore[arg-type]
        return answers[-1]

    monkeypatch.setattr(reconcile_module, "_unique_rows_in_order", spy)
    in_order = _findings(tiled, threads=1)  # one thread: the roster is prepared first
    assert answers[0] is not None  # the roster: employees and their applications searched
    frames = {
        name: frame.sample(frac=1.0, random_state=3) for name, frame in tiled.frames().items()
    }
    frames["quarantine"] = tiled.quarantine  # its order is the row order its details list
    shuffled = ReconcileInputs(
        **frames,
        erp_receipt_numbers=tiled.erp_receipt_numbers,
        as_of=tiled.as_of,
    )
    answers.clear()
    pd.testing.assert_frame_equal(_findings(shuffled, threads=1), in_order)
    assert answers and all(answer is None for answer in answers)  # hashed instead


def test_timing_report(base: ReconcileInputs) -> None:
    report = time_reconcile(base, repeats=2)
    assert report["employees"] == len(base.employees)
    assert len(report["seconds"]) == 2
    assert report["findings"] == len(_findings(base))
    assert report["peak_rss_mb"] >= report["rss_before_mb"] > 0
    assert [sorted(call) for call in report["phases"]] == [["inputs", "rules"]] * 2
    best = report["phases"][report["seconds"].index(min(report["seconds"]))]
    assert report["best_rules_seconds"] == best["rules"]
    assert 0 < best["inputs"] + best["rules"] <= report["best_seconds"] + 1e-3
    assert report["rules_phase_employees_per_second"] == pytest.approx(
        len(base.employees) / best["rules"], rel=1e-3
    )


def test_threads_blocks_and_inputs_read_back_change_no_finding(
    base: ReconcileInputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads, the holder-block hours path and Parquet-typed inputs give the same findings."""
    inputs = tile_inputs(
        shape_workload(base, holder_share=0.5, timesheet_days=28), 3 * len(base.employees)
    )
    by_blocks = reconcile_module._daily_hours_by_holder_blocks
    answers: list[object] = []

    def spy(*args: object, **kwargs: object) -> object:
        answer = by_blocks(*args, **kwargs)  # type: ignore[arg-type]
        answers.append(answer)
        return answer

    monkeypatch.setattr(reconcile_module, "_daily_hours_by_holder_blocks", spy)
    one = _findings(inputs, threads=1)
    assert answers and all(answer is not None for answer in answers)  # the block path ran
    assert (one["rule_code"] == "HOURS_LIMIT_EXCEEDED").any()
    pd.testing.assert_frame_equal(_findings(inputs, threads=3), one)
    save_task_inputs(inputs, tmp_path)
    as_read = load_task_inputs(tmp_path)  # text as the reconcile task reads it
    pd.testing.assert_frame_equal(_findings(as_read, threads=2), one)
    monkeypatch.setattr(reconcile_module, "_daily_hours_by_holder_blocks", lambda *a, **k: None)
    pd.testing.assert_frame_equal(_findings(inputs, threads=2), one)  # all rows at once


def test_threads_must_be_at_least_one(base: ReconcileInputs) -> None:
    with pytest.raises(ReconcileError, match="threads must be at least 1"):
        reconcile(
            base.employees,
            base.applications,
            base.isa_applications,
            base.quarantine,
            as_of=base.as_of,
            threads=0,
        )


def test_the_benchmark_times_reconcile_in_a_fresh_process(tmp_path: Path) -> None:
    """Built, written as a run writes it, read and timed by a child: the same findings."""
    employees = len(SCENARIOS) + 20
    report = run_reconcile_benchmark(
        2 * employees, cache_dir=tmp_path, base_employees=employees, repeats=2
    )
    inputs = load_task_inputs(tmp_path / f"task-inputs-n{2 * employees}")
    assert report["employees"] == len(inputs.employees) == 2 * employees
    assert report["findings"] == len(_findings(inputs))
    assert len(report["seconds"]) == 2
    assert not (tmp_path / f"task-inputs-n{2 * employees}" / "timing.json").exists()

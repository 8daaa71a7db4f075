"""Naive baselines against our stages in pairs of fresh interpreters (ADR 0013).

The stage benchmark times each of our stages once, in the process that has just generated the
roster, validated it and synced ISA, and each naive baseline once after them. That single call
compares two different situations: ours is the first call in a process whose heap holds the
sync's Python objects (and gets the ISA frame as Python objects, which no DAG task does), and it
lasts a fraction of a second on a VM whose speed moves by up to 1.8x within minutes, while the
naive side lasts many seconds and averages that out.

A *pair* here is the naive implementation and ours, each called once in a new interpreter that
reads the stage's inputs from Parquet, as the DAG's task reads the run's files; only the call is
timed (not the imports or the reading; lazy imports and first-touch memory inside the call
count). Pairs alternate which side runs first, so a VM that speeds up or slows down over the
minutes of a run moves both sides alike, and the reported ratio is the median of the pairs'
ratios. Both sides of every pair must produce the same output (the same discrepancy ids; the
same rows loaded), or the comparison is refused.

Baselines:

* ``rules``: :func:`~zairyu_sync.bench_naive.naive_reconcile` against
  :func:`~zairyu_sync.reconcile.reconcile` on :func:`~zairyu_sync.bench_reconcile.save_task_inputs`
  files.
* ``load``: ``DataFrame.to_sql`` of the four frames into a new DuckDB file against
  :func:`~zairyu_sync.load.load_run` into a new DuckDB warehouse (migrated and given its
  reference data before the clock starts), on :meth:`LoadFrames.save` files.

Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd
import sqlalchemy as sa

from zairyu_sync import __version__
from zairyu_sync.arrow_memory import use_data_stage_memory_pool
from zairyu_sync.bench_child import run_module
from zairyu_sync.load import (
    RunRecord,
    apply_migrations,
    load_reference_data,
    load_run,
    warehouse_engine,
)
from zairyu_sync.rules import load_catalog
from zairyu_sync.statuses import load_statuses

log = logging.getLogger(__name__)

Baseline = Literal["rules", "load"]
#: Each baseline's (naive, ours) sides, as the child process knows them.
SIDES: Final[dict[Baseline, tuple[str, str]]] = {
    "rules": ("naive_reconcile", "reconcile"),
    "load": ("to_sql", "load_run"),
}
_LOAD_FRAMES: Final = ("discrepancies", "quarantine", "employees", "isa")
_TO_SQL_TABLES: Final = {
    "discrepancies": "discrepancies",
    "quarantine": "quarantine",
    "employees": "employee_snapshots",
    "isa": "isa_application_statuses",
}


@dataclass(frozen=True)
class LoadFrames:
    """What the load stage gets: the findings, the quarantine, the snapshot and ISA statuses."""

    discrepancies: pd.DataFrame
    quarantine: pd.DataFrame
    employees: pd.DataFrame
    isa: pd.DataFrame
    as_of: date

    @property
    def run_key(self) -> str:
        """The benchmark's run key for ``as_of``."""
        return f"bench/{self.as_of.isoformat()}"

    @property
    def rows(self) -> int:
        """Rows of all four frames."""
        return len(self.discrepancies) + len(self.quarantine) + len(self.employees) + len(self.isa)

    def load(self, engine: sa.Engine) -> Any:
        """:func:`~zairyu_sync.load.load_run` of the frames as one successful run."""
        now = datetime.now(UTC)
        record = RunRecord(
            run_key=self.run_key,
            dag_run_id="bench",
            logical_date=now,
            as_of=self.as_of,
            started_at=now,
            finished_at=now,
            status="success",
            counts={"valid": len(self.employees), "reconciled": len(self.employees)},
            code_version=__version__,
            rule_catalog_version=load_catalog().version,
        )
        return load_run(
            engine,
            record,
            self.discrepancies,
            self.quarantine,
            employees=self.employees,
            isa_applications=self.isa,
        )

    def to_sql(self, engine: sa.Engine) -> None:
        """The naive load: ``DataFrame.to_sql`` of each frame (no upsert, no events)."""
        with engine.begin() as conn:
            for name, table in _TO_SQL_TABLES.items():
                frame: pd.DataFrame = getattr(self, name)
                frame.to_sql(table, conn, index=False, if_exists="replace", chunksize=10_000)

    def save(self, directory: Path) -> None:
        """Write the frames as a run writes them (``runs.write_frame``) and the as-of date."""
        from zairyu_sync.runs import write_frame

        directory.mkdir(parents=True, exist_ok=True)
        for name in _LOAD_FRAMES:
            write_frame(getattr(self, name), directory / f"{name}.parquet")
        (directory / "as_of.txt").write_text(self.as_of.isoformat() + "\n", encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> LoadFrames:
        """The frames :meth:`save` wrote, as the DAG's load task reads them."""
        from zairyu_sync.runs import read_frame

        frames = {name: read_frame(directory / f"{name}.parquet") for name in _LOAD_FRAMES}
        as_of = date.fromisoformat((directory / "as_of.txt").read_text(encoding="utf-8").strip())
        return cls(**frames, as_of=as_of)


def prepare_warehouse(engine: sa.Engine) -> None:
    """Migrate a warehouse and give it the catalog's and the statuses' reference data."""
    apply_migrations(engine)
    load_reference_data(engine, load_catalog(), load_statuses())


def time_pairs(baseline: Baseline, inputs_dir: Path, *, pairs: int) -> dict[str, Any]:
    """Time ``pairs`` pairs of the baseline's naive side and ours, each in a new interpreter.

    Args:
        baseline: ``rules`` or ``load`` (see the module docstring).
        inputs_dir: the saved inputs (:func:`~zairyu_sync.bench_reconcile.save_task_inputs`
            for ``rules``, :meth:`LoadFrames.save` for ``load``).
        pairs: how many pairs (at least 1); odd pairs run the naive side first, even ones ours.

    Returns:
        ``method``, ``pairs`` (each: ``naive_seconds``, ``ours_seconds``, ``ratio``,
        ``first``), ``naive_median_seconds``, ``ours_median_seconds``, ``ratio`` (the median of
        the pairs' ratios), ``output`` (what both sides produced: findings or rows).

    Raises:
        ValueError: fewer than one pair.
        ChildProcessError: a timed process failed.
        RuntimeError: the two sides produced different outputs.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")
    naive_side, our_side = SIDES[baseline]
    timed: list[dict[str, Any]] = []
    outputs: set[str] = set()
    counts: set[int] = set()
    for index in range(pairs):
        order = (naive_side, our_side) if index % 2 == 0 else (our_side, naive_side)
        calls = {side: _time_in_a_fresh_process(side, inputs_dir) for side in order}
        for call in calls.values():
            outputs.add(call["output_digest"])
            counts.add(call["output_count"])
        naive, ours = calls[naive_side]["seconds"], calls[our_side]["seconds"]
        timed.append(
            {
                "first": order[0],
                "naive_seconds": round(naive, 4),
                "ours_seconds": round(ours, 4),
                "ratio": round(naive / ours, 2) if ours > 0 else None,
            }
        )
    if len(outputs) != 1:
        raise RuntimeError(f"{baseline}: the naive side and ours produced different outputs")
    ratios = [pair["ratio"] for pair in timed if pair["ratio"] is not None]
    report = {
        "method": (
            f"{naive_side} against {our_side}, each call in a new interpreter reading the "
            "inputs from Parquet; pairs alternate which side runs first; ratio = median of "
            "the pairs' ratios"
        ),
        "pairs": timed,
        "naive_median_seconds": round(statistics.median(p["naive_seconds"] for p in timed), 4),
        "ours_median_seconds": round(statistics.median(p["ours_seconds"] for p in timed), 4),
        "ratio": round(statistics.median(ratios), 2) if ratios else None,
        "output": counts.pop(),
    }
    log.info("%s baseline in fresh processes: naive/ours = %s", baseline, report["ratio"])
    return report


def _time_in_a_fresh_process(side: str, inputs_dir: Path) -> dict[str, Any]:
    """One timed call of ``side`` in a new interpreter (this module's ``__main__``)."""
    with tempfile.TemporaryDirectory(prefix="zairyu-bench-pair-") as tmp:
        result_path = Path(tmp) / "timing.json"
        arguments = [side, str(inputs_dir), str(result_path)]
        return run_module("zairyu_sync.bench_pairs", arguments, result_path)


def _timed_call(side: str, inputs_dir: Path, scratch: Path) -> dict[str, Any]:
    """Read the inputs, then time one call of ``side``; its output as a count and a digest."""
    if side in SIDES["rules"]:
        from zairyu_sync.bench_naive import naive_reconcile
        from zairyu_sync.bench_reconcile import load_task_inputs
        from zairyu_sync.config import PolicySettings
        from zairyu_sync.reconcile import reconcile

        inputs = load_task_inputs(inputs_dir)
        evaluate: Any = naive_reconcile if side == "naive_reconcile" else reconcile
        gc.collect()
        started = time.perf_counter()
        result = inputs.evaluate(evaluate, policy=PolicySettings())
        seconds = time.perf_counter() - started
        findings = result if isinstance(result, pd.DataFrame) else result.discrepancies
        ids = sorted(str(value) for value in findings["discrepancy_id"])
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
        return {"side": side, "seconds": seconds, "output_count": len(ids), "output_digest": digest}
    frames = LoadFrames.read(inputs_dir)
    if side == "load_run":
        engine = warehouse_engine(f"duckdb:///{scratch / 'warehouse.duckdb'}")
        prepare_warehouse(engine)
        gc.collect()
        started = time.perf_counter()
        frames.load(engine)
    else:
        engine = sa.create_engine(f"duckdb:///{scratch / 'to_sql.duckdb'}")
        gc.collect()
        started = time.perf_counter()
        frames.to_sql(engine)
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        loaded = int(conn.exec_driver_sql("SELECT count(*) FROM employee_snapshots").scalar_one())
    engine.dispose()
    return {
        "side": side,
        "seconds": seconds,
        "output_count": frames.rows,
        "output_digest": f"{frames.rows}:{loaded}",
    }


def _child_main(argv: list[str]) -> None:
    """``python -m zairyu_sync.bench_pairs SIDE INPUTS_DIR RESULT_JSON``: time one call."""
    side, inputs_dir, result_path = argv[0], Path(argv[1]), Path(argv[2])
    known = {name for sides in SIDES.values() for name in sides}
    if side not in known:
        raise SystemExit(f"unknown side {side!r}; one of {', '.join(sorted(known))}")
    use_data_stage_memory_pool()  # as the DAG's tasks do
    timing = _timed_call(side, inputs_dir, result_path.parent)
    result_path.write_text(json.dumps(timing), encoding="utf-8")


if __name__ == "__main__":
    _child_main(sys.argv[1:])

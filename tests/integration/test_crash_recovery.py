"""A process killed at any task boundary, or inside the load transaction, loses nothing.

One clean run of all stages (warehouse A) is the reference. For each crash point a subprocess
runs the stages and is killed there (SIGKILL after a stage; ``os._exit(137)`` inside the load
through the ``ZAIRYU_TEST_CRASH_IN_LOAD`` test hook of :mod:`zairyu_sync.load`); then a fresh
process reruns the whole date into the same run root and warehouse B. B must equal A table by
table, apart from wall-clock columns, and the outbox must hold each alert exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.pipeline_stages import (
    World,
    run_stages,
    sample_world,
    world_at,
)
from zairyu_sync.load import TEST_CRASH_IN_LOAD_ENV

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 25)
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Every warehouse table, and the columns that hold wall-clock time (when the process ran, not
#: what it found); those are the only columns left out of the comparison. ``api_calls`` counts
#: the requests of the run that loaded: a rerun after the ISA sync finished lists incrementally
#: against the ISA mirror that sync wrote (ADR 0008), so it makes fewer.
WALL_CLOCK_COLUMNS: dict[str, frozenset[str]] = {
    "schema_migrations": frozenset({"applied_at"}),
    "reconciliation_runs": frozenset({"started_at", "finished_at", "api_calls"}),
    "discrepancies": frozenset({"updated_at"}),
    "discrepancy_events": frozenset({"recorded_at"}),
    "quarantine": frozenset(),
    "employee_snapshots": frozenset(),
    "isa_application_statuses": frozenset({"recorded_at"}),
    "alert_log": frozenset({"created_at", "delivered_at", "last_attempt_at"}),
    "rules": frozenset(),
    "residence_statuses": frozenset(),
}

#: Where the first process dies: after each stage, and inside the load transaction.
CRASH_POINTS = ("extract", "validate", "isa_sync", "reconcile", "in_load", "load", "alert")


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A small ERP (SQLite) and the ISA simulator serving its applications on loopback."""
    root = tmp_path_factory.mktemp("crash-world")
    with sample_world(root, employees=120, as_of=AS_OF, seed=23) as world:
        yield world


def table_rows(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows (sorted, wall-clock columns left out), by table name."""
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    try:
        with engine.connect() as conn:
            listed = conn.exec_driver_sql(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name IN (SELECT table_name FROM "
                "information_schema.tables WHERE table_type = 'BASE TABLE') "
                "ORDER BY table_name, ordinal_position"
            ).all()
            by_table: dict[str, list[str]] = {}
            for table, column in listed:
                by_table.setdefault(str(table), []).append(str(column))
            names = set(by_table)
            assert names == set(WALL_CLOCK_COLUMNS), "a new table needs a wall-clock column rule"
            tables: dict[str, list[tuple[object, ...]]] = {}
            for name in sorted(names):
                columns = by_table[name]
                kept = [column for column in columns if column not in WALL_CLOCK_COLUMNS[name]]
                assert set(columns) - set(kept) == WALL_CLOCK_COLUMNS[name]
                select = ", ".join(f'"{column}"' for column in kept)
                rows = conn.exec_driver_sql(f'SELECT {select} FROM "{name}"').all()  # noqa: S608
                tables[name] = sorted((tuple(row) for row in rows), key=repr)
            return tables
    finally:
        engine.dispose()


def delivered_alert_ids(warehouse: Path) -> list[str]:
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT alert_id FROM alert_log WHERE status = 'delivered' ORDER BY alert_id"
            ).all()
            return [str(alert_id) for (alert_id,) in rows]
    finally:
        engine.dispose()


def outbox_files(outbox: Path) -> list[str]:
    """The outbox's messages (alert ids) and nothing else (no leftover temp files)."""
    names = sorted(path.name for path in outbox.iterdir())
    assert all(name.endswith(".eml") for name in names), names
    return [name.removesuffix(".eml") for name in names]


@pytest.fixture(scope="module")
def reference(
    world_files: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[World, dict[str, list[tuple[object, ...]]]]:
    """Warehouse A: one clean run of all stages, in this process."""
    erp, url = world_files
    world = world_at(tmp_path_factory.mktemp("reference"), erp, url)
    summaries = run_stages(world, AS_OF)
    assert summaries["reconcile"]["findings"] > 0, "the world must produce findings"
    assert summaries["alert"]["sent"] > 0, "the world must produce alerts"
    return world, table_rows(world.warehouse)


def _run_subprocess(
    worlds: Sequence[World], *, crash_after: str | None, crash_in_load: bool
) -> int:
    """Run the stage runner over ``worlds`` (same ERP and simulator) in a new process."""
    env = dict(os.environ)
    env.pop(TEST_CRASH_IN_LOAD_ENV, None)
    if crash_in_load:
        env[TEST_CRASH_IN_LOAD_ENV] = "1"
    command = [
        sys.executable,
        "-m",
        "tests.integration.pipeline_stages",
        "--erp",
        str(worlds[0].erp),
        "--simulator-url",
        worlds[0].simulator_url,
        "--as-of",
        AS_OF.isoformat(),
    ]
    for world in worlds:
        command += ["--world-dir", str(world.warehouse.parent)]
    if crash_after is not None:
        command += ["--crash-after", crash_after]
    completed = subprocess.run(  # noqa: S603
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if completed.returncode not in (0, -9, 137):
        pytest.fail(f"stage runner exited {completed.returncode}: {completed.stderr[-3000:]}")
    return completed.returncode


def test_reference_run_has_rows_in_every_result_table(
    reference: tuple[World, dict[str, list[tuple[object, ...]]]],
) -> None:
    world, tables = reference
    for name in ("reconciliation_runs", "discrepancies", "discrepancy_events", "quarantine"):
        assert tables[name], f"the reference run loaded no {name}"
    assert len(tables["reconciliation_runs"]) == 1
    assert outbox_files(world.outbox) == delivered_alert_ids(world.warehouse)


@dataclass(frozen=True)
class Recovery:
    """One crash point's outcome: the killed process, what it left, and the rerun."""

    world: World
    crash_exit: int
    left_after_crash: tuple[int, int]
    rerun_exit: int


def _counts(warehouse: Path) -> tuple[int, int]:
    """Runs and discrepancies in a warehouse ((0, 0) when none was created yet)."""
    if not warehouse.exists():
        return (0, 0)
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    try:
        with engine.connect() as conn:
            tables = {
                str(name)
                for (name,) in conn.exec_driver_sql(
                    "SELECT table_name FROM information_schema.tables"
                ).all()
            }
            if "reconciliation_runs" not in tables:
                return (0, 0)
            runs = conn.exec_driver_sql("SELECT count(*) FROM reconciliation_runs").scalar()
            findings = conn.exec_driver_sql("SELECT count(*) FROM discrepancies").scalar()
            return (int(runs or 0), int(findings or 0))
    finally:
        engine.dispose()


def _crash(crash_point: str, world: World) -> tuple[int, tuple[int, int]]:
    in_load = crash_point == "in_load"
    crashed = _run_subprocess(
        [world], crash_after=None if in_load else crash_point, crash_in_load=in_load
    )
    return crashed, _counts(world.warehouse)


@pytest.fixture(scope="module")
def recoveries(
    world_files: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Recovery]:
    """Every crash point's killed process (two at a time, each in its own directory), then one
    fresh process that reruns the date in every crashed world in turn."""
    erp, url = world_files
    worlds = {point: world_at(tmp_path_factory.mktemp(point), erp, url) for point in CRASH_POINTS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {point: pool.submit(_crash, point, world) for point, world in worlds.items()}
        crashes = {point: future.result() for point, future in futures.items()}
    rerun = _run_subprocess(list(worlds.values()), crash_after=None, crash_in_load=False)
    return {
        point: Recovery(
            world=worlds[point],
            crash_exit=crashes[point][0],
            left_after_crash=crashes[point][1],
            rerun_exit=rerun,
        )
        for point in CRASH_POINTS
    }


@pytest.mark.parametrize("crash_point", CRASH_POINTS)
def test_rerun_after_a_crash_equals_one_clean_run(
    crash_point: str,
    reference: tuple[World, dict[str, list[tuple[object, ...]]]],
    recoveries: dict[str, Recovery],
) -> None:
    reference_world, expected = reference
    recovery = recoveries[crash_point]
    world = recovery.world
    assert recovery.crash_exit in (-9, 137), "the first process must have been killed"
    if crash_point == "in_load":
        assert recovery.left_after_crash == (0, 0), "nothing of the killed load was kept"
    elif crash_point in ("load", "alert"):
        assert recovery.left_after_crash == (1, len(expected["discrepancies"]))
    else:
        assert recovery.left_after_crash == (0, 0), "nothing was loaded before the load"
    assert recovery.rerun_exit == 0

    actual = table_rows(world.warehouse)
    for name, rows in expected.items():
        assert len(actual[name]) == len(set(actual[name])), f"duplicate rows in {name}"
        assert actual[name] == rows, f"{name} differs from one clean run"
    alert_ids = delivered_alert_ids(world.warehouse)
    assert alert_ids == delivered_alert_ids(reference_world.warehouse)
    assert outbox_files(world.outbox) == alert_ids, "each alert is in the outbox exactly once"
    report = world.run_root / "residence_status_reconciliation" / AS_OF.isoformat() / "report.html"
    assert report.is_file()

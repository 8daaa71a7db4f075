"""Stage benchmark: time and peak memory of each pipeline stage on a synthetic roster.

:func:`run_benchmark` generates a sample ERP of ``employees`` foreign employees
(:func:`zairyu_sync.erp_sample.generate_sample`), writes it to SQLite (and to a throwaway
PostgreSQL schema when a URL is given, dropped afterwards) and measures extract, validate, ISA
sync (against a loopback :class:`~zairyu_sync.immigration.simulator.SimulatorServer`, rate limit
off, the ``--isa-latency-ms`` latency added to every answer), reconcile, load (DuckDB file;
PostgreSQL when given) and alert planning, each with ``time.perf_counter``. Peak RSS is
``getrusage(RUSAGE_SELF).ru_maxrss``: a process high-water mark, so a stage's value includes
every earlier stage. It also measures naive baselines: the whole rule catalog evaluated row by row
in plain Python (:func:`zairyu_sync.bench_naive.naive_reconcile`, over every row of the inputs the
reconcile stage got, its findings checked against the stage's), the earlier three simplified rule
conditions row by row against the same three vectorised (kept so that runs stay comparable),
``DataFrame.to_sql`` and one request per receipt number.

Speed targets are measured here, never asserted in tests.
"""

from __future__ import annotations

import json
import logging
import re
import resource
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import sqlalchemy as sa

from zairyu_sync import __version__
from zairyu_sync.bench_machine import describe_machine
from zairyu_sync.bench_naive import naive_reconcile
from zairyu_sync.bench_pairs import LoadFrames, prepare_warehouse, time_pairs
from zairyu_sync.canonical import NO_FIXED_PERIOD
from zairyu_sync.config import PolicySettings
from zairyu_sync.erp_sample import SampleErp, generate_sample, write_erp
from zairyu_sync.extract import extract_snapshot
from zairyu_sync.immigration.client import HttpImmigrationClient
from zairyu_sync.immigration.simulator import FaultSettings, SimulatorDataset, SimulatorServer
from zairyu_sync.immigration.sync import fetch_isa_applications
from zairyu_sync.load import warehouse_engine
from zairyu_sync.pipeline import receipt_numbers
from zairyu_sync.reconcile import reconcile
from zairyu_sync.routing import load_routing
from zairyu_sync.rules import load_catalog
from zairyu_sync.validate import validate_snapshot

if TYPE_CHECKING:
    from zairyu_sync.bench_reconcile import ReconcileInputs

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Receipt numbers fetched one by one for the sequential-request baseline (then extrapolated).
SEQUENTIAL_SAMPLE = 500
#: Employees evaluated row by row for the three-condition baseline (then extrapolated).
NAIVE_ROW_SAMPLE = 200_000
_CLIENT_ID = "bench-employer"
_CLIENT_SECRET = secrets.token_urlsafe(16)  # a fresh secret for the loopback simulator


@dataclass(frozen=True)
class StageTiming:
    """One measured stage.

    Attributes:
        stage: the stage name.
        rows: rows the stage processed (its main input).
        seconds: wall-clock seconds (``time.perf_counter``).
        peak_rss_mb: process peak RSS after the stage, in MiB (a high-water mark).
    """

    stage: str
    rows: int
    seconds: float
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        """Rows per second (0 when nothing was timed)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "stage": self.stage,
            "rows": self.rows,
            "seconds": round(self.seconds, 4),
            "rows_per_second": round(self.rows_per_second, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


class _Stopwatch:
    def __init__(self) -> None:
        self.stages: list[StageTiming] = []

    def measure(self, stage: str, rows: Callable[[_T], int], work: Callable[[], _T]) -> _T:
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        timing = StageTiming(stage, rows(result), seconds, peak_rss_mb())
        self.stages.append(timing)
        log.info("bench %s: %d rows in %.3f s", stage, timing.rows, seconds)
        return result


@contextmanager
def postgres_schema(url: str, prefix: str = "zs_bench") -> Iterator[str]:
    """A throwaway schema on ``url``, dropped afterwards; yields a URL scoped to it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError("unexpected schema name")
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')  # sql-format-ok: generated identifier
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            drop = f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'
            conn.exec_driver_sql(drop)  # sql-format-ok: validated generated identifier
        admin.dispose()


@dataclass(frozen=True)
class TargetSizes:
    """Sizes of the target-scale measurements; None skips one (see ``docs/performance.md``).

    Attributes:
        reconcile_employees: rules evaluation over this many employees
            (:mod:`zairyu_sync.bench_reconcile`).
        isa_applications: ISA sync throughput over this many applications against a simulator
            limited to ``isa_rate_limit`` requests/s with ``isa_latency_ms`` latency
            (:mod:`zairyu_sync.immigration.throughput`).
        national_employees: the sharded extract + validate + reconcile + load of this many
            employees on PostgreSQL, ``national_shards`` shards on ``national_workers``
            processes (:mod:`zairyu_sync.bench_scale`).
        daily_employees: a daily run after 1 % of this many employees changed.
    """

    reconcile_employees: int | None = None
    isa_applications: int | None = None
    isa_rate_limit: float = 200.0
    isa_latency_ms: float = 30.0
    national_employees: int | None = None
    national_shards: int = 16
    national_workers: int = 1
    daily_employees: int | None = None

    def counts(self) -> list[tuple[str, int | None]]:
        """The sizes by command-line option, for validation."""
        return [
            ("--reconcile-employees", self.reconcile_employees),
            ("--isa-applications", self.isa_applications),
            ("--national-employees", self.national_employees),
            ("--shards", self.national_shards),
            ("--workers", self.national_workers),
            ("--daily-employees", self.daily_employees),
        ]


def run_targets(sizes: TargetSizes, *, postgres_url: str | None, work_dir: Path) -> dict[str, Any]:
    """Run the target-scale measurements ``sizes`` asks for; results by section name."""
    from zairyu_sync.bench_reconcile import run_reconcile_benchmark
    from zairyu_sync.bench_scale import measure_daily_incremental, measure_national_scale
    from zairyu_sync.immigration.throughput import measure_isa_sync_throughput

    results: dict[str, Any] = {}
    if sizes.reconcile_employees:
        results["reconcile_scaled"] = run_reconcile_benchmark(
            sizes.reconcile_employees,
            cache_dir=work_dir / "reconcile-inputs",
            base_employees=min(sizes.reconcile_employees, 100_000),
        )
    if sizes.isa_applications:
        results["isa_throughput"] = measure_isa_sync_throughput(
            applications=sizes.isa_applications,
            rate_limit_per_second=sizes.isa_rate_limit,
            latency_ms=sizes.isa_latency_ms,
        )
    if sizes.national_employees and postgres_url:
        results["national_scale"] = measure_national_scale(
            postgres_url,
            sizes.national_employees,
            sizes.national_shards,
            workers=sizes.national_workers,
            base_employees=min(sizes.national_employees, 100_000),
            work_dir=work_dir / "national",
        )
    if sizes.daily_employees and postgres_url:
        results["daily_incremental"] = measure_daily_incremental(
            postgres_url, sizes.daily_employees, work_dir=work_dir / "daily"
        )
    return results


def run_benchmark(
    employees: int,
    *,
    output: Path | None = None,
    postgres_url: str | None = None,
    as_of: date | None = None,
    seed: int = 7,
    work_dir: Path | None = None,
    targets: TargetSizes | None = None,
    baseline_pairs: int = 3,
) -> dict[str, Any]:
    """Run the stage benchmark once.

    Args:
        employees: foreign employees in the synthetic roster (at least the number of seeded
            scenarios, see :func:`~zairyu_sync.erp_sample.generate_sample`).
        output: JSON file to write the results to (its directory is created), or None.
        postgres_url: a PostgreSQL SQLAlchemy URL; when given, extract and load are also
            measured there, in a throwaway schema dropped afterwards.
        as_of: the as-of date (default 2026-11-25, so runs are comparable).
        seed: the sample's random seed.
        work_dir: where the SQLite ERP and DuckDB warehouse go (default: a temporary directory,
            removed afterwards).
        targets: target-scale measurements to run after the stages (none by default).
        baseline_pairs: pairs of fresh interpreters that time the rules and the load against
            their naive baselines again (:mod:`zairyu_sync.bench_pairs`); 0 skips them.

    Returns:
        ``{"machine", "parameters", "stages", "baselines"}``; every stage has ``stage``,
        ``rows``, ``seconds``, ``rows_per_second`` and ``peak_rss_mb``.

    Raises:
        ValueError: a roster too small for the seeded scenarios, or negative ``baseline_pairs``.
    """
    if baseline_pairs < 0:
        raise ValueError(f"baseline_pairs must not be negative, got {baseline_pairs}")
    day = as_of or date(2026, 11, 25)
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        return _run(employees, day, seed, work_dir, postgres_url, output, targets, baseline_pairs)
    with tempfile.TemporaryDirectory(prefix="zairyu-bench-") as tmp:
        return _run(employees, day, seed, Path(tmp), postgres_url, output, targets, baseline_pairs)


def _run(
    employees: int,
    as_of: date,
    seed: int,
    work_dir: Path,
    postgres_url: str | None,
    output: Path | None,
    targets: TargetSizes | None,
    baseline_pairs: int,
) -> dict[str, Any]:
    machine = describe_machine(calibrate=True)  # first, while nothing else ran in this process
    watch = _Stopwatch()
    sample = watch.measure(
        "generate_sample",
        lambda s: len(s.tables["hr_employee"]),
        lambda: generate_sample(employees, as_of=as_of, seed=seed),
    )
    sqlite = sa.create_engine(f"sqlite:///{work_dir / 'erp.sqlite'}")
    watch.measure("write_erp_sqlite", _total, lambda: write_erp(sample, sqlite))
    policy = PolicySettings()
    snapshot = watch.measure(
        "extract_sqlite",
        lambda s: len(s.employees),
        lambda: extract_snapshot(
            sqlite, as_of=as_of, timesheet_lookback_days=policy.hours_lookback_days
        ),
    )
    sqlite.dispose()
    baselines: dict[str, Any] = {}
    with _maybe_postgres(postgres_url) as pg_url:
        if pg_url is not None:
            pg = sa.create_engine(pg_url)
            watch.measure("write_erp_postgres", _total, lambda: write_erp(sample, pg))
            watch.measure(
                "extract_postgres",
                lambda s: len(s.employees),
                lambda: extract_snapshot(
                    pg, as_of=as_of, timesheet_lookback_days=policy.hours_lookback_days
                ),
            )
            pg.dispose()
        outcome = watch.measure(
            "validate",
            lambda _: len(snapshot.employees),
            lambda: validate_snapshot(
                snapshot.employees, snapshot.applications, snapshot.timesheets, as_of=as_of
            ),
        )
        receipts = sorted(receipt_numbers(snapshot.applications))
        latency_ms = (targets or TargetSizes()).isa_latency_ms
        isa, api_calls, sequential = _isa_sync(watch, sample, receipts, latency_ms)
        baselines["sequential_requests"] = {**sequential, "listing_api_calls": api_calls}
        from zairyu_sync.bench_reconcile import ReconcileInputs  # it imports this module

        rule_inputs = ReconcileInputs(
            employees=outcome.employees,
            applications=outcome.applications,
            timesheets=outcome.timesheets,
            quarantine=outcome.quarantine,
            isa_applications=isa,
            erp_receipt_numbers=tuple(receipts),
            as_of=as_of,
        )
        result = watch.measure(
            "reconcile",
            lambda _: len(outcome.employees),
            lambda: rule_inputs.evaluate(reconcile, policy=policy),
        )
        frames = LoadFrames(result.discrepancies, outcome.quarantine, outcome.employees, isa, as_of)
        duckdb = warehouse_engine(f"duckdb:///{work_dir / 'warehouse.duckdb'}")
        prepare_warehouse(duckdb)
        watch.measure("load_duckdb", lambda _: frames.rows, lambda: frames.load(duckdb))
        warehouses = [duckdb]
        if pg_url is not None:
            pg_warehouse = warehouse_engine(pg_url)
            prepare_warehouse(pg_warehouse)
            watch.measure("load_postgres", lambda _: frames.rows, lambda: frames.load(pg_warehouse))
            warehouses.append(pg_warehouse)
        digests = watch.measure(
            "plan_alerts",
            lambda _: len(result.discrepancies),
            lambda: _plan(duckdb, frames.run_key, as_of),
        )
        baselines["rules_row_by_row"] = _naive_rules(rule_inputs, result.discrepancies, watch)
        baselines["three_conditions_row_by_row"] = _three_naive_conditions(
            outcome.employees, as_of, watch
        )
        baselines["to_sql"] = _to_sql_baseline(frames, work_dir, watch)
        for engine in warehouses:
            engine.dispose()
    if baseline_pairs:
        _time_baseline_pairs(baselines, rule_inputs, frames, work_dir / "pairs", baseline_pairs)
    report: dict[str, Any] = {
        "machine": machine,
        "parameters": {
            "employees": employees,
            "as_of": as_of.isoformat(),
            "seed": seed,
            "postgres": postgres_url is not None,
            "code_version": __version__,
            "erp_rows": {name: len(rows) for name, rows in sample.tables.items()},
            "isa_applications": len(sample.isa_applications),
            "findings": len(result.discrepancies),
            "digests": len(digests),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stages": [stage.as_dict() for stage in watch.stages],
        "baselines": baselines,
    }
    if targets is not None:
        report["targets"] = run_targets(targets, postgres_url=postgres_url, work_dir=work_dir)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _time_baseline_pairs(
    baselines: dict[str, Any],
    rule_inputs: ReconcileInputs,
    frames: LoadFrames,
    directory: Path,
    pairs: int,
) -> None:
    """Add ``fresh_processes`` to the rules and ``to_sql`` baselines (ADR 0013).

    The same inputs the stages got, saved as the run's files, then timed pair by pair in fresh
    interpreters (:func:`~zairyu_sync.bench_pairs.time_pairs`).
    """
    from zairyu_sync.bench_reconcile import save_task_inputs

    save_task_inputs(rule_inputs, directory / "rules")
    frames.save(directory / "load")
    rules = baselines["rules_row_by_row"]
    rules["fresh_processes"] = time_pairs("rules", directory / "rules", pairs=pairs)
    baselines["to_sql"]["fresh_processes"] = time_pairs("load", directory / "load", pairs=pairs)


def _total(counts: dict[str, int]) -> int:
    return sum(counts.values())


@contextmanager
def _maybe_postgres(url: str | None) -> Iterator[str | None]:
    if url is None:
        yield None
        return
    with postgres_schema(url) as scoped:
        yield scoped


def _isa_sync(
    watch: _Stopwatch, sample: SampleErp, receipts: list[str], latency_ms: float
) -> tuple[pd.DataFrame, int, dict[str, Any]]:
    """Time our listing sync and the one-request-per-receipt baseline against the simulator.

    Both see the same ``latency_ms`` added to every API answer (a remote API is not loopback;
    without latency both would measure only the two processes' CPU).
    """
    seed = {
        "organization_applications": sample.organization_applications,
        "personal_applications": sample.personal_applications,
    }
    dataset = SimulatorDataset.from_json(json.dumps(seed))
    with SimulatorServer(
        dataset,
        client_id=_CLIENT_ID,
        client_secret=_CLIENT_SECRET,
        rate_limit_per_second=None,
        faults=FaultSettings(latency_ms=latency_ms),
    ) as server:
        with _client(server.base_url) as client:
            client.authenticate()
            before = client.api_calls
            isa = watch.measure("isa_sync", len, lambda: fetch_isa_applications(client, receipts))
            api_calls = client.api_calls - before
        probe = receipts[:SEQUENTIAL_SAMPLE]
        with _client(server.base_url) as client:
            client.authenticate()
            started = time.perf_counter()
            for receipt in probe:
                client.get_application(receipt)
            seconds = time.perf_counter() - started
    ours = watch.stages[-1].seconds
    extrapolated = seconds / len(probe) * len(receipts) if probe else 0.0
    return (
        isa,
        api_calls,
        {
            "latency_ms": latency_ms,
            "receipts": len(receipts),
            "sampled_requests": len(probe),
            "seconds_sampled": round(seconds, 4),
            "requests_per_second": round(len(probe) / seconds, 1) if seconds > 0 else 0.0,
            "extrapolated_seconds_all_receipts": round(extrapolated, 4),
            "ours_seconds": round(ours, 4),
            "ours_requests_per_second": round(api_calls / ours, 1) if ours > 0 else 0.0,
            "ratio": round(extrapolated / ours, 2) if ours > 0 else None,
        },
    )


def _client(base_url: str) -> HttpImmigrationClient:
    return HttpImmigrationClient(
        base_url,
        _CLIENT_ID,
        _CLIENT_SECRET,
        page_size=500,
        max_requests_per_second=1_000_000.0,
        max_total_seconds=None,
    )


def _plan(engine: sa.Engine, run_key: str, as_of: date) -> list[Any]:
    from zairyu_sync.alert_plan import plan_alerts

    catalog = load_catalog()
    remediation = {rule.code: (rule.remediation_en, rule.remediation_ja) for rule in catalog.rules}
    return plan_alerts(
        engine,
        run_key=run_key,
        as_of=as_of,
        routing=load_routing(),
        rule_titles=catalog.titles(),
        remediation=remediation,
        report_link=None,
    )


def _naive_rules(inputs: ReconcileInputs, ours: pd.DataFrame, watch: _Stopwatch) -> dict[str, Any]:
    """Every catalog rule row by row in plain Python against our reconcile stage.

    :func:`~zairyu_sync.bench_naive.naive_reconcile` runs over all rows of the inputs the
    reconcile stage got (no sample, nothing extrapolated), timed with ``time.perf_counter``; its
    findings are compared with the stage's findings (``ours``) by discrepancy id.
    """
    started = time.perf_counter()
    naive = inputs.evaluate(naive_reconcile, policy=PolicySettings())
    seconds = time.perf_counter() - started
    ours_seconds = next(stage.seconds for stage in watch.stages if stage.stage == "reconcile")
    same = set(naive["discrepancy_id"]) == set(ours["discrepancy_id"])
    if not same:
        log.warning("the naive rule baseline and reconcile found different findings")
    return {
        "rules": list(load_catalog().codes),
        "note": "whole catalog row by row (bench_naive) against the reconcile stage, same inputs",
        "rows": len(inputs.employees),
        "input_rows": inputs.rows(),
        "seconds": round(seconds, 4),
        "ours_reconcile_seconds": round(ours_seconds, 4),
        "findings": len(naive),
        "ours_findings": len(ours),
        "same_findings": same,
        "ratio": round(seconds / ours_seconds, 2) if ours_seconds > 0 else None,
    }


def _three_naive_conditions(
    employees: pd.DataFrame, as_of: date, watch: _Stopwatch
) -> dict[str, Any]:
    """STATUS_EXPIRED (without cover), EXPIRY_APPROACHING (without renewal), CARD_RENEWAL_DUE.

    The earlier rule baseline, unchanged so that runs stay comparable: the three simplified
    conditions evaluated row by row over ``to_dict("records")`` with per-row date handling,
    against the same three conditions vectorised (``ratio``); ``ratio_vs_full_reconcile``
    extrapolates the loop to all rows against our whole reconcile stage.
    """
    policy = PolicySettings()
    rows = employees.head(NAIVE_ROW_SAMPLE).to_dict("records")
    card_statuses = {"permanent_resident", "highly_skilled_professional_ii"}
    started = time.perf_counter()
    hits = 0
    for row in rows:
        expiry = _row_date(row.get("period_of_stay_expiry"))
        status = row.get("residence_status")
        if expiry is not None and status not in NO_FIXED_PERIOD:
            days_left = (expiry - as_of).days
            if days_left < 0 or days_left <= policy.expiry_horizon_days:
                hits += 1
        valid_until = _row_date(row.get("card_valid_until"))
        if status in card_statuses and valid_until is not None:
            if (valid_until - as_of).days <= policy.card_renewal_days:
                hits += 1
    seconds = time.perf_counter() - started
    scaled = seconds * len(employees) / len(rows) if rows else 0.0
    frame = employees.head(NAIVE_ROW_SAMPLE)
    started = time.perf_counter()
    day = pd.Timestamp(as_of)
    expiry_days = (frame["period_of_stay_expiry"] - day).dt.days
    fixed = ~frame["residence_status"].isin(NO_FIXED_PERIOD)
    card_days = (frame["card_valid_until"] - day).dt.days
    vector_hits = int(
        (fixed & (expiry_days <= policy.expiry_horizon_days)).sum()
        + (frame["residence_status"].isin(card_statuses) & (card_days <= policy.card_renewal_days))
        .fillna(False)
        .sum()
    )
    vector_seconds = time.perf_counter() - started
    ours = next(stage.seconds for stage in watch.stages if stage.stage == "reconcile")
    return {
        "rules": ["STATUS_EXPIRED", "EXPIRY_APPROACHING", "CARD_RENEWAL_DUE"],
        "note": "simplified conditions (no application cover); same conditions both ways",
        "rows": len(rows),
        "hits": hits,
        "vectorised_hits": vector_hits,
        "seconds": round(seconds, 4),
        "extrapolated_seconds_all_rows": round(scaled, 4),
        "vectorised_same_rules_seconds": round(vector_seconds, 4),
        "ours_reconcile_all_rules_seconds": round(ours, 4),
        "ratio": round(seconds / vector_seconds, 2) if vector_seconds > 0 else None,
        "ratio_vs_full_reconcile": round(scaled / ours, 2) if ours > 0 else None,
    }


def _row_date(value: object) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _to_sql_baseline(frames: LoadFrames, work_dir: Path, watch: _Stopwatch) -> dict[str, Any]:
    """``DataFrame.to_sql`` of the same four frames into a fresh DuckDB file (no upsert logic)."""
    engine = sa.create_engine(f"duckdb:///{work_dir / 'to_sql.duckdb'}")
    started = time.perf_counter()
    frames.to_sql(engine)
    seconds = time.perf_counter() - started
    engine.dispose()
    ours = next(stage.seconds for stage in watch.stages if stage.stage == "load_duckdb")
    return {
        "rows": frames.rows,
        "seconds": round(seconds, 4),
        "ours_load_duckdb_seconds": round(ours, 4),
        "ratio": round(seconds / ours, 2) if ours > 0 else None,
    }


def format_table(report: dict[str, Any]) -> str:
    """The stage table (stage, rows, seconds, rows/s, peak RSS) and the baseline ratios."""
    lines = [*_machine_lines(report.get("machine", {}))]
    lines.append(f"{'stage':<20} {'rows':>10} {'seconds':>10} {'rows/s':>12} {'peak MiB':>9}")
    for stage in report["stages"]:
        lines.append(
            f"{stage['stage']:<20} {stage['rows']:>10,} {stage['seconds']:>10.3f} "
            f"{stage['rows_per_second']:>12,.0f} {stage['peak_rss_mb']:>9.0f}"
        )
    lines.append("")
    for name, baseline in report["baselines"].items():
        line = f"baseline {name}: naive/ours = {baseline.get('ratio')}"
        fresh = baseline.get("fresh_processes")
        if fresh:
            line += (
                f" (in this process); {fresh['ratio']} in fresh processes "
                f"(median of {len(fresh['pairs'])} pairs)"
            )
        lines.append(line)
    for name, section in report.get("targets", {}).items():
        lines.append("")
        lines.append(f"{name}:")
        lines.extend(f"  {key}: {value}" for key, value in _headline(section).items())
    return "\n".join(lines)


def _machine_lines(machine: dict[str, Any]) -> list[str]:
    """The machine and its calibration, so a reader can tell a slow run from a slow machine."""
    if not machine:
        return []
    lines = [f"machine: {machine.get('cpu_model')}, {machine.get('cpu_count')} CPUs"]
    calibration = machine.get("calibration")
    if calibration:
        lines.append(
            f"calibration: Python loop {calibration['python_loop_ns_per_item']} ns/item, "
            f"fresh memory {calibration['fresh_memory_seconds_per_gib']} s/GiB, "
            f"pyarrow hash {calibration['arrow_hash_ns_per_key']} ns/key"
        )
    return [*lines, ""]


def _headline(section: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The scalar figures of a target section, one level of nesting flattened (``full.seconds``);
    lists and deeper tables stay in the JSON."""
    figures: dict[str, Any] = {}
    for key, value in section.items():
        if key in ("machine", "parameters"):
            continue
        if isinstance(value, int | float | str | bool):
            figures[prefix + key] = value
        elif isinstance(value, dict) and not prefix:
            figures.update(_headline(value, f"{key}."))
    return figures

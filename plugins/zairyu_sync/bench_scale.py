"""Scale benchmarks: the national-scale sharded run and the daily incremental run (PostgreSQL).

:func:`measure_national_scale` builds a roster of ``employees`` ERP employees in a throwaway
PostgreSQL schema without generating them one by one in Python: a base sample
(:func:`~zairyu_sync.erp_sample.generate_sample`) is written once and replicated inside
PostgreSQL (``sql/bench/replicate_erp.sql``), copy ``k`` rotating the letters of every
identifier (employee, card and receipt numbers) by ``k``, so formats such as ``AB12345678CD``
stay valid, identifiers stay unique and every copy yields the base's findings again. The base's
ISA applications are replicated the same way in pandas and written as the run's ISA frame (the
ISA sync is not part of this measurement). The sharded pipeline (the stage functions of
:mod:`zairyu_sync.pipeline`, as the Airflow DAG calls them) then runs in a fresh child process,
shard after shard, or with ``workers`` the mapped stages on that many worker processes; its peak
memory is the pipeline's own (:func:`process_peak_rss_mb`, :class:`ProcessTreeMemory`).

:func:`measure_daily_incremental` loads a roster into PostgreSQL (ERP and warehouse, separate
throwaway schemas), serves its ISA applications from a loopback simulator, runs day 1 in full
(not timed), changes about 1% of the employees in the ERP and 1% of the ISA applications, and
times day 2 end to end: extract, index, validate, the incremental ISA sync over HTTP, reconcile,
roster rules, load and alert planning (nothing is sent).

Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import multiprocessing
import os
import random
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from zairyu_sync import __version__
from zairyu_sync.arrow_memory import use_data_stage_memory_pool
from zairyu_sync.bench import StageTiming, peak_rss_mb, postgres_schema as _bench_schema
from zairyu_sync.bench_child import run_module
from zairyu_sync.bench_machine import describe_machine
from zairyu_sync.canonical import ISA_APPLICATION_COLUMNS
from zairyu_sync.config import PolicySettings
from zairyu_sync.erp_sample import SampleErp, generate_sample, write_erp
from zairyu_sync.errors import ValidationError
from zairyu_sync.immigration.client import HttpImmigrationClient
from zairyu_sync.immigration.models import Application
from zairyu_sync.immigration.simulator import SimulatorDataset, SimulatorServer
from zairyu_sync.immigration.sync import application_record
from zairyu_sync.load import warehouse_engine
from zairyu_sync.pipeline import (
    partition_isa_applications as partition_isa,
    run_extract,
    run_index_roster,
    run_isa_sync,
    run_load,
    run_plan_shards,
    run_reconcile,
    run_reconcile_roster,
    run_validate,
)
from zairyu_sync.routing import load_routing
from zairyu_sync.rules import load_catalog
from zairyu_sync.runs import RunContext, make_run_context, read_frame, write_frame
from zairyu_sync.shards import Shard
from zairyu_sync.sqlfiles import load_sql, split_statements, sql_text

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: The pipeline name of the benchmark's runs (run keys ``bench_scale/<as-of>``).
PIPELINE = "bench_scale"
#: The most copies of a base roster whose identifiers are guaranteed unique (letters rotate).
MAX_COPIES = 26
#: Share of the roster that is Japanese staff in the generated base (as erp_sample's default).
_JAPANESE_SHARE = 0.1
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_ISA_IDENTIFIER_COLUMNS = (
    "receipt_number",
    "applicant_residence_card_number",
    "new_residence_card_number",
)
_CLIENT_ID = "bench-scale-employer"
_JST = timezone(timedelta(hours=9))
#: Receipt numbers of the applications the daily benchmark files on day 2.
_DAILY_RECEIPT_PREFIX = "2026-BCH-"
_FINAL_STATUSES = frozenset({"COMPLETED", "NOT_PERMITTED", "WITHDRAWN"})


# --- identifiers of replicated copies ---------------------------------------------------------


def rotate_identifier(value: str, copy: int) -> str:
    """The identifier ``value`` of copy ``copy`` (what ``sql/bench/replicate_erp.sql`` does).

    Letters rotate by ``copy mod 26``, digits by ``(copy // 26) mod 10``; other characters stay.
    Copy 0 is the value itself.
    """
    return value.translate(_rotation(copy))


def _rotation(copy: int) -> dict[int, int]:
    letters = copy % 26
    digits = (copy // 26) % 10
    table = str.maketrans(
        _LETTERS + _DIGITS,
        _LETTERS[letters:] + _LETTERS[:letters] + _DIGITS[digits:] + _DIGITS[:digits],
    )
    return table


def replicate_isa_frame(isa: pd.DataFrame, copies: int) -> pd.DataFrame:
    """``copies`` copies of a canonical ISA frame, identifiers rotated as in the ERP replica.

    Args:
        isa: canonical ISA applications (``canonical.ISA_APPLICATION_COLUMNS``), copy 0.
        copies: how many copies (1 returns the frame unchanged).

    Returns:
        The copies one after another.
    """
    parts = [isa]
    for copy in range(1, copies):
        table = _rotation(copy)
        part = isa.copy()
        for column in _ISA_IDENTIFIER_COLUMNS:
            part[column] = [
                value.translate(table) if isinstance(value, str) else value
                for value in part[column]
            ]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def isa_frame(sample: SampleErp) -> pd.DataFrame:
    """The sample's ISA applications as the canonical frame the ISA sync writes."""
    records = [
        application_record(Application.model_validate_json(json.dumps(app)))
        for app in sample.isa_applications
    ]
    return pd.DataFrame(records, columns=list(ISA_APPLICATION_COLUMNS), dtype=object)


# --- building a roster ------------------------------------------------------------------------


@dataclass(frozen=True)
class Roster:
    """A roster built in a PostgreSQL ERP schema.

    Attributes:
        sample: the generated base sample (copy 0).
        copies: how many copies of the base the ERP holds.
        counts: rows per ERP table and distinct card and receipt numbers
            (``sql/bench/roster_counts.sql``).
        seconds: wall-clock seconds per setup step.
    """

    sample: SampleErp
    copies: int
    counts: dict[str, int]
    seconds: dict[str, float]


def build_roster(
    erp: sa.Engine,
    *,
    base_employees: int,
    copies: int,
    as_of: date,
    seed: int = 7,
) -> Roster:
    """Generate a base roster, write it to the ERP and replicate it ``copies`` times in place.

    Args:
        erp: a PostgreSQL engine whose search_path is an empty schema.
        base_employees: ERP employees of the base sample (90% foreign, 10% Japanese staff).
        copies: copies of the base (1 .. :data:`MAX_COPIES`).
        as_of: the date the sample's situations are seeded relative to.
        seed: the sample's random seed.

    Returns:
        The roster: the base sample, the ERP's counts and the setup timings.

    Raises:
        ValidationError: bad sizes, or the replica's identifiers are not unique.
    """
    if not 1 <= copies <= MAX_COPIES:
        raise ValidationError(f"copies must be between 1 and {MAX_COPIES}, got {copies}")
    japanese = round(base_employees * _JAPANESE_SHARE)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    sample = generate_sample(base_employees - japanese, as_of=as_of, seed=seed, n_japanese=japanese)
    seconds["generate_base"] = time.perf_counter() - started
    started = time.perf_counter()
    write_erp(sample, erp)
    seconds["write_base"] = time.perf_counter() - started
    started = time.perf_counter()
    with erp.connect() as conn:
        base = dict(conn.execute(sql_text("bench/roster_counts.sql")).mappings().one())
    if copies > 1:
        with erp.begin() as conn:
            stride = int(conn.execute(sql_text("bench/id_stride.sql")).scalar_one())
            for statement in split_statements(load_sql("bench/replicate_erp.sql")):
                conn.execute(sa.text(statement), {"copies": copies, "stride": stride})
    with erp.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in split_statements(load_sql("bench/analyze_erp.sql")):
            conn.execute(sa.text(statement))
    with erp.connect() as conn:
        counts = {
            key: int(value)
            for key, value in conn.execute(sql_text("bench/roster_counts.sql"))
            .mappings()
            .one()
            .items()
        }
    seconds["replicate"] = time.perf_counter() - started
    expected = {key: int(value) * copies for key, value in base.items()}
    if counts != expected:
        raise ValidationError(f"replicated roster does not scale the base: {counts} != {expected}")
    log.info("built roster: %d copies, %s", copies, counts)
    return Roster(sample=sample, copies=copies, counts=counts, seconds=seconds)


def postgres_schema(url: str, prefix: str = "zs_scale") -> AbstractContextManager[str]:
    """A throwaway schema on ``url`` (see :func:`zairyu_sync.bench.postgres_schema`)."""
    return _bench_schema(url, prefix)


# --- timing -----------------------------------------------------------------------------------


def process_peak_rss_mb() -> float:
    """This process's own peak RSS in MiB: ``VmHWM`` of ``/proc/self/status`` where there is one.

    On Linux ``getrusage(RUSAGE_SELF).ru_maxrss`` of a freshly executed child starts at the RSS
    its parent had when it forked (the kernel keeps the old address space's high-water mark
    across ``exec``), so a child started by a large benchmark parent would report the parent's
    memory; ``VmHWM`` is the high-water mark of the child's own address space. Elsewhere this
    falls back to ``ru_maxrss`` (:func:`zairyu_sync.bench.peak_rss_mb`).
    """
    _, high_water = _resident_mb(os.getpid())
    return high_water or peak_rss_mb()


class _Stopwatch:
    def __init__(self, memory: Callable[[], float] = process_peak_rss_mb) -> None:
        self.stages: list[StageTiming] = []
        self._memory = memory

    def measure(self, stage: str, rows: Callable[[_T], int], work: Callable[[], _T]) -> _T:
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        gc.collect()
        timing = StageTiming(stage, rows(result), seconds, self._memory())
        self.stages.append(timing)
        log.info("bench %s: %d rows in %.3f s", stage, timing.rows, seconds)
        return result

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)


def _extracted_employees(summaries: Sequence[Mapping[str, Any]]) -> int:
    return sum(int(item["extracted"]["employees"]) for item in summaries)


def _valid_employees(summaries: Sequence[Mapping[str, Any]]) -> int:
    return sum(int(item["counts"]["employees"]["valid"]) for item in summaries)


@dataclass
class _SharedRun:
    """What one sharded run's stages returned (filled in stage by stage)."""

    shards: list[Shard]
    extracted: list[dict[str, Any]]
    validated: list[dict[str, Any]]
    loaded: dict[str, Any]


#: The stages the DAG maps over shards (one task instance per shard).
MappedStage = Literal["extract", "validate", "reconcile"]


class MappedStages(Protocol):
    """Runs one mapped stage over its inputs (one per shard) and returns the results in order."""

    def map(self, stage: MappedStage, items: Sequence[Any]) -> list[Any]: ...

    def close(self) -> None:
        """The mapped stages are over."""


def _run_mapped(
    stage: MappedStage, item: Any, ctx: RunContext, erp: sa.Engine, policy: PolicySettings
) -> Any:
    """One task instance of a mapped stage, as the DAG's task calls the pipeline."""
    if stage == "extract":
        return run_extract(ctx, erp, policy, item)
    if stage == "validate":
        return run_validate(ctx, item)
    return run_reconcile(ctx, policy, item)


class _InProcessStages:
    """Shard after shard in this process."""

    def __init__(self, ctx: RunContext, erp: sa.Engine, policy: PolicySettings) -> None:
        self._ctx, self._erp, self._policy = ctx, erp, policy

    def map(self, stage: MappedStage, items: Sequence[Any]) -> list[Any]:
        return [_run_mapped(stage, item, self._ctx, self._erp, self._policy) for item in items]

    def close(self) -> None:
        pass


#: A worker process's run context and ERP engine (set by :func:`_worker_start`).
_WORKER: dict[str, Any] = {}


def _worker_start(root: str, as_of: str, erp_url: str) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    use_data_stage_memory_pool()  # as every DAG task does
    _WORKER["ctx"] = _context(Path(root), date.fromisoformat(as_of))
    _WORKER["erp"] = sa.create_engine(erp_url)
    _WORKER["policy"] = PolicySettings()


def _worker_task(stage: MappedStage, item: Any) -> Any:
    try:
        return _run_mapped(stage, item, _WORKER["ctx"], _WORKER["erp"], _WORKER["policy"])
    finally:
        _release_memory()


class _WorkerPoolStages:
    """Mapped stages on ``workers`` processes, as an executor's parallel task slots run them.

    Workers are fresh interpreters (``spawn``) with their own ERP engine, started for the first
    mapped stage and kept for the next ones (so imports and the validation suites are built
    once per worker, as in the sequential run); after each task a worker returns freed memory
    to the system (:func:`_release_memory`), and :meth:`close` ends them once the mapped stages
    are over, before the roster stages. Shards go to whichever worker is free; results come
    back in shard order. The other stages stay in the calling process, so a stage starts when
    every shard of the previous one is done, as in the DAG.
    """

    def __init__(self, workers: int, root: Path, as_of: date, erp_url: str) -> None:
        self._workers = workers
        self._initargs = (str(root), as_of.isoformat(), erp_url)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, stage: MappedStage, items: Sequence[Any]) -> list[Any]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
                initargs=self._initargs,
            )
        return list(self._pool.map(_worker_task, [stage] * len(items), items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _release_memory() -> None:
    """Give memory freed by a task back to the system (Arrow's pool, then glibc's heap)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


class ProcessTreeMemory:
    """Peak resident memory of this process and all its descendants together (Linux ``/proc``).

    A thread samples the sum of ``VmRSS`` over the process tree every ``interval`` seconds (a
    sample reads ``/proc`` for every process, ≈ 5 ms with 90 processes, so a short interval costs
    the measured process CPU);
    :meth:`peak_mb` is the highest sum seen (pages shared between processes, such as libraries,
    count once per process, so this errs high). :meth:`high_water_sum_mb` is the highest sum of
    the processes' own ``VmHWM`` over the processes alive at a sample: it bounds what they held
    together even between samples. Where ``/proc`` is missing, both fall back to
    :func:`process_peak_rss_mb`.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self._interval = interval
        self._peak = 0.0
        self._high_water = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-rss", daemon=True)

    def __enter__(self) -> ProcessTreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self._interval):
                return

    def sample(self) -> None:
        """Take one sample now."""
        resident, high_water = 0.0, 0.0
        for pid in _process_tree(os.getpid()):
            pid_resident, pid_high_water = _resident_mb(pid)
            resident += pid_resident
            high_water += pid_high_water
        self._peak = max(self._peak, resident or process_peak_rss_mb())
        self._high_water = max(self._high_water, high_water or process_peak_rss_mb())

    def peak_mb(self) -> float:
        """The highest sampled sum of resident memory so far, in MiB."""
        self.sample()
        return self._peak

    def high_water_sum_mb(self, *, sample: bool = True) -> float:
        """The highest sum of the live processes' own high-water marks so far, in MiB.

        With ``sample=False`` no new sample is taken, so right after :meth:`peak_mb` both
        figures come from the same samples (and this one is never below that one).
        """
        if sample:
            self.sample()
        return self._high_water


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants (from ``/proc/<pid>/stat``); ``[root]`` without ``/proc``."""
    children: dict[int, list[int]] = {}
    try:
        entries = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return [root]
    for name in entries:
        try:
            stat = Path(f"/proc/{name}/stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, ()))
    return tree


def _resident_mb(pid: int) -> tuple[float, float]:
    """``VmRSS`` and ``VmHWM`` of ``pid`` in MiB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0.0, 0.0
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+([0-9]+) kB$", status, flags=re.MULTILINE))
    return int(values.get("VmRSS", 0)) / 1024, int(values.get("VmHWM", 0)) / 1024


def _run_stages(
    ctx: RunContext,
    erp: sa.Engine,
    warehouse: sa.Engine,
    policy: PolicySettings,
    shard_count: int,
    watch: _Stopwatch,
    isa_sync: Callable[[Sequence[Shard]], Mapping[str, Any]] | None,
    mapped: MappedStages | None = None,
) -> _SharedRun:
    """Run the sharded pipeline stage by stage, timing every stage.

    The mapped stages (extract, validate, reconcile: one task per shard in the DAG) run through
    ``mapped`` (default: shard after shard in this process); the others run here.
    """
    mapped = mapped or _InProcessStages(ctx, erp, policy)
    started_at = datetime.now(UTC)
    planned = watch.measure("plan_shards", len, lambda: run_plan_shards(ctx, erp, shard_count))
    shards = [Shard.from_dict(item) for item in planned]
    extracted = watch.measure(
        "extract", _extracted_employees, lambda: mapped.map("extract", shards)
    )
    employees = _extracted_employees(extracted)
    plans = watch.measure(
        "index_roster", lambda _: employees, lambda: run_index_roster(ctx, extracted)
    )
    validated = watch.measure(
        "validate", lambda _: employees, lambda: mapped.map("validate", plans)
    )
    isa: Mapping[str, Any] = {"api_calls": 0}
    if isa_sync is not None:
        isa = watch.measure(
            "isa_sync", lambda s: int(s["isa_applications"]), lambda: isa_sync(shards)
        )
    else:  # the ISA frame was written beforehand: give each shard its part, as the sync does
        watch.measure("isa_partition", lambda _: employees, lambda: partition_isa(ctx, shards))
    valid = _valid_employees(validated)
    watch.measure("reconcile", lambda _: valid, lambda: mapped.map("reconcile", shards))
    mapped.close()
    watch.measure(
        "reconcile_roster", lambda _: valid, lambda: run_reconcile_roster(ctx, policy, shards)
    )
    loaded = watch.measure(
        "load",
        lambda _: valid,
        lambda: run_load(
            ctx,
            warehouse,
            started_at=started_at,
            validated=validated,
            isa=isa,
            shards=shards,
        ),
    )
    return _SharedRun(shards=shards, extracted=extracted, validated=validated, loaded=loaded)


def _findings_by_rule(ctx: RunContext) -> dict[str, int]:
    rules = read_frame(ctx.path("discrepancies"), columns=["rule_code"])["rule_code"]
    return {str(code): int(count) for code, count in sorted(rules.value_counts().items())}


# --- national scale ---------------------------------------------------------------------------


def measure_national_scale(
    pg_url: str,
    employees: int = 2_600_000,
    shards: int = 16,
    *,
    workers: int = 1,
    base_employees: int = 100_000,
    as_of: date | None = None,
    seed: int = 7,
    work_dir: Path | None = None,
    output: Path | None = None,
) -> dict[str, Any]:
    """Measure extract + validate + reconcile + load of a national-scale roster (PostgreSQL).

    Builds the roster (``employees / base_employees`` copies of a generated base, see
    :func:`build_roster`) in a throwaway ERP schema, writes the replicated ISA applications as
    the run's ISA frame, then runs the sharded pipeline in a fresh child process with a
    PostgreSQL warehouse in a second throwaway schema. With ``workers`` 1 the child runs the
    shards one after another; with more, the mapped stages (extract, validate, reconcile) run
    on that many worker processes (:class:`_WorkerPoolStages`), as an executor with that many
    parallel task slots would run the DAG's mapped tasks, and memory is the whole process
    tree's (:class:`ProcessTreeMemory`). Both schemas are dropped afterwards.

    Args:
        pg_url: a PostgreSQL SQLAlchemy URL (the schemas are created there).
        employees: ERP employees (a multiple of ``base_employees``, at most
            :data:`MAX_COPIES` times it).
        shards: roster shards.
        workers: processes the mapped stages run on (1: shard after shard in the child).
        base_employees: employees of the generated base roster.
        as_of: the as-of date (default 2026-11-25).
        seed: the base sample's random seed.
        work_dir: where run directories go (default: a temporary directory, removed).
        output: JSON file to write the results to, or None.

    Returns:
        ``{"machine", "parameters", "setup", "stages", "total_seconds", "peak_rss_mb",
        "counts", "findings_by_rule", "loaded"}``: per stage ``stage``, ``rows``, ``seconds``,
        ``rows_per_second`` and ``peak_rss_mb`` (the child's high-water mark after the stage,
        :func:`process_peak_rss_mb`, or with workers the process tree's sampled peak so far);
        ``ru_maxrss_mb`` is ``getrusage``'s figure, for comparison; with workers,
        ``high_water_sum_mb`` adds every process's own high-water mark (an upper bound).

    Raises:
        ValidationError: ``employees`` is not a usable multiple of ``base_employees``, or the
            run's counts do not add up.
    """
    if base_employees <= 0 or employees % base_employees:
        raise ValidationError("employees must be a multiple of base_employees")
    if workers < 1:
        raise ValidationError("workers must be at least 1")
    copies = employees // base_employees
    day = as_of or date(2026, 11, 25)
    with _work_dir(work_dir) as root, postgres_schema(pg_url) as erp_url:
        with postgres_schema(pg_url) as warehouse_url:
            erp = sa.create_engine(erp_url)
            try:
                roster = build_roster(
                    erp, base_employees=base_employees, copies=copies, as_of=day, seed=seed
                )
            finally:
                erp.dispose()
            started = time.perf_counter()
            isa = replicate_isa_frame(isa_frame(roster.sample), copies)
            ctx = _context(root, day)
            write_frame(isa, ctx.path("isa_applications"))
            setup = {**roster.seconds, "isa_frame": time.perf_counter() - started}
            isa_rows = len(isa)
            del isa
            child = _run_child(
                root,
                {
                    "root": str(root),
                    "as_of": day.isoformat(),
                    "erp_url": erp_url,
                    "warehouse_url": warehouse_url,
                    "shards": shards,
                    "workers": workers,
                },
            )
    report: dict[str, Any] = {
        "machine": describe_machine(),
        "parameters": {
            "employees": employees,
            "base_employees": base_employees,
            "copies": copies,
            "shards": shards,
            "workers": workers,
            "as_of": day.isoformat(),
            "seed": seed,
            "code_version": __version__,
            "erp_rows": roster.counts,
            "isa_applications": isa_rows,
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "setup": {name: round(value, 3) for name, value in setup.items()},
        **child,
    }
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _run_child(root: Path, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Run :func:`_national_child` in a fresh interpreter and return its result.

    A new interpreter (not fork, not a multiprocessing pool, which would re-import the caller's
    main module) so the child's peak RSS counts only the pipeline. Arguments and result travel
    as owner-only JSON files in the work directory (the URLs may hold a password).
    """
    arguments_path = root / "bench_scale_child_arguments.json"
    result_path = root / "bench_scale_child_result.json"
    descriptor = os.open(arguments_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(dict(arguments), handle)
    try:
        return run_module(
            "zairyu_sync.bench_scale", [str(arguments_path), str(result_path)], result_path
        )
    finally:
        arguments_path.unlink(missing_ok=True)


def _child_main(argv: Sequence[str]) -> None:
    """Entry point of the child process: ``python -m zairyu_sync.bench_scale ARGS RESULT``.

    Stage and shard progress (counts and timings only) is logged to stderr.
    """
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    use_data_stage_memory_pool()  # as every DAG task does
    for name in (log.name, "zairyu_sync.pipeline"):
        logging.getLogger(name).setLevel(logging.INFO)
    arguments = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = _national_child(
        arguments["root"],
        arguments["as_of"],
        arguments["erp_url"],
        arguments["warehouse_url"],
        int(arguments["shards"]),
        int(arguments.get("workers", 1)),
    )
    Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")


def _national_child(
    root: str, as_of: str, erp_url: str, warehouse_url: str, shard_count: int, workers: int = 1
) -> dict[str, Any]:
    """The timed sharded run, in a fresh process (its peak RSS is the pipeline's own)."""
    day = date.fromisoformat(as_of)
    ctx = _context(Path(root), day)
    erp = sa.create_engine(erp_url)
    warehouse = warehouse_engine(warehouse_url)
    baseline_rss = process_peak_rss_mb()
    with ExitStack() as stack:
        stack.callback(erp.dispose)
        stack.callback(warehouse.dispose)
        mapped: MappedStages | None = None
        memory: ProcessTreeMemory | None = None
        if workers > 1:
            pool = _WorkerPoolStages(workers, Path(root), day, erp_url)
            stack.callback(pool.close)  # on error; after the mapped stages it is closed already
            memory = stack.enter_context(ProcessTreeMemory())
            mapped = pool
        watch = _Stopwatch(memory.peak_mb if memory else process_peak_rss_mb)
        run = _run_stages(ctx, erp, warehouse, PolicySettings(), shard_count, watch, None, mapped)
        peak = memory.peak_mb() if memory else process_peak_rss_mb()  # takes a last sample
        tree = (
            {"high_water_sum_mb": round(memory.high_water_sum_mb(sample=False), 1)}
            if memory
            else {}
        )
    counts = run.loaded["counts"]
    return {
        "stages": [stage.as_dict() for stage in watch.stages],
        "total_seconds": round(watch.seconds, 3),
        "peak_rss_mb": round(peak, 1),
        **tree,
        "peak_rss_mb_before_run": round(baseline_rss, 1),
        "ru_maxrss_mb": round(peak_rss_mb(), 1),
        "counts": {
            **counts,
            "shards": len(run.shards),
            "extracted_per_shard": [int(item["extracted"]["employees"]) for item in run.extracted],
        },
        "findings_by_rule": _findings_by_rule(ctx),
        "loaded": {key: value for key, value in run.loaded.items() if key != "shards"},
    }


def _context(root: Path, as_of: date) -> RunContext:
    return make_run_context(
        pipeline=PIPELINE,
        logical_date=datetime.combine(as_of, datetime.min.time(), tzinfo=UTC),
        as_of=as_of,
        dag_run_id=f"bench_scale__{as_of.isoformat()}",
        root=root,
    )


@contextmanager
def _work_dir(work_dir: Path | None) -> Iterator[Path]:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        yield work_dir
        return
    with tempfile.TemporaryDirectory(prefix="zairyu-bench-scale-") as tmp:
        yield Path(tmp)


# --- daily incremental ------------------------------------------------------------------------


def measure_daily_incremental(
    pg_url: str,
    employees: int = 100_000,
    shards: int = 4,
    *,
    changed_share: float = 0.01,
    as_of: date | None = None,
    seed: int = 7,
    work_dir: Path | None = None,
    output: Path | None = None,
) -> dict[str, Any]:
    """Measure a daily run after about ``changed_share`` of the roster and ISA changed.

    ERP and warehouse are PostgreSQL (two throwaway schemas, dropped afterwards); the ISA status
    API is a loopback :class:`~zairyu_sync.immigration.simulator.SimulatorServer` (rate limit
    off) read with an :class:`~zairyu_sync.immigration.client.HttpImmigrationClient`. Day 1 runs
    in full (not timed; it creates the ISA mirror in the run root's ``_state``). Then
    ``changed_share`` of ``employees`` change, every n-th employee with a residence card
    (``sql/bench/daily_changes.sql``: a
    renewed period of stay, a new extension application, known to ISA, or a timesheet row, in
    turn) and ``changed_share`` of the organization's ISA applications get a new ``updated_at``
    (pending ones move on to ``UNDER_EXAMINATION``). Day 2 (as of the next day) is timed end to
    end in this process: extract, index, validate, the incremental ISA sync, reconcile, roster
    rules, load and alert planning (nothing is sent).

    Args:
        pg_url: a PostgreSQL SQLAlchemy URL.
        employees: ERP employees (90% foreign, 10% Japanese staff).
        shards: roster shards, one after another.
        changed_share: share of employees and of ISA applications changed for day 2.
        as_of: day 1's as-of date (default 2026-11-25).
        seed: the sample's random seed.
        work_dir: where run directories go (default: a temporary directory, removed).
        output: JSON file to write the results to, or None.

    Returns:
        ``{"machine", "parameters", "setup", "day1", "changes", "stages", "total_seconds",
        "peak_rss_mb", "counts", "isa_sync", "alerts"}``; ``stages`` are day 2's.
    """
    if not 0 < changed_share <= 1:
        raise ValidationError("changed_share must be in (0, 1]")
    day1 = as_of or date(2026, 11, 25)
    day2 = day1 + timedelta(days=1)
    rng = random.Random(seed)
    secret = secrets.token_urlsafe(16)
    policy = PolicySettings()
    with _work_dir(work_dir) as root, postgres_schema(pg_url) as erp_url:
        with postgres_schema(pg_url) as warehouse_url:
            erp = sa.create_engine(erp_url)
            warehouse = warehouse_engine(warehouse_url)
            try:
                roster = build_roster(
                    erp, base_employees=employees, copies=1, as_of=day1, seed=seed
                )
                carded = len({row["emp_no"] for row in roster.sample.tables["hr_residence_card"]})
                every = max(1, carded // max(1, round(employees * changed_share)))
                started = time.perf_counter()
                dataset = SimulatorDataset.from_json(
                    json.dumps(
                        {
                            "organization_applications": roster.sample.organization_applications,
                            "personal_applications": roster.sample.personal_applications,
                        }
                    )
                )
                setup = {**roster.seconds, "simulator_dataset": time.perf_counter() - started}
                with SimulatorServer(
                    dataset,
                    client_id=_CLIENT_ID,
                    client_secret=secret,
                    rate_limit_per_second=None,
                ) as server:
                    first = _Stopwatch()
                    _daily_run(root, day1, erp, warehouse, policy, shards, server, secret, first)
                    changes = _apply_daily_changes(
                        erp, server, roster.sample, every, day2, changed_share, rng
                    )
                    gc.collect()
                    watch = _Stopwatch()
                    run, isa, digests = _daily_run(
                        root, day2, erp, warehouse, policy, shards, server, secret, watch
                    )
            finally:
                erp.dispose()
                warehouse.dispose()
    report: dict[str, Any] = {
        "machine": describe_machine(),
        "parameters": {
            "employees": employees,
            "shards": shards,
            "changed_share": changed_share,
            "changed_every_nth_card_holder": every,
            "as_of_day1": day1.isoformat(),
            "as_of_day2": day2.isoformat(),
            "seed": seed,
            "code_version": __version__,
            "erp": "postgresql",
            "warehouse": "postgresql",
            "isa": "loopback simulator (in-process thread, no rate limit)",
            "erp_rows": roster.counts,
            "isa_applications": len(roster.sample.isa_applications),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "setup": {name: round(value, 3) for name, value in setup.items()},
        "day1": {
            "stages": [stage.as_dict() for stage in first.stages],
            "total_seconds": round(first.seconds, 3),
        },
        "changes": changes,
        "stages": [stage.as_dict() for stage in watch.stages],
        "total_seconds": round(watch.seconds, 3),
        "peak_rss_mb": round(process_peak_rss_mb(), 1),
        "counts": run.loaded["counts"],
        "loaded": {key: value for key, value in run.loaded.items() if key != "shards"},
        "isa_sync": isa.get("sync", {}),
        "alerts": {"digests": digests},
    }
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _daily_run(
    root: Path,
    day: date,
    erp: sa.Engine,
    warehouse: sa.Engine,
    policy: PolicySettings,
    shard_count: int,
    server: SimulatorServer,
    secret: str,
    watch: _Stopwatch,
) -> tuple[_SharedRun, dict[str, Any], int]:
    """One daily run (every stage timed into ``watch``); returns the run, ISA summary, digests."""
    ctx = _context(root, day)
    isa_summary: dict[str, Any] = {}
    with HttpImmigrationClient(
        server.base_url,
        _CLIENT_ID,
        secret,
        page_size=500,
        max_requests_per_second=1_000_000.0,
        max_total_seconds=None,
    ) as client:

        def isa_sync(shards: Sequence[Shard]) -> dict[str, Any]:
            isa_summary.update(run_isa_sync(ctx, client, shards))
            return isa_summary

        run = _run_stages(ctx, erp, warehouse, policy, shard_count, watch, isa_sync)
    digests = watch.measure("plan_alerts", len, lambda: _plan_alerts(warehouse, ctx))
    return run, isa_summary, len(digests)


def _plan_alerts(warehouse: sa.Engine, ctx: RunContext) -> list[Any]:
    from zairyu_sync.alert_plan import plan_alerts

    catalog = load_catalog()
    remediation = {rule.code: (rule.remediation_en, rule.remediation_ja) for rule in catalog.rules}
    return plan_alerts(
        warehouse,
        run_key=ctx.run_key,
        as_of=ctx.as_of,
        routing=load_routing(),
        rule_titles=catalog.titles(),
        remediation=remediation,
        report_link=None,
    )


def _apply_daily_changes(
    erp: sa.Engine,
    server: SimulatorServer,
    sample: SampleErp,
    every: int,
    changed_on: date,
    changed_share: float,
    rng: random.Random,
) -> dict[str, int]:
    """Change the ERP (``sql/bench/daily_changes.sql``) and the simulator's applications."""
    params = {"every": every, "changed_on": changed_on, "receipt_prefix": _DAILY_RECEIPT_PREFIX}
    changed_rows = []
    with erp.begin() as conn:
        for statement in split_statements(load_sql("bench/daily_changes.sql")):
            changed_rows.append(int(conn.execute(sa.text(statement), params).rowcount))
        filed = (
            conn.execute(
                sql_text("bench/daily_new_applications.sql"),
                {"receipt_prefix": _DAILY_RECEIPT_PREFIX},
            )
            .mappings()
            .all()
        )
    now = datetime.now(_JST).replace(microsecond=0)
    new_apps: dict[str, Application] = {}
    for row in filed:
        name = " ".join(part for part in (row["family_name"], row["given_name"]) if part)
        birth = row["date_of_birth"]
        payload = {
            "receipt_number": row["receipt_number"],
            "application_type": "extension",
            "status": "RECEIVED",
            "filed_on": row["filed_on"].isoformat(),
            "applicant": {
                "full_name": name or None,
                "date_of_birth": None if birth is None else birth.isoformat(),
                "nationality": row["nationality"],
                "residence_card_number": row["residence_card_number"],
            },
            "requested_status": row["requested_status"],
            "updated_at": now.isoformat(),
        }
        new_apps.setdefault(
            str(row["receipt_number"]), Application.model_validate_json(json.dumps(payload))
        )
    organization = sample.organization_applications
    picked = rng.sample(organization, round(len(organization) * changed_share))
    updates = [
        Application.model_validate_json(
            json.dumps(
                {
                    **app,
                    "status": app["status"]
                    if app["status"] in _FINAL_STATUSES
                    else "UNDER_EXAMINATION",
                    "updated_at": now.isoformat(),
                }
            )
        )
        for app in picked
    ]
    server.upsert_applications([*updates, *new_apps.values()])
    renewed, applied, timesheets = changed_rows
    return {
        "renewed_cards": renewed,
        "new_applications": applied,
        "new_timesheet_rows": timesheets,
        "changed_employees": renewed + applied + timesheets,
        "changed_isa_applications": len(updates),
        "new_isa_applications": len(new_apps),
    }


if __name__ == "__main__":
    _child_main(sys.argv[1:])

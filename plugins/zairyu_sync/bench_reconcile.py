"""Reconcile throughput benchmark: realistic inputs scaled to a large roster, reconcile timed alone.

Generating a realistic ERP (:func:`~zairyu_sync.erp_sample.generate_sample`, then SQLite, extract,
validate and the ISA listing) costs about a minute per 100,000 employees, so
:func:`scaled_inputs` builds one realistic *base* roster once and tiles it: copy ``k`` of the base
gets distinct employee ids, receipt numbers and residence card numbers, so every copy is an
independent set of employees with the same situations. Before tiling, the base is shaped to the
benchmark's workload: a share of the employees (``holder_share``, default 20%) hold a
comprehensive permission for activity outside status and every holder has a daily timesheet
over the last ``timesheet_days`` days (days the base leaves empty are recorded as 0 h or, for
newly made holders, as a few part-time hours). The base and the scaled inputs are cached as
Parquet in ``cache_dir``.

:func:`run_reconcile_benchmark` times :func:`~zairyu_sync.reconcile.reconcile` only, as the
DAG's reconcile task runs it: a fresh interpreter reads the inputs from Parquet (as the task
reads the run's files) and then calls it (best and median of a few calls, inputs already in
memory); it reports valid employees per second. Speed is measured here, never asserted in
tests.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa

from zairyu_sync.arrow_memory import use_data_stage_memory_pool
from zairyu_sync.bench import peak_rss_mb
from zairyu_sync.bench_child import run_module
from zairyu_sync.config import PolicySettings

if TYPE_CHECKING:
    from zairyu_sync.immigration.models import Application
    from zairyu_sync.immigration.simulator import SimulatorDataset

log = logging.getLogger(__name__)
_Result = TypeVar("_Result")

#: Employees of the realistic base roster that :func:`scaled_inputs` tiles.
BASE_EMPLOYEES = 100_000
_FRAMES = ("employees", "applications", "timesheets", "quarantine", "isa_applications")
_CARD_COLUMNS = {
    "employees": ("residence_card_number",),
    "isa_applications": ("applicant_residence_card_number", "new_residence_card_number"),
}
_RECEIPT_COLUMNS = ("applications", "quarantine", "isa_applications")
_EMPLOYEE_ID_COLUMNS = ("employees", "applications", "timesheets", "quarantine")
#: The key a run's frames come ordered by: the extracts order by employee id (and then by date
#: or receipt number, which the copies keep), the ISA sync orders by receipt number.
_RUN_ORDER = {
    "employees": "employee_id",
    "applications": "employee_id",
    "timesheets": "employee_id",
    "isa_applications": "receipt_number",
}
_CARD_DIGIT_STEP = 7_919_333  # shifts a card number's 8 digits per copy (mod 10**8)
_PART_TIME_HOURS = (0.0, 0.0, 0.0, 0.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class ReconcileInputs:
    """Everything :func:`~zairyu_sync.reconcile.reconcile` takes, already in memory.

    Attributes:
        employees: valid employees (typed, as :func:`~zairyu_sync.validate.validate_snapshot`
            returns them).
        applications: valid ERP applications.
        timesheets: valid timesheets.
        quarantine: the validation quarantine.
        isa_applications: the ISA listing as text (``canonical.ISA_APPLICATION_COLUMNS``).
        erp_receipt_numbers: every receipt number the ERP holds.
        as_of: the as-of date.
    """

    employees: pd.DataFrame
    applications: pd.DataFrame
    timesheets: pd.DataFrame
    quarantine: pd.DataFrame
    isa_applications: pd.DataFrame
    erp_receipt_numbers: tuple[str, ...]
    as_of: date

    def frames(self) -> dict[str, pd.DataFrame]:
        """Frame name -> frame."""
        return {name: getattr(self, name) for name in _FRAMES}

    def rows(self) -> dict[str, int]:
        """Frame name -> rows."""
        return {name: len(frame) for name, frame in self.frames().items()}

    def evaluate(
        self, rules: Callable[..., _Result], *, policy: PolicySettings | None = None, **options: Any
    ) -> _Result:
        """``rules(...)`` on these inputs: :func:`~zairyu_sync.reconcile.reconcile` (``options``
        such as ``threads`` go to it) or the naive baseline, which takes the same arguments."""
        return rules(
            self.employees,
            self.applications,
            self.isa_applications,
            self.quarantine,
            as_of=self.as_of,
            policy=policy or PolicySettings(),
            timesheets=self.timesheets,
            erp_receipt_numbers=self.erp_receipt_numbers,
            **options,
        )


class _DatasetSource:
    """The simulator's dataset as an in-process status source (no HTTP)."""

    def __init__(self, dataset: SimulatorDataset) -> None:
        self._dataset = dataset

    def list_applications(self, *, updated_since: datetime | None = None) -> Iterator[Application]:
        return iter(self._dataset.listing())

    def get_application(self, receipt_number: str) -> Application | None:
        return self._dataset.find(receipt_number)


def realistic_inputs(
    employees: int, *, as_of: date, seed: int = 7, work_dir: Path | None = None
) -> ReconcileInputs:
    """Inputs produced the way a run produces them: sample ERP, SQLite, extract, validate, ISA.

    Args:
        employees: foreign employees of the sample (see
            :func:`~zairyu_sync.erp_sample.generate_sample`).
        as_of: the as-of date.
        seed: the sample's random seed.
        work_dir: where the SQLite ERP goes (default: a temporary directory).

    Returns:
        The inputs.
    """
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="zairyu-bench-reconcile-") as tmp:
            return realistic_inputs(employees, as_of=as_of, seed=seed, work_dir=Path(tmp))
    from zairyu_sync.erp_sample import generate_sample, write_erp
    from zairyu_sync.extract import extract_snapshot
    from zairyu_sync.immigration.simulator import SimulatorDataset
    from zairyu_sync.immigration.sync import fetch_isa_applications
    from zairyu_sync.validate import validate_snapshot

    sample = generate_sample(employees, as_of=as_of, seed=seed)
    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "erp.sqlite"
    database.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        write_erp(sample, engine)
        snapshot = extract_snapshot(
            engine, as_of=as_of, timesheet_lookback_days=PolicySettings().hours_lookback_days
        )
    finally:
        engine.dispose()
    outcome = validate_snapshot(
        snapshot.employees, snapshot.applications, snapshot.timesheets, as_of=as_of
    )
    receipts = tuple(
        sorted(
            {
                str(value).strip()
                for value in snapshot.applications["receipt_number"].dropna()
                if str(value).strip()
            }
        )
    )
    seed_json = json.dumps(
        {
            "organization_applications": sample.organization_applications,
            "personal_applications": sample.personal_applications,
        }
    )
    source = _DatasetSource(SimulatorDataset.from_json(seed_json))
    isa = fetch_isa_applications(source, receipts)
    return ReconcileInputs(
        employees=outcome.employees,
        applications=outcome.applications,
        timesheets=outcome.timesheets,
        quarantine=outcome.quarantine,
        isa_applications=pd.DataFrame(isa),
        erp_receipt_numbers=receipts,
        as_of=as_of,
    )


def shape_workload(
    base: ReconcileInputs,
    *,
    holder_share: float = 0.2,
    timesheet_days: int = 28,
    seed: int = 7,
) -> ReconcileInputs:
    """Make ``holder_share`` of the employees permission holders with daily timesheets.

    Employees without a permission are drawn at random to reach the share; every holder gets
    one timesheet row per day of the last ``timesheet_days`` days (the base's rows are kept;
    the days they leave empty are 0 h for existing holders and a few part-time hours for new
    ones).

    Args:
        base: realistic inputs.
        holder_share: the share of valid employees with a comprehensive permission.
        timesheet_days: days of daily timesheets per holder, ending on the as-of date.
        seed: random seed.

    Returns:
        The shaped inputs.
    """
    rng = np.random.default_rng(seed)
    emp = base.employees.copy()
    permission = emp["outside_status_permission"]
    holders = (permission == "comprehensive").fillna(False).to_numpy(dtype=bool)
    wanted = round(holder_share * len(emp))
    candidates = np.flatnonzero(~holders & (permission == "none").fillna(False).to_numpy(bool))
    promoted = rng.choice(candidates, size=max(0, min(wanted - holders.sum(), len(candidates))))
    emp.loc[emp.index[promoted], "outside_status_permission"] = "comprehensive"
    new_holder = np.zeros(len(emp), dtype=bool)
    new_holder[promoted] = True
    holder_ids = emp.loc[holders | new_holder, "employee_id"].to_numpy(dtype=object)
    is_new = new_holder[holders | new_holder]

    days = pd.date_range(
        pd.Timestamp(base.as_of) - pd.Timedelta(days=timesheet_days - 1), periods=timesheet_days
    ).astype("datetime64[ns]")
    grid = pd.DataFrame(
        {
            "employee_id": np.repeat(holder_ids, timesheet_days),
            "work_date": np.tile(days.to_numpy(), len(holder_ids)),
        }
    )
    part_time = rng.choice(np.asarray(_PART_TIME_HOURS), size=len(grid))
    grid["hours"] = np.where(np.repeat(is_new, timesheet_days), part_time, 0.0)
    grid["is_long_vacation"] = pd.array(np.zeros(len(grid), dtype=bool), dtype="boolean")
    ts = base.timesheets
    key = ["employee_id", "work_date"]
    existing = pd.MultiIndex.from_frame(ts[key].astype({"employee_id": object}))
    filler = grid[~pd.MultiIndex.from_frame(grid[key]).isin(existing)]
    filler = filler.astype({"employee_id": ts["employee_id"].dtype})
    timesheets = (
        pd.concat([ts, filler], ignore_index=True)
        .sort_values(key, kind="stable")
        .reset_index(drop=True)
        .astype(ts.dtypes.to_dict())
    )
    return ReconcileInputs(
        employees=emp,
        applications=base.applications,
        timesheets=timesheets,
        quarantine=base.quarantine,
        isa_applications=base.isa_applications,
        erp_receipt_numbers=base.erp_receipt_numbers,
        as_of=base.as_of,
    )


def tile_inputs(base: ReconcileInputs, employees: int) -> ReconcileInputs:
    """Copies of ``base`` with distinct ids until there are exactly ``employees`` valid ones.

    Copy 0 is ``base`` unchanged; copy ``k`` appends ``-k`` (two digits) to employee ids and
    receipt numbers and shifts the digits of residence card numbers. The last copy keeps only
    the first employees it needs with their applications and timesheets, its quarantine, and
    the ISA applications of those applications plus the ones its ERP never recorded. The tiled
    frames come in the order a run's do (:data:`_RUN_ORDER`), not copy after copy.

    Args:
        base: the inputs to tile.
        employees: valid employees wanted.

    Returns:
        The tiled inputs.
    """
    per_copy = len(base.employees)
    if per_copy == 0:
        raise ValueError("the base roster has no valid employees")
    copies = math.ceil(employees / per_copy)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in _FRAMES}
    receipts: list[str] = []
    base_receipts = pd.Series(base.erp_receipt_numbers, dtype=object)
    for copy in range(copies):
        frames = {name: _relabel(name, frame, copy) for name, frame in base.frames().items()}
        copy_receipts = _suffix(base_receipts, copy)
        keep = min(per_copy, employees - copy * per_copy)
        if keep < per_copy:
            kept = frames["employees"].iloc[:keep]
            frames["employees"] = kept
            for name in ("applications", "timesheets"):
                frame = frames[name]
                frames[name] = frame[frame["employee_id"].isin(kept["employee_id"])]
            held = pd.concat(
                [frames["applications"]["receipt_number"], frames["quarantine"]["receipt_number"]]
            ).dropna()
            isa = frames["isa_applications"]
            listed = isa["receipt_number"]
            frames["isa_applications"] = isa[listed.isin(held) | ~listed.isin(copy_receipts)]
            copy_receipts = copy_receipts[copy_receipts.isin(held)]
        for name, frame in frames.items():
            parts[name].append(frame)
        receipts.extend(copy_receipts.tolist())
    tiled = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    for name, key in _RUN_ORDER.items():
        tiled[name] = tiled[name].sort_values(key, kind="stable", ignore_index=True)
    return ReconcileInputs(
        employees=tiled["employees"],
        applications=tiled["applications"],
        timesheets=tiled["timesheets"],
        quarantine=tiled["quarantine"],
        isa_applications=tiled["isa_applications"],
        erp_receipt_numbers=tuple(receipts),
        as_of=base.as_of,
    )


def _relabel(name: str, frame: pd.DataFrame, copy: int) -> pd.DataFrame:
    if copy == 0:
        return frame
    frame = frame.copy()
    if name in _EMPLOYEE_ID_COLUMNS:
        frame["employee_id"] = _suffix(frame["employee_id"], copy)
    if name in _RECEIPT_COLUMNS:
        frame["receipt_number"] = _suffix(frame["receipt_number"], copy)
    for column in _CARD_COLUMNS.get(name, ()):
        frame[column] = _shift_card(frame[column], copy)
    return frame


def _suffix(values: pd.Series, copy: int) -> pd.Series:
    if copy == 0:
        return values
    relabelled: pd.Series = values + f"-{copy:02d}"
    return relabelled.where(values.notna(), values)


def _shift_card(cards: pd.Series, copy: int) -> pd.Series:
    """Shift the 8 digits of well-formed card numbers (others are kept as they are)."""
    text = cards.astype("string")
    shaped = text.str.fullmatch(r"[A-Z]{2}[0-9]{8}[A-Z]{2}").fillna(False).astype(bool)
    if not shaped.any():
        return cards
    digits = text[shaped].str.slice(2, 10).astype("int64")
    shifted = ((digits + copy * _CARD_DIGIT_STEP) % 100_000_000).astype(str).str.zfill(8)
    moved = text[shaped].str.slice(0, 2) + shifted + text[shaped].str.slice(10, 12)
    out = cards.copy()
    out[shaped] = moved.astype(cards.dtype) if cards.dtype != object else moved.astype(object)
    return out


# --- cache ------------------------------------------------------------------------------------


def save_inputs(inputs: ReconcileInputs, directory: Path) -> None:
    """Write the inputs to ``directory`` as Parquet (plus their dtypes and receipt numbers)."""
    directory.mkdir(parents=True, exist_ok=True)
    dtypes: dict[str, dict[str, str]] = {}
    for name, frame in inputs.frames().items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)
        dtypes[name] = {str(column): str(dtype) for column, dtype in frame.dtypes.items()}
    pd.DataFrame({"receipt_number": list(inputs.erp_receipt_numbers)}, dtype=object).to_parquet(
        directory / "erp_receipt_numbers.parquet", index=False
    )
    meta = {"as_of": inputs.as_of.isoformat(), "dtypes": dtypes}
    (directory / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def load_inputs(directory: Path) -> ReconcileInputs:
    """Read inputs written by :func:`save_inputs` (object columns come back as object)."""
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    frames: dict[str, pd.DataFrame] = {}
    for name in _FRAMES:
        frame = pd.read_parquet(directory / f"{name}.parquet")
        for column, dtype in meta["dtypes"][name].items():
            if dtype == "object" and frame[column].dtype != object:
                values = frame[column].astype(object)
                frame[column] = values.where(values.notna(), None)
        frames[name] = frame
    receipts = pd.read_parquet(directory / "erp_receipt_numbers.parquet")["receipt_number"]
    return ReconcileInputs(
        **frames,
        erp_receipt_numbers=tuple(str(value) for value in receipts),
        as_of=date.fromisoformat(meta["as_of"]),
    )


def scaled_inputs(
    employees: int,
    *,
    cache_dir: Path,
    base_employees: int = BASE_EMPLOYEES,
    as_of: date = date(2026, 11, 25),
    seed: int = 7,
    holder_share: float = 0.2,
    timesheet_days: int = 28,
) -> ReconcileInputs:
    """The benchmark's inputs for ``employees`` valid employees, from the cache when there.

    Args:
        employees: valid employees wanted.
        cache_dir: where the base and scaled inputs are cached (created if missing).
        base_employees: foreign employees of the realistic base sample.
        as_of: the as-of date.
        seed: the sample's random seed.
        holder_share: see :func:`shape_workload`.
        timesheet_days: see :func:`shape_workload`.

    Returns:
        The inputs.
    """
    tag = f"{as_of.isoformat()}-s{seed}-b{base_employees}"
    shape = f"h{holder_share:g}-d{timesheet_days}"
    scaled_dir = cache_dir / f"scaled-{tag}-{shape}-n{employees}"
    if (scaled_dir / "meta.json").is_file():
        return load_inputs(scaled_dir)
    base_dir = cache_dir / f"base-{tag}"
    if (base_dir / "meta.json").is_file():
        base = load_inputs(base_dir)
    else:
        started = time.perf_counter()
        base = realistic_inputs(base_employees, as_of=as_of, seed=seed, work_dir=base_dir)
        save_inputs(base, base_dir)
        log.info("realistic base of %d employees in %.1f s", len(base.employees), _since(started))
    shaped = shape_workload(base, holder_share=holder_share, timesheet_days=timesheet_days)
    inputs = tile_inputs(shaped, employees)
    save_inputs(inputs, scaled_dir)
    return inputs


def save_task_inputs(inputs: ReconcileInputs, directory: Path) -> None:
    """Write the inputs as a run writes them for its reconcile task (``runs.write_frame``)."""
    from zairyu_sync.runs import write_frame

    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in inputs.frames().items():
        write_frame(frame, directory / f"{name}.parquet")
    receipts = pd.DataFrame({"receipt_number": list(inputs.erp_receipt_numbers)})
    write_frame(receipts, directory / "erp_receipts.parquet")
    (directory / "as_of.txt").write_text(inputs.as_of.isoformat() + "\n", encoding="utf-8")


def load_task_inputs(directory: Path) -> ReconcileInputs:
    """The inputs as the DAG's reconcile task reads them (:func:`~zairyu_sync.runs.read_frame`).

    Text arrives as pandas' pyarrow-backed ``str`` rather than the Python objects the ISA
    client builds in memory.
    """
    from zairyu_sync.runs import read_frame

    frames = {name: read_frame(directory / f"{name}.parquet") for name in _FRAMES}
    receipts = read_frame(directory / "erp_receipts.parquet")["receipt_number"]
    return ReconcileInputs(
        **frames,
        erp_receipt_numbers=tuple(str(number) for number in receipts),
        as_of=date.fromisoformat((directory / "as_of.txt").read_text(encoding="utf-8").strip()),
    )


# --- timing -----------------------------------------------------------------------------------


def time_reconcile(inputs: ReconcileInputs, *, repeats: int = 3) -> dict[str, Any]:
    """Time :func:`~zairyu_sync.reconcile.reconcile` on ``inputs`` (all rules), ``repeats`` times.

    Args:
        inputs: the inputs (in memory).
        repeats: timed runs; the best and the median are reported.

    Returns:
        ``employees`` (valid), ``timesheets``, ``applications``, ``isa_applications``,
        ``findings``, ``seconds`` (each run), ``best_seconds``, ``median_seconds``,
        ``employees_per_second`` (from the best run), ``median_employees_per_second``,
        ``phases`` (each run's :attr:`~zairyu_sync.reconcile.ReconciliationResult.seconds`),
        ``best_rules_seconds`` (the best run's rules phase),
        ``rules_phase_employees_per_second`` (valid employees per second of it),
        ``rss_before_mb`` and ``peak_rss_mb`` (process high-water mark, MiB).
    """
    from zairyu_sync.reconcile import reconcile

    policy = PolicySettings()
    # As the pipeline passes them: the column read from the run's Parquet file.
    receipts = pd.Series(list(inputs.erp_receipt_numbers), dtype="str", name="receipt_number")
    rss_before = peak_rss_mb()
    seconds: list[float] = []
    phases: list[dict[str, float]] = []
    findings = 0
    for _ in range(max(1, repeats)):
        gc.collect()
        started = time.perf_counter()
        result = reconcile(
            inputs.employees,
            inputs.applications,
            inputs.isa_applications,
            inputs.quarantine,
            as_of=inputs.as_of,
            policy=policy,
            timesheets=inputs.timesheets,
            erp_receipt_numbers=receipts,
        )
        seconds.append(_since(started))
        phases.append(result.seconds)
        findings = len(result.discrepancies)
        del result
    valid = len(inputs.employees)
    best, median = min(seconds), statistics.median(seconds)
    best_phases = phases[seconds.index(best)]
    return {
        "employees": valid,
        "timesheets": len(inputs.timesheets),
        "applications": len(inputs.applications),
        "isa_applications": len(inputs.isa_applications),
        "findings": findings,
        "seconds": [round(value, 4) for value in seconds],
        "best_seconds": round(best, 4),
        "median_seconds": round(median, 4),
        "employees_per_second": round(valid / best, 1) if best > 0 else 0.0,
        "median_employees_per_second": round(valid / median, 1) if median > 0 else 0.0,
        "phases": [{name: round(value, 4) for name, value in call.items()} for call in phases],
        "best_rules_seconds": round(best_phases["rules"], 4),
        "rules_phase_employees_per_second": round(valid / best_phases["rules"], 1),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def run_reconcile_benchmark(
    employees: int = 1_000_000,
    *,
    cache_dir: Path | None = None,
    base_employees: int = BASE_EMPLOYEES,
    repeats: int = 3,
    as_of: date = date(2026, 11, 25),
    seed: int = 7,
) -> dict[str, Any]:
    """Build (or load from the cache) the scaled inputs and time reconcile on them.

    Timed as the DAG's reconcile task runs: in a fresh interpreter that reads the inputs from
    the run's Parquet files (:func:`load_task_inputs`), so neither the building of the inputs
    nor anything else this process did before is in its memory.

    Args:
        employees: valid employees.
        cache_dir: Parquet cache of the inputs (default: a temporary directory, removed after).
        base_employees: foreign employees of the realistic base sample that is tiled.
        repeats: timed runs.
        as_of: the as-of date.
        seed: the sample's random seed.

    Returns:
        :func:`time_reconcile`'s figures plus ``build_seconds`` and ``base_employees``.
    """
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="zairyu-bench-reconcile-") as tmp:
            return run_reconcile_benchmark(
                employees,
                cache_dir=Path(tmp),
                base_employees=base_employees,
                repeats=repeats,
                as_of=as_of,
                seed=seed,
            )
    started = time.perf_counter()
    inputs = scaled_inputs(
        employees, cache_dir=cache_dir, base_employees=base_employees, as_of=as_of, seed=seed
    )
    task_dir = cache_dir / f"task-inputs-n{employees}"
    save_task_inputs(inputs, task_dir)
    del inputs
    gc.collect()
    build = _since(started)
    report = _time_in_a_fresh_process(task_dir, repeats)
    log.info(
        "reconcile: %d employees in %.3f s (%.0f employees/s)",
        report["employees"],
        report["best_seconds"],
        report["employees_per_second"],
    )
    return {"build_seconds": round(build, 2), "base_employees": base_employees, **report}


def _time_in_a_fresh_process(task_dir: Path, repeats: int) -> dict[str, Any]:
    """:func:`time_reconcile` of :func:`load_task_inputs` in a new interpreter (this module)."""
    arguments = [str(task_dir), str(repeats)]
    return run_module("zairyu_sync.bench_reconcile", arguments, task_dir / "timing.json")


def _child_main(argv: list[str]) -> None:
    """``python -m zairyu_sync.bench_reconcile TASK_DIR REPEATS``: time, write ``timing.json``."""
    task_dir = Path(argv[0])
    use_data_stage_memory_pool()  # as the DAG's reconcile task does
    report = time_reconcile(load_task_inputs(task_dir), repeats=int(argv[1]))
    (task_dir / "timing.json").write_text(json.dumps(report), encoding="utf-8")


def _since(started: float) -> float:
    return time.perf_counter() - started


if __name__ == "__main__":
    _child_main(sys.argv[1:])

"""Rule evaluation (contract.md section 4) over the validated frames and the ISA statuses.

Each rule is a small vectorised function registered against its catalog code in :data:`EVALUATORS`.
An evaluator returns its findings as a frame (``employee_id``, ``receipt_number``, ``due_date``,
``detail``); severity comes from the catalog's severity policy, ``organization_id`` and
``compliance_owner`` from the employee. Interpretations beyond the contract's table:

* An employee's applications are the ERP rows joined to ISA by receipt number; the ISA values of
  ``application_type`` and ``filed_on`` win over the ERP's when ISA has them.
* STATUS_MISMATCH / EXPIRY_MISMATCH compare the employee's *latest* Permitted application, and
  CARD_NUMBER_STALE the latest COMPLETED one (latest by decided_on, filed_on, receipt_number), so
  older grants that a later one superseded do not fire.
* EXPIRY_APPROACHING is silenced by a Pending extension/change, or by a Permitted one that grants a
  period beyond the current ``period_of_stay_expiry``.
* DESIGNATED_ORGANIZATION_MISMATCH also fires when no designated organization is recorded.
* ``discrepancy_id`` hashes employee_id + rule_code + receipt_number; for DATA_QUALITY the source
  table is part of the key, because one employee can have a finding per source table.

Details are English, and carry no names or birth dates; card numbers are masked.

Speed: text stays pyarrow-backed (``str`` dtype) instead of Python objects, findings included
(ADR 0011); joins and membership tests are pyarrow hash look-ups, except where both sides come
in id order, as the extracts give employees, applications and timesheets: those ids are found
by binary search on fixed-width bytes (ADR 0012); columns no rule reads (names, birth dates)
are never touched; details, ids and owners are built for the rows that hit only.
Where input allows a shortcut (plain ``YYYY-MM-DD`` text, ASCII card numbers, hours whose sums
are exact in float64, receipt numbers without surrounding whitespace) it is taken, otherwise the
plain pandas/Python code runs, so results are the same either way. Timesheet ids are looked up
once per run of equal ids, and the hours rule sums days and windows on a dense holder x day grid
when that is small, a few thousand holders at a time when the rows come in holder order.

Threads (``threads``, default :func:`~zairyu_sync.config.reconcile_threads_from_env`): input
columns are normalised, the roster and the ISA join prepared, and the rules evaluated and
finished on a thread pool; numpy and pyarrow run without Python's lock, so the threads share
the CPUs. Each rule's findings are sorted on its thread and the rules are only interleaved at
the end, so the result does not depend on the number of threads (see ADR 0010).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    DISCREPANCY_COLUMNS,
    EMPLOYEE_BOOL_COLUMNS,
    EMPLOYEE_COLUMNS,
    EMPLOYEE_DATE_COLUMNS,
    FINDING_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    ISA_APPLICATION_DATE_COLUMNS,
    ISA_PENDING,
    ISA_PERMITTED,
    NO_FIXED_PERIOD,
    NO_RESIDENCE_CARD,
    QUARANTINE_COLUMNS,
    TIED_TO_DESIGNATED_ORGANIZATION,
    TIMESHEET_COLUMNS,
    WORK_NOT_PERMITTED_WITHOUT_PERMISSION,
)
from zairyu_sync.config import PolicySettings, reconcile_threads_from_env
from zairyu_sync.errors import InputError, ReconcileError
from zairyu_sync.pii import mask_card_number
from zairyu_sync.rules import Rule, RuleCatalog, load_catalog

log = logging.getLogger(__name__)

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

_FINDING_COLUMNS = ("employee_id", "receipt_number", "due_date", "detail")
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_EXTENSION_TYPES = ("extension", "change")
_CARD_RENEWAL_STATUSES = ("permanent_resident", "highly_skilled_professional_ii")
_HELLOWORK_EXEMPT = NO_RESIDENCE_CARD  # special permanent residents, diplomats, officials
_DAY_NS = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min  # NaT's int64 view
#: Rolling windows up to this many days are summed day by day rather than from running totals.
_SHORT_WINDOW = 8
#: Rows per piece where a long array is checked piece by piece.
_CHUNK = 1 << 16
#: Holders per piece of the hours grid: a piece's arrays stay in a core's cache (with 90 days
#: of timesheets, 1.5 MB each); measured fastest between 1,024 and 4,096.
_GRID_BLOCK_HOLDERS = 1 << 11
_OWNER_COLUMNS = ("organization_id", "compliance_owner")
#: pii.CARD_NUMBER_PATTERN with the kept letters as groups (masking keeps 2 + 2 letters).
_CARD_TOKEN = r"([A-Z]{2})[0-9]{8}([A-Z]{2})"
#: Text that Python's str.strip() would change (its whitespace at either end).
_EDGE_SPACE = (
    r"^[\s\x0b\x1c-\x1f\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
    r"|[\s\x0b\x1c-\x1f\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]$"
)
_MIN_DAY = np.datetime64("1678-01-01", "D")  # datetime64[ns] covers 1677-09-21 .. 2262-04-11
_MAX_DAY = np.datetime64("2262-04-10", "D")
_LAST_SHIFTABLE_DAY = np.datetime64("2261-12-31", "D")  # + 3 months stays before _MAX_DAY
#: Personal columns no rule reads: left out of the prepared frames.
_UNUSED_EMPLOYEE_COLUMNS = frozenset({"full_name", "nationality", "date_of_birth", "job_category"})
_UNUSED_ISA_COLUMNS = frozenset(
    {
        "applicant_full_name",
        "applicant_date_of_birth",
        "applicant_nationality",
        "requested_status",
        "new_card_valid_until",
    }
)


@dataclass(frozen=True)
class ReconciliationResult:
    """The findings of one reconciliation.

    Attributes:
        discrepancies: one row per finding, columns :data:`FINDING_COLUMNS`, sorted by severity,
            rule code, employee id, receipt number. Text columns are pandas ``str``
            (pyarrow-backed, NaN where missing), as the run's Parquet files give them back;
            ``due_date`` is ``datetime64[ns]``.
        as_of: the date the rules were evaluated for.
        unimplemented_codes: catalog codes that have no evaluator (they produced nothing).
        seconds: wall-clock seconds of the call's two phases: ``inputs`` (normalising and
            joining the inputs; with threads, the hours rule's long part starts in it) and
            ``rules`` (evaluating, finishing and ordering the findings).
    """

    discrepancies: pd.DataFrame
    as_of: date
    unimplemented_codes: tuple[str, ...] = field(default_factory=tuple)
    seconds: dict[str, float] = field(default_factory=dict, compare=False)

    def counts_by_rule_and_severity(self) -> dict[str, dict[str, int]]:
        """``{rule_code: {severity: count}}``, JSON-safe, sorted by rule code."""
        table: dict[str, dict[str, int]] = {}
        if self.discrepancies.empty:
            return table
        grouped = self.discrepancies.groupby(["rule_code", "severity"]).size().reset_index(name="n")
        for row in grouped.to_dict("records"):
            table.setdefault(str(row["rule_code"]), {})[str(row["severity"])] = int(row["n"])
        return dict(sorted(table.items()))

    def to_contract_frame(self) -> pd.DataFrame:
        """The ``discrepancies.csv`` shape of contract.md section 5 (all text, '' for empty)."""
        frame = self.discrepancies
        due = frame["due_date"]
        out = pd.DataFrame(
            {
                "employee_id": frame["employee_id"].fillna(""),
                "rule_code": frame["rule_code"],
                "severity": frame["severity"],
                "due_date": due.dt.strftime("%Y-%m-%d").where(due.notna(), ""),
                "receipt_number": frame["receipt_number"].fillna(""),
                "detail": frame["detail"],
            }
        )
        return out[list(DISCREPANCY_COLUMNS)].astype(object).reset_index(drop=True)


@dataclass(frozen=True)
class _Inputs:
    """Prepared frames shared by the evaluators."""

    as_of: pd.Timestamp
    policy: PolicySettings
    employees: pd.DataFrame  # valid, with derived columns (active, special_period_end)
    applications: pd.DataFrame  # ERP applications joined to ISA and to their employee
    isa: pd.DataFrame  # normalised ISA applications, one per receipt number
    quarantine: pd.DataFrame
    timesheets: pd.DataFrame  # as given (see _holder_timesheets)
    owners: pd.DataFrame  # organization_id, compliance_owner by employee_id
    isa_held: np.ndarray  # per ISA application: the ERP holds its receipt number
    application_person: np.ndarray  # per application: its employee's row in employees
    holder_hours: Callable[[], _HolderHours]  # the hours rule's days over a limit

    @functools.cached_property
    def _status_codes(self) -> tuple[np.ndarray, list[str | None]]:
        return _text_codes(self.employees["residence_status"])

    def status_in(self, statuses: Iterable[str]) -> np.ndarray:
        """Whether each employee's residence status is one of ``statuses`` (missing: never).

        The statuses are encoded once per run; each test is then a look-up per code.
        """
        return _codes_in(*self._status_codes, statuses)

    @functools.cached_property
    def latest_permitted(self) -> pd.DataFrame:
        """Each employee's latest Permitted application (the columns the rules read)."""
        return _latest(
            self.applications,
            self.applications["permitted"],
            self.application_person,
            "granted_status",
            "residence_status",
            "granted_period_expiry",
            "period_of_stay_expiry",
        )

    @functools.cached_property
    def latest_completed(self) -> pd.DataFrame:
        """Each employee's latest COMPLETED application (the columns the rules read)."""
        return _latest(
            self.applications,
            self.applications["status"] == "COMPLETED",
            self.application_person,
            "new_residence_card_number",
            "residence_card_number",
        )


Evaluator = Callable[[_Inputs], pd.DataFrame]
#: Rule code -> evaluator; populated by :func:`_rule`.
EVALUATORS: dict[str, Evaluator] = {}

#: The rule whose long part (:func:`_holder_hours`) starts while the inputs are prepared.
_HOURS_RULE: Final = "HOURS_LIMIT_EXCEEDED"

RuleScope = Literal["all", "shard", "roster"]
#: Rules that compare the ISA listing with the whole ERP roster, so a sharded run evaluates them
#: once over all shards rather than per shard.
ROSTER_RULES: Final = frozenset({"APPLICATION_UNTRACKED"})


def _rule(code: str) -> Callable[[Evaluator], Evaluator]:
    def register(function: Evaluator) -> Evaluator:
        if code in EVALUATORS:
            raise ReconcileError(f"two evaluators registered for {code}")
        EVALUATORS[code] = function
        return function

    return register


def reconcile(
    employees: pd.DataFrame,
    applications: pd.DataFrame,
    isa_applications: pd.DataFrame,
    quarantine: pd.DataFrame,
    *,
    as_of: date,
    policy: PolicySettings | None = None,
    timesheets: pd.DataFrame | None = None,
    catalog: RuleCatalog | None = None,
    erp_receipt_numbers: Iterable[str] = (),
    scope: RuleScope = "all",
    threads: int | None = None,
) -> ReconciliationResult:
    """Evaluate every catalog rule in force on ``as_of``.

    A sharded run evaluates the employee rules per shard (``scope="shard"``) and the roster
    rules (:data:`ROSTER_RULES`: they look at the ISA listing against the whole ERP) once over
    all shards (``scope="roster"``); the union equals ``scope="all"`` on the whole roster.

    Args:
        employees: valid employees from :func:`zairyu_sync.validate.validate_snapshot`.
        applications: valid ERP applications (same source).
        isa_applications: the ISA status API's applications as text
            (``canonical.ISA_APPLICATION_COLUMNS``); dates are parsed here.
        quarantine: the validation quarantine (one DATA_QUALITY finding per employee, source
            table and receipt number).
        as_of: the date D the rules are evaluated for.
        policy: thresholds; defaults to :class:`PolicySettings` defaults.
        timesheets: valid timesheets (for HOURS_LIMIT_EXCEEDED).
        catalog: the rule catalog; defaults to the packaged one.
        erp_receipt_numbers: every receipt number the ERP holds, including those of rows
            validation set aside (applications of quarantined or ignored employees), so that
            APPLICATION_UNTRACKED fires only for applications the ERP really lacks.
        scope: ``all`` rules, the employee rules of one ``shard``, or only the ``roster`` rules.
        threads: threads to use (default: :func:`~zairyu_sync.config.reconcile_threads_from_env`).
            Input columns are normalised and rules evaluated on these threads; the result does
            not depend on their number.

    Returns:
        The findings.

    Raises:
        InputError: a required column is missing.
        ReconcileError: an evaluator has no catalog entry, or findings collide on their id.
    """
    policy = policy or PolicySettings()
    catalog = catalog or load_catalog()
    orphans = sorted(set(EVALUATORS) - set(catalog.codes))
    if orphans:
        raise ReconcileError(f"evaluators without a catalog entry: {', '.join(orphans)}")
    unimplemented = catalog.unimplemented_codes(frozenset(EVALUATORS))
    if unimplemented:
        log.warning("rules without an evaluator (not checked): %s", ", ".join(unimplemented))
    workers = reconcile_threads_from_env() if threads is None else threads
    if workers < 1:
        raise ReconcileError(f"threads must be at least 1, got {workers}")
    rules = [
        rule
        for rule in catalog.rules
        if rule.code in EVALUATORS
        and rule.applies_on(as_of)
        and (scope == "all" or (rule.code in ROSTER_RULES) == (scope == "roster"))
    ]
    # The hours rule's long part starts on a thread as soon as the roster is known (see
    # _prepare), so the rule itself comes last; the findings are ordered afterwards, whatever
    # the order of evaluation.
    rules.sort(key=lambda rule: rule.code == _HOURS_RULE)
    started = time.perf_counter()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="reconcile") if workers > 1 else None
    try:
        inputs = _prepare(
            employees,
            applications,
            isa_applications,
            quarantine,
            timesheets,
            as_of,
            policy,
            pool,
            erp_receipt_numbers,
            early_hours=any(rule.code == _HOURS_RULE for rule in rules),
        )
        prepared = time.perf_counter()
        found = _each(pool, lambda rule: _evaluate(rule, inputs), rules)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    discrepancies = _assemble_rules([frame for frame in found if frame is not None])
    seconds = {"inputs": prepared - started, "rules": time.perf_counter() - prepared}
    log.info(
        "reconciled %d employees in %.2f s (inputs %.2f s, rules %.2f s): %d findings",
        len(inputs.employees),
        sum(seconds.values()),
        seconds["inputs"],
        seconds["rules"],
        len(discrepancies),
    )
    return ReconciliationResult(
        discrepancies=discrepancies,
        as_of=as_of,
        unimplemented_codes=unimplemented,
        seconds=seconds,
    )


def _evaluate(rule: Rule, inputs: _Inputs) -> pa.Table | None:
    """One rule's finished findings in report order (None when it found nothing)."""
    findings = EVALUATORS[rule.code](inputs)
    return None if findings.empty else _in_report_order(_finish(findings, rule, inputs))


def _each(
    pool: Executor | None, function: Callable[[_Item], _Result], items: Iterable[_Item]
) -> list[_Result]:
    """``[function(item) for item in items]``, on the pool's threads when there is a pool.

    The work is column arithmetic in numpy and pyarrow, which run without holding the GIL, so
    threads share it out; answers keep the order of ``items``, and the first error is raised.
    """
    if pool is None:
        return [function(item) for item in items]
    return list(pool.map(function, items))


# --- preparation ------------------------------------------------------------------------------


def _receipt_numbers(numbers: Iterable[object]) -> pa.ChunkedArray:
    """``{str(n).strip() for n in numbers if n}`` as a pyarrow array (repeats allowed).

    A ``str`` column (as the pipeline reads the receipt numbers) is used as it is.
    """
    text: pa.ChunkedArray | None
    if isinstance(numbers, pd.Series) and isinstance(numbers.array, pd.arrays.ArrowStringArray):
        text = _arrow_text(numbers)
        values: list[object] | None = None
    else:
        values = list(numbers)
        try:
            text = pa.chunked_array([pa.array(values, type=pa.large_string())])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            text = None
    if text is None or (
        any(_may_have_edge_space(chunk) for chunk in text.chunks)
        and pc.any(pc.match_substring_regex(text, _EDGE_SPACE)).as_py()
    ):
        if values is None:
            values = list(pd.Series(numbers).dropna())
        kept = sorted({str(number).strip() for number in values if number})
        return pa.chunked_array([pa.array(kept, type=pa.large_string())])
    return text.filter(pc.and_(text.is_valid(), pc.not_equal(text, "")))


def _require(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise InputError(f"{table}: missing required column {column!r}")


def _dates(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)
        series = series.astype("datetime64[ns]")
        stamps = series.to_numpy().view("int64")
        if ((stamps % _DAY_NS == 0) | (stamps == _NAT)).all():  # already at day precision
            return series
        return series.dt.normalize()
    iso = _iso_dates(series)
    if iso is not None:
        return pd.Series(iso, index=series.index, name=series.name)
    parsed = pd.to_datetime(series.astype(object), format="%Y-%m-%d", errors="coerce")
    return parsed.astype("datetime64[ns]")


def _iso_dates(series: pd.Series) -> np.ndarray | None:
    """Text of plain ``YYYY-MM-DD`` dates (or missing) parsed by pyarrow; None when any is not.

    No shape check first: pyarrow's cast fails on any other shape, which costs a failed cast
    only for a column that needs the slow path anyway (a regular expression over every value
    cost more than the cast itself, on every call).
    """
    if isinstance(series.dtype, pd.StringDtype):
        text = _arrow_text(series)
    else:
        values = series.to_numpy(dtype=object)
        missing = series.isna().to_numpy()
        if missing.any():
            values = values.copy()
            values[missing] = None
        text = pa.array(values, type=pa.large_string(), from_pandas=True)
    try:  # pyarrow's cast takes YYYY-MM-DD only (a property test holds it to pandas' format)
        parsed_days = pc.cast(text, pa.date32())
    except pa.ArrowInvalid:  # another shape or an impossible date: the slow path decides
        return None
    since_epoch = pc.cast(parsed_days, pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
    days = since_epoch.astype(np.int64).astype("datetime64[D]")
    missing = np.asarray(parsed_days.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    days[missing] = np.datetime64("NaT")
    present = days[~np.isnat(days)]
    if present.size and (present.min() < _MIN_DAY or present.max() > _MAX_DAY):
        return None
    parsed: np.ndarray = days.astype("datetime64[ns]")
    return parsed


def _text(series: pd.Series, *, upper: bool = False, lower: bool = False) -> pd.Series:
    """Stripped text (``str`` dtype, pyarrow-backed); empty becomes missing (NaN).

    The pyarrow kernels pandas' ``.str.strip()/.upper()/.lower()`` call, applied once to the
    arrow data (no pandas wrapper per step), and only when a value could change: clean text,
    as an ERP mostly holds, is not copied again.
    """
    given = _arrow_text(series)  # one chunk: taking rows then never concatenates chunks
    text = given.chunk(0) if given.num_chunks == 1 else given.combine_chunks()
    if _may_have_edge_space(text):
        text = pc.utf8_trim_whitespace(text)
    values = _value_bytes(text)
    ascii_only = int(values.max(initial=0)) < 0x80
    if upper:
        if not ascii_only:
            normalized = pd.Series(_str_array(text)).str.normalize("NFKC")
            text = _arrow_text(normalized).combine_chunks()  # NFKC leaves ASCII text as it is
        if not ascii_only or _has_bytes_in(values, ord("a"), ord("z")):
            text = pc.utf8_upper(text)
    if lower and (not ascii_only or _has_bytes_in(values, ord("A"), ord("Z"))):
        text = pc.utf8_lower(text)
    if pc.any(pc.equal(text, "")).as_py():
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
    return pd.Series(_str_array(text), index=series.index, name=series.name)


def _utf8_bytes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A large_string array's value offsets (``len + 1``) into its UTF-8 data, not copied.

    Under a null slot the bytes may be anything, so a test on them can only err towards
    "may change".
    """
    if len(text) == 0:
        return np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.uint8)
    _, offsets_buffer, data_buffer = text.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        text.offset : text.offset + len(text) + 1
    ]
    if data_buffer is None:
        return np.zeros_like(offsets), np.empty(0, dtype=np.uint8)
    return offsets, np.frombuffer(data_buffer, dtype=np.uint8)


def _value_bytes(text: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of all of a large_string array's values, end to end (not copied)."""
    offsets, data = _utf8_bytes(text)
    return data[offsets[0] : offsets[-1]]


def _may_have_edge_space(text: pa.Array) -> bool:
    """Whether a value starts or ends with a byte that may be whitespace.

    That is an ASCII space or control byte, or any byte of a multi-byte character (U+3000 and
    the other non-ASCII spaces), so "no" means trimming would change nothing. An empty value
    reads its neighbours' edge bytes instead, which can only err towards "may".
    """
    offsets, data = _utf8_bytes(text)
    if len(data) == 0:
        return False
    for edge in (
        np.take(data, offsets[:-1], mode="clip"),
        np.take(data, offsets[1:] - 1, mode="clip"),
    ):
        if ((edge - np.uint8(0x21)) > np.uint8(0x7F - 0x21)).any():  # below "!" or above DEL
            return True
    return False


def _has_bytes_in(data: np.ndarray, low: int, high: int) -> bool:
    """Whether any byte lies in ``low..high`` (one vectorised pass over the bytes)."""
    return bool(((data - np.uint8(low)) <= np.uint8(high - low)).any())


_STR_DTYPE: Final = pd.StringDtype("pyarrow", na_value=np.nan)


def _str_array(text: pa.ChunkedArray | pa.Array) -> pd.api.extensions.ExtensionArray:
    """pyarrow text as the values of a ``str`` (pyarrow-backed, NaN for missing) column."""
    if isinstance(text, pa.Array):
        text = pa.chunked_array([text])
    if text.type != pa.large_string():
        text = text.cast(pa.large_string())
    make: Any = pd.arrays.ArrowStringArray
    array: pd.api.extensions.ExtensionArray = make(text, dtype=_STR_DTYPE)
    return array


def _flags(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    mapped = _text(series, lower=True).map({"true": True, "false": False}, na_action="ignore")
    return mapped.astype("boolean")


def _prepare(
    employees: pd.DataFrame,
    applications: pd.DataFrame,
    isa_applications: pd.DataFrame,
    quarantine: pd.DataFrame,
    timesheets: pd.DataFrame | None,
    as_of: date,
    policy: PolicySettings,
    pool: Executor | None = None,
    erp_receipt_numbers: Iterable[object] = (),
    *,
    early_hours: bool = False,
) -> _Inputs:
    """The inputs normalised, joined and shared by the evaluators.

    With a pool and ``early_hours``, the hours rule's days over a limit are worked out on a
    thread as soon as the roster is known, while the applications are joined to it.
    """
    _require(employees, EMPLOYEE_COLUMNS, "employees")
    _require(applications, APPLICATION_COLUMNS, "applications")
    _require(isa_applications, ISA_APPLICATION_COLUMNS, "isa_applications")
    _require(quarantine, QUARANTINE_COLUMNS, "quarantine")
    day = pd.Timestamp(as_of)

    used = [column for column in EMPLOYEE_COLUMNS if column not in _UNUSED_EMPLOYEE_COLUMNS]
    emp = employees.loc[:, used].reset_index(drop=True)
    erp = applications.loc[:, list(APPLICATION_COLUMNS)].copy()
    isa_used = [c for c in ISA_APPLICATION_COLUMNS if c not in _UNUSED_ISA_COLUMNS]
    isa = isa_applications.loc[:, isa_used].reset_index(drop=True)
    jobs: list[tuple[pd.DataFrame, str, Callable[[pd.Series], pd.Series]]] = [
        *((emp, column, _employee_normaliser(column)) for column in used),
        (erp, "receipt_number", _text),
        (erp, "employee_id", _text),
        (erp, "application_type", functools.partial(_text, lower=True)),
        (erp, "filed_on", _dates),
        *((isa, column, _isa_normaliser(column)) for column in isa_used if column != "updated_at"),
    ]
    normalised = _each(pool, lambda job: job[2](job[0][job[1]]), jobs)
    for (frame, column, _), values in zip(jobs, normalised, strict=True):
        frame[column] = values
    ts = _timesheets(timesheets)

    def roster() -> tuple[pd.DataFrame, np.ndarray, Callable[[], _HolderHours]]:
        kept, rows = _roster(emp, erp["employee_id"], quarantine, day)
        hours = functools.partial(
            _holder_hours,
            kept["employee_id"],
            kept["outside_status_permission"],
            kept["residence_status"],
            ts,
            day,
            policy,
        )
        return kept, rows, _started(pool if early_hours else None, hours)

    (emp, app_person_row, holder_hours), (isa, joined, isa_held) = _together(
        pool, roster, lambda: _erp_at_isa(erp, isa, quarantine, erp_receipt_numbers)
    )
    person = emp[
        [
            "employee_id",
            "active",
            "residence_status",
            "period_of_stay_expiry",
            "special_period_end",
            "residence_card_number",
            *_OWNER_COLUMNS,
        ]
    ]
    employed = app_person_row >= 0
    app_person = app_person_row[employed]  # each application's row in emp
    joined = joined.reset_index(drop=True)
    if not employed.all():
        joined = joined[employed].reset_index(drop=True)
    of_employee = _aligned(
        person.drop(columns="employee_id"), app_person, np.ones(len(app_person), bool), joined.index
    )
    apps = pd.concat([joined, of_employee], axis=1)
    apps["pending"] = apps["status"].isin(ISA_PENDING)
    apps["permitted"] = apps["status"].isin(ISA_PERMITTED)
    apps["extension_or_change"] = apps["application_type"].isin(_EXTENSION_TYPES)
    return _Inputs(
        as_of=day,
        policy=policy,
        employees=_with_coverage(emp, apps, day, app_person),
        owners=emp.set_index("employee_id")[["organization_id", "compliance_owner"]],
        applications=apps,
        isa=isa,
        quarantine=quarantine.reset_index(drop=True),
        timesheets=ts,
        isa_held=isa_held,
        application_person=app_person,
        holder_hours=holder_hours,
    )


def _started(pool: Executor | None, work: Callable[[], _Result]) -> Callable[[], _Result]:
    """``work``'s answer on demand: started on the pool now, or worked out on the first call."""
    if pool is None:
        return functools.cache(work)
    return pool.submit(work).result


def _roster(
    emp: pd.DataFrame, application_employees: pd.Series, quarantine: pd.DataFrame, day: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray]:
    """The employees the rules look at, with ``active`` and ``special_period_end``.

    Quarantined employees and ids held by more than one employee are left out.

    Returns:
        The employees, and each application's row among them (-1 when it has none).
    """
    quarantined_ids = quarantine.loc[
        quarantine["source_table"] == "employees", "employee_id"
    ].dropna()
    kept = emp["employee_id"].notna()
    if isinstance(quarantined_ids.dtype, pd.StringDtype) or all(
        isinstance(value, str) for value in quarantined_ids
    ):
        kept &= ~_among(emp["employee_id"], quarantined_ids)
    else:
        kept &= ~emp["employee_id"].isin(set(quarantined_ids))
    if not kept.all():
        emp = emp[kept]
    # Employee ids held by more than one employee are dropped (no missing ids here).
    single, app_person_row = _unique_rows(
        _arrow_text(emp["employee_id"]), _arrow_text(application_employees)
    )
    if not single.all():
        emp = emp[single]
    emp = emp.reset_index(drop=True)
    emp["active"] = (
        emp["employment_status"].isin(["active", "on_leave"])
        & (emp["hire_date"] <= day)
        & ~(emp["termination_date"] <= day)
    )
    emp["special_period_end"] = special_period_end(emp["period_of_stay_expiry"])
    return emp, app_person_row


def _erp_at_isa(
    erp: pd.DataFrame,
    isa: pd.DataFrame,
    quarantine: pd.DataFrame,
    erp_receipt_numbers: Iterable[object] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """ISA's applications (one per receipt number), the ERP's joined to them, which are held.

    Returns:
        The ISA applications, the ERP applications with ISA's columns (``at_isa`` where ISA
        has the receipt number; ISA's type and filing date win), and for each ISA application
        whether the ERP, the quarantine or ``erp_receipt_numbers`` hold its receipt number.
    """
    isa = isa[isa["receipt_number"].notna()]
    single, isa_row = _unique_rows(
        _arrow_text(isa["receipt_number"]), _arrow_text(erp["receipt_number"])
    )
    if not single.all():  # the most recently updated version wins
        isa = (
            isa.assign(
                updated_at=pd.to_datetime(
                    isa["updated_at"].astype(object), utc=True, errors="coerce", format="ISO8601"
                )
            )
            .sort_values(["receipt_number", "updated_at"], na_position="first", kind="stable")
            .drop_duplicates("receipt_number", keep="last")
        )
        isa_row = _positions(erp["receipt_number"], isa["receipt_number"])[1]
    isa = isa.drop(columns="updated_at").reset_index(drop=True)

    others = pa.chunked_array(
        [
            *_arrow_text(quarantine["receipt_number"].dropna().astype(str)).chunks,
            *_receipt_numbers(erp_receipt_numbers).chunks,
        ],
        type=pa.large_string(),
    )
    isa_held = _held_by_erp(_arrow_text(isa["receipt_number"]), isa_row, others)
    status = isa.drop(
        columns=["receipt_number", *(c for c in isa.columns if c.startswith("applicant_"))]
    )
    at_isa = isa_row >= 0
    from_isa = _aligned(status, isa_row, at_isa, erp.index)
    joined = pd.concat([erp.add_suffix("_erp"), from_isa], axis=1)
    joined["employee_id"] = erp["employee_id"]
    joined["receipt_number"] = erp["receipt_number"]
    joined["at_isa"] = at_isa
    joined["application_type"] = joined["application_type"].fillna(joined["application_type_erp"])
    joined["filed_on"] = joined["filed_on"].fillna(joined["filed_on_erp"])
    joined = joined.drop(columns=[f"{column}_erp" for column in erp.columns])
    return isa, joined, isa_held


def _held_by_erp(
    isa_receipts: pa.ChunkedArray, isa_row: np.ndarray, others: pa.ChunkedArray
) -> np.ndarray:
    """Whether the ERP holds each (unique) ISA receipt number.

    It does when one of its applications was matched to it (``isa_row``, the ISA row of each
    application) or when ``others`` (receipt numbers of set-aside rows) has it; only the ISA
    receipt numbers not matched yet are looked for there.
    """
    held = np.zeros(len(isa_receipts), dtype=bool)
    held[isa_row[isa_row >= 0]] = True
    if len(others) and not held.all():
        unheld = np.flatnonzero(~held)
        position = pc.index_in(others, value_set=isa_receipts.take(pa.array(unheld)))
        held[unheld[position.drop_null().to_numpy()]] = True
    return held


def _together(
    pool: Executor | None, first: Callable[[], _Item], second: Callable[[], _Result]
) -> tuple[_Item, _Result]:
    """``(first(), second())``, the two at once when there is a pool."""
    if pool is None:
        return first(), second()
    pending = pool.submit(first)
    answer = second()
    return pending.result(), answer


def _employee_normaliser(column: str) -> Callable[[pd.Series], pd.Series]:
    """How an employee column is normalised: dates, flags, or stripped text."""
    if column in EMPLOYEE_DATE_COLUMNS:
        return _dates
    if column in EMPLOYEE_BOOL_COLUMNS:
        return _flags
    return functools.partial(_text, upper=column == "residence_card_number")


def _isa_normaliser(column: str) -> Callable[[pd.Series], pd.Series]:
    """How an ISA column is normalised: dates, or stripped text in the contract's case."""
    if column in ISA_APPLICATION_DATE_COLUMNS:
        return _dates
    return functools.partial(
        _text,
        upper=column in ("status", "applicant_residence_card_number", "new_residence_card_number"),
        lower=column in ("application_type", "requested_status", "granted_status"),
    )


def _unique_rows(ids: pa.ChunkedArray, wanted: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose id no other row has, and the row among those of each wanted id.

    Ids and wanted ids in order (the extracts give employees and their applications in
    employee-id order) are searched by :func:`_unique_rows_in_order`; else one dictionary
    encoding of both columns answers both (a duplicate check and a join).

    Returns:
        Whether each of ``ids`` is unique there, and for each of ``wanted`` its position among
        the unique ids (-1 when absent or missing).
    """
    in_order = _unique_rows_in_order(ids, wanted)
    if in_order is not None:
        return in_order
    count = len(ids)
    both = pa.chunked_array([*ids.chunks, *wanted.chunks], type=pa.large_string())
    encoded = pc.dictionary_encode(both.combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    size = len(encoded.dictionary)
    own = codes[:count]
    present = own >= 0
    single = np.zeros(count, dtype=bool)
    single[present] = np.bincount(own[present], minlength=size)[own[present]] == 1
    row_of_code = np.full(size + 1, -1, dtype=np.int64)  # the last slot answers code -1
    kept = own[single]
    row_of_code[kept] = np.arange(len(kept))
    return single, row_of_code[codes[count:]]


def _unique_rows_in_order(
    ids: pa.ChunkedArray, wanted: pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_unique_rows` of present ids in order and wanted ids in order; else None.

    Repeated ids are then neighbours, and the wanted ids are found by binary search among the
    unique ones (:func:`_sorted_positions`).
    """
    own = ids.combine_chunks()
    sought = wanted.combine_chunks()
    if own.null_count or not (_in_order(own) and _in_order(sought)):
        return None
    keys = _fixed_width(own, sought)
    if keys is None:
        return None
    own_keys, sought_keys = keys
    single = np.ones(len(own_keys), dtype=bool)
    repeated = own_keys[1:] == own_keys[:-1]
    single[1:] &= ~repeated
    single[:-1] &= ~repeated
    return single, _sorted_positions(sought_keys, own_keys[single], sought)


def _index_in(keys: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each key's position among ``values`` (-1 when absent or missing), as ``pc.index_in``.

    Keys in order among present values strictly in order (ids as the extracts order them)
    are found by binary search (:func:`_sorted_positions`), others by a hash look-up.
    """
    sought, among = (
        text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
        for text in (keys, values)
    )
    if not among.null_count and _in_order(among, strictly=True) and _in_order(sought):
        fixed = _fixed_width(sought, among)
        if fixed is not None:
            return _sorted_positions(fixed[0], fixed[1], sought)
    looked_up = pc.index_in(sought, value_set=among).fill_null(-1)
    positions: np.ndarray = looked_up.to_numpy(zero_copy_only=False).astype(np.int64)
    return positions


def _in_order(text: pa.Array, *, strictly: bool = False) -> bool:
    """Whether the values come in (byte, i.e. code point) order, or strictly so.

    Only neighbours that are both present are compared.
    """
    if len(text) < 2:
        return True
    before = pc.less if strictly else pc.less_equal
    neighbours = before(text.slice(0, len(text) - 1), text.slice(1))
    return bool(pc.all(neighbours, min_count=0).as_py())


#: Longest text (bytes) that :func:`_fixed_width` pads.
_FIXED_KEY_BYTES: Final = 64


def _fixed_width(*texts: pa.Array) -> tuple[np.ndarray, ...] | None:
    """Each text array as NUL-padded bytes of one width (numpy ``S``), missing values empty.

    They compare, equal and order as the text does when every value is ASCII without NUL
    (padding then cannot make two values alike, and byte order is code point order), so
    anything else gives None, as does text longer than :data:`_FIXED_KEY_BYTES` or text that
    is not ``large_string`` (whose offsets :func:`_utf8_bytes` reads).
    """
    width = 1
    for text in texts:
        if text.type != pa.large_string():
            return None
        offsets, _ = _utf8_bytes(text)
        values = _value_bytes(text)
        if len(values) and (int(values.max()) >= 0x80 or not values.all()):  # not ASCII, NUL
            return None
        if len(text):
            width = max(width, int(np.diff(offsets).max()))
    if width > _FIXED_KEY_BYTES:
        return None
    return tuple(
        _value_bytes(pc.utf8_rpad(text.fill_null(""), width=width, padding="\x00")).view(
            f"S{width}"
        )
        for text in texts
    )


def _sorted_positions(keys: np.ndarray, values: np.ndarray, text: pa.Array) -> np.ndarray:
    """Position of each fixed-width key among strictly increasing ``values`` (-1 if absent).

    ``text`` is the keys' text: where it is missing the position is -1. Any keys give the
    right answer; keys in order make the search walk memory forwards, which is what makes it
    faster than a hash look-up (unordered keys can be slower than one).
    """
    if not len(values):
        return np.full(len(keys), -1, dtype=np.int64)
    at = np.searchsorted(values, keys)
    found = values[np.minimum(at, len(values) - 1)] == keys
    if text.null_count:
        found &= text.is_valid().to_numpy(zero_copy_only=False)
    positions: np.ndarray = np.where(found, at, -1).astype(np.int64)
    return positions


def _timesheets(timesheets: pd.DataFrame | None) -> pd.DataFrame:
    """The timesheet columns as given; rows are prepared by :func:`_holder_timesheets`."""
    columns = list(TIMESHEET_COLUMNS)
    if timesheets is None or timesheets.empty:
        return pd.DataFrame(
            {
                "employee_id": pd.Series(dtype=object),
                "work_date": pd.Series(dtype="datetime64[ns]"),
                "hours": pd.Series(dtype="float64"),
                "is_long_vacation": pd.Series(dtype="boolean"),
            }
        )
    _require(timesheets, tuple(columns), "timesheets")
    return timesheets.loc[:, columns]


def _holder_timesheets(
    timesheets: pd.DataFrame, holder_ids: pd.Series, start: pd.Timestamp, days: int
) -> dict[str, np.ndarray]:
    """Prepared timesheet rows of the given employees within ``days`` days from ``start``.

    ``holder`` is the row's position in ``holder_ids``, ``day`` its work date as days after
    ``start``. Only these rows are normalised (ids stripped, dates parsed, hours numeric,
    missing long-vacation flags false): the hours rule reads no others.
    """
    wanted = pa.array(holder_ids.to_numpy(dtype=object), type=pa.large_string())
    position = _run_positions(_arrow_text(timesheets["employee_id"]), wanted)
    given_dates = timesheets["work_date"]
    if given_dates.dtype == np.dtype("datetime64[ns]"):  # a time of day floors to its day
        stamps = given_dates.to_numpy().view(np.int64)
    else:
        stamps = _dates(given_dates).to_numpy().view(np.int64)
    first = start.to_datetime64().astype("datetime64[ns]").view(np.int64)
    # NaT is the smallest int64: it is never within; nothing out of the window is subtracted.
    kept = (position >= 0) & (stamps >= first) & (stamps < first + days * _DAY_NS)
    everywhere = bool(kept.all())
    given = timesheets["hours"]
    if given.dtype == np.float64:  # to_numeric would change nothing
        hours = given.to_numpy(dtype=np.float64)
    else:
        hours = pd.to_numeric(given, errors="coerce").astype("float64").to_numpy()
    flags = timesheets["is_long_vacation"]
    if isinstance(flags.dtype, pd.BooleanDtype):
        vacation = flags.to_numpy(dtype=bool, na_value=False)
    else:
        vacation = _flags(flags).fillna(False).to_numpy(dtype=bool)
    if not everywhere:
        position, stamps, hours, vacation = (
            position[kept],
            stamps[kept],
            hours[kept],
            vacation[kept],
        )
    day = stamps - first
    day //= _DAY_NS
    missing = np.isnan(hours)
    return {
        "holder": position,
        "day": day,
        "hours": np.where(missing, 0.0, hours) if missing.any() else hours,
        "is_long_vacation": vacation,
    }


def _run_positions(ids: pa.ChunkedArray, wanted: pa.Array) -> np.ndarray:
    """Position of each stripped id in ``wanted`` (-1 when absent), looked up once per run.

    Timesheets come grouped by employee: rows repeating the previous row's id (as given, so
    also once stripped) reuse its answer.
    """
    heads, at_head = _runs(ids, wanted)
    return np.repeat(at_head, np.diff(np.r_[heads, len(ids)]))


def _runs(
    ids: pa.ChunkedArray, wanted: pa.Array | pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each run of equal ids, and the run's stripped id's position in ``wanted``.

    Positions are -1 where the id is not wanted (or missing).
    """
    count = len(ids)
    starts = np.ones(count, dtype=bool)
    if count > 1:
        changed = pc.not_equal(ids.slice(0, count - 1), ids.slice(1)).fill_null(True)
        starts[1:] = changed.to_numpy(zero_copy_only=False)
    heads = np.flatnonzero(starts)
    stripped = pc.utf8_trim_whitespace(ids.filter(pa.array(starts)))
    return heads, _index_in(stripped, wanted)


def _with_coverage(
    emp: pd.DataFrame, apps: pd.DataFrame, day: pd.Timestamp, app_person: np.ndarray
) -> pd.DataFrame:
    """Per employee: covered by a Pending application / by a Permitted grant; has a renewal.

    ``app_person`` is each application's row position in ``emp`` (whose ids are unique).
    """
    pending_cover = (
        apps["extension_or_change"]
        & apps["pending"]
        & (apps["filed_on"] <= apps["period_of_stay_expiry"])
        & (day <= apps["special_period_end"])
    )
    permitted_cover = apps["permitted"] & (apps["granted_period_expiry"] >= day)
    renewal = apps["extension_or_change"] & (
        apps["pending"]
        | (apps["permitted"] & (apps["granted_period_expiry"] > apps["period_of_stay_expiry"]))
    )
    # Each covered employee's covering application: the first by filing date, receipt number.
    keys = ["employee_id", "filed_on", "receipt_number"]
    cover_rows = np.flatnonzero(pending_cover.to_numpy(dtype=bool))
    covering = (
        apps[keys]
        .iloc[cover_rows]
        .assign(_row=cover_rows)
        .sort_values(keys, kind="stable")
        .drop_duplicates("employee_id")
    )
    out = emp
    ids = out["employee_id"]
    for column, condition in (
        ("pending_cover", pending_cover),
        ("permitted_cover", permitted_cover),
        ("has_renewal", renewal),
    ):
        flags = np.zeros(len(out), dtype=bool)
        flags[app_person[condition.to_numpy(dtype=bool)]] = True
        out[column] = pd.Series(flags, index=ids.index, dtype=bool)
    receipts = np.full(len(out), np.nan, dtype=object)
    receipts[app_person[covering["_row"].to_numpy()]] = covering["receipt_number"].to_numpy(
        dtype=object
    )
    out["covering_receipt"] = pd.Series(receipts, index=ids.index, dtype=object)
    return out


def _positions(keys: pd.Series, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Whether each key is among the (unique) ``values``, and its position there (-1 if not)."""
    position = pc.index_in(_arrow_text(keys), value_set=_arrow_text(values))
    found = position.is_valid().to_numpy(zero_copy_only=False)
    rows = position.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return found, rows


def _aligned(
    table: pd.DataFrame, rows: np.ndarray, found: np.ndarray, index: pd.Index
) -> pd.DataFrame:
    """``table.reset_index(drop=True).reindex(rows)`` labelled ``index``, column by column."""
    others = table.reset_index(drop=True)
    return pd.DataFrame(
        {column: _take(others[column], rows, found).array for column in others.columns},
        index=index,
    )


def _take(column: pd.Series, rows: np.ndarray, found: np.ndarray) -> pd.Series:
    """``column.reindex(rows)`` (missing where not ``found``) by position, with a new index."""
    everywhere = bool(found.all())
    if len(column) and column.dtype == _STR_DTYPE and isinstance(column.dtype, pd.StringDtype):
        picks = pa.array(rows) if everywhere else pa.array(rows, mask=~found)
        taken = _arrow_text(column).take(picks)
        return pd.Series(_str_array(taken), name=column.name)
    if len(column) and (
        column.dtype == np.dtype("datetime64[ns]") or (everywhere and column.dtype.kind in "biuf")
    ):
        values = column.to_numpy()[rows]
        if not everywhere:
            values[~found] = np.datetime64("NaT")
        return pd.Series(values, name=column.name)
    return column.reindex(pd.Index(rows)).reset_index(drop=True)


def _arrow_text(values: pd.Series | pd.Index) -> pa.ChunkedArray:
    """Text values as a pyarrow large_string array (missing as null)."""
    text: Any = values.array
    if not isinstance(text, pd.arrays.ArrowStringArray):  # not already pyarrow text
        if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in (
            "string",
            "empty",
        ):  # text and missing values only: pyarrow takes them as they are
            objects = pa.array(values.to_numpy(), type=pa.large_string(), from_pandas=True)
            return pa.chunked_array([objects])
        text = pd.Series(values).astype("string").array
    chunks: pa.ChunkedArray = text._pa_array  # noqa: SLF001
    if chunks.type != pa.large_string():
        chunks = chunks.cast(pa.large_string())
    return chunks


def _among(keys: pd.Series, values: pd.Series) -> pd.Series:
    """``keys.isin(values)`` for text, in pyarrow."""
    found = pc.is_in(_arrow_text(keys), value_set=pc.unique(_arrow_text(values)))
    return pd.Series(found.to_numpy(zero_copy_only=False), index=keys.index, dtype=bool)


def _look_up(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``keys.map(table)`` for a text index with unique values (object; NaN when absent)."""
    position = pc.index_in(_arrow_text(keys), value_set=_arrow_text(table.index))
    found = position.is_valid().to_numpy(zero_copy_only=False)
    out = np.full(len(keys), np.nan, dtype=object)
    out[found] = table.to_numpy(dtype=object)[position.drop_null().to_numpy()]
    return pd.Series(out, index=keys.index, dtype=object)


# --- finishing --------------------------------------------------------------------------------


def _findings(
    frame: pd.DataFrame,
    detail: pd.Series,
    *,
    due_date: pd.Series | None = None,
    receipt: pd.Series | None = None,
) -> pd.DataFrame:
    """A rule's findings: the hit rows' employee ids (and owners), receipt, due date, detail.

    Columns keep their dtypes (text stays pyarrow-backed); :func:`_in_report_order` types them
    as the result has them.
    """
    out = pd.DataFrame(
        {
            "employee_id": frame["employee_id"].array,
            "receipt_number": (
                receipt.array if receipt is not None else np.full(len(frame), None, dtype=object)
            ),
            "due_date": (due_date.to_numpy() if due_date is not None else pd.NaT),
            "detail": detail.array,
        }
    )
    if all(column in frame for column in _OWNER_COLUMNS):  # the employee's own row
        for column in _OWNER_COLUMNS:
            out[column] = frame[column].array
        out["_owners_known"] = True
    return out


def _finish(findings: pd.DataFrame, rule: Rule, inputs: _Inputs) -> pa.Table:
    """Add rule code, severity (catalog policy), owner columns and the discrepancy id.

    Returns:
        The findings as an Arrow table: :data:`FINDING_COLUMNS` (text as ``large_string``,
        ``due_date`` as ``timestamp[ns]``) and ``_rank``, the severity's rank.
    """
    count = len(findings)
    due_dates = findings["due_date"]
    if due_dates.dtype != np.dtype("datetime64[ns]"):
        due_dates = pd.to_datetime(due_dates).astype("datetime64[ns]")
    due = due_dates.to_numpy()
    stamps = due.view(np.int64)
    dated = stamps != _NAT
    critical = np.zeros(count, dtype=bool)
    window = rule.severity.critical_within_days(inputs.policy)
    as_of = inputs.as_of.to_datetime64().astype("datetime64[ns]").view(np.int64)
    if window is not None:  # whole days to the due date, rounded down as Timedelta.days does
        critical |= dated & ((stamps - as_of) // _DAY_NS <= window)
    if rule.severity.critical_when_overdue:
        critical |= dated & (stamps < as_of)
    rank = np.where(critical, _SEVERITY_RANK["critical"], _SEVERITY_RANK[rule.severity.base])
    ids = _discrepancy_ids(
        findings["employee_id"],
        f"|{rule.code}|",
        findings["receipt_number"],
        findings["_key_extra"] if "_key_extra" in findings else None,
    )
    detail = _redacted(_arrow_text(findings["detail"]))
    columns: dict[str, pa.ChunkedArray | pa.Array] = {
        "discrepancy_id": pa.array(ids, type=pa.large_string()),
        "employee_id": _arrow_text(findings["employee_id"]),
        **_owners(findings, inputs),
        "rule_code": pc.fill_null(pa.nulls(count, pa.large_string()), rule.code),
        "severity": pc.if_else(pa.array(critical), "critical", rule.severity.base).cast(
            pa.large_string()
        ),
        "due_date": pa.array(due, type=pa.timestamp("ns"), from_pandas=True),
        "receipt_number": _arrow_text(findings["receipt_number"]),
        "detail": detail,
        "_rank": pa.array(rank, type=pa.int8()),
    }
    return pa.table(columns)


def _owners(findings: pd.DataFrame, inputs: _Inputs) -> dict[str, pa.ChunkedArray]:
    """The findings' owner columns: from the employee's own row, else looked up where missing."""
    if "_owners_known" in findings and bool(findings["_owners_known"].all()):
        return {column: _arrow_text(findings[column]) for column in _OWNER_COLUMNS}
    owners = {}
    for column in _OWNER_COLUMNS:
        values = pd.Series(
            findings[column].to_numpy(dtype=object) if column in findings else np.nan,
            index=findings.index,
            dtype=object,
        )
        missing = values.isna().to_numpy()
        if missing.any():
            looked_up = _look_up(findings.loc[missing, "employee_id"], inputs.owners[column])
            values[missing] = looked_up.to_numpy()
        owners[column] = _arrow_text(values)
    return owners


def _in_report_order(findings: pa.Table) -> pa.Table:
    """One rule's findings from :func:`_finish`, in the order :func:`_assemble` gives them.

    Sorted by severity rank (``_rank``, kept), employee id, receipt number and discrepancy id
    (missing last); :func:`_assemble_rules` then only has to interleave the rules.
    """
    keys = ["_rank", "employee_id", "receipt_number", "discrepancy_id"]
    order = pc.sort_indices(findings, sort_keys=[(key, "ascending", "at_end") for key in keys])
    return findings.take(order)


#: Finding columns of text (all but the due date).
_TEXT_FINDING_COLUMNS: Final = tuple(column for column in FINDING_COLUMNS if column != "due_date")


def _as_text(values: pd.Series) -> pd.Series:
    """``values`` as a ``str`` column (pyarrow-backed, NaN where missing); other values as text."""
    if values.dtype == _STR_DTYPE and isinstance(values.array, pd.arrays.ArrowStringArray):
        return values
    return pd.Series(_str_array(_arrow_text(values)), index=values.index, name=values.name)


def _assemble_rules(tables: list[pa.Table]) -> pd.DataFrame:
    """:func:`_assemble` of one table per rule, each from :func:`_in_report_order`.

    The report orders by severity rank, then rule code, then the keys each table is sorted by,
    so the tables' runs of equal rank only need to be interleaved.
    """
    if not tables:
        return _assemble([])
    pieces: list[tuple[int, str, pa.Table]] = []
    for table in tables:
        code = str(table["rule_code"][0])
        rank = table["_rank"].to_numpy()
        starts = np.flatnonzero(np.r_[True, rank[1:] != rank[:-1]])
        for start, end in zip(starts, [*starts[1:], len(table)], strict=True):
            pieces.append((int(rank[start]), code, table.slice(start, end - start)))
    pieces.sort(key=lambda piece: piece[:2])
    findings = pa.concat_tables([piece[2] for piece in pieces]).combine_chunks()
    ids = findings["discrepancy_id"]
    repeated = len(ids) - pc.count_distinct(ids).as_py()
    if repeated:
        raise ReconcileError(f"{repeated} findings share a discrepancy id")
    return pd.DataFrame(
        {
            column: (
                findings[column].to_numpy()
                if column == "due_date"
                else _str_array(findings[column])
            )
            for column in FINDING_COLUMNS
        }
    )


def _key_text(value: object) -> str:
    """``fillna("").astype(str)`` of one value that is not text."""
    return "" if pd.isna(value) else str(value)  # type: ignore[call-overload]


def _discrepancy_ids(
    employees: pd.Series, middle: str, receipts: pd.Series, extras: pd.Series | None = None
) -> list[str]:
    """sha256 of employee + middle + receipt + extra, first 32 hex digits, for each finding.

    Missing parts (and all extras when there are none) count as empty text, other values as
    their ``str``. Parts that are all text are joined by pyarrow; Python only hashes.
    """
    text = pa.large_string()
    parts = [_key_part(values) for values in (employees, receipts)]
    extra = pa.scalar("", text) if extras is None else _key_part(extras)
    if parts[0] is None or parts[1] is None or extra is None:
        return _discrepancy_ids_of_values(
            employees.tolist(),
            middle,
            receipts.tolist(),
            [""] * len(employees) if extras is None else extras.tolist(),
        )
    keys = pc.binary_join_element_wise(
        parts[0], pa.scalar(middle, text), parts[1], extra, pa.scalar("", text)
    )
    sha256 = hashlib.sha256
    return [sha256(key).hexdigest()[:32] for key in keys.cast(pa.large_binary()).to_pylist()]


def _key_part(values: pd.Series) -> pa.ChunkedArray | None:
    """A key part as text with missing values empty; None when some value is not text."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in (
        "string",
        "empty",
    ):
        return None
    return pc.fill_null(_arrow_text(values), "")


def _discrepancy_ids_of_values(
    employees: list[Any], middle: str, receipts: list[Any], extras: list[Any]
) -> list[str]:
    """:func:`_discrepancy_ids` value by value (any values)."""
    sha256 = hashlib.sha256
    return [
        sha256(
            (
                (employee if type(employee) is str else _key_text(employee))
                + middle
                + (receipt if type(receipt) is str else _key_text(receipt))
                + (extra if type(extra) is str else _key_text(extra))
            ).encode()
        ).hexdigest()[:32]
        for employee, receipt, extra in zip(employees, receipts, extras, strict=True)
    ]


def _redacted(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`~zairyu_sync.pii.redact_card_numbers` of each text."""
    masked: pa.ChunkedArray = pc.replace_substring_regex(
        text, pattern=_CARD_TOKEN, replacement=r"\1******\2"
    )
    return masked


def _assemble(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        empty = pd.DataFrame({column: pd.Series(dtype=_STR_DTYPE) for column in FINDING_COLUMNS})
        empty["due_date"] = pd.Series(dtype="datetime64[ns]")
        return empty
    result = pd.concat(frames, ignore_index=True)
    duplicated = result["discrepancy_id"].duplicated()
    if duplicated.any():
        raise ReconcileError(f"{int(duplicated.sum())} findings share a discrepancy id")
    result["_rank"] = result["severity"].map(_SEVERITY_RANK)
    keys = ["_rank", "rule_code", "employee_id", "receipt_number", "discrepancy_id"]
    result = result.iloc[_stable_order(result, keys, nulls_first=False)].drop(columns="_rank")
    for column in _TEXT_FINDING_COLUMNS:
        result[column] = _as_text(result[column])
    return result.reset_index(drop=True)


def _stable_order(frame: pd.DataFrame, keys: list[str], *, nulls_first: bool) -> np.ndarray:
    """Row positions of ``frame.sort_values(keys, na_position=..., kind="stable")``, in pyarrow.

    Text compares by code point in both (UTF-8 byte order is code point order).
    """
    columns = {
        key: _arrow_text(frame[key])
        if pd.api.types.is_string_dtype(frame[key]) or frame[key].dtype == object
        else pa.array(frame[key], from_pandas=True)
        for key in keys
    }
    nulls = "at_start" if nulls_first else "at_end"
    order = pc.sort_indices(
        pa.table(columns), sort_keys=[(key, "ascending", nulls) for key in keys]
    )
    positions: np.ndarray = order.to_numpy()
    return positions


def _rows(frame: pd.DataFrame, where: pd.Series, *columns: str) -> pd.DataFrame:
    """The rows ``where`` holds (employees or applications): id, owner columns, ``columns``."""
    kept = list(dict.fromkeys(["employee_id", *_OWNER_COLUMNS, *columns]))
    return frame[kept].iloc[np.flatnonzero(where.to_numpy(dtype=bool))]


def _text_codes(text: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Each value's code (-1 when missing) and the distinct values, in order of appearance."""
    encoded = pc.dictionary_encode(_arrow_text(text).combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return codes, encoded.dictionary.to_pylist()


def _codes_in(codes: np.ndarray, values: list[str | None], wanted: Iterable[str]) -> np.ndarray:
    """``text.isin(wanted)`` from :func:`_text_codes` (missing text is in no set)."""
    chosen = set(wanted)
    table = np.zeros(len(values) + 1, dtype=bool)  # the last slot answers code -1
    table[: len(values)] = [value in chosen for value in values]
    found: np.ndarray = table[codes]
    return found


def _iso(series: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text (pandas ``str``), ``unknown`` where missing.

    Findings repeat few distinct dates: each is formatted once, then looked up.
    """
    days = pa.array(series.to_numpy(dtype="datetime64[D]"))
    distinct = pc.dictionary_encode(days)
    formatted = pc.strftime(distinct.dictionary, format="%Y-%m-%d")
    text = pc.fill_null(pc.take(formatted, distinct.indices), "unknown")
    return pd.Series(_str_array(text), index=series.index, name=series.name)


# --- rules: residence status --------------------------------------------------------------------


@_rule("STATUS_EXPIRED")
def _status_expired(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    hit = _rows(
        emp,
        emp["active"]
        & ~inputs.status_in(NO_FIXED_PERIOD)
        & (emp["period_of_stay_expiry"] < inputs.as_of)
        & ~emp["pending_cover"]
        & ~emp["permitted_cover"],
        "residence_status",
        "period_of_stay_expiry",
    )
    detail = (
        "Period of stay ("
        + hit["residence_status"]
        + ") expired on "
        + _iso(hit["period_of_stay_expiry"])
        + "; no extension/change filed on or before the expiry is pending within the special "
        "period and no permitted application grants a period to the as-of date or later."
    )
    return _findings(hit, detail, due_date=hit["period_of_stay_expiry"])


@_rule("SPECIAL_PERIOD")
def _special_period(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    hit = _rows(
        emp,
        emp["active"] & (emp["period_of_stay_expiry"] < inputs.as_of) & emp["pending_cover"],
        "period_of_stay_expiry",
        "covering_receipt",
        "special_period_end",
    )
    detail = (
        "Period of stay expired on "
        + _iso(hit["period_of_stay_expiry"])
        + "; working in the special period under pending application "
        + hit["covering_receipt"].fillna("")
        + " until at most "
        + _iso(hit["special_period_end"])
        + "."
    )
    return _findings(
        hit, detail, due_date=hit["special_period_end"], receipt=hit["covering_receipt"]
    )


@_rule("EXPIRY_APPROACHING")
def _expiry_approaching(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    horizon = inputs.as_of + pd.Timedelta(days=inputs.policy.expiry_horizon_days)
    expiry = emp["period_of_stay_expiry"]
    hit = _rows(
        emp,
        emp["active"] & (expiry >= inputs.as_of) & (expiry <= horizon) & ~emp["has_renewal"],
        "residence_status",
        "period_of_stay_expiry",
    )
    days_left = (hit["period_of_stay_expiry"] - inputs.as_of).dt.days.astype(int).astype(str)
    detail = (
        "Period of stay ("
        + hit["residence_status"]
        + ") expires on "
        + _iso(hit["period_of_stay_expiry"])
        + " (in "
        + days_left
        + " days) and no extension/change application is pending or permitted."
    )
    return _findings(hit, detail, due_date=hit["period_of_stay_expiry"])


@_rule("CARD_RENEWAL_DUE")
def _card_renewal_due(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    limit = inputs.as_of + pd.Timedelta(days=inputs.policy.card_renewal_days)
    hit = _rows(
        emp,
        emp["active"]
        & inputs.status_in(_CARD_RENEWAL_STATUSES)
        & (emp["card_valid_until"] <= limit),
        "residence_card_number",
        "card_valid_until",
        "residence_status",
    )
    detail = (
        "Residence card "
        + hit["residence_card_number"].map(mask_card_number)
        + " is valid until "
        + _iso(hit["card_valid_until"])
        + "; the holder ("
        + hit["residence_status"]
        + ") must renew the card."
    )
    return _findings(hit, detail, due_date=hit["card_valid_until"])


@_rule("WORK_NOT_PERMITTED")
def _work_not_permitted(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    designated_no = inputs.status_in(("designated_activities",)) & emp[
        "designated_work_permitted"
    ].eq(False).fillna(False).astype(bool)
    no_permission = emp["outside_status_permission"].fillna("none") == "none"
    hit = _rows(
        emp,
        emp["active"]
        & (inputs.status_in(WORK_NOT_PERMITTED_WITHOUT_PERMISSION) | designated_no)
        & no_permission,
        "residence_status",
    )
    reason = hit["residence_status"].where(
        hit["residence_status"] != "designated_activities",
        "designated_activities whose designation does not allow this work",
    )
    detail = (
        "Status " + reason + " does not permit work and no permission for activity outside "
        "status is recorded."
    )
    return _findings(hit, detail)


@dataclass(frozen=True)
class _HolderHours:
    """The holders of comprehensive permission and their days over a limit."""

    holding: np.ndarray  # per employee: holds comprehensive permission
    holder_ids: pd.Series  # the holders' employee ids
    daily: pd.DataFrame  # their days over a limit (_days_over_limits)


def _holder_hours(
    employee_ids: pd.Series,
    permissions: pd.Series,
    statuses: pd.Series,
    timesheets: pd.DataFrame,
    day: pd.Timestamp,
    policy: PolicySettings,
) -> _HolderHours:
    """The hours rule's work on the roster's columns (employee id, permission, status)."""
    holding = (permissions == "comprehensive").to_numpy(dtype=bool)
    holder_ids = employee_ids[holding].reset_index(drop=True)
    student = (statuses[holding] == "student").to_numpy(dtype=bool)
    start = day - pd.Timedelta(days=policy.hours_lookback_days - 1)
    daily = _daily_hours_by_holder_blocks(timesheets, holder_ids, student, start, policy)
    if daily is None:
        daily = _daily_hours_of_rows(timesheets, holder_ids, student, start, policy)
    return _HolderHours(holding=holding, holder_ids=holder_ids, daily=daily)


@_rule(_HOURS_RULE)
def _hours_limit_exceeded(inputs: _Inputs) -> pd.DataFrame:
    policy = inputs.policy
    emp = inputs.employees
    worked = inputs.holder_hours()
    holding, holder_ids, daily = worked.holding, worked.holder_ids, worked.daily
    ids = holder_ids.to_numpy(dtype=object)
    window_text = f" h in the {policy.hours_window_days} days ending "
    week_text = {
        holder: f"{hours:.1f}{window_text}{day} (limit {policy.weekly_hours_limit:g} h)"
        for holder, (hours, day) in _worst(daily, "window_hours", policy.weekly_hours_limit).items()
    }
    vac_limit = policy.long_vacation_daily_limit
    vac_text = {
        holder: f"{hours:.1f} h on long-vacation day {day} (limit {vac_limit:g} h/day)"
        for holder, (hours, day) in _worst(daily, "vacation_hours", vac_limit).items()
    }
    breached = sorted(week_text.keys() | vac_text.keys(), key=lambda holder: ids[holder])
    if not breached:
        return _findings(pd.DataFrame({"employee_id": []}), pd.Series(dtype=object))
    detail = pd.Series(
        [
            "Comprehensive permission exceeded: worked "
            + (week_text.get(holder, "") + "; " + vac_text.get(holder, "")).strip("; ")
            + "."
            for holder in breached
        ],
        dtype=object,
    )
    breached_rows = np.flatnonzero(holding)[np.array(breached, dtype=np.int64)]
    hit = emp[["employee_id", *_OWNER_COLUMNS]].iloc[breached_rows].reset_index(drop=True)
    return _findings(hit, detail)


def _daily_hours_of_rows(
    timesheets: pd.DataFrame,
    holder_ids: pd.Series,
    student: np.ndarray,
    start: pd.Timestamp,
    policy: PolicySettings,
) -> pd.DataFrame:
    """The holders' days over a limit (:func:`_daily_hours_grid`), from all rows at once."""
    rows = _holder_timesheets(timesheets, holder_ids, start, policy.hours_lookback_days)
    holder, offset, hours = rows["holder"], rows["day"], rows["hours"]
    vacation = student[holder] & rows["is_long_vacation"]
    vacation_hours: np.ndarray | None = None
    counted = hours
    if vacation.any():
        counted, vacation_hours = np.where(vacation, 0.0, hours), np.where(vacation, hours, 0.0)
    daily = None
    if _exact_sums(hours):
        daily = _daily_hours_grid(
            holder, offset, counted, vacation_hours, len(holder_ids), policy, start
        )
    if daily is None:
        if vacation_hours is None:
            vacation_hours = np.zeros(len(hours))
        ts = {
            "holder": holder,
            "work_date": start.to_datetime64().astype("datetime64[ns]")
            + offset.astype("timedelta64[D]"),
            "counted": counted,
            "vacation_hours": vacation_hours,
        }
        if _exact_sums(hours):
            daily = _daily_hours_exact(ts, policy, start)
        else:
            daily = _daily_hours(pd.DataFrame(ts), policy)
    return daily


def _daily_hours_by_holder_blocks(
    timesheets: pd.DataFrame,
    holder_ids: pd.Series,
    student: np.ndarray,
    start: pd.Timestamp,
    policy: PolicySettings,
    *,
    block_holders: int = _GRID_BLOCK_HOLDERS,
) -> pd.DataFrame | None:
    """:func:`_daily_hours_of_rows` worked out ``block_holders`` holders at a time.

    Taken when the timesheet rows come grouped by holder in holder order (as the ERP lists
    them), the columns are typed (``datetime64[ns]`` dates, ``float64`` hours, boolean flags)
    and the hours sum exactly (:func:`_exact_sums`); None otherwise. Each block's rows are a
    contiguous slice, so every temporary array is a block's size rather than all rows'.
    """
    dates, hours, flags = (
        timesheets["work_date"],
        timesheets["hours"],
        timesheets["is_long_vacation"],
    )
    if not (
        dates.dtype == np.dtype("datetime64[ns]")
        and hours.dtype == np.float64
        and isinstance(flags.dtype, pd.BooleanDtype)
    ):
        return None
    heads, at_head = _runs(_arrow_text(timesheets["employee_id"]), _arrow_text(holder_ids))
    # Runs of ids that are not holders belong to the block of the run before them.
    filled = np.maximum.accumulate(at_head) if len(at_head) else at_head
    if len(at_head) and not (filled[at_head >= 0] == at_head[at_head >= 0]).all():
        return None  # a holder's rows are not in holder order
    stamps = dates.to_numpy().view(np.int64)
    all_hours = hours.to_numpy(dtype=np.float64)
    all_flags = flags.to_numpy(dtype=bool, na_value=False)
    first = start.to_datetime64().astype("datetime64[ns]").view(np.int64)
    last = first + policy.hours_lookback_days * _DAY_NS
    run_ends = np.r_[heads[1:], len(stamps)]
    firsts = np.arange(0, len(holder_ids), block_holders)
    run_bounds = np.asarray(np.searchsorted(filled, np.r_[firsts, len(holder_ids)]))
    parts: list[tuple[np.ndarray, ...]] = []
    total = 0.0
    for block, holder_first in enumerate(firsts.tolist()):
        run_from, run_to = int(run_bounds[block]), int(run_bounds[block + 1])
        if run_from == run_to:
            continue
        row_from, row_to = int(heads[run_from]), int(run_ends[run_to - 1])
        holder = np.repeat(
            at_head[run_from:run_to], run_ends[run_from:run_to] - heads[run_from:run_to]
        )
        stamp = stamps[row_from:row_to]
        kept = holder >= 0
        kept &= stamp >= first  # NaT is the smallest int64: never kept
        kept &= stamp < last
        worked, vacation_flag = all_hours[row_from:row_to], all_flags[row_from:row_to]
        if not kept.all():
            holder, stamp, worked, vacation_flag = (
                holder[kept],
                stamp[kept],
                worked[kept],
                vacation_flag[kept],
            )
        if not len(holder):
            continue
        worked = np.where(np.isnan(worked), 0.0, worked)
        block_total = _exact_total(worked)
        if block_total is None:
            return None
        total += block_total
        day = (stamp - first) // _DAY_NS
        vacation = student[holder] & vacation_flag
        vacation_hours = None
        counted = worked
        if vacation.any():
            counted = np.where(vacation, 0.0, worked)
            vacation_hours = np.where(vacation, worked, 0.0)
        first_day = int(day.min())
        over = _grid_block(
            holder - holder_first,
            day - first_day,
            counted,
            vacation_hours,
            min(block_holders, len(holder_ids) - holder_first),
            int(day.max()) - first_day + 1,
            policy,
        )
        parts.append((over[0] + holder_first, over[1] + first_day, *over[2:]))
    if total >= _EXACT_TOTAL_LIMIT:
        return None
    columns = tuple(
        np.concatenate([part[index] for part in parts]) if parts else np.zeros(0)
        for index in range(5)
    )
    return _days_over_limits(columns, start)


def _worst(daily: pd.DataFrame, column: str, limit: float) -> dict[int, tuple[float, str]]:
    """Per holder, the day with the highest ``column`` above ``limit`` (ties: earliest).

    Returns ``{holder: (value, YYYY-MM-DD)}``.
    """
    values = daily[column].to_numpy(dtype=np.float64)
    over = values > limit + 1e-9
    holder = daily["holder"].to_numpy()[over]
    values, days = values[over], daily["work_date"].to_numpy()[over]
    order = np.lexsort((days, -values, holder))
    holder, values, days = holder[order], values[order], days[order]
    first = np.r_[True, holder[1:] != holder[:-1]] if len(holder) else np.zeros(0, dtype=bool)
    text = np.datetime_as_string(days[first].astype("datetime64[D]"), unit="D")
    return dict(
        zip(
            holder[first].tolist(),
            zip(values[first].tolist(), text.tolist(), strict=True),
            strict=True,
        )
    )


def _exact_sums(hours: np.ndarray) -> bool:
    """Whether every sum of these hours is exact in float64 (multiples of 1/1024 h, bounded).

    Then any order of summation gives the same result, so running sums can replace pandas'
    rolling windows without changing a single bit.
    """
    total = _exact_total(hours)
    return total is not None and total < _EXACT_TOTAL_LIMIT


#: Sums of multiples of 1/1024 h are exact in float64 while their total stays below this.
_EXACT_TOTAL_LIMIT: Final = 2.0**52


def _exact_total(hours: np.ndarray) -> float | None:
    """The total of ``|hours| x 1024`` when all are multiples of 1/1024 h, else None."""
    total = 0.0
    for begin in range(0, len(hours), _CHUNK):  # in cache-sized pieces
        scaled = hours[begin : begin + _CHUNK] * 1024.0
        if not (np.floor(scaled) == scaled).all():  # NaN fails here, inf in the total
            return None
        total += float(np.abs(scaled).sum())
    return total


def _daily_hours_grid(
    holder: np.ndarray,
    day: np.ndarray,
    counted: np.ndarray,
    vacation: np.ndarray | None,
    holders: int,
    policy: PolicySettings,
    start: pd.Timestamp,
) -> pd.DataFrame | None:
    """:func:`_daily_hours_exact` on a dense holder x day grid; None when the grid is too large.

    ``day`` counts days from ``start`` (0 .. lookback - 1); ``vacation`` holds long-vacation
    hours (None: there are none). Days are summed by ``bincount`` and
    windows from running totals along each holder's row, so the hours must sum exactly
    (:func:`_exact_sums`); only days with timesheet rows are returned, ordered by holder and day.
    (Rows in holder order take :func:`_daily_hours_by_holder_blocks`, which fills the grid a few
    thousand holders at a time.)
    """
    if not len(day):
        first_day, days = 0, 1
    else:  # the grid spans the days that have rows (earlier days add nothing)
        first_day = int(day.min())
        days = int(day.max()) - first_day + 1
    if holders * days > max(4 * len(holder), 1 << 22):
        return None
    if vacation is not None and not vacation.any():
        vacation = None
    over = _grid_block(holder, day - first_day, counted, vacation, holders, days, policy)
    return _days_over_limits((over[0], over[1] + first_day, *over[2:]), start)


def _days_over_limits(over: tuple[np.ndarray, ...], start: pd.Timestamp) -> pd.DataFrame:
    """The frame the hours rule reads from :func:`_grid_block`'s arrays (days from ``start``)."""
    return pd.DataFrame(
        {
            "holder": over[0].astype(np.int64),
            "work_date": start.to_datetime64().astype("datetime64[ns]")
            + over[1].astype(np.int64).astype("timedelta64[D]"),
            "counted": over[2].astype(np.float64),
            "vacation_hours": over[3].astype(np.float64),
            "window_hours": over[4].astype(np.float64),
        }
    )


def _grid_block(
    holder: np.ndarray,
    day: np.ndarray,
    counted: np.ndarray,
    vacation: np.ndarray | None,
    holders: int,
    days: int,
    policy: PolicySettings,
) -> tuple[np.ndarray, ...]:
    """The days over a limit among ``holders`` x ``days`` (holder and day count from 0).

    Returns:
        Holder, day, hours counted, long-vacation hours and window hours of each such day.
    """
    cells = holders * days
    key = holder.astype(np.int64, copy=False) * days
    key += day
    present = np.zeros(cells, dtype=bool)
    present[key] = True
    day_counted = np.bincount(key, weights=counted, minlength=cells).reshape(holders, days)
    day_vacation: np.ndarray = np.zeros((holders, days))
    if vacation is not None:
        day_vacation = np.bincount(key, weights=vacation, minlength=cells).reshape(holders, days)
    running = np.cumsum(day_counted, axis=1)
    window_hours = running.copy()
    window = policy.hours_window_days
    if 0 < window < days:
        window_hours[:, window:] -= running[:, :-window]
    over = present.reshape(holders, days) & (
        (window_hours > policy.weekly_hours_limit + 1e-9)
        | (day_vacation > policy.long_vacation_daily_limit + 1e-9)
    )
    holder_over, day_over = np.nonzero(over)
    return holder_over, day_over, day_counted[over], day_vacation[over], window_hours[over]


def _daily_hours_exact(
    ts: pd.DataFrame | dict[str, np.ndarray], policy: PolicySettings, start: pd.Timestamp
) -> pd.DataFrame:
    """Per holder and day: hours counted, long-vacation hours and the rolling window's sum.

    Only days over a limit are returned (the rule looks at no others). Sums come from running
    totals over (holder, day) keys, so the hours must sum exactly (:func:`_exact_sums`).
    """
    window = policy.hours_window_days
    span = policy.hours_lookback_days + window
    work_date = np.asarray(ts["work_date"]).astype("datetime64[ns]", copy=False)
    first_day = start.to_datetime64().astype("datetime64[ns]")
    if np.isnat(work_date).any():
        offset = ((work_date - first_day) // np.timedelta64(1, "D")).astype(np.int64)
    else:  # the same floor division, on the integers
        offset = (work_date.view(np.int64) - first_day.view(np.int64)) // _DAY_NS
    key = np.asarray(ts["holder"]).astype(np.int64, copy=False) * span + offset
    counted = np.asarray(ts["counted"], dtype=np.float64)
    vacation = np.asarray(ts["vacation_hours"], dtype=np.float64)
    step = np.diff(key)
    if len(key) and not (step >= 0).all():
        order = np.argsort(key, kind="stable")
        key, counted, vacation = key[order], counted[order], vacation[order]
        step = np.diff(key)
    if (step > 0).all():  # one row per (holder, day): the rows are the daily sums
        days, day_counted, day_vacation = key, counted, vacation
    else:
        first = np.flatnonzero(np.r_[True, step != 0]) if len(key) else np.zeros(0, int)
        days = key[first]
        day_counted = np.add.reduceat(counted, first) if len(first) else np.zeros(0)
        day_vacation = np.add.reduceat(vacation, first) if len(first) else np.zeros(0)
    if window <= _SHORT_WINDOW:
        # Add the (at most window - 1) earlier days of the same holder within the window:
        # keys of two holders are at least window + 1 apart.
        window_hours = day_counted.copy()
        for back in range(1, min(window, len(days))):
            near = (days[back:] - days[:-back]) < window
            np.add(window_hours[back:], day_counted[:-back], out=window_hours[back:], where=near)
    else:
        running = np.r_[0.0, np.cumsum(day_counted)]
        window_start = np.searchsorted(days, days - (window - 1), side="left")
        window_hours = running[1:] - running[window_start]
    over = (window_hours > policy.weekly_hours_limit + 1e-9) | (
        day_vacation > policy.long_vacation_daily_limit + 1e-9
    )
    holder, day_offset = np.divmod(days[over], span)
    return pd.DataFrame(
        {
            "holder": holder,
            "work_date": start.to_datetime64().astype("datetime64[ns]")
            + day_offset.astype("timedelta64[D]"),
            "counted": day_counted[over],
            "vacation_hours": day_vacation[over],
            "window_hours": window_hours[over],
        }
    )


def _daily_hours(ts: pd.DataFrame, policy: PolicySettings) -> pd.DataFrame:
    """Per holder and day: hours counted, long-vacation hours and the rolling window's sum."""
    daily = (
        ts.groupby(["holder", "work_date"], as_index=False)[["counted", "vacation_hours"]]
        .sum()
        .sort_values(["holder", "work_date"], kind="stable")
        .reset_index(drop=True)
    )
    rolling = (
        daily.set_index("work_date")
        .groupby("holder", sort=False)["counted"]
        .rolling(f"{policy.hours_window_days}D")
        .sum()
    )
    daily["window_hours"] = rolling.to_numpy(dtype="float64") if len(daily) else 0.0
    return daily


@_rule("STUDENT_NOT_ENROLLED")
def _student_not_enrolled(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    hit = _rows(
        emp,
        emp["active"]
        & inputs.status_in(("student",))
        & (emp["student_enrolled_until"] < inputs.as_of),
        "student_enrolled_until",
    )
    detail = (
        "Student enrollment ended on "
        + _iso(hit["student_enrolled_until"])
        + "; the permission to work outside status no longer applies."
    )
    return _findings(hit, detail, due_date=hit["student_enrolled_until"])


@_rule("DESIGNATED_ORGANIZATION_MISMATCH")
def _designated_organization_mismatch(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    designated = emp["designated_organization_id"]
    hit = _rows(
        emp,
        emp["active"]
        & inputs.status_in(TIED_TO_DESIGNATED_ORGANIZATION)
        & (designated.isna() | (designated != emp["organization_id"])),
        "designated_organization_id",
        "residence_status",
    )
    named = hit["designated_organization_id"].fillna("no organization recorded")
    detail = (
        "Status "
        + hit["residence_status"]
        + " is tied to the designated organization ("
        + named
        + ") but the employee works for "
        + hit["organization_id"].fillna("unknown")
        + "."
    )
    return _findings(hit, detail)


# --- rules: applications ----------------------------------------------------------------------


def _latest(
    apps: pd.DataFrame, among: pd.Series, person: np.ndarray, *columns: str
) -> pd.DataFrame:
    """Per employee, the application ``among`` last by (decided_on, filed_on, receipt_number).

    ``person`` is each application's employee as a number (its row among the employees), so
    the applications are grouped by an integer rather than by the employee id's text. Only
    the key columns are sorted; the kept rows are taken from ``apps`` once, with the employee
    id, receipt number, owner columns and ``columns``.
    """
    wanted = apps[list(dict.fromkeys(["employee_id", "receipt_number", *_OWNER_COLUMNS, *columns]))]
    rows = np.flatnonzero(among.to_numpy(dtype=bool))
    keys = pd.DataFrame(
        {
            "person": person[rows],
            "decided_on": apps["decided_on"].to_numpy()[rows],
            "filed_on": apps["filed_on"].to_numpy()[rows],
            "receipt_number": _str_array(_arrow_text(apps["receipt_number"]).take(pa.array(rows))),
        }
    )
    order = rows[_stable_order(keys, list(keys.columns), nulls_first=True)]
    # Sorted by employee first: an employee's rows are adjacent, the last one is kept.
    holder = person[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = holder[1:] != holder[:-1]
    latest: pd.DataFrame = wanted.iloc[order[last]]
    return latest


@_rule("APPLICATION_DENIED")
def _application_denied(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    hit = _rows(
        apps,
        apps["active"] & (apps["status"] == "NOT_PERMITTED"),
        "application_type",
        "receipt_number",
        "decided_on",
    )
    detail = (
        "ISA did not permit the "
        + hit["application_type"].fillna("unknown")
        + " application "
        + hit["receipt_number"]
        + " (decided "
        + _iso(hit["decided_on"])
        + ")."
    )
    return _findings(hit, detail, due_date=hit["decided_on"], receipt=hit["receipt_number"])


@_rule("ADDITIONAL_DOCUMENTS_REQUESTED")
def _additional_documents_requested(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    hit = _rows(
        apps,
        apps["status"] == "AWAITING_ADDITIONAL_DOCUMENTS",
        "receipt_number",
        "additional_documents_due",
    )
    detail = (
        "ISA requested additional documents for application "
        + hit["receipt_number"]
        + " (due "
        + _iso(hit["additional_documents_due"])
        + ")."
    )
    return _findings(
        hit, detail, due_date=hit["additional_documents_due"], receipt=hit["receipt_number"]
    )


@_rule("STATUS_MISMATCH")
def _status_mismatch(inputs: _Inputs) -> pd.DataFrame:
    latest = inputs.latest_permitted
    hit = latest[
        latest["granted_status"].notna()
        & (latest["granted_status"] != latest["residence_status"].fillna(""))
    ]
    detail = (
        "Application "
        + hit["receipt_number"]
        + " granted status "
        + hit["granted_status"]
        + " but the ERP has "
        + hit["residence_status"].fillna("none")
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("EXPIRY_MISMATCH")
def _expiry_mismatch(inputs: _Inputs) -> pd.DataFrame:
    latest = inputs.latest_permitted
    granted, recorded = latest["granted_period_expiry"], latest["period_of_stay_expiry"]
    hit = latest[granted.notna() & (recorded.isna() | (granted != recorded))]
    detail = (
        "Application "
        + hit["receipt_number"]
        + " granted a period of stay to "
        + _iso(hit["granted_period_expiry"])
        + " but the ERP has "
        + hit["period_of_stay_expiry"].dt.strftime("%Y-%m-%d").fillna("no expiry")
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("CARD_NUMBER_STALE")
def _card_number_stale(inputs: _Inputs) -> pd.DataFrame:
    latest = inputs.latest_completed
    new_card = latest["new_residence_card_number"]
    hit = latest[new_card.notna() & (new_card != latest["residence_card_number"].fillna(""))]
    detail = (
        "Application "
        + hit["receipt_number"]
        + " issued card "
        + hit["new_residence_card_number"].map(mask_card_number)
        + " but the ERP still has "
        + hit["residence_card_number"].map(mask_card_number)
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("APPLICATION_NOT_FOUND")
def _application_not_found(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    hit = _rows(apps, ~apps["at_isa"], "application_type", "receipt_number", "filed_on")
    detail = (
        "The ERP's "
        + hit["application_type"].fillna("unknown")
        + " application "
        + hit["receipt_number"]
        + " (filed "
        + _iso(hit["filed_on"])
        + ") is unknown to the ISA status API."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("APPLICATION_UNTRACKED")
def _application_untracked(inputs: _Inputs) -> pd.DataFrame:
    isa = inputs.isa
    hit = isa[~inputs.isa_held]
    if hit.empty:
        return _findings(hit.assign(employee_id=None), pd.Series(dtype=object))
    emp = inputs.employees
    holders = _among(emp["residence_card_number"], hit["applicant_residence_card_number"].dropna())
    cards = (
        emp.loc[holders, ["employee_id", "residence_card_number", *_OWNER_COLUMNS]]
        .sort_values("employee_id", kind="stable")
        .drop_duplicates("residence_card_number")
        .set_index("residence_card_number")
    )
    card = hit["applicant_residence_card_number"]
    hit = hit.assign(**{column: card.map(cards[column]).astype(object) for column in cards.columns})
    detail = (
        "ISA has "
        + hit["application_type"].fillna("unknown")
        + " application "
        + hit["receipt_number"]
        + " ("
        + hit["status"].fillna("unknown status")
        + ", filed "
        + _iso(hit["filed_on"])
        + ") that the ERP does not record"
        + hit["employee_id"].map(lambda e: "" if isinstance(e, str) else "; no employee matches")
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("APPLICATION_PENDING_LONG")
def _application_pending_long(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    age = (inputs.as_of - apps["filed_on"]).dt.days
    hit = _rows(
        apps,
        apps["pending"] & (age > inputs.policy.pending_long_days),
        "receipt_number",
        "status",
        "filed_on",
    )
    days = (inputs.as_of - hit["filed_on"]).dt.days.astype(int).astype(str)
    detail = (
        "Application "
        + hit["receipt_number"]
        + " ("
        + hit["status"]
        + ") was filed on "
        + _iso(hit["filed_on"])
        + ", "
        + days
        + " days ago, and is still pending."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


# --- deadlines: special period and Hello Work (public helpers) -------------------------------


def special_period_end(expiry: pd.Series) -> pd.Series:
    """The last day of the special period for each period-of-stay expiry.

    Args:
        expiry: ``period_of_stay_expiry`` as ``datetime64`` (NaT allowed).

    Returns:
        ``expiry`` + 2 calendar months, clamped to that month's last day (NaT stays NaT).
    """
    days = _calendar_days(expiry)
    if days is None:
        end: pd.Series = (expiry + pd.DateOffset(months=2)).astype("datetime64[ns]")
        return end
    return _day_series(_per_distinct_day(days, _two_months_later), expiry)


def _two_months_later(days: np.ndarray) -> np.ndarray:
    month = days.astype("datetime64[M]")
    into_month = days - month.astype("datetime64[D]")
    shifted = (month + 2).astype("datetime64[D]") + into_month
    last_day = (month + 3).astype("datetime64[D]") - np.timedelta64(1, "D")
    later: np.ndarray = np.minimum(shifted, last_day)
    return later


def _per_distinct_day(days: np.ndarray, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``function(days)`` for ``datetime64[D]`` days (NaT stays NaT), worked out once per day.

    Many rows share few calendar days: the function runs over the days from the first to the
    last one present and each row looks its day up.
    """
    present = ~np.isnat(days)
    if not present.any():
        return function(days)
    first, last = days[present].min(), days[present].max()
    span = int((last - first) // np.timedelta64(1, "D")) + 1
    if span > max(len(days), 1 << 16):
        return function(days)
    table = function(np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]"))
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
    out[present] = table[(days[present] - first).astype(np.int64)]
    return out


def hellowork_hire_deadline(hire: pd.Series, insured: pd.Series) -> pd.Series:
    """The Hello Work hire notification deadline for each hire date.

    Args:
        hire: hire dates as ``datetime64``.
        insured: employment-insurance insured person (True/False, aligned with ``hire``).

    Returns:
        Insured: the 10th of the month after the hire month; otherwise the last day of the month
        after the hire month.
    """
    flags = insured.astype("boolean").fillna(False).astype(bool)
    deadline: pd.Series = _tenth_of_month_after(hire).where(flags, _month_after_end(hire))
    return deadline


def hellowork_separation_deadline(termination: pd.Series, insured: pd.Series) -> pd.Series:
    """The Hello Work separation notification deadline for each termination date.

    Args:
        termination: termination dates as ``datetime64``.
        insured: employment-insurance insured person (True/False, aligned with ``termination``).

    Returns:
        Insured: termination date + 10 days; otherwise the last day of the month after the
        termination month.
    """
    flags = insured.astype("boolean").fillna(False).astype(bool)
    deadline: pd.Series = (termination + pd.Timedelta(days=10)).where(
        flags, _month_after_end(termination)
    )
    return deadline


def _month_after_end(days: pd.Series) -> pd.Series:
    calendar = _calendar_days(days)
    if calendar is not None:
        month = calendar.astype("datetime64[M]")
        last_day = (month + 2).astype("datetime64[D]") - np.timedelta64(1, "D")
        return _day_series(last_day, days)
    first_of_next = (days.dt.to_period("M") + 1).dt.to_timestamp()
    end: pd.Series = (first_of_next + pd.offsets.MonthEnd(0)).astype("datetime64[ns]")
    return end


def _tenth_of_month_after(days: pd.Series) -> pd.Series:
    calendar = _calendar_days(days)
    if calendar is not None:
        month = calendar.astype("datetime64[M]")
        return _day_series((month + 1).astype("datetime64[D]") + np.timedelta64(9, "D"), days)
    first_of_next = (days.dt.to_period("M") + 1).dt.to_timestamp()
    tenth: pd.Series = (first_of_next + pd.Timedelta(days=9)).astype("datetime64[ns]")
    return tenth


def _calendar_days(values: pd.Series) -> np.ndarray | None:
    """Midnight ``datetime64[ns]`` values as ``datetime64[D]``; None when the shortcut is unsafe.

    The numpy month arithmetic above stands in for pandas' offsets only for plain dates (no
    time of day, no time zone) far enough from the nanosecond range's ends that a few months
    either way stay inside it.
    """
    if values.dtype != np.dtype("datetime64[ns]"):
        return None
    stamps = values.to_numpy()
    present = stamps[~np.isnat(stamps)]
    if not present.size:
        return stamps.astype("datetime64[D]")
    if present.min() < _MIN_DAY or present.max() > _LAST_SHIFTABLE_DAY:
        return None
    if (present.view("int64") % _DAY_NS).any():
        return None
    return stamps.astype("datetime64[D]")


def _day_series(days: np.ndarray, like: pd.Series) -> pd.Series:
    return pd.Series(days.astype("datetime64[ns]"), index=like.index, name=like.name)


# --- rules: Hello Work ------------------------------------------------------------------------


@_rule("HELLOWORK_HIRE_OVERDUE")
def _hellowork_hire_overdue(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    age = (inputs.as_of - emp["hire_date"]).dt.days
    recent = (
        ~inputs.status_in(_HELLOWORK_EXEMPT)
        & (age >= 0)
        & (age <= inputs.policy.hellowork_lookback_days)
        & emp["hellowork_hire_notified_on"].isna()
    )
    # The deadline is worked out for these (few) rows only.
    emp = _rows(emp, recent, "hire_date", "employment_insured")
    insured = emp["employment_insured"].eq(True).fillna(False).astype(bool)
    deadline = hellowork_hire_deadline(emp["hire_date"], insured)
    due = inputs.as_of > deadline
    hit, deadline = emp[due], deadline[due]
    detail = (
        "Hired on "
        + _iso(hit["hire_date"])
        + "; the Hello Work hire notification ("
        + insured[due].map({True: "insured", False: "not insured"})
        + ") was due by "
        + _iso(deadline)
        + " and is not recorded."
    )
    return _findings(hit, detail, due_date=deadline)


@_rule("HELLOWORK_SEPARATION_OVERDUE")
def _hellowork_separation_overdue(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    age = (inputs.as_of - emp["termination_date"]).dt.days
    recent = (
        ~inputs.status_in(_HELLOWORK_EXEMPT)
        & (age >= 0)
        & (age <= inputs.policy.hellowork_lookback_days)
        & emp["hellowork_separation_notified_on"].isna()
    )
    # The deadline is worked out for these (few) rows only.
    emp = _rows(emp, recent, "termination_date", "employment_insured")
    insured = emp["employment_insured"].eq(True).fillna(False).astype(bool)
    deadline = hellowork_separation_deadline(emp["termination_date"], insured)
    due = inputs.as_of > deadline
    hit, deadline = emp[due], deadline[due]
    detail = (
        "Left on "
        + _iso(hit["termination_date"])
        + "; the Hello Work separation notification ("
        + insured[due].map({True: "insured", False: "not insured"})
        + ") was due by "
        + _iso(deadline)
        + " and is not recorded."
    )
    return _findings(hit, detail, due_date=deadline)


# --- rules: data quality ----------------------------------------------------------------------


@_rule("DATA_QUALITY")
def _data_quality(inputs: _Inputs) -> pd.DataFrame:
    quarantine = inputs.quarantine
    frame = quarantine.assign(
        _employee=quarantine["employee_id"].fillna(""),
        _receipt=quarantine["receipt_number"].fillna(""),
        _row=quarantine["row_number"].astype(str),
    )
    grouped = _quarantine_groups(frame, ["_employee", "source_table", "_receipt"])
    detail = (
        grouped["count"].astype(str)
        + " "
        + grouped["source_table"]
        + " row(s) quarantined (row "
        + grouped["rows"]
        + "): "
        + grouped["codes"]
        + " - "
        + grouped["reasons"]
        + "."
    )
    out = _findings(
        grouped.assign(employee_id=grouped["_employee"].replace("", None)),
        detail,
        receipt=grouped["_receipt"].replace("", None),
    )
    out["organization_id"] = grouped["organization_id"].to_numpy()
    out["compliance_owner"] = grouped["compliance_owner"].to_numpy()
    out["_key_extra"] = ("|" + grouped["source_table"]).to_numpy()
    return out


def _quarantine_groups(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Quarantined rows that share a key, one row per key, sorted by key (missing keys last).

    Per key: its rows (``_row`` joined by ", " in row order), their ``count``, their reason
    codes (distinct, sorted, joined by ","), their reasons (distinct text in row order, joined
    by "; ") and the first owner columns present. Key values are compared as text; the work is
    done in pyarrow and numpy, whatever the number of rows per key.
    """
    count = len(rows)
    ranks = [_text_ranks(rows[key]) for key in reversed(keys)]
    order = np.lexsort([np.arange(count), *ranks])  # by the keys, then by row
    starts = np.zeros(count, dtype=bool)
    starts[:1] = True
    for rank in ranks:
        ranked = rank[order]
        starts[1:] |= ranked[1:] != ranked[:-1]
    heads = np.flatnonzero(starts)
    group = np.cumsum(starts) - 1  # each ordered row's group
    bounds = np.r_[heads, count]
    picks = pa.array(order)
    codes = _arrow_text(rows["reason_codes"].fillna("").astype(str)).take(picks)
    reasons = _arrow_text(rows["reasons"].where(_is_text(rows["reasons"]))).take(picks)
    grouped: dict[str, Any] = {
        key: _str_array(_arrow_text(rows[key]).take(pa.array(order[heads]))) for key in keys
    }
    grouped["rows"] = _str_array(_joined(_arrow_text(rows["_row"]).take(picks), bounds, ", "))
    grouped["count"] = np.diff(bounds).astype(np.int64)
    grouped["codes"] = _str_array(_distinct_codes(codes, group, len(heads)))
    grouped["reasons"] = _str_array(_distinct_reasons(reasons, group, len(heads)))
    for column in _OWNER_COLUMNS:
        owners = _arrow_text(rows[column]).take(picks)
        present = np.flatnonzero(owners.is_valid().to_numpy(zero_copy_only=False))
        holders, first = np.unique(group[present], return_index=True)
        chosen = np.full(len(heads), -1, dtype=np.int64)
        chosen[holders] = present[first]
        grouped[column] = _str_array(owners.take(pa.array(chosen, mask=chosen < 0)))
    return pd.DataFrame(grouped)


def _text_ranks(values: pd.Series) -> np.ndarray:
    """Each value's rank among the distinct values as text (code point order; missing last)."""
    encoded = pc.dictionary_encode(_arrow_text(values).combine_chunks())
    by_text = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank_of_code = np.full(len(by_text) + 1, len(by_text), dtype=np.int64)  # code -1: last
    rank_of_code[by_text] = np.arange(len(by_text))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    ranks: np.ndarray = rank_of_code[codes]
    return ranks


def _is_text(values: pd.Series) -> pd.Series:
    """Whether each value is text (``str``)."""
    if pd.api.types.is_string_dtype(values) and not values.dtype == object:
        return values.notna()
    return pd.Series([isinstance(value, str) for value in values], index=values.index, dtype=bool)


def _joined(text: pa.ChunkedArray, bounds: np.ndarray, separator: str) -> pa.Array:
    """The texts from ``bounds[i]`` to ``bounds[i + 1]`` joined by ``separator``, for each i."""
    lists = pa.LargeListArray.from_arrays(pa.array(bounds, pa.int64()), text.combine_chunks())
    joined: pa.Array = pc.binary_join(lists, pa.scalar(separator, pa.large_string()))
    return joined


def _distinct_codes(codes: pa.ChunkedArray, group: np.ndarray, groups: int) -> pa.Array:
    """Per group, its rows' comma-separated codes: distinct, sorted, joined by ","."""
    split = pc.split_pattern(codes.combine_chunks(), ",")
    code = pc.list_flatten(split)
    owner = group[pc.list_parent_indices(split).to_numpy()]
    kept = pc.not_equal(code, "").to_numpy(zero_copy_only=False)
    code, owner = code.filter(pa.array(kept)), owner[kept]
    return _joined_distinct(owner, code, np.arange(len(owner)), groups, ",", by_text=True)


def _distinct_reasons(reasons: pa.ChunkedArray, group: np.ndarray, groups: int) -> pa.Array:
    """Per group, its rows' reasons: distinct, in row order, joined by "; " (missing: none)."""
    present = np.flatnonzero(reasons.is_valid().to_numpy(zero_copy_only=False))
    text = reasons.take(pa.array(present)).combine_chunks()
    return _joined_distinct(group[present], text, present, groups, "; ", by_text=False)


def _joined_distinct(
    group: np.ndarray,
    text: pa.Array,
    position: np.ndarray,
    groups: int,
    separator: str,
    *,
    by_text: bool,
) -> pa.Array:
    """Per group (0 .. groups - 1), its distinct texts joined, sorted by text or by position.

    A text repeated in a group keeps its first position; a group without texts gets "".
    """
    table = pa.table({"group": group, "text": text, "position": position})
    first = table.take(
        pc.sort_indices(
            table,
            sort_keys=[("group", "ascending"), ("text", "ascending"), ("position", "ascending")],
        )
    )
    group_of, text_of = first["group"].to_numpy(), first["text"]
    repeated = np.zeros(len(first), dtype=bool)
    if len(first) > 1:
        same_text = pc.equal(text_of.slice(1), text_of.slice(0, len(first) - 1))
        repeated[1:] = (group_of[1:] == group_of[:-1]) & same_text.to_numpy(zero_copy_only=False)
    distinct = first.filter(pa.array(~repeated))
    if not by_text:
        distinct = distinct.take(
            pc.sort_indices(distinct, sort_keys=[("group", "ascending"), ("position", "ascending")])
        )
    bounds = np.searchsorted(distinct["group"].to_numpy(), np.arange(groups + 1))
    return _joined(distinct["text"], bounds, separator)


def implemented_codes() -> frozenset[str]:
    """Rule codes that have an evaluator."""
    return frozenset(EVALUATORS)


def combine_findings(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The findings of several partial evaluations (shards, roster rules) as one result.

    Ordered as :func:`reconcile` orders its findings.

    Raises:
        ReconcileError: two findings share a discrepancy id.
    """
    return _assemble([frame for frame in frames if not frame.empty])

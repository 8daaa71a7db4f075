"""The warehouse: schema migrations and the idempotent load of one reconciliation run.

The same SQL (``sql/warehouse/``) runs on DuckDB and PostgreSQL. A load is one transaction:
upsert the run row, stage the run's discrepancies and quarantine, upsert discrepancies by their
stable id, resolve the open ones this run no longer reports, record each of those transitions as a
``discrepancy_events`` row, replace the run's quarantine rows and employee snapshots, and add the
ISA application statuses not seen before. Loading the same run key twice with the same input leaves
the warehouse as one load did, even after later runs were loaded.

Rows are staged with each database's bulk path (DuckDB scans the registered DataFrame, PostgreSQL
uses ``COPY``) and with ``executemany`` on any other SQLAlchemy dialect.

Test hook: with the environment variable ``ZAIRYU_TEST_CRASH_IN_LOAD=1`` the process ends at once
(``os._exit(137)``, like a SIGKILL) inside the load transaction, after the discrepancies upsert
and their events but before the commit. Crash-recovery tests use it to prove that nothing of a
half-done load survives; never set it outside tests.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.pool import NullPool, StaticPool

from zairyu_sync.canonical import FINDING_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.config import project_path
from zairyu_sync.errors import ConfigError, LoadError
from zairyu_sync.pii import mask_name, redact_card_numbers, tokenise_card_numbers
from zairyu_sync.rules import Rule, RuleCatalog
from zairyu_sync.sqlfiles import load_sql, split_statements, sql_text
from zairyu_sync.statuses import ResidenceStatus, StatusMaster

log = logging.getLogger(__name__)

#: Counts a :class:`RunRecord` carries into ``reconciliation_runs``.
RUN_COUNT_NAMES = ("extracted", "ignored", "quarantined", "valid", "reconciled", "api_calls")

#: Columns of ``employee_snapshots`` staged from the run's typed employees (no raw PII).
SNAPSHOT_COLUMNS = (
    "employee_id",
    "organization_id",
    "nationality",
    "employment_status",
    "hire_date",
    "termination_date",
    "job_category",
    "employment_insured",
    "residence_status",
    "period_of_stay_expiry",
    "card_valid_until",
    "outside_status_permission",
    "designated_work_permitted",
    "designated_organization_id",
    "student_enrolled_until",
    "compliance_owner",
    "card_token",
    "card_masked",
    "name_masked",
    "birth_year",
)
#: Columns of ``isa_application_statuses`` staged from the run's ISA applications.
ISA_STATUS_COLUMNS = (
    "receipt_number",
    "status",
    "updated_at",
    "application_type",
    "filed_on",
    "decided_on",
    "granted_status",
    "granted_period_expiry",
    "applicant_card_token",
    "applicant_card_masked",
)
_EMPLOYEE_INPUT_COLUMNS = (
    *SNAPSHOT_COLUMNS[:16],
    "full_name",
    "date_of_birth",
    "residence_card_number",
)
_ISA_INPUT_COLUMNS = (*ISA_STATUS_COLUMNS[:8], "applicant_residence_card_number")
_SNAPSHOT_DATES = frozenset(
    {
        "hire_date",
        "termination_date",
        "period_of_stay_expiry",
        "card_valid_until",
        "student_enrolled_until",
    }
)
_SNAPSHOT_BOOLS = frozenset({"employment_insured", "designated_work_permitted"})
_ISA_DATES = frozenset({"filed_on", "decided_on", "granted_period_expiry"})
_TRUE_TEXT = frozenset({"true", "t", "1", "yes", "y"})
#: Every character ``str.strip`` and ``str.split`` treat as whitespace (none is above U+3000).
PYTHON_WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
_WHITESPACE_CLASS = "".join(f"\\x{{{ord(char):x}}}" for char in PYTHON_WHITESPACE)
#: Text ``str.strip`` changes: it starts or ends with whitespace (RE2 syntax).
_EDGE_WHITESPACE = f"^[{_WHITESPACE_CLASS}]|[{_WHITESPACE_CLASS}]$"
#: A ``YYYY-MM-DD`` date ``date.fromisoformat`` may accept (year 0001..9999).
_ISO_DATE = (
    r"^(\d{3}[1-9]|\d{2}[1-9]\d|\d[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
)
#: An ISO 8601 timestamp (1700..2199, up to microseconds, optional Z or +HH:MM offset) that
#: pandas parses to the same instant as ``datetime.fromisoformat``.
_ISO_TIMESTAMP = (
    r"^(1[7-9]|2[01])\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d"
    r":[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)
#: Python types of a text column Arrow may convert as is (``str`` and the missing markers).
_PLAIN_TEXT_TYPES = frozenset({str, type(None), float, type(pd.NA)})
#: Rows per CSV chunk written to PostgreSQL's COPY.
_COPY_BATCH_ROWS = 25_000
#: Employees converted to snapshot rows at a time (bounds memory; overlaps with the COPY).
_SNAPSHOT_CHUNK_ROWS = 25_000
_FALSE_TEXT = frozenset({"false", "f", "0", "no", "n"})

_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SECRET_IN_URL = re.compile(r"(//[^:/@]+:)[^@]*@")
#: Test hook (see the module docstring): end the process inside the load transaction.
TEST_CRASH_IN_LOAD_ENV = "ZAIRYU_TEST_CRASH_IN_LOAD"


@dataclass(frozen=True)
class RunRecord:
    """What the warehouse records about one run.

    Attributes:
        run_key: stable key ``<pipeline>/<as-of date>``; reruns of a date share it.
        dag_run_id: Airflow's run id, for traceability.
        logical_date: the run's logical date.
        as_of: the date the rules were evaluated for.
        started_at: when the run started (stored as naive UTC).
        finished_at: when the run finished, or None.
        status: the run's status, e.g. ``success``.
        counts: ``extracted``, ``ignored``, ``quarantined``, ``valid``, ``reconciled``,
            ``api_calls`` (missing names count as 0).
        code_version: the package version that produced the run.
        rule_catalog_version: the version of the rule catalog the run evaluated (None: unknown).
    """

    run_key: str
    dag_run_id: str
    logical_date: datetime | None
    as_of: date
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    counts: Mapping[str, int] = field(default_factory=dict)
    code_version: str | None = None
    rule_catalog_version: int | None = None


@dataclass(frozen=True)
class LoadResult:
    """What a load changed.

    All values are read back from the warehouse's event history after the load, so a rerun of the
    same run key reports the same values as its first load, even after later runs were loaded.

    Attributes:
        new_ids: findings of this run that this run key first recorded (``opened``).
        still_open_count: findings open as of the run's as-of date (view ``findings_as_of_run``);
            for a run loaded in date order, the discrepancies open in the warehouse after it.
        resolved_ids: findings this run key resolved (no longer reported).
        reopened_ids: resolved findings this run key saw again and reopened.
        escalated_ids: findings of this run whose severity this run key raised (e.g. a
            SPECIAL_PERIOD warning that became critical).
    """

    new_ids: tuple[str, ...]
    still_open_count: int
    resolved_ids: tuple[str, ...]
    reopened_ids: tuple[str, ...]
    escalated_ids: tuple[str, ...] = ()


def warehouse_engine(url: str) -> sa.Engine:
    """Create a SQLAlchemy engine for the warehouse.

    ``duckdb:///path`` opens a DuckDB file without pooling (the file is released after each use,
    so other readers in the process are not blocked); ``duckdb:///:memory:`` keeps one shared
    connection. ``postgresql://`` and ``postgres://`` use psycopg 3; query parameters such as
    ``options=-csearch_path=...`` are passed through unchanged. Other URLs go to SQLAlchemy as is.

    Args:
        url: a SQLAlchemy URL.

    Returns:
        The engine (nothing is connected yet).

    Raises:
        ConfigError: the URL cannot be parsed.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"not a database URL: {_hide_password(url)}") from exc
    backend = parsed.get_backend_name()
    if backend == "duckdb":
        database = parsed.database or ":memory:"
        if database == ":memory:":
            return sa.create_engine(parsed, poolclass=StaticPool)
        return sa.create_engine(parsed, poolclass=NullPool)
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True)
    return sa.create_engine(parsed)


def apply_migrations(engine: sa.Engine) -> list[str]:
    """Apply the pending ``sql/warehouse/migrations/NNNN_*.sql`` files, then (re)create the views.

    Each migration runs in its own transaction together with its ``schema_migrations`` row, so a
    failing file leaves no half-applied version behind. Safe to call before every load.

    Args:
        engine: the warehouse engine.

    Returns:
        The versions applied by this call (empty when the schema was current).

    Raises:
        LoadError: a migration or view statement failed.
    """
    applied_now: list[str] = []
    try:
        done = _applied_versions(engine)
        for version, name in _migration_files():
            if version in done:
                continue
            with engine.begin() as conn:
                for statement in split_statements(load_sql(f"warehouse/migrations/{name}")):
                    conn.exec_driver_sql(statement)
                conn.execute(
                    sql_text("warehouse/load/record_migration.sql"),
                    {"version": version, "applied_at": _utcnow()},
                )
            applied_now.append(version)
            log.info("applied warehouse migration %s", name)
        with engine.begin() as conn:
            for name in _view_files():
                for statement in split_statements(load_sql(f"warehouse/views/{name}")):
                    conn.exec_driver_sql(statement)
    except sa.exc.SQLAlchemyError as exc:
        raise LoadError(f"warehouse migration failed: {_error_summary(exc)}") from exc
    return applied_now


def load_run(
    engine: sa.Engine,
    run: RunRecord,
    discrepancies: pd.DataFrame,
    quarantine: pd.DataFrame,
    *,
    employees: pd.DataFrame | Iterable[pd.DataFrame] | None = None,
    isa_applications: pd.DataFrame | None = None,
    native: bool = True,
) -> LoadResult:
    """Load one run into the warehouse in a single transaction.

    Besides the run row, discrepancies and quarantine, the load appends one
    ``discrepancy_events`` row per transition it made (``opened``, ``escalated``,
    ``deescalated``, ``resolved``, ``reopened``), replaces the run's ``employee_snapshots`` and
    adds the ISA application statuses not recorded before to ``isa_application_statuses``.

    Args:
        engine: the warehouse engine (migrations applied).
        run: the run's record; its ``run_key`` identifies the load.
        discrepancies: this run's findings (see :data:`FINDING_COLUMNS`).
        quarantine: this run's quarantined rows (see :data:`QUARANTINE_COLUMNS`).
        employees: the run's valid employees (typed or text, the canonical employee columns);
            stored tokenised and masked, never with the name, birth date or card number. An
            iterable of frames (e.g. one per shard) is staged one frame at a time, so one is in
            memory (and the next once the last chunk of one is written); it is read on a worker
            thread, the next chunk converted while the last one is written. None leaves the run
            key's snapshot rows as they are.
        isa_applications: the ISA applications the run saw
            (:data:`~zairyu_sync.canonical.ISA_APPLICATION_COLUMNS`, ``updated_at`` ISO 8601);
            None adds no statuses.
        native: use the database's bulk path (DuckDB scan, PostgreSQL COPY) where there is one;
            False forces ``executemany``.

    Returns:
        The :class:`LoadResult`; its counts are also written to the run's row.

    Raises:
        LoadError: the frames lack columns, a row breaks a constraint (e.g. a null or duplicate
            ``discrepancy_id``) or the database failed; nothing of the load is kept.
    """
    findings = _normalise(discrepancies, FINDING_COLUMNS, "discrepancies")
    rejects = _normalise(quarantine, QUARANTINE_COLUMNS, "quarantine")
    employee_frames = [employees] if isinstance(employees, pd.DataFrame) else employees
    if isa_applications is not None:
        _require_isa_columns(isa_applications)
    now = _utcnow()
    params = {"run_key": run.run_key, "as_of": run.as_of, "now": now}
    # Tokenising and converting the snapshots and ISA statuses holds the GIL; the database's
    # statements mostly do not. So they are prepared on a thread, in the order they are written,
    # while this one runs the statements before them.
    with ThreadPoolExecutor(1, thread_name_prefix="load-prepare") as prepare:
        statuses = (
            None
            if isa_applications is None
            else prepare.submit(_isa_status_table, isa_applications)
        )
        snapshots = (
            None
            if employee_frames is None
            else _prefetched(prepare, _snapshot_tables(employee_frames))
        )
        return _load_in_one_transaction(
            engine, run, findings, rejects, snapshots, statuses, params, native=native
        )


def _load_in_one_transaction(
    engine: sa.Engine,
    run: RunRecord,
    findings: pd.DataFrame,
    rejects: pd.DataFrame,
    snapshots: Iterator[pa.Table] | None,
    statuses: Future[pa.Table] | None,
    params: dict[str, Any],
    *,
    native: bool,
) -> LoadResult:
    """The body of :func:`load_run`: every statement in one transaction."""
    snapshot_rows: int | None = None
    try:
        with engine.begin() as conn:
            conn.execute(sql_text("warehouse/load/upsert_run.sql"), _run_row(run, findings))
            _exec_file(conn, "warehouse/load/create_staging.sql")
            _stage(conn, "discrepancies", findings, native=native)
            _stage(conn, "quarantine", rejects, native=native)
            conn.execute(sql_text("warehouse/load/capture_prior_discrepancies.sql"), params)
            refreshed = sum(
                conn.execute(sql_text(f"warehouse/load/{name}.sql"), params).rowcount
                for name in ("refresh_seen_discrepancies", "refresh_seen_discrepancies_in_place")
            )
            inserted = conn.execute(
                sql_text("warehouse/load/insert_new_discrepancies.sql"), params
            ).rowcount
            resolved = conn.execute(
                sql_text("warehouse/load/resolve_missing_discrepancies.sql"), params
            ).rowcount
            conn.execute(sql_text("warehouse/load/insert_discrepancy_events.sql"), params)
            if os.environ.get(TEST_CRASH_IN_LOAD_ENV) == "1":  # test hook, see module doc
                log.warning("%s=1: ending the process inside the load", TEST_CRASH_IN_LOAD_ENV)
                os._exit(137)
            conn.execute(sql_text("warehouse/load/delete_run_quarantine.sql"), params)
            conn.execute(sql_text("warehouse/load/insert_run_quarantine.sql"), params)
            if snapshots is not None:
                conn.execute(sql_text("warehouse/load/delete_run_employee_snapshots.sql"), params)
                snapshot_rows = _write_tables(
                    conn,
                    "employee_snapshots",
                    "employee_snapshots_frame",
                    snapshots,
                    native=native,
                    constants={"run_key": run.run_key, "as_of": run.as_of},
                )
            if statuses is not None:
                _stage(conn, "isa_applications", statuses.result(), native=native)
                conn.execute(sql_text("warehouse/load/insert_isa_application_statuses.sql"), params)
            result, open_critical = _outcome(conn, run.run_key)
            conn.execute(
                sql_text("warehouse/load/update_run_findings.sql"),
                {
                    "run_key": run.run_key,
                    "findings_new": len(result.new_ids),
                    "findings_open": result.still_open_count,
                    "findings_resolved": len(result.resolved_ids),
                    "findings_reopened": len(result.reopened_ids),
                    "findings_escalated": len(result.escalated_ids),
                    "findings_open_critical": open_critical,
                },
            )
            _exec_file(conn, "warehouse/load/drop_staging.sql")
    except sa.exc.SQLAlchemyError as exc:
        raise LoadError(
            f"loading run {run.run_key} failed and was rolled back: {_error_summary(exc)}"
        ) from exc
    except Exception as exc:  # duckdb raises its own errors from the DataFrame scan
        if isinstance(exc, LoadError):
            raise
        raise LoadError(
            f"loading run {run.run_key} failed and was rolled back: {type(exc).__name__}"
        ) from exc
    log.info(
        "loaded run %s: %d findings (%d new, %d reopened, %d escalated, %d resolved; %d open,"
        " %d critical), %d quarantined rows, %s employee snapshots, %s ISA statuses seen;"
        " rows refreshed=%s inserted=%s resolved=%s",
        run.run_key,
        len(findings),
        len(result.new_ids),
        len(result.reopened_ids),
        len(result.escalated_ids),
        len(result.resolved_ids),
        result.still_open_count,
        open_critical,
        len(rejects),
        "no" if snapshot_rows is None else snapshot_rows,
        "no" if statuses is None else statuses.result().num_rows,
        refreshed,
        inserted,
        resolved,
    )
    return result


def employee_snapshot_frame(employees: pd.DataFrame) -> pd.DataFrame:
    """The ``employee_snapshots`` rows of a run's employees, without raw personal data.

    The card number becomes :func:`~zairyu_sync.pii.tokenise_card_number` (``card_token``) and
    :func:`~zairyu_sync.pii.mask_card_number` (``card_masked``), the name
    :func:`~zairyu_sync.pii.mask_name` (``name_masked``) and the birth date its year.

    Args:
        employees: typed or text employees with the canonical employee columns.

    Returns:
        Exactly :data:`SNAPSHOT_COLUMNS`, object dtype: ``str``/``date``/``bool``/``int`` or None.

    Raises:
        LoadError: a column is missing or a date or boolean does not parse.
    """
    return _object_frame(_snapshot_table(employees))


def isa_status_frame(isa_applications: pd.DataFrame) -> pd.DataFrame:
    """The ``isa_application_statuses`` rows of the ISA applications a run saw.

    ``updated_at`` (ISO 8601, with or without offset) becomes a naive UTC timestamp; the applicant's
    card number becomes its token and masked form; the applicant's name and birth date are dropped.

    Args:
        isa_applications: the canonical ISA application frame.

    Returns:
        Exactly :data:`ISA_STATUS_COLUMNS`, object dtype.

    Raises:
        LoadError: a column is missing, or a row lacks its receipt number, status or
            ``updated_at``, or a date does not parse.
    """
    return _object_frame(_isa_status_table(isa_applications))


def open_critical_trend(engine: sa.Engine, *, limit: int = 30) -> pd.DataFrame:
    """Open critical findings per run for the report's trend chart.

    Args:
        engine: the warehouse engine.
        limit: how many of the latest runs (by as-of date) to return.

    Returns:
        Columns ``as_of_date`` (``datetime.date``), ``run_key`` and ``open_critical`` (int):
        the findings open and critical as of each run's as-of date, oldest run first.

    Raises:
        LoadError: the query failed.
    """
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sql_text("warehouse/load/select_open_critical_trend.sql"), {"limit": int(limit)}
            ).all()
    except sa.exc.SQLAlchemyError as exc:
        raise LoadError(f"reading the open critical trend failed: {_error_summary(exc)}") from exc
    records = [
        {"as_of_date": _as_date(day), "run_key": str(key), "open_critical": int(count or 0)}
        for day, key, count in reversed(rows)
    ]
    return pd.DataFrame.from_records(
        records, columns=["as_of_date", "run_key", "open_critical"]
    ).astype({"as_of_date": object, "run_key": object, "open_critical": "int64"})


def load_reference_data(engine: sa.Engine, catalog: RuleCatalog, statuses: StatusMaster) -> None:
    """Replace the ``rules`` and ``residence_statuses`` tables with the catalog and the master.

    Both tables are emptied and refilled in one transaction, so loading the same data again leaves
    the warehouse unchanged and readers never see a half-loaded catalog.

    Args:
        engine: the warehouse engine (migrations applied).
        catalog: the rule catalog (:func:`zairyu_sync.rules.load_catalog`).
        statuses: the residence status master (:func:`zairyu_sync.statuses.load_statuses`).

    Raises:
        LoadError: the database failed; nothing of the load is kept.
    """
    rule_rows = [_rule_row(rule, catalog.version) for rule in catalog.rules]
    status_rows = [_status_row(status) for status in statuses.statuses]
    try:
        with engine.begin() as conn:
            conn.execute(sql_text("warehouse/reference/delete_rules.sql"))
            conn.execute(sql_text("warehouse/reference/delete_residence_statuses.sql"))
            if rule_rows:
                conn.execute(sql_text("warehouse/reference/insert_rule.sql"), rule_rows)
            if status_rows:
                conn.execute(
                    sql_text("warehouse/reference/insert_residence_status.sql"), status_rows
                )
    except sa.exc.SQLAlchemyError as exc:
        raise LoadError(
            f"loading the rule catalog and status master failed and was rolled back: "
            f"{_error_summary(exc)}"
        ) from exc
    log.info(
        "loaded reference data: %d rules (catalog version %d), %d residence statuses",
        len(rule_rows),
        catalog.version,
        len(status_rows),
    )


def _rule_row(rule: Rule, version: int) -> dict[str, Any]:
    severity = rule.severity
    escalation: list[str] = []
    if severity.critical_within is not None:
        escalation.append(
            "critical once the due date is at most PolicySettings."
            f"{severity.critical_within} days after the as-of date"
        )
    if severity.critical_when_overdue:
        escalation.append("critical once the due date has passed")
    return {
        "code": rule.code,
        "title_en": rule.title_en,
        "title_ja": rule.title_ja,
        "base_severity": severity.base,
        "escalation": "; ".join(escalation) or None,
        "condition": rule.condition,
        "legal_basis": "\n".join(rule.legal_basis),
        "uncertain": rule.uncertain,
        "remediation_en": rule.remediation_en,
        "remediation_ja": rule.remediation_ja,
        "applies_from": rule.applies_from,
        "applies_until": rule.applies_until,
        "due_date_meaning": rule.due_date,
        "catalog_version": version,
    }


def _status_row(status: ResidenceStatus) -> dict[str, Any]:
    return {
        "code": status.code,
        "name_ja": status.name_ja,
        "name_en": status.name_en,
        "work_class": status.work_class,
        "fixed_period": status.fixed_period,
        "designation": status.designation,
        "residence_card": status.residence_card,
        "valid_from": status.valid_from,
        "valid_until": status.valid_until,
        "legal_basis": status.legal_basis,
        "note": status.note,
    }


def _migration_files() -> list[tuple[str, str]]:
    directory = project_path("sql", "warehouse", "migrations")
    found: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if match is None:
            raise ConfigError(f"migration file name must be NNNN_name.sql: {path.name}")
        found.append((match.group(1), path.name))
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"two migration files share a version: {versions}")
    return found


def _view_files() -> list[str]:
    directory = project_path("sql", "warehouse", "views")
    return sorted(path.name for path in directory.glob("*.sql"))


def _applied_versions(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return set()
        rows = conn.execute(sql_text("warehouse/load/select_applied_migrations.sql")).all()
    return {str(row[0]) for row in rows}


# --- load helpers -----------------------------------------------------------------------------


def _normalise(frame: pd.DataFrame, columns: Sequence[str], name: str) -> pa.Table:
    """Exactly ``columns``: text as ``str(value)``/null, ``due_date`` a date, ``row_number`` ints.

    Values are the same as ``str(value)`` / :func:`_as_date` / ``int(value)`` of each cell (None
    for a missing one); columns of the usual dtypes are converted without a loop in Python.
    """
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise LoadError(f"{name} frame lacks columns: {missing}")
    arrays: list[pa.Array] = []
    for column in columns:
        series = frame[column]
        if column == "due_date":
            arrays.append(_date_values(series))
        elif column == "row_number":
            arrays.append(_int_values(series))
        else:
            arrays.append(_str_values(series))
    return pa.Table.from_arrays(arrays, names=list(columns))


def _snapshot_table(employees: pd.DataFrame) -> pa.Table:
    """:func:`employee_snapshot_frame` as an Arrow table (what the load stages)."""
    missing = [column for column in _EMPLOYEE_INPUT_COLUMNS if column not in employees.columns]
    if missing:
        raise LoadError(f"employees frame lacks columns: {missing}")
    arrays: list[pa.Array] = []
    for column in SNAPSHOT_COLUMNS[:16]:
        series = employees[column]
        if column in _SNAPSHOT_DATES:
            arrays.append(_date_values(series))
        elif column in _SNAPSHOT_BOOLS:
            arrays.append(_bool_values(series))
        else:
            arrays.append(_text_values(series))
    cards = _text_values(employees["residence_card_number"])
    arrays.append(_token_values(cards))
    arrays.append(_masked_cards(cards))
    arrays.append(_masked_names(_text_values(employees["full_name"])))
    arrays.append(pc.cast(pc.year(_date_values(employees["date_of_birth"])), pa.int32()))
    return pa.Table.from_arrays(arrays, names=list(SNAPSHOT_COLUMNS))


def _require_isa_columns(isa_applications: pd.DataFrame) -> None:
    missing = [column for column in _ISA_INPUT_COLUMNS if column not in isa_applications.columns]
    if missing:
        raise LoadError(f"isa_applications frame lacks columns: {missing}")


def _isa_status_table(isa_applications: pd.DataFrame) -> pa.Table:
    """:func:`isa_status_frame` as an Arrow table (what the load stages)."""
    _require_isa_columns(isa_applications)
    arrays: list[pa.Array] = []
    for column in ISA_STATUS_COLUMNS[:8]:
        series = isa_applications[column]
        if column == "updated_at":
            arrays.append(_timestamp_values(series))
        elif column in _ISA_DATES:
            arrays.append(_date_values(series))
        else:
            arrays.append(_text_values(series))
    for position, column in enumerate(ISA_STATUS_COLUMNS[:8]):
        if column in ("receipt_number", "status", "updated_at") and arrays[position].null_count:
            raise LoadError(f"an ISA application lacks its {column}")
    cards = _text_values(isa_applications["applicant_residence_card_number"])
    arrays.append(_token_values(cards))
    arrays.append(_masked_cards(cards))
    return pa.Table.from_arrays(arrays, names=list(ISA_STATUS_COLUMNS))


def _object_frame(table: pa.Table) -> pd.DataFrame:
    """The table as an object-dtype frame of Python values (``str``/``date``/``bool``/``int``)."""
    data = {name: table.column(name).to_pylist() for name in table.column_names}
    return pd.DataFrame(data, columns=table.column_names, dtype=object)


# Column converters. Each returns an Arrow array holding, row for row, exactly what the matching
# per-value function (_as_text, _as_date, _as_bool, _as_utc_timestamp, str, int) returns; the
# usual dtypes are converted by Arrow/NumPy, and any value those fast paths cannot vouch for goes
# through the per-value function itself (so its result, and any LoadError, is the same).


def _plain_strings(series: pd.Series) -> pa.Array | None:
    """The column as an Arrow string array when every value is a ``str`` or missing, else None."""
    dtype = series.dtype
    if not isinstance(dtype, pd.StringDtype):
        if not pd.api.types.is_object_dtype(dtype):
            return None
        if not set(map(type, series.tolist())) <= _PLAIN_TEXT_TYPES:
            return None
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_large_string(array.type):
        return array.cast(pa.string())
    if not pa.types.is_string(array.type):
        return None
    return array


def _python_values(values: list[Any], kind: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowException, UnicodeError) as exc:  # e.g. a lone surrogate in a str
        raise LoadError(f"a value cannot be stored as {kind}: {type(exc).__name__}") from exc


def _str_values(series: pd.Series) -> pa.Array:
    """``None if missing else str(value)`` per value."""
    array = _plain_strings(series)
    if array is not None:
        return array
    return _python_values(
        [None if _is_missing(value) else str(value) for value in series.tolist()], pa.string()
    )


def _text_values(series: pd.Series) -> pa.Array:
    """:func:`_as_text` per value: stripped text, None for missing or blank."""
    array = _plain_strings(series)
    if array is None:
        return _python_values([_as_text(value) for value in series.tolist()], pa.string())
    # Only text starting or ending with whitespace changes when stripped: strip those in Python.
    edged = pc.fill_null(pc.match_substring_regex(array, _EDGE_WHITESPACE), False)
    if pc.any(edged).as_py():
        stripped = [None if value is None else value.strip() for value in _filtered(array, edged)]
        array = pc.replace_with_mask(array, edged, pa.array(stripped, type=array.type))
    blank = pc.equal(pc.utf8_length(array), 0)
    return pc.if_else(blank, pa.scalar(None, array.type), array)


def _date_values(series: pd.Series) -> pa.Array:
    """:func:`_as_date` per value, as ``date32``."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):  # Timestamp.date() is the local date
        series = series.dt.tz_localize(None)
        dtype = series.dtype
    if pd.api.types.is_datetime64_dtype(dtype):
        days = series.to_numpy().astype("datetime64[D]")  # floors, as .date() does
        return pa.array(days, type=pa.date32(), from_pandas=True)
    array = _plain_strings(series)
    if array is None:
        return _python_values([_as_date(value) for value in series.tolist()], pa.date32())
    iso = pc.fill_null(pc.match_substring_regex(array, _ISO_DATE), False)
    parsed = None
    if pc.any(iso).as_py():
        try:  # NumPy refuses impossible days (2026-02-30) like date.fromisoformat does
            days = np.array(_filtered(array, iso), dtype="datetime64[D]")
        except ValueError:
            parsed = None
        else:
            parsed = pa.array(days, type=pa.date32())
    if parsed is None:
        return _python_values([_as_date(value) for value in array.to_pylist()], pa.date32())
    result = pc.replace_with_mask(pa.nulls(len(array), pa.date32()), iso, parsed)
    rest = pc.and_(pc.invert(iso), pc.is_valid(array))
    if pc.any(rest).as_py():
        others = [_as_date(value) for value in _filtered(array, rest)]
        result = pc.replace_with_mask(result, rest, pa.array(others, type=pa.date32()))
    return result


def _bool_values(series: pd.Series) -> pa.Array:
    """:func:`_as_bool` per value."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):  # bool and the nullable "boolean"
        return pa.array(series, type=pa.bool_(), from_pandas=True)
    return _python_values([_as_bool(value) for value in series.tolist()], pa.bool_())


def _int_values(series: pd.Series) -> pa.Array:
    """``None if missing else int(value)`` per value."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return pa.array(series, type=pa.int64(), from_pandas=True)
    return _python_values(
        [None if _is_missing(value) else int(value) for value in series.tolist()], pa.int64()
    )


def _timestamp_values(series: pd.Series) -> pa.Array:
    """:func:`_as_utc_timestamp` per value, as naive UTC ``timestamp[us]``."""
    array = _plain_strings(series)
    kind = pa.timestamp("us")
    if array is None:
        return _python_values([_as_utc_timestamp(value) for value in series.tolist()], kind)
    iso = pc.fill_null(pc.match_substring_regex(array, _ISO_TIMESTAMP), False)
    parsed = None
    if pc.any(iso).as_py():
        try:
            moments = pd.to_datetime(_filtered(array, iso), format="ISO8601", utc=True)
        except (ValueError, OverflowError):
            parsed = None
        else:
            naive = moments.tz_convert(None).to_numpy().astype("datetime64[us]")
            parsed = pa.array(naive, type=kind)
    if parsed is None:
        return _python_values([_as_utc_timestamp(value) for value in array.to_pylist()], kind)
    result = pc.replace_with_mask(pa.nulls(len(array), kind), iso, parsed)
    rest = pc.and_(pc.invert(iso), pc.is_valid(array))
    if pc.any(rest).as_py():
        others = [_as_utc_timestamp(value) for value in _filtered(array, rest)]
        result = pc.replace_with_mask(result, rest, pa.array(others, type=kind))
    return result


def _token_values(cards: pa.Array) -> pa.Array:
    """:func:`~zairyu_sync.pii.tokenise_card_number` of each (already stripped) card number."""
    return pa.array(tokenise_card_numbers(cards.to_pylist()), type=pa.string())


def _masked_cards(cards: pa.Array) -> pa.Array:
    """``mask_card_number(card) or None`` of each stripped card number (None or non-blank)."""
    long_enough = pc.greater_equal(pc.utf8_length(cards), 4)
    masked = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(cards, 0, 2), pc.utf8_slice_codeunits(cards, -2), "******"
    )
    return pc.if_else(long_enough, masked, pa.scalar("********", cards.type))


def _masked_names(names: pa.Array) -> pa.Array:
    """``mask_name(name) or None`` of each stripped name (None or non-blank).

    ASCII names without the separators only Python counts as whitespace (U+001C..U+001F) are split
    by Arrow; any other name goes through :func:`~zairyu_sync.pii.mask_name` itself.
    """
    simple = pc.and_(
        pc.string_is_ascii(names), pc.invert(pc.match_substring_regex(names, "[\\x1c-\\x1f]"))
    )
    simple = pc.fill_null(simple, True)  # a missing name stays None either way
    parts = pc.ascii_split_whitespace(pc.if_else(simple, names, pa.scalar(None, names.type)))
    initials = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(pc.list_flatten(parts), 0, 1), ".", ""
    )
    offsets = parts.offsets
    if parts.null_count:
        offsets = pc.if_else(
            pa.concat_arrays([pc.is_valid(parts), pa.array([True])]),
            offsets,
            pa.scalar(None, offsets.type),
        )
    rebuilt = type(parts).from_arrays(offsets, initials)
    masked = pc.binary_join(rebuilt, " ")
    other = pc.and_(pc.invert(simple), pc.is_valid(names))
    if pc.any(other).as_py():
        names_masked = [mask_name(name) or None for name in _filtered(names, other)]
        masked = pc.replace_with_mask(masked, other, pa.array(names_masked, type=masked.type))
    return masked


def _filtered(array: pa.Array, mask: pa.Array) -> list[Any]:
    return list(array.filter(mask).to_pylist())


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _as_date(value: object) -> date | None:
    if _is_missing(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError as exc:
            raise LoadError(f"not an ISO date: {value[:20]!r}") from exc
    raise LoadError(f"not a date: {type(value).__name__}")


def _as_text(value: object) -> str | None:
    if _is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def _as_bool(value: object) -> bool | None:
    if _is_missing(value):
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
        raise LoadError(f"not a boolean: {value[:10]!r}")
    return bool(value)


def _as_utc_timestamp(value: object) -> datetime | None:
    if _is_missing(value):
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise LoadError(f"not an ISO timestamp: {value[:40]!r}") from exc
        return _naive_utc(moment)
    if isinstance(value, datetime):  # pandas Timestamps included
        return _naive_utc(pd.Timestamp(value).to_pydatetime())
    raise LoadError(f"not a timestamp: {type(value).__name__}")


def _run_row(run: RunRecord, findings: pa.Table) -> dict[str, Any]:
    unknown = sorted(set(run.counts) - set(RUN_COUNT_NAMES))
    if unknown:
        raise LoadError(f"unknown run counts: {unknown}")
    return {
        "run_key": run.run_key,
        "dag_run_id": run.dag_run_id,
        "logical_date": _naive_utc(run.logical_date),
        "as_of_date": run.as_of,
        "started_at": _naive_utc(run.started_at),
        "finished_at": _naive_utc(run.finished_at),
        "status": run.status,
        **{name: int(run.counts.get(name, 0)) for name in RUN_COUNT_NAMES},
        "findings_total": len(findings),
        "code_version": run.code_version,
        "rule_catalog_version": run.rule_catalog_version,
    }


def _stage(conn: sa.Connection, name: str, table: pa.Table, *, native: bool) -> None:
    """Stage one table's rows into ``staging_<name>``."""
    _write_tables(conn, f"staging_{name}", f"{name}_frame", [table], native=native)


def _snapshot_tables(frames: Iterable[pd.DataFrame]) -> Iterator[pa.Table]:
    """The snapshot rows of each frame, converted :data:`_SNAPSHOT_CHUNK_ROWS` rows at a time."""
    for frame in frames:
        for start in range(0, max(len(frame), 1), _SNAPSHOT_CHUNK_ROWS):
            yield _snapshot_table(frame.iloc[start : start + _SNAPSHOT_CHUNK_ROWS])


def _prefetched(pool: Executor, tables: Iterable[pa.Table]) -> Iterator[pa.Table]:
    """``tables``, each next one built on ``pool`` while the caller writes the one before.

    The first is started at once, before the caller asks for it.
    """
    items = iter(tables)
    first = pool.submit(next, items, None)

    def in_order() -> Iterator[pa.Table]:
        pending = first
        while (table := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield table

    return in_order()


def _write_tables(
    conn: sa.Connection,
    target: str,
    view: str,
    tables: Iterable[pa.Table],
    *,
    native: bool,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Insert the tables' rows into ``target`` with the database's bulk path; returns the rows.

    DuckDB scans each table registered as ``view`` (``scan_<target>.duckdb.sql``); PostgreSQL
    streams them through one ``COPY`` (``copy_<target>.postgresql.sql``), with ``constants``
    (e.g. the run key) as leading columns; any other database, or ``native=False``, runs
    ``insert_<target>.sql`` with ``executemany``. ``constants`` are bound parameters of the
    DuckDB and ``executemany`` statements.
    """
    dialect = conn.dialect.name
    fixed = dict(constants or {})
    if native and dialect == "postgresql" and conn.dialect.driver == "psycopg":
        return _copy_postgres(conn, target, tables, fixed)
    rows = 0
    for table in tables:
        if table.num_rows == 0:
            continue
        rows += table.num_rows
        if native and dialect == "duckdb":
            raw: Any = conn.connection.dbapi_connection
            raw.register(view, table)
            try:
                conn.execute(sql_text(f"warehouse/load/scan_{target}.duckdb.sql"), fixed)
            finally:
                raw.unregister(view)
        else:
            records = [{**fixed, **record} for record in table.to_pylist()]
            conn.execute(sql_text(f"warehouse/load/insert_{target}.sql"), records)
    return rows


def _copy_postgres(
    conn: sa.Connection, target: str, tables: Iterable[pa.Table], constants: Mapping[str, Any]
) -> int:
    """``COPY ... FROM STDIN (FORMAT csv)`` of CSV text Arrow writes, in one COPY per target.

    Arrow quotes every string and writes a null as an empty unquoted field, which COPY reads back
    as the string and as NULL; dates are ISO, timestamps ISO with microseconds. A writer thread
    sends one batch while the next is converted and formatted.
    """
    raw: Any = conn.connection.dbapi_connection
    statement = load_sql(f"warehouse/load/copy_{target}.postgresql.sql")
    utf8 = codecs.lookup(raw.info.encoding).name == "utf-8"
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    rows = 0
    with (
        raw.cursor() as cursor,
        cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy,
    ):
        for table in tables:
            if table.num_rows == 0:
                continue
            rows += table.num_rows
            for position, (name, value) in enumerate(constants.items()):
                table = table.add_column(position, name, pa.repeat(value, table.num_rows))
            for batch in table.to_batches(max_chunksize=_COPY_BATCH_ROWS):
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(batch, sink, options)
                data = sink.getvalue()
                # psycopg encodes str to a client encoding other than UTF-8 itself.
                copy.write(memoryview(data) if utf8 else data.to_pybytes().decode("utf-8"))
    return rows


def _outcome(conn: sa.Connection, run_key: str) -> tuple[LoadResult, int]:
    """The run key's outcome from its events, and its open critical count as of its as-of date."""
    rows = conn.execute(sql_text("warehouse/load/select_run_events.sql"), {"run_key": run_key})
    ids: dict[str, list[str]] = {
        "opened": [],
        "resolved": [],
        "reopened": [],
        "escalated": [],
        "deescalated": [],
    }
    for discrepancy_id, event_type, in_run in rows.all():
        # A finding that is (again) in the run's set was not resolved by it, and one that is no
        # longer in it (a rerun with other input) is not one of its new, reopened or escalated.
        if (event_type == "resolved") != bool(in_run):
            ids[str(event_type)].append(str(discrepancy_id))
    open_count, open_critical = conn.execute(
        sql_text("warehouse/load/count_open_as_of_run.sql"), {"run_key": run_key}
    ).one()
    result = LoadResult(
        new_ids=tuple(sorted(ids["opened"])),
        still_open_count=int(open_count or 0),
        resolved_ids=tuple(sorted(ids["resolved"])),
        reopened_ids=tuple(sorted(ids["reopened"])),
        escalated_ids=tuple(sorted(ids["escalated"])),
    )
    return result, int(open_critical or 0)


def _exec_file(conn: sa.Connection, name: str) -> None:
    for statement in split_statements(load_sql(name)):
        conn.exec_driver_sql(statement)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _error_summary(exc: BaseException) -> str:
    """The database's own message without the statement or its parameters (which may hold data)."""
    original = getattr(exc, "orig", None) or exc
    first_line = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {redact_card_numbers(first_line[:300])}"


def _hide_password(url: str) -> str:
    return _SECRET_IN_URL.sub(r"\1***@", url)

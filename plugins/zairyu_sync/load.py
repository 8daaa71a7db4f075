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

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool, StaticPool

from zairyu_sync.canonical import FINDING_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.config import project_path
from zairyu_sync.errors import ConfigError, LoadError
from zairyu_sync.pii import (
    mask_card_number,
    mask_name,
    redact_card_numbers,
    tokenise_card_number,
)
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
    employees: pd.DataFrame | None = None,
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
            stored tokenised and masked, never with the name, birth date or card number. None
            leaves the run key's snapshot rows as they are.
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
    snapshots = None if employees is None else employee_snapshot_frame(employees)
    statuses = None if isa_applications is None else isa_status_frame(isa_applications)
    now = _utcnow()
    params = {"run_key": run.run_key, "as_of": run.as_of, "now": now}
    try:
        with engine.begin() as conn:
            conn.execute(sql_text("warehouse/load/upsert_run.sql"), _run_row(run, findings))
            _exec_file(conn, "warehouse/load/create_staging.sql")
            _stage(conn, "discrepancies", findings, native=native)
            _stage(conn, "quarantine", rejects, native=native)
            conn.execute(sql_text("warehouse/load/capture_prior_discrepancies.sql"), params)
            refreshed = conn.execute(
                sql_text("warehouse/load/refresh_seen_discrepancies.sql"), params
            ).rowcount
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
                _stage(conn, "employee_snapshots", snapshots, native=native)
                conn.execute(sql_text("warehouse/load/insert_run_employee_snapshots.sql"), params)
            if statuses is not None:
                _stage(conn, "isa_applications", statuses, native=native)
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
        "no" if snapshots is None else len(snapshots),
        "no" if statuses is None else len(statuses),
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
    missing = [column for column in _EMPLOYEE_INPUT_COLUMNS if column not in employees.columns]
    if missing:
        raise LoadError(f"employees frame lacks columns: {missing}")
    data: dict[str, list[Any]] = {}
    for column in SNAPSHOT_COLUMNS[:16]:
        values = employees[column].tolist()
        if column in _SNAPSHOT_DATES:
            data[column] = [_as_date(value) for value in values]
        elif column in _SNAPSHOT_BOOLS:
            data[column] = [_as_bool(value) for value in values]
        else:
            data[column] = [_as_text(value) for value in values]
    cards = [_as_text(value) for value in employees["residence_card_number"].tolist()]
    data["card_token"] = [tokenise_card_number(card) for card in cards]
    data["card_masked"] = [mask_card_number(card) or None for card in cards]
    names = [_as_text(value) for value in employees["full_name"].tolist()]
    data["name_masked"] = [mask_name(name) or None for name in names]
    births = [_as_date(value) for value in employees["date_of_birth"].tolist()]
    data["birth_year"] = [None if born is None else born.year for born in births]
    return pd.DataFrame(data, columns=list(SNAPSHOT_COLUMNS), dtype=object)


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
    missing = [column for column in _ISA_INPUT_COLUMNS if column not in isa_applications.columns]
    if missing:
        raise LoadError(f"isa_applications frame lacks columns: {missing}")
    data: dict[str, list[Any]] = {}
    for column in ISA_STATUS_COLUMNS[:8]:
        values = isa_applications[column].tolist()
        if column == "updated_at":
            data[column] = [_as_utc_timestamp(value) for value in values]
        elif column in _ISA_DATES:
            data[column] = [_as_date(value) for value in values]
        else:
            data[column] = [_as_text(value) for value in values]
    for column in ("receipt_number", "status", "updated_at"):
        if any(value is None for value in data[column]):
            raise LoadError(f"an ISA application lacks its {column}")
    cards = [
        _as_text(value) for value in isa_applications["applicant_residence_card_number"].tolist()
    ]
    data["applicant_card_token"] = [tokenise_card_number(card) for card in cards]
    data["applicant_card_masked"] = [mask_card_number(card) or None for card in cards]
    return pd.DataFrame(data, columns=list(ISA_STATUS_COLUMNS), dtype=object)


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


def _normalise(frame: pd.DataFrame, columns: Sequence[str], name: str) -> pd.DataFrame:
    """A copy with exactly ``columns``: text as ``str``/None, dates as ``date``/None, ints."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise LoadError(f"{name} frame lacks columns: {missing}")
    data: dict[str, list[Any]] = {}
    for column in columns:
        values = frame[column].tolist()
        if column == "due_date":
            data[column] = [_as_date(value) for value in values]
        elif column == "row_number":
            data[column] = [None if _is_missing(value) else int(value) for value in values]
        else:
            data[column] = [None if _is_missing(value) else str(value) for value in values]
    return pd.DataFrame(data, columns=list(columns), dtype=object)


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


def _run_row(run: RunRecord, findings: pd.DataFrame) -> dict[str, Any]:
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


def _stage(conn: sa.Connection, name: str, frame: pd.DataFrame, *, native: bool) -> None:
    if frame.empty:
        return
    dialect = conn.dialect.name
    if native and dialect == "duckdb":
        _stage_duckdb(conn, name, frame)
    elif native and dialect == "postgresql" and conn.dialect.driver == "psycopg":
        _stage_postgres_copy(conn, name, frame)
    else:
        records = [
            dict(zip(frame.columns, row, strict=True))
            for row in frame.itertuples(index=False, name=None)
        ]
        conn.execute(sql_text(f"warehouse/load/insert_staging_{name}.sql"), records)


def _stage_duckdb(conn: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    raw: Any = conn.connection.dbapi_connection
    view = f"{name}_frame"
    raw.register(view, frame)
    try:
        conn.exec_driver_sql(load_sql(f"warehouse/load/scan_staging_{name}.duckdb.sql"))
    finally:
        raw.unregister(view)


def _stage_postgres_copy(conn: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    raw: Any = conn.connection.dbapi_connection
    statement = load_sql(f"warehouse/load/copy_staging_{name}.postgresql.sql")
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in frame.itertuples(index=False, name=None):
            copy.write_row(row)


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

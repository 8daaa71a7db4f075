"""Extract stage: read the canonical tables (contract.md section 1) out of the ERP.

The SQL in ``sql/erp/`` maps the ERP's own schema onto the canonical columns; this module runs it
with bound parameters, streams the rows in chunks and returns *raw* frames: exactly the canonical
columns, every value ``str`` or ``None``. Engine-specific types (PostgreSQL ``date`` and
``Decimal``, SQLite integers) are rendered as the same text from every engine, so downstream
stages cannot tell which database the snapshot came from.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from zairyu_sync.canonical import APPLICATION_COLUMNS, EMPLOYEE_COLUMNS, TIMESHEET_COLUMNS
from zairyu_sync.errors import ExtractError, InputError
from zairyu_sync.sqlfiles import sql_text

log = logging.getLogger(__name__)

EMPLOYEES_SQL = "erp/extract_employees.sql"
APPLICATIONS_SQL = "erp/extract_applications.sql"
TIMESHEETS_SQL = "erp/extract_timesheets.sql"

#: Snapshot file names inside a run directory, by frame name.
SNAPSHOT_FILES: Mapping[str, str] = {
    "employees": "employees_raw.parquet",
    "applications": "applications_raw.parquet",
    "timesheets": "timesheets_raw.parquet",
}
_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "employees": EMPLOYEE_COLUMNS,
    "applications": APPLICATION_COLUMNS,
    "timesheets": TIMESHEET_COLUMNS,
}


@dataclass(frozen=True)
class ErpSnapshot:
    """The raw canonical tables read from the ERP (all values text or None)."""

    employees: pd.DataFrame
    applications: pd.DataFrame
    timesheets: pd.DataFrame


def extract_snapshot(
    engine: sa.Engine,
    *,
    as_of: date,
    timesheet_lookback_days: int = 90,
    chunk_size: int = 50_000,
) -> ErpSnapshot:
    """Read employees, applications and timesheets from the ERP.

    The three queries run on one connection; on PostgreSQL inside one REPEATABLE READ
    transaction so they see the same snapshot of the ERP.

    Args:
        engine: SQLAlchemy engine of the ERP database.
        as_of: the reconciliation date; timesheets are read for
            ``[as_of - timesheet_lookback_days, as_of]`` (both inclusive).
        timesheet_lookback_days: how many days of timesheets before ``as_of`` to read.
        chunk_size: rows fetched per round trip (server-side cursor where the driver has one).

    Returns:
        The raw snapshot; each frame has exactly the canonical columns, in contract order.

    Raises:
        ExtractError: the ERP could not be queried or a query returned unexpected columns.
        ValueError: ``chunk_size`` or ``timesheet_lookback_days`` is out of range.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    if timesheet_lookback_days < 0:
        raise ValueError("timesheet_lookback_days must not be negative")
    window = {
        "from_date": (as_of - timedelta(days=timesheet_lookback_days)).isoformat(),
        "to_date": as_of.isoformat(),
    }
    current = EMPLOYEES_SQL
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            employees = _read_query(conn, EMPLOYEES_SQL, EMPLOYEE_COLUMNS, {}, chunk_size)
            current = APPLICATIONS_SQL
            applications = _read_query(conn, APPLICATIONS_SQL, APPLICATION_COLUMNS, {}, chunk_size)
            current = TIMESHEETS_SQL
            timesheets = _read_query(conn, TIMESHEETS_SQL, TIMESHEET_COLUMNS, window, chunk_size)
    except SQLAlchemyError as exc:
        cause = type(getattr(exc, "orig", None) or exc).__name__
        raise ExtractError(f"ERP query {current} failed ({cause})") from exc
    log.info(
        "extracted %d employee rows, %d applications, %d timesheet rows (as of %s)",
        len(employees),
        len(applications),
        len(timesheets),
        as_of.isoformat(),
    )
    return ErpSnapshot(employees=employees, applications=applications, timesheets=timesheets)


def write_snapshot(snapshot: ErpSnapshot, run_dir: Path) -> dict[str, str]:
    """Write the snapshot as Parquet files into ``run_dir``.

    Args:
        snapshot: the frames to write.
        run_dir: directory to write into (created if missing).

    Returns:
        Frame name (``employees``, ``applications``, ``timesheets``) -> file path as text.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for name, file_name in SNAPSHOT_FILES.items():
        path = run_dir / file_name
        tmp = path.with_name(path.name + ".tmp")
        getattr(snapshot, name).to_parquet(tmp, index=False)
        os.replace(tmp, path)
        paths[name] = str(path)
    return paths


def read_snapshot(run_dir: Path) -> ErpSnapshot:
    """Read a snapshot written by :func:`write_snapshot` (values back to ``str`` / ``None``).

    Args:
        run_dir: the directory :func:`write_snapshot` wrote into.

    Returns:
        The snapshot, with the same columns and values as the one written.

    Raises:
        InputError: a file is missing or does not have the canonical columns.
    """
    frames: dict[str, pd.DataFrame] = {}
    for name, file_name in SNAPSHOT_FILES.items():
        path = run_dir / file_name
        if not path.exists():
            raise InputError(f"snapshot file missing: {file_name}")
        frame = pd.read_parquet(path)
        columns = _COLUMNS[name]
        if tuple(frame.columns) != columns:
            raise InputError(f"{file_name} has columns {list(frame.columns)}, expected {columns}")
        frames[name] = _as_text_frame(frame)
    return ErpSnapshot(**frames)


def _read_query(
    conn: sa.Connection,
    name: str,
    columns: tuple[str, ...],
    params: Mapping[str, object],
    chunk_size: int,
) -> pd.DataFrame:
    """Run one extract query and collect its rows as text, ``chunk_size`` rows at a time."""
    streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_size)
    result = streaming.execute(sql_text(name), dict(params))
    rows: list[tuple[str | None, ...]] = []
    chunks = 0
    try:
        returned = tuple(result.keys())
        if returned != columns:
            raise ExtractError(f"{name} returned columns {list(returned)}, expected {columns}")
        while batch := result.fetchmany(chunk_size):
            chunks += 1
            rows.extend(tuple(_as_text(value) for value in row) for row in batch)
    finally:
        result.close()
    log.debug("%s: %d rows in %d chunks", name, len(rows), chunks)
    return _frame(rows, columns)


def _frame(rows: Sequence[tuple[str | None, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns), dtype=object)


def _as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Object dtype, ``str`` values, ``None`` for missing (Parquet reads back as string dtype)."""
    return pd.DataFrame(
        [tuple(_as_text(value) for value in row) for row in frame.itertuples(index=False)],
        columns=list(frame.columns),
        dtype=object,
    )


def _as_text(value: object) -> str | None:
    """Render one database value the way every engine should: ISO dates, plain decimals."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == datetime.min.time() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return _decimal_text(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return None if value.is_nan() else _decimal_text(value)
    if isinstance(value, int):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8")
    return str(value)


def _decimal_text(value: Decimal) -> str:
    """``Decimal('4.50')`` -> ``'4.5'``, ``Decimal('8.00')`` -> ``'8'`` (no exponent)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text

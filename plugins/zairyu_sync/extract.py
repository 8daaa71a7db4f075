"""Extract stage: read the canonical tables (contract.md section 1) out of the ERP.

The SQL in ``sql/erp/`` maps the ERP's own schema onto the canonical columns; this module runs it
with bound parameters, streams the rows in chunks and returns *raw* frames: exactly the canonical
columns, every value ``str`` or ``None``. Engine-specific types (PostgreSQL ``date`` and
``Decimal``, SQLite integers) are rendered as the same text from every engine, so downstream
stages cannot tell which database the snapshot came from.

On PostgreSQL through psycopg each query streams as ``COPY (query) TO STDOUT`` CSV parsed by
Arrow (``sql/erp/copy_csv.postgresql.sql``); elsewhere rows are fetched in chunks and rendered
column by column, each distinct value once. Both give the same text.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from zairyu_sync.canonical import APPLICATION_COLUMNS, EMPLOYEE_COLUMNS, TIMESHEET_COLUMNS
from zairyu_sync.errors import ExtractError, InputError
from zairyu_sync.shards import WHOLE_ROSTER, Shard
from zairyu_sync.sqlfiles import load_sql, sql_text

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
    shard: Shard = WHOLE_ROSTER,
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
        shard: the part of the roster to read (:mod:`zairyu_sync.shards`); the whole by default.

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
    in_shard = shard.as_params()
    window = {
        "from_date": (as_of - timedelta(days=timesheet_lookback_days)).isoformat(),
        "to_date": as_of.isoformat(),
        **in_shard,
    }
    current = EMPLOYEES_SQL
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            employees = _read_query(conn, EMPLOYEES_SQL, EMPLOYEE_COLUMNS, in_shard, chunk_size)
            current = APPLICATIONS_SQL
            applications = _read_query(
                conn, APPLICATIONS_SQL, APPLICATION_COLUMNS, in_shard, chunk_size
            )
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
    """Run one extract query and collect its rows as text.

    On PostgreSQL through psycopg the rows stream as CSV (:func:`_read_postgres_copy`); elsewhere
    (and for column types that path does not render) they are fetched ``chunk_size`` rows at a
    time and rendered column by column (:func:`_text_column`).
    """
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        copied = _read_postgres_copy(conn, name, columns, params)
        if copied is not None:
            return copied
    streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_size)
    result = streaming.execute(sql_text(name), dict(params))
    parts: list[list[np.ndarray]] = [[] for _ in columns]
    chunks = rows = 0
    try:
        returned = tuple(result.keys())
        if returned != columns:
            raise ExtractError(f"{name} returned columns {list(returned)}, expected {columns}")
        while batch := result.fetchmany(chunk_size):
            chunks += 1
            rows += len(batch)
            for part, values in zip(parts, zip(*batch, strict=True), strict=True):
                part.append(_text_column(values))
    finally:
        result.close()
    log.debug("%s: %d rows in %d chunks", name, rows, chunks)
    return _frame_of(parts, columns)


def _frame_of(parts: Sequence[Sequence[np.ndarray]], columns: tuple[str, ...]) -> pd.DataFrame:
    """Object-dtype frame from per-column lists of object arrays."""
    data = {
        column: pd.Series(
            np.concatenate(part) if part else np.empty(0, dtype=object), dtype=object, copy=False
        )
        for column, part in zip(columns, parts, strict=True)
    }
    return pd.DataFrame(data, columns=list(columns))


def _as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Object dtype, ``str`` values, ``None`` for missing (Parquet reads back as string dtype)."""
    parts = [[_text_column(frame[column].to_numpy(dtype=object))] for column in frame.columns]
    return _frame_of(parts, tuple(frame.columns))


#: Value types whose equal values always render alike, so a column renders once per value.
_CACHEABLE = frozenset({int, float, Decimal, date, bool})


def _text_column(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """:func:`_as_text` over one column: object array of ``str`` / ``None``.

    Text and NULL pass as they are. Dates, decimals and numbers are rendered once per distinct
    (type, value), since equal values of one type render alike (``True`` and ``1`` are equal but
    of different types); anything else value by value.
    """
    count = len(values)
    kinds = set(map(type, values)) - {str, type(None)}
    if not kinds:
        return np.fromiter(values, dtype=object, count=count)
    if not kinds <= _CACHEABLE:
        return np.fromiter(map(_as_text, values), dtype=object, count=count)
    if len(kinds) == 1:  # one type besides str / None: values are their own keys
        rendered = {value: _as_text(value) for value in set(values)}
        return np.fromiter(map(rendered.__getitem__, values), dtype=object, count=count)
    keys = list(zip(map(type, values), values, strict=True))
    typed = {key: _as_text(key[1]) for key in set(keys)}
    return np.fromiter(map(typed.__getitem__, keys), dtype=object, count=count)


# --- PostgreSQL: COPY ... TO STDOUT as CSV ----------------------------------------------------

COPY_SQL = "erp/copy_csv.postgresql.sql"
#: PostgreSQL type OIDs whose CSV text is already the canonical text (text types, integers).
_PG_TEXT_OIDS = frozenset({18, 19, 25, 705, 1042, 1043, 20, 21, 23})
_PG_DATE, _PG_NUMERIC, _PG_BOOL = 1082, 1700, 16
_PG_OIDS = _PG_TEXT_OIDS | {_PG_DATE, _PG_NUMERIC, _PG_BOOL}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COPY_BLOCK_BYTES = 4 << 20


def _read_postgres_copy(
    conn: sa.Connection, name: str, columns: tuple[str, ...], params: Mapping[str, object]
) -> pd.DataFrame | None:
    """Stream one query through ``COPY (query) TO STDOUT`` as CSV and parse it with Arrow.

    The query's parameters are bound by psycopg (merged in client-side, as quoted literals,
    because COPY takes none of its own). PostgreSQL renders every value as text; dates are
    checked to be ISO (what psycopg would have refused otherwise fails the same way), decimals
    are rendered like :func:`_as_text` and booleans as ``true``/``false``.

    Returns:
        The frame, or None when this path does not apply (connection encoding or DateStyle not
        UTF-8 / ISO, or a column type it does not render); the caller then fetches rows.
    """
    from psycopg import sql as psql

    raw: Any = conn.connection.driver_connection
    date_style = str(raw.info.parameter_status("DateStyle") or "")
    if raw.info.encoding != "utf-8" or not date_style.startswith("ISO"):
        return None
    compiled = sql_text(name).compile(dialect=conn.dialect)
    query = compiled.string
    bound = compiled.construct_params(dict(params))
    with raw.cursor(name=f"zs_describe_{uuid.uuid4().hex[:12]}") as described:
        described.execute(query, bound)
        description = list(described.description or ())
    returned = tuple(column.name for column in description)
    if returned != columns:
        raise ExtractError(f"{name} returned columns {list(returned)}, expected {columns}")
    oids = [int(column.type_code) for column in description]
    if not set(oids) <= _PG_OIDS:
        return None
    statement = psql.SQL(load_sql(COPY_SQL)).format(query=psql.SQL(query))  # type: ignore[arg-type]
    parts: list[list[np.ndarray]] = [[] for _ in columns]
    rows = 0
    with raw.cursor() as cursor, cursor.copy(statement, bound) as copy:
        stream = _CopyStream(copy)
        if stream.exhausted():  # no rows: Arrow refuses an empty CSV
            return _frame_of(parts, columns)
        reader = pa_csv.open_csv(
            io.BufferedReader(stream, buffer_size=_COPY_BLOCK_BYTES),
            read_options=pa_csv.ReadOptions(
                column_names=list(columns), block_size=_COPY_BLOCK_BYTES
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.large_string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            rows += batch.num_rows
            for part, array, oid in zip(parts, batch.columns, oids, strict=True):
                part.append(_pg_text_column(array, oid, name))
    log.debug("%s: %d rows by COPY", name, rows)
    return _frame_of(parts, columns)


class _CopyStream(io.RawIOBase):
    """A readable byte stream over the data blocks of a psycopg ``Copy`` (COPY TO STDOUT)."""

    def __init__(self, copy: Any) -> None:
        self._blocks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def exhausted(self) -> bool:
        """True when no data is left (loads the next block if none is pending)."""
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return True
            self._pending = memoryview(block).cast("B")
        return False

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target) and not self.exhausted():
            size = min(len(target) - filled, len(self._pending))
            target[filled : filled + size] = self._pending[:size]
            self._pending = self._pending[size:]
            filled += size
        return filled


def _pg_text_column(array: pa.Array, oid: int, name: str) -> np.ndarray:
    """One CSV column as an object array of ``str`` / ``None``, rendered by the column's type.

    Each distinct value is rendered once and shared by the rows holding it.
    """
    encoded = pc.dictionary_encode(array, null_encoding="encode")  # NULL: a None entry
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
    texts = [text for text in distinct if text is not None]
    if oid == _PG_NUMERIC:
        rendered = {text: _as_text(Decimal(text)) for text in texts}
    elif oid == _PG_BOOL:
        rendered = {text: _PG_BOOL_TEXT[text] for text in texts}
    elif oid == _PG_DATE and not all(_ISO_DATE.fullmatch(text) for text in texts):
        # e.g. infinity or a BC date, which psycopg cannot load as a Python date either
        raise ExtractError(f"ERP query {name} failed (DataError)")
    else:
        rendered = None
    if rendered is not None:
        distinct = np.fromiter(
            (None if text is None else rendered[text] for text in distinct),
            dtype=object,
            count=len(distinct),
        )
    spread: np.ndarray = distinct.take(encoded.indices.to_numpy(zero_copy_only=False))
    return spread


_PG_BOOL_TEXT = {"t": "true", "f": "false"}


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

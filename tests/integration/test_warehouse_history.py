"""Warehouse history: discrepancy events, employee snapshots and the ISA status history.

Three runs ten days apart (D, D+10, D+20) against real DuckDB files and a throwaway PostgreSQL
schema: a SPECIAL_PERIOD warning escalates to critical and is resolved, a resolved finding is
reopened; reruns leave every table identical; backfills emit no contradicting events; snapshots
and ISA statuses hold no raw personal data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync import load as load_module
from zairyu_sync.canonical import (
    EMPLOYEE_COLUMNS,
    FINDING_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    QUARANTINE_COLUMNS,
)
from zairyu_sync.errors import LoadError
from zairyu_sync.load import (
    ISA_STATUS_COLUMNS,
    SNAPSHOT_COLUMNS,
    LoadResult,
    RunRecord,
    apply_migrations,
    employee_snapshot_frame,
    isa_status_frame,
    load_run,
    warehouse_engine,
)
from zairyu_sync.pii import (
    mask_card_number,
    mask_name,
    tokenise_card_number,
    tokenise_card_numbers,
)
from zairyu_sync.sqlfiles import load_sql, split_statements

pytestmark = pytest.mark.integration

PIPELINE = "residence_status_reconciliation"
D = date(2026, 11, 25)
D5, D10, D15, D20, D30 = (D + timedelta(days=n) for n in (5, 10, 15, 20, 30))
KEY = {day: f"{PIPELINE}/{day.isoformat()}" for day in (D, D5, D10, D15, D20, D30)}
ORDER_BY = {
    "reconciliation_runs": "run_key",
    "discrepancies": "discrepancy_id",
    "quarantine": "run_key, source_table, row_number",
    "schema_migrations": "version",
    "discrepancy_events": "event_id",
    "employee_snapshots": "run_key, employee_id",
    "isa_application_statuses": "receipt_number, status, updated_at",
}
CARD_A, CARD_B, CARD_OLD = "AB12345678CD", "XY87654321ZW", "QQ11112222RR"
NAME_A, NAME_B = "NGUYEN VAN AN", "MARIA SANTOS CRUZ"
BIRTH_A, BIRTH_B = "1995-04-02", "1988-12-30"


def run_record(as_of: date) -> RunRecord:
    return RunRecord(
        run_key=KEY[as_of],
        dag_run_id=f"scheduled__{as_of.isoformat()}",
        logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) - timedelta(days=1),
        as_of=as_of,
        started_at=datetime(as_of.year, as_of.month, as_of.day, 1, tzinfo=UTC),
        finished_at=datetime(as_of.year, as_of.month, as_of.day, 1, 5, tzinfo=UTC),
        status="success",
        counts={"extracted": 2, "valid": 2, "reconciled": 2},
        code_version="0.1.0",
        rule_catalog_version=3,
    )


def finding(discrepancy_id: str, rule_code: str, severity: str) -> dict[str, Any]:
    return {
        "discrepancy_id": discrepancy_id,
        "employee_id": "E1" if discrepancy_id != "wn" else "E2",
        "organization_id": "TKY01",
        "compliance_owner": "hr-tokyo@example.co.jp",
        "rule_code": rule_code,
        "severity": severity,
        "due_date": date(2027, 1, 31),
        "receipt_number": None,
        "detail": f"{rule_code} for card AB******CD",
    }


def findings(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(FINDING_COLUMNS))


NO_QUARANTINE = pd.DataFrame(columns=list(QUARANTINE_COLUMNS))

# The findings each as-of date reports.
SP_WARNING = finding("sp", "SPECIAL_PERIOD", "warning")
SP_CRITICAL = finding("sp", "SPECIAL_PERIOD", "critical")
EX = finding("ex", "EXPIRY_APPROACHING", "warning")
WN = finding("wn", "WORK_NOT_PERMITTED", "critical")
CR_CRITICAL = finding("cr", "EXPIRY_APPROACHING", "critical")
CR_WARNING = finding("cr", "EXPIRY_APPROACHING", "warning")
NEW = finding("nw", "APPLICATION_PENDING_LONG", "info")
FINDINGS = {
    D: findings(SP_WARNING, EX, WN, CR_CRITICAL),
    D10: findings(SP_CRITICAL, WN, CR_CRITICAL),
    D20: findings(EX, WN, CR_WARNING, NEW),
}


def employee(employee_id: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(EMPLOYEE_COLUMNS)
    row.update(
        employee_id=employee_id,
        organization_id="TKY01",
        full_name=NAME_A,
        nationality="VNM",
        date_of_birth=BIRTH_A,
        employment_status="active",
        hire_date="2024-04-01",
        job_category="ENG-SE",
        employment_insured="true",
        residence_status="engineer_specialist_humanities_international",
        period_of_stay_expiry="2026-11-20",
        residence_card_number=CARD_A,
        card_valid_until="2029-11-20",
        outside_status_permission="none",
        compliance_owner="hr-tokyo@example.co.jp",
    )
    row.update(overrides)
    return row


def typed_employees(*rows: dict[str, Any]) -> pd.DataFrame:
    """Employees typed the way validation hands them on (datetime64 dates, boolean flags, str)."""
    frame = pd.DataFrame(list(rows), columns=list(EMPLOYEE_COLUMNS))
    for column in frame.columns:
        if column.endswith(("_date", "_expiry", "_until", "_on")) or column == "date_of_birth":
            frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
        elif column in ("employment_insured", "designated_work_permitted"):
            frame[column] = frame[column].map({"true": True, "false": False}).astype("boolean")
        else:
            frame[column] = frame[column].astype("str")
    return frame


EMPLOYEES = typed_employees(
    employee("E1"),
    employee(
        "E2",
        full_name=NAME_B,
        date_of_birth=BIRTH_B,
        nationality="PHL",
        residence_status="student",
        period_of_stay_expiry="2027-03-31",
        residence_card_number=CARD_B,
        student_enrolled_until="2027-03-31",
        employment_insured="false",
        designated_work_permitted=None,
        compliance_owner=None,
    ),
)


def isa_application(receipt: str, status: str, updated_at: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ISA_APPLICATION_COLUMNS)
    row.update(
        receipt_number=receipt,
        application_type="extension",
        status=status,
        filed_on="2026-11-10",
        applicant_full_name=NAME_A,
        applicant_date_of_birth=BIRTH_A,
        applicant_nationality="VNM",
        applicant_residence_card_number=CARD_A,
        updated_at=updated_at,
    )
    row.update(extra)
    return row


R1_PENDING = isa_application("2026-TKY-0000001", "UNDER_EXAMINATION", "2026-11-20T10:00:00+09:00")
R1_PERMITTED = isa_application(
    "2026-TKY-0000001",
    "PERMITTED",
    "2026-12-03T09:30:00+09:00",
    decided_on="2026-12-03",
    granted_status="engineer_specialist_humanities_international",
    granted_period_expiry="2029-11-20",
)
R2 = isa_application(
    "2026-TKY-0000002",
    "RECEIVED",
    "2026-11-01T00:00:00+00:00",
    applicant_full_name=NAME_B,
    applicant_date_of_birth=BIRTH_B,
    applicant_residence_card_number=CARD_OLD,
)
ISA = {
    D: pd.DataFrame([R1_PENDING, R2], columns=list(ISA_APPLICATION_COLUMNS)),
    D10: pd.DataFrame([R1_PERMITTED, R2], columns=list(ISA_APPLICATION_COLUMNS)),
    D20: pd.DataFrame([R1_PERMITTED, R2], columns=list(ISA_APPLICATION_COLUMNS)),
}


def load_day(
    engine: sa.Engine, day: date, frame: pd.DataFrame | None = None, *, native: bool = True
) -> LoadResult:
    return load_run(
        engine,
        run_record(day),
        FINDINGS[day] if frame is None else frame,
        NO_QUARANTINE,
        employees=EMPLOYEES,
        isa_applications=ISA.get(day, ISA[D20]),
        native=native,
    )


def table(engine: sa.Engine, name: str, where: str = "") -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT * FROM {name} {where} ORDER BY {ORDER_BY[name]}")  # noqa: S608
        return [tuple(row) for row in result.all()]


def everything(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    return {name: table(engine, name) for name in ORDER_BY}


def events(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(
            "SELECT as_of_date, discrepancy_id, event_type, severity_before, severity_after, "
            "rule_code, employee_id FROM discrepancy_events "
            "ORDER BY as_of_date, discrepancy_id, event_type"
        )
        return [tuple(row) for row in result.all()]


def run_counts(engine: sa.Engine, day: date) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT findings_new, findings_open, findings_resolved, findings_reopened, "
                    "findings_escalated, findings_open_critical, rule_catalog_version "
                    "FROM reconciliation_runs WHERE run_key = :k"
                ),
                {"k": KEY[day]},
            ).one()
        )


EXPECTED_EVENTS = [
    (D, "cr", "opened", None, "critical", "EXPIRY_APPROACHING", "E1"),
    (D, "ex", "opened", None, "warning", "EXPIRY_APPROACHING", "E1"),
    (D, "sp", "opened", None, "warning", "SPECIAL_PERIOD", "E1"),
    (D, "wn", "opened", None, "critical", "WORK_NOT_PERMITTED", "E2"),
    (D10, "ex", "resolved", "warning", None, "EXPIRY_APPROACHING", "E1"),
    (D10, "sp", "escalated", "warning", "critical", "SPECIAL_PERIOD", "E1"),
    (D20, "cr", "deescalated", "critical", "warning", "EXPIRY_APPROACHING", "E1"),
    (D20, "ex", "reopened", "warning", "warning", "EXPIRY_APPROACHING", "E1"),
    (D20, "nw", "opened", None, "info", "APPLICATION_PENDING_LONG", "E1"),
    (D20, "sp", "resolved", "critical", None, "SPECIAL_PERIOD", "E1"),
]


def test_three_runs_record_every_transition_once(warehouse: sa.Engine) -> None:
    first = load_day(warehouse, D)
    second = load_day(warehouse, D10)
    third = load_day(warehouse, D20)

    assert events(warehouse) == EXPECTED_EVENTS
    assert first == LoadResult(
        new_ids=("cr", "ex", "sp", "wn"), still_open_count=4, resolved_ids=(), reopened_ids=()
    )
    assert second == LoadResult(
        new_ids=(),
        still_open_count=3,
        resolved_ids=("ex",),
        reopened_ids=(),
        escalated_ids=("sp",),
    )
    assert third == LoadResult(
        new_ids=("nw",), still_open_count=4, resolved_ids=("sp",), reopened_ids=("ex",)
    )
    # new, open, resolved, reopened, escalated, open critical (as of the run), catalog version
    assert run_counts(warehouse, D) == (4, 4, 0, 0, 0, 2, 3)
    assert run_counts(warehouse, D10) == (0, 3, 1, 0, 1, 3, 3)
    assert run_counts(warehouse, D20) == (1, 4, 1, 1, 0, 1, 3)
    with warehouse.connect() as conn:
        ids = conn.exec_driver_sql(
            "SELECT event_id, run_key, recorded_at FROM discrepancy_events "
            "WHERE discrepancy_id = 'sp' ORDER BY as_of_date"
        ).all()
        current = conn.exec_driver_sql(
            "SELECT status, severity, resolved_on FROM discrepancies WHERE discrepancy_id = 'sp'"
        ).one()
    assert [row[1] for row in ids] == [KEY[D], KEY[D10], KEY[D20]]
    assert all(len(row[0]) == 32 and isinstance(row[2], datetime) for row in ids)
    assert tuple(current) == ("resolved", "critical", D20)


@pytest.mark.parametrize("native", [True, False], ids=["bulk", "executemany"])
@pytest.mark.parametrize("rerun", [D, D10, D20], ids=["D", "D+10", "D+20"])
def test_rerun_of_any_run_leaves_every_table_identical(
    warehouse: sa.Engine, rerun: date, native: bool
) -> None:
    results = {day: load_day(warehouse, day, native=native) for day in (D, D10, D20)}
    before = everything(warehouse)
    assert len(before["discrepancy_events"]) == len(EXPECTED_EVENTS)
    assert len(before["employee_snapshots"]) == 6
    assert len(before["isa_application_statuses"]) == 3

    again = load_day(warehouse, rerun, native=native)

    assert again == results[rerun]
    assert everything(warehouse) == before


def test_backfills_emit_no_events_that_contradict_newer_state(warehouse: sa.Engine) -> None:
    for day in (D, D10, D20):
        load_day(warehouse, day)
    newer = table(warehouse, "reconciliation_runs", f"WHERE run_key = '{KEY[D20]}'")

    # D+15 still reports sp (resolved at D+20) as critical and no longer reports ex (reopened at
    # D+20): a naive diff would reopen sp and resolve ex.
    late = load_day(warehouse, D15, findings(SP_CRITICAL, WN, CR_CRITICAL))
    # D+5 reports sp as it was at D, plus a finding nobody has seen.
    early = load_day(
        warehouse,
        D5,
        findings(SP_WARNING, EX, WN, CR_CRITICAL, finding("bf", "DATA_QUALITY", "warning")),
    )

    assert late == LoadResult(new_ids=(), still_open_count=3, resolved_ids=(), reopened_ids=())
    assert early == LoadResult(
        new_ids=("bf",), still_open_count=5, resolved_ids=(), reopened_ids=()
    )
    assert events(warehouse) == sorted(
        [*EXPECTED_EVENTS, (D5, "bf", "opened", None, "warning", "DATA_QUALITY", "E1")]
    )
    with warehouse.connect() as conn:
        state = conn.exec_driver_sql(
            "SELECT discrepancy_id, status, severity FROM discrepancies ORDER BY discrepancy_id"
        ).all()
    assert [tuple(row) for row in state] == [
        ("bf", "open", "warning"),
        ("cr", "open", "warning"),
        ("ex", "open", "warning"),
        ("nw", "open", "info"),
        ("sp", "resolved", "critical"),
        ("wn", "open", "critical"),
    ]
    assert run_counts(warehouse, D15) == (0, 3, 0, 0, 0, 3, 3)
    assert run_counts(warehouse, D5) == (1, 5, 0, 0, 0, 2, 3)
    assert table(warehouse, "reconciliation_runs", f"WHERE run_key = '{KEY[D20]}'") == newer
    # The next in-order run resolves what only the backfill saw: a consistent transition.
    after = load_day(warehouse, D30, FINDINGS[D20])
    assert after.resolved_ids == ("bf",)
    assert events(warehouse)[-1] == (D30, "bf", "resolved", "warning", None, "DATA_QUALITY", "E1")
    assert len(events(warehouse)) == len(EXPECTED_EVENTS) + 2


def test_snapshots_hold_the_canonical_record_without_personal_data(warehouse: sa.Engine) -> None:
    load_day(warehouse, D)

    with warehouse.connect() as conn:
        result = conn.exec_driver_sql("SELECT * FROM employee_snapshots ORDER BY employee_id")
        columns = list(result.keys())
        stored = [dict(zip(columns, row, strict=True)) for row in result.all()]
        isa_rows = conn.exec_driver_sql("SELECT * FROM isa_application_statuses").all()

    assert [row["employee_id"] for row in stored] == ["E1", "E2"]
    first, second = stored
    assert first["run_key"] == KEY[D] and first["as_of_date"] == D
    assert first["card_token"] == tokenise_card_number(CARD_A)
    assert len(first["card_token"]) == 64
    assert (first["card_masked"], first["name_masked"], first["birth_year"]) == (
        "AB******CD",
        "N. V. A.",
        1995,
    )
    assert (first["period_of_stay_expiry"], first["hire_date"], first["termination_date"]) == (
        date(2026, 11, 20),
        date(2024, 4, 1),
        None,
    )
    assert (first["employment_insured"], first["designated_work_permitted"]) == (True, None)
    assert first["residence_status"] == "engineer_specialist_humanities_international"
    assert (second["name_masked"], second["birth_year"], second["nationality"]) == (
        "M. S. C.",
        1988,
        "PHL",
    )
    assert (second["employment_insured"], second["compliance_owner"]) == (False, None)
    assert second["student_enrolled_until"] == date(2027, 3, 31)
    assert not {"full_name", "date_of_birth", "residence_card_number"} & set(columns)
    # No value anywhere in either table is (or contains) a name, a birth date or a card number.
    forbidden = [CARD_A, CARD_B, CARD_OLD, NAME_A, NAME_B, "NGUYEN", "SANTOS", BIRTH_A, BIRTH_B]
    cells = [value for row in stored for value in row.values()]
    cells += [value for row in isa_rows for value in row]
    assert cells
    for value in cells:
        text = value.isoformat() if isinstance(value, date) else str(value)
        assert not any(secret in text for secret in forbidden), text
        assert value not in (date(1995, 4, 2), date(1988, 12, 30))


def test_a_rerun_replaces_the_run_snapshot_only(warehouse: sa.Engine) -> None:
    load_day(warehouse, D)
    load_day(warehouse, D10)
    load_run(
        warehouse,
        run_record(D),
        FINDINGS[D],
        NO_QUARANTINE,
        employees=EMPLOYEES[EMPLOYEES["employee_id"] == "E2"],
    )

    stored = [(row[0], row[2]) for row in table(warehouse, "employee_snapshots")]
    assert stored == [(KEY[D], "E2"), (KEY[D10], "E1"), (KEY[D10], "E2")]
    # Without an employees frame the run's snapshot is left as it is.
    load_run(warehouse, run_record(D), FINDINGS[D], NO_QUARANTINE)
    assert [(row[0], row[2]) for row in table(warehouse, "employee_snapshots")] == stored


def test_isa_status_history_keeps_old_and_new_status_of_a_receipt(warehouse: sa.Engine) -> None:
    for day in (D, D10, D20):
        load_day(warehouse, day)
    # A backfill sees today's statuses under an old as-of date: nothing new, nothing changed.
    load_day(warehouse, D5, FINDINGS[D])

    with warehouse.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT receipt_number, status, updated_at, decided_on, granted_period_expiry, "
            "applicant_card_token, applicant_card_masked, first_seen_run, first_seen_at "
            "FROM isa_application_statuses ORDER BY receipt_number, updated_at"
        ).all()
    token_a, token_old = tokenise_card_number(CARD_A), tokenise_card_number(CARD_OLD)
    assert [tuple(row) for row in rows] == [
        (
            "2026-TKY-0000001",
            "UNDER_EXAMINATION",
            datetime(2026, 11, 20, 1, 0),  # 10:00 JST as naive UTC
            None,
            None,
            token_a,
            "AB******CD",
            KEY[D],
            D,
        ),
        (
            "2026-TKY-0000001",
            "PERMITTED",
            datetime(2026, 12, 3, 0, 30),
            date(2026, 12, 3),
            date(2029, 11, 20),
            token_a,
            "AB******CD",
            KEY[D10],
            D10,
        ),
        (
            "2026-TKY-0000002",
            "RECEIVED",
            datetime(2026, 11, 1, 0, 0),
            None,
            None,
            token_old,
            "QQ******RR",
            KEY[D],
            D,
        ),
    ]


def test_isa_rows_without_a_status_time_are_refused_and_nothing_is_kept(
    warehouse: sa.Engine,
) -> None:
    load_day(warehouse, D)
    before = everything(warehouse)
    broken = pd.DataFrame(
        [{**R1_PERMITTED, "updated_at": None}], columns=list(ISA_APPLICATION_COLUMNS)
    )

    with pytest.raises(LoadError, match="lacks its updated_at"):
        load_run(warehouse, run_record(D10), FINDINGS[D10], NO_QUARANTINE, isa_applications=broken)
    with pytest.raises(LoadError, match="employees frame lacks columns: \\['full_name'\\]"):
        load_run(
            warehouse,
            run_record(D10),
            FINDINGS[D10],
            NO_QUARANTINE,
            employees=EMPLOYEES.drop(columns=["full_name"]),
        )

    assert everything(warehouse) == before


def test_migration_seeds_the_history_of_findings_recorded_before_it(tmp_path: Path) -> None:
    engine = warehouse_engine(f"duckdb:///{tmp_path / 'old.duckdb'}")
    try:
        with engine.begin() as conn:
            for name in ("0001_initial.sql", "0002_rules_and_statuses.sql"):
                for statement in split_statements(load_sql(f"warehouse/migrations/{name}")):
                    conn.exec_driver_sql(statement)
                conn.exec_driver_sql(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    (name[:4], datetime(2026, 11, 1)),
                )
            conn.exec_driver_sql(
                "INSERT INTO discrepancies (discrepancy_id, employee_id, rule_code, severity, "
                "status, first_seen_run, last_seen_run, first_seen_on, last_seen_on, "
                "resolved_run, resolved_on, reopened_run, reopened_on, updated_at) VALUES "
                "('a', 'E1', 'STATUS_EXPIRED', 'critical', 'open', 'p/2026-11-01', "
                "'p/2026-11-09', '2026-11-01', '2026-11-09', NULL, NULL, 'p/2026-11-05', "
                "'2026-11-05', '2026-11-09 01:00:00'), "
                "('b', 'E2', 'CARD_RENEWAL_DUE', 'warning', 'resolved', 'p/2026-11-01', "
                "'p/2026-11-02', '2026-11-01', '2026-11-02', 'p/2026-11-03', '2026-11-03', NULL, "
                "NULL, '2026-11-03 01:00:00')"
            )

        assert apply_migrations(engine) == ["0003", "0004"]

        with engine.connect() as conn:
            seeded = conn.exec_driver_sql(
                "SELECT discrepancy_id, run_key, as_of_date, event_type, severity_before, "
                "severity_after FROM discrepancy_events ORDER BY discrepancy_id, as_of_date"
            ).all()
            runs = conn.exec_driver_sql(
                "SELECT findings_escalated, findings_open_critical, rule_catalog_version "
                "FROM reconciliation_runs"
            ).all()
        assert [tuple(row) for row in seeded] == [
            ("a", "p/2026-11-01", date(2026, 11, 1), "opened", None, "critical"),
            ("a", "p/2026-11-05", date(2026, 11, 5), "reopened", "critical", "critical"),
            ("b", "p/2026-11-01", date(2026, 11, 1), "opened", None, "warning"),
            ("b", "p/2026-11-03", date(2026, 11, 3), "resolved", "warning", None),
        ]
        assert runs == []
    finally:
        engine.dispose()


# --- the snapshot and ISA rows are the per-value conversions, whatever the frame's dtypes -------

#: Whitespace Python strips and splits on but ASCII tools may not (U+001C..U+001F, NEL, NBSP,
#: ideographic space), non-ASCII text, blanks and every kind of missing value.
AWKWARD = [
    "  padded\t",
    "\x1cFS\x1f",
    "\u3000全角\u3000",
    "\x85NEL",
    "\xa0nbsp",
    "",
    "   ",
    None,
    float("nan"),
    pd.NA,
    "ÄÖÜ",
    "日本 太郎",
    "plain",
]
NAMES = [
    "NGUYEN  VAN\tAN",
    " MARIA SANTOS CRUZ ",
    "A\x1cB\x1dC",
    "Ｎｇｕｙｅｎ Ｖａｎ",
    "ÉMILE ZOLA",
    "EM\u2003SPACE",
    "\vVT\fFF",
    "X",
]
CARDS = ["AB12345678CD", " ab1 ", "XYZ", "ABCD", "日本語カード", "\u3000AB12345678CD\u3000"]
TEXT_DATES = [
    "2026-01-05",
    " 2026-01-05 ",
    "2026-01-05T23:59:59",
    "2026-01-05junk",
    "1969-12-31",
    "0001-01-01",
    "9999-12-31",
    "2024-02-29",
    "",
    None,
]
TEXT_FLAGS = ["yes", " N ", "1", "f", "TRUE", "", None, True, False]


def reference_snapshot(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The snapshot rows by the per-value conversions (the definition the load must keep)."""
    values = {column: frame[column].tolist() for column in frame.columns}
    rows: list[dict[str, Any]] = []
    for position in range(len(frame)):
        row: dict[str, Any] = {}
        for column in SNAPSHOT_COLUMNS[:16]:
            value = values[column][position]
            if column in load_module._SNAPSHOT_DATES:
                row[column] = load_module._as_date(value)
            elif column in load_module._SNAPSHOT_BOOLS:
                row[column] = load_module._as_bool(value)
            else:
                row[column] = load_module._as_text(value)
        card = load_module._as_text(values["residence_card_number"][position])
        row["card_token"] = tokenise_card_number(card)
        row["card_masked"] = mask_card_number(card) or None
        row["name_masked"] = mask_name(load_module._as_text(values["full_name"][position])) or None
        born = load_module._as_date(values["date_of_birth"][position])
        row["birth_year"] = None if born is None else born.year
        rows.append(row)
    return rows


def typed_rows(frame: pd.DataFrame) -> list[list[tuple[str, type, Any]]]:
    return [
        [(column, type(value), value) for column, value in row.items()]
        for row in frame.to_dict("records")
    ]


def cycle(values: list[Any], size: int, shift: int = 0) -> list[Any]:
    return [values[(position + shift) % len(values)] for position in range(size)]


def awkward_employees(size: int, *, typed: bool) -> pd.DataFrame:
    frame = pd.DataFrame({"employee_id": [f"E{position}" for position in range(size)]})
    for shift, column in enumerate(EMPLOYEE_COLUMNS):
        if column == "employee_id":
            continue
        if column == "full_name":
            frame[column] = cycle(NAMES + AWKWARD, size, shift)
        elif column == "residence_card_number":
            frame[column] = cycle(CARDS + AWKWARD, size, shift)
        elif column in load_module._SNAPSHOT_DATES or column == "date_of_birth":
            frame[column] = cycle(TEXT_DATES, size, shift)
        elif column in load_module._SNAPSHOT_BOOLS:
            frame[column] = cycle(TEXT_FLAGS, size, shift)
        else:
            frame[column] = pd.Series(cycle(AWKWARD, size, shift), dtype=object)
    if typed:
        for shift, column in enumerate(frame.columns):
            if column in load_module._SNAPSHOT_DATES or column == "date_of_birth":
                moments = cycle(
                    ["1960-05-05 13:00:00", "1969-12-31 23:59:59", None, "2026-01-01 00:00:01"],
                    size,
                    shift,
                )
                frame[column] = pd.to_datetime(pd.Series(moments), format="ISO8601")
            elif column in load_module._SNAPSHOT_BOOLS:
                frame[column] = pd.array(cycle([True, False, None], size), dtype="boolean")
            else:
                frame[column] = frame[column].astype("str")
        frame["hire_date"] = frame["hire_date"].dt.tz_localize("Asia/Tokyo")  # local dates
    return frame


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "text"])
def test_snapshot_rows_are_the_per_value_conversions(typed: bool) -> None:
    frame = awkward_employees(97, typed=typed)

    assert typed_rows(employee_snapshot_frame(frame)) == typed_rows(
        pd.DataFrame(reference_snapshot(frame), columns=list(SNAPSHOT_COLUMNS), dtype=object)
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("hire_date", "2026-02-30", "not an ISO date: '2026-02-30'"),
        ("hire_date", "0000-01-01", "not an ISO date: '0000-01-01'"),
        ("card_valid_until", "soon", "not an ISO date: 'soon'"),
        ("employment_insured", "perhaps", "not a boolean: 'perhaps'"),
    ],
)
def test_a_value_that_does_not_convert_is_refused_as_before(
    column: str, value: str, message: str
) -> None:
    frame = awkward_employees(13, typed=False)
    frame.loc[7, column] = value
    with pytest.raises(LoadError, match=message):
        reference_snapshot(frame)
    with pytest.raises(LoadError, match=message):
        employee_snapshot_frame(frame)


UPDATED_AT = [
    "2026-11-20T10:00:00+09:00",
    "2026-11-20 10:00:00Z",
    "2026-11-20T10:00:00.5-05:30",
    "2026-11-20T10:00:00.123456789+00:00",
    " 2026-11-20T10:00:00 ",
    "2026-11-20",
    "20261120T100000",
    "1650-01-01T00:00:00+14:00",
    "2026-11-20T10:00",
]


def test_isa_rows_are_the_per_value_conversions() -> None:
    size = 40
    frame = pd.DataFrame({column: [None] * size for column in ISA_APPLICATION_COLUMNS})
    frame["receipt_number"] = [f" 2026-TKY-{position:07d}" for position in range(size)]
    frame["status"] = cycle(["RECEIVED", "\u3000PERMITTED", "DENIED "], size)
    frame["updated_at"] = cycle(UPDATED_AT, size)
    for shift, column in enumerate(("filed_on", "decided_on", "granted_period_expiry")):
        frame[column] = cycle(TEXT_DATES, size, shift)
    frame["application_type"] = cycle(AWKWARD, size)
    frame["granted_status"] = cycle(AWKWARD, size, 3)
    frame["applicant_residence_card_number"] = cycle(CARDS + AWKWARD, size)
    values = {column: frame[column].tolist() for column in frame.columns}
    expected = []
    for position in range(size):
        row: dict[str, Any] = {}
        for column in ISA_STATUS_COLUMNS[:8]:
            value = values[column][position]
            if column == "updated_at":
                row[column] = load_module._as_utc_timestamp(value)
            elif column in load_module._ISA_DATES:
                row[column] = load_module._as_date(value)
            else:
                row[column] = load_module._as_text(value)
        card = load_module._as_text(values["applicant_residence_card_number"][position])
        row["applicant_card_token"] = tokenise_card_number(card)
        row["applicant_card_masked"] = mask_card_number(card) or None
        expected.append(row)

    assert typed_rows(isa_status_frame(frame)) == typed_rows(
        pd.DataFrame(expected, columns=list(ISA_STATUS_COLUMNS), dtype=object)
    )
    frame.loc[5, "updated_at"] = "2026-11-20T24:00:00+09:00"
    with pytest.raises(LoadError, match="not an ISO timestamp"):
        isa_status_frame(frame)


@pytest.mark.parametrize(
    "key", [None, b"", b"k", b"k" * 64, b"k" * 65, "鍵".encode()], ids=lambda key: repr(key)[:12]
)
def test_column_tokens_are_the_single_value_tokens(key: bytes | None) -> None:
    cards = [card for card in [*CARDS, *AWKWARD, "AB12345678CD"] if card is not pd.NA]
    assert tokenise_card_numbers(cards, key) == [tokenise_card_number(c, key) for c in cards]

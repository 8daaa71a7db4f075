"""Analyst views and report queries on DuckDB and PostgreSQL: hand-built data, exact rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync.canonical import EMPLOYEE_COLUMNS, FINDING_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.load import (
    RunRecord,
    load_run,
    open_critical_trend,
)

pytestmark = pytest.mark.integration

D = date(2026, 11, 25)  # a Wednesday
NO_QUARANTINE = pd.DataFrame(columns=list(QUARANTINE_COLUMNS))


def key(day: date) -> str:
    return f"residence_status_reconciliation/{day.isoformat()}"


def run(day: date) -> RunRecord:
    return RunRecord(
        run_key=key(day),
        dag_run_id=f"manual__{day.isoformat()}",
        logical_date=None,
        as_of=day,
        started_at=datetime(day.year, day.month, day.day, 1, tzinfo=UTC),
        finished_at=None,
        status="success",
        rule_catalog_version=1,
    )


def findings(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "discrepancy_id": discrepancy_id,
                "employee_id": f"E-{discrepancy_id}",
                "organization_id": "TKY01",
                "compliance_owner": "hr@example.co.jp",
                "rule_code": rule_code,
                "severity": severity,
                "due_date": None,
                "receipt_number": None,
                "detail": "x",
            }
            for discrepancy_id, rule_code, severity in rows
        ],
        columns=list(FINDING_COLUMNS),
    )


def query(engine: sa.Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), params).all()]


def load_history(engine: sa.Engine) -> None:
    """D: a, b, c open; D+10: b escalated, a resolved; D+20: a reopened, c resolved, d opened."""
    load_run(
        engine,
        run(D),
        findings(
            ("a", "EXPIRY_APPROACHING", "warning"),
            ("b", "SPECIAL_PERIOD", "warning"),
            ("c", "STATUS_EXPIRED", "critical"),
        ),
        NO_QUARANTINE,
    )
    load_run(
        engine,
        run(D + timedelta(days=10)),
        findings(("b", "SPECIAL_PERIOD", "critical"), ("c", "STATUS_EXPIRED", "critical")),
        NO_QUARANTINE,
    )
    load_run(
        engine,
        run(D + timedelta(days=20)),
        findings(
            ("a", "EXPIRY_APPROACHING", "warning"),
            ("b", "SPECIAL_PERIOD", "critical"),
            ("d", "EXPIRY_APPROACHING", "warning"),
        ),
        NO_QUARANTINE,
    )


def test_rule_summary_per_run_counts_findings_open_as_of_each_run(warehouse: sa.Engine) -> None:
    load_history(warehouse)

    rows = query(
        warehouse,
        "SELECT run_key, as_of_date, rule_code, severity, open_findings "
        "FROM rule_summary_per_run ORDER BY as_of_date, rule_code, severity",
    )

    d10, d20 = D + timedelta(days=10), D + timedelta(days=20)
    assert rows == [
        (key(D), D, "EXPIRY_APPROACHING", "warning", 1),
        (key(D), D, "SPECIAL_PERIOD", "warning", 1),
        (key(D), D, "STATUS_EXPIRED", "critical", 1),
        (key(d10), d10, "SPECIAL_PERIOD", "critical", 1),
        (key(d10), d10, "STATUS_EXPIRED", "critical", 1),
        (key(d20), d20, "EXPIRY_APPROACHING", "warning", 2),
        (key(d20), d20, "SPECIAL_PERIOD", "critical", 1),
    ]
    states = query(
        warehouse,
        "SELECT discrepancy_id, status, severity, last_event_type, last_event_on "
        "FROM findings_as_of_run WHERE run_key = :run_key ORDER BY discrepancy_id",
        run_key=key(d10),
    )
    assert states == [
        ("a", "resolved", "warning", "resolved", d10),
        ("b", "open", "critical", "escalated", d10),
        ("c", "open", "critical", "opened", D),
    ]


def test_open_critical_trend_view_and_query(warehouse: sa.Engine) -> None:
    load_history(warehouse)
    d10, d20 = D + timedelta(days=10), D + timedelta(days=20)

    rows = query(
        warehouse, "SELECT as_of_date, run_key, open_critical FROM open_critical_trend ORDER BY 1"
    )
    trend = open_critical_trend(warehouse, limit=2)

    assert rows == [(D, key(D), 1), (d10, key(d10), 2), (d20, key(d20), 1)]
    assert list(trend.columns) == ["as_of_date", "run_key", "open_critical"]
    assert trend.to_dict("records") == [
        {"as_of_date": d10, "run_key": key(d10), "open_critical": 2},
        {"as_of_date": d20, "run_key": key(d20), "open_critical": 1},
    ]
    assert len(open_critical_trend(warehouse)) == 3


def test_time_to_resolution_per_rule(warehouse: sa.Engine) -> None:
    a = ("a1", "EXPIRY_APPROACHING", "warning")
    a2 = ("a2", "EXPIRY_APPROACHING", "warning")
    a3 = ("a3", "EXPIRY_APPROACHING", "critical")
    b = ("b1", "CARD_RENEWAL_DUE", "warning")
    still_open = ("c1", "STATUS_EXPIRED", "critical")
    timeline = [
        (0, [a, a2, a3, b, still_open]),
        (5, [a, a2, a3, still_open]),  # b1 resolved after 5 days
        (10, [a2, a3, still_open]),  # a1 after 10
        (20, [a3, still_open]),  # a2 after 20
        (40, [still_open]),  # a3 after 40
    ]
    for offset, rows in timeline:
        load_run(warehouse, run(D + timedelta(days=offset)), findings(*rows), NO_QUARANTINE)

    result = query(
        warehouse,
        "SELECT rule_code, resolved_count, avg_days, median_days, max_days "
        "FROM time_to_resolution ORDER BY rule_code",
    )

    assert result == [
        ("CARD_RENEWAL_DUE", 1, 5.0, 5.0, 5),
        ("EXPIRY_APPROACHING", 3, pytest.approx(70 / 3), 20.0, 40),
    ]


def snapshot_employee(employee_id: str, expiry: date | None, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(EMPLOYEE_COLUMNS)
    row.update(
        employee_id=employee_id,
        organization_id="TKY01",
        full_name="TRAN THI BINH",
        nationality="VNM",
        date_of_birth=date(1990, 1, 1),
        employment_status="active",
        hire_date=date(2024, 4, 1),
        residence_status="engineer_specialist_humanities_international",
        period_of_stay_expiry=expiry,
        residence_card_number="AB12345678CD",
        outside_status_permission="none",
        compliance_owner="hr@example.co.jp",
    )
    row.update(overrides)
    return row


def load_snapshots(warehouse: sa.Engine) -> None:
    older = [snapshot_employee("OLD", D + timedelta(days=1))]
    load_run(
        warehouse,
        run(D - timedelta(days=1)),
        findings(),
        NO_QUARANTINE,
        employees=pd.DataFrame(older, columns=list(EMPLOYEE_COLUMNS)),
    )
    days = {"E000": 0, "E030": 30, "E031": 31, "E060": 60, "E061": 61, "E090": 90}
    days |= {"E091": 91, "E120": 120, "E121": 121, "EPAST": -1}
    rows = [snapshot_employee(name, D + timedelta(days=n)) for name, n in days.items()]
    rows += [
        snapshot_employee("LEAVE", D + timedelta(days=5), employment_status="on_leave"),
        snapshot_employee(
            "GONE",
            D + timedelta(days=5),
            employment_status="terminated",
            termination_date=D - timedelta(days=3),
        ),
        snapshot_employee("LATER", D + timedelta(days=5), hire_date=D + timedelta(days=7)),
        snapshot_employee("NOOWNER", D + timedelta(days=6), compliance_owner=None),
        snapshot_employee("PR", None, residence_status="permanent_resident"),
    ]
    load_run(
        warehouse,
        run(D),
        findings(),
        NO_QUARANTINE,
        employees=pd.DataFrame(rows, columns=list(EMPLOYEE_COLUMNS)),
    )


def test_upcoming_expiries_view_uses_the_latest_snapshot(warehouse: sa.Engine) -> None:
    load_snapshots(warehouse)

    rows = query(
        warehouse,
        "SELECT employee_id, compliance_owner, period_of_stay_expiry, days_left, bucket, run_key "
        "FROM upcoming_expiries ORDER BY days_left, employee_id",
    )

    def expected(employee_id: str, days: int, bucket: str, owner: str = "hr@example.co.jp") -> Any:
        return (employee_id, owner, D + timedelta(days=days), days, bucket, key(D))

    assert rows == [
        expected("E000", 0, "<=30"),
        expected("LEAVE", 5, "<=30"),
        expected("NOOWNER", 6, "<=30", "(no owner)"),
        expected("E030", 30, "<=30"),
        expected("E031", 31, "31-60"),
        expected("E060", 60, "31-60"),
        expected("E061", 61, "61-90"),
        expected("E090", 90, "61-90"),
        expected("E091", 91, "91-120"),
        expected("E120", 120, "91-120"),
    ]
    columns = query(
        warehouse,
        "SELECT organization_id, residence_status FROM upcoming_expiries WHERE employee_id = :e",
        e="E000",
    )
    assert columns == [("TKY01", "engineer_specialist_humanities_international")]

"""The warehouse load against real DuckDB files and a throwaway PostgreSQL schema."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync import load as load_module
from zairyu_sync.canonical import FINDING_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.errors import LoadError
from zairyu_sync.load import (
    LoadResult,
    RunRecord,
    apply_migrations,
    load_run,
    warehouse_engine,
)

pytestmark = pytest.mark.integration

PIPELINE = "residence_status_reconciliation"
TABLES = {
    "reconciliation_runs": "run_key",
    "discrepancies": "discrepancy_id",
    "quarantine": "run_key, source_table, row_number",
    "schema_migrations": "version",
    "discrepancy_events": "event_id",
    "employee_snapshots": "run_key, employee_id",
    "isa_application_statuses": "receipt_number, status, updated_at",
}


def run_record(as_of: date, **counts: int) -> RunRecord:
    return RunRecord(
        run_key=f"{PIPELINE}/{as_of.isoformat()}",
        dag_run_id=f"scheduled__{as_of.isoformat()}",
        logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) - timedelta(days=1),
        as_of=as_of,
        started_at=datetime(as_of.year, as_of.month, as_of.day, 1, 0, tzinfo=UTC),
        finished_at=datetime(as_of.year, as_of.month, as_of.day, 1, 5, tzinfo=UTC),
        status="success",
        counts=counts or {"extracted": 10, "ignored": 2, "quarantined": 1, "valid": 7},
        code_version="0.1.0",
    )


def finding(
    discrepancy_id: str,
    *,
    severity: str = "critical",
    rule_code: str = "STATUS_EXPIRED",
    owner: str | None = "hr-a@example.com",
    due_date: date | None = date(2026, 12, 1),
    detail: str = "period of stay expired",
) -> dict[str, Any]:
    return {
        "discrepancy_id": discrepancy_id,
        "employee_id": f"E-{discrepancy_id}",
        "organization_id": "ORG1",
        "compliance_owner": owner,
        "rule_code": rule_code,
        "severity": severity,
        "due_date": due_date,
        "receipt_number": None,
        "detail": detail,
    }


def findings(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(FINDING_COLUMNS))


def quarantine(*row_numbers: int, source_table: str = "employees") -> pd.DataFrame:
    rows = [
        {
            "source_table": source_table,
            "row_number": number,
            "employee_id": f"Q{number}",
            "receipt_number": None,
            "organization_id": "ORG1",
            "compliance_owner": "hr-a@example.com",
            "reason_codes": "CARD_NUMBER_MALFORMED,DATE_UNPARSEABLE",
            "reasons": "card number malformed; hire_date does not parse",
        }
        for number in row_numbers
    ]
    return pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))


def rows(engine: sa.Engine, table: str, where: str = "") -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT * FROM {table} {where} ORDER BY {TABLES[table]}")  # noqa: S608
        return [tuple(row) for row in result.all()]


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    return {table: rows(engine, table) for table in TABLES}


def discrepancy(engine: sa.Engine, discrepancy_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        result = conn.execute(
            sa.text("SELECT * FROM discrepancies WHERE discrepancy_id = :id"),
            {"id": discrepancy_id},
        )
        return dict(result.mappings().one())


def run_row(engine: sa.Engine, run_key: str) -> dict[str, Any]:
    with engine.connect() as conn:
        result = conn.execute(
            sa.text("SELECT * FROM reconciliation_runs WHERE run_key = :k"), {"k": run_key}
        )
        return dict(result.mappings().one())


DAY1 = date(2026, 11, 25)
DAY2 = date(2026, 11, 26)
DAY3 = date(2026, 11, 27)


def test_migrations_apply_once(warehouse: sa.Engine) -> None:
    # The fixture applied them; a second and third call apply nothing and add no rows.
    assert apply_migrations(warehouse) == []
    assert apply_migrations(warehouse) == []
    assert [row[0] for row in rows(warehouse, "schema_migrations")] == [
        "0001",
        "0002",
        "0003",
        "0004",
    ]
    names = set(sa.inspect(warehouse).get_table_names())
    assert {"reconciliation_runs", "discrepancies", "quarantine", "alert_log"} <= names
    assert {"discrepancy_events", "employee_snapshots", "isa_application_statuses"} <= names
    assert {
        "open_discrepancies",
        "open_discrepancy_counts",
        "findings_as_of_run",
        "rule_summary_per_run",
        "open_critical_trend",
        "upcoming_expiries",
        "time_to_resolution",
    } <= set(sa.inspect(warehouse).get_view_names())


def test_first_run_loads_every_finding_as_new_and_open(warehouse: sa.Engine) -> None:
    run = run_record(DAY1, extracted=10, ignored=2, quarantined=1, valid=7, reconciled=7)
    result = load_run(
        warehouse,
        run,
        findings(finding("a"), finding("b", severity="warning"), finding("c", due_date=None)),
        quarantine(4),
    )

    assert result == LoadResult(
        new_ids=("a", "b", "c"), still_open_count=3, resolved_ids=(), reopened_ids=()
    )
    stored = discrepancy(warehouse, "c")
    assert stored["status"] == "open"
    assert stored["first_seen_run"] == stored["last_seen_run"] == run.run_key
    assert stored["first_seen_on"] == stored["last_seen_on"] == DAY1
    assert stored["due_date"] is None and stored["resolved_on"] is None
    assert discrepancy(warehouse, "a")["due_date"] == date(2026, 12, 1)
    row = run_row(warehouse, run.run_key)
    assert (row["extracted"], row["ignored"], row["quarantined"], row["valid"]) == (10, 2, 1, 7)
    assert (row["reconciled"], row["api_calls"]) == (7, 0)
    assert (row["findings_total"], row["findings_new"], row["findings_open"]) == (3, 3, 3)
    assert row["findings_resolved"] == 0
    assert row["as_of_date"] == DAY1
    assert row["started_at"] == datetime(2026, 11, 25, 1, 0)  # stored as naive UTC
    assert row["dag_run_id"] == "scheduled__2026-11-25" and row["status"] == "success"
    assert len(rows(warehouse, "quarantine")) == 1


@pytest.mark.parametrize("native", [True, False], ids=["bulk", "executemany"])
def test_rerun_of_a_run_key_leaves_the_warehouse_identical(
    warehouse: sa.Engine, native: bool
) -> None:
    load_run(warehouse, run_record(DAY1), findings(finding("a"), finding("b")), quarantine(1))
    run2 = run_record(DAY2)
    frame = findings(finding("b"), finding("c", severity="warning"))
    first = load_run(warehouse, run2, frame, quarantine(2, 3), native=native)
    before = snapshot(warehouse)

    again = load_run(warehouse, run2, frame, quarantine(2, 3), native=native)

    assert snapshot(warehouse) == before
    assert again == first
    assert again == LoadResult(
        new_ids=("c",), still_open_count=2, resolved_ids=("a",), reopened_ids=()
    )
    assert len(before["discrepancies"]) == 3


def test_later_run_resolves_missing_adds_new_and_refreshes_seen(warehouse: sa.Engine) -> None:
    run1, run2 = run_record(DAY1), run_record(DAY2)
    load_run(warehouse, run1, findings(finding("a"), finding("b"), finding("c")), quarantine())

    result = load_run(
        warehouse,
        run2,
        findings(
            finding("b"),
            finding("c", severity="warning", detail="renewal filed", due_date=date(2027, 1, 5)),
            finding("d", owner=None),
        ),
        quarantine(),
    )

    assert result == LoadResult(
        new_ids=("d",), still_open_count=3, resolved_ids=("a",), reopened_ids=()
    )
    gone = discrepancy(warehouse, "a")
    assert (gone["status"], gone["resolved_run"], gone["resolved_on"]) == (
        "resolved",
        run2.run_key,
        DAY2,
    )
    assert gone["last_seen_on"] == DAY1
    kept = discrepancy(warehouse, "b")
    assert (kept["first_seen_run"], kept["first_seen_on"]) == (run1.run_key, DAY1)
    assert (kept["last_seen_run"], kept["last_seen_on"], kept["status"]) == (
        run2.run_key,
        DAY2,
        "open",
    )
    changed = discrepancy(warehouse, "c")
    assert (changed["severity"], changed["detail"], changed["due_date"]) == (
        "warning",
        "renewal filed",
        date(2027, 1, 5),
    )
    assert discrepancy(warehouse, "d")["first_seen_run"] == run2.run_key
    row = run_row(warehouse, run2.run_key)
    assert (row["findings_new"], row["findings_open"], row["findings_resolved"]) == (1, 3, 1)


def test_resolved_finding_that_reappears_is_reopened(warehouse: sa.Engine) -> None:
    load_run(warehouse, run_record(DAY1), findings(finding("a"), finding("b")), quarantine())
    load_run(warehouse, run_record(DAY2), findings(finding("b")), quarantine())
    assert discrepancy(warehouse, "a")["status"] == "resolved"

    run3 = run_record(DAY3)
    result = load_run(warehouse, run3, findings(finding("a"), finding("b")), quarantine())

    assert result == LoadResult(
        new_ids=(), still_open_count=2, resolved_ids=(), reopened_ids=("a",)
    )
    back = discrepancy(warehouse, "a")
    assert back["status"] == "open"
    assert back["resolved_run"] is None and back["resolved_on"] is None
    assert (back["reopened_run"], back["reopened_on"]) == (run3.run_key, DAY3)
    assert (back["first_seen_run"], back["last_seen_on"]) == (run_record(DAY1).run_key, DAY3)
    assert run_row(warehouse, run3.run_key)["findings_reopened"] == 1
    # A rerun of the reopening run reports the same outcome and changes nothing.
    before = snapshot(warehouse)
    assert load_run(warehouse, run3, findings(finding("a"), finding("b")), quarantine()) == result
    assert snapshot(warehouse) == before


def test_backfill_of_an_earlier_date_does_not_touch_later_findings(warehouse: sa.Engine) -> None:
    later = run_record(DAY3)
    load_run(warehouse, later, findings(finding("a"), finding("b", detail="new")), quarantine())

    backfill = run_record(DAY1)
    result = load_run(
        warehouse, backfill, findings(finding("b", detail="old"), finding("z")), quarantine()
    )

    assert result.resolved_ids == ()
    assert result.new_ids == ("z",)
    a = discrepancy(warehouse, "a")
    assert (a["status"], a["last_seen_on"], a["last_seen_run"]) == ("open", DAY3, later.run_key)
    b = discrepancy(warehouse, "b")
    assert (b["detail"], b["last_seen_on"], b["last_seen_run"]) == ("new", DAY3, later.run_key)
    # The next in-order run closes what neither it nor any later run saw.
    result = load_run(warehouse, run_record(DAY2), findings(finding("b")), quarantine())
    assert result.resolved_ids == ("z",)
    assert discrepancy(warehouse, "a")["status"] == "open"


def test_quarantine_rows_are_replaced_per_run_key(warehouse: sa.Engine) -> None:
    run1, run2 = run_record(DAY1), run_record(DAY2)
    load_run(warehouse, run1, findings(), quarantine(1, 2))
    load_run(warehouse, run2, findings(), quarantine(5, source_table="applications"))
    load_run(warehouse, run1, findings(), quarantine(3))

    stored = [(row[0], row[1], row[2]) for row in rows(warehouse, "quarantine")]
    assert stored == [(run1.run_key, "employees", 3), (run2.run_key, "applications", 5)]
    assert rows(warehouse, "quarantine", f"WHERE run_key = '{run1.run_key}'")[0][3:] == (
        "Q3",
        None,
        "ORG1",
        "hr-a@example.com",
        "CARD_NUMBER_MALFORMED,DATE_UNPARSEABLE",
        "card number malformed; hire_date does not parse",
    )


@pytest.mark.parametrize(
    "bad_frame",
    [
        pytest.param(findings(finding("b"), finding(None)), id="null-id"),  # type: ignore[arg-type]
        pytest.param(findings(finding("b"), finding("b")), id="duplicate-id"),
        pytest.param(findings(finding("b", severity="fatal")), id="unknown-severity"),
    ],
)
def test_failed_load_rolls_back_everything(warehouse: sa.Engine, bad_frame: pd.DataFrame) -> None:
    load_run(warehouse, run_record(DAY1), findings(finding("a"), finding("b")), quarantine(1))
    before = snapshot(warehouse)

    with pytest.raises(LoadError, match="rolled back"):
        load_run(warehouse, run_record(DAY2), bad_frame, quarantine(7))

    assert snapshot(warehouse) == before
    assert len(rows(warehouse, "reconciliation_runs")) == 1


def test_error_after_the_upserts_rolls_back_everything(
    warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_run(warehouse, run_record(DAY1), findings(finding("a"), finding("b")), quarantine(1))
    before = snapshot(warehouse)

    def broken_outcome(conn: sa.Connection, run_key: str) -> tuple[LoadResult, int]:
        # The upserts, resolution and quarantine replacement have run in this transaction.
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM discrepancies WHERE status = 'resolved'"
            ).scalar_one()
            == 2
        )
        raise RuntimeError("injected failure")

    monkeypatch.setattr(load_module, "_outcome", broken_outcome)
    with pytest.raises(LoadError, match="rolled back: RuntimeError"):
        load_run(warehouse, run_record(DAY2), findings(finding("c")), quarantine(9))

    assert snapshot(warehouse) == before


def test_frames_without_the_contract_columns_are_refused(warehouse: sa.Engine) -> None:
    with pytest.raises(LoadError, match="discrepancies frame lacks columns: \\['severity'\\]"):
        load_run(
            warehouse,
            run_record(DAY1),
            findings(finding("a")).drop(columns=["severity"]),
            quarantine(),
        )
    assert rows(warehouse, "reconciliation_runs") == []


def test_open_discrepancies_views(warehouse: sa.Engine) -> None:
    still_there = [
        finding("b", severity="warning", owner="hr-b@example.com"),
        finding("c", severity="info", owner=None, due_date=None),
        finding("d", due_date=date(2026, 11, 30)),
    ]
    load_run(warehouse, run_record(DAY1), findings(finding("a"), *still_there), quarantine())
    load_run(warehouse, run_record(DAY2), findings(*still_there), quarantine())

    with warehouse.connect() as conn:
        listed = conn.exec_driver_sql(
            "SELECT compliance_owner, severity, severity_rank, discrepancy_id, employee_id "
            "FROM open_discrepancies ORDER BY compliance_owner, severity_rank, discrepancy_id"
        ).all()
        counts = conn.exec_driver_sql(
            "SELECT compliance_owner, severity, open_count, earliest_due_date "
            "FROM open_discrepancy_counts ORDER BY compliance_owner, severity"
        ).all()

    assert [tuple(row) for row in listed] == [
        ("(no owner)", "info", 3, "c", "E-c"),
        ("hr-a@example.com", "critical", 1, "d", "E-d"),
        ("hr-b@example.com", "warning", 2, "b", "E-b"),
    ]
    assert [tuple(row) for row in counts] == [
        ("(no owner)", "info", 1, None),
        ("hr-a@example.com", "critical", 1, date(2026, 11, 30)),
        ("hr-b@example.com", "warning", 1, date(2026, 12, 1)),
    ]


def test_warehouse_engine_picks_psycopg_and_keeps_query_options() -> None:
    engine = warehouse_engine("postgres://u@db.example:5432/wh?options=-csearch_path%3Dzs")
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    assert engine.url.query == {"options": "-csearch_path=zs"}
    memory = warehouse_engine("duckdb:///:memory:")
    apply_migrations(memory)
    assert apply_migrations(memory) == []


# Text that CSV (PostgreSQL COPY) and the DuckDB scan must carry unchanged, "" distinct from NULL.
AWKWARD_TEXT = [
    'a "quoted", comma',
    "line\nbreak and\r\nCRLF",
    "\\.",
    "back\\slash \\N NULL",
    "",
    "   ",
    "tab\there",
    "日本語の説明",
    None,
]


@pytest.mark.parametrize("native", [True, False], ids=["bulk", "executemany"])
def test_text_is_stored_exactly_as_given(warehouse: sa.Engine, native: bool) -> None:
    rows_in = [
        finding(f"t{position}", detail=text, owner=text)  # type: ignore[arg-type]
        for position, text in enumerate(AWKWARD_TEXT)
    ]
    rejects = quarantine(1, 2)
    rejects["reasons"] = ["", 'say "no"\nplease']
    load_run(warehouse, run_record(DAY1), findings(*rows_in), rejects, native=native)

    with warehouse.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT discrepancy_id, detail, compliance_owner FROM discrepancies "
            "ORDER BY discrepancy_id"
        ).all()
        reasons = conn.exec_driver_sql("SELECT reasons FROM quarantine ORDER BY row_number").all()
    assert [tuple(row) for row in stored] == [
        (f"t{position}", text, text) for position, text in enumerate(AWKWARD_TEXT)
    ]
    assert [row[0] for row in reasons] == ["", 'say "no"\nplease']


def test_owner_changes_and_reopens_are_refreshed_and_reruns_change_nothing(
    warehouse: sa.Engine,
) -> None:
    # Known findings refresh in two statements (with or without the status/owner index columns).
    load_run(warehouse, run_record(DAY1), findings(finding("a"), finding("b")), quarantine())
    load_run(
        warehouse,
        run_record(DAY2),
        findings(finding("a", owner="hr-z@example.com"), finding("b", detail="changed")),
        quarantine(),
    )
    assert discrepancy(warehouse, "a")["compliance_owner"] == "hr-z@example.com"
    assert (
        discrepancy(warehouse, "b")["compliance_owner"],
        discrepancy(warehouse, "b")["detail"],
    ) == (
        "hr-a@example.com",
        "changed",
    )
    load_run(warehouse, run_record(DAY3), findings(), quarantine())
    day4 = run_record(date(2026, 11, 28))
    result = load_run(
        warehouse, day4, findings(finding("a", owner=None), finding("b")), quarantine()
    )
    assert result.reopened_ids == ("a", "b")
    a, b = discrepancy(warehouse, "a"), discrepancy(warehouse, "b")
    assert (a["status"], a["compliance_owner"], a["reopened_on"], a["resolved_on"]) == (
        "open",
        None,
        day4.as_of,
        None,
    )
    assert (b["status"], b["compliance_owner"], b["detail"], b["last_seen_on"]) == (
        "open",
        "hr-a@example.com",
        "period of stay expired",
        day4.as_of,
    )
    before = snapshot(warehouse)
    again = load_run(
        warehouse, day4, findings(finding("a", owner=None), finding("b")), quarantine()
    )
    assert again == result
    assert snapshot(warehouse) == before


def test_employees_in_shards_and_chunks_load_like_one_frame(
    warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.DataFrame(
        [
            {
                **dict.fromkeys(load_module._EMPLOYEE_INPUT_COLUMNS),
                "employee_id": f"E{number}",
                "full_name": "NGUYEN VAN AN",
                "residence_card_number": f"AB{number:08d}CD",
                "hire_date": date(2020, 1, number),
                "employment_insured": number % 2 == 0,
            }
            for number in range(1, 8)
        ]
    )
    load_run(warehouse, run_record(DAY1), findings(), quarantine(), employees=frame)
    whole = rows(warehouse, "employee_snapshots")

    monkeypatch.setattr(load_module, "_SNAPSHOT_CHUNK_ROWS", 2)
    monkeypatch.setattr(load_module, "_COPY_BATCH_ROWS", 1)
    shards = (frame.iloc[start : start + 3] for start in (0, 3, 6))
    load_run(warehouse, run_record(DAY1), findings(), quarantine(), employees=shards)
    assert rows(warehouse, "employee_snapshots") == whole
    assert len(whole) == 7

    before = snapshot(warehouse)
    with pytest.raises(LoadError, match="rolled back"):  # E3 in two shards
        load_run(
            warehouse,
            run_record(DAY1),
            findings(),
            quarantine(),
            employees=iter([frame.iloc[:3], frame.iloc[2:]]),
        )
    assert snapshot(warehouse) == before

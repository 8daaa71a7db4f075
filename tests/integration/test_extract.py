from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync.canonical import APPLICATION_COLUMNS, EMPLOYEE_COLUMNS, TIMESHEET_COLUMNS
from zairyu_sync.erp_sample import SampleErp, generate_sample, write_erp
from zairyu_sync.errors import ExtractError, InputError
from zairyu_sync.extract import ErpSnapshot, extract_snapshot, read_snapshot, write_snapshot

pytestmark = pytest.mark.integration

SORT_KEYS = {
    "employees": ["employee_id", "residence_card_number"],
    "applications": ["employee_id", "receipt_number"],
    "timesheets": ["employee_id", "work_date"],
}


@pytest.fixture
def sample(as_of: date) -> SampleErp:
    return generate_sample(80, as_of=as_of, seed=21)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def erp_engine(request: pytest.FixtureRequest, sample: SampleErp) -> sa.Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: sa.Engine = request.getfixturevalue(name)
    write_erp(sample, engine)
    return engine


def _sorted(snapshot: ErpSnapshot, name: str) -> pd.DataFrame:
    frame: pd.DataFrame = getattr(snapshot, name)
    keys = SORT_KEYS[name]
    return frame.sort_values(keys, na_position="first", kind="stable").reset_index(drop=True)


def _assert_text_only(frame: pd.DataFrame) -> None:
    assert all(pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes)
    for column in frame.columns:
        kinds = {type(value) for value in frame[column]}
        assert kinds <= {str, type(None)}, (column, kinds)


def test_canonical_columns_and_text_values(
    erp_engine: sa.Engine, sample: SampleErp, as_of: date
) -> None:
    snapshot = extract_snapshot(erp_engine, as_of=as_of)
    assert tuple(snapshot.employees.columns) == EMPLOYEE_COLUMNS
    assert tuple(snapshot.applications.columns) == APPLICATION_COLUMNS
    assert tuple(snapshot.timesheets.columns) == TIMESHEET_COLUMNS
    for frame in (snapshot.employees, snapshot.applications, snapshot.timesheets):
        _assert_text_only(frame)
    employees = snapshot.employees.set_index("employee_id", drop=False)
    source = sample.tables["hr_employee"][0]
    row = employees.loc[source["emp_no"]]
    if isinstance(row, pd.DataFrame):
        row = row.iloc[0]
    assert row["full_name"] == f"{source['family_name']} {source['given_name']}"
    assert row["date_of_birth"] == source["birth_date"]
    assert row["employment_insured"] in ("true", "false")
    assert set(snapshot.employees["employment_status"]) <= {"active", "on_leave", "terminated"}
    assert set(snapshot.timesheets["is_long_vacation"]) <= {"true", "false"}
    assert set(snapshot.applications["application_type"]) <= {"extension", "change"}
    dates = snapshot.employees["period_of_stay_expiry"].dropna()
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    hours = snapshot.timesheets["hours"]
    assert hours.str.fullmatch(r"\d+(\.\d+)?").all()
    assert not hours.str.endswith(".0").any()
    (unknown,) = sample.scenarios["DQ_UNKNOWN_STATUS"]
    assert employees.loc[unknown, "residence_status"] == "TOKKATSU46"


def test_counts_match_what_was_written(
    erp_engine: sa.Engine, sample: SampleErp, as_of: date
) -> None:
    snapshot = extract_snapshot(erp_engine, as_of=as_of)
    current_cards = Counter(
        card["emp_no"] for card in sample.tables["hr_residence_card"] if card["is_current"]
    )
    extra_rows = sum(count - 1 for count in current_cards.values() if count > 1)
    assert extra_rows == 1
    assert len(snapshot.employees) == len(sample.tables["hr_employee"]) + extra_rows == 89
    ids = Counter(snapshot.employees["employee_id"])
    (duplicate,) = sample.scenarios["DQ_DUPLICATE_CURRENT_CARD"]
    assert ids[duplicate] == 2
    assert (snapshot.employees["nationality"] == "JPN").sum() == 8
    japanese = snapshot.employees[snapshot.employees["nationality"] == "JPN"]
    assert japanese["residence_card_number"].isna().all()
    assert len(snapshot.applications) == len(sample.tables["hr_visa_application"])
    assert len(snapshot.timesheets) == len(sample.tables["pay_timesheet"])


def test_sqlite_and_postgresql_give_identical_frames(
    sample: SampleErp, sqlite_engine: sa.Engine, pg_engine: sa.Engine, as_of: date
) -> None:
    write_erp(sample, sqlite_engine)
    write_erp(sample, pg_engine)
    from_sqlite = extract_snapshot(sqlite_engine, as_of=as_of)
    from_postgres = extract_snapshot(pg_engine, as_of=as_of)
    for name in SORT_KEYS:
        pd.testing.assert_frame_equal(_sorted(from_sqlite, name), _sorted(from_postgres, name))
    # the SQL's own ORDER BY is deterministic, so even unsorted frames agree
    pd.testing.assert_frame_equal(from_sqlite.employees, from_postgres.employees)


def test_chunked_reading_gives_the_same_result(erp_engine: sa.Engine, as_of: date) -> None:
    whole = extract_snapshot(erp_engine, as_of=as_of)
    chunked = extract_snapshot(erp_engine, as_of=as_of, chunk_size=7)
    for name in SORT_KEYS:
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(chunked, name))


def test_timesheet_window(erp_engine: sa.Engine, sample: SampleErp, as_of: date) -> None:
    snapshot = extract_snapshot(erp_engine, as_of=as_of, timesheet_lookback_days=6)
    start = as_of - timedelta(days=6)
    expected = [
        row
        for row in sample.tables["pay_timesheet"]
        if start.isoformat() <= row["work_date"] <= as_of.isoformat()
    ]
    assert 0 < len(snapshot.timesheets) == len(expected) < len(sample.tables["pay_timesheet"])
    assert snapshot.timesheets["work_date"].min() >= start.isoformat()
    assert snapshot.timesheets["work_date"].max() <= as_of.isoformat()
    earlier = extract_snapshot(erp_engine, as_of=as_of - timedelta(days=40))
    assert earlier.timesheets.empty
    assert tuple(earlier.timesheets.columns) == TIMESHEET_COLUMNS


def test_missing_table_raises_extract_error(
    sqlite_engine: sa.Engine, sample: SampleErp, as_of: date
) -> None:
    write_erp(sample, sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE pay_timesheet"))
    with pytest.raises(ExtractError, match="extract_timesheets.sql") as caught:
        extract_snapshot(sqlite_engine, as_of=as_of)
    message = str(caught.value)
    for employee in sample.tables["hr_employee"]:
        assert employee["family_name"] not in message


def test_empty_database_raises_extract_error(sqlite_engine: sa.Engine, as_of: date) -> None:
    with pytest.raises(ExtractError, match="extract_employees.sql"):
        extract_snapshot(sqlite_engine, as_of=as_of)


def test_rerunning_write_erp_does_not_duplicate(
    erp_engine: sa.Engine, sample: SampleErp, as_of: date
) -> None:
    first = extract_snapshot(erp_engine, as_of=as_of)
    counts = write_erp(sample, erp_engine)
    assert counts["hr_employee"] == 88
    assert counts["pay_timesheet"] == len(sample.tables["pay_timesheet"])
    second = extract_snapshot(erp_engine, as_of=as_of)
    for name in SORT_KEYS:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    with erp_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT COUNT(*) FROM hr_residence_card")).scalar_one()
    assert stored == len(sample.tables["hr_residence_card"])


def test_snapshot_round_trip(
    sqlite_engine: sa.Engine, sample: SampleErp, as_of: date, tmp_path: Path
) -> None:
    write_erp(sample, sqlite_engine)
    snapshot = extract_snapshot(sqlite_engine, as_of=as_of)
    paths = write_snapshot(snapshot, tmp_path / "run")
    assert {name: Path(path).name for name, path in paths.items()} == {
        "employees": "employees_raw.parquet",
        "applications": "applications_raw.parquet",
        "timesheets": "timesheets_raw.parquet",
    }
    again = read_snapshot(tmp_path / "run")
    for name in SORT_KEYS:
        pd.testing.assert_frame_equal(getattr(snapshot, name), getattr(again, name))
        _assert_text_only(getattr(again, name))
    Path(paths["timesheets"]).unlink()
    with pytest.raises(InputError, match="timesheets_raw.parquet"):
        read_snapshot(tmp_path / "run")

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync import extract as extract_module
from zairyu_sync.canonical import APPLICATION_COLUMNS, EMPLOYEE_COLUMNS, TIMESHEET_COLUMNS
from zairyu_sync.erp_sample import SampleErp, generate_sample, write_erp
from zairyu_sync.errors import ExtractError, InputError
from zairyu_sync.extract import (
    ErpSnapshot,
    _as_text,
    _text_column,
    extract_snapshot,
    read_snapshot,
    write_snapshot,
)

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


# --- the PostgreSQL COPY path and the column-wise rendering ---------------------------------------

HOSTILE_NAMES = {
    "Z1": ("a,b", 'q"uote'),
    "Z2": ("line\nbreak", "cr\rlf"),
    "Z3": ("", "\\N"),
    "Z4": ("  spaced  ", "\\."),
    "Z5": ("ÆØÅ 😀", "%s %(x)s"),
    "Z6": (None, None),
    "Z7": ("back\\slash", "tab\there"),
}
HOURS = ("0", "0.25", "12.5", "8.00", "-0.00", "999.99", "7.50", "10")


def _add_hostile_rows(engine: sa.Engine, as_of: date) -> None:
    with engine.begin() as conn:
        org = conn.execute(sa.text("SELECT MIN(org_code) FROM hr_organization")).scalar_one()
        for number, (family, given) in HOSTILE_NAMES.items():
            conn.execute(
                sa.text(
                    "INSERT INTO hr_employee (emp_no, org_code, family_name, given_name, "
                    "nationality, birth_date, emp_status, hired_on, koyo_hoken) VALUES "
                    "(:emp_no, :org, :family, :given, 'VNM', '0999-12-31', 'A', '2024-04-01', 1)"
                ),
                {"emp_no": number, "org": org, "family": family, "given": given},
            )
        for day, hours in enumerate(HOURS):
            conn.execute(
                sa.text(
                    "INSERT INTO pay_timesheet (emp_no, work_date, hours_worked, long_vacation) "
                    "VALUES ('Z1', :day, :hours, 0)"
                ),
                {"day": (as_of - timedelta(days=day)).isoformat(), "hours": hours},
            )


def test_postgres_copy_path_equals_the_row_path_on_hostile_values(
    sample: SampleErp,
    pg_engine: sa.Engine,
    sqlite_engine: sa.Engine,
    as_of: date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for engine in (pg_engine, sqlite_engine):
        write_erp(sample, engine)
        _add_hostile_rows(engine, as_of)
    taken: list[bool] = []
    copy_path = extract_module._read_postgres_copy

    def spy(*args: Any, **kwargs: Any) -> pd.DataFrame | None:
        frame = copy_path(*args, **kwargs)
        taken.append(frame is not None)
        return frame

    monkeypatch.setattr(extract_module, "_read_postgres_copy", spy)
    copied = extract_snapshot(pg_engine, as_of=as_of)
    assert taken == [True, True, True]
    monkeypatch.setattr(extract_module, "_read_postgres_copy", lambda *_, **__: None)
    fetched = extract_snapshot(pg_engine, as_of=as_of)
    from_sqlite = extract_snapshot(sqlite_engine, as_of=as_of)
    for name in SORT_KEYS:
        pd.testing.assert_frame_equal(getattr(copied, name), getattr(fetched, name))
        pd.testing.assert_frame_equal(getattr(copied, name), getattr(from_sqlite, name))
        _assert_text_only(getattr(copied, name))
    names = dict(zip(copied.employees["employee_id"], copied.employees["full_name"], strict=True))
    for number, (family, given) in HOSTILE_NAMES.items():
        assert names[number] == (f"{family or ''} {given or ''}".strip(" ") or None)
    births = copied.employees.set_index("employee_id")["date_of_birth"]
    assert births["Z1"] == "0999-12-31"
    hours = copied.timesheets.loc[copied.timesheets["employee_id"] == "Z1", "hours"]
    assert sorted(hours) == sorted(["0", "0.25", "12.5", "8", "0", "999.99", "7.5", "10"])


def test_postgres_copy_path_falls_back_for_types_it_does_not_render(
    sample: SampleErp, pg_engine: sa.Engine, as_of: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_erp(sample, pg_engine)
    copied = extract_snapshot(pg_engine, as_of=as_of)
    monkeypatch.setattr(extract_module, "_PG_OIDS", frozenset())
    fetched = extract_snapshot(pg_engine, as_of=as_of)
    for name in SORT_KEYS:
        pd.testing.assert_frame_equal(getattr(copied, name), getattr(fetched, name))


@pytest.mark.parametrize("path", ["copy", "rows"])
def test_postgres_dates_python_cannot_hold_fail_on_both_paths(
    sample: SampleErp,
    pg_engine: sa.Engine,
    as_of: date,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    write_erp(sample, pg_engine)
    first = sample.tables["hr_employee"][0]
    with pg_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE hr_employee SET birth_date = 'infinity' WHERE emp_no = :emp_no"),
            {"emp_no": first["emp_no"]},
        )
    if path == "rows":
        monkeypatch.setattr(extract_module, "_read_postgres_copy", lambda *_, **__: None)
    with pytest.raises(
        ExtractError, match=r"extract_employees\.sql failed \(DataError\)"
    ) as caught:
        extract_snapshot(pg_engine, as_of=as_of)
    assert first["family_name"] not in str(caught.value)


def test_column_rendering_equals_value_by_value_rendering() -> None:
    odd: list[Any] = [
        None,
        "x",
        "",
        True,
        False,
        1,
        0,
        1.0,
        -0.0,
        2**60,
        float(2**60),
        1e-05,
        1e16,
        float("nan"),
        Decimal("4.50"),
        Decimal("8.00"),
        Decimal("-0"),
        Decimal("1E+2"),
        Decimal("NaN"),
        date(999, 12, 31),
        date(2024, 4, 1),
        datetime(2024, 4, 1),
        datetime(2024, 4, 1, 9, 30),
        datetime(2024, 4, 1, 12, tzinfo=UTC),
        datetime(2024, 4, 1, 21, tzinfo=timezone(timedelta(hours=9))),
        b"bytes",
        memoryview(b"view"),
    ]
    samples = [
        odd,
        [value for value in odd if isinstance(value, str | Decimal) or value is None],
        [value for value in odd if type(value) in (int, float) or value is None],
        [value for value in odd if type(value) is float],
        [value for value in odd if type(value) in (bool, int)],
        [value for value in odd if isinstance(value, date)] * 3,
        ["a", None, "b"],
        [],
    ]
    for values in samples:
        rendered = _text_column(values)
        assert rendered.dtype == object
        assert list(rendered) == [_as_text(value) for value in values]

"""The fast paths of reconcile agree with the straightforward code they replace.

Reconcile takes pyarrow/numpy shortcuts when its input allows them (ISO date text, ASCII
card numbers, hours whose sums are exact in float64, receipt numbers without surrounding
whitespace) and falls back to the plain pandas/Python code otherwise; hypothesis checks that
both give the same answer.
"""

from __future__ import annotations

import re
import string
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from tests.factories import employee
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    QUARANTINE_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.config import PolicySettings
from zairyu_sync.pii import redact_card_numbers
from zairyu_sync.reconcile import (
    _daily_hours,
    _daily_hours_exact,
    _dates,
    _exact_sums,
    _month_after_end,
    _receipt_numbers,
    _redact_card_numbers,
    _tenth_of_month_after,
    _text,
    reconcile,
    special_period_end,
)

pytestmark = pytest.mark.unit

POLICY = PolicySettings()
FAST = settings(max_examples=150, deadline=None)
D = pd.Timestamp(date(2026, 11, 25))

card_like = st.from_regex(re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}"), fullmatch=True)
fragments = st.one_of(
    card_like,
    st.text(alphabet=string.ascii_letters + string.digits + " -;,.()", max_size=14),
    st.sampled_from(["ＡＢ１２３４５６７８ＣＤ", "ab12345678cd", "AB1234567CD", "AB123456789CD"]),
)


@FAST
@given(st.lists(st.lists(fragments, max_size=5).map("".join), max_size=20))
def test_card_numbers_are_redacted_like_pii(details: list[str]) -> None:
    got = _redact_card_numbers(pd.Series(details, dtype=object))
    assert got.tolist() == [redact_card_numbers(text) for text in details]


receipts = st.one_of(
    st.none(),
    st.text(alphabet="R0123456789-", max_size=8),
    st.text(alphabet="R01 \t\x1c\xa0\u3000", max_size=6),
)


@FAST
@given(st.lists(receipts, max_size=30))
def test_receipt_numbers_are_stripped_like_python(numbers: list[str | None]) -> None:
    got = set(_receipt_numbers(numbers).to_pylist())
    assert got == {str(number).strip() for number in numbers if number}


date_text = st.one_of(
    st.none(),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)).map(date.isoformat),
    st.sampled_from(["", "2026-02-30", "2026-1-5", " 2026-01-05", "2026-13-01", "garbage"]),
)


@FAST
@given(st.lists(date_text, max_size=30))
def test_iso_date_text_parses_like_pandas(values: list[str | None]) -> None:
    series = pd.Series(values, dtype=object)
    expected = pd.to_datetime(series, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
    pd.testing.assert_series_equal(_dates(series), expected, check_names=False)


def test_dates_out_of_the_nanosecond_range_take_the_pandas_path() -> None:
    series = pd.Series(["1600-01-01", "2026-01-05"], dtype=object)
    with pytest.raises(Exception, match="[Oo]ut of bounds|OutOfBounds"):
        _dates(series)


def test_full_width_card_numbers_are_still_normalised() -> None:
    cards = pd.Series([" ＡＢ１２３４５６７８ＣＤ ", "ab12345678cd", "", None], dtype=object)
    assert _text(cards, upper=True).tolist()[:2] == ["AB12345678CD", "AB12345678CD"]
    assert _text(cards, upper=True).isna().tolist() == [False, False, True, True]


quarters = st.integers(min_value=0, max_value=96).map(lambda quarters: quarters / 4)
rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # holder
        st.integers(min_value=0, max_value=POLICY.hours_lookback_days - 1),  # days after start
        quarters,
        st.booleans(),
    ),
    max_size=120,
)


@FAST
@given(rows, st.sampled_from([POLICY, PolicySettings(hours_window_days=14)]))
def test_running_sums_equal_pandas_rolling_windows(
    generated: list[tuple[int, int, float, bool]], policy: PolicySettings
) -> None:
    """Short windows are summed day by day, long ones from running totals: both as pandas."""
    start = D - pd.Timedelta(days=POLICY.hours_lookback_days - 1)
    holder = np.array([row[0] for row in generated], dtype=np.int64)
    work_date = np.array(
        [(start + pd.Timedelta(days=row[1])).to_datetime64() for row in generated],
        dtype="datetime64[ns]",
    )
    hours = np.array([row[2] for row in generated], dtype=float)
    vacation = np.array([row[3] for row in generated], dtype=bool)
    ts = pd.DataFrame(
        {
            "holder": holder,
            "work_date": work_date,
            "counted": np.where(vacation, 0.0, hours),
            "vacation_hours": np.where(vacation, hours, 0.0),
        }
    )
    assert _exact_sums(hours)
    fast = _daily_hours_exact(ts, policy, start)
    plain = _daily_hours(ts, policy)
    over = (plain["window_hours"] > policy.weekly_hours_limit + 1e-9) | (
        plain["vacation_hours"] > policy.long_vacation_daily_limit + 1e-9
    )
    columns = ["holder", "work_date", "counted", "vacation_hours", "window_hours"]
    pd.testing.assert_frame_equal(
        fast[columns].reset_index(drop=True),
        plain.loc[over, columns].reset_index(drop=True),
        check_dtype=False,
    )


def test_hours_that_do_not_sum_exactly_take_the_pandas_path() -> None:
    assert not _exact_sums(np.array([4.1, 4.0]))
    assert not _exact_sums(np.array([np.inf]))
    assert _exact_sums(np.array([4.25, 0.0, 24.0]))


def test_hours_limit_with_tenths_of_hours_goes_through_the_pandas_path() -> None:
    days = [D - pd.Timedelta(days=offset) for offset in range(7)]
    result = reconcile(
        pd.DataFrame(
            [
                employee(
                    "W1", residence_status="dependent", outside_status_permission="comprehensive"
                )
            ],
            columns=list(EMPLOYEE_COLUMNS),
        ),
        pd.DataFrame(columns=list(APPLICATION_COLUMNS)),
        pd.DataFrame(columns=list(ISA_APPLICATION_COLUMNS)).astype(object),
        pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
        as_of=D.date(),
        policy=POLICY,
        timesheets=pd.DataFrame(
            [
                {
                    "employee_id": "W1",
                    "work_date": f"{day:%Y-%m-%d}",
                    "hours": "4.1",
                    "is_long_vacation": "false",
                }
                for day in days
            ],
            columns=list(TIMESHEET_COLUMNS),
        ),
    )
    found = result.discrepancies
    assert found["rule_code"].tolist() == ["HOURS_LIMIT_EXCEEDED"]
    assert "28.7 h in the 7 days ending 2026-11-25" in found["detail"].iloc[0]


day_stamps = st.one_of(
    st.none(),
    st.dates(min_value=date(1678, 1, 1), max_value=date(2261, 12, 31)).map(pd.Timestamp),
    st.sampled_from(
        [
            pd.Timestamp("2262-01-15"),  # too close to the end of the range: the pandas path
            pd.Timestamp("2024-01-31 10:30"),  # a time of day: the pandas path
            pd.Timestamp("2023-12-31"),
            pd.Timestamp("2024-02-29"),
        ]
    ),
)


@FAST
@given(st.lists(day_stamps, max_size=30))
def test_month_arithmetic_equals_pandas_offsets(stamps: list[pd.Timestamp | None]) -> None:
    days = pd.Series(stamps, dtype="datetime64[ns]", name="day")
    months = days.dt.to_period("M") + 1
    pd.testing.assert_series_equal(
        special_period_end(days),
        (days + pd.DateOffset(months=2)).astype("datetime64[ns]"),
    )
    pd.testing.assert_series_equal(
        _month_after_end(days),
        (months.dt.to_timestamp() + pd.offsets.MonthEnd(0)).astype("datetime64[ns]"),
    )
    pd.testing.assert_series_equal(
        _tenth_of_month_after(days),
        (months.dt.to_timestamp() + pd.Timedelta(days=9)).astype("datetime64[ns]"),
    )

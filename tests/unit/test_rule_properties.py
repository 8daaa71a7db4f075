"""Property-based tests: rule date arithmetic and the hours limit against slow reference code.

Each reference implementation below is written for obviousness, not speed (day-by-day loops,
``calendar.monthrange``, brute force over every 7-day window); hypothesis generates the inputs and
the real implementation in :mod:`zairyu_sync.reconcile` must agree on every one.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st

from tests.factories import employee
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    QUARANTINE_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.config import PolicySettings
from zairyu_sync.reconcile import (
    ReconciliationResult,
    hellowork_hire_deadline,
    hellowork_separation_deadline,
    reconcile,
    special_period_end,
)
from zairyu_sync.validate import validate_snapshot

pytestmark = pytest.mark.unit

POLICY = PolicySettings()
FAST = settings(max_examples=150, deadline=None)
SLOW = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # one reconcile per example
#: validate (GX) + reconcile per example, on batches of employees; no shrinking (each step costs
#: a GX run), a failure reports the example as generated.
VALIDATED = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)

dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31))
as_of_dates = st.dates(min_value=date(2024, 6, 1), max_value=date(2027, 12, 31))


# --- reference implementations ------------------------------------------------------------------


def ref_next_month(day: date) -> tuple[int, int]:
    """(year, month) of the month after ``day``'s month, by walking forward one day at a time."""
    walk = day
    while walk.month == day.month:
        walk += timedelta(days=1)
    return walk.year, walk.month


def ref_special_period_end(expiry: date) -> date:
    """expiry + 2 calendar months; a day the target month lacks becomes its last day."""
    year, month = ref_next_month(expiry)
    year, month = ref_next_month(date(year, month, 1))
    return date(year, month, min(expiry.day, calendar.monthrange(year, month)[1]))


def ref_hire_deadline(hire: date, insured: bool) -> date:
    """Insured: 10th of the month after hire; otherwise that month's last day."""
    year, month = ref_next_month(hire)
    return date(year, month, 10 if insured else calendar.monthrange(year, month)[1])


def ref_separation_deadline(left: date, insured: bool) -> date:
    """Insured: termination + 10 days; otherwise the last day of the month after termination."""
    if insured:
        return left + timedelta(days=10)
    year, month = ref_next_month(left)
    return date(year, month, calendar.monthrange(year, month)[1])


def ref_hours(
    rows: list[tuple[date, float, bool]], *, student: bool, as_of: date
) -> tuple[float, float]:
    """(highest 7-day sum, highest long-vacation day) within the 90 days up to ``as_of``.

    Brute force: every 7-day window lying inside the lookback, summed day by day. For students,
    hours on long-vacation days are left out of the windows and summed per day instead.
    """
    start = as_of - timedelta(days=POLICY.hours_lookback_days - 1)
    counted: dict[date, float] = defaultdict(float)
    vacation: dict[date, float] = defaultdict(float)
    for day, hours, is_vacation in rows:
        if start <= day <= as_of:
            if student and is_vacation:
                vacation[day] += hours
            else:
                counted[day] += hours
    best_week = 0.0
    for first in range(POLICY.hours_lookback_days - POLICY.hours_window_days + 1):
        window_start = start + timedelta(days=first)
        total = sum(
            counted.get(window_start + timedelta(days=i), 0.0)
            for i in range(POLICY.hours_window_days)
        )
        best_week = max(best_week, total)
    return best_week, max(vacation.values(), default=0.0)


def ref_window_ending(
    rows: list[tuple[date, float, bool]], *, student: bool, end: date, as_of: date
) -> float:
    """Hours counted towards the 7-day limit in the window ending ``end``, within the lookback."""
    lookback_start = as_of - timedelta(days=POLICY.hours_lookback_days - 1)
    start = max(end - timedelta(days=POLICY.hours_window_days - 1), lookback_start)
    return sum(
        hours
        for day, hours, is_vacation in rows
        if start <= day <= end and not (student and is_vacation)
    )


# --- helpers ------------------------------------------------------------------------------------


def _series(days: list[date]) -> pd.Series:
    return pd.Series(pd.to_datetime(days)).astype("datetime64[ns]")


def _as_dates(series: pd.Series) -> list[date]:
    return [value.date() for value in series]


def _reconcile_text(
    employees: list[dict[str, Any]],
    *,
    as_of: date,
    applications: list[dict[str, Any]] | None = None,
    isa: list[dict[str, Any]] | None = None,
) -> ReconciliationResult:
    """reconcile on text frames (it parses them itself), without the slower GX validation."""
    return reconcile(
        pd.DataFrame(employees, columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame(applications or [], columns=list(APPLICATION_COLUMNS)),
        pd.DataFrame(isa or [], columns=list(ISA_APPLICATION_COLUMNS)).astype(object),
        pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
        as_of=as_of,
        policy=POLICY,
    )


def _by_rule(result: ReconciliationResult, rule_code: str) -> dict[str, str]:
    """employee_id -> due date (ISO) of the findings of ``rule_code``."""
    frame = result.to_contract_frame()
    hit = frame[frame["rule_code"] == rule_code]
    return dict(zip(hit["employee_id"], hit["due_date"], strict=True))


# --- special period end -------------------------------------------------------------------------


@FAST
@given(st.lists(dates, min_size=1, max_size=40))
def test_special_period_end_matches_the_calendar_reference(expiries: list[date]) -> None:
    assert _as_dates(special_period_end(_series(expiries))) == [
        ref_special_period_end(day) for day in expiries
    ]


def test_special_period_end_keeps_missing_expiries_missing() -> None:
    result = special_period_end(pd.Series([pd.NaT, pd.Timestamp("2026-12-31")]))
    assert result.isna().tolist() == [True, False]
    assert result.iloc[1] == pd.Timestamp("2027-02-28")


@SLOW
@given(expiry_offset=st.integers(min_value=1, max_value=75), as_of=as_of_dates)
def test_pending_extension_covers_exactly_until_the_special_period_end(
    expiry_offset: int, as_of: date
) -> None:
    expiry = as_of - timedelta(days=expiry_offset)
    end = ref_special_period_end(expiry)
    filed = (expiry - timedelta(days=20)).isoformat()
    result = _reconcile_text(
        [employee(period_of_stay_expiry=expiry.isoformat(), card_valid_until=expiry.isoformat())],
        as_of=as_of,
        applications=[
            {"employee_id": "E1", "receipt_number": "R1", "application_type": "extension"}
            | {"filed_on": filed}
        ],
        isa=[
            dict.fromkeys(ISA_APPLICATION_COLUMNS)
            | {"receipt_number": "R1", "application_type": "extension"}
            | {"status": "UNDER_EXAMINATION", "filed_on": filed}
        ],
    )
    if as_of <= end:
        assert _by_rule(result, "SPECIAL_PERIOD") == {"E1": end.isoformat()}
        assert _by_rule(result, "STATUS_EXPIRED") == {}
    else:
        assert _by_rule(result, "SPECIAL_PERIOD") == {}
        assert _by_rule(result, "STATUS_EXPIRED") == {"E1": expiry.isoformat()}


# --- Hello Work deadlines -----------------------------------------------------------------------


@FAST
@given(st.lists(st.tuples(dates, st.booleans()), min_size=1, max_size=40))
def test_hellowork_deadlines_match_the_calendar_reference(cases: list[tuple[date, bool]]) -> None:
    days = _series([day for day, _ in cases])
    insured = pd.Series([flag for _, flag in cases], dtype="boolean")
    assert _as_dates(hellowork_hire_deadline(days, insured)) == [
        ref_hire_deadline(day, flag) for day, flag in cases
    ]
    assert _as_dates(hellowork_separation_deadline(days, insured)) == [
        ref_separation_deadline(day, flag) for day, flag in cases
    ]


hellowork_cases = st.lists(
    st.tuples(st.integers(min_value=-5, max_value=400), st.booleans()), min_size=1, max_size=12
)


@SLOW
@given(as_of=as_of_dates, hires=hellowork_cases, separations=hellowork_cases)
def test_hellowork_rules_fire_exactly_after_the_reference_deadline(
    as_of: date, hires: list[tuple[int, bool]], separations: list[tuple[int, bool]]
) -> None:
    rows: list[dict[str, Any]] = []
    expected_hire: dict[str, str] = {}
    expected_separation: dict[str, str] = {}
    for index, (age, insured) in enumerate(hires):
        hired = as_of - timedelta(days=age)
        employee_id = f"H{index}"
        rows.append(
            employee(
                employee_id,
                hire_date=hired.isoformat(),
                employment_insured=str(insured).lower(),
                hellowork_hire_notified_on=None,
            )
        )
        deadline = ref_hire_deadline(hired, insured)
        if 0 <= age <= POLICY.hellowork_lookback_days and as_of > deadline:
            expected_hire[employee_id] = deadline.isoformat()
    for index, (age, insured) in enumerate(separations):
        left = as_of - timedelta(days=age)
        employee_id = f"S{index}"
        rows.append(
            employee(
                employee_id,
                hire_date="2019-04-01",
                hellowork_hire_notified_on="2019-04-05",
                employment_status="terminated",
                termination_date=left.isoformat(),
                employment_insured=str(insured).lower(),
            )
        )
        deadline = ref_separation_deadline(left, insured)
        if 0 <= age <= POLICY.hellowork_lookback_days and as_of > deadline:
            expected_separation[employee_id] = deadline.isoformat()
    result = _reconcile_text(rows, as_of=as_of)
    assert _by_rule(result, "HELLOWORK_HIRE_OVERDUE") == expected_hire
    assert _by_rule(result, "HELLOWORK_SEPARATION_OVERDUE") == expected_separation


# --- HOURS_LIMIT_EXCEEDED -----------------------------------------------------------------------

D = date(2026, 11, 25)
hour_values = st.one_of(
    st.sampled_from([0.0, 3.5, 4.0, 4.0, 4.25, 4.5, 8.0, 8.0, 8.25, 8.5]),
    st.integers(min_value=0, max_value=40).map(lambda quarters: quarters / 4),
)
#: A run of consecutive days (days before D of the first, then hours and long-vacation flag per
#: day); several runs may overlap, which is the same as working for several employers that day.
blocks = st.lists(
    st.tuples(
        st.integers(min_value=-3, max_value=100),
        st.lists(st.tuples(hour_values, st.booleans()), min_size=1, max_size=12),
    ),
    min_size=1,
    max_size=3,
)
workers = st.tuples(
    st.sampled_from(["student", "dependent", "designated_activities"]),
    st.sampled_from(["comprehensive", "comprehensive", "comprehensive", "individual"]),
    blocks,
)

_WEEK = re.compile(r"([0-9.]+) h in the 7 days ending (\d{4}-\d{2}-\d{2})")
_VACATION = re.compile(r"([0-9.]+) h on long-vacation day (\d{4}-\d{2}-\d{2})")


def _timesheet(blocks_of_days: Any) -> list[tuple[date, float, bool]]:
    rows: list[tuple[date, float, bool]] = []
    for days_before, days in blocks_of_days:
        for step, (hours, is_vacation) in enumerate(days):
            rows.append((D - timedelta(days=days_before - step), hours, is_vacation))
    return rows


def _check_hours(
    result: ReconciliationResult, workers_rows: list[tuple[str, str, list[Any]]]
) -> None:
    found = result.discrepancies[result.discrepancies["rule_code"] == "HOURS_LIMIT_EXCEEDED"]
    details = dict(zip(found["employee_id"], found["detail"], strict=True))
    for index, (status, permission, rows) in enumerate(workers_rows):
        employee_id = f"W{index}"
        student = status == "student"
        week, vacation = ref_hours(rows, student=student, as_of=D)
        week_over = permission == "comprehensive" and week > POLICY.weekly_hours_limit
        vacation_over = (
            permission == "comprehensive" and vacation > POLICY.long_vacation_daily_limit
        )
        assert (employee_id in details) == (week_over or vacation_over), (employee_id, rows)
        detail = details.get(employee_id, "")
        week_match, vacation_match = _WEEK.search(detail), _VACATION.search(detail)
        assert (week_match is not None) == week_over
        assert (vacation_match is not None) == vacation_over
        if week_match:
            assert week_match.group(1) == f"{week:.1f}"
            end = date.fromisoformat(week_match.group(2))
            assert end <= D
            assert ref_window_ending(rows, student=student, end=end, as_of=D) == week
        if vacation_match:
            assert vacation_match.group(1) == f"{vacation:.1f}"
            day = date.fromisoformat(vacation_match.group(2))
            assert sum(h for d, h, v in rows if d == day and v) == vacation


def _employees_and_timesheets(
    generated: list[tuple[str, str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str, list[Any]]]]:
    employees: list[dict[str, Any]] = []
    timesheets: list[dict[str, Any]] = []
    expanded: list[tuple[str, str, list[Any]]] = []
    for index, (status, permission, blocks_of_days) in enumerate(generated):
        employee_id = f"W{index}"
        employees.append(
            employee(
                employee_id,
                residence_status=status,
                outside_status_permission=permission,
                student_enrolled_until="2030-03-31" if status == "student" else None,
                designated_work_permitted="true" if status == "designated_activities" else None,
            )
        )
        rows = _timesheet(blocks_of_days)
        expanded.append((status, permission, rows))
        timesheets.extend(
            {
                "employee_id": employee_id,
                "work_date": day.isoformat(),
                "hours": f"{hours:g}",
                "is_long_vacation": str(is_vacation).lower(),
            }
            for day, hours, is_vacation in rows
        )
    return employees, timesheets, expanded


@VALIDATED
@given(st.lists(workers, min_size=4, max_size=10))
def test_hours_limit_through_validation_matches_brute_force(
    generated: list[tuple[str, str, Any]],
) -> None:
    employees, timesheets, expanded = _employees_and_timesheets(generated)
    outcome = validate_snapshot(
        pd.DataFrame(employees, columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame(columns=list(APPLICATION_COLUMNS)),
        pd.DataFrame(timesheets, columns=list(TIMESHEET_COLUMNS)),
        as_of=D,
    )
    assert outcome.quarantine.empty
    result = reconcile(
        outcome.employees,
        outcome.applications,
        pd.DataFrame(columns=list(ISA_APPLICATION_COLUMNS)).astype(object),
        outcome.quarantine,
        as_of=D,
        policy=POLICY,
        timesheets=outcome.timesheets,
    )
    _check_hours(result, expanded)


@SLOW
@given(st.lists(workers, min_size=1, max_size=4))
@example([("student", "comprehensive", [(0, [(8.25, True)])])])  # only a long-vacation breach
def test_hours_limit_matches_brute_force(generated: list[tuple[str, str, Any]]) -> None:
    employees, timesheets, expanded = _employees_and_timesheets(generated)
    result = reconcile(
        pd.DataFrame(employees, columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame(columns=list(APPLICATION_COLUMNS)),
        pd.DataFrame(columns=list(ISA_APPLICATION_COLUMNS)).astype(object),
        pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
        as_of=D,
        policy=POLICY,
        timesheets=pd.DataFrame(timesheets, columns=list(TIMESHEET_COLUMNS)),
    )
    _check_hours(result, expanded)

"""Boundaries and interactions of the rules (contract.md section 4) not covered in test_reconcile.

Every case goes through the real path validate -> reconcile.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.factories import employee, worked_day
from tests.unit.test_reconcile import erp_app, findings, isa_app, rules, run

pytestmark = pytest.mark.unit

WEEK = [f"2026-11-{day:02d}" for day in range(2, 9)]  # 7 consecutive days ending 2026-11-08
COMPREHENSIVE = {"outside_status_permission": "comprehensive"}
STUDENT = {"residence_status": "student", "student_enrolled_until": "2027-03-31", **COMPREHENSIVE}
DEPENDENT = {"residence_status": "dependent", **COMPREHENSIVE}


def _hours_details(employees: list[dict[str, Any]], timesheets: list[dict[str, Any]]) -> dict:
    result = run(employees, timesheets=timesheets)
    hit = result.discrepancies[result.discrepancies["rule_code"] == "HOURS_LIMIT_EXCEEDED"]
    assert set(hit["severity"]) <= {"critical"}
    return dict(zip(hit["employee_id"], hit["detail"], strict=True))


def test_hours_limit_boundaries() -> None:
    details = _hours_details(
        [
            employee("E1", **DEPENDENT),
            employee("E2", **DEPENDENT),
            employee("E5", **STUDENT),
            employee("E6", residence_status="dependent", outside_status_permission="individual"),
        ],
        [
            # 28.5 h in 7 days: over the limit by half an hour
            *[worked_day("E1", day, 4.5 if day == WEEK[-1] else 4.0) for day in WEEK],
            # the same 28.5 h spread over 8 days: no 7-day window holds more than 24.5 h
            *[worked_day("E2", day, 4.0) for day in WEEK[:-1]],
            worked_day("E2", "2026-11-09", 4.5),
            # two employers on one vacation day: 5 + 3.5 = 8.5 h that day
            worked_day("E5", "2026-11-03", 5.0, vacation=True),
            worked_day("E5", "2026-11-03", 3.5, vacation=True),
            # an individual permission is not subject to the 28-hour rule
            *[worked_day("E6", day, 6.0) for day in WEEK],
        ],
    )
    assert set(details) == {"E1", "E5"}
    assert "28.5 h in the 7 days ending 2026-11-08 (limit 28 h)" in details["E1"]
    assert "8.5 h on long-vacation day 2026-11-03" in details["E5"]


def test_long_vacation_day_limit_alone() -> None:
    # No employee breaches the weekly limit: the long-vacation breach is the only kind found.
    details = _hours_details(
        [employee("E3", **STUDENT), employee("E4", **STUDENT)],
        [
            worked_day("E3", "2026-11-02", 8.0, vacation=True),  # exactly 8 h: allowed
            worked_day("E4", "2026-11-02", 8.5, vacation=True),  # 8.5 h: over
        ],
    )
    assert details == {
        "E4": "Comprehensive permission exceeded: worked 8.5 h on long-vacation day 2026-11-02 "
        "(limit 8 h/day)."
    }


def test_long_vacation_days_do_not_count_towards_the_week_for_students_only() -> None:
    days = [worked_day("S", day, 8.0, vacation=day in WEEK[:4]) for day in WEEK]  # 4 vacation days
    days += [worked_day("D", day, 8.0, vacation=day in WEEK[:4]) for day in WEEK]
    details = _hours_details([employee("S", **STUDENT), employee("D", **DEPENDENT)], days)
    # the student: 3 ordinary days = 24 h; the dependent has no long vacation: 56 h
    assert set(details) == {"D"}
    assert "56.0 h in the 7 days ending 2026-11-08" in details["D"]


HELLOWORK_BOUNDARIES: list[tuple[date, dict[str, Any]]] = [
    (
        date(2026, 10, 31),
        {
            "H_NOT_INSURED": {"hire_date": "2026-09-20", "employment_insured": "false"},
            "S_NOT_INSURED": {"termination_date": "2026-09-30", "employment_insured": "false"},
            "S_INSURED": {"termination_date": "2026-10-21"},
        },
    ),
    (
        date(2026, 11, 10),
        {
            "H_INSURED": {"hire_date": "2026-10-15"},
            "S_INSURED": {"termination_date": "2026-10-31"},
        },
    ),
]


def _hellowork_employees(cases: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for employee_id, overrides in cases.items():
        if employee_id.startswith("H"):
            rows.append(employee(employee_id, hellowork_hire_notified_on=None, **overrides))
        else:
            rows.append(employee(employee_id, employment_status="terminated", **overrides))
    return rows


@pytest.mark.parametrize(("deadline", "cases"), HELLOWORK_BOUNDARIES)
@pytest.mark.parametrize("days_after", [0, 1])
def test_hellowork_deadline_day_does_not_fire_and_the_day_after_does(
    deadline: date, cases: dict[str, Any], days_after: int
) -> None:
    as_of = date.fromordinal(deadline.toordinal() + days_after)
    result = run(_hellowork_employees(cases), as_of=as_of)
    found = {
        (rule, employee_id): due
        for (rule, employee_id), (_, due) in findings(result).items()
        if rule.startswith("HELLOWORK_")
    }
    if days_after == 0:
        assert found == {}
    else:
        assert found == {
            (
                "HELLOWORK_HIRE_OVERDUE" if key.startswith("H") else "HELLOWORK_SEPARATION_OVERDUE",
                key,
            ): deadline.isoformat()
            for key in cases
        }


def test_denied_application_ends_the_special_period() -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-10-31")],
        [erp_app("R1", filed_on="2026-10-01")],
        [isa_app("R1", "NOT_PERMITTED", decided_on="2026-11-20")],
    )
    # Filed on time and D (2026-11-25) is within expiry + 2 months (2026-12-31), but the denial
    # ended the special period: the status is no longer covered.
    assert findings(result) == {
        ("STATUS_EXPIRED", "E1"): ("critical", "2026-10-31"),
        ("APPLICATION_DENIED", "E1"): ("critical", "2026-11-20"),
    }


def test_withdrawn_application_does_not_cover_either() -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-10-31")],
        [erp_app("R1", filed_on="2026-10-01")],
        [isa_app("R1", "WITHDRAWN", decided_on="2026-11-20")],
    )
    assert findings(result) == {("STATUS_EXPIRED", "E1"): ("critical", "2026-10-31")}


@pytest.mark.parametrize("status", ["PERMITTED", "AWAITING_ISSUANCE", "COMPLETED"])
def test_permitted_application_covers_an_expired_status(status: str) -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-10-31")],
        [erp_app("R1", filed_on="2026-10-01")],
        [
            isa_app(
                "R1",
                status,
                decided_on="2026-10-25",
                granted_status="engineer_specialist_humanities_international",
                granted_period_expiry="2029-10-31",
            )
        ],
    )
    # Covered, so neither expired nor in the special period; the ERP still has the old expiry.
    assert rules(result) == {"EXPIRY_MISMATCH"}
    assert result.discrepancies["receipt_number"].tolist() == ["R1"]

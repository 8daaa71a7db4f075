"""The row-by-row baseline (bench_naive) finds exactly what reconcile finds.

The benchmark's naive baseline is a second, independent formulation of the whole rule catalog,
so it doubles as an oracle for :func:`~zairyu_sync.reconcile.reconcile`: on generated rosters and
on hand-made boundary cases both must report the same findings, id for id.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.factories import employee, worked_day
from tests.unit.test_reconcile import erp_app, isa_app
from zairyu_sync.bench_naive import naive_reconcile, special_period_end
from zairyu_sync.bench_reconcile import ReconcileInputs, realistic_inputs
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.reconcile import reconcile
from zairyu_sync.rules import load_catalog
from zairyu_sync.validate import validate_snapshot

pytestmark = pytest.mark.unit

D = date(2026, 11, 25)
#: What identifies a finding in the comparison.
KEY = ("discrepancy_id", "employee_id", "rule_code", "receipt_number", "due_date", "severity")
#: (employees, seed, as-of date) of the generated rosters compared.
SAMPLES = [(2000, 7, D), (1500, 3, date(2027, 2, 28))]


def _keys(findings: pd.DataFrame, columns: Iterable[str] = KEY) -> set[tuple[str, ...]]:
    """The findings as tuples of text; dates as ``YYYY-MM-DD``, missing values as ''."""
    rows = set()
    for record in findings.to_dict("records"):
        values: list[str] = []
        for column in columns:
            value = record[column]
            if pd.isna(value):
                values.append("")
            elif column == "due_date":
                values.append(pd.Timestamp(value).strftime("%Y-%m-%d"))
            else:
                values.append(str(value))
        rows.add(tuple(values))
    return rows


def assert_same_findings(ours: pd.DataFrame, naive: pd.DataFrame) -> None:
    """Both found the same findings; otherwise the difference, one finding a line."""
    by_rule = operator.itemgetter(2, 1, 3)  # rule code, employee id, receipt number
    only_ours = sorted(_keys(ours) - _keys(naive), key=by_rule)
    only_naive = sorted(_keys(naive) - _keys(ours), key=by_rule)
    header = " | ".join(KEY)
    lines = [f"reconcile only: {' | '.join(map(str, row))}" for row in only_ours]
    lines += [f"naive only:     {' | '.join(map(str, row))}" for row in only_naive]
    assert not lines, (
        f"{len(only_ours)} finding(s) only from reconcile, {len(only_naive)} only from the naive "
        f"baseline ({header}):\n" + "\n".join(lines[:60])
    )


# --- generated rosters -----------------------------------------------------------------------


@pytest.fixture(scope="module", params=SAMPLES, ids=lambda sample: f"{sample[0]}-seed{sample[1]}")
def sample(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ReconcileInputs:
    employees, seed, as_of = request.param
    work: Path = tmp_path_factory.mktemp("bench-naive")
    return realistic_inputs(employees, as_of=as_of, seed=seed, work_dir=work)


def _both_on(inputs: ReconcileInputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = (inputs.employees, inputs.applications, inputs.isa_applications, inputs.quarantine)
    options: dict[str, Any] = {
        "as_of": inputs.as_of,
        "timesheets": inputs.timesheets,
        "erp_receipt_numbers": inputs.erp_receipt_numbers,
    }
    return reconcile(*frames, **options).discrepancies, naive_reconcile(*frames, **options)


def test_naive_baseline_finds_what_reconcile_finds(sample: ReconcileInputs) -> None:
    ours, naive = _both_on(sample)
    assert_same_findings(ours, naive)
    assert len(naive) == len(ours) > 0
    produced = set(ours["rule_code"])
    assert produced <= set(naive["rule_code"]), "a rule reconcile produced is missing"
    # The sample's scenarios (erp_sample.SCENARIOS) produce every catalog code, so every rule is
    # compared here: no catalog code is left that the sample never produces.
    assert produced == set(load_catalog().codes)


def test_naive_baseline_names_the_same_owners_in_the_same_order(sample: ReconcileInputs) -> None:
    ours, naive = _both_on(sample)
    owners = ("discrepancy_id", "organization_id", "compliance_owner")
    assert _keys(naive, owners) == _keys(ours, owners)
    assert list(naive["discrepancy_id"]) == list(ours["discrepancy_id"])
    assert list(naive.columns) == list(ours.columns)


# --- hand-made boundaries --------------------------------------------------------------------


def _roster(cases: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One employee per case, each with a card number of its own."""
    return [
        employee(employee_id, **{"residence_card_number": f"AB{index:08d}CD", **overrides})
        for index, (employee_id, overrides) in enumerate(cases.items(), start=1)
    ]


def _both(
    employees: list[dict[str, Any]],
    applications: list[dict[str, Any]] | None = None,
    isa: list[dict[str, Any]] | None = None,
    timesheets: list[dict[str, Any]] | None = None,
    *,
    as_of: date = D,
    erp_receipt_numbers: tuple[str, ...] = (),
) -> dict[tuple[str, str], tuple[str, str]]:
    """Validate, run both, check they agree; (rule, employee) -> (severity, due date)."""
    outcome = validate_snapshot(
        pd.DataFrame(employees, columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame(applications or [], columns=list(APPLICATION_COLUMNS)),
        None if timesheets is None else pd.DataFrame(timesheets, columns=list(TIMESHEET_COLUMNS)),
    )
    frames = (
        outcome.employees,
        outcome.applications,
        pd.DataFrame(isa or [], columns=list(ISA_APPLICATION_COLUMNS)).astype(object),
        outcome.quarantine,
    )
    options: dict[str, Any] = {
        "as_of": as_of,
        "timesheets": outcome.timesheets,
        "erp_receipt_numbers": erp_receipt_numbers,
    }
    ours = reconcile(*frames, **options).discrepancies
    naive = naive_reconcile(*frames, **options)
    assert_same_findings(ours, naive)
    found = _keys(naive, ("discrepancy_id", "rule_code", "employee_id", "severity", "due_date"))
    table = {(rule, employee_id): (severity, due) for _, rule, employee_id, severity, due in found}
    assert len(table) == len(found), "a case has two findings of one rule: give each its own id"
    return table


def test_expiry_and_card_validity_boundaries() -> None:
    card_holder = {"residence_status": "permanent_resident", "period_of_stay_expiry": None}
    found = _both(
        _roster(
            {
                "EXPIRED": {"period_of_stay_expiry": "2026-11-24"},
                "ON_D": {"period_of_stay_expiry": "2026-11-25"},
                "D+14": {"period_of_stay_expiry": "2026-12-09"},
                "D+15": {"period_of_stay_expiry": "2026-12-10"},
                "D+90": {"period_of_stay_expiry": "2027-02-23"},
                "D+91": {"period_of_stay_expiry": "2027-02-24"},
                "CARD_PASSED": {**card_holder, "card_valid_until": "2026-11-24"},
                "CARD_ON_D": {**card_holder, "card_valid_until": "2026-11-25"},
                "CARD_D+60": {**card_holder, "card_valid_until": "2027-01-24"},
                "CARD_D+61": {**card_holder, "card_valid_until": "2027-01-25"},
                "LEAVES_ON_D": {"period_of_stay_expiry": "2026-11-24", "termination_date": D},
            }
        )
    )
    assert found == {
        ("STATUS_EXPIRED", "EXPIRED"): ("critical", "2026-11-24"),
        ("EXPIRY_APPROACHING", "ON_D"): ("critical", "2026-11-25"),
        ("EXPIRY_APPROACHING", "D+14"): ("critical", "2026-12-09"),
        ("EXPIRY_APPROACHING", "D+15"): ("warning", "2026-12-10"),
        ("EXPIRY_APPROACHING", "D+90"): ("warning", "2027-02-23"),
        ("CARD_RENEWAL_DUE", "CARD_PASSED"): ("critical", "2026-11-24"),
        ("CARD_RENEWAL_DUE", "CARD_ON_D"): ("warning", "2026-11-25"),
        ("CARD_RENEWAL_DUE", "CARD_D+60"): ("warning", "2027-01-24"),
    }


def test_special_period_cover_boundaries() -> None:
    employees = _roster(
        {
            "FILED_ON_EXPIRY": {"period_of_stay_expiry": "2026-10-31"},
            "ENDS_IN_5_DAYS": {"period_of_stay_expiry": "2026-09-30"},
            "FILED_LATE": {"period_of_stay_expiry": "2026-10-31"},
            "PERIOD_OVER": {"period_of_stay_expiry": "2026-09-24"},
            "GRANTED_TO_D": {"period_of_stay_expiry": "2026-10-31"},
            "ACQUISITION": {"period_of_stay_expiry": "2026-10-31"},
        }
    )
    applications = [
        erp_app("R1", "FILED_ON_EXPIRY", filed_on="2026-10-31"),
        erp_app("R2a", "ENDS_IN_5_DAYS", filed_on="2026-09-10"),
        erp_app("R2b", "ENDS_IN_5_DAYS", filed_on="2026-09-01"),  # the first filed covers
        erp_app("R3", "FILED_LATE", filed_on="2026-11-01"),
        erp_app("R4", "PERIOD_OVER", filed_on="2026-09-01"),
        erp_app("R5", "GRANTED_TO_D"),
        erp_app("R6", "ACQUISITION", application_type="acquisition"),
    ]
    pending = {"status": "UNDER_EXAMINATION"}
    isa = [
        isa_app("R1", **pending, filed_on="2026-10-31"),
        isa_app("R2a", **pending, filed_on="2026-09-10"),
        isa_app("R2b", **pending, filed_on="2026-09-01"),
        isa_app("R3", **pending, filed_on="2026-11-01"),
        isa_app("R4", **pending, filed_on="2026-09-01"),
        isa_app("R5", "PERMITTED", decided_on="2026-11-20", granted_period_expiry="2026-11-25"),
        isa_app("R6", **pending, application_type="acquisition"),
    ]
    isa = [{**app, "applicant_residence_card_number": None} for app in isa]
    found = _both(employees, applications, isa)
    assert found == {
        ("SPECIAL_PERIOD", "FILED_ON_EXPIRY"): ("warning", "2026-12-31"),
        ("SPECIAL_PERIOD", "ENDS_IN_5_DAYS"): ("critical", "2026-11-30"),
        ("STATUS_EXPIRED", "FILED_LATE"): ("critical", "2026-10-31"),
        ("STATUS_EXPIRED", "PERIOD_OVER"): ("critical", "2026-09-24"),
        ("EXPIRY_MISMATCH", "GRANTED_TO_D"): ("warning", ""),
        ("STATUS_EXPIRED", "ACQUISITION"): ("critical", "2026-10-31"),
    }


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2027, 2, 28), ("SPECIAL_PERIOD", "critical", "2027-02-28")),
        (date(2027, 3, 1), ("STATUS_EXPIRED", "critical", "2026-12-31")),
    ],
)
def test_special_period_end_is_clamped_to_the_month_end(
    as_of: date, expected: tuple[str, str, str]
) -> None:
    assert special_period_end(date(2026, 12, 31)) == date(2027, 2, 28)
    assert special_period_end(date(2027, 12, 31)) == date(2028, 2, 29)
    found = _both(
        _roster({"E1": {"period_of_stay_expiry": "2026-12-31"}}),
        [erp_app("R1", filed_on="2026-12-20")],
        [isa_app("R1", "RECEIVED", filed_on="2026-12-20")],
        as_of=as_of,
    )
    rule, severity, due = expected
    assert found == {(rule, "E1"): (severity, due)}


def test_latest_decision_repeated_isa_answers_and_untracked_applications() -> None:
    employees = _roster(
        {
            "E1": {},
            "E2": {},
            "DENIED": {},
            "LEFT": {"employment_status": "terminated", "termination_date": "2026-11-01"},
        }
    )
    applications = [
        erp_app("NO", "DENIED"),
        erp_app("NO_LONGER_HERE", "LEFT"),
        erp_app("OLD", "E1", filed_on="2025-01-10"),
        erp_app("NEW", "E1", filed_on="2026-01-10"),
        erp_app("UNDECIDED", "E1", filed_on="2026-06-01"),
        erp_app("TWICE", "E2"),
        erp_app("LONG", "E2", filed_on="2026-08-26"),  # D - 91 days: pending too long
        erp_app("NOT_LONG", "E2", filed_on="2026-08-27"),  # D - 90 days: not yet
        erp_app("GONE", "E2"),
    ]
    granted = {"granted_status": "engineer_specialist_humanities_international"}
    isa = [
        isa_app("NO", "NOT_PERMITTED", decided_on="2026-11-18"),
        isa_app("NO_LONGER_HERE", "NOT_PERMITTED", decided_on="2026-11-18"),  # not active: no
        isa_app("OLD", "PERMITTED", decided_on="2025-02-01", granted_status="skilled_labor"),
        isa_app("NEW", "PERMITTED", decided_on="2026-02-01", **granted),
        # a Permitted answer without a decision date sorts before the decided ones
        isa_app("UNDECIDED", "PERMITTED", granted_status="nursing_care"),
        # the later update wins: the denial was superseded by a permission
        isa_app("TWICE", "NOT_PERMITTED", decided_on="2026-11-01", updated_at="2026-11-01"),
        isa_app("TWICE", "PERMITTED", decided_on="2026-11-20", updated_at="2026-11-20", **granted),
        isa_app("LONG", "SUBMITTED", filed_on="2026-08-26"),
        isa_app("NOT_LONG", "SUBMITTED", filed_on="2026-08-27"),
        isa_app("MINE", "RECEIVED", applicant_residence_card_number="AB00000002CD"),
        isa_app("STRANGER", "RECEIVED", applicant_residence_card_number="ZZ99999999ZZ"),
        isa_app("HELD", "RECEIVED"),
    ]
    found = _both(employees, applications, isa, erp_receipt_numbers=("HELD",))
    assert found == {
        ("APPLICATION_DENIED", "DENIED"): ("critical", "2026-11-18"),
        ("HELLOWORK_SEPARATION_OVERDUE", "LEFT"): ("warning", "2026-11-11"),
        ("APPLICATION_NOT_FOUND", "E2"): ("warning", ""),
        ("APPLICATION_PENDING_LONG", "E2"): ("info", ""),
        ("APPLICATION_UNTRACKED", "E2"): ("info", ""),
        ("APPLICATION_UNTRACKED", ""): ("info", ""),
    }


def test_hours_windows_lookback_and_long_vacation_days() -> None:
    week = [f"2026-11-{day:02d}" for day in range(2, 9)]
    student = {
        "residence_status": "student",
        "student_enrolled_until": "2027-03-31",
        "outside_status_permission": "comprehensive",
    }
    dependent = {"residence_status": "dependent", "outside_status_permission": "comprehensive"}
    timesheets = [
        *[worked_day("OVER", day, 4.5 if day == week[-1] else 4.0) for day in week],  # 28.5 h
        *[worked_day("SPREAD", day, 4.0) for day in week[:-1]],  # 24 h, then 4.5 h a day later
        worked_day("SPREAD", "2026-11-09", 4.5),
        # 30 h in 3 days, the first one D - 90 (outside the 90 days up to D): 20 h counted
        *[worked_day("EDGE", f"2026-08-{day}", 10.0) for day in (27, 28, 29)],
        # the same a day later, all inside: 30 h
        *[worked_day("INSIDE", f"2026-08-{day}", 10.0) for day in (28, 29, 30)],
        worked_day("VACATION", "2026-11-03", 5.0, vacation=True),  # two employers, one day:
        worked_day("VACATION", "2026-11-03", 3.5, vacation=True),  # 8.5 h
        *[worked_day("EIGHT", day, 8.0, vacation=True) for day in week],  # 8 h a day: allowed
        *[worked_day("NO_VACATION", day, 8.0, vacation=True) for day in week],  # not a student
    ]
    found = _both(
        _roster(
            {
                "OVER": dependent,
                "SPREAD": dependent,
                "EDGE": dependent,
                "INSIDE": dependent,
                "VACATION": student,
                "EIGHT": student,
                "NO_VACATION": dependent,
            }
        ),
        timesheets=timesheets,
    )
    assert found == {
        ("HOURS_LIMIT_EXCEEDED", employee_id): ("critical", "")
        for employee_id in ("OVER", "INSIDE", "VACATION", "NO_VACATION")
    }


@pytest.mark.parametrize("days_after", [0, 1])
def test_hellowork_deadline_day_and_quarantined_rows(days_after: int) -> None:
    as_of = date.fromordinal(date(2026, 10, 31).toordinal() + days_after)
    not_notified = {"employment_insured": "false", "hellowork_hire_notified_on": None}
    employees = _roster(
        {
            "HIRED": {"hire_date": "2026-09-20", **not_notified},
            "LEFT": {"employment_status": "terminated", "termination_date": "2026-10-21"},
            "EXEMPT": {
                "residence_status": "special_permanent_resident",
                "period_of_stay_expiry": None,
                "residence_card_number": None,
                "card_valid_until": None,
                "hire_date": "2026-09-20",
                **not_notified,
            },
            "BAD": {"residence_card_number": "NOT-A-CARD"},
        }
    )
    # two rows with one id: both quarantined, one finding for the two
    employees += [employee("DUP", organization_id=org) for org in ("TKY01", "OSK01")]
    found = _both(
        employees,
        [erp_app("RX", "HIRED", filed_on="2026-13-01")],
        # ISA knows the quarantined application: the ERP holds it, so it is not untracked
        [isa_app("RX", "RECEIVED")],
        as_of=as_of,
    )
    quarantined = {
        ("DATA_QUALITY", "BAD"): ("warning", ""),
        ("DATA_QUALITY", "DUP"): ("warning", ""),
        ("DATA_QUALITY", "HIRED"): ("warning", ""),  # its application's filing date
    }
    if days_after == 0:
        assert found == quarantined
    else:
        assert found == {
            **quarantined,
            ("HELLOWORK_HIRE_OVERDUE", "HIRED"): ("warning", "2026-10-31"),
            ("HELLOWORK_SEPARATION_OVERDUE", "LEFT"): ("warning", "2026-10-31"),
        }

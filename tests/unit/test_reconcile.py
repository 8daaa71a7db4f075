"""Rule evaluation (contract.md section 4), through the real path validate -> reconcile."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.factories import CARD, NAME, employee
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    DISCREPANCY_COLUMNS,
    EMPLOYEE_COLUMNS,
    FINDING_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.reconcile import (
    ReconciliationResult,
    combine_findings,
    implemented_codes,
    reconcile,
)
from zairyu_sync.rules import RuleCatalog, load_catalog
from zairyu_sync.runs import read_frame, write_frame
from zairyu_sync.validate import validate_snapshot

pytestmark = pytest.mark.unit

D = date(2026, 11, 25)
NEW_CARD = "XY87654321ZW"


def erp_app(receipt: str, employee_id: str = "E1", **overrides: Any) -> dict[str, Any]:
    row = {
        "employee_id": employee_id,
        "receipt_number": receipt,
        "application_type": "extension",
        "filed_on": "2026-10-01",
    }
    row.update(overrides)
    return row


def isa_app(receipt: str, status: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ISA_APPLICATION_COLUMNS)
    row.update(
        receipt_number=receipt,
        application_type="extension",
        status=status,
        filed_on="2026-10-01",
        applicant_full_name=NAME,
        applicant_date_of_birth="1995-04-02",
        applicant_nationality="VNM",
        applicant_residence_card_number=CARD,
        updated_at="2026-11-20T10:00:00+09:00",
    )
    row.update(overrides)
    return row


def run(
    employees: list[dict[str, Any]],
    applications: list[dict[str, Any]] | None = None,
    isa: list[dict[str, Any]] | None = None,
    timesheets: list[dict[str, Any]] | None = None,
    *,
    as_of: date = D,
    catalog: RuleCatalog | None = None,
) -> ReconciliationResult:
    outcome = validate_snapshot(
        pd.DataFrame(employees, columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame(applications or [], columns=list(APPLICATION_COLUMNS)),
        None if timesheets is None else pd.DataFrame(timesheets, columns=list(TIMESHEET_COLUMNS)),
    )
    return reconcile(
        outcome.employees,
        outcome.applications,
        pd.DataFrame(isa or [], columns=list(ISA_APPLICATION_COLUMNS)).astype(object),
        outcome.quarantine,
        as_of=as_of,
        timesheets=outcome.timesheets,
        catalog=catalog,
    )


def findings(result: ReconciliationResult) -> dict[tuple[str, str | None], tuple[str, str]]:
    """(rule_code, employee_id) -> (severity, due date 'YYYY-MM-DD' or '')."""
    frame = result.to_contract_frame()
    return {
        (row.rule_code, row.employee_id or None): (row.severity, row.due_date)
        for row in frame.itertuples()
    }


def rules(result: ReconciliationResult) -> set[str]:
    return set(result.discrepancies["rule_code"])


def test_clean_employee_has_no_findings() -> None:
    result = run([employee()], [erp_app("R1")], [isa_app("R1", "UNDER_EXAMINATION")])
    assert result.discrepancies.empty
    assert result.unimplemented_codes == ()


# --- STATUS_EXPIRED / SPECIAL_PERIOD / coverage ------------------------------------------------


def test_status_expired_fires_the_day_after_expiry() -> None:
    result = run([employee(period_of_stay_expiry="2026-11-24")])
    assert findings(result) == {("STATUS_EXPIRED", "E1"): ("critical", "2026-11-24")}


def test_expiry_on_the_as_of_date_is_not_expired() -> None:
    result = run([employee(period_of_stay_expiry="2026-11-25")])
    assert "STATUS_EXPIRED" not in rules(result)
    assert findings(result) == {("EXPIRY_APPROACHING", "E1"): ("critical", "2026-11-25")}


@pytest.mark.parametrize(("granted", "covered"), [("2026-11-25", True), ("2026-11-24", False)])
def test_permitted_application_granting_expiry_on_or_after_d_covers(
    granted: str, covered: bool
) -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-10-31")],
        [erp_app("R1", filed_on="2026-09-01")],
        [
            isa_app(
                "R1",
                "PERMITTED",
                granted_status="engineer_specialist_humanities_international",
                granted_period_expiry=granted,
                decided_on="2026-10-20",
            )
        ],
    )
    assert ("STATUS_EXPIRED" in rules(result)) is not covered
    assert "SPECIAL_PERIOD" not in rules(result)
    assert "EXPIRY_MISMATCH" in rules(result)


def test_pending_extension_filed_after_expiry_does_not_cover() -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-10-31")],
        [erp_app("R1", filed_on="2026-11-02")],
        [isa_app("R1", "UNDER_EXAMINATION", filed_on="2026-11-02")],
    )
    assert findings(result) == {("STATUS_EXPIRED", "E1"): ("critical", "2026-10-31")}


def test_pending_application_filed_on_the_expiry_day_gives_special_period() -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-10-31")],
        [erp_app("R1", filed_on="2026-10-31")],
        [isa_app("R1", "RECEIVED", filed_on="2026-10-31")],
    )
    assert findings(result) == {("SPECIAL_PERIOD", "E1"): ("warning", "2026-12-31")}
    assert result.discrepancies["receipt_number"].tolist() == ["R1"]


def test_pending_acquisition_application_does_not_cover() -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-10-31")],
        [erp_app("R1", application_type="acquisition", filed_on="2026-10-01")],
        [isa_app("R1", "RECEIVED", application_type="acquisition")],
    )
    assert rules(result) == {"STATUS_EXPIRED"}


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [
        ("2026-09-25", {("SPECIAL_PERIOD", "E1"): ("critical", "2026-11-25")}),  # last day covered
        ("2026-09-24", {("STATUS_EXPIRED", "E1"): ("critical", "2026-09-24")}),  # ended yesterday
        ("2026-10-09", {("SPECIAL_PERIOD", "E1"): ("critical", "2026-12-09")}),  # D + 14
        ("2026-10-10", {("SPECIAL_PERIOD", "E1"): ("warning", "2026-12-10")}),  # D + 15
    ],
)
def test_special_period_boundaries_and_escalation(
    expiry: str, expected: dict[tuple[str, str], tuple[str, str]]
) -> None:
    result = run(
        [employee(period_of_stay_expiry=expiry)],
        [erp_app("R1", filed_on="2026-09-01")],
        [isa_app("R1", "UNDER_EXAMINATION", filed_on="2026-09-01")],
    )
    assert findings(result) == expected


def test_special_period_end_is_clamped_to_month_end() -> None:
    result = run(
        [employee(period_of_stay_expiry="2026-12-31")],
        [erp_app("R1", filed_on="2026-12-20")],
        [isa_app("R1", "UNDER_EXAMINATION", filed_on="2026-12-20")],
        as_of=date(2027, 1, 10),
    )
    assert findings(result) == {("SPECIAL_PERIOD", "E1"): ("warning", "2027-02-28")}


# --- EXPIRY_APPROACHING ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [
        ("2027-02-23", ("warning", "2027-02-23")),  # D + 90
        ("2027-02-24", None),  # D + 91
        ("2026-12-09", ("critical", "2026-12-09")),  # D + 14
        ("2026-12-10", ("warning", "2026-12-10")),  # D + 15
    ],
)
def test_expiry_approaching_window(expiry: str, expected: tuple[str, str] | None) -> None:
    result = run([employee(period_of_stay_expiry=expiry, card_valid_until=expiry)])
    assert findings(result).get(("EXPIRY_APPROACHING", "E1")) == expected


@pytest.mark.parametrize("status", ["UNDER_EXAMINATION", "AWAITING_ISSUANCE"])
def test_expiry_approaching_is_silenced_by_a_renewal(status: str) -> None:
    result = run(
        [employee(period_of_stay_expiry="2027-01-15")],
        [erp_app("R1", filed_on="2026-11-01")],
        [
            isa_app(
                "R1",
                status,
                filed_on="2026-11-01",
                granted_period_expiry="2030-01-15",
                granted_status="engineer_specialist_humanities_international",
            )
        ],
    )
    assert "EXPIRY_APPROACHING" not in rules(result)


def test_terminated_employees_skip_status_rules() -> None:
    result = run(
        [
            employee(
                "E1",
                employment_status="terminated",
                termination_date="2026-06-30",
                period_of_stay_expiry="2026-08-01",
                residence_status="student",
                outside_status_permission="none",
                student_enrolled_until="2026-03-31",
                hellowork_separation_notified_on="2026-07-03",
            ),
            employee(
                "E2",
                termination_date="2026-11-25",
                period_of_stay_expiry="2026-11-01",
                hellowork_separation_notified_on="2026-11-25",
            ),
        ],
        [erp_app("R1", "E1")],
        [isa_app("R1", "NOT_PERMITTED", decided_on="2026-07-01")],
    )
    assert result.discrepancies.empty


# --- work permission -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fires"),
    [
        ({"residence_status": "student", "outside_status_permission": "none"}, True),
        ({"residence_status": "student", "outside_status_permission": "comprehensive"}, False),
        ({"residence_status": "dependent", "outside_status_permission": "individual"}, False),
        ({"residence_status": "designated_activities", "designated_work_permitted": "false"}, True),
        ({"residence_status": "designated_activities", "designated_work_permitted": "true"}, False),
        ({"residence_status": "temporary_visitor"}, True),
    ],
)
def test_work_not_permitted(overrides: dict[str, Any], fires: bool) -> None:
    row = employee(student_enrolled_until="2027-03-31", **overrides)
    result = run([row])
    assert (("WORK_NOT_PERMITTED", "E1") in findings(result)) is fires
    if fires:
        assert findings(result)[("WORK_NOT_PERMITTED", "E1")] == ("critical", "")


def test_student_not_enrolled() -> None:
    base = {"residence_status": "student", "outside_status_permission": "comprehensive"}
    result = run(
        [
            employee("E1", student_enrolled_until="2026-11-24", **base),
            employee("E2", student_enrolled_until="2026-11-25", **base),
        ]
    )
    assert findings(result) == {("STUDENT_NOT_ENROLLED", "E1"): ("critical", "2026-11-24")}


def test_designated_organization_mismatch() -> None:
    base = {"residence_status": "specified_skilled_worker_i"}
    result = run(
        [
            employee("E1", designated_organization_id="OSK01", **base),
            employee("E2", designated_organization_id="TKY01", **base),
            employee(
                "E3", designated_organization_id="OSK01"
            ),  # status not tied to an organization
        ]
    )
    assert findings(result) == {("DESIGNATED_ORGANIZATION_MISMATCH", "E1"): ("critical", "")}


def test_card_renewal_due_for_permanent_residents() -> None:
    base = {"residence_status": "permanent_resident", "period_of_stay_expiry": None}
    result = run(
        [
            employee("E1", card_valid_until="2027-01-24", **base),  # D + 60
            employee("E2", card_valid_until="2027-01-25", **base),  # D + 61
            employee("E3", card_valid_until="2026-11-24", **base),  # passed
            employee("E4", card_valid_until="2027-01-01"),  # fixed-period status: not this rule
        ]
    )
    assert findings(result) == {
        ("CARD_RENEWAL_DUE", "E1"): ("warning", "2027-01-24"),
        ("CARD_RENEWAL_DUE", "E3"): ("critical", "2026-11-24"),
    }


def _hours(
    employee_id: str, days: list[str], hours: float, vacation: bool = False
) -> list[dict[str, Any]]:
    return [
        {
            "employee_id": employee_id,
            "work_date": day,
            "hours": str(hours),
            "is_long_vacation": "true" if vacation else "false",
        }
        for day in days
    ]


def test_hours_limit_exceeded_rolling_window_and_long_vacation() -> None:
    week = [f"2026-11-{day:02d}" for day in range(2, 9)]  # 7 consecutive days
    spread = [f"2026-11-{day:02d}" for day in (2, 3, 4, 5, 9, 10, 11)]  # 4 + 3 days, gap of 3
    base = {"outside_status_permission": "comprehensive"}
    student = {"residence_status": "student", "student_enrolled_until": "2027-03-31", **base}
    result = run(
        [
            employee("E1", residence_status="dependent", **base),
            employee("E2", residence_status="dependent", **base),
            employee("E3", **student),
            employee("E4", **student),
            employee("E5", residence_status="dependent", **base),
        ],
        timesheets=[
            *_hours("E1", week, 4.5),  # 31.5 h in 7 days
            *_hours("E2", week, 4.0),  # exactly 28 h: not over
            *_hours("E3", week, 8.0, vacation=True),  # long vacation, 8 h/day: allowed
            *_hours("E4", week[:1], 9.0, vacation=True),  # 9 h on a vacation day
            *_hours("E5", spread, 5.0),  # at most 4 days (20 h) in any 7-day window
        ],
    )
    found = findings(result)
    assert {key for key in found if key[0] == "HOURS_LIMIT_EXCEEDED"} == {
        ("HOURS_LIMIT_EXCEEDED", "E1"),
        ("HOURS_LIMIT_EXCEEDED", "E4"),
    }
    details = dict(
        zip(result.discrepancies["employee_id"], result.discrepancies["detail"], strict=True)
    )
    assert "31.5 h in the 7 days ending 2026-11-08" in details["E1"]
    assert "9.0 h on long-vacation day 2026-11-02" in details["E4"]


def test_hours_outside_the_lookback_are_ignored() -> None:
    old = [f"2026-08-{day:02d}" for day in range(1, 8)]
    result = run(
        [employee("E1", residence_status="dependent", outside_status_permission="comprehensive")],
        timesheets=_hours("E1", old, 6.0),
    )
    assert "HOURS_LIMIT_EXCEEDED" not in rules(result)


# --- applications --------------------------------------------------------------------------------


def test_application_rules_fire_with_receipt_numbers() -> None:
    result = run(
        [
            employee("E1"),
            employee(
                "E2",
                residence_card_number=NEW_CARD,
                employment_status="terminated",
                termination_date="2026-01-31",
                hellowork_separation_notified_on="2026-02-02",
            ),
        ],
        [
            erp_app("DENIED", "E1", application_type="change"),
            erp_app("DENIED-TERMINATED", "E2"),
            erp_app("DOCS", "E1"),
            erp_app("MISSING", "E1"),
            erp_app("OLD", "E1", filed_on="2026-08-26"),  # 91 days before D
            erp_app("NOT-OLD", "E1", filed_on="2026-08-27"),  # 90 days before D
        ],
        [
            isa_app("DENIED", "NOT_PERMITTED", application_type="change", decided_on="2026-11-20"),
            isa_app("DENIED-TERMINATED", "NOT_PERMITTED", decided_on="2026-01-10"),
            isa_app("DOCS", "AWAITING_ADDITIONAL_DOCUMENTS", additional_documents_due="2026-12-05"),
            isa_app("OLD", "UNDER_EXAMINATION", filed_on="2026-08-26"),
            isa_app("NOT-OLD", "UNDER_EXAMINATION", filed_on="2026-08-27"),
        ],
    )
    frame = result.to_contract_frame()
    got = {(r.rule_code, r.receipt_number): (r.severity, r.due_date) for r in frame.itertuples()}
    assert got == {
        ("APPLICATION_DENIED", "DENIED"): ("critical", "2026-11-20"),
        ("ADDITIONAL_DOCUMENTS_REQUESTED", "DOCS"): ("warning", "2026-12-05"),
        ("APPLICATION_NOT_FOUND", "MISSING"): ("warning", ""),
        ("APPLICATION_PENDING_LONG", "OLD"): ("info", ""),
    }


def test_status_and_expiry_mismatch_use_the_latest_permitted_application() -> None:
    result = run(
        [
            employee(
                residence_status="technical_intern_training_iii",
                period_of_stay_expiry="2027-11-01",
                designated_organization_id="TKY01",
            )
        ],
        [erp_app("OLD", filed_on="2025-09-01"), erp_app("NEW", application_type="change")],
        [
            isa_app(
                "OLD",
                "COMPLETED",
                decided_on="2025-10-01",
                granted_period_expiry="2026-11-01",
                granted_status="technical_intern_training_ii",
                new_residence_card_number=CARD,
            ),
            isa_app(
                "NEW",
                "PERMITTED",
                application_type="change",
                decided_on="2026-11-10",
                granted_status="specified_skilled_worker_i",
                granted_period_expiry="2027-11-10",
            ),
        ],
    )
    got = {(r.rule_code, r.receipt_number) for r in result.to_contract_frame().itertuples()}
    assert got == {("STATUS_MISMATCH", "NEW"), ("EXPIRY_MISMATCH", "NEW")}


def test_card_number_stale_is_masked() -> None:
    result = run(
        [employee(period_of_stay_expiry="2029-10-01")],
        [erp_app("R1")],
        [
            isa_app(
                "R1",
                "COMPLETED",
                decided_on="2026-10-20",
                granted_period_expiry="2029-10-01",
                granted_status="engineer_specialist_humanities_international",
                new_residence_card_number=NEW_CARD,
                new_card_valid_until="2029-10-01",
            )
        ],
    )
    assert rules(result) == {"CARD_NUMBER_STALE"}
    detail = result.discrepancies["detail"].iloc[0]
    assert "XY******ZW" in detail and "AB******CD" in detail
    assert NEW_CARD not in detail and CARD not in detail


def test_application_untracked_attributed_by_applicant_card() -> None:
    result = run(
        [employee("E1")],
        [],
        [
            isa_app(
                "KNOWN-CARD", "UNDER_EXAMINATION", applicant_residence_card_number="ab12345678cd"
            ),
            isa_app(
                "RECRUIT",
                "UNDER_EXAMINATION",
                application_type="certificate_of_eligibility",
                applicant_residence_card_number=None,
            ),
        ],
    )
    got = {
        (r.rule_code, r.receipt_number, r.employee_id)
        for r in result.to_contract_frame().itertuples()
    }
    assert got == {
        ("APPLICATION_UNTRACKED", "KNOWN-CARD", "E1"),
        ("APPLICATION_UNTRACKED", "RECRUIT", ""),
    }
    assert set(result.discrepancies["severity"]) == {"info"}


# --- Hello Work ----------------------------------------------------------------------------------


def test_hellowork_hire_overdue_deadlines() -> None:
    base = {"hellowork_hire_notified_on": None}
    result = run(
        [
            employee("E1", hire_date="2026-10-15", **base),  # insured: due 2026-11-10, passed
            employee("E2", hire_date="2026-10-20", employment_insured="false", **base),  # due 11-30
            employee("E3", hire_date="2026-09-20", employment_insured="false", **base),  # due 10-31
            employee("E4", hire_date="2025-11-24", **base),  # 366 days ago: outside lookback
            employee(
                "E5",
                hire_date="2026-10-15",
                residence_status="special_permanent_resident",
                residence_card_number=None,
                period_of_stay_expiry=None,
                **base,
            ),
        ]
    )
    assert findings(result) == {
        ("HELLOWORK_HIRE_OVERDUE", "E1"): ("warning", "2026-11-10"),
        ("HELLOWORK_HIRE_OVERDUE", "E3"): ("warning", "2026-10-31"),
    }


def test_hellowork_separation_overdue_deadlines() -> None:
    base = {"employment_status": "terminated"}
    result = run(
        [
            employee("E1", termination_date="2026-11-10", **base),  # insured: due 11-20, passed
            employee("E2", termination_date="2026-11-15", **base),  # insured: due 11-25 == D
            employee(
                "E3", termination_date="2026-09-30", employment_insured="false", **base
            ),  # 10-31
            employee(
                "E4",
                termination_date="2026-09-30",
                hellowork_separation_notified_on="2026-10-02",
                **base,
            ),
        ]
    )
    assert findings(result) == {
        ("HELLOWORK_SEPARATION_OVERDUE", "E1"): ("warning", "2026-11-20"),
        ("HELLOWORK_SEPARATION_OVERDUE", "E3"): ("warning", "2026-10-31"),
    }


# --- data quality, ids, output -------------------------------------------------------------------


def test_quarantined_employee_yields_only_data_quality() -> None:
    result = run(
        [
            employee(
                "E1",
                residence_card_number="AB1234",
                period_of_stay_expiry="2026-01-01",
                residence_status="student",
                outside_status_permission="none",
                student_enrolled_until="2026-03-31",
            )
        ],
        [erp_app("R1")],
        [],
    )
    assert findings(result) == {("DATA_QUALITY", "E1"): ("warning", "")}
    row = result.discrepancies.iloc[0]
    assert row["organization_id"] == "TKY01" and row["compliance_owner"] == "hr-tokyo@example.co.jp"
    assert "CARD_NUMBER_MALFORMED" in row["detail"]
    assert "AB1234" not in row["detail"] and NAME not in row["detail"]


def test_data_quality_one_finding_per_employee_table_and_receipt() -> None:
    result = run(
        [employee("E1"), employee("E1"), employee("E2")],
        [erp_app("R1", "E9"), erp_app("R2", "E9")],
    )
    frame = result.to_contract_frame()
    assert sorted(zip(frame["employee_id"], frame["receipt_number"], strict=True)) == [
        ("E1", ""),
        ("E9", "R1"),
        ("E9", "R2"),
    ]
    assert set(frame["rule_code"]) == {"DATA_QUALITY"}
    assert result.discrepancies["discrepancy_id"].is_unique


def test_discrepancy_ids_are_stable_across_runs_and_output_is_sorted() -> None:
    def once() -> ReconciliationResult:
        return run(
            [
                employee("E2", period_of_stay_expiry="2026-11-01"),
                employee("E1", period_of_stay_expiry="2027-01-10"),
                employee("E3", residence_card_number="bad"),
            ],
            [erp_app("R9", "E1")],
        )

    first, second = once(), once()
    assert list(first.discrepancies.columns) == list(FINDING_COLUMNS)
    pd.testing.assert_frame_equal(first.discrepancies, second.discrepancies)
    assert first.discrepancies["discrepancy_id"].is_unique
    assert all(
        len(value) == 32 and int(value, 16) >= 0 for value in first.discrepancies["discrepancy_id"]
    )
    assert list(first.discrepancies["severity"]) == ["critical", "warning", "warning", "warning"]
    assert first.counts_by_rule_and_severity() == {
        "APPLICATION_NOT_FOUND": {"warning": 1},
        "DATA_QUALITY": {"warning": 1},
        "EXPIRY_APPROACHING": {"warning": 1},
        "STATUS_EXPIRED": {"critical": 1},
    }


def test_findings_have_the_dtypes_the_runs_files_give_back(tmp_path: Path) -> None:
    """Text as pandas ``str`` (NaN where missing), as the load reads it from Parquet (ADR 0011)."""
    result = run(
        [
            employee("E1", period_of_stay_expiry="2026-11-01"),  # a finding without a receipt
            employee("E2", residence_card_number="bad"),  # DATA_QUALITY
        ],
        [erp_app("R9", "E1")],  # APPLICATION_NOT_FOUND: a receipt number
    )
    frame = result.discrepancies
    assert frame["receipt_number"].isna().any() and frame["receipt_number"].notna().any()
    for column in FINDING_COLUMNS:
        expected = (
            "datetime64[ns]" if column == "due_date" else pd.StringDtype("pyarrow", na_value=np.nan)
        )
        assert frame[column].dtype == expected, column
    path = tmp_path / "discrepancies.parquet"
    write_frame(frame, path)
    pd.testing.assert_frame_equal(read_frame(path), frame)
    # a sharded run merges findings read back from its files into the same frame
    pd.testing.assert_frame_equal(combine_findings([read_frame(path)]), frame)


def test_contract_frame_shape_and_details_without_pii() -> None:
    result = run(
        [
            employee("E1", period_of_stay_expiry="2026-11-01"),
            employee("E2", residence_status="student", student_enrolled_until="2027-01-01"),
        ],
    )
    frame = result.to_contract_frame()
    assert list(frame.columns) == list(DISCREPANCY_COLUMNS)
    assert frame["due_date"].tolist() == ["2026-11-01", ""]
    text = " ".join(result.discrepancies["detail"])
    for pii in (CARD, NAME, "NGUYEN", "1995-04-02"):
        assert pii not in text


def test_unimplemented_catalog_codes_are_reported() -> None:
    catalog = load_catalog()
    extra = dataclasses.replace(catalog.get("DATA_QUALITY"), code="FUTURE_RULE")
    result = run([employee()], catalog=RuleCatalog(rules=(*catalog.rules, extra)))
    assert result.unimplemented_codes == ("FUTURE_RULE",)
    assert implemented_codes() == frozenset(catalog.codes)


def test_two_thousand_employees_reconcile_in_one_pass() -> None:
    rows = [
        employee(
            f"E{index:05d}",
            residence_card_number=f"AB{index:08d}CD",
            period_of_stay_expiry=f"2027-{index % 12 + 1:02d}-{index % 28 + 1:02d}",
        )
        for index in range(2000)
    ]
    apps = [erp_app(f"R{index}", f"E{index:05d}") for index in range(0, 2000, 3)]
    isa = [isa_app(f"R{index}", "UNDER_EXAMINATION") for index in range(0, 2000, 6)]
    outcome = validate_snapshot(
        pd.DataFrame(rows, columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame(apps, columns=list(APPLICATION_COLUMNS)),
    )
    isa_frame = pd.DataFrame(isa, columns=list(ISA_APPLICATION_COLUMNS)).astype(object)
    result = reconcile(
        outcome.employees, outcome.applications, isa_frame, outcome.quarantine, as_of=D
    )
    assert result.counts_by_rule_and_severity()["APPLICATION_NOT_FOUND"] == {"warning": 333}


def test_application_of_a_quarantined_employee_is_not_untracked() -> None:
    bad = employee("E9", residence_card_number="BAD-CARD")
    outcome = validate_snapshot(
        pd.DataFrame([employee(), bad], columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame([erp_app("R9", "E9")], columns=list(APPLICATION_COLUMNS)),
    )
    assert outcome.applications.empty, "the application of a quarantined employee is set aside"
    isa_frame = pd.DataFrame(
        [isa_app("R9", "UNDER_EXAMINATION")], columns=list(ISA_APPLICATION_COLUMNS)
    ).astype(object)

    def rules_fired(**kwargs: Any) -> set[str]:
        result = reconcile(
            outcome.employees,
            outcome.applications,
            isa_frame,
            outcome.quarantine,
            as_of=D,
            **kwargs,
        )
        return set(result.discrepancies["rule_code"])

    assert "APPLICATION_UNTRACKED" in rules_fired()
    fired = rules_fired(erp_receipt_numbers=["R9 "])
    assert "APPLICATION_UNTRACKED" not in fired
    assert "DATA_QUALITY" in fired

"""Row factories for the raw canonical tables (contract.md section 1), shared by the tests."""

from __future__ import annotations

from typing import Any

from zairyu_sync.canonical import EMPLOYEE_COLUMNS

#: The rule codes of contract.md section 4, written out from the contract (not derived from the
#: catalog, so a test comparing the two can fail).
CONTRACT_RULE_CODES = frozenset(
    {
        "STATUS_EXPIRED",
        "SPECIAL_PERIOD",
        "EXPIRY_APPROACHING",
        "CARD_RENEWAL_DUE",
        "WORK_NOT_PERMITTED",
        "HOURS_LIMIT_EXCEEDED",
        "STUDENT_NOT_ENROLLED",
        "DESIGNATED_ORGANIZATION_MISMATCH",
        "APPLICATION_DENIED",
        "ADDITIONAL_DOCUMENTS_REQUESTED",
        "STATUS_MISMATCH",
        "EXPIRY_MISMATCH",
        "CARD_NUMBER_STALE",
        "APPLICATION_NOT_FOUND",
        "APPLICATION_UNTRACKED",
        "APPLICATION_PENDING_LONG",
        "HELLOWORK_HIRE_OVERDUE",
        "HELLOWORK_SEPARATION_OVERDUE",
        "DATA_QUALITY",
    }
)

CARD = "AB12345678CD"
NAME = "NGUYEN VAN AN"


def employee(employee_id: str = "E1", **overrides: Any) -> dict[str, Any]:
    """A clean, active engineer with a valid card and status; override any column by keyword."""
    row: dict[str, Any] = dict.fromkeys(EMPLOYEE_COLUMNS)
    row.update(
        employee_id=employee_id,
        organization_id="TKY01",
        full_name=NAME,
        nationality="VNM",
        date_of_birth="1995-04-02",
        employment_status="active",
        hire_date="2024-04-01",
        job_category="ENG-SE",
        employment_insured="true",
        residence_status="engineer_specialist_humanities_international",
        period_of_stay_expiry="2028-03-31",
        residence_card_number=CARD,
        card_valid_until="2028-03-31",
        outside_status_permission="none",
        hellowork_hire_notified_on="2024-04-05",
        compliance_owner="hr-tokyo@example.co.jp",
    )
    row.update(overrides)
    return row


def worked_day(employee_id: str, day: str, hours: float, vacation: bool = False) -> dict[str, Any]:
    """One timesheet row as the ERP gives it (text)."""
    return {
        "employee_id": employee_id,
        "work_date": day,
        "hours": f"{hours:g}",
        "is_long_vacation": "true" if vacation else "false",
    }

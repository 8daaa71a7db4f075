"""Property-based tests: validation and reconciliation on generated, partly hostile snapshots.

Each example is a whole snapshot (many rows), because one ``validate_snapshot`` call costs
~0.3 s of Great Expectations set-up.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    APPLICATION_TYPES,
    EMPLOYEE_COLUMNS,
    EMPLOYEE_DATE_COLUMNS,
    EMPLOYMENT_STATUSES,
    ISA_APPLICATION_COLUMNS,
    OUTSIDE_STATUS_PERMISSIONS,
    RESIDENCE_STATUSES,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.errors import InputError
from zairyu_sync.reconcile import reconcile
from zairyu_sync.validate import validate_snapshot

pytestmark = pytest.mark.unit

AS_OF = date(2026, 11, 25)
IDS = ("E1", "E2", "E3", "E4", "E5", "E6", " E1 ", "J1")

hostile_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["'; DROP TABLE employees; --", '" OR 1=1', "\x00", "\u202e", "\ud800", "😀"]),
)
any_date = st.dates().map(date.isoformat)
plausible_date = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31)).map(
    date.isoformat
)


def _value(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly good values, sometimes hostile text, sometimes null."""
    return st.one_of(good, good, good, hostile_text, st.none())


def _date_value() -> st.SearchStrategy[Any]:
    return st.one_of(plausible_date, plausible_date, any_date, hostile_text, st.none())


EMPLOYEE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "employee_id": st.one_of(st.sampled_from(IDS), st.sampled_from(IDS), hostile_text, st.none()),
    "organization_id": _value(st.sampled_from(["TKY01", "OSA02"])),
    "full_name": _value(st.just("NGUYEN VAN AN")),
    "nationality": st.one_of(
        st.sampled_from(["VNM", "CHN", "PHL", "jpn"]), hostile_text, st.none()
    ),
    "employment_status": _value(st.sampled_from(EMPLOYMENT_STATUSES)),
    "job_category": _value(st.just("ENG-SE")),
    "employment_insured": _value(st.sampled_from(["true", "false"])),
    "residence_status": _value(st.sampled_from(sorted(RESIDENCE_STATUSES))),
    "residence_card_number": _value(st.sampled_from(["AB12345678CD", "ＸＹ８７６５４３２１ＺＷ"])),
    "outside_status_permission": _value(st.sampled_from(OUTSIDE_STATUS_PERMISSIONS)),
    "designated_work_permitted": _value(st.sampled_from(["true", "false"])),
    "designated_organization_id": _value(st.sampled_from(["TKY01", "OSA02"])),
    "compliance_owner": _value(st.just("hr@example.co.jp")),
    **{column: _date_value() for column in EMPLOYEE_DATE_COLUMNS},
}
employee_rows = st.fixed_dictionaries(EMPLOYEE_VALUES)
application_rows = st.fixed_dictionaries(
    {
        "employee_id": st.one_of(st.sampled_from(IDS), hostile_text, st.none()),
        "receipt_number": st.one_of(
            st.sampled_from(["R1", "R2", "R3", "R4"]), hostile_text, st.none()
        ),
        "application_type": _value(st.sampled_from(APPLICATION_TYPES)),
        "filed_on": _date_value(),
    }
)
timesheet_rows = st.fixed_dictionaries(
    {
        "employee_id": st.one_of(st.sampled_from(IDS), hostile_text, st.none()),
        "work_date": st.one_of(
            st.dates(min_value=date(2026, 9, 1), max_value=AS_OF).map(date.isoformat),
            _date_value(),
        ),
        "hours": st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-5, 30).map(str),
            st.decimals(0, 24, places=2).map(str),
            hostile_text,
            st.none(),
        ),
        "is_long_vacation": _value(st.sampled_from(["true", "false"])),
    }
)


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    employees=st.lists(employee_rows, min_size=1, max_size=25),
    applications=st.lists(application_rows, max_size=12),
    timesheets=st.lists(timesheet_rows, max_size=15),
)
def test_validate_then_reconcile_invariants(
    employees: list[dict[str, Any]],
    applications: list[dict[str, Any]],
    timesheets: list[dict[str, Any]],
) -> None:
    outcome = validate_snapshot(
        _frame(employees, EMPLOYEE_COLUMNS),
        _frame(applications, APPLICATION_COLUMNS),
        _frame(timesheets, TIMESHEET_COLUMNS),
        as_of=AS_OF,
    )
    sizes = {
        "employees": len(employees),
        "applications": len(applications),
        "timesheets": len(timesheets),
    }
    quarantine = outcome.quarantine
    for table, numbers in outcome.counts.items():
        assert numbers["extracted"] == sizes[table]
        assert (
            numbers["extracted"] == numbers["valid"] + numbers["quarantined"] + numbers["ignored"]
        )
        assert numbers["quarantined"] == int((quarantine["source_table"] == table).sum())
    assert len(outcome.employees) == outcome.counts["employees"]["valid"]
    assert len(outcome.applications) == outcome.counts["applications"]["valid"]
    assert len(outcome.timesheets) == outcome.counts["timesheets"]["valid"]
    assert all(str(codes).strip() for codes in quarantine["reason_codes"])
    assert not quarantine.duplicated(["source_table", "row_number"]).any()
    # typed valid rows: no null in required columns, hours within a day
    assert outcome.employees["employee_id"].notna().all()
    assert outcome.employees["hire_date"].notna().all()
    assert outcome.timesheets["hours"].between(0, 24).all()
    assert outcome.employees["employee_id"].is_unique

    result = reconcile(
        outcome.employees,
        outcome.applications,
        pd.DataFrame(columns=list(ISA_APPLICATION_COLUMNS)),
        quarantine,
        as_of=AS_OF,
        timesheets=outcome.timesheets,
    )
    findings = result.discrepancies
    quality = findings[findings["rule_code"] == "DATA_QUALITY"]
    keys = {
        (_text_or_empty(employee), _text_or_empty(receipt))
        for employee, receipt in zip(
            quarantine["employee_id"], quarantine["receipt_number"], strict=True
        )
    }
    for employee, receipt in zip(quality["employee_id"], quality["receipt_number"], strict=True):
        assert (_text_or_empty(employee), _text_or_empty(receipt)) in keys
    assert len(quality) >= (1 if len(quarantine) else 0)
    quarantined_employees = set(
        quarantine.loc[quarantine["source_table"] == "employees", "employee_id"].dropna()
    )
    others = findings[findings["rule_code"] != "DATA_QUALITY"]
    assert not (set(others["employee_id"].dropna()) & quarantined_employees)


@pytest.mark.parametrize("table", ["employees", "applications", "timesheets"])
def test_only_input_error_for_a_missing_column(table: str) -> None:
    frames = {
        "employees": _frame([], EMPLOYEE_COLUMNS),
        "applications": _frame([], APPLICATION_COLUMNS),
        "timesheets": _frame([], TIMESHEET_COLUMNS),
    }
    frames[table] = frames[table].drop(columns=["employee_id"])
    with pytest.raises(InputError, match=f"{table}: missing required column 'employee_id'"):
        validate_snapshot(frames["employees"], frames["applications"], frames["timesheets"])


def _text_or_empty(value: object) -> str:
    """A key part as text: missing (None or NaN) is empty."""
    return "" if pd.isna(value) else str(value)

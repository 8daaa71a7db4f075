"""Validation of the raw canonical tables: quarantine rules of contract.md section 4."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.factories import CARD, NAME, employee
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    QUARANTINE_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.config import project_path
from zairyu_sync.errors import InputError
from zairyu_sync.validate import (
    ValidationOutcome,
    _normalise,
    _SuiteRunner,
    _valid_text,
    load_suite,
    validate_snapshot,
)

pytestmark = pytest.mark.unit


def application(employee_id: str = "E1", receipt: str = "R1", **overrides: Any) -> dict[str, Any]:
    row = {
        "employee_id": employee_id,
        "receipt_number": receipt,
        "application_type": "extension",
        "filed_on": "2026-10-01",
    }
    row.update(overrides)
    return row


def run(
    employees: list[dict[str, Any]],
    applications: list[dict[str, Any]] | None = None,
    timesheets: list[dict[str, Any]] | None = None,
) -> ValidationOutcome:
    return validate_snapshot(
        pd.DataFrame(employees, columns=list(EMPLOYEE_COLUMNS)),
        pd.DataFrame(applications or [], columns=list(APPLICATION_COLUMNS)),
        None if timesheets is None else pd.DataFrame(timesheets, columns=list(TIMESHEET_COLUMNS)),
    )


def reasons_by_row(outcome: ValidationOutcome, table: str = "employees") -> dict[int, set[str]]:
    q = outcome.quarantine[outcome.quarantine["source_table"] == table]
    return {
        int(r): set(str(c).split(","))
        for r, c in zip(q["row_number"], q["reason_codes"], strict=True)
    }


def test_clean_employee_is_valid_and_typed() -> None:
    outcome = run([employee()], [application()])
    assert outcome.quarantine.empty
    assert list(outcome.employees.columns) == list(EMPLOYEE_COLUMNS)
    emp = outcome.employees.iloc[0]
    assert outcome.employees["hire_date"].dtype == "datetime64[ns]"
    assert emp["hire_date"] == pd.Timestamp("2024-04-01")
    assert outcome.employees["employment_insured"].dtype == "boolean"
    assert bool(emp["employment_insured"]) is True
    assert outcome.applications["filed_on"].iloc[0] == pd.Timestamp("2026-10-01")
    assert outcome.counts["employees"] == {
        "extracted": 1,
        "valid": 1,
        "quarantined": 0,
        "ignored": 0,
    }


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"employee_id": None}, "EMPLOYEE_ID_MISSING"),
        ({"employee_id": "   "}, "EMPLOYEE_ID_MISSING"),
        ({"residence_status": "tokkatsu46"}, "RESIDENCE_STATUS_UNKNOWN"),
        ({"residence_status": None}, "RESIDENCE_STATUS_UNKNOWN"),
        ({"residence_card_number": "AB1234567CD"}, "CARD_NUMBER_MALFORMED"),
        ({"residence_card_number": "AB-12345678-CD"}, "CARD_NUMBER_MALFORMED"),
        ({"residence_card_number": None}, "CARD_NUMBER_MISSING"),
        ({"period_of_stay_expiry": None}, "EXPIRY_MISSING"),
        ({"hire_date": "2024-02-30"}, "DATE_UNPARSEABLE"),
        ({"card_valid_until": "31/03/2028"}, "DATE_UNPARSEABLE"),
        (
            {"residence_status": "student", "outside_status_permission": "comprehensive"},
            "STUDENT_ENROLLMENT_MISSING",
        ),
        ({"employment_status": "retired"}, "EMPLOYMENT_STATUS_INVALID"),
        ({"employment_insured": "yes"}, "BOOLEAN_INVALID"),
    ],
)
def test_quarantine_rules(overrides: dict[str, Any], reason: str) -> None:
    outcome = run([employee("E0"), employee(**overrides)])
    assert reason in reasons_by_row(outcome)[2]
    assert 1 not in reasons_by_row(outcome)
    assert outcome.counts["employees"] == {
        "extracted": 2,
        "valid": 1,
        "quarantined": 1,
        "ignored": 0,
    }
    assert list(outcome.employees["employee_id"]) == ["E0"]


def test_duplicated_employee_id_quarantines_every_row_with_it() -> None:
    outcome = run(
        [employee("E1"), employee("E2"), employee("E1", residence_card_number="XY87654321ZW")]
    )
    assert reasons_by_row(outcome) == {1: {"EMPLOYEE_ID_DUPLICATED"}, 3: {"EMPLOYEE_ID_DUPLICATED"}}
    assert list(outcome.employees["employee_id"]) == ["E2"]


@pytest.mark.parametrize("status", ["special_permanent_resident", "diplomat", "official"])
def test_card_not_required_for_statuses_without_a_card(status: str) -> None:
    outcome = run(
        [
            employee(
                residence_status=status,
                residence_card_number=None,
                period_of_stay_expiry=None
                if status == "special_permanent_resident"
                else "2028-03-31",
            )
        ]
    )
    assert outcome.quarantine.empty
    assert outcome.counts["employees"]["valid"] == 1


def test_expiry_not_required_for_permanent_resident() -> None:
    outcome = run([employee(residence_status="permanent_resident", period_of_stay_expiry=None)])
    assert outcome.quarantine.empty


def test_student_with_enrollment_date_is_valid() -> None:
    outcome = run(
        [
            employee(
                residence_status="student",
                outside_status_permission="comprehensive",
                student_enrolled_until="2027-03-31",
            )
        ]
    )
    assert outcome.quarantine.empty


def test_orphan_application_is_quarantined_and_others_kept() -> None:
    outcome = run([employee("E1")], [application("E1", "R1"), application("E9", "R9")])
    assert reasons_by_row(outcome, "applications") == {2: {"ORPHAN_APPLICATION"}}
    row = outcome.quarantine[outcome.quarantine["source_table"] == "applications"].iloc[0]
    assert row["receipt_number"] == "R9" and row["employee_id"] == "E9"
    assert list(outcome.applications["receipt_number"]) == ["R1"]


def test_japanese_nationals_are_ignored_with_their_rows() -> None:
    outcome = run(
        [
            employee("E1"),
            employee(
                "J1",
                nationality=" jpn ",
                residence_status=None,
                residence_card_number=None,
                period_of_stay_expiry="bad",
            ),
        ],
        [application("E1", "R1"), application("J1", "R2")],
        [{"employee_id": "J1", "work_date": "2026-11-01", "hours": "8", "is_long_vacation": None}],
    )
    assert outcome.quarantine.empty
    assert list(outcome.employees["employee_id"]) == ["E1"]
    assert outcome.counts["employees"] == {
        "extracted": 2,
        "valid": 1,
        "quarantined": 0,
        "ignored": 1,
    }
    assert outcome.counts["applications"] == {
        "extracted": 2,
        "valid": 1,
        "quarantined": 0,
        "ignored": 1,
    }
    assert outcome.counts["timesheets"]["ignored"] == 1


def test_rows_of_quarantined_employees_are_set_aside_not_lost() -> None:
    outcome = run(
        [employee("E1"), employee("E2", residence_card_number="bad")],
        [application("E1", "R1"), application("E2", "R2")],
    )
    assert list(outcome.applications["receipt_number"]) == ["R1"]
    assert outcome.counts["applications"] == {
        "extracted": 2,
        "valid": 1,
        "quarantined": 0,
        "ignored": 1,
    }


def test_full_width_card_number_is_normalised_and_accepted() -> None:
    outcome = run([employee(residence_card_number="ＡＢ１２３４５６７８ｃｄ　", nationality="vnm")])
    assert outcome.quarantine.empty
    assert outcome.employees["residence_card_number"].iloc[0] == CARD
    assert outcome.employees["nationality"].iloc[0] == "VNM"


def test_enum_codes_are_lower_cased_and_empty_strings_are_null() -> None:
    outcome = run(
        [
            employee(
                employment_status=" Active ",
                residence_status="PERMANENT_RESIDENT",
                period_of_stay_expiry="",
                designated_organization_id="  ",
            )
        ]
    )
    assert outcome.quarantine.empty
    emp = outcome.employees.iloc[0]
    assert emp["employment_status"] == "active"
    assert pd.isna(emp["period_of_stay_expiry"]) and pd.isna(emp["designated_organization_id"])


def test_timesheets_are_validated_and_typed() -> None:
    outcome = run(
        [employee("E1")],
        timesheets=[
            {
                "employee_id": "E1",
                "work_date": "2026-11-01",
                "hours": "7.5",
                "is_long_vacation": "TRUE",
            },
            {
                "employee_id": "E1",
                "work_date": "2026-11-02",
                "hours": "25",
                "is_long_vacation": None,
            },
            {
                "employee_id": "E7",
                "work_date": "2026-11-02",
                "hours": "4",
                "is_long_vacation": None,
            },
        ],
    )
    assert reasons_by_row(outcome, "timesheets") == {2: {"HOURS_INVALID"}, 3: {"ORPHAN_TIMESHEET"}}
    assert outcome.timesheets["hours"].tolist() == [7.5]
    assert outcome.timesheets["is_long_vacation"].tolist() == [True]
    assert outcome.counts["timesheets"] == {
        "extracted": 3,
        "valid": 1,
        "quarantined": 2,
        "ignored": 0,
    }


def test_counts_add_up_and_summary_is_json_without_pii() -> None:
    outcome = run(
        [
            employee("E1"),
            employee("E2", residence_card_number="ab1234567890"),
            employee("E3", date_of_birth="1995-13-01"),
            employee("J1", nationality="JPN"),
        ],
        [application("E1"), application("E3", "R3"), application("E8", "R8")],
    )
    for table, numbers in outcome.counts.items():
        assert (
            numbers["extracted"] == numbers["valid"] + numbers["quarantined"] + numbers["ignored"]
        ), table
    summary = outcome.summary()
    text = json.dumps(summary)
    assert summary["quarantine_reasons"]["employees"] == {
        "CARD_NUMBER_MALFORMED": 1,
        "DATE_UNPARSEABLE": 1,
    }
    assert summary["counts"]["employees"]["quarantined"] == 2
    for pii in ("AB1234567890", "ab1234567890", NAME, "1995-13-01"):
        assert pii not in text
    reasons = " ".join(outcome.quarantine["reasons"])
    for pii in ("AB1234567890", "ab1234567890", NAME, "NGUYEN", "1995-13-01"):
        assert pii not in reasons
    assert list(outcome.quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert outcome.quarantine["row_number"].dtype == "int64"


def test_quarantine_carries_owner_columns() -> None:
    outcome = run([employee("E1", residence_card_number=None)])
    row = outcome.quarantine.iloc[0]
    assert (row["organization_id"], row["compliance_owner"]) == ("TKY01", "hr-tokyo@example.co.jp")


def test_missing_column_raises_input_error() -> None:
    frame = pd.DataFrame([employee()]).drop(columns=["residence_card_number"])
    with pytest.raises(InputError, match="residence_card_number"):
        validate_snapshot(frame, pd.DataFrame(columns=list(APPLICATION_COLUMNS)))


@pytest.mark.parametrize("name", ["employees", "applications", "timesheets"])
def test_suites_load_from_json_without_ids(name: str) -> None:
    raw = json.loads(project_path("expectations", f"{name}.json").read_text(encoding="utf-8"))
    assert "id" not in raw
    assert all("id" not in expectation for expectation in raw["expectations"])
    assert all(expectation["meta"]["reason_code"] for expectation in raw["expectations"])
    suite = load_suite(name)
    assert suite.name == name
    assert len(suite.expectations) == len(raw["expectations"])


# --- per-value evaluation, vectorised normalisation, the cached GX context ------------------------


def _old_normalise(series: pd.Series, column: str) -> pd.Series:
    """The value-by-value normalisation the vectorised one must reproduce exactly."""
    text = series.map(_valid_text, na_action="ignore").astype("string").str.strip()
    if column in ("residence_card_number", "nationality"):
        text = text.str.normalize("NFKC").str.strip().str.upper()
    elif column in ("employment_status", "is_long_vacation"):
        text = text.str.lower()
    text = text.mask(text == "")
    return text.astype(object).where(text.notna(), None)


ODD_VALUES: list[Any] = [
    " a ",
    "NUL\x00in",
    "bell\x07 ",
    "c1\x85x",
    "A",
    "a",
    "\u3000ＡＢ１２\u3000",
    "\x1c x \x1f",
    "\u00a0nb\u00a0",
    "",
    "   ",
    "A\ud800B",
    "\ud800",
    "😀",
    "Straße",
    "ǅ",
    None,
    float("nan"),
    pd.NA,
    pd.NaT,
    True,
    1,
    1.0,
    3.5,
    date(2024, 4, 1),
]


@pytest.mark.parametrize(
    "column", ["full_name", "nationality", "residence_card_number", "employment_status"]
)
@pytest.mark.parametrize("only_text", [True, False])
def test_vectorised_normalisation_equals_the_value_by_value_rules(
    column: str, only_text: bool
) -> None:
    values = [v for v in ODD_VALUES if not only_text or v is None or isinstance(v, str)]
    series = pd.Series(values * 3, index=range(10, 10 + 3 * len(values)), dtype=object)
    got, control = _normalise(series, column)
    expected = _old_normalise(series, column)
    pd.testing.assert_series_equal(got, expected)
    assert {type(value) for value in got} <= {str, type(None)}
    assert control.tolist() == [
        value is not None and any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
        for value in expected
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=8),
            st.sampled_from(ODD_VALUES),
            st.integers(-3, 3),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_normalisation_property(values: list[Any]) -> None:
    series = pd.Series(values, dtype=object)
    for column in ("full_name", "nationality", "employment_status"):
        pd.testing.assert_series_equal(
            _normalise(series, column)[0], _old_normalise(series, column)
        )


def test_repeated_values_are_flagged_on_every_row_holding_them() -> None:
    """Per-value expectations see distinct values; each verdict reaches every row with it."""
    good = {"employee_id": "E1", "hours": "8", "is_long_vacation": "false"}
    rows = [{**good, "work_date": f"2026-11-{day:02d}"} for day in range(1, 29)] * 3
    bad = {  # 1-based row -> the row's bad value and the reason it must get
        5: ("work_date", "2026-02-30", "DATE_UNPARSEABLE"),
        40: ("work_date", "2026-02-30", "DATE_UNPARSEABLE"),
        7: ("hours", "25", "HOURS_INVALID"),
        70: ("hours", "25", "HOURS_INVALID"),
        9: ("hours", None, "HOURS_INVALID"),
        80: ("hours", None, "HOURS_INVALID"),
        11: ("is_long_vacation", "maybe", "BOOLEAN_INVALID"),
        12: ("work_date", None, "WORK_DATE_MISSING"),
    }
    for row, (column, value, _) in bad.items():
        rows[row - 1] = {**rows[row - 1], column: value}
    outcome = run([employee("E1")], timesheets=rows)
    assert reasons_by_row(outcome, "timesheets") == {
        row: {reason} for row, (_, _, reason) in bad.items()
    }
    assert outcome.counts["timesheets"]["valid"] == len(rows) - len(bad)


def test_a_column_with_few_values_beside_one_with_many() -> None:
    """Short columns of the distinct-value batch are padded; padding is never reported."""
    rows = [employee(f"E{i:03d}", hire_date=None if i == 7 else "2024-04-01") for i in range(60)]
    rows[20]["nationality"] = "vn"
    outcome = run(rows)
    assert reasons_by_row(outcome) == {8: {"HIRE_DATE_MISSING"}, 21: {"NATIONALITY_INVALID"}}


def test_repeated_calls_share_one_context_and_agree() -> None:
    employees = [employee("E1"), employee("E2", nationality="vn"), employee("E2")]
    first = run(employees, [application("E1")])
    runner = _SuiteRunner.shared()
    second = run(employees, [application("E1")])
    assert _SuiteRunner.shared() is runner
    pd.testing.assert_frame_equal(first.quarantine, second.quarantine)
    pd.testing.assert_frame_equal(first.employees, second.employees)
    assert first.counts == second.counts
    # results are read and dropped, not kept in the context across runs
    assert runner._context.validation_results_store.list_keys() == []


def test_every_expectation_runs_in_exactly_one_part() -> None:
    for table in ("employees", "applications", "timesheets"):
        document = json.loads(project_path("expectations", f"{table}.json").read_text("utf-8"))
        parts = _SuiteRunner.shared()._table_parts(table)
        run_types = sorted(
            (item.expectation_type, item.column)
            for part in parts
            for item in part.definition.suite.expectations
        )
        expected = sorted(
            (item["type"], item["kwargs"].get("column")) for item in document["expectations"]
        )
        assert run_types == expected
        kinds = [(part.per_value, part.nulls) for part in parts]
        assert len(kinds) == len(set(kinds))

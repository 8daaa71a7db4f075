from __future__ import annotations

import calendar
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.factories import CONTRACT_RULE_CODES
from zairyu_sync.canonical import (
    APPLICATION_TYPES,
    ISA_PENDING,
    ISA_STATUSES,
    JAPANESE_NATIONALITY,
    RESIDENCE_STATUSES,
)
from zairyu_sync.erp_sample import (
    CLEAN,
    ERP_TABLE_COLUMNS,
    ISA_APPLICANT_KEYS,
    ISA_APPLICATION_KEYS,
    JAPANESE_STAFF,
    SCENARIOS,
    SampleErp,
    expected_situations,
    generate_sample,
    write_isa_seed,
)

pytestmark = pytest.mark.unit

CARD_RE = re.compile(r"^[A-Z]{2}[0-9]{8}[A-Z]{2}$")
RULE_CODES = CONTRACT_RULE_CODES


@pytest.fixture
def small(as_of: date) -> SampleErp:
    return generate_sample(50, as_of=as_of, seed=7)


def _current_cards(sample: SampleErp, emp_no: str) -> list[dict[str, Any]]:
    return [
        card
        for card in sample.tables["hr_residence_card"]
        if card["emp_no"] == emp_no and card["is_current"] == 1
    ]


def _the_card(sample: SampleErp, emp_no: str) -> dict[str, Any]:
    (card,) = _current_cards(sample, emp_no)
    return card


def _d(value: str) -> date:
    return date.fromisoformat(value)


def test_same_seed_gives_same_sample(as_of: date) -> None:
    first = generate_sample(120, as_of=as_of, seed=11)
    second = generate_sample(120, as_of=as_of, seed=11)
    assert first.tables == second.tables
    assert first.organization_applications == second.organization_applications
    assert first.personal_applications == second.personal_applications
    assert first.scenarios == second.scenarios
    other = generate_sample(120, as_of=as_of, seed=12)
    assert other.tables["hr_employee"] != first.tables["hr_employee"]


def test_counts(as_of: date) -> None:
    sample = generate_sample(200, as_of=as_of)
    employees = sample.tables["hr_employee"]
    nationalities = Counter(row["nationality"] for row in employees)
    assert len(employees) == 220
    assert nationalities[JAPANESE_NATIONALITY] == 20
    assert len({row["emp_no"] for row in employees}) == 220
    assert len(sample.scenarios[JAPANESE_STAFF]) == 20
    explicit = generate_sample(60, as_of=as_of, n_japanese=3)
    assert Counter(row["nationality"] for row in explicit.tables["hr_employee"])["JPN"] == 3
    assert len(explicit.tables["hr_employee"]) == 63
    assert set(sample.tables) == set(ERP_TABLE_COLUMNS)
    for name, rows in sample.tables.items():
        for row in rows:
            assert tuple(row) == ERP_TABLE_COLUMNS[name]


def test_too_small_for_every_situation_is_rejected(as_of: date) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_sample(len(SCENARIOS) - 1, as_of=as_of)


def test_every_situation_is_seeded_even_for_a_small_sample(small: SampleErp) -> None:
    expected = expected_situations(small)
    assert set(expected) == RULE_CODES
    assert all(expected[code] for code in RULE_CODES)
    for scenario in SCENARIOS:
        assert small.scenarios[scenario.name], scenario.name
    assert small.scenarios[CLEAN]
    assert small.unmatched_untracked_receipts
    assert small.not_found_receipts


def test_mostly_clean_at_scale(as_of: date) -> None:
    sample = generate_sample(2000, as_of=as_of)
    clean_share = len(sample.scenarios[CLEAN]) / 2000
    assert 0.70 <= clean_share <= 0.85
    seeded = expected_situations(sample)
    assert len(seeded["EXPIRY_APPROACHING"]) == 40  # 1.4% + 0.6% of 2000
    assert len(seeded["DATA_QUALITY"]) == 36


def test_card_numbers(small: SampleErp) -> None:
    malformed = small.scenarios["DQ_MALFORMED_CARD_NUMBER"]
    spr_code = next(
        row["erp_status_code"]
        for row in small.tables["ref_residence_status"]
        if row["canonical_code"] == "special_permanent_resident"
    )
    numbers = [card["card_no"] for card in small.tables["hr_residence_card"]]
    assert len([n for n in numbers if n is not None]) == len({n for n in numbers if n is not None})
    for card in small.tables["hr_residence_card"]:
        if card["emp_no"] in malformed and card["is_current"]:
            assert not CARD_RE.match(card["card_no"])
        elif card["status_code"] == spr_code:
            assert card["card_no"] is None
        else:
            assert CARD_RE.match(card["card_no"]), card
    for app in small.isa_applications:
        for number in (
            app["applicant"]["residence_card_number"],
            app["new_residence_card_number"],
        ):
            assert number is None or CARD_RE.match(number)


def test_isa_seed_file_structure(small: SampleErp, tmp_path: Path) -> None:
    path = tmp_path / "seed" / "isa.json"
    write_isa_seed(small, path)
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert list(payload) == ["organization_applications", "personal_applications"]
    assert payload["organization_applications"] == small.organization_applications
    assert payload["personal_applications"] == small.personal_applications
    for app in payload["organization_applications"] + payload["personal_applications"]:
        assert tuple(app) == ISA_APPLICATION_KEYS
        assert tuple(app["applicant"]) == ISA_APPLICANT_KEYS
        assert app["status"] in ISA_STATUSES
        assert app["application_type"] in APPLICATION_TYPES
        assert re.fullmatch(r"20\d\d-[A-Z]{3}-\d{7}", app["receipt_number"])
        updated = datetime.fromisoformat(app["updated_at"])
        assert updated.utcoffset() == timedelta(hours=9)
        assert updated.date() <= small.as_of
        assert _d(app["filed_on"]) <= small.as_of
        for key in ("decided_on", "granted_period_expiry", "new_card_valid_until"):
            assert app[key] is None or _d(app[key])
        assert app["requested_status"] in RESIDENCE_STATUSES
        assert app["granted_status"] is None or app["granted_status"] in RESIDENCE_STATUSES


def test_erp_and_isa_are_consistent(as_of: date) -> None:
    sample = generate_sample(400, as_of=as_of, seed=3)
    isa = {app["receipt_number"]: app for app in sample.isa_applications}
    assert len(isa) == len(sample.isa_applications)
    erp_receipts = {row["receipt_no"] for row in sample.tables["hr_visa_application"]}
    assert erp_receipts - isa.keys() == set(sample.not_found_receipts)
    not_found_owners = {
        row["emp_no"]
        for row in sample.tables["hr_visa_application"]
        if row["receipt_no"] in sample.not_found_receipts
    }
    assert not_found_owners == expected_situations(sample)["APPLICATION_NOT_FOUND"]
    # ISA applications the ERP lacks: the seeded untracked ones plus recruits abroad.
    untracked = isa.keys() - erp_receipts
    assert set(sample.unmatched_untracked_receipts) <= untracked
    organization = {app["receipt_number"] for app in sample.organization_applications}
    assert untracked <= organization
    matched_cards = {isa[r]["applicant"]["residence_card_number"] for r in untracked} - {None}
    owners = {
        card["emp_no"]
        for card in sample.tables["hr_residence_card"]
        if card["is_current"] and card["card_no"] in matched_cards
    }
    assert owners == expected_situations(sample)["APPLICATION_UNTRACKED"]
    share = len(sample.organization_applications) / len(isa)
    assert 0.7 <= share <= 0.9
    # Applicants are the ERP's employees (name, birth date, nationality).
    employees = {row["emp_no"]: row for row in sample.tables["hr_employee"]}
    by_receipt = {row["receipt_no"]: row["emp_no"] for row in sample.tables["hr_visa_application"]}
    for receipt, emp_no in by_receipt.items():
        if receipt in isa:
            applicant, employee = isa[receipt]["applicant"], employees[emp_no]
            assert applicant["full_name"] == f"{employee['family_name']} {employee['given_name']}"
            assert applicant["date_of_birth"] == employee["birth_date"]


def test_clean_employees_are_clean(as_of: date) -> None:
    sample = generate_sample(300, as_of=as_of, seed=5)
    employees = {row["emp_no"]: row for row in sample.tables["hr_employee"]}
    filings: dict[str, set[str]] = defaultdict(set)
    for filing in sample.tables["hr_hellowork_filing"]:
        filings[filing["emp_no"]].add(filing["filing_kind"])
    for emp_no in sample.scenarios[CLEAN]:
        card = _the_card(sample, emp_no)
        if card["period_expires_on"] is not None:
            assert _d(card["period_expires_on"]) > as_of + timedelta(days=90)
        if card["card_valid_until"] is not None:
            assert _d(card["card_valid_until"]) > as_of + timedelta(days=60)
        if card["card_no"] is not None:  # special permanent residents are not notified
            assert "hire" in filings[emp_no]
            if employees[emp_no]["emp_status"] == "T":
                assert "separation" in filings[emp_no]


def test_seeded_expiry_windows(small: SampleErp) -> None:
    as_of = small.as_of
    for emp_no in small.scenarios["EXPIRY_APPROACHING_CRITICAL"]:
        expiry = _d(_the_card(small, emp_no)["period_expires_on"])
        assert as_of <= expiry <= as_of + timedelta(days=13)
    for emp_no in small.scenarios["SPECIAL_PERIOD_CRITICAL"]:
        expiry = _d(_the_card(small, emp_no)["period_expires_on"])
        year, month = divmod(expiry.year * 12 + expiry.month - 1 + 2, 12)
        end = date(year, month + 1, min(expiry.day, calendar.monthrange(year, month + 1)[1]))
        assert expiry < as_of
        assert 0 <= (end - as_of).days <= 14
    pending = {
        app["receipt_number"]: app for app in small.isa_applications if app["status"] in ISA_PENDING
    }
    for emp_no in small.scenarios["SPECIAL_PERIOD"] | small.scenarios["SPECIAL_PERIOD_CRITICAL"]:
        expiry = _d(_the_card(small, emp_no)["period_expires_on"])
        filed = [
            app
            for app in small.tables["hr_visa_application"]
            if app["emp_no"] == emp_no and app["receipt_no"] in pending
        ]
        assert len(filed) == 1 and _d(filed[0]["filed_on"]) <= expiry


def _max_window(rows: list[dict[str, Any]], *, skip_vacation: bool) -> float:
    hours = {
        _d(row["work_date"]): row["hours_worked"]
        for row in rows
        if not (skip_vacation and row["long_vacation"])
    }
    days = sorted(hours)
    return max(
        (sum(hours.get(day + timedelta(days=k), 0.0) for k in range(7)) for day in days),
        default=0.0,
    )


def test_seeded_hours(small: SampleErp) -> None:
    by_emp: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in small.tables["pay_timesheet"]:
        by_emp[row["emp_no"]].append(row)
    for emp_no in small.scenarios["HOURS_LIMIT_EXCEEDED"]:
        assert _max_window(by_emp[emp_no], skip_vacation=True) > 28
    for emp_no in small.scenarios["HOURS_LIMIT_EXCEEDED_LONG_VACATION_DAY"]:
        assert max(r["hours_worked"] for r in by_emp[emp_no] if r["long_vacation"]) > 8
    for emp_no in small.scenarios["LONG_VACATION_WITHIN_LIMIT"]:
        rows = by_emp[emp_no]
        assert _max_window(rows, skip_vacation=True) <= 28
        assert _max_window(rows, skip_vacation=False) > 28  # only the vacation rule keeps it legal
        assert max(r["hours_worked"] for r in rows if r["long_vacation"]) == 8.0
    for emp_no in small.scenarios[CLEAN]:
        assert _max_window(by_emp[emp_no], skip_vacation=False) <= 28
    dates = {_d(row["work_date"]) for row in small.tables["pay_timesheet"]}
    assert min(dates) >= small.as_of - timedelta(days=27)
    assert max(dates) <= small.as_of


def test_data_quality_faults(small: SampleErp) -> None:
    (duplicate,) = small.scenarios["DQ_DUPLICATE_CURRENT_CARD"]
    assert len(_current_cards(small, duplicate)) == 2
    (missing,) = small.scenarios["DQ_MISSING_EXPIRY"]
    assert _the_card(small, missing)["period_expires_on"] is None
    (unknown,) = small.scenarios["DQ_UNKNOWN_STATUS"]
    known = {row["erp_status_code"] for row in small.tables["ref_residence_status"]}
    assert _the_card(small, unknown)["status_code"] not in known
    (student,) = small.scenarios["DQ_STUDENT_WITHOUT_ENROLLMENT"]
    assert all(row["emp_no"] != student for row in small.tables["hr_student_enrollment"])

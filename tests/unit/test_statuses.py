"""The residence status master (residence_statuses.yaml) against contract.md section 2."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.factories import employee
from zairyu_sync import canonical
from zairyu_sync.canonical import APPLICATION_COLUMNS, EMPLOYEE_COLUMNS
from zairyu_sync.config import project_path
from zairyu_sync.errors import ConfigError
from zairyu_sync.statuses import WORK_CLASSES, StatusMaster, load_statuses
from zairyu_sync.validate import ValidationOutcome, validate_snapshot

pytestmark = pytest.mark.unit

ESD = "employment_for_skill_development"
TIT = (
    "technical_intern_training_i",
    "technical_intern_training_ii",
    "technical_intern_training_iii",
)


@pytest.fixture(scope="module")
def master() -> StatusMaster:
    return load_statuses()


def test_master_has_exactly_the_contract_codes(master: StatusMaster) -> None:
    assert len(master.statuses) == len(master.codes) == 35
    assert master.codes == canonical.RESIDENCE_STATUSES


@pytest.mark.parametrize(
    ("work_class", "contract_set"),
    [
        ("unrestricted", canonical.WORK_UNRESTRICTED),
        ("within_status", canonical.WORK_WITHIN_STATUS),
        ("not_permitted", canonical.WORK_NOT_PERMITTED_WITHOUT_PERMISSION),
        ("designation", canonical.DESIGNATION_DEPENDENT),
    ],
)
def test_work_classes_agree_with_canonical(
    master: StatusMaster, work_class: str, contract_set: frozenset[str]
) -> None:
    assert master.with_work_class(work_class) == contract_set


def test_flag_sets_agree_with_canonical(master: StatusMaster) -> None:
    assert master.no_fixed_period == canonical.NO_FIXED_PERIOD
    assert master.tied_to_designated_organization == canonical.TIED_TO_DESIGNATED_ORGANIZATION
    assert master.no_residence_card == canonical.NO_RESIDENCE_CARD


def test_gx_suite_accepts_exactly_the_master_codes(master: StatusMaster) -> None:
    suite = json.loads(project_path("expectations", "employees.json").read_text(encoding="utf-8"))
    value_sets = [
        set(item["kwargs"]["value_set"])
        for item in suite["expectations"]
        if item["type"] == "expect_column_values_to_be_in_set"
        and item["kwargs"]["column"] == "residence_status"
    ]
    assert value_sets == [set(master.codes)]


@pytest.mark.parametrize(
    ("code", "name_ja", "name_en", "legal_basis_part"),
    [
        (
            "engineer_specialist_humanities_international",
            "技術・人文知識・国際業務",
            "Engineer/Specialist in Humanities/International Services",
            "Appended Table 1(2)",
        ),
        ("specified_skilled_worker_i", "特定技能1号", "Specified Skilled Worker (i)", "Table 1(2)"),
        (ESD, "育成就労", "Employment for Skill Development", "Act No. 60 of 2024"),
        ("student", "留学", "Student", "Appended Table 1(4)"),
        ("permanent_resident", "永住者", "Permanent Resident", "Appended Table 2"),
        ("special_permanent_resident", "特別永住者", "Special Permanent Resident", "入管特例法"),
        ("designated_activities", "特定活動", "Designated Activities", "Appended Table 1(5)"),
        ("diplomat", "外交", "Diplomat", "Appended Table 1(1)"),
    ],
)
def test_names_and_legal_basis(
    master: StatusMaster, code: str, name_ja: str, name_en: str, legal_basis_part: str
) -> None:
    status = master.get(code)
    assert (status.name_ja, status.name_en) == (name_ja, name_en)
    assert legal_basis_part in status.legal_basis


def test_every_status_has_names_and_a_legal_basis(master: StatusMaster) -> None:
    for status in master.statuses:
        assert status.work_class in WORK_CLASSES
        assert status.name_ja and status.name_en and status.legal_basis
        table_2 = "Appended Table 2" in status.legal_basis
        assert table_2 == (
            status.code in canonical.WORK_UNRESTRICTED - {"special_permanent_resident"}
        ), status.code


def test_skill_development_starts_2027_04_01_and_intern_training_has_no_end(
    master: StatusMaster,
) -> None:
    esd = master.get(ESD)
    assert (esd.valid_from, esd.valid_until) == (date(2027, 4, 1), None)
    assert not esd.in_force_on(date(2027, 3, 31))
    assert esd.in_force_on(date(2027, 4, 1))
    for code in TIT:
        status = master.get(code)
        assert (status.valid_from, status.valid_until) == (None, None)
        assert status.in_force_on(date(2030, 1, 1))
        assert status.note is not None
        assert "UNCERTAIN" in status.note and "2027-04-01" in status.note
    assert master.not_in_force_on(date(2027, 3, 31)) == {ESD}
    assert master.not_in_force_on(date(2027, 4, 1)) == frozenset()


def test_only_skill_development_has_validity_dates(master: StatusMaster) -> None:
    dated = {s.code for s in master.statuses if s.valid_from or s.valid_until}
    assert dated == {ESD}


def _document(**overrides: Any) -> str:
    entry: dict[str, Any] = {
        "code": "student",
        "name_ja": "留学",
        "name_en": "Student",
        "work_class": "not_permitted",
        "fixed_period": True,
        "designation": False,
        "residence_card": True,
        "valid_from": None,
        "valid_until": None,
        "legal_basis": "入管法 Appended Table 1(4)",
        "note": None,
    }
    entry.update(overrides)
    entry = {key: value for key, value in entry.items() if value != "<drop>"}
    return yaml.safe_dump({"version": 3, "statuses": [entry]}, allow_unicode=True)


def test_loading_a_small_valid_document() -> None:
    master = load_statuses(_document(valid_from="2020-01-01", valid_until="2020-12-31"))
    assert master.version == 3
    assert master.get("student").valid_until == date(2020, 12, 31)
    assert master.not_in_force_on(date(2021, 1, 1)) == {"student"}
    with pytest.raises(KeyError):
        master.get("professor")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("statuses: [", "not valid YAML"),
        ("- a\n- b\n", "'statuses' list"),
        (_document(work_class="sometimes"), "work_class must be one of"),
        (_document(fixed_period="yes"), "'fixed_period' must be true or false"),
        (_document(name_en=" "), "'name_en' must be a non-empty string"),
        (_document(note="<drop>"), "missing fields ['note']"),
        (_document(colour="red"), "unknown fields ['colour']"),
        (_document(valid_from="2027-13-01"), "'valid_from' must be a YYYY-MM-DD date"),
        (
            _document(valid_from="2027-04-01", valid_until="2027-03-31"),
            "valid_from is after valid_until",
        ),
    ],
)
def test_invalid_documents_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_statuses(text)
    assert message in str(caught.value)


def test_duplicated_codes_are_rejected() -> None:
    entry = yaml.safe_load(_document())["statuses"][0]
    text = yaml.safe_dump({"statuses": [entry, entry]}, allow_unicode=True)
    with pytest.raises(ConfigError, match="duplicated codes: student"):
        load_statuses(text)


# --- validation: a status not yet in force is quarantined ----------------------------------------


def _validate(as_of: date | None) -> ValidationOutcome:
    esd = {"residence_status": ESD, "designated_organization_id": "TKY01"}
    return validate_snapshot(
        pd.DataFrame(
            [employee("E1"), employee("E2", **esd), employee("E3", residence_status=TIT[0])],
            columns=list(EMPLOYEE_COLUMNS),
        ),
        pd.DataFrame(columns=list(APPLICATION_COLUMNS)),
        as_of=as_of,
    )


@pytest.mark.parametrize(
    ("as_of", "quarantined"),
    [
        (date(2027, 3, 31), ["E2"]),  # the day before Employment for Skill Development starts
        (date(2027, 4, 1), []),  # its first day
        (date(2031, 1, 1), []),  # Technical Intern Training stays valid (transition uncertain)
        (None, []),  # no as-of date: no date check
    ],
)
def test_status_not_in_force_is_quarantined(as_of: date | None, quarantined: list[str]) -> None:
    outcome = _validate(as_of)
    q = outcome.quarantine
    assert q["employee_id"].tolist() == quarantined
    if quarantined:
        assert q["reason_codes"].tolist() == ["STATUS_NOT_IN_FORCE"]
        assert q["row_number"].tolist() == [2]
        assert "not in force" in q["reasons"].iloc[0]
    assert outcome.counts["employees"] == {
        "extracted": 3,
        "valid": 3 - len(quarantined),
        "quarantined": len(quarantined),
        "ignored": 0,
    }
    assert sorted(outcome.employees["employee_id"]) == sorted({"E1", "E2", "E3"} - set(quarantined))

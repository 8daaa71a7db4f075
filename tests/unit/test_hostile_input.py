"""Hostile and broken input: a corpus of bad ERP rows and bad ISA payloads.

Every case says what must happen to the row: quarantined with a reason code, normalised by a
documented rule of :mod:`zairyu_sync.validate`, carried unchanged as text, or ignored. The
employee cases run through one ``validate_snapshot`` call (GX costs ~0.3 s per call), each case on
its own row, and the tests then look up their row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import ValidationError as PydanticValidationError

from tests.factories import CARD, NAME, employee
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    EMPLOYEE_DATE_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.errors import InputError
from zairyu_sync.immigration.models import Application
from zairyu_sync.snapshot_files import read_input_snapshot
from zairyu_sync.validate import ValidationOutcome, validate_snapshot

pytestmark = pytest.mark.unit

AS_OF = date(2026, 11, 25)
BIRTH = "1995-04-02"
SQL_FRAGMENTS = ("'; DROP TABLE employees; --", '" OR 1=1 --')
HUGE = "\u3042" * 10_240  # 10 k characters, 30 kB of UTF-8

#: What garbage text in each employee column leads to: a reason code, or None = carried as text.
GARBAGE_OUTCOME: dict[str, str | None] = {
    "employee_id": None,
    "organization_id": None,
    "full_name": None,
    "nationality": "NATIONALITY_INVALID",
    "employment_status": "EMPLOYMENT_STATUS_INVALID",
    "job_category": None,
    "employment_insured": "BOOLEAN_INVALID",
    "residence_status": "RESIDENCE_STATUS_UNKNOWN",
    "residence_card_number": "CARD_NUMBER_MALFORMED",
    "outside_status_permission": "OUTSIDE_STATUS_PERMISSION_INVALID",
    "designated_work_permitted": "BOOLEAN_INVALID",
    "designated_organization_id": None,
    "compliance_owner": None,
    **dict.fromkeys(EMPLOYEE_DATE_COLUMNS, "DATE_UNPARSEABLE"),
}
#: What a null in each employee column leads to (clean engineer row otherwise).
NULL_OUTCOME: dict[str, str | None] = {
    **dict.fromkeys(EMPLOYEE_COLUMNS),
    "employee_id": "EMPLOYEE_ID_MISSING",
    "nationality": "NATIONALITY_MISSING",
    "employment_status": "EMPLOYMENT_STATUS_INVALID",
    "hire_date": "HIRE_DATE_MISSING",
    "residence_status": "RESIDENCE_STATUS_UNKNOWN",
    "period_of_stay_expiry": "EXPIRY_MISSING",
    "residence_card_number": "CARD_NUMBER_MISSING",
}


@dataclass(frozen=True)
class Case:
    """One corpus entry: column overrides of a clean row and the expected outcome.

    ``reason`` set: the row is quarantined with (at least) that code. ``reason`` None: the row is
    valid and ``check`` (if any) holds on its typed values.
    """

    name: str
    overrides: dict[str, Any]
    reason: str | None = None
    check: Callable[[pd.Series], bool] | None = None


def _is(column: str, value: Any) -> Callable[[pd.Series], bool]:
    return lambda row: bool(row[column] == value)


def _employee_cases() -> list[Case]:
    cases = [
        Case(f"null {column}", {column: None}, reason)
        for column, reason in NULL_OUTCOME.items()
        if column != "employee_id"
    ]
    cases += [
        Case(f"10k string in {column}", {column: HUGE}, reason)
        for column, reason in GARBAGE_OUTCOME.items()
        if column != "employee_id"
    ]
    cases += [
        Case(f"sql fragment {i} in {column}", {column: fragment}, reason)
        for column, reason in GARBAGE_OUTCOME.items()
        if column != "employee_id"
        for i, fragment in enumerate(SQL_FRAGMENTS)
    ]
    cases += [
        # wrong types: every non-missing value becomes str (rule 1)
        Case(
            "int in employee_id column", {"employee_id": 424242}, None, _is("employee_id", "424242")
        ),
        Case("bool in full_name", {"full_name": True}, None, _is("full_name", "True")),
        Case("float in job_category", {"job_category": 3.5}, None, _is("job_category", "3.5")),
        Case("bool in hire_date", {"hire_date": True}, "DATE_UNPARSEABLE"),
        Case("int in hire_date", {"hire_date": 20261125}, "DATE_UNPARSEABLE"),
        Case("text in hire_date", {"hire_date": "yesterday"}, "DATE_UNPARSEABLE"),
        Case("int in nationality", {"nationality": 704}, "NATIONALITY_INVALID"),
        Case(
            "date object in hire_date",
            {"hire_date": date(2024, 4, 1)},
            None,
            _is("hire_date", pd.Timestamp("2024-04-01")),
        ),
        Case("NaN in hire_date", {"hire_date": float("nan")}, "HIRE_DATE_MISSING"),
        Case("NaT in hire_date", {"hire_date": pd.NaT}, "HIRE_DATE_MISSING"),
        # impossible and out-of-range dates
        Case("2026-02-30", {"hire_date": "2026-02-30"}, "DATE_UNPARSEABLE"),
        Case("2026-13-01", {"hire_date": "2026-13-01"}, "DATE_UNPARSEABLE"),
        Case("2026/11/25", {"hire_date": "2026/11/25"}, "DATE_UNPARSEABLE"),
        Case("20261125", {"card_valid_until": "20261125"}, "DATE_UNPARSEABLE"),
        Case("0000-01-01", {"date_of_birth": "0000-01-01"}, "DATE_UNPARSEABLE"),
        Case("9999-12-31 sentinel", {"period_of_stay_expiry": "9999-12-31"}, "DATE_OUT_OF_RANGE"),
        Case("0001-01-01", {"date_of_birth": "0001-01-01"}, "DATE_OUT_OF_RANGE"),
        Case("1600-01-01", {"date_of_birth": "1600-01-01"}, "DATE_OUT_OF_RANGE"),
        Case("full-width date", {"hire_date": "２０２４-０４-０１"}, "DATE_UNPARSEABLE"),
        Case("timestamp not date", {"hire_date": "2024-04-01T00:00:00"}, "DATE_UNPARSEABLE"),
        # normalisation: NFKC + upper for card and nationality, trim, lower-case codes
        Case(
            "full-width card",
            {"residence_card_number": "ＡＢ１２３４５６７８ＣＤ"},
            None,
            _is("residence_card_number", CARD),
        ),
        Case(
            "lower-case card",
            {"residence_card_number": " ab12345678cd "},
            None,
            _is("residence_card_number", CARD),
        ),
        Case("full-width nationality", {"nationality": "ｖｎｍ"}, None, _is("nationality", "VNM")),
        Case(
            "spaces around codes",
            {"employment_status": "\u3000 ACTIVE \t", "employee_id": "  E-TRIM  "},
            None,
            lambda row: row["employment_status"] == "active" and row["employee_id"] == "E-TRIM",
        ),
        Case("blank as null", {"hire_date": "   "}, "HIRE_DATE_MISSING"),
        # encodings, control characters, emoji, bidi marks
        Case(
            "mojibake name", {"full_name": "NGUYá»„N VÄ‚N"}, None, _is("full_name", "NGUYá»„N VÄ‚N")
        ),
        Case("emoji name", {"full_name": "AN 😀"}, None, _is("full_name", "AN 😀")),
        Case("NUL in name", {"full_name": "NGUYEN\x00AN"}, "CONTROL_CHARACTER"),
        Case("bell in organization", {"organization_id": "TKY\x0701"}, "CONTROL_CHARACTER"),
        Case("newline in card", {"residence_card_number": "AB1234\n5678CD"}, "CONTROL_CHARACTER"),
        Case(
            "C1 control in owner", {"compliance_owner": "hr\x85@example.co.jp"}, "CONTROL_CHARACTER"
        ),
        Case(
            "RTL override in card",
            {"residence_card_number": "\u202eAB12345678CD"},
            "CARD_NUMBER_MALFORMED",
        ),
        Case(
            "zero-width space in card",
            {"residence_card_number": "AB1234\u200b5678CD"},
            "CARD_NUMBER_MALFORMED",
        ),
        Case("emoji in status", {"residence_status": "student😀"}, "RESIDENCE_STATUS_UNKNOWN"),
        Case("RLM in status", {"residence_status": "\u200fstudent"}, "RESIDENCE_STATUS_UNKNOWN"),
        Case(
            "lone surrogate in name",
            {"full_name": "A\ud800B"},
            None,
            lambda row: "\ud800" not in row["full_name"] and "\ufffd" in row["full_name"],
        ),
        # unknown codes
        Case(
            "unknown residence status",
            {"residence_status": "tokutei_katsudo"},
            "RESIDENCE_STATUS_UNKNOWN",
        ),
        Case("two-letter nationality", {"nationality": "VN"}, "NATIONALITY_INVALID"),
        Case(
            "unknown permission",
            {"outside_status_permission": "sometimes"},
            "OUTSIDE_STATUS_PERMISSION_INVALID",
        ),
        Case(
            "unknown employment status",
            {"employment_status": "retired"},
            "EMPLOYMENT_STATUS_INVALID",
        ),
        Case("boolean as yes", {"employment_insured": "yes"}, "BOOLEAN_INVALID"),
        # cross-field dates
        Case(
            "termination before hire",
            {"termination_date": "2023-01-31", "employment_status": "terminated"},
            "TERMINATION_BEFORE_HIRE",
        ),
        Case(
            "termination on hire day is possible",
            {"termination_date": "2024-04-01", "employment_status": "terminated"},
            None,
        ),
        Case(
            "future hire date is a pre-registered new hire",
            {"hire_date": "2027-01-05", "hellowork_hire_notified_on": None},
            None,
            _is("hire_date", pd.Timestamp("2027-01-05")),
        ),
        Case(
            "expiry before hire is a rule finding, not bad data",
            {"period_of_stay_expiry": "2024-01-31"},
            None,
        ),
        Case(
            "status not in force on the as-of date",
            {"residence_status": "employment_for_skill_development"},
            "STATUS_NOT_IN_FORCE",
        ),
    ]
    return cases


EMPLOYEE_CASES = _employee_cases()


@dataclass(frozen=True)
class Corpus:
    outcome: ValidationOutcome
    #: case name -> (1-based row number, employee_id given to the row)
    rows: dict[str, tuple[int, str]]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    rows: list[dict[str, Any]] = [employee("CLEAN")]
    where: dict[str, tuple[int, str]] = {}
    for index, case in enumerate(EMPLOYEE_CASES):
        employee_id = f"H{index:03d}"
        row = employee(employee_id)
        row.update(case.overrides)
        rows.append(row)
        where[case.name] = (len(rows), employee_id)
    # garbage in employee_id itself: unique per row, carried as text
    for fragment in (*SQL_FRAGMENTS, HUGE):
        rows.append(employee(fragment))
        where[f"garbage employee_id {len(rows)}"] = (len(rows), fragment)
    # duplicate key: both rows quarantined
    rows += [employee("DUP"), employee("DUP", residence_card_number="XY87654321ZW")]
    # a JPN row is ignored whatever it holds
    rows.append(employee("J1", nationality="jpn", hire_date="garbage", residence_status=None))
    frame = pd.DataFrame(rows, columns=list(EMPLOYEE_COLUMNS), dtype=object)
    outcome = validate_snapshot(frame, pd.DataFrame(columns=list(APPLICATION_COLUMNS)), as_of=AS_OF)
    return Corpus(outcome=outcome, rows=where)


def _reasons(outcome: ValidationOutcome, table: str = "employees") -> dict[int, set[str]]:
    q = outcome.quarantine[outcome.quarantine["source_table"] == table]
    return {
        int(row): set(str(codes).split(","))
        for row, codes in zip(q["row_number"], q["reason_codes"], strict=True)
    }


def test_corpus_is_big_enough() -> None:
    assert len(EMPLOYEE_CASES) >= 50
    assert len({case.name for case in EMPLOYEE_CASES}) == len(EMPLOYEE_CASES)


@pytest.mark.parametrize("case", EMPLOYEE_CASES, ids=lambda case: case.name)
def test_employee_case(corpus: Corpus, case: Case) -> None:
    row_number, employee_id = corpus.rows[case.name]
    reasons = _reasons(corpus.outcome)
    if case.reason is not None:
        assert case.reason in reasons.get(row_number, set()), reasons.get(row_number)
        return
    assert row_number not in reasons, reasons[row_number]
    valid = corpus.outcome.employees
    expected_id = str(case.overrides.get("employee_id", employee_id)).strip()
    match = valid[valid["employee_id"] == expected_id]
    assert len(match) == 1
    if case.check is not None:
        assert case.check(match.iloc[0])


def test_garbage_employee_ids_are_carried_verbatim(corpus: Corpus) -> None:
    valid_ids = set(corpus.outcome.employees["employee_id"])
    assert set(SQL_FRAGMENTS) <= valid_ids
    assert HUGE in valid_ids


def test_duplicates_and_ignored_rows(corpus: Corpus) -> None:
    reasons = _reasons(corpus.outcome)
    total = len(EMPLOYEE_CASES) + 1 + 3
    assert reasons[total + 1] == {"EMPLOYEE_ID_DUPLICATED"}
    assert reasons[total + 2] == {"EMPLOYEE_ID_DUPLICATED"}
    assert total + 3 not in reasons  # the JPN row: ignored, never quarantined
    assert corpus.outcome.counts["employees"]["ignored"] == 1


def test_corpus_counts_add_up(corpus: Corpus) -> None:
    counts = corpus.outcome.counts["employees"]
    expected_bad = sum(case.reason is not None for case in EMPLOYEE_CASES) + 2
    assert counts["extracted"] == len(EMPLOYEE_CASES) + 1 + 3 + 2 + 1
    assert counts["quarantined"] == expected_bad
    assert counts["extracted"] == counts["valid"] + counts["quarantined"] + counts["ignored"]
    assert len(corpus.outcome.quarantine) == counts["quarantined"]


def test_no_pii_in_quarantine_reasons(corpus: Corpus) -> None:
    text = " ".join(corpus.outcome.quarantine["reasons"].astype(str))
    text += " ".join(corpus.outcome.quarantine["reason_codes"].astype(str))
    for secret in (NAME, CARD, BIRTH, "NGUYEN\x00AN", "AB1234\n5678CD", "1995", "XY87654321ZW"):
        assert secret not in text
    assert all(corpus.outcome.quarantine["reasons"].str.len() < 2_000)


# --- applications and timesheets ------------------------------------------------------------


def _app(employee_id: str | None, receipt: str | None, **overrides: Any) -> dict[str, Any]:
    row = {
        "employee_id": employee_id,
        "receipt_number": receipt,
        "application_type": "extension",
        "filed_on": "2026-10-01",
    }
    row.update(overrides)
    return row


def _ts(
    employee_id: str, hours: Any, day: str | None = "2026-11-02", **overrides: Any
) -> dict[str, Any]:
    row = {"employee_id": employee_id, "work_date": day, "hours": hours, "is_long_vacation": None}
    row.update(overrides)
    return row


APPLICATION_CASES: list[tuple[dict[str, Any], str | None]] = [
    (_app("E1", "R01"), None),
    (_app("E1", None), "RECEIPT_NUMBER_MISSING"),
    (_app(None, "R03"), "EMPLOYEE_ID_MISSING"),
    (_app("E1", "R04", application_type="visa_please"), "APPLICATION_TYPE_INVALID"),
    (_app("E1", "R05", application_type=None), "APPLICATION_TYPE_INVALID"),
    (_app("E1", "R06", application_type=" EXTENSION "), None),
    (_app("E1", "R07", filed_on="2026-02-30"), "DATE_UNPARSEABLE"),
    (_app("E1", "R08", filed_on=None), "FILED_ON_MISSING"),
    (_app("E1", "R09", filed_on="9999-12-31"), "DATE_OUT_OF_RANGE"),
    (_app("E404", "R10"), "ORPHAN_APPLICATION"),
    (_app("E1", "R-DUP"), "RECEIPT_NUMBER_DUPLICATED"),
    (_app("E1", "R-DUP"), "RECEIPT_NUMBER_DUPLICATED"),
    (_app("E1", SQL_FRAGMENTS[0]), None),
    (_app("E1", "R14\x00"), "CONTROL_CHARACTER"),
    (_app("EBAD", "R15"), "ignored"),  # application of a quarantined employee
    (_app("J1", "R16", filed_on="garbage"), "ignored"),  # application of a JPN employee
]
TIMESHEET_CASES: list[tuple[dict[str, Any], str | None]] = [
    (_ts("E1", "8"), None),
    (_ts("E1", " 7.5 ", "2026-11-03"), None),
    (_ts("E1", "-1", "2026-11-04"), "HOURS_INVALID"),
    (_ts("E1", "25", "2026-11-05"), "HOURS_INVALID"),
    (_ts("E1", "24.5", "2026-11-06"), "HOURS_INVALID"),
    (_ts("E1", "NaN", "2026-11-07"), "HOURS_INVALID"),
    (_ts("E1", float("nan"), "2026-11-08"), "HOURS_INVALID"),
    (_ts("E1", "eight", "2026-11-09"), "HOURS_INVALID"),
    (_ts("E1", "８", "2026-11-10"), "HOURS_INVALID"),
    (_ts("E1", "1e1", "2026-11-11"), "HOURS_INVALID"),
    (_ts("E1", 6, "2026-11-12"), None),
    (_ts("E1", "4", "2026-11-12"), None),  # duplicate day: shifts, summed per day by the rules
    (_ts("E1", "8", None), "WORK_DATE_MISSING"),
    (_ts("E1", "8", "2026-11-31"), "DATE_UNPARSEABLE"),
    (_ts("E1", "8", "2026-11-13", is_long_vacation="maybe"), "BOOLEAN_INVALID"),
    (_ts("E404", "8"), "ORPHAN_TIMESHEET"),
    (_ts("EBAD", "8"), "ignored"),
]


@pytest.fixture(scope="module")
def side_tables() -> ValidationOutcome:
    return validate_snapshot(
        pd.DataFrame(
            [
                employee("E1"),
                employee("EBAD", residence_card_number="bad"),
                employee("J1", nationality="JPN"),
            ],
            columns=list(EMPLOYEE_COLUMNS),
            dtype=object,
        ),
        pd.DataFrame(
            [row for row, _ in APPLICATION_CASES], columns=list(APPLICATION_COLUMNS), dtype=object
        ),
        pd.DataFrame(
            [row for row, _ in TIMESHEET_CASES], columns=list(TIMESHEET_COLUMNS), dtype=object
        ),
        as_of=AS_OF,
    )


@pytest.mark.parametrize(
    ("table", "cases"), [("applications", APPLICATION_CASES), ("timesheets", TIMESHEET_CASES)]
)
def test_side_table_cases(
    side_tables: ValidationOutcome, table: str, cases: list[tuple[dict[str, Any], str | None]]
) -> None:
    reasons = _reasons(side_tables, table)
    expected = {
        number: reason
        for number, (_, reason) in enumerate(cases, start=1)
        if reason not in (None, "ignored")
    }
    for number, reason in expected.items():
        assert reason in reasons.get(number, set()), (number, reasons.get(number))
    assert set(reasons) == set(expected)
    counts = side_tables.counts[table]
    assert counts == {
        "extracted": len(cases),
        "valid": sum(reason is None for _, reason in cases),
        "quarantined": len(expected),
        "ignored": sum(reason == "ignored" for _, reason in cases),
    }


def test_side_table_normalisation(side_tables: ValidationOutcome) -> None:
    apps = side_tables.applications.set_index("receipt_number")
    assert apps.loc["R06", "application_type"] == "extension"
    assert SQL_FRAGMENTS[0] in apps.index  # carried as text, inert
    ts = side_tables.timesheets
    assert ts["hours"].tolist() == [8.0, 7.5, 6.0, 4.0]
    assert (ts["work_date"] == pd.Timestamp("2026-11-12")).sum() == 2


# --- the real extract path: SQL fragments in the ERP are inert --------------------------------


@pytest.fixture
def sqlite_erp(tmp_path: Path) -> Iterator[sa.Engine]:
    from zairyu_sync.erp_sample import generate_sample, write_erp

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    write_erp(generate_sample(36, as_of=AS_OF, seed=3, n_japanese=2), engine)
    yield engine
    engine.dispose()


def test_sql_fragments_through_sqlite_extract_are_inert(sqlite_erp: sa.Engine) -> None:
    from zairyu_sync.extract import extract_snapshot

    with sqlite_erp.connect() as conn:
        org = conn.execute(sa.text("SELECT org_code FROM hr_organization LIMIT 1")).scalar_one()
        tables_before = set(sa.inspect(conn).get_table_names())
    hostile = {
        "X1": ("'; DROP TABLE employees; --", "Robert'); DROP TABLE hr_employee;--"),
        'X2" OR 1=1': ('" OR 1=1 --', "x' OR '1'='1"),
    }
    with sqlite_erp.begin() as conn:
        for number, (family, given) in hostile.items():
            conn.execute(
                sa.text(
                    "INSERT INTO hr_employee (emp_no, org_code, family_name, given_name, "
                    "nationality, birth_date, emp_status, hired_on, koyo_hoken) VALUES "
                    "(:emp_no, :org, :family, :given, 'VNM', '1990-01-01', 'A', '2024-04-01', 1)"
                ),
                {"emp_no": number, "org": org, "family": family, "given": given},
            )
        n_employees = conn.execute(sa.text("SELECT COUNT(*) FROM hr_employee")).scalar_one()
    snapshot = extract_snapshot(sqlite_erp, as_of=AS_OF)
    names = dict(
        zip(snapshot.employees["employee_id"], snapshot.employees["full_name"], strict=True)
    )
    assert names["X1"] == "'; DROP TABLE employees; -- Robert'); DROP TABLE hr_employee;--"
    assert names['X2" OR 1=1'] == "\" OR 1=1 -- x' OR '1'='1"
    outcome = validate_snapshot(
        snapshot.employees, snapshot.applications, snapshot.timesheets, as_of=AS_OF
    )
    # no residence card row: quarantined for it, with the hostile text never in the reasons
    reasons = _reasons(outcome)
    hostile_rows = outcome.quarantine[outcome.quarantine["employee_id"].isin(list(hostile))]
    assert len(hostile_rows) == 2
    assert all("CARD_NUMBER_MISSING" in codes for codes in hostile_rows["reason_codes"])
    assert not hostile_rows["reasons"].str.contains("DROP", regex=False).any()
    assert reasons  # sanity: the sample's own seeded problems are there too
    with sqlite_erp.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) == tables_before
        assert conn.execute(sa.text("SELECT COUNT(*) FROM hr_employee")).scalar_one() == n_employees
    counts = outcome.counts["employees"]
    assert counts["extracted"] == counts["valid"] + counts["quarantined"] + counts["ignored"]


# --- bad ISA payloads ---------------------------------------------------------------------------


def _isa(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "receipt_number": "R01",
        "application_type": "extension",
        "status": "UNDER_EXAMINATION",
        "filed_on": "2026-10-01",
        "applicant": {
            "full_name": NAME,
            "date_of_birth": BIRTH,
            "nationality": "VNM",
            "residence_card_number": CARD,
        },
        "updated_at": "2026-11-20T09:00:00+09:00",
    }
    item.update(overrides)
    return {key: value for key, value in item.items() if value is not _DROP}


_DROP = object()
BAD_PAYLOADS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown status", _isa(status="APPROVED_MAYBE"), "status"),
    ("lower-case status", _isa(status="permitted"), "status"),
    ("status as number", _isa(status=3), "status"),
    ("receipt as number", _isa(receipt_number=12345), "receipt_number"),
    ("empty receipt", _isa(receipt_number=""), "receipt_number"),
    ("huge receipt", _isa(receipt_number="R" * 100_000), "receipt_number"),
    ("missing receipt", _isa(receipt_number=_DROP), "receipt_number"),
    ("missing status", _isa(status=_DROP), "status"),
    ("missing updated_at", _isa(updated_at=_DROP), "updated_at"),
    ("naive timestamp", _isa(updated_at="2026-11-20T09:00:00"), "updated_at"),
    ("slash date", _isa(filed_on="2026/10/01"), "filed_on"),
    ("impossible date", _isa(filed_on="2026-02-30"), "filed_on"),
    ("date as number", _isa(filed_on=20261001), "filed_on"),
    ("extra field", _isa(granted_expiry="2027-10-01"), "granted_expiry"),
    ("nested garbage", _isa(applicant={"full_name": {"a": [1, 2]}}), "applicant.full_name"),
    ("applicant extra field", _isa(applicant={"passport": "X"}), "applicant.passport"),
    ("applicant as list", _isa(applicant=[NAME, CARD]), "applicant"),
    ("type unknown", _isa(application_type="visa"), "application_type"),
    ("bool in card", _isa(new_residence_card_number=True), "new_residence_card_number"),
]


@pytest.mark.parametrize(
    ("name", "payload", "field"), BAD_PAYLOADS, ids=[c[0] for c in BAD_PAYLOADS]
)
def test_bad_api_payload_is_rejected_by_the_model(
    name: str, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(PydanticValidationError) as caught:
        Application.model_validate_json(json.dumps(payload))
    locations = {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}
    assert field in locations


@pytest.mark.parametrize(
    ("name", "payload", "field"), BAD_PAYLOADS, ids=[c[0] for c in BAD_PAYLOADS]
)
def test_bad_api_payload_in_a_snapshot_is_a_clear_input_error(
    tmp_path: Path, name: str, payload: dict[str, Any], field: str
) -> None:
    (tmp_path / "employees.csv").write_text(",".join(EMPLOYEE_COLUMNS) + "\n", encoding="utf-8")
    (tmp_path / "applications.csv").write_text(
        ",".join(APPLICATION_COLUMNS) + "\n", encoding="utf-8"
    )
    (tmp_path / "isa_applications.json").write_text(
        json.dumps([_isa(receipt_number="R00"), payload]), encoding="utf-8"
    )
    with pytest.raises(InputError) as caught:
        read_input_snapshot(tmp_path)
    message = str(caught.value)
    assert "item 1" in message and field in message
    for secret in (NAME, CARD, BIRTH, "R" * 100):
        assert secret not in message


@pytest.mark.parametrize(
    "document",
    ["{}", "null", '"text"', "[1, 2]", "[[]]", "{not json", '[{"receipt_number": "R1"}]'],
)
def test_malformed_isa_documents_raise_input_error(tmp_path: Path, document: str) -> None:
    (tmp_path / "employees.csv").write_text(",".join(EMPLOYEE_COLUMNS) + "\n", encoding="utf-8")
    (tmp_path / "applications.csv").write_text(
        ",".join(APPLICATION_COLUMNS) + "\n", encoding="utf-8"
    )
    (tmp_path / "isa_applications.json").write_text(document, encoding="utf-8")
    with pytest.raises(InputError, match="isa_applications.json"):
        read_input_snapshot(tmp_path)


def test_valid_isa_payload_passes() -> None:
    model = Application.model_validate_json(json.dumps(_isa()))
    assert model.status == "UNDER_EXAMINATION"
    assert model.filed_on == date(2026, 10, 1)

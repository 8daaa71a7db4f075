"""Reading an input snapshot directory (contract.md section 1) for ``zairyu-sync reconcile``."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.factories import CARD, NAME, employee
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.errors import InputError
from zairyu_sync.snapshot_files import InputSnapshot, read_input_snapshot

pytestmark = pytest.mark.unit

BIRTH_DATE = "1995-04-02"
NEW_CARD = "ZZ87654321YY"
#: Values that must never appear in an error message (personal data and other cell values).
SECRETS = (CARD, NAME, BIRTH_DATE, NEW_CARD, "ISA-SECRET-NAME", "hr-tokyo@example.co.jp")


def isa_application(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "receipt_number": "2026-TKY-0000001",
        "application_type": "extension",
        "status": "COMPLETED",
        "filed_on": "2026-01-10",
        "decided_on": "2026-02-20",
        "applicant": {
            "full_name": "ISA-SECRET-NAME",
            "date_of_birth": BIRTH_DATE,
            "nationality": "VNM",
            "residence_card_number": CARD,
        },
        "requested_status": "engineer_specialist_humanities_international",
        "granted_status": "engineer_specialist_humanities_international",
        "granted_period_expiry": "2029-03-31",
        "new_residence_card_number": NEW_CARD,
        "new_card_valid_until": "2029-03-31",
        "additional_documents_due": None,
        "updated_at": "2026-02-21T09:30:00+09:00",
    }
    item.update(overrides)
    return item


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_rows(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    write_csv(
        path, columns, [["" if row.get(c) is None else row[c] for c in columns] for row in rows]
    )


@pytest.fixture
def snapshot_dir(tmp_path: Path) -> Path:
    """A good snapshot: two employees, one application, two timesheet rows, one ISA object."""
    write_rows(
        tmp_path / "employees.csv",
        EMPLOYEE_COLUMNS,
        [employee("E1"), employee("E2", residence_card_number="CD12345678EF", job_category="NA")],
    )
    write_csv(
        tmp_path / "applications.csv",
        APPLICATION_COLUMNS,
        [["E1", " 2026-TKY-0000001 ", "extension", "2026-01-10"]],
    )
    write_csv(
        tmp_path / "timesheets.csv",
        TIMESHEET_COLUMNS,
        [["E1", "2026-11-20", "7.5", "false"], ["E1", "2026-11-21", "4", ""]],
    )
    (tmp_path / "isa_applications.json").write_text(
        json.dumps([isa_application()], ensure_ascii=False), encoding="utf-8"
    )
    return tmp_path


def test_good_directory_reads_canonical_text_frames(snapshot_dir: Path) -> None:
    snapshot = read_input_snapshot(snapshot_dir)

    assert isinstance(snapshot, InputSnapshot)
    assert tuple(snapshot.employees.columns) == EMPLOYEE_COLUMNS
    assert tuple(snapshot.applications.columns) == APPLICATION_COLUMNS
    assert tuple(snapshot.timesheets.columns) == TIMESHEET_COLUMNS
    assert tuple(snapshot.isa_applications.columns) == ISA_APPLICATION_COLUMNS
    for frame in (snapshot.employees, snapshot.applications, snapshot.timesheets):
        assert {str(dtype) for dtype in frame.dtypes} == {"object"}
    first = snapshot.employees.iloc[0].to_dict()
    assert first["employee_id"] == "E1"
    assert first["residence_card_number"] == CARD
    assert first["period_of_stay_expiry"] == "2028-03-31"
    assert first["termination_date"] is None  # empty cell -> None
    assert snapshot.employees["employee_id"].tolist() == ["E1", "E2"]
    assert snapshot.timesheets.to_dict("records") == [
        {
            "employee_id": "E1",
            "work_date": "2026-11-20",
            "hours": "7.5",
            "is_long_vacation": "false",
        },
        {"employee_id": "E1", "work_date": "2026-11-21", "hours": "4", "is_long_vacation": None},
    ]
    # values are kept as written (validation normalises them, not the reader)
    assert snapshot.applications["receipt_number"].tolist() == [" 2026-TKY-0000001 "]
    assert snapshot.erp_receipt_numbers() == ["2026-TKY-0000001"]


def test_isa_objects_are_validated_and_flattened(snapshot_dir: Path) -> None:
    isa = read_input_snapshot(snapshot_dir).isa_applications

    assert len(isa) == 1
    row = isa.iloc[0].to_dict()
    assert row["receipt_number"] == "2026-TKY-0000001"
    assert row["status"] == "COMPLETED"
    assert row["applicant_full_name"] == "ISA-SECRET-NAME"
    assert row["applicant_date_of_birth"] == BIRTH_DATE
    assert row["applicant_residence_card_number"] == CARD
    assert row["new_residence_card_number"] == NEW_CARD
    assert row["additional_documents_due"] is None
    assert row["updated_at"] == "2026-02-21T09:30:00+09:00"


def test_na_and_null_text_survive_as_text(snapshot_dir: Path) -> None:
    write_csv(
        snapshot_dir / "applications.csv",
        APPLICATION_COLUMNS,
        [["E1", "NA", "null", "2026-01-10"], ["E2", "N/A", "NaN", ""]],
    )
    snapshot = read_input_snapshot(snapshot_dir)

    assert snapshot.applications["receipt_number"].tolist() == ["NA", "N/A"]
    assert snapshot.applications["application_type"].tolist() == ["null", "NaN"]
    assert snapshot.applications["filed_on"].tolist() == ["2026-01-10", None]
    assert snapshot.employees.loc[1, "job_category"] == "NA"
    assert snapshot.erp_receipt_numbers() == ["N/A", "NA"]


def test_timesheets_are_optional(snapshot_dir: Path) -> None:
    (snapshot_dir / "timesheets.csv").unlink()

    snapshot = read_input_snapshot(snapshot_dir)

    assert snapshot.timesheets.empty
    assert tuple(snapshot.timesheets.columns) == TIMESHEET_COLUMNS
    assert len(snapshot.employees) == 2


def test_empty_isa_array_gives_an_empty_frame_with_the_columns(snapshot_dir: Path) -> None:
    (snapshot_dir / "isa_applications.json").write_text("[]", encoding="utf-8")

    isa = read_input_snapshot(snapshot_dir).isa_applications

    assert isa.empty
    assert tuple(isa.columns) == ISA_APPLICATION_COLUMNS


def test_extra_columns_are_ignored_with_a_warning(
    snapshot_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    header = ["note", *reversed(APPLICATION_COLUMNS), "memo"]
    write_csv(
        snapshot_dir / "applications.csv",
        header,
        [["free text", "2026-01-10", "change", "R9", "E2", "x"]],
    )

    with caplog.at_level(logging.WARNING, logger="zairyu_sync.snapshot_files"):
        snapshot = read_input_snapshot(snapshot_dir)

    assert tuple(snapshot.applications.columns) == APPLICATION_COLUMNS
    assert snapshot.applications.to_dict("records") == [
        {
            "employee_id": "E2",
            "receipt_number": "R9",
            "application_type": "change",
            "filed_on": "2026-01-10",
        }
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["applications.csv: ignoring extra columns note, memo"]


def test_byte_order_mark_and_padded_header_are_accepted(snapshot_dir: Path) -> None:
    text = (snapshot_dir / "applications.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    padded = ", ".join(header.split(","))
    (snapshot_dir / "applications.csv").write_text(
        "\ufeff" + padded + "\n" + rest, encoding="utf-8"
    )

    snapshot = read_input_snapshot(snapshot_dir)

    assert snapshot.applications.loc[0, "employee_id"] == "E1"


# --- unusable input ---------------------------------------------------------------------------


def _drop_employee_column(directory: Path) -> None:
    columns = [c for c in EMPLOYEE_COLUMNS if c != "residence_status"]
    write_rows(directory / "employees.csv", columns, [employee("E1")])


def _isa(payload: Any) -> Callable[[Path], None]:
    def write(directory: Path) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        (directory / "isa_applications.json").write_text(text, encoding="utf-8")

    return write


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def write(directory: Path) -> None:
        (directory / name).write_bytes(data)

    return write


def _ragged_employees(directory: Path) -> None:
    row = employee("E1")
    values = ["" if row[c] is None else str(row[c]) for c in EMPLOYEE_COLUMNS]
    write_csv(directory / "employees.csv", EMPLOYEE_COLUMNS, [values, [*values, "extra-value"]])


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / "employees.csv").unlink(), "employees.csv: required file missing"),
        (lambda d: (d / "applications.csv").unlink(), "applications.csv: required file missing"),
        (
            lambda d: (d / "isa_applications.json").unlink(),
            "isa_applications.json: required file missing",
        ),
        (_drop_employee_column, "employees.csv: missing required column 'residence_status'"),
        (
            lambda d: write_csv(
                d / "applications.csv", ["employee_id", "receipt_number"], [["E1", "R1"]]
            ),
            "applications.csv: missing required column 'application_type'",
        ),
        (
            lambda d: write_csv(
                d / "timesheets.csv",
                [*TIMESHEET_COLUMNS, "hours"],
                [["E1", "2026-11-20", "7", "false", "8"]],
            ),
            "timesheets.csv: column 'hours' appears more than once",
        ),
        (_write("employees.csv", b""), "employees.csv: empty file"),
        (_write("employees.csv", "employee_id,名前\n".encode("shift_jis")), "not UTF-8"),
        (_ragged_employees, "employees.csv: line 3 has 22 fields, the header has 21"),
        (_isa('[{"receipt_number": "' + CARD + '",'), "isa_applications.json: invalid JSON"),
        (
            _isa({"items": [isa_application()]}),
            "must be a JSON array of applications, got an object",
        ),
        (_isa([isa_application(), "2026-TKY-1"]), "isa_applications.json: item 1 is not a JSON"),
        (
            _isa([isa_application(status=NAME)]),
            "isa_applications.json: item 0 violates the API contract: status: literal_error",
        ),
        (
            _isa([isa_application(updated_at="2026-02-21T09:30:00")]),
            "item 0 violates the API contract: updated_at: timezone_aware",
        ),
        (
            _isa([isa_application(applicant={"full_name": NAME, "card": CARD})]),
            "item 0 violates the API contract: applicant.card: extra_forbidden",
        ),
        (
            _isa([isa_application(filed_on=BIRTH_DATE.replace("-", "/"))]),
            "item 0 violates the API contract: filed_on: date_parsing",
        ),
    ],
)
def test_unusable_input_raises_input_error_without_values(
    snapshot_dir: Path, damage: Callable[[Path], None], expected: str
) -> None:
    damage(snapshot_dir)

    with pytest.raises(InputError) as caught:
        read_input_snapshot(snapshot_dir)

    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    for secret in (*SECRETS, BIRTH_DATE.replace("-", "/"), "extra-value"):
        assert secret not in message


def test_missing_directory_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input directory not found"):
        read_input_snapshot(tmp_path / "nowhere")

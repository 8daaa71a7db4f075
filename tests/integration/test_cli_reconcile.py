"""``zairyu-sync reconcile`` end to end through the installed console script.

The input directory is built the way an analyst would get one: the sample ERP is written to SQLite,
extracted with the pipeline's extract queries and saved as the contract's CSV files, next to the
sample's ISA applications as a JSON array.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync.canonical import DISCREPANCY_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.config import PolicySettings
from zairyu_sync.erp_sample import SampleErp, expected_situations, generate_sample, write_erp
from zairyu_sync.extract import ErpSnapshot, extract_snapshot

pytestmark = pytest.mark.integration

CONSOLE_SCRIPT = Path(sys.executable).with_name("zairyu-sync")
AS_OF = date(2026, 11, 25)
EMPLOYEES = 80
_SUMMARY_ROW = re.compile(r"^([A-Z][A-Z_]+)\s+(\d+)\s+(\d+)\s+(\d+)$", re.M)
_COUNTS_ROW = re.compile(r"^(employees|applications|timesheets)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$")


@dataclass(frozen=True)
class Built:
    sample: SampleErp
    snapshot: ErpSnapshot
    directory: Path


@dataclass(frozen=True)
class Runs:
    csv: subprocess.CompletedProcess[str]
    json: subprocess.CompletedProcess[str]
    csv_output: Path
    json_output: Path
    quarantine: Path


def _env() -> dict[str, str]:
    """The test's environment without ZAIRYU_* overrides, so the CLI runs on policy defaults."""
    return {key: value for key, value in os.environ.items() if not key.startswith("ZAIRYU_")}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [str(CONSOLE_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_env(),
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("cli-reconcile")
    sample = generate_sample(EMPLOYEES, as_of=AS_OF, seed=11)
    engine = sa.create_engine(f"sqlite:///{work / 'erp.sqlite'}")
    try:
        write_erp(sample, engine)
        snapshot = extract_snapshot(engine, as_of=AS_OF)
    finally:
        engine.dispose()
    directory = work / "input"
    directory.mkdir()
    for name in ("employees", "applications", "timesheets"):
        getattr(snapshot, name).to_csv(directory / f"{name}.csv", index=False)
    (directory / "isa_applications.json").write_text(
        json.dumps(sample.isa_applications, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return Built(sample=sample, snapshot=snapshot, directory=directory)


@pytest.fixture(scope="module")
def runs(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The CSV and the JSON run, started together (each spends most of its time in validation)."""
    out = tmp_path_factory.mktemp("cli-out")
    csv_output = out / "csv" / "nested" / "discrepancies.csv"
    json_output = out / "json" / "discrepancies.json"
    quarantine = out / "csv" / "quarantine.csv"
    common = ["reconcile", "--input", str(built.directory), "--as-of", AS_OF.isoformat()]
    argvs = [
        [*common, "--output", str(csv_output), "--quarantine", str(quarantine)],
        [*common, "--output", str(json_output), "--format", "json"],
    ]
    processes = [
        subprocess.Popen(  # noqa: S603 - fixed argv
            [str(CONSOLE_SCRIPT), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for argv in argvs
    ]
    done = []
    for process, argv in zip(processes, argvs, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(argv, process.returncode, stdout, stderr))
    return Runs(
        csv=done[0],
        json=done[1],
        csv_output=csv_output,
        json_output=json_output,
        quarantine=quarantine,
    )


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _pii(built: Built) -> set[str]:
    """Every card number, name and birth date of the sample (ERP and ISA)."""
    values: set[str] = set()
    for card in built.sample.tables["hr_residence_card"]:
        values.add(str(card.get("card_no") or ""))
    for person in built.sample.tables["hr_employee"]:
        values.add(str(person.get("birth_date") or ""))
    employees = built.snapshot.employees
    for column in ("full_name", "date_of_birth", "residence_card_number"):
        values.update(str(value) for value in employees[column].dropna())
    for application in built.sample.isa_applications:
        applicant = application.get("applicant") or {}
        values.update(str(applicant.get(key) or "") for key in applicant)
        values.add(str(application.get("new_residence_card_number") or ""))
    values.discard("")
    values -= {"VNM", "CHN", "PHL", "NPL", "IDN", "MMR", "KOR", "BRA", "USA", "JPN", "IND", "LKA"}
    return {value for value in values if len(value) >= 6}


# --- the good run -----------------------------------------------------------------------------


def test_csv_run_exits_0_with_contract_header(runs: Runs) -> None:
    assert runs.csv.returncode == 0, runs.csv.stderr
    first_line = runs.csv_output.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first_line == ",".join(DISCREPANCY_COLUMNS)
    assert "Traceback" not in runs.csv.stderr


def test_seeded_situations_are_found_for_every_rule(built: Built, runs: Runs) -> None:
    rows = _read_csv(runs.csv_output)
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["rule_code"], set()).add(row["employee_id"])
    expected = expected_situations(built.sample)
    assert len(expected) >= 18  # the sample seeds (nearly) every rule of the catalog
    for rule_code, employee_ids in expected.items():
        missing = employee_ids - found.get(rule_code, set())
        assert not missing, f"{rule_code}: seeded employees not reported: {sorted(missing)}"


def test_stdout_summary_matches_the_csv(runs: Runs) -> None:
    rows = _read_csv(runs.csv_output)
    from_csv = Counter((row["rule_code"], row["severity"]) for row in rows)
    summary = {
        code: {"critical": int(c), "warning": int(w), "info": int(i)}
        for code, c, w, i in _SUMMARY_ROW.findall(runs.csv.stdout)
    }
    assert summary, runs.csv.stdout
    for code, numbers in summary.items():
        for severity, count in numbers.items():
            assert from_csv[(code, severity)] == count, (code, severity)
    assert {code for code, _ in from_csv} <= set(summary)
    assert f"findings: {len(rows)} -> {runs.csv_output}" in runs.csv.stdout


def test_stdout_counts_and_quarantine_file(runs: Runs) -> None:
    counts = {}
    for line in runs.csv.stdout.splitlines():
        match = _COUNTS_ROW.match(line)
        if match:
            extracted, ignored, quarantined, valid = (int(x) for x in match.groups()[1:])
            assert extracted == ignored + quarantined + valid
            counts[match.group(1)] = (extracted, ignored, quarantined, valid)
    assert set(counts) == {"employees", "applications", "timesheets"}
    assert counts["employees"][1] > 0 and counts["employees"][2] > 0  # JPN staff, DQ rows

    header = runs.quarantine.read_text(encoding="utf-8").split("\n", 1)[0]
    assert header == ",".join(QUARANTINE_COLUMNS)
    quarantined = _read_csv(runs.quarantine)
    assert len(quarantined) == sum(numbers[2] for numbers in counts.values())
    dq = [row for row in _read_csv(runs.csv_output) if row["rule_code"] == "DATA_QUALITY"]
    assert {row["employee_id"] for row in dq} == {row["employee_id"] for row in quarantined}


def test_json_format_gives_the_same_findings(runs: Runs) -> None:
    assert runs.json.returncode == 0, runs.json.stderr
    records = json.loads(runs.json_output.read_text(encoding="utf-8"))
    assert isinstance(records, list) and records
    assert all(list(record) == list(DISCREPANCY_COLUMNS) for record in records)
    as_csv = [
        {key: ("" if value is None else value) for key, value in record.items()}
        for record in records
    ]
    assert as_csv == _read_csv(runs.csv_output)
    assert any(record["receipt_number"] is None for record in records)  # null, not ""
    assert "" not in {value for record in records for value in record.values()}
    assert runs.json.stdout.split("\n\n")[1:3] == runs.csv.stdout.split("\n\n")[1:3]


def test_no_personal_data_in_outputs_or_stdout(built: Built, runs: Runs) -> None:
    pii = _pii(built)
    assert len(pii) > 3 * EMPLOYEES  # cards, names and birth dates were collected
    texts = {
        "csv": runs.csv_output.read_text(encoding="utf-8"),
        "json": runs.json_output.read_text(encoding="utf-8"),
        "quarantine": runs.quarantine.read_text(encoding="utf-8"),
        "stdout": runs.csv.stdout + runs.json.stdout,
        "stderr": runs.csv.stderr + runs.json.stderr,
    }
    for where, text in texts.items():
        leaked = sorted(value for value in pii if value in text)
        assert not leaked, f"personal data in {where}: {len(leaked)} values"


def test_same_findings_as_validate_and_reconcile_in_process(built: Built, runs: Runs) -> None:
    from zairyu_sync.reconcile import reconcile
    from zairyu_sync.validate import validate_snapshot

    snapshot = built.snapshot
    isa = pd.DataFrame(
        [_flat(application) for application in built.sample.isa_applications], dtype=object
    )
    outcome = validate_snapshot(snapshot.employees, snapshot.applications, snapshot.timesheets)
    receipts = sorted(
        {str(v).strip() for v in snapshot.applications["receipt_number"].dropna()} - {""}
    )
    result = reconcile(
        outcome.employees,
        outcome.applications,
        isa,
        outcome.quarantine,
        as_of=AS_OF,
        policy=PolicySettings(),
        timesheets=outcome.timesheets,
        erp_receipt_numbers=receipts,
    )
    in_process = result.to_contract_frame()
    buffer = io.StringIO()
    in_process.to_csv(buffer, index=False, lineterminator="\n")
    assert len(in_process) > EMPLOYEES / 4
    assert runs.csv_output.read_text(encoding="utf-8") == buffer.getvalue()


def _flat(application: dict[str, Any]) -> dict[str, Any]:
    """The API object flattened by hand (independently of the reader under test)."""
    applicant = application.get("applicant") or {}
    flat = {key: value for key, value in application.items() if key != "applicant"}
    flat.update({f"applicant_{key}": value for key, value in applicant.items()})
    from zairyu_sync.canonical import ISA_APPLICATION_COLUMNS

    return {column: flat.get(column) for column in ISA_APPLICATION_COLUMNS}


# --- unusable input ---------------------------------------------------------------------------


def _drop_column(directory: Path) -> None:
    frame = pd.read_csv(directory / "employees.csv", dtype=str, keep_default_na=False)
    frame.drop(columns=["residence_status"]).to_csv(directory / "employees.csv", index=False)


def _json_object(directory: Path) -> None:
    path = directory / "isa_applications.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({"items": items}), encoding="utf-8")


def _broken_json(directory: Path) -> None:
    path = directory / "isa_applications.json"
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")


def _missing_employees(directory: Path) -> None:
    (directory / "employees.csv").unlink()


#: case -> (damage to a copy of the good input, --as-of, expected message)
UNUSABLE: dict[str, tuple[Callable[[Path], None] | None, str, str]] = {
    "missing-employees": (_missing_employees, "2026-11-25", "employees.csv: required file"),
    "missing-column": (
        _drop_column,
        "2026-11-25",
        "employees.csv: missing required column 'residence_status'",
    ),
    "broken-json": (_broken_json, "2026-11-25", "isa_applications.json: invalid JSON at line"),
    "json-object": (_json_object, "2026-11-25", "isa_applications.json: must be a JSON array"),
    "bad-as-of": (None, "25/11/2026", "not a YYYY-MM-DD date"),
}


@dataclass(frozen=True)
class Failed:
    done: subprocess.CompletedProcess[str]
    output: Path


@pytest.fixture(scope="module")
def unusable_runs(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Failed]:
    """Every unusable-input case, run concurrently (each is one short process)."""
    started = {}
    for case, (damage, as_of, _) in UNUSABLE.items():
        work = tmp_path_factory.mktemp(f"unusable-{case}")
        directory = work / "input"
        shutil.copytree(built.directory, directory)
        if damage is not None:
            damage(directory)
        output = work / "out" / "d.csv"
        argv = [
            str(CONSOLE_SCRIPT),
            "reconcile",
            "--input",
            str(directory),
            "--as-of",
            as_of,
            "--output",
            str(output),
        ]
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
        )
        started[case] = (process, argv, output)
    results = {}
    for case, (process, argv, output) in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[case] = Failed(
            subprocess.CompletedProcess(argv, process.returncode, stdout, stderr), output
        )
    return results


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_input_exits_2_with_one_line(
    built: Built, unusable_runs: dict[str, Failed], case: str
) -> None:
    done, output = unusable_runs[case].done, unusable_runs[case].output
    message = UNUSABLE[case][2]

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("zairyu-sync: ") and message in lines[0]
    assert done.stdout == ""
    assert not output.exists()
    assert not {value for value in _pii(built) if value in done.stderr}

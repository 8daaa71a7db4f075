"""Read an input snapshot directory (contract.md section 1) for ``zairyu-sync reconcile``.

A snapshot directory holds ``employees.csv``, ``applications.csv``, an optional
``timesheets.csv`` and ``isa_applications.json``. The frames returned have exactly the canonical
columns, every value ``str`` or ``None``, like the ERP extract, so validation and the rules run on
them unchanged.

Reading rules:

* CSV files are UTF-8 (a byte-order mark, as spreadsheet programs write it, is accepted) with a
  header line. Header names are stripped of surrounding spaces. Every cell is read as text;
  only an empty cell becomes null. Strings such as ``NA``, ``N/A``, ``null`` or ``NaN`` are kept
  as text, so a value that happens to look like a null marker is never silently dropped (if it
  is invalid, validation quarantines the row and says so). Blank lines are skipped; every other
  line must have as many fields as the header.
* Columns beyond the canonical ones are ignored, with a warning naming them.
* ``isa_applications.json`` is a JSON array of application objects as the ISA status API returns
  them. Each object is validated with the API contract model
  (:class:`~zairyu_sync.immigration.models.Application`, strict, unknown fields forbidden) and
  flattened with :func:`~zairyu_sync.immigration.sync.application_record`.

Anything that makes the snapshot unusable as a whole raises :class:`InputError` with a one-line
reason naming the file and the column, field or position. Messages never quote a value from the
data, because values can be personal data.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd
from pydantic import ValidationError as PydanticValidationError

from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.errors import InputError
from zairyu_sync.immigration.models import Application, describe_validation_error
from zairyu_sync.immigration.sync import application_record

log = logging.getLogger(__name__)

EMPLOYEES_FILE: Final = "employees.csv"
APPLICATIONS_FILE: Final = "applications.csv"
TIMESHEETS_FILE: Final = "timesheets.csv"
ISA_APPLICATIONS_FILE: Final = "isa_applications.json"
_CSV_ENCODING = "utf-8-sig"  # UTF-8; a leading byte-order mark is dropped


@dataclass(frozen=True)
class InputSnapshot:
    """The canonical tables read from a snapshot directory (all values ``str`` or ``None``).

    Attributes:
        employees: ``canonical.EMPLOYEE_COLUMNS``.
        applications: ``canonical.APPLICATION_COLUMNS``.
        timesheets: ``canonical.TIMESHEET_COLUMNS``; empty when ``timesheets.csv`` is absent.
        isa_applications: ``canonical.ISA_APPLICATION_COLUMNS`` (applicant flattened to
            ``applicant_*``), one row per object of ``isa_applications.json``, in file order.
    """

    employees: pd.DataFrame
    applications: pd.DataFrame
    timesheets: pd.DataFrame
    isa_applications: pd.DataFrame

    def erp_receipt_numbers(self) -> list[str]:
        """Every distinct non-blank receipt number of ``applications.csv``, trimmed and sorted.

        Includes the rows validation will set aside, so that the rules can tell an application
        the ERP lacks from one whose ERP row was quarantined or ignored.
        """
        values = (str(value).strip() for value in self.applications["receipt_number"].dropna())
        return sorted({value for value in values if value})


def read_input_snapshot(directory: Path) -> InputSnapshot:
    """Read and check a snapshot directory.

    Args:
        directory: the directory holding the contract.md section 1 files.

    Returns:
        The snapshot, each frame with exactly its canonical columns in contract order.

    Raises:
        InputError: the directory or a required file is missing, a file is not UTF-8 or not
            parseable, a required column is missing or repeated, ``isa_applications.json`` is
            not a JSON array, or one of its objects violates the API contract.
    """
    if not directory.is_dir():
        raise InputError(f"input directory not found: {directory}")
    employees = _read_csv(directory / EMPLOYEES_FILE, EMPLOYEE_COLUMNS)
    applications = _read_csv(directory / APPLICATIONS_FILE, APPLICATION_COLUMNS)
    timesheets_path = directory / TIMESHEETS_FILE
    if timesheets_path.exists():
        timesheets = _read_csv(timesheets_path, TIMESHEET_COLUMNS)
    else:
        log.info("%s absent: no timesheets, hours rules see no hours", TIMESHEETS_FILE)
        timesheets = _empty(TIMESHEET_COLUMNS)
    snapshot = InputSnapshot(
        employees=employees,
        applications=applications,
        timesheets=timesheets,
        isa_applications=_read_isa_applications(directory / ISA_APPLICATIONS_FILE),
    )
    log.info(
        "read snapshot: %d employee rows, %d applications, %d timesheet rows, %d ISA applications",
        len(snapshot.employees),
        len(snapshot.applications),
        len(snapshot.timesheets),
        len(snapshot.isa_applications),
    )
    return snapshot


# --- CSV --------------------------------------------------------------------------------------


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    name = path.name
    if not path.is_file():
        raise InputError(f"{name}: required file missing")
    try:
        with path.open(encoding=_CSV_ENCODING, newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = [cell.strip() for cell in next(reader, [])]
            if not any(header):
                raise InputError(f"{name}: empty file, a header line is required")
            positions = _positions(name, header, columns)
            rows: list[tuple[str | None, ...]] = []
            for record in reader:
                if not record:
                    continue  # a blank line is no row
                if len(record) != len(header):
                    raise InputError(
                        f"{name}: line {reader.line_num} has {len(record)} fields, "
                        f"the header has {len(header)}"
                    )
                rows.append(tuple(record[index] or None for index in positions))
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text") from exc
    except csv.Error as exc:
        raise InputError(f"{name}: malformed CSV near line {reader.line_num}") from exc
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


def _positions(name: str, header: list[str], columns: tuple[str, ...]) -> list[int]:
    """Index of each canonical column in the header; checks duplicates, missing and extras."""
    duplicated = sorted({column for column in header if header.count(column) > 1})
    if duplicated:
        raise InputError(f"{name}: column {duplicated[0]!r} appears more than once in the header")
    missing = [column for column in columns if column not in header]
    if missing:
        raise InputError(f"{name}: missing required column {missing[0]!r}")
    extra = [column or "<unnamed>" for column in header if column not in columns]
    if extra:
        log.warning("%s: ignoring extra columns %s", name, ", ".join(extra))
    return [header.index(column) for column in columns]


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series([], dtype=object) for column in columns})


# --- ISA applications JSON --------------------------------------------------------------------


def _read_isa_applications(path: Path) -> pd.DataFrame:
    name = path.name
    if not path.is_file():
        raise InputError(f"{name}: required file missing")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from exc
    if not isinstance(document, list):
        kind = type(document).__name__
        kind = {"dict": "an object", "str": "a string", "NoneType": "null"}.get(kind, kind)
        raise InputError(f"{name}: must be a JSON array of applications, got {kind}")
    records = []
    for position, item in enumerate(document):
        if not isinstance(item, dict):
            raise InputError(f"{name}: item {position} is not a JSON object")
        try:
            application = Application.model_validate_json(json.dumps(item))
        except PydanticValidationError as exc:
            raise InputError(
                f"{name}: item {position} violates the API contract: "
                f"{describe_validation_error(exc, limit=3)}"
            ) from exc
        records.append(application_record(application))
    if not records:
        return _empty(ISA_APPLICATION_COLUMNS)
    return pd.DataFrame(records, columns=list(ISA_APPLICATION_COLUMNS), dtype=object)

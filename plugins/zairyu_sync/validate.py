"""Validation of the raw canonical tables with the Great Expectations suites in ``expectations/``.

Input frames hold the canonical columns as text (``str`` or None/NaN). Before validation every
value is normalised, in this order:

1. anything missing (None, NaN, NA) stays null; every other value becomes ``str``; a lone UTF-16
   surrogate (not encodable text) becomes U+FFFD, so the row can be validated and quarantined;
2. surrounding whitespace is stripped (including the ideographic space U+3000);
3. ``residence_card_number`` and ``nationality``: Unicode NFKC (full-width -> half-width), then
   upper case;
4. enum codes and booleans (``employment_status``, ``residence_status``,
   ``outside_status_permission``, ``application_type``, ``employment_insured``,
   ``designated_work_permitted``, ``is_long_vacation``): lower case;
5. an empty string becomes null.

Values are never altered beyond these rules: a control character (``\x00``-``\x1f``,
``\x7f``-``\x9f``, e.g. a NUL byte or a line break inside a value) quarantines the row
(``CONTROL_CHARACTER``) instead of being stripped, because it cannot be stored or shown faithfully.

Japanese nationals (nationality ``JPN``) are *ignored*: counted, never validated or quarantined.
The suites (``expectations/<table>.json``) run in an ephemeral GX context; each expectation's
``meta.reason_code`` is the quarantine reason of the rows it flags. Checks done in pandas because GX
cannot express them well:

* ``EMPLOYEE_ID_DUPLICATED`` for a foreign row whose employee_id is also on a JPN row (the GX
  uniqueness check only sees the foreign rows);
* ``ORPHAN_APPLICATION`` / ``ORPHAN_TIMESHEET``: employee_id not among the employees;
* ``DATE_UNPARSEABLE`` as a safety net when a value GX's strftime check accepted still fails
  ``pandas.to_datetime`` with the same format;
* ``DATE_OUT_OF_RANGE`` for a well-formed date outside 1900-01-01..2199-12-31 (e.g. an ERP
  sentinel ``9999-12-31`` or ``0001-01-01``), which no real record holds;
* ``TERMINATION_BEFORE_HIRE`` when termination_date is earlier than hire_date (impossible, so
  neither date can be trusted). A hire date after the as-of date is *not* a quarantine reason:
  HR registers new hires before their first day; a period of stay that ended before the hire
  date is not one either, it is a finding of the rules (STATUS_EXPIRED), not bad data;
* ``CONTROL_CHARACTER``: see above;
* ``STATUS_NOT_IN_FORCE`` when an as-of date is given and the residence status cannot be held on
  it according to the status master (:mod:`zairyu_sync.statuses`), e.g.
  ``employment_for_skill_development`` before 2027-04-01.

Rows of ignored or quarantined employees in applications and timesheets are set aside as
*ignored* (counted, not validated). For every table ``extracted == valid + quarantined + ignored``.
``row_number`` is the 1-based position of the row in the input frame (the CSV data line).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    APPLICATION_DATE_COLUMNS,
    EMPLOYEE_BOOL_COLUMNS,
    EMPLOYEE_COLUMNS,
    EMPLOYEE_DATE_COLUMNS,
    JAPANESE_NATIONALITY,
    QUARANTINE_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.config import project_path
from zairyu_sync.errors import InputError, ValidationError
from zairyu_sync.statuses import load_statuses

if TYPE_CHECKING:
    import great_expectations as gx

log = logging.getLogger(__name__)

SOURCE_TABLES = ("employees", "applications", "timesheets")
#: Column added to every frame before validation; GX reports failing rows by it.
ROW_NUMBER = "row_number"

_UPPER_NFKC_COLUMNS = frozenset({"residence_card_number", "nationality"})
_LOWER_COLUMNS = frozenset(
    {
        "employment_status",
        "residence_status",
        "outside_status_permission",
        "application_type",
        "employment_insured",
        "designated_work_permitted",
        "is_long_vacation",
    }
)
_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "employees": EMPLOYEE_COLUMNS,
    "applications": APPLICATION_COLUMNS,
    "timesheets": TIMESHEET_COLUMNS,
}
_DATE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "employees": EMPLOYEE_DATE_COLUMNS,
    "applications": APPLICATION_DATE_COLUMNS,
    "timesheets": ("work_date",),
}
_BOOL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "employees": EMPLOYEE_BOOL_COLUMNS,
    "applications": (),
    "timesheets": ("is_long_vacation",),
}
_DATE_FORMAT = "%Y-%m-%d"
#: Dates outside this window are quarantined as DATE_OUT_OF_RANGE (also keeps datetime64[ns] safe).
_EARLIEST_DATE = pd.Timestamp("1900-01-01")
_LATEST_DATE = pd.Timestamp("2199-12-31")
_CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
_BOOL_VALUES = {"true": True, "false": False}
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_NUMBER],
    "return_unexpected_index_query": False,
}


@dataclass(frozen=True)
class ValidationOutcome:
    """What validation produced.

    Attributes:
        employees: valid foreign employees, typed (dates ``datetime64[ns]`` at midnight, booleans
            ``boolean``, the rest ``str``), canonical columns only.
        applications: valid applications of valid employees, typed.
        timesheets: valid timesheet rows of valid employees (hours ``float64``,
            is_long_vacation ``boolean``, missing = false).
        quarantine: one row per quarantined input row (columns :data:`QUARANTINE_COLUMNS`).
        counts: per source table ``{"extracted", "valid", "quarantined", "ignored"}``.
    """

    employees: pd.DataFrame
    applications: pd.DataFrame
    timesheets: pd.DataFrame
    quarantine: pd.DataFrame
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable summary without PII: counts and reason-code tallies per table."""
        reasons: dict[str, dict[str, int]] = {table: {} for table in SOURCE_TABLES}
        if not self.quarantine.empty:
            exploded = self.quarantine.assign(
                reason_code=self.quarantine["reason_codes"].str.split(",")
            ).explode("reason_code")
            tally = exploded.groupby(["source_table", "reason_code"]).size().reset_index(name="n")
            for row in tally.to_dict("records"):
                reasons.setdefault(str(row["source_table"]), {})[str(row["reason_code"])] = int(
                    row["n"]
                )
        return {
            "counts": {
                table: {key: int(value) for key, value in numbers.items()}
                for table, numbers in self.counts.items()
            },
            "quarantine_reasons": {
                table: dict(sorted(codes.items())) for table, codes in reasons.items()
            },
            "quarantined_rows": int(len(self.quarantine)),
        }


def load_suite(name: str) -> gx.ExpectationSuite:
    """Load ``expectations/<name>.json`` as a GX suite.

    Raises:
        ConfigError: the file does not exist.
    """
    import great_expectations as gx

    text = project_path("expectations", f"{name}.json").read_text(encoding="utf-8")
    return gx.ExpectationSuite(**json.loads(text))


def validate_snapshot(
    employees: pd.DataFrame,
    applications: pd.DataFrame,
    timesheets: pd.DataFrame | None = None,
    *,
    as_of: date | None = None,
) -> ValidationOutcome:
    """Validate the raw canonical tables and split them into valid, quarantined and ignored rows.

    Args:
        employees: raw employees (``canonical.EMPLOYEE_COLUMNS``, text values).
        applications: raw ERP applications (``canonical.APPLICATION_COLUMNS``).
        timesheets: raw timesheets (``canonical.TIMESHEET_COLUMNS``), optional.
        as_of: the run's as-of date; employees whose residence status is not in force on it are
            quarantined (``STATUS_NOT_IN_FORCE``). None skips that check.

    Returns:
        The typed valid rows, the quarantine and the counts.

    Raises:
        InputError: a required column is missing.
        ValidationError: GX could not evaluate an expectation, or the counts do not add up.
    """
    emp = _prepare(employees, "employees")
    app = _prepare(applications, "applications")
    ts = _prepare(
        timesheets if timesheets is not None else pd.DataFrame(columns=list(TIMESHEET_COLUMNS)),
        "timesheets",
    )
    runner = _SuiteRunner()

    # employees ------------------------------------------------------------------------------
    is_japanese = emp["nationality"].eq(JAPANESE_NATIONALITY).fillna(False).astype(bool)
    foreign = emp[~is_japanese]
    japanese_ids = set(emp.loc[is_japanese, "employee_id"].dropna())
    emp_failures = runner.failures("employees", foreign)
    shared = foreign.loc[foreign["employee_id"].isin(japanese_ids), ROW_NUMBER]
    emp_failures.extend(
        (int(row), "EMPLOYEE_ID_DUPLICATED", "employee_id is also used by a JPN employee row")
        for row in shared
    )
    emp_failures.extend(_unparseable_dates(foreign, "employees"))
    emp_failures.extend(_control_characters(foreign, "employees"))
    emp_failures.extend(_termination_before_hire(foreign))
    if as_of is not None:
        emp_failures.extend(_statuses_not_in_force(foreign, as_of))
    emp_bad_rows = {row for row, _, _ in emp_failures}
    emp_quarantined = foreign[foreign[ROW_NUMBER].isin(emp_bad_rows)]
    emp_valid = foreign[~foreign[ROW_NUMBER].isin(emp_bad_rows)]
    valid_ids = set(emp_valid["employee_id"])
    set_aside_ids = japanese_ids | set(emp_quarantined["employee_id"].dropna())

    # applications and timesheets: rows of ignored/quarantined employees are set aside ----------
    app_ignored = app["employee_id"].isin(set_aside_ids)
    app_candidates = app[~app_ignored]
    app_failures = runner.failures("applications", app_candidates)
    app_failures.extend(_orphans(app_candidates, valid_ids, "ORPHAN_APPLICATION"))
    app_failures.extend(_unparseable_dates(app_candidates, "applications"))
    app_failures.extend(_control_characters(app_candidates, "applications"))
    app_bad_rows = {row for row, _, _ in app_failures}
    app_valid = app_candidates[~app_candidates[ROW_NUMBER].isin(app_bad_rows)]

    ts_ignored = ts["employee_id"].isin(set_aside_ids)
    ts_candidates = ts[~ts_ignored]
    ts_failures = runner.failures("timesheets", ts_candidates)
    ts_failures.extend(_orphans(ts_candidates, valid_ids, "ORPHAN_TIMESHEET"))
    ts_failures.extend(_unparseable_dates(ts_candidates, "timesheets"))
    ts_failures.extend(_control_characters(ts_candidates, "timesheets"))
    ts_bad_rows = {row for row, _, _ in ts_failures}
    ts_valid = ts_candidates[~ts_candidates[ROW_NUMBER].isin(ts_bad_rows)]

    owners = emp_valid.drop_duplicates("employee_id").set_index("employee_id")[
        ["organization_id", "compliance_owner"]
    ]
    quarantine = pd.concat(
        [
            _quarantine_rows("employees", foreign, emp_failures, None),
            _quarantine_rows("applications", app_candidates, app_failures, owners),
            _quarantine_rows("timesheets", ts_candidates, ts_failures, owners),
        ],
        ignore_index=True,
    )
    quarantine["row_number"] = quarantine["row_number"].astype("int64")
    counts = {
        "employees": _counts(len(emp), len(emp_valid), len(emp_bad_rows), int(is_japanese.sum())),
        "applications": _counts(
            len(app), len(app_valid), len(app_bad_rows), int(app_ignored.sum())
        ),
        "timesheets": _counts(len(ts), len(ts_valid), len(ts_bad_rows), int(ts_ignored.sum())),
    }
    for table, numbers in counts.items():
        if numbers["extracted"] != numbers["valid"] + numbers["quarantined"] + numbers["ignored"]:
            raise ValidationError(f"{table}: counts do not add up: {numbers}")
    log.info("validation counts %s", counts)
    return ValidationOutcome(
        employees=_typed(emp_valid, "employees"),
        applications=_typed(app_valid, "applications"),
        timesheets=_typed(ts_valid, "timesheets"),
        quarantine=quarantine,
        counts=counts,
    )


# --- preparation ------------------------------------------------------------------------------


def _prepare(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Check the columns, keep the canonical ones, normalise them and add the row number."""
    columns = _COLUMNS[table]
    for column in columns:
        if column not in frame.columns:
            raise InputError(f"{table}: missing required column {column!r}")
    prepared = pd.DataFrame(
        {column: _normalise(frame[column], column) for column in columns}, index=frame.index
    ).reset_index(drop=True)
    prepared[ROW_NUMBER] = pd.RangeIndex(1, len(prepared) + 1)
    return prepared


def _normalise(series: pd.Series, column: str) -> pd.Series:
    """Apply the normalisation rules of the module docstring to one column."""
    text = series.map(_valid_text, na_action="ignore").astype("string").str.strip()
    if column in _UPPER_NFKC_COLUMNS:
        text = text.str.normalize("NFKC").str.strip().str.upper()
    elif column in _LOWER_COLUMNS:
        text = text.str.lower()
    text = text.mask(text == "")
    return text.astype(object).where(text.notna(), None)


def _valid_text(value: object) -> object:
    """``str(value)`` with lone surrogates replaced by U+FFFD; missing values unchanged."""
    if isinstance(value, float) and value != value:  # NaN
        return value
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


# --- checks -----------------------------------------------------------------------------------

Failure = tuple[int, str, str]


class _SuiteRunner:
    """Runs the JSON suites in one ephemeral, quiet GX context."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self._gx = gx
        self._context = gx.get_context(project_config=config, mode="ephemeral")
        self._source = self._context.data_sources.add_pandas(name="canonical")

    def failures(self, table: str, frame: pd.DataFrame) -> list[Failure]:
        """(row_number, reason_code, message) for every row an expectation of ``table`` flags."""
        if frame.empty:
            return []
        gx = self._gx
        batch = self._source.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe(
            name=f"{table}_whole"
        )
        suite = self._context.suites.add(_suite(table))
        definition = self._context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{table}_validation", data=batch, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frame.reset_index(drop=True)},
            result_format=_RESULT_FORMAT,
        )
        failures: list[Failure] = []
        for outcome in result.results:
            config = outcome.expectation_config
            if config is None:
                raise ValidationError(f"{table}: a result without its expectation")
            meta = config.meta or {}
            if outcome.exception_info and outcome.exception_info.get("raised_exception"):
                raise ValidationError(
                    f"{table}: expectation {config.type} on {config.kwargs.get('column')} "
                    "could not be evaluated"
                )
            if outcome.success:
                continue
            indices = outcome.result.get("unexpected_index_list") or []
            if not indices:
                raise ValidationError(f"{table}: expectation {config.type} failed without rows")
            code = str(meta.get("reason_code") or "VALIDATION_FAILED")
            message = str(meta.get("message") or config.type)
            failures.extend((int(index[ROW_NUMBER]), code, message) for index in indices)
        log.debug("%s: %d failed checks", table, len(failures))
        return failures


@cache
def _suite_json(table: str) -> str:
    return project_path("expectations", f"{table}.json").read_text(encoding="utf-8")


def _suite(table: str) -> gx.ExpectationSuite:
    import great_expectations as gx

    return gx.ExpectationSuite(**json.loads(_suite_json(table)))


def _orphans(frame: pd.DataFrame, valid_ids: set[str], code: str) -> Iterable[Failure]:
    orphan = frame["employee_id"].notna() & ~frame["employee_id"].isin(valid_ids)
    return (
        (int(row), code, "employee_id is not among the employees")
        for row in frame.loc[orphan, ROW_NUMBER]
    )


def _parse_any_dates(series: pd.Series) -> pd.Series:
    """Strict YYYY-MM-DD parse to ``datetime64[s]``: NaT where missing or not a date."""
    parsed = pd.to_datetime(series.astype(object), format=_DATE_FORMAT, errors="coerce").astype(
        "datetime64[s]"
    )
    return parsed


def _parse_dates(series: pd.Series) -> pd.Series:
    """Strict parse to ``datetime64[ns]``; dates outside the supported window become NaT."""
    parsed = _parse_any_dates(series)
    parsed = parsed.where(parsed.between(_EARLIEST_DATE, _LATEST_DATE))
    return parsed.astype("datetime64[ns]").dt.normalize()


def _unparseable_dates(frame: pd.DataFrame, table: str) -> list[Failure]:
    failures: list[Failure] = []
    for column in _DATE_COLUMNS[table]:
        parsed = _parse_any_dates(frame[column])
        bad = frame[column].notna() & parsed.isna()
        failures.extend(
            (int(row), "DATE_UNPARSEABLE", f"{column} is not a YYYY-MM-DD date")
            for row in frame.loc[bad, ROW_NUMBER]
        )
        outside = parsed.notna() & ~parsed.between(_EARLIEST_DATE, _LATEST_DATE)
        failures.extend(
            (int(row), "DATE_OUT_OF_RANGE", f"{column} is outside 1900-01-01..2199-12-31")
            for row in frame.loc[outside, ROW_NUMBER]
        )
    return failures


def _control_characters(frame: pd.DataFrame, table: str) -> list[Failure]:
    failures: list[Failure] = []
    for column in _COLUMNS[table]:
        values = frame[column].astype("string")
        hit = values.str.contains(_CONTROL_CHARACTERS, regex=True).fillna(False).astype(bool)
        failures.extend(
            (int(row), "CONTROL_CHARACTER", f"{column} contains a control character")
            for row in frame.loc[hit, ROW_NUMBER]
        )
    return failures


def _termination_before_hire(frame: pd.DataFrame) -> list[Failure]:
    hired = _parse_dates(frame["hire_date"])
    left = _parse_dates(frame["termination_date"])
    before = (left < hired).fillna(False).astype(bool)
    return [
        (int(row), "TERMINATION_BEFORE_HIRE", "termination_date is earlier than hire_date")
        for row in frame.loc[before, ROW_NUMBER]
    ]


def _statuses_not_in_force(frame: pd.DataFrame, as_of: date) -> list[Failure]:
    not_in_force = load_statuses().not_in_force_on(as_of)
    hit = frame["residence_status"].isin(not_in_force)
    return [
        (
            int(row),
            "STATUS_NOT_IN_FORCE",
            f"residence_status {status} is not in force on the as-of date",
        )
        for row, status in zip(
            frame.loc[hit, ROW_NUMBER], frame.loc[hit, "residence_status"], strict=True
        )
    ]


# --- outputs ----------------------------------------------------------------------------------


def _quarantine_rows(
    table: str, frame: pd.DataFrame, failures: list[Failure], owners: pd.DataFrame | None
) -> pd.DataFrame:
    if not failures:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in QUARANTINE_COLUMNS})
    found = pd.DataFrame(failures, columns=[ROW_NUMBER, "reason_code", "message"])
    found = found.drop_duplicates([ROW_NUMBER, "reason_code", "message"]).sort_values(
        [ROW_NUMBER, "reason_code", "message"], kind="stable"
    )
    grouped = found.groupby(ROW_NUMBER, sort=True).agg(
        reason_codes=("reason_code", lambda codes: ",".join(dict.fromkeys(codes))),
        reasons=("message", lambda messages: "; ".join(dict.fromkeys(messages))),
    )
    rows = frame.set_index(ROW_NUMBER).loc[grouped.index]
    result = pd.DataFrame(
        {
            "source_table": table,
            "row_number": grouped.index.astype("int64"),
            "employee_id": rows["employee_id"].to_numpy(),
            "receipt_number": (
                rows["receipt_number"].to_numpy() if "receipt_number" in rows else None
            ),
        }
    )
    if owners is None:
        result["organization_id"] = rows["organization_id"].to_numpy()
        result["compliance_owner"] = rows["compliance_owner"].to_numpy()
    else:
        joined = owners.reindex(rows["employee_id"])
        result["organization_id"] = joined["organization_id"].to_numpy()
        result["compliance_owner"] = joined["compliance_owner"].to_numpy()
    result["reason_codes"] = grouped["reason_codes"].to_numpy()
    result["reasons"] = grouped["reasons"].to_numpy()
    result = result.astype(object).where(result.notna(), None)
    result["row_number"] = result["row_number"].astype("int64")
    return result[list(QUARANTINE_COLUMNS)]


def _counts(extracted: int, valid: int, quarantined: int, ignored: int) -> dict[str, int]:
    return {
        "extracted": int(extracted),
        "valid": int(valid),
        "quarantined": int(quarantined),
        "ignored": int(ignored),
    }


def _typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Typed copy of valid rows: dates datetime64[ns], booleans ``boolean``, the rest ``str``."""
    typed = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    dates, bools = set(_DATE_COLUMNS[table]), set(_BOOL_COLUMNS[table])
    for column in _COLUMNS[table]:
        values = frame[column].reset_index(drop=True)
        if column in dates:
            typed[column] = _parse_dates(values)
        elif column in bools:
            flags = values.map(_BOOL_VALUES, na_action="ignore").astype("boolean")
            typed[column] = flags.fillna(False) if column == "is_long_vacation" else flags
        elif column == "hours":
            typed[column] = pd.to_numeric(values).astype("float64")
        else:
            typed[column] = values.astype("str")
    return typed

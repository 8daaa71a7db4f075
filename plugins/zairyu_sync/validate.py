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
The suites (``expectations/<table>.json``) run in an ephemeral GX context, built once per process;
each expectation's ``meta.reason_code`` is the quarantine reason of the rows it flags. GX sees each
column's distinct values for the expectations that judge one value at a time (see
``_SuiteRunner``), and the rows for the others. Normalisation, too, runs once per distinct
value. Checks done in pandas because GX cannot express them well:

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
import re
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
# the same message as the uniqueness expectation of expectations/applications.json
_DUPLICATED_RECEIPT_MESSAGE = "receipt_number occurs on more than one application row"

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
#: Column of the prepared frames: bit i set when canonical column i holds a control character.
_CONTROL_MASK = "_control_characters"
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


def prepare_validation() -> None:
    """Build the GX context, suites and validation definitions now instead of on first use.

    They are built once per process and reused by every :func:`validate_snapshot` call; this
    lets a caller (a benchmark, a long-lived worker) pay the one-off cost (importing GX takes
    seconds) up front.
    """
    runner = _SuiteRunner.shared()
    with runner._lock:
        for table in SOURCE_TABLES:
            runner._table_parts(table)


def validate_snapshot(
    employees: pd.DataFrame,
    applications: pd.DataFrame,
    timesheets: pd.DataFrame | None = None,
    *,
    as_of: date | None = None,
    row_offsets: Mapping[str, int] | None = None,
    receipts_in_other_shards: Collection[str] = (),
) -> ValidationOutcome:
    """Validate the raw canonical tables and split them into valid, quarantined and ignored rows.

    Args:
        employees: raw employees (``canonical.EMPLOYEE_COLUMNS``, text values).
        applications: raw ERP applications (``canonical.APPLICATION_COLUMNS``).
        timesheets: raw timesheets (``canonical.TIMESHEET_COLUMNS``), optional.
        as_of: the run's as-of date; employees whose residence status is not in force on it are
            quarantined (``STATUS_NOT_IN_FORCE``). None skips that check.
        row_offsets: per table, the number of rows before this frame in the whole extract (a
            shard of a sharded run), so quarantine row numbers stay unique across shards.
        receipts_in_other_shards: receipt numbers that applications of other shards hold; this
            shard's applications with one of them are quarantined as ``RECEIPT_NUMBER_DUPLICATED``
            (the GX uniqueness check sees one shard only).

    Returns:
        The typed valid rows, the quarantine and the counts.

    Raises:
        InputError: a required column is missing.
        ValidationError: GX could not evaluate an expectation, or the counts do not add up.
    """
    offsets = row_offsets or {}
    emp = _prepare(employees, "employees", offsets.get("employees", 0))
    app = _prepare(applications, "applications", offsets.get("applications", 0))
    ts = _prepare(
        timesheets if timesheets is not None else pd.DataFrame(columns=list(TIMESHEET_COLUMNS)),
        "timesheets",
        offsets.get("timesheets", 0),
    )
    runner = _SuiteRunner.shared()

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
    app_failures.extend(_receipts_elsewhere(app_candidates, receipts_in_other_shards))
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


def _prepare(frame: pd.DataFrame, table: str, row_offset: int = 0) -> pd.DataFrame:
    """Check the columns, keep the canonical ones, normalise them and add the row number.

    The result also holds :data:`_CONTROL_MASK`: per row, bit ``i`` set when the ``i``-th
    canonical column holds a control character (found while normalising, once per distinct value).
    """
    columns = _COLUMNS[table]
    for column in columns:
        if column not in frame.columns:
            raise InputError(f"{table}: missing required column {column!r}")
    data: dict[str, pd.Series] = {}
    control = np.zeros(len(frame), dtype=np.uint32)
    for bit, column in enumerate(columns):
        data[column], hits = _normalise(frame[column], column)
        control |= hits.astype(np.uint32) << np.uint32(bit)
    prepared = pd.DataFrame(data, index=frame.index).reset_index(drop=True)
    prepared[ROW_NUMBER] = pd.RangeIndex(row_offset + 1, row_offset + len(prepared) + 1)
    prepared[_CONTROL_MASK] = control
    return prepared


def _normalise(series: pd.Series, column: str) -> tuple[pd.Series, np.ndarray]:
    """Apply the normalisation rules of the module docstring to one column.

    The rules depend on the value alone, so a column of text is normalised once per distinct
    value and the results are spread back over the rows (repeated values share one ``str``).

    Returns:
        The normalised column and, per row, whether its normalised value holds a control
        character.
    """
    values = series.to_numpy(dtype=object)
    codes, distinct = pd.factorize(values)
    if all(type(value) is str for value in distinct) and pd.isna(values[codes < 0]).all():
        texts, hits = _normalised_values(distinct, column, distinct=True)
        spread = np.empty(len(distinct) + 1, dtype=object)
        spread[: len(distinct)] = texts
        spread[len(distinct)] = None
        normalised = spread.take(codes)  # code -1 (missing) takes the final None
        found = np.append(hits, False).take(codes)
    else:  # other types than str: every value on its own (True and 1 factorize alike)
        normalised, found = _normalised_values(values, column)
    return pd.Series(normalised, index=series.index, dtype=object), found


def _normalised_values(
    values: np.ndarray, column: str, distinct: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The rules of the module docstring on an object array: ``str`` / ``None`` out.

    ``distinct``: the values are distinct (each output ``str`` is then its own object).

    Returns:
        The normalised values and whether each holds a control character.
    """
    text = pd.Series(_text_array(values)).str.strip()
    if column in _UPPER_NFKC_COLUMNS:
        text = text.str.normalize("NFKC").str.strip().str.upper()
    elif column in _LOWER_COLUMNS:
        text = text.str.lower()
    text = text.mask(text == "")
    hits = text.str.contains(_CONTROL_CHARACTERS, regex=True).fillna(False).to_numpy(dtype=bool)
    # distinct values in, (nearly) distinct out: no point in sharing str objects
    return _object_values(text.array, share=not distinct), hits


def _text_array(values: np.ndarray) -> pd.arrays.ArrowStringArray:
    """Rule 1 for a whole column: missing -> NA, every other value its ``str``, UTF-8 safe.

    Columns of ``str`` values (what the extract produces) go to Arrow in one call; other values
    are rendered one by one with :func:`_valid_text`, and so is a column holding a lone
    surrogate (which Arrow refuses).
    """
    present = ~pd.isna(values)
    kept = values[present]
    if not all(kind is str for kind in set(map(type, kept))):
        kept = np.fromiter((_valid_text(value) for value in kept), dtype=object, count=len(kept))
    try:
        texts = pa.array(kept, type=pa.large_string())
    except (UnicodeEncodeError, pa.ArrowException):
        kept = np.fromiter((_valid_text(value) for value in kept), dtype=object, count=len(kept))
        texts = pa.array(kept, type=pa.large_string())
    if len(kept) < len(values):
        positions = np.full(len(values), -1, dtype=np.int64)
        positions[present] = np.arange(len(kept), dtype=np.int64)
        indices = pa.array(positions, mask=~present)
        texts = texts.take(indices)
    return pd.arrays.ArrowStringArray(texts.cast(pa.large_string()))


def _object_values(array: pd.api.extensions.ExtensionArray, share: bool = True) -> np.ndarray:
    """Object ndarray of ``str`` / ``None`` from a string array.

    ``share``: repeated values share one ``str`` object (built once per distinct value).
    """
    arrow = pa.array(array)
    if not share:
        texts: np.ndarray = np.asarray(arrow.to_numpy(zero_copy_only=False), dtype=object)
        return texts
    encoded = pc.dictionary_encode(arrow, null_encoding="encode")  # null: a None entry
    distinct: np.ndarray = np.asarray(
        encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object
    )
    spread: np.ndarray = distinct.take(encoded.indices.to_numpy(zero_copy_only=False))
    return spread


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


#: Expectation types whose verdict on a row depends on that row's value in ``column`` alone
#: (without ``mostly`` or ``row_condition``): GX evaluates them on the column's distinct values.
_PER_VALUE_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_strftime_format",
    }
)
_NULL_TYPES = frozenset({"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"})
_PER_ROW_KWARGS = frozenset({"mostly", "row_condition", "condition_parser"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _Part:
    """One GX validation definition: the part of a table's suite run on one kind of batch.

    ``per_value``: the batch holds each column's distinct values (a value's verdict is every row's
    with that value); otherwise it holds the rows, restricted to ``columns``. ``nulls``: the part
    holds the null checks of the per-value expectations.
    """

    definition: Any
    per_value: bool
    columns: tuple[str, ...]
    nulls: bool = False


class _SuiteRunner:
    """Runs the JSON suites in one ephemeral, quiet GX context, built once per process.

    Each table's suite is split into up to three validation definitions. Expectations whose
    verdict depends on one value only (null, set, regex and date-format checks without ``mostly``
    or ``row_condition``) run on a batch of each column's *distinct* values, and the failing
    values are mapped back to the rows holding them: null checks on a batch of their own, with
    one non-null and one null value per column (all a null check can tell apart), the others on
    a batch whose shorter columns are padded with nulls, which they skip (:func:`_padded`). The
    rest (uniqueness, row conditions) run on the rows. GX stays the engine of every expectation;
    millions of timesheet rows with a few thousand distinct values cost GX only those values.
    The context, suites and definitions are cached; runs are serialised by a lock (GX objects
    are not thread-safe).
    """

    _lock = threading.Lock()
    _shared: _SuiteRunner | None = None

    @classmethod
    def shared(cls) -> _SuiteRunner:
        """The process-wide runner (built on first use)."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

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
        self._parts: dict[str, list[_Part]] = {}

    def failures(self, table: str, frame: pd.DataFrame) -> list[Failure]:
        """(row_number, reason_code, message) for every row an expectation of ``table`` flags."""
        if frame.empty:
            return []
        failures: list[Failure] = []
        with self._lock:
            for part in self._table_parts(table):
                if part.per_value:
                    failures.extend(self._per_value_failures(table, part, frame))
                else:
                    rows = frame[[*part.columns, ROW_NUMBER]].reset_index(drop=True)
                    for _, code, message, numbers in self._run(table, part, rows):
                        failures.extend((int(number), code, message) for number in numbers)
        log.debug("%s: %d failed checks", table, len(failures))
        return failures

    def _per_value_failures(self, table: str, part: _Part, frame: pd.DataFrame) -> list[Failure]:
        if part.nulls:  # a null check's verdict is the same for every non-null value
            distinct = {column: _null_classes(frame[column]) for column in part.columns}
        else:
            distinct = {
                column: pd.unique(frame[column].to_numpy(dtype=object)) for column in part.columns
            }
        size = max(len(values) for values in distinct.values())
        batch = pd.DataFrame(
            {column: _padded(values, size, part.nulls) for column, values in distinct.items()},
            dtype=object,
        )
        batch[ROW_NUMBER] = pd.RangeIndex(size)
        failures: list[Failure] = []
        for column, code, message, positions in self._run(table, part, batch):
            values = distinct[column]
            real = np.unique(np.asarray(positions, dtype=np.int64))
            bad = values[real[real < len(values)]]
            present = [value for value in bad if value is not None]
            if part.nulls:
                hit = frame[column].notna() if present else pd.Series(False, index=frame.index)
            else:
                hit = frame[column].isin(present)
            if len(present) < len(bad):
                hit |= frame[column].isna()
            failures.extend((int(row), code, message) for row in frame.loc[hit, ROW_NUMBER])
        return failures

    def _run(
        self, table: str, part: _Part, batch: pd.DataFrame
    ) -> Iterable[tuple[str, str, str, list[int]]]:
        """Run one part; yield (column, reason code, message, row numbers of the batch)."""
        result = part.definition.run(
            batch_parameters={"dataframe": batch}, result_format=_RESULT_FORMAT
        )
        store = self._context.validation_results_store
        for key in store.list_keys():  # results are read here, not kept across runs
            store.remove_key(key)  # type: ignore[no-untyped-call]
        found: list[tuple[str, str, str, list[int]]] = []
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
            numbers = [int(index[ROW_NUMBER]) for index in indices]
            found.append((str(config.kwargs.get("column")), code, message, numbers))
        return found

    def _table_parts(self, table: str) -> list[_Part]:
        if table in self._parts:
            return self._parts[table]
        gx = self._gx
        document = json.loads(_suite_json(table))
        expectations: list[dict[str, Any]] = document.get("expectations", [])
        per_value = [item for item in expectations if _is_per_value(item)]
        kinds = {
            "nulls": [item for item in per_value if item["type"] in _NULL_TYPES],
            "values": [item for item in per_value if item["type"] not in _NULL_TYPES],
            "rows": [item for item in expectations if not _is_per_value(item)],
        }
        asset = self._source.add_dataframe_asset(name=table)
        parts: list[_Part] = []
        for kind, chosen in kinds.items():
            if not chosen:
                continue
            name = f"{table}_{kind}"
            batch = asset.add_batch_definition_whole_dataframe(name=f"{name}_whole")
            suite = self._context.suites.add(
                gx.ExpectationSuite(**{**document, "name": name, "expectations": chosen})
            )
            definition = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
            )
            columns = _columns_read(table, chosen)
            parts.append(_Part(definition, kind != "rows", columns, nulls=kind == "nulls"))
        self._parts[table] = parts
        return parts


def _is_per_value(expectation: Mapping[str, Any]) -> bool:
    kwargs = expectation.get("kwargs", {})
    return (
        expectation.get("type") in _PER_VALUE_TYPES
        and "column" in kwargs
        and not _PER_ROW_KWARGS & set(kwargs)
    )


def _null_classes(series: pd.Series) -> np.ndarray:
    """One non-null value of the column (if any) and None (if any): a null check's two cases."""
    missing = series.isna()
    non_null = series[~missing]
    found: list[object] = [non_null.iloc[0]] if len(non_null) else []
    if missing.any():
        found.append(None)
    return np.array(found, dtype=object)


def _padded(values: np.ndarray, size: int, nulls: bool) -> np.ndarray:
    """``values`` padded to ``size`` rows with a value of the same verdict as one already there.

    Null checks get the first non-null value (or null when there is none); the other per-value
    checks skip nulls, so null padding costs them nothing.
    """
    padded = np.full(size, None, dtype=object)
    if nulls:
        filled = [value for value in values[:2] if value is not None]
        if filled:
            padded[:] = filled[0]
    padded[: len(values)] = values
    return padded


def _columns_read(table: str, expectations: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The table's columns the expectations read: their ``column`` and their row conditions'."""
    names: set[str] = set()
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        if "column" not in kwargs:  # a multi-column expectation: give it every column
            return _COLUMNS[table]
        names.add(str(kwargs["column"]))
        names.update(_IDENTIFIER.findall(str(kwargs.get("row_condition") or "")))
    return tuple(column for column in _COLUMNS[table] if column in names)


@cache
def _suite_json(table: str) -> str:
    return project_path("expectations", f"{table}.json").read_text(encoding="utf-8")


def _receipts_elsewhere(frame: pd.DataFrame, receipts: Collection[str]) -> Iterable[Failure]:
    if not receipts:
        return ()
    shared = frame["receipt_number"].isin(receipts)
    return (
        (int(row), "RECEIPT_NUMBER_DUPLICATED", _DUPLICATED_RECEIPT_MESSAGE)
        for row in frame.loc[shared, ROW_NUMBER]
    )


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
    control = frame[_CONTROL_MASK].to_numpy()
    if not control.any():
        return failures
    for bit, column in enumerate(_COLUMNS[table]):
        hit = (control >> np.uint32(bit)) & np.uint32(1) == 1
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
    # per row, in (reason code, message) order: the distinct codes and the distinct messages
    codes: dict[int, dict[str, None]] = {}
    messages: dict[int, dict[str, None]] = {}
    for row, code, message in sorted(set(failures)):
        codes.setdefault(row, {})[code] = None
        messages.setdefault(row, {})[message] = None
    grouped = pd.DataFrame(
        {
            "reason_codes": [",".join(found) for found in codes.values()],
            "reasons": ["; ".join(found) for found in messages.values()],
        },
        index=pd.Index(list(codes), dtype="int64", name=ROW_NUMBER),
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

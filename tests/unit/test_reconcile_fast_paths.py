"""The fast paths of reconcile agree with the straightforward code they replace.

Reconcile takes pyarrow/numpy shortcuts when its input allows them (ISO date text, ASCII
card numbers, hours whose sums are exact in float64, receipt numbers without surrounding
whitespace) and falls back to the plain pandas/Python code otherwise; hypothesis checks that
both give the same answer.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings, strategies as st

from tests.factories import employee
from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    EMPLOYEE_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    QUARANTINE_COLUMNS,
    TIMESHEET_COLUMNS,
)
from zairyu_sync.config import PolicySettings
from zairyu_sync.pii import redact_card_numbers
from zairyu_sync.reconcile import (
    _aligned,
    _arrow_text,
    _assemble,
    _assemble_rules,
    _codes_in,
    _daily_hours,
    _daily_hours_by_holder_blocks,
    _daily_hours_exact,
    _daily_hours_grid,
    _daily_hours_of_rows,
    _dates,
    _discrepancy_ids,
    _exact_sums,
    _fixed_width,
    _held_by_erp,
    _in_report_order,
    _index_in,
    _iso,
    _month_after_end,
    _positions,
    _quarantine_groups,
    _receipt_numbers,
    _redacted,
    _run_positions,
    _str_array,
    _tenth_of_month_after,
    _text,
    _text_codes,
    _unique_rows,
    _unique_rows_in_order,
    reconcile,
    special_period_end,
)

pytestmark = pytest.mark.unit

POLICY = PolicySettings()
FAST = settings(max_examples=150, deadline=None)
D = pd.Timestamp(date(2026, 11, 25))

card_like = st.from_regex(re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}"), fullmatch=True)
fragments = st.one_of(
    card_like,
    st.text(alphabet=string.ascii_letters + string.digits + " -;,.()", max_size=14),
    st.sampled_from(["ＡＢ１２３４５６７８ＣＤ", "ab12345678cd", "AB1234567CD", "AB123456789CD"]),
)


@FAST
@given(st.lists(st.lists(fragments, max_size=5).map("".join), max_size=20))
def test_card_numbers_are_redacted_like_pii(details: list[str]) -> None:
    got = _redacted(pa.chunked_array([pa.array(details, type=pa.large_string())]))
    assert got.to_pylist() == [redact_card_numbers(text) for text in details]


receipts = st.one_of(
    st.none(),
    st.text(alphabet="R0123456789-", max_size=8),
    st.text(alphabet="R01 \t\x1c\xa0\u3000", max_size=6),
)


@FAST
@given(st.lists(receipts, max_size=30))
def test_receipt_numbers_are_stripped_like_python(numbers: list[str | None]) -> None:
    expected = {str(number).strip() for number in numbers if number}
    assert set(_receipt_numbers(numbers).to_pylist()) == expected
    # As the pipeline passes them: a column read from Parquet.
    column = pd.Series(numbers, dtype="str", name="receipt_number")
    assert set(_receipt_numbers(column).to_pylist()) == expected


date_text = st.one_of(
    st.none(),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)).map(date.isoformat),
    st.sampled_from(
        [
            "",
            "2026-02-30",
            "2026-1-5",
            " 2026-01-05",
            "2026-01-05 ",
            "2026-13-01",
            "garbage",
            "2026/01/05",
            "2026-0a-05",
            "20260105xx",
            "20260105",
            "+2026-01-05",
            "2026-01-05Z",
            "2026-01-0５",
            "２０２６-01-05",
            "2026-01-05T00:00",
        ]
    ),
)


@FAST
@given(st.lists(date_text, max_size=30), st.integers(min_value=1, max_value=3))
def test_iso_date_text_parses_like_pandas(values: list[str | None], chunks: int) -> None:
    """As Python objects, and as a pyarrow-backed column in chunks (as read from Parquet)."""
    series = pd.Series(values, dtype=object)
    expected = pd.to_datetime(series, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
    pd.testing.assert_series_equal(_dates(series), expected, check_names=False)
    column = pd.Series(_str_array(_in_chunks(values, chunks)))
    pd.testing.assert_series_equal(_dates(column), expected, check_names=False)


def _in_chunks(values: list[str | None], chunks: int) -> pa.ChunkedArray:
    """``values`` as large_string chunks, each a slice of a longer array (a non-zero offset)."""
    pieces = [list(piece) for piece in np.array_split(np.array(values, dtype=object), chunks)]
    sliced = [
        pa.array([" pad ", *piece, "pad"], type=pa.large_string()).slice(1, len(piece))
        for piece in pieces
    ]
    return pa.chunked_array(sliced, type=pa.large_string())


def test_dates_out_of_the_nanosecond_range_take_the_pandas_path() -> None:
    series = pd.Series(["1600-01-01", "2026-01-05"], dtype=object)
    with pytest.raises(Exception, match="[Oo]ut of bounds|OutOfBounds"):
        _dates(series)


stamps = st.one_of(
    st.none(),
    st.datetimes(min_value=pd.Timestamp("1700-01-01"), max_value=pd.Timestamp("2260-12-31")),
    st.dates(min_value=date(1700, 1, 1), max_value=date(2260, 12, 31)).map(pd.Timestamp),
)


@FAST
@given(st.lists(stamps, max_size=30))
def test_dates_of_datetimes_equal_pandas_normalize(values: list[pd.Timestamp | None]) -> None:
    """Day-precision columns (missing days included) pass unchanged; others are normalised."""
    series = pd.Series(values, dtype="datetime64[ns]")
    got = _dates(series)
    pd.testing.assert_series_equal(got, series.dt.normalize())
    if len(series) and series.equals(series.dt.normalize()):
        assert np.shares_memory(got.to_numpy(), series.to_numpy())  # nothing was recomputed


@FAST
@given(st.lists(stamps, max_size=30))
def test_iso_equals_pandas_strftime(values: list[pd.Timestamp | None]) -> None:
    series = pd.Series(values, dtype="datetime64[ns]").dt.normalize()
    expected = series.dt.strftime("%Y-%m-%d").fillna("unknown")
    pd.testing.assert_series_equal(_iso(series), expected)


mixed_objects = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(pd.NA),
    st.text(max_size=6),
    st.integers(-5, 5),
    st.text(max_size=3).map(str.encode),
)


@FAST
@given(st.lists(mixed_objects, max_size=20))
def test_arrow_text_of_objects_equals_pandas_string_conversion(values: list[object]) -> None:
    """Object columns of text take pyarrow directly; any other value the pandas conversion."""
    column = pd.Series(values, dtype=object)
    expected = pd.Series(column).astype("string").array._pa_array  # noqa: SLF001
    got = _arrow_text(column)
    assert got.type == pa.large_string()
    assert got.to_pylist() == expected.to_pylist()


def test_full_width_card_numbers_are_still_normalised() -> None:
    cards = pd.Series([" ＡＢ１２３４５６７８ＣＤ ", "ab12345678cd", "", None], dtype=object)
    assert _text(cards, upper=True).tolist()[:2] == ["AB12345678CD", "AB12345678CD"]
    assert _text(cards, upper=True).isna().tolist() == [False, False, True, True]


quarters = st.integers(min_value=0, max_value=96).map(lambda quarters: quarters / 4)
rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # holder
        st.integers(min_value=0, max_value=POLICY.hours_lookback_days - 1),  # days after start
        quarters,
        st.booleans(),
    ),
    max_size=120,
)


def _assert_same_days_over_the_limit(
    found: pd.DataFrame, ts: pd.DataFrame, policy: PolicySettings
) -> None:
    """``found`` holds exactly the days the pandas reference (``_daily_hours``) flags."""
    plain = _daily_hours(ts, policy)
    over = (plain["window_hours"] > policy.weekly_hours_limit + 1e-9) | (
        plain["vacation_hours"] > policy.long_vacation_daily_limit + 1e-9
    )
    columns = ["holder", "work_date", "counted", "vacation_hours", "window_hours"]
    pd.testing.assert_frame_equal(
        found[columns].reset_index(drop=True),
        plain.loc[over, columns].reset_index(drop=True),
        check_dtype=False,
    )


@FAST
@given(rows, st.sampled_from([POLICY, PolicySettings(hours_window_days=14)]))
def test_running_sums_equal_pandas_rolling_windows(
    generated: list[tuple[int, int, float, bool]], policy: PolicySettings
) -> None:
    """Short windows are summed day by day, long ones from running totals: both as pandas."""
    start = D - pd.Timedelta(days=POLICY.hours_lookback_days - 1)
    holder = np.array([row[0] for row in generated], dtype=np.int64)
    work_date = np.array(
        [(start + pd.Timedelta(days=row[1])).to_datetime64() for row in generated],
        dtype="datetime64[ns]",
    )
    hours = np.array([row[2] for row in generated], dtype=float)
    vacation = np.array([row[3] for row in generated], dtype=bool)
    ts = pd.DataFrame(
        {
            "holder": holder,
            "work_date": work_date,
            "counted": np.where(vacation, 0.0, hours),
            "vacation_hours": np.where(vacation, hours, 0.0),
        }
    )
    assert _exact_sums(hours)
    fast = _daily_hours_exact(ts, policy, start)
    _assert_same_days_over_the_limit(fast, ts, policy)


def test_hours_that_do_not_sum_exactly_take_the_pandas_path() -> None:
    assert not _exact_sums(np.array([4.1, 4.0]))
    assert not _exact_sums(np.array([np.inf]))
    assert _exact_sums(np.array([4.25, 0.0, 24.0]))


def test_hours_limit_with_tenths_of_hours_goes_through_the_pandas_path() -> None:
    days = [D - pd.Timedelta(days=offset) for offset in range(7)]
    result = reconcile(
        pd.DataFrame(
            [
                employee(
                    "W1", residence_status="dependent", outside_status_permission="comprehensive"
                )
            ],
            columns=list(EMPLOYEE_COLUMNS),
        ),
        pd.DataFrame(columns=list(APPLICATION_COLUMNS)),
        pd.DataFrame(columns=list(ISA_APPLICATION_COLUMNS)).astype(object),
        pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
        as_of=D.date(),
        policy=POLICY,
        timesheets=pd.DataFrame(
            [
                {
                    "employee_id": "W1",
                    "work_date": f"{day:%Y-%m-%d}",
                    "hours": "4.1",
                    "is_long_vacation": "false",
                }
                for day in days
            ],
            columns=list(TIMESHEET_COLUMNS),
        ),
    )
    found = result.discrepancies
    assert found["rule_code"].tolist() == ["HOURS_LIMIT_EXCEEDED"]
    assert "28.7 h in the 7 days ending 2026-11-25" in found["detail"].iloc[0]


day_stamps = st.one_of(
    st.none(),
    st.dates(min_value=date(1678, 1, 1), max_value=date(2261, 12, 31)).map(pd.Timestamp),
    st.sampled_from(
        [
            pd.Timestamp("2262-01-15"),  # too close to the end of the range: the pandas path
            pd.Timestamp("2024-01-31 10:30"),  # a time of day: the pandas path
            pd.Timestamp("2023-12-31"),
            pd.Timestamp("2024-02-29"),
        ]
    ),
)


@FAST
@given(st.lists(day_stamps, max_size=30))
def test_month_arithmetic_equals_pandas_offsets(stamps: list[pd.Timestamp | None]) -> None:
    days = pd.Series(stamps, dtype="datetime64[ns]", name="day")
    months = days.dt.to_period("M") + 1
    pd.testing.assert_series_equal(
        special_period_end(days),
        (days + pd.DateOffset(months=2)).astype("datetime64[ns]"),
    )
    pd.testing.assert_series_equal(
        _month_after_end(days),
        (months.dt.to_timestamp() + pd.offsets.MonthEnd(0)).astype("datetime64[ns]"),
    )
    pd.testing.assert_series_equal(
        _tenth_of_month_after(days),
        (months.dt.to_timestamp() + pd.Timedelta(days=9)).astype("datetime64[ns]"),
    )


@FAST
@given(
    rows,
    st.integers(min_value=0, max_value=3),
    st.sampled_from([POLICY, PolicySettings(hours_window_days=14)]),
)
def test_daily_grid_equals_pandas_rolling_windows(
    generated: list[tuple[int, int, float, bool]], spare_holders: int, policy: PolicySettings
) -> None:
    """The holder x day grid gives pandas' daily and rolling sums on the days with rows."""
    start = D - pd.Timedelta(days=POLICY.hours_lookback_days - 1)
    holder = np.array([row[0] for row in generated], dtype=np.int64)
    day = np.array([row[1] for row in generated], dtype=np.int64)
    hours = np.array([row[2] for row in generated], dtype=float)
    vacation = np.array([row[3] for row in generated], dtype=bool)
    counted, vacation_hours = np.where(vacation, 0.0, hours), np.where(vacation, hours, 0.0)
    ts = pd.DataFrame(
        {
            "holder": holder,
            "work_date": start.to_datetime64() + day.astype("timedelta64[D]"),
            "counted": counted,
            "vacation_hours": vacation_hours,
        }
    )
    holders = 4 + spare_holders
    grid = _daily_hours_grid(holder, day, counted, vacation_hours, holders, policy, start)
    assert grid is not None
    _assert_same_days_over_the_limit(grid, ts, policy)


ids = st.one_of(
    st.none(),
    st.sampled_from(["E1", "E2", " E1", "E1 ", "E3\u3000", "", "E22"]),
)


@FAST
@given(st.lists(ids, max_size=40), st.lists(st.sampled_from(["E1", "E2", "E3", "E4"]), unique=True))
def test_run_positions_equal_stripping_every_row(
    given_ids: list[str | None], wanted: list[str]
) -> None:
    """Looking ids up once per run of equal ids gives the row-by-row answer."""
    series = pd.Series(given_ids, dtype=object)
    value_set = pa.array(wanted, type=pa.large_string())
    expected = (
        pc.index_in(
            pc.utf8_trim_whitespace(
                pa.array(series.astype("string").str.strip(), from_pandas=True)
            ),
            value_set=value_set,
        )
        .fill_null(-1)
        .to_numpy(zero_copy_only=False)
    )
    got = _run_positions(_arrow_text(series), value_set)
    assert got.tolist() == expected.tolist()


@FAST
@given(
    st.lists(st.sampled_from(["E1", "E2", "E3", "E4", "E5"]), max_size=12),
    st.lists(st.one_of(st.none(), st.sampled_from(["E1", "E2", "E3", "E6"])), max_size=12),
)
def test_unique_rows_equal_drop_duplicates_and_a_join(
    employee_ids: list[str], application_ids: list[str | None]
) -> None:
    employees = pd.Series(employee_ids, dtype="str")
    applications = pd.Series(application_ids, dtype="str")
    single, rows = _unique_rows(_arrow_text(employees), _arrow_text(applications))
    unique = employees.drop_duplicates(keep=False)
    assert employees[single].tolist() == unique.tolist()
    expected = [unique.tolist().index(i) if i in unique.tolist() else -1 for i in application_ids]
    assert rows.tolist() == expected


#: Ids as an ERP may hold them: prefixes of one another, digits, punctuation, a space inside.
ordered_ids = st.sampled_from(["", "E1", "E10", "E1-01", "E2", "E9", "F", "E1 x", "a", "~"])
#: Text the fixed-width keys must decline: non-ASCII, NUL, longer than they pad.
awkward_ids = st.sampled_from(["É1", "E1\x00", "E1\u3000", "E" * 65])


def _hash_path(ids: pa.ChunkedArray, wanted: pa.ChunkedArray) -> tuple[list[bool], list[int]]:
    """:func:`_unique_rows` with the rows shuffled out of order (the dictionary path)."""
    order = np.arange(len(ids))[::-1]
    single, rows = _unique_rows(ids.take(pa.array(order)), wanted)
    back = np.argsort(order)
    unique_positions = np.cumsum(single) - 1  # shuffled unique row -> its position there
    kept = np.flatnonzero(single[back])  # unique rows in the given order
    position_of = {int(unique_positions[back][row]): i for i, row in enumerate(kept)}
    return single[back].tolist(), [position_of.get(int(row), -1) for row in rows]


@FAST
@given(
    st.lists(ordered_ids, max_size=15),
    st.lists(st.one_of(st.none(), ordered_ids, awkward_ids), max_size=12),
    st.booleans(),
)
def test_unique_rows_in_order_equal_the_dictionary_path(
    given_ids: list[str], wanted_ids: list[str | None], awkward: bool
) -> None:
    """Ids in order are searched, not hashed: same rows kept, same positions."""
    ordered = sorted(given_ids) + (["É9"] if awkward else [])
    ids = _arrow_text(pd.Series(ordered, dtype="str"))
    wanted = _arrow_text(
        pd.Series(sorted(wanted_ids, key=lambda i: (i is not None, i)), dtype="str")
    )
    in_order = _unique_rows_in_order(ids, wanted)
    searchable = not awkward and not any(
        i is not None and (not i.isascii() or "\x00" in i or len(i) > 64) for i in wanted_ids
    )
    assert (in_order is not None) == searchable  # the search ran wherever it may
    single, rows = _unique_rows(ids, wanted)
    expected_single, expected_rows = _hash_path(ids, wanted)
    assert single.tolist() == expected_single
    assert rows.tolist() == expected_rows
    unique = [i for i in ordered if ordered.count(i) == 1]
    assert rows.tolist() == [unique.index(i) if i in unique else -1 for i in wanted.to_pylist()]


@FAST
@given(
    st.lists(st.one_of(st.none(), ordered_ids, awkward_ids), max_size=15),
    st.lists(st.one_of(ordered_ids, awkward_ids), max_size=10, unique=True),
    st.booleans(),
)
def test_index_in_equals_pyarrow(keys: list[str | None], values: list[str], in_order: bool) -> None:
    """Sorted look-ups answer as ``pc.index_in``, whatever order or text they are given."""
    if in_order:
        keys = sorted(keys, key=lambda key: (key is not None, key))
        values = sorted(values)
    key_array = pa.chunked_array([pa.array(keys, type=pa.large_string())])
    value_array = pa.array(values, type=pa.large_string())
    expected = pc.index_in(key_array, value_set=value_array).fill_null(-1)
    assert _index_in(key_array, value_array).tolist() == expected.to_pylist()


@FAST
@given(st.lists(st.one_of(ordered_ids, st.text(alphabet=string.printable, max_size=6))))
def test_fixed_width_keys_order_and_equal_as_the_text(values: list[str]) -> None:
    text = pa.array(values, type=pa.large_string())
    (keys,) = _fixed_width(text) or (None,)
    assert keys is not None  # printable ASCII has no NUL
    assert [values[i] for i in np.argsort(keys, kind="stable")] == sorted(values)
    assert (keys[:, None] == keys[None, :]).tolist() == [[a == b for b in values] for a in values]


def test_fixed_width_keys_decline_text_they_cannot_pad_faithfully() -> None:
    for awkward in ["É1", "E1\x00", "E1\u3000", "E" * 65]:
        assert _fixed_width(pa.array(["E1", awkward], type=pa.large_string())) is None
    assert _fixed_width(pa.array(["E" * 64, None], type=pa.large_string())) is not None
    assert _fixed_width(pa.array(["E1", "E2"], type=pa.string())) is None  # 32-bit offsets


text_values = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "ab", " Ab ", "ＡＢ１", "\u3000x\u3000", "x\ty", "ß", "a\x1c"]),
)


def _plain_text(series: pd.Series, *, upper: bool = False, lower: bool = False) -> pd.Series:
    text = series.astype("string").str.strip()
    if upper:
        text = text.str.normalize("NFKC").str.upper()
    if lower:
        text = text.str.lower()
    return text.mask(text == "").astype("str")


@FAST
@given(st.lists(text_values, max_size=20), st.sampled_from(["plain", "upper", "lower"]))
def test_text_equals_pandas_string_methods(values: list[str | None], case: str) -> None:
    series = pd.Series(values, dtype=object, index=range(10, 10 + len(values)))
    options = {"upper": case == "upper", "lower": case == "lower"}
    pd.testing.assert_series_equal(_text(series, **options), _plain_text(series, **options))


edge_text = st.one_of(
    st.none(),
    st.text(alphabet=" \t\x1c\x7f\x85\xa0\u2028\u3000aZz9-ｚＡß", max_size=4),
    st.text(max_size=4),
)


def _every_kernel(series: pd.Series, *, upper: bool = False, lower: bool = False) -> pd.Series:
    """``_text`` with every pyarrow kernel applied to every value, none skipped."""
    text = pc.utf8_trim_whitespace(_arrow_text(series).combine_chunks())
    if upper:
        text = pc.utf8_upper(_arrow_text(pd.Series(_str_array(text)).str.normalize("NFKC")))
    if lower:
        text = pc.utf8_lower(text)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
    return pd.Series(_str_array(text), index=series.index, name=series.name)


@FAST
@given(
    st.lists(edge_text, max_size=20),
    st.integers(min_value=1, max_value=3),
    st.sampled_from(["plain", "upper", "lower"]),
)
def test_text_skips_only_kernels_that_would_change_nothing(
    values: list[str | None], chunks: int, case: str
) -> None:
    """Clean text is not trimmed or re-cased again; the answer is as if it always were."""
    series = pd.Series(_str_array(_in_chunks(values, chunks)), name="column")
    options = {"upper": case == "upper", "lower": case == "lower"}
    pd.testing.assert_series_equal(_text(series, **options), _every_kernel(series, **options))


near_days = st.one_of(
    st.none(),
    st.dates(min_value=date(2023, 11, 1), max_value=date(2024, 3, 31)).map(pd.Timestamp),
)


@FAST
@given(st.lists(near_days, max_size=30))
def test_special_period_end_looked_up_per_day_equals_pandas_offsets(
    stamps: list[pd.Timestamp | None],
) -> None:
    """Dates close together are worked out once per calendar day, then looked up."""
    days = pd.Series(stamps, dtype="datetime64[ns]", name="expiry")
    pd.testing.assert_series_equal(
        special_period_end(days), (days + pd.DateOffset(months=2)).astype("datetime64[ns]")
    )


quarantine_rows = st.tuples(
    st.sampled_from(["E1", "E2", None]),
    st.sampled_from(["employees", "applications"]),
    st.sampled_from(["R1", None]),
    st.sampled_from(["A", "B,A", "", None]),
    st.sampled_from(["bad x", "bad y", None]),
    st.sampled_from(["ORG1", None]),
)


def _quarantine_groups_by_pandas(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``_quarantine_groups`` as a pandas groupby-agg (keys without missing values)."""

    def join_codes(values: Iterable[list[str]]) -> str:
        return ",".join(sorted({code for codes in values for code in codes if code}))

    def join_unique(values: Iterable[object]) -> str:
        return "; ".join(dict.fromkeys(str(value) for value in values if isinstance(value, str)))

    return (
        rows.assign(_codes=rows["reason_codes"].fillna("").astype(str).str.split(","))
        .groupby(keys, sort=True)
        .agg(
            rows=("_row", ", ".join),
            count=("_row", "size"),
            codes=("_codes", join_codes),
            reasons=("reasons", join_unique),
            organization_id=("organization_id", "first"),
            compliance_owner=("compliance_owner", "first"),
        )
        .reset_index()
    )


@FAST
@given(st.lists(quarantine_rows, min_size=1, max_size=12))
def test_quarantine_groups_equal_pandas_groupby(
    generated: list[tuple[str | None, ...]],
) -> None:
    frame = pd.DataFrame(
        generated,
        columns=["employee_id", "source_table", "receipt_number", "reason_codes", "reasons", "org"],
        dtype=object,
    )
    frame = frame.assign(
        _employee=frame["employee_id"].fillna(""),
        _receipt=frame["receipt_number"].fillna(""),
        _row=[str(number) for number in range(2, 2 + len(frame))],
        organization_id=frame["org"],
        compliance_owner=frame["org"].map(lambda org: None if org is None else f"{org}@x"),
    )
    keys = ["_employee", "source_table", "_receipt"]
    expected = _quarantine_groups_by_pandas(frame, keys)
    text = [column for column in expected.columns if column != "count"]
    got = _quarantine_groups(frame, keys)
    pd.testing.assert_frame_equal(got, expected.astype(dict.fromkeys(text, "str")))


def test_quarantine_rows_without_a_source_table_form_their_own_group() -> None:
    """A missing key is a key of its own (sorted last): no quarantined row is left out."""
    frame = pd.DataFrame(
        {
            "_employee": ["E1", "E1", "E1"],
            "source_table": [None, "employees", None],
            "_receipt": ["", "", ""],
            "_row": ["2", "3", "4"],
            "reason_codes": ["B,A", "A", "C"],
            "reasons": ["x", "y", "x"],
            "organization_id": [None, "ORG1", "ORG2"],
            "compliance_owner": [None, None, None],
        },
        dtype=object,
    )
    got = _quarantine_groups(frame, ["_employee", "source_table", "_receipt"])
    assert got["rows"].tolist() == ["3", "2, 4"]
    assert got["codes"].tolist() == ["A", "A,B,C"]
    assert got["reasons"].tolist() == ["y", "x"]
    assert got["organization_id"].tolist() == ["ORG1", "ORG2"]
    assert got["count"].tolist() == [1, 2]


@FAST
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.just(float("nan")), st.text(max_size=4), st.integers(0, 9)),
            st.one_of(st.none(), st.text(max_size=4)),
            st.sampled_from(["", "|employees"]),
        ),
        max_size=10,
    )
)
def test_discrepancy_ids_equal_pandas_built_keys(generated: list[tuple[object, ...]]) -> None:
    employee = pd.Series([row[0] for row in generated], dtype=object)
    receipt = pd.Series([row[1] for row in generated], dtype=object)
    extra = pd.Series([row[2] for row in generated], dtype=object)
    keys = (
        employee.fillna("").astype(str)
        + "|RULE|"
        + receipt.fillna("").astype(str)
        + extra.astype(str)
    )
    expected = [hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] for key in keys.tolist()]
    assert _discrepancy_ids(employee, "|RULE|", receipt, extra) == expected
    text = [employee, receipt, extra]
    if all(all(isinstance(value, str) or pd.isna(value) for value in part) for part in text):
        # All text, typed as pyarrow text: pyarrow joins the keys.
        typed = [part.astype("str") for part in text]
        assert _discrepancy_ids(typed[0], "|RULE|", typed[1], typed[2]) == expected
    if all(value == "" for value in extra):  # no extras: the same ids
        assert _discrepancy_ids(employee, "|RULE|", receipt) == expected
        if all(isinstance(value, str) or pd.isna(value) for value in [*employee, *receipt]):
            assert _discrepancy_ids(employee.astype("str"), "|RULE|", receipt) == expected


@FAST
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["R1", "R2", "R3", "R9"])), max_size=15),
    st.lists(st.sampled_from(["R1", "R2", "R3", "R4"]), unique=True),
)
def test_positions_and_aligned_equal_a_pandas_reindex(
    keys: list[str | None], table_keys: list[str]
) -> None:
    """The column-by-column join gives pandas' reindex: text, dates and other columns."""
    table = pd.DataFrame(
        {
            "receipt_number": pd.Series(table_keys, dtype="str"),
            "status": pd.Series([f"S{key}" for key in table_keys], dtype="str"),
            "filed_on": pd.Series(
                [D - pd.Timedelta(days=n) for n in range(len(table_keys))], dtype="datetime64[ns]"
            ),
            "flag": pd.Series([n % 2 == 0 for n in range(len(table_keys))], dtype=bool),
        }
    ).set_axis(range(5, 5 + len(table_keys)))
    series = pd.Series(keys, dtype="str", index=range(100, 100 + len(keys)))
    found, rows = _positions(series, table["receipt_number"])
    aligned = _aligned(table.drop(columns="receipt_number"), rows, found, series.index)
    position = [table_keys.index(key) if key in table_keys else -1 for key in keys]
    expected = (
        table.drop(columns="receipt_number")
        .reset_index(drop=True)
        .reindex(pd.Index(position))
        .set_axis(series.index)
    )
    assert rows.tolist() == position
    assert found.tolist() == [row >= 0 for row in position]
    pd.testing.assert_frame_equal(aligned, expected)
    # The same rows from one dictionary encoding of both columns (table keys are unique).
    single, unique_rows = _unique_rows(_arrow_text(table["receipt_number"]), _arrow_text(series))
    assert single.all()
    assert unique_rows.tolist() == position


@FAST
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["student", "dependent", "x", ""])), max_size=20)
)
def test_codes_in_equal_pandas_isin(values: list[str | None]) -> None:
    series = pd.Series(values, dtype="str")
    codes, known = _text_codes(series)
    for wanted in [("student", "x"), ("dependent",), (), ("",)]:
        assert _codes_in(codes, known, wanted).tolist() == series.isin(list(wanted)).tolist()


@FAST
@given(
    st.lists(st.sampled_from(["R1", "R2", "R3", "R4", "R5"]), unique=True),
    st.lists(st.one_of(st.none(), st.sampled_from(["R1", "R2", "R3", "R6"])), max_size=10),
    st.lists(st.one_of(st.none(), st.sampled_from(["R2", "R4", "R5", "R7", " R5"])), max_size=10),
)
def test_held_by_erp_equals_is_in(
    isa_receipts: list[str], erp_receipts: list[str | None], others: list[str | None]
) -> None:
    """Matched ERP applications plus the other receipt numbers: pyarrow's is_in of all."""
    isa = pa.chunked_array([pa.array(isa_receipts, type=pa.large_string())])
    erp = pa.chunked_array([pa.array(erp_receipts, type=pa.large_string())])
    extra = pa.chunked_array([pa.array(others, type=pa.large_string())])
    isa_row = pc.index_in(erp, value_set=isa).fill_null(-1).to_numpy(zero_copy_only=False)
    held = _held_by_erp(isa, np.asarray(isa_row, dtype=np.int64), extra)
    everything = pa.chunked_array([*erp.chunks, *extra.chunks]).drop_null()
    expected = pc.is_in(isa, value_set=everything).to_numpy(zero_copy_only=False)
    assert held.tolist() == expected.tolist()


findings_rows = st.lists(
    st.tuples(
        st.sampled_from(["R_A", "R_B", "R_C"]),  # rule
        st.sampled_from(["critical", "warning", "info"]),
        st.one_of(st.none(), st.sampled_from(["E1", "E2", "E10", "e1"])),
        st.one_of(st.none(), st.sampled_from(["2026-X-1", "2026-X-2"])),
        st.sampled_from(["id1", "id2", "id3", "id4", "id5", "id6", "id7", "id8", "id9"]),
    ),
    max_size=25,
    unique_by=lambda row: row[4] + row[0],
)


@FAST
@given(findings_rows)
def test_assembling_presorted_rules_equals_sorting_everything(
    generated: list[tuple[str, str, str | None, str | None, str]],
) -> None:
    """Sorting each rule's findings, then interleaving the rules, gives the one big sort."""
    frames = []
    for rule in sorted({row[0] for row in generated}):
        mine = [row for row in generated if row[0] == rule]
        frame = pd.DataFrame(
            {
                "discrepancy_id": pd.Series([f"{rule}-{row[4]}" for row in mine], dtype=object),
                "employee_id": pd.Series([row[2] for row in mine], dtype="str"),
                "organization_id": pd.Series(["ORG"] * len(mine), dtype="str"),
                "compliance_owner": pd.Series([None] * len(mine), dtype=object),
                "rule_code": pd.Series([rule] * len(mine), dtype=object),
                "severity": pd.Series([row[1] for row in mine], dtype=object),
                "due_date": pd.Series([D] * len(mine), dtype="datetime64[ns]"),
                "receipt_number": pd.Series([row[3] for row in mine], dtype="str"),
                "detail": pd.Series([f"d{row[4]}" for row in mine], dtype="str"),
            }
        )
        frames.append(frame)
    ranks = {"critical": 0, "warning": 1, "info": 2}
    ordered = [
        _in_report_order(
            pa.table(
                {
                    **{
                        column: pa.array(
                            frame[column].tolist(),
                            type=pa.timestamp("ns") if column == "due_date" else pa.large_string(),
                            from_pandas=True,
                        )
                        for column in frame.columns
                    },
                    "_rank": pa.array(frame["severity"].map(ranks), type=pa.int8()),
                }
            )
        )
        for frame in frames
    ]
    pd.testing.assert_frame_equal(_assemble_rules(ordered), _assemble(frames))


timesheet_rows = st.lists(
    st.tuples(
        st.integers(min_value=-1, max_value=5),  # holder (-1: someone else)
        st.integers(min_value=-3, max_value=POLICY.hours_lookback_days + 2),  # day after start
        st.one_of(quarters, st.just(float("nan"))),
        st.one_of(st.none(), st.booleans()),
    ),
    max_size=80,
)


@FAST
@given(
    timesheet_rows,
    st.integers(min_value=1, max_value=7),
    st.sampled_from([POLICY, PolicySettings(hours_window_days=14)]),
)
def test_hours_by_holder_blocks_equal_all_rows_at_once(
    generated: list[tuple[int, int, float, bool | None]], block: int, policy: PolicySettings
) -> None:
    """Rows in holder order, worked out a few holders at a time: the same days over a limit."""
    # Holders' rows in holder order; other employees' rows stay where they were, in between.
    in_order = iter(sorted((row for row in generated if row[0] >= 0), key=lambda row: row[0]))
    generated = [row if row[0] < 0 else next(in_order) for row in generated]
    holder_ids = pd.Series([f"H{n}" for n in range(6)], dtype="str")
    student = np.array([n % 2 == 0 for n in range(6)])
    start = D - pd.Timedelta(days=policy.hours_lookback_days - 1)
    timesheets = pd.DataFrame(
        {
            "employee_id": pd.Series(
                [f"H{row[0]}" if row[0] >= 0 else "OTHER" for row in generated], dtype="str"
            ),
            "work_date": pd.Series(
                [start + pd.Timedelta(days=row[1]) for row in generated], dtype="datetime64[ns]"
            ),
            "hours": pd.Series([row[2] for row in generated], dtype="float64"),
            "is_long_vacation": pd.Series([row[3] for row in generated], dtype="boolean"),
        }
    )
    by_blocks = _daily_hours_by_holder_blocks(
        timesheets, holder_ids, student, start, policy, block_holders=block
    )
    assert by_blocks is not None
    at_once = _daily_hours_of_rows(timesheets, holder_ids, student, start, policy)
    columns = ["holder", "work_date", "counted", "vacation_hours", "window_hours"]
    pd.testing.assert_frame_equal(
        by_blocks[columns].sort_values(["holder", "work_date"]).reset_index(drop=True),
        at_once[columns].sort_values(["holder", "work_date"]).reset_index(drop=True),
        check_dtype=False,
    )


def test_hours_by_holder_blocks_decline_rows_out_of_holder_order() -> None:
    """Rows of a holder after a later holder's, or hours that do not sum exactly: declined."""
    start = D - pd.Timedelta(days=POLICY.hours_lookback_days - 1)
    holder_ids = pd.Series(["H0", "H1"], dtype="str")
    student = np.zeros(2, dtype=bool)

    def timesheets(ids: list[str], hours: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "employee_id": pd.Series(ids, dtype="str"),
                "work_date": pd.Series([start] * len(ids), dtype="datetime64[ns]"),
                "hours": pd.Series([hours] * len(ids), dtype="float64"),
                "is_long_vacation": pd.Series([False] * len(ids), dtype="boolean"),
            }
        )

    blocks = _daily_hours_by_holder_blocks
    assert blocks(timesheets(["H0", "H1"], 4.0), holder_ids, student, start, POLICY) is not None
    assert blocks(timesheets(["H1", "H0"], 4.0), holder_ids, student, start, POLICY) is None
    assert blocks(timesheets(["H0", "H1"], 4.1), holder_ids, student, start, POLICY) is None

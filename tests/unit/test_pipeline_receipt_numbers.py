"""``pipeline.receipt_numbers`` equals the plain per-value expression on any raw column."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from zairyu_sync.pipeline import receipt_numbers

pytestmark = pytest.mark.unit

_VALUES = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False).map(lambda value: round(value, 1)),
    st.text(alphabet=" \t\u3000\x1c2026-TKY0X1", max_size=6),
)


def _reference(values: list[object]) -> set[str]:
    column = pd.Series(values, dtype=object).dropna()
    return {text for text in (str(value).strip() for value in column) if text}


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, max_size=30))
def test_receipt_numbers_match_the_per_value_expression(values: list[object]) -> None:
    frame = pd.DataFrame({"receipt_number": pd.Series(values, dtype=object)})
    assert receipt_numbers(frame) == _reference(values)


def test_equal_values_of_different_types_stay_apart() -> None:
    frame = pd.DataFrame(
        {"receipt_number": pd.Series([1, 1.0, True, "1", " X ", "X"], dtype=object)}
    )
    assert receipt_numbers(frame) == {"1", "1.0", "True", "X"}


def test_a_text_column_is_stripped_and_blanks_dropped() -> None:
    frame = pd.DataFrame(
        {"receipt_number": pd.Series([" A ", "A", "", "  ", None], dtype="string")}
    )
    assert receipt_numbers(frame) == {"A"}

"""The load prepares the next snapshot chunk on a thread while the current one is written."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from zairyu_sync.load import _prefetched

pytestmark = pytest.mark.unit


def _tables(count: int, started: threading.Event, fail_at: int | None = None) -> Iterator[pa.Table]:
    for index in range(count):
        started.set()
        if index == fail_at:
            raise ValueError(f"chunk {index} is broken")
        yield pa.table({"chunk": [index]})


def test_chunks_come_in_order_and_the_first_is_started_before_it_is_asked_for() -> None:
    started = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        chunks = _prefetched(pool, _tables(5, started))
        assert started.wait(timeout=10), "the first chunk was not started ahead"
        assert [table["chunk"][0].as_py() for table in chunks] == [0, 1, 2, 3, 4]


def test_an_error_preparing_a_chunk_reaches_the_writer_after_the_chunks_before_it() -> None:
    written: list[int] = []
    with ThreadPoolExecutor(1) as pool:
        chunks = _prefetched(pool, _tables(5, threading.Event(), fail_at=2))
        with pytest.raises(ValueError, match="chunk 2 is broken"):
            for table in chunks:
                written.append(table["chunk"][0].as_py())
    assert written == [0, 1]


def test_no_chunks_is_an_empty_load() -> None:
    with ThreadPoolExecutor(1) as pool:
        assert list(_prefetched(pool, iter([]))) == []

"""What machine a benchmark ran on, and three reference workloads that place it among others.

Virtual machines of one nominal size differ a lot: the same code has taken twice as long on one
2-core VM as on another, and fresh memory can cost ten times more. The benchmark's figures are
only comparable between runs when the machines are, so every report carries
:func:`describe_machine`: the platform, and with ``calibrate`` the speed of a pure Python loop
(what the naive baselines and pandas bookkeeping spend time on), the system time of touching
fresh memory (what a fresh task process pays on its first large call) and pyarrow's hashing of
text keys (the reconcile stage's joins). These are measured here, never asserted in tests.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_LOOP_ITEMS = 3_000_000
_FRESH_BYTES = 256 << 20
_HASH_KEYS = 1_000_000


def describe_machine(*, calibrate: bool = False) -> dict[str, Any]:
    """The machine's facts, and with ``calibrate`` the reference workloads (about 2 s).

    Returns:
        ``cpu_count``, ``cpu_model``, ``platform``, ``python``, ``pandas``, ``pyarrow``, and with
        ``calibrate`` a ``calibration`` table: ``python_loop_ns_per_item``,
        ``fresh_memory_seconds_per_gib`` (median of three fresh 256 MiB blocks, written once)
        and ``arrow_hash_ns_per_key`` (dictionary encoding of 1M distinct ids); each the best of
        three unless said.
    """
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
    }
    if calibrate:
        facts["calibration"] = calibration()
    return facts


def calibration() -> dict[str, float]:
    """The three reference workloads of :func:`describe_machine`."""
    ids = pa.array([f"E{number:09d}" for number in range(_HASH_KEYS)], type=pa.large_string())
    loop = _best(lambda: sum(number % 7 for number in range(_LOOP_ITEMS)))
    hashing = _best(lambda: pc.dictionary_encode(ids))
    fresh = statistics.median(_seconds(_fresh_block) for _ in range(3))
    return {
        "python_loop_ns_per_item": round(loop / _LOOP_ITEMS * 1e9, 2),
        "fresh_memory_seconds_per_gib": round(fresh * (1 << 30) / _FRESH_BYTES, 3),
        "arrow_hash_ns_per_key": round(hashing / _HASH_KEYS * 1e9, 1),
    }


def _fresh_block() -> None:
    """Allocate a block the allocator takes fresh from the kernel, and write it once."""
    block = np.ones(_FRESH_BYTES, dtype=np.uint8)
    del block


def _best(work: Callable[[], object], repeats: int = 3) -> float:
    return min(_seconds(work) for _ in range(repeats))


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _cpu_model() -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else the platform's processor."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or None

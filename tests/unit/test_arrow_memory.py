"""The data stages' pyarrow memory pool: jemalloc unless the operator chose one (ADR 0014).

The choice is process-wide, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from zairyu_sync.arrow_memory import ARROW_POOL_ENV, use_data_stage_memory_pool

pytestmark = pytest.mark.unit

_PROBE = """
import pyarrow as pa
from zairyu_sync.arrow_memory import use_data_stage_memory_pool
before = pa.default_memory_pool().backend_name
chosen = use_data_stage_memory_pool()
print(before, chosen, pa.default_memory_pool().backend_name, pa.array([1, 2]).nbytes > 0)
"""


def _probe(pool_setting: str | None) -> list[str]:
    env = {name: value for name, value in os.environ.items() if name != ARROW_POOL_ENV}
    if pool_setting is not None:
        env[ARROW_POOL_ENV] = pool_setting
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return completed.stdout.split()


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


@pytest.mark.skipif(not _has_jemalloc(), reason="this pyarrow has no jemalloc")
def test_jemalloc_becomes_the_default_pool_when_nothing_was_chosen() -> None:
    before, chosen, after, allocated = _probe(None)
    assert before != "jemalloc"  # pyarrow's own default differs, so the call changed something
    assert chosen == after == "jemalloc"
    assert allocated == "True"


@pytest.mark.parametrize("setting", ["system", "mimalloc"])
def test_the_operators_choice_is_left_alone(setting: str) -> None:
    before, chosen, after, _ = _probe(setting)
    assert before == chosen == after == setting


def test_an_explicit_environment_is_read_instead_of_the_process_one() -> None:
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())  # not the pool the call would choose
    try:
        assert use_data_stage_memory_pool({ARROW_POOL_ENV: "mimalloc"}) == "system"
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(previous)

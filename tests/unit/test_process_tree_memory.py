"""The benchmark's process-tree memory probe sees the memory of child processes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from zairyu_sync.bench_scale import ProcessTreeMemory

pytestmark = pytest.mark.unit

_CHILD = """
import sys, time
block = bytearray(200 * 1024 * 1024)
block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page
print("ready", flush=True)
time.sleep(30)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_tree_peak_includes_a_child_process_memory() -> None:
    with ProcessTreeMemory(interval=0.01) as memory:
        before = memory.peak_mb()  # this process (and any children it already has)
        child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            time.sleep(0.1)
            peak = memory.peak_mb()
            high_water = memory.high_water_sum_mb()
        finally:
            child.kill()
            child.wait()
    assert peak >= before + 190  # plus the child's 200 MiB
    assert high_water >= peak

"""The benchmark's measurements that run in a fresh interpreter, and their JSON results.

A measurement that must not see what the benchmark's own process did before (its heap, its
allocator's state, its imports) runs as ``python -m MODULE ARGUMENTS...`` with this interpreter;
the module writes its result as JSON to a file the caller names and reads back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def run_module(module: str, arguments: Sequence[str], result_path: Path) -> dict[str, Any]:
    """Run ``python -m module arguments...`` and return the JSON object it wrote to a file.

    Args:
        module: one of the benchmark's modules (run with this interpreter).
        arguments: its command-line arguments.
        result_path: where the module writes its result; removed once read.

    Returns:
        The result.

    Raises:
        ChildProcessError: the process ended with a non-zero exit status.
    """
    result_path.unlink(missing_ok=True)
    completed = subprocess.run(  # noqa: S603 - this interpreter, our module, our files
        [sys.executable, "-m", module, *arguments], check=False
    )
    if completed.returncode != 0:
        raise ChildProcessError(f"{module} failed (exit status {completed.returncode})")
    try:
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    finally:
        result_path.unlink(missing_ok=True)
    return result

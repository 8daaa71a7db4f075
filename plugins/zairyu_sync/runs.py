"""A run's identity and its working directory.

Every DAG run (and every CLI run) has a *run key* derived from its as-of date, not from Airflow's
run id, so that a rerun or retry of the same logical date writes to the same place and upserts the
same warehouse rows. Stages hand large frames to each other as Parquet files in the run directory;
only paths and counts travel through XCom.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from zairyu_sync.config import run_root

#: Files a run directory holds, by logical name.
RUN_FILES = {
    "employees_raw": "employees_raw.parquet",
    "applications_raw": "applications_raw.parquet",
    "timesheets_raw": "timesheets_raw.parquet",
    "employees": "employees.parquet",
    "applications": "applications.parquet",
    "timesheets": "timesheets.parquet",
    "quarantine": "quarantine.parquet",
    "erp_receipts": "erp_receipts.parquet",
    "shared_receipts": "shared_receipts.parquet",
    "roster_discrepancies": "roster_discrepancies.parquet",
    "shards": "shards.json",
    "isa_applications": "isa_applications.parquet",
    "discrepancies": "discrepancies.parquet",
    "summary": "summary.json",
    "report": "report.html",
}


@dataclass(frozen=True)
class RunContext:
    """Identity of one reconciliation run.

    Attributes:
        run_key: stable key, ``<pipeline>/<as-of date>``; reruns of a date share it.
        dag_run_id: Airflow's run id (or a CLI-made one), for traceability only.
        logical_date: the run's logical date.
        as_of: the date the rules are evaluated for (the data interval end, in Japan time).
        run_dir: the working directory of this run key.
    """

    run_key: str
    dag_run_id: str
    logical_date: datetime
    as_of: date
    run_dir: Path

    def path(self, name: str) -> Path:
        """The path of a run file by logical name (see :data:`RUN_FILES`)."""
        return self.run_dir / RUN_FILES[name]

    def state_dir(self, name: str) -> Path:
        """A directory kept across the pipeline's runs (``_state/<name>`` beside the run dirs).

        Created owner-only: state such as the ISA mirror holds personal data.
        """
        path = self.run_dir.parent / "_state" / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def for_shard(self, label: str) -> RunContext:
        """The context of one shard of this run: the same run, files in ``shards/<label>/``."""
        if not re.fullmatch(r"[0-9]{3}-of-[0-9]{3}", label):
            raise ValueError(f"not a shard label: {label!r}")
        shard_dir = self.run_dir / "shards" / label
        shard_dir.mkdir(parents=True, exist_ok=True)
        return dataclasses.replace(self, run_dir=shard_dir)


def make_run_context(
    *, pipeline: str, logical_date: datetime, as_of: date, dag_run_id: str, root: Path | None = None
) -> RunContext:
    """Build the context of a run and create its directory."""
    run_key = f"{pipeline}/{as_of.isoformat()}"
    safe = re.sub(r"[^A-Za-z0-9_.\-/]", "_", run_key)
    run_dir = (root or run_root()) / safe
    run_dir.mkdir(parents=True, exist_ok=True)
    return RunContext(
        run_key=run_key,
        dag_run_id=dag_run_id,
        logical_date=logical_date,
        as_of=as_of,
        run_dir=run_dir,
    )


def write_frame(frame: pd.DataFrame, path: Path) -> str:
    """Write a frame as Parquet atomically (temp file + rename) and return the path as text."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return str(path)


def read_frame(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame` (all columns, or only ``columns``)."""
    return pd.read_parquet(path, columns=None if columns is None else list(columns))


def frame_rows(path: Path) -> int:
    """The number of rows of a Parquet file written by :func:`write_frame` (from its footer)."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def write_json(payload: dict[str, Any], path: Path) -> str:
    """Write JSON atomically and return the path as text."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)
    return str(path)

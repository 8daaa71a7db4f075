"""The input-side measurement helper (extract + validate, whole roster or by shard)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from zairyu_sync.bench_input import measure_input
from zairyu_sync.erp_sample import generate_sample, write_erp
from zairyu_sync.shards import Shard

pytestmark = pytest.mark.integration


def test_measure_input_by_shard_covers_the_roster_once(tmp_path: Path, as_of: date) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    sample = generate_sample(40, as_of=as_of, seed=5)
    write_erp(sample, engine)
    numbers = sorted(row["emp_no"] for row in sample.tables["hr_employee"])
    middle = numbers[len(numbers) // 2]
    shards = [Shard(0, 2, None, middle), Shard(1, 2, middle, None)]
    whole = measure_input(engine, as_of=as_of)
    split = measure_input(engine, as_of=as_of, shards=shards)
    engine.dispose()
    assert [timing.shard for timing in split.shards] == ["001-of-002", "002-of-002"]
    assert all(timing.rows["employees"] > 0 for timing in split.shards)
    for table in ("employees", "applications", "timesheets"):
        assert sum(timing.rows[table] for timing in split.shards) == whole.shards[0].rows[table]
    report = split.as_dict()
    assert report["employees"] == whole.employees == len(sample.tables["hr_employee"]) + 1
    assert set(report) >= {"setup_seconds", "seconds", "employees_per_second", "peak_rss_mb"}
    json.dumps(report)

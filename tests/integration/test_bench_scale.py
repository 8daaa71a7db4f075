"""The scale benchmark harness at a tiny size against PostgreSQL: correctness, never timings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL
from zairyu_sync.bench_scale import (
    MAX_COPIES,
    build_roster,
    isa_frame,
    measure_daily_incremental,
    measure_national_scale,
    postgres_schema,
    replicate_isa_frame,
    rotate_identifier,
)
from zairyu_sync.errors import ValidationError

pytestmark = pytest.mark.integration

CARD = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")
BASE = 200
NATIONAL_STAGES = [
    "plan_shards",
    "extract",
    "index_roster",
    "validate",
    "isa_partition",
    "reconcile",
    "reconcile_roster",
    "load",
]


def _schemas() -> set[str]:
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_schema_names()
    finally:
        engine.dispose()
    return {name for name in names if name.startswith("zs_scale_")}


@pytest.fixture
def erp(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_rotation_keeps_formats_and_is_unique_per_copy() -> None:
    cards = ["AB12345678CD", "ZZ00000000ZZ", "AB-12345678-CD", "AB1O345678CD"]
    for copy in range(MAX_COPIES):
        rotated = [rotate_identifier(card, copy) for card in cards]
        assert [bool(CARD.fullmatch(value)) for value in rotated] == [True, True, False, False]
    values = {rotate_identifier("AB12345678CD", copy) for copy in range(MAX_COPIES)}
    assert len(values) == MAX_COPIES
    assert rotate_identifier("2026-TKY-0012345", 0) == "2026-TKY-0012345"
    assert rotate_identifier("E100001", 1) == "F100001"


def test_sql_replica_matches_python_rotation(erp: sa.Engine, as_of: date) -> None:
    roster = build_roster(erp, base_employees=BASE, copies=3, as_of=as_of)
    base_cards = {
        str(row["card_no"])
        for row in roster.sample.tables["hr_residence_card"]
        if row["card_no"] is not None
    }
    with erp.connect() as conn:
        cards = set(conn.execute(sa.text("SELECT card_no FROM hr_residence_card")).scalars())
        employees = list(conn.execute(sa.text("SELECT emp_no FROM hr_employee")).scalars())
    cards.discard(None)
    expected = {rotate_identifier(card, copy) for card in base_cards for copy in range(3)}
    assert cards == expected
    assert len(employees) == len(set(employees)) == 3 * len(roster.sample.tables["hr_employee"])
    assert roster.counts["employees"] == len(employees)
    assert roster.counts["distinct_card_numbers"] == 3 * len(base_cards)
    isa = isa_frame(roster.sample)
    replica = replicate_isa_frame(isa, 3)
    assert len(replica) == 3 * len(isa)
    assert replica["receipt_number"].is_unique
    erp_receipts = {str(row["receipt_no"]) for row in roster.sample.tables["hr_visa_application"]}
    with erp.connect() as conn:
        replicated = set(conn.execute(sa.text("SELECT receipt_no FROM hr_visa_application")))
    assert {row[0] for row in replicated} == {
        rotate_identifier(receipt, copy) for receipt in erp_receipts for copy in range(3)
    }


def test_build_roster_rejects_too_many_copies(erp: sa.Engine, as_of: date) -> None:
    with pytest.raises(ValidationError):
        build_roster(erp, base_employees=BASE, copies=MAX_COPIES + 1, as_of=as_of)


def test_national_scale_replica_gives_copies_times_the_base_findings(tmp_path: Path) -> None:
    before = _schemas()
    single = measure_national_scale(
        POSTGRES_URL, employees=BASE, shards=2, base_employees=BASE, work_dir=tmp_path / "one"
    )
    tripled = measure_national_scale(
        POSTGRES_URL,
        employees=3 * BASE,
        shards=3,
        workers=2,  # the mapped stages on two worker processes
        base_employees=BASE,
        work_dir=tmp_path / "three",
        output=tmp_path / "result.json",
    )
    assert _schemas() == before  # both throwaway schemas dropped
    assert (tmp_path / "result.json").is_file()
    for report in (single, tripled):
        assert [stage["stage"] for stage in report["stages"]] == NATIONAL_STAGES
        counts = report["counts"]
        assert counts["extracted"] == counts["valid"] + counts["quarantined"] + counts["ignored"]
        assert counts["reconciled"] == counts["valid"]
        assert sum(counts["extracted_per_shard"]) == counts["extracted"]
        assert report["peak_rss_mb"] > 0
    assert tripled["counts"]["shards"] == 3
    assert tripled["parameters"]["workers"] == 2
    # the process tree's sampled peak includes the workers; the sum of high-water marks bounds it
    assert (
        tripled["high_water_sum_mb"] >= tripled["peak_rss_mb"] > tripled["peak_rss_mb_before_run"]
    )
    assert tripled["parameters"]["erp_rows"]["employees"] == 3 * BASE
    for key in ("extracted", "ignored", "quarantined", "valid"):
        assert tripled["counts"][key] == 3 * single["counts"][key]
    assert single["findings_by_rule"]
    assert tripled["findings_by_rule"] == {
        rule: 3 * count for rule, count in single["findings_by_rule"].items()
    }
    assert tripled["parameters"]["isa_applications"] == 3 * single["parameters"]["isa_applications"]
    assert tripled["loaded"]["findings_total"] == sum(tripled["findings_by_rule"].values())


def test_national_scale_rejects_sizes_that_are_not_multiples() -> None:
    with pytest.raises(ValidationError):
        measure_national_scale(POSTGRES_URL, employees=BASE + 1, base_employees=BASE)


def test_daily_incremental_changes_one_percent_and_syncs_incrementally(tmp_path: Path) -> None:
    before = _schemas()
    report = measure_daily_incremental(
        POSTGRES_URL, employees=1_000, shards=2, work_dir=tmp_path, output=tmp_path / "daily.json"
    )
    assert _schemas() == before
    stages = [stage["stage"] for stage in report["stages"]]
    assert stages == [*NATIONAL_STAGES[:4], "isa_sync", *NATIONAL_STAGES[5:], "plan_alerts"]
    assert [stage["stage"] for stage in report["day1"]["stages"]] == stages
    changes = report["changes"]
    assert changes["renewed_cards"] > 0
    assert changes["new_applications"] > 0
    assert changes["new_timesheet_rows"] > 0
    assert changes["new_isa_applications"] == changes["new_applications"]
    assert changes["changed_isa_applications"] > 0
    # 1% of the 1,000 employees changed (every 90th of the 900 with a residence card)
    assert changes["changed_employees"] == 10
    assert report["isa_sync"]["mode"] == "incremental"
    counts = report["counts"]
    assert counts["extracted"] == counts["valid"] + counts["quarantined"] + counts["ignored"]
    assert counts["api_calls"] > 0
    assert report["loaded"]["findings_total"] > 0
    written = json.loads((tmp_path / "daily.json").read_text(encoding="utf-8"))
    assert written["parameters"]["employees"] == 1_000


def test_postgres_schema_is_dropped_on_error() -> None:
    before = _schemas()
    with pytest.raises(RuntimeError), postgres_schema(POSTGRES_URL):
        assert _schemas() != before
        raise RuntimeError("boom")
    assert _schemas() == before

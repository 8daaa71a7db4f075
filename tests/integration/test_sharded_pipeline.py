"""A sharded run finds exactly what a run over the whole roster finds.

The same ERP (SQLite and PostgreSQL) goes through the stage functions twice: once over the whole
roster, once split into shards as the DAG does it (plan, extract per shard, index, validate per
shard, reconcile per shard, roster rules, merged load). Findings, quarantine (row numbers
included) and the run's counts must be identical. The ERP has a receipt number shared by two
employees at opposite ends of the roster, so a uniqueness check that saw one shard only would
miss it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL
from zairyu_sync.config import PolicySettings
from zairyu_sync.erp_sample import generate_sample, write_erp, write_isa_seed
from zairyu_sync.immigration.client import HttpImmigrationClient
from zairyu_sync.immigration.simulator import SimulatorServer, load_dataset
from zairyu_sync.load import warehouse_engine
from zairyu_sync.pipeline import (
    run_extract,
    run_index_roster,
    run_isa_sync,
    run_load,
    run_plan_shards,
    run_reconcile,
    run_reconcile_roster,
    run_validate,
)
from zairyu_sync.runs import RunContext, make_run_context, read_frame
from zairyu_sync.shards import Shard

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 25)
CLIENT_ID = "shards"
CLIENT_SECRET = "shards-secret"  # noqa: S105 - the local simulator's test secret


@dataclass(frozen=True)
class Erp:
    url: str
    simulator_url: str
    shared_receipt: str


def _context(root: Path) -> RunContext:
    return make_run_context(
        pipeline="residence_status_reconciliation",
        logical_date=datetime(2026, 11, 25, tzinfo=UTC),
        as_of=AS_OF,
        dag_run_id="scheduled__2026-11-25",
        root=root,
    )


def _share_a_receipt(engine: sa.Engine) -> str:
    """Give the last employee's first application the receipt number of the first employee's."""
    with engine.begin() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.application_id, a.receipt_no FROM hr_visa_application a"
                " JOIN hr_employee e ON e.emp_no = a.emp_no"
                " WHERE e.nationality <> 'JPN' ORDER BY a.emp_no, a.application_id"
            )
        ).all()
        first, last = rows[0], rows[-1]
        conn.execute(
            sa.text(
                "UPDATE hr_visa_application SET receipt_no = :receipt WHERE application_id = :id"
            ),
            {"receipt": first.receipt_no, "id": last.application_id},
        )
    return str(first.receipt_no).strip()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def erp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Erp]:
    root = tmp_path_factory.mktemp(f"shards-{request.param}")
    sample = generate_sample(150, as_of=AS_OF, seed=31)
    write_isa_seed(sample, root / "isa_seed.json")
    schema = f"zs_test_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'erp.sqlite'}"
    else:
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        with sa.create_engine(POSTGRES_URL).begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(url)
    try:
        write_erp(sample, engine)
        shared = _share_a_receipt(engine)
        with SimulatorServer(
            load_dataset(root / "isa_seed.json"), client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        ) as simulator:
            yield Erp(url=url, simulator_url=simulator.base_url, shared_receipt=shared)
    finally:
        engine.dispose()
        if request.param == "postgresql":
            with sa.create_engine(POSTGRES_URL).begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _isa(ctx: RunContext, erp: Erp, shards: list[Shard] | None = None) -> dict[str, Any]:
    with HttpImmigrationClient(erp.simulator_url, CLIENT_ID, CLIENT_SECRET, page_size=50) as client:
        return run_isa_sync(ctx, client, shards)


def _whole_roster(erp: Erp, root: Path) -> tuple[RunContext, dict[str, Any]]:
    ctx, policy = _context(root), PolicySettings()
    engine = sa.create_engine(erp.url)
    warehouse = warehouse_engine(f"duckdb:///{root / 'warehouse.duckdb'}")
    try:
        run_extract(ctx, engine, policy)
        validated = run_validate(ctx)
        isa = _isa(ctx, erp)
        run_reconcile(ctx, policy)
        loaded = run_load(
            ctx, warehouse, started_at=datetime.now(UTC), validated=validated, isa=isa
        )
    finally:
        engine.dispose()
        warehouse.dispose()
    return ctx, loaded


def _sharded(erp: Erp, root: Path, shards: int) -> tuple[RunContext, dict[str, Any]]:
    ctx, policy = _context(root), PolicySettings()
    engine = sa.create_engine(erp.url)
    warehouse = warehouse_engine(f"duckdb:///{root / 'warehouse.duckdb'}")
    try:
        planned = [Shard.from_dict(item) for item in run_plan_shards(ctx, engine, shards)]
        # extract in reverse order: the index must not depend on the order shards finish in
        extracted = [run_extract(ctx, engine, policy, shard) for shard in reversed(planned)]
        plans = run_index_roster(ctx, extracted)
        validated = [run_validate(ctx, plan) for plan in plans]
        isa = _isa(ctx, erp, planned)
        for shard in planned:
            run_reconcile(ctx, policy, shard)
        run_reconcile_roster(ctx, policy, planned)
        loaded = run_load(
            ctx,
            warehouse,
            started_at=datetime.now(UTC),
            validated=validated,
            isa=isa,
            shards=planned,
        )
    finally:
        engine.dispose()
        warehouse.dispose()
    return ctx, loaded


@pytest.fixture(scope="module")
def whole(erp: Erp, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunContext, dict[str, Any]]:
    return _whole_roster(erp, tmp_path_factory.mktemp("whole"))


@pytest.mark.parametrize("shards", [1, 3, 7])
def test_a_sharded_run_equals_the_whole_roster_run(
    erp: Erp,
    whole: tuple[RunContext, dict[str, Any]],
    tmp_path: Path,
    shards: int,
) -> None:
    whole_ctx, whole_loaded = whole
    ctx, loaded = _sharded(erp, tmp_path, shards)

    assert loaded["shards"] == [f"{i:03d}-of-{shards:03d}" for i in range(1, shards + 1)]
    assert {key: value for key, value in loaded.items() if key != "shards"} == whole_loaded
    expected = read_frame(whole_ctx.path("discrepancies"))
    assert len(expected) > 30
    assert expected["rule_code"].nunique() >= 12
    pd.testing.assert_frame_equal(read_frame(ctx.path("discrepancies")), expected)
    pd.testing.assert_frame_equal(
        read_frame(ctx.path("quarantine")), read_frame(whole_ctx.path("quarantine"))
    )


def test_a_receipt_number_shared_across_shards_is_quarantined_on_both_rows(
    erp: Erp, tmp_path: Path
) -> None:
    ctx, _ = _sharded(erp, tmp_path, 3)

    quarantine = read_frame(ctx.path("quarantine"))
    shared = quarantine[quarantine["receipt_number"] == erp.shared_receipt]
    assert len(shared) == 2
    assert shared["employee_id"].nunique() == 2
    assert all("RECEIPT_NUMBER_DUPLICATED" in codes for codes in shared["reason_codes"])
    # the two rows really were in different shards
    holders = [
        shard.label
        for shard in (Shard.from_dict(item) for item in _planned(ctx))
        if erp.shared_receipt
        in set(read_frame(ctx.for_shard(shard.label).path("applications_raw"))["receipt_number"])
    ]
    assert len(holders) == 2


def _planned(ctx: RunContext) -> list[dict[str, Any]]:
    payload = json.loads(ctx.path("shards").read_text(encoding="utf-8"))
    return list(payload["shards"])


def test_more_shards_than_employees_and_bad_counts(erp: Erp, tmp_path: Path) -> None:
    from zairyu_sync.errors import ConfigError, ValidationError

    ctx = _context(tmp_path)
    engine = sa.create_engine(erp.url)
    try:
        planned = run_plan_shards(ctx, engine, 256)
        with pytest.raises(ConfigError):
            run_plan_shards(ctx, engine, 0)
        with pytest.raises(ConfigError):
            run_plan_shards(ctx, engine, 257)
        first = run_extract(ctx, engine, PolicySettings(), Shard.from_dict(planned[0]))
    finally:
        engine.dispose()
    # the sample has fewer employees than 256: one shard per employee, none empty
    assert 150 < len(planned) < 256
    assert all(item["count"] == len(planned) for item in planned)
    assert first["extracted"]["employees"] >= 1
    # an index over an incomplete set of shards is refused rather than loading a partial roster
    with pytest.raises(ValidationError, match="do not cover"):
        run_index_roster(ctx, [first])

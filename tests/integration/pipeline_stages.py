"""Run every pipeline stage of one as-of date in order, in-process or as a killable subprocess.

Used by the crash-recovery and backfill tests. As a script
(``python -m tests.integration.pipeline_stages ...``) it can end itself with SIGKILL right after a
named stage, so a test can check that a rerun in a fresh process recovers. Alerts go to an
:class:`~zairyu_sync.alert.OutboxTransport` fallback (no other transports); the routing is the
project's ``config/owners.yaml``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from zairyu_sync.alert import OutboxTransport
from zairyu_sync.config import PolicySettings
from zairyu_sync.erp_sample import generate_sample, write_erp, write_isa_seed
from zairyu_sync.immigration.client import HttpImmigrationClient
from zairyu_sync.immigration.simulator import SimulatorServer, load_dataset
from zairyu_sync.load import warehouse_engine
from zairyu_sync.pipeline import (
    run_alert,
    run_extract,
    run_isa_sync,
    run_load,
    run_reconcile,
    run_report,
    run_validate,
)
from zairyu_sync.routing import load_routing
from zairyu_sync.runs import RunContext, make_run_context

log = logging.getLogger(__name__)

PIPELINE = "residence_status_reconciliation"
#: The stages in the order the DAG runs them (isa sync after validate: the DAG runs them in
#: parallel, both only need the extract).
STAGES = ("extract", "validate", "isa_sync", "reconcile", "load", "alert", "report")
CLIENT_ID = "crash"
CLIENT_SECRET = "crash-secret"  # noqa: S105 - the local simulator's test secret


@dataclass(frozen=True)
class World:
    """Where one pipeline run reads and writes."""

    erp: Path
    warehouse: Path
    run_root: Path
    outbox: Path
    simulator_url: str


def run_context(world: World, as_of: date) -> RunContext:
    """The run context of ``as_of`` under the world's run root (as the DAG would build it)."""
    return make_run_context(
        pipeline=PIPELINE,
        logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC),
        as_of=as_of,
        dag_run_id=f"scheduled__{as_of.isoformat()}",
        root=world.run_root,
    )


def run_stages(world: World, as_of: date, *, crash_after: str | None = None) -> dict[str, Any]:
    """Run all stages of ``as_of``; with ``crash_after`` SIGKILL this process after that stage.

    Returns:
        The stage summaries by stage name.
    """
    ctx = run_context(world, as_of)
    policy = PolicySettings()
    summaries: dict[str, Any] = {}
    erp = sa.create_engine(f"sqlite:///{world.erp}")
    warehouse = warehouse_engine(f"duckdb:///{world.warehouse}")
    try:
        for stage in STAGES:
            if stage == "extract":
                summaries[stage] = run_extract(ctx, erp, policy)
            elif stage == "validate":
                summaries[stage] = run_validate(ctx)
            elif stage == "isa_sync":
                with HttpImmigrationClient(
                    world.simulator_url, CLIENT_ID, CLIENT_SECRET, page_size=50
                ) as client:
                    summaries[stage] = run_isa_sync(ctx, client)
            elif stage == "reconcile":
                summaries[stage] = run_reconcile(ctx, policy)
            elif stage == "load":
                summaries[stage] = run_load(
                    ctx,
                    warehouse,
                    started_at=datetime.now(UTC),
                    validated=summaries["validate"],
                    isa=summaries["isa_sync"],
                )
            elif stage == "alert":
                summaries[stage] = run_alert(
                    ctx,
                    warehouse,
                    {},
                    fallback=OutboxTransport(world.outbox),
                    report_link=str(ctx.path("report")),
                    routing=load_routing(),
                )
            else:
                summaries[stage] = run_report(ctx, warehouse, summaries["load"])
            if stage == crash_after:
                os.kill(os.getpid(), signal.SIGKILL)
    finally:
        erp.dispose()
        warehouse.dispose()
    return summaries


@contextmanager
def sample_world(
    root: Path, *, employees: int, as_of: date, seed: int
) -> Iterator[tuple[Path, str]]:
    """A generated sample ERP (SQLite, ``root/erp.sqlite``) and the ISA simulator serving its
    applications on loopback; yields the ERP's path and the simulator's base URL."""
    sample = generate_sample(employees, as_of=as_of, seed=seed)
    erp = root / "erp.sqlite"
    engine = sa.create_engine(f"sqlite:///{erp}")
    write_erp(sample, engine)
    engine.dispose()
    write_isa_seed(sample, root / "isa_seed.json")
    with SimulatorServer(
        load_dataset(root / "isa_seed.json"), client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    ) as simulator:
        yield erp, simulator.base_url


def world_at(root: Path, erp: Path, simulator_url: str) -> World:
    """The world laid out under ``root``: ``warehouse.duckdb``, ``runs/`` and ``outbox/``."""
    return World(
        erp=erp,
        warehouse=root / "warehouse.duckdb",
        run_root=root / "runs",
        outbox=root / "outbox",
        simulator_url=simulator_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--erp --simulator-url --as-of --world-dir ... [--crash-after STAGE]``.

    Each ``--world-dir`` (repeatable) is run in turn, in this one process.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--erp", type=Path, required=True)
    parser.add_argument("--simulator-url", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--world-dir", type=Path, action="append", required=True)
    parser.add_argument("--crash-after", choices=STAGES)
    args = parser.parse_args(argv)
    for root in args.world_dir:
        world = world_at(root, args.erp, args.simulator_url)
        run_stages(world, args.as_of, crash_after=args.crash_after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

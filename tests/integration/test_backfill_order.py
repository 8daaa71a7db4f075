"""Backfilling three past dates in any order gives the same per-date results.

Three as-of dates (D-20, D-10, D) run through the pipeline functions against one ERP and the ISA
simulator, into one warehouse per load order: in date order, and as D, D-20, D-10 and as
D-10, D, D-20.

Order-independent (asserted equal across orders):

* each run's ``reconciliation_runs`` counts: extracted, ignored, quarantined, valid, reconciled,
  findings_total; and the run's own findings (``discrepancies.parquet``);
* the set of discrepancy ids in the warehouse and, per id, ``last_seen_run``/``last_seen_on``
  (the latest as-of date that found it: a run only refreshes findings last seen on or before its
  date) and the finding's attributes (those of the latest date that found it).

Order-dependent by design (ADR 0006; asserted by rule, not equality):

* ``first_seen_run``/``first_seen_on``: the first run *loaded* that found the id (in date order,
  the earliest date), and the ``opened`` event follows it;
* ``status``, ``resolved_*``, ``reopened_*`` and the other ``discrepancy_events``: transitions are
  made against what the warehouse held when each run loaded, and a run never resolves or refreshes
  a finding last seen after its date. They follow the lifecycle model :func:`expected_lifecycle`
  replays in load order;
* ``findings_new/open/resolved/reopened/escalated/open_critical`` of ``reconciliation_runs``:
  derived from those events;
* ``api_calls``: the first run of a world lists the ISA applications in full, later runs only
  what changed since, against the ISA mirror, whatever their as-of dates;
* ``isa_application_statuses.first_seen_run/first_seen_at``: the first run loaded that saw the
  status; wall-clock columns (started_at, finished_at, updated_at, recorded_at, ...).

Known consequence of the lifecycle rules (kept as is, asserted through the model): a finding that
only an earlier date found, backfilled after a later date that did not find it, is inserted
``open`` and stays open until the next run on or after that later date resolves it (in the order
D-10, D, D-20 of this module's world one such finding ends ``open`` where date order ends it
``resolved``). Likewise a backfill never records a ``resolved`` event for a finding last seen
after its date, so ``findings_as_of_run`` for a backfilled date may show such a finding open.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.pipeline_stages import (
    PIPELINE,
    run_context,
    run_stages,
    sample_world,
    world_at,
)
from zairyu_sync.runs import read_frame

pytestmark = pytest.mark.integration

D = date(2026, 11, 25)
DATES = (D - timedelta(days=20), D - timedelta(days=10), D)
ORDERS = {
    "in_order": (DATES[0], DATES[1], DATES[2]),
    "latest_first": (DATES[2], DATES[0], DATES[1]),
    "middle_first": (DATES[1], DATES[2], DATES[0]),
}
RUN_COUNTS = (
    "extracted",
    "ignored",
    "quarantined",
    "valid",
    "reconciled",
    "findings_total",
)
#: Finding attributes refreshed only by runs on or after the date that last saw the finding.
ATTRIBUTES = (
    "employee_id",
    "organization_id",
    "compliance_owner",
    "rule_code",
    "severity",
    "due_date",
    "receipt_number",
    "detail",
    "last_seen_run",
    "last_seen_on",
)


@dataclass(frozen=True)
class Backfill:
    """One load order's warehouse and each date's findings (from the run's own parquet)."""

    warehouse: Path
    found: dict[date, frozenset[str]]


def run_key(day: date) -> str:
    return f"{PIPELINE}/{day.isoformat()}"


def query(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql).all()]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def backfills(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Backfill]]:
    root = tmp_path_factory.mktemp("backfill")
    with sample_world(root, employees=120, as_of=D, seed=29) as (erp, simulator_url):
        result: dict[str, Backfill] = {}
        for name, order in ORDERS.items():
            world = world_at(root / name, erp, simulator_url)
            found: dict[date, frozenset[str]] = {}
            for day in order:
                run_stages(world, day)
                findings = read_frame(run_context(world, day).path("discrepancies"))
                found[day] = frozenset(str(value) for value in findings["discrepancy_id"])
            result[name] = Backfill(world.warehouse, found)
        yield result


def expected_lifecycle(
    order: tuple[date, ...], found: dict[date, frozenset[str]]
) -> dict[str, tuple[str, date, date, date | None]]:
    """Replay ADR 0006's lifecycle in load order: id -> (status, first_seen_on, last_seen_on,
    resolved_on).

    A new id opens; a known id last seen on or before the run's date is refreshed (and reopened
    when it was resolved on or before that date); an open id last seen on or before the run's
    date that the run did not find is resolved.
    """
    state: dict[str, tuple[str, date, date, date | None]] = {}
    for day in order:
        for finding in found[day]:
            if finding not in state:
                state[finding] = ("open", day, day, None)
                continue
            status, first, last, resolved_on = state[finding]
            if last <= day:
                if status == "resolved" and resolved_on is not None and resolved_on <= day:
                    status, resolved_on = "open", None
                state[finding] = (status, first, day, resolved_on)
        for finding, (status, first, last, _) in list(state.items()):
            if finding not in found[day] and status == "open" and last <= day:
                state[finding] = ("resolved", first, last, day)
    return state


def test_each_date_finds_something_and_the_dates_differ(backfills: dict[str, Backfill]) -> None:
    found = backfills["in_order"].found
    assert all(found[day] for day in DATES)
    assert len({found[day] for day in DATES}) == 3, "the dates must give different findings"


def test_per_run_counts_and_findings_do_not_depend_on_the_order(
    backfills: dict[str, Backfill],
) -> None:
    columns = ", ".join(RUN_COUNTS)
    counts = {
        name: {
            str(row[0]): row[1:]
            for row in query(
                backfill.warehouse,
                f"SELECT run_key, {columns} FROM reconciliation_runs",  # noqa: S608
            )
        }
        for name, backfill in backfills.items()
    }
    reference = counts["in_order"]
    assert sorted(reference) == [run_key(day) for day in DATES]
    for name in ORDERS:
        assert counts[name] == reference, f"{name}: per-run counts differ"
        assert backfills[name].found == backfills["in_order"].found
        for day in DATES:
            assert reference[run_key(day)][-1] == len(backfills[name].found[day])


def test_latest_sighting_of_each_finding_does_not_depend_on_the_order(
    backfills: dict[str, Backfill],
) -> None:
    columns = ", ".join(ATTRIBUTES)
    tables = {
        name: sorted(
            query(backfill.warehouse, f"SELECT discrepancy_id, {columns} FROM discrepancies")  # noqa: S608
        )
        for name, backfill in backfills.items()
    }
    found = backfills["in_order"].found
    all_ids = set().union(*found.values())
    assert {str(row[0]) for row in tables["in_order"]} == all_ids
    for name in ORDERS:
        assert tables[name] == tables["in_order"], f"{name}: latest sightings differ"
    for row in tables["in_order"]:
        latest = max(day for day in DATES if str(row[0]) in found[day])
        assert (row[-2], row[-1]) == (run_key(latest), latest)


@pytest.mark.parametrize("name", ORDERS)
def test_lifecycle_columns_follow_the_load_order(name: str, backfills: dict[str, Backfill]) -> None:
    backfill = backfills[name]
    expected = expected_lifecycle(ORDERS[name], backfill.found)
    rows = query(
        backfill.warehouse,
        "SELECT discrepancy_id, status, first_seen_on, last_seen_on, resolved_on, first_seen_run "
        "FROM discrepancies",
    )
    actual = {str(row[0]): tuple(row[1:5]) for row in rows}
    assert actual == expected
    for row in rows:
        first_seen_on = row[2]
        assert isinstance(first_seen_on, date)
        assert row[5] == run_key(first_seen_on), "first_seen_run is the run of first_seen_on"
    opened = query(
        backfill.warehouse,
        "SELECT discrepancy_id, as_of_date FROM discrepancy_events WHERE event_type = 'opened'",
    )
    assert sorted((str(i), d) for i, d in opened) == sorted(
        (i, first) for i, (_, first, _, _) in expected.items()
    ), "one opened event per finding, at its first loaded sighting"
    if name == "in_order":
        for finding, (_, first, _, _) in expected.items():
            assert first == min(day for day in DATES if finding in backfill.found[day])


def test_old_finding_backfilled_after_later_dates_stays_open_until_the_next_run(
    backfills: dict[str, Backfill],
) -> None:
    """The documented gap: found only on D-20; in date order D-10 resolves it, but loaded after
    D-10 and D (which did not find it) the D-20 backfill inserts it open."""
    found = backfills["in_order"].found
    only_oldest = found[DATES[0]] - found[DATES[1]] - found[DATES[2]]
    assert only_oldest, "the world must have a finding only the oldest date sees"

    def statuses(name: str) -> dict[str, str]:
        rows = query(backfills[name].warehouse, "SELECT discrepancy_id, status FROM discrepancies")
        return {str(i): str(s) for i, s in rows if str(i) in only_oldest}

    assert set(statuses("in_order").values()) == {"resolved"}
    assert set(statuses("latest_first").values()) == {"resolved"}, "D-10 loads after D-20"
    assert set(statuses("middle_first").values()) == {"open"}

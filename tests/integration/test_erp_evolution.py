"""Moving a sample world (SQLite ERP + ISA seed) forward in time."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from zairyu_sync.demo import DemoError, DemoPaths, DemoState, advance_world, write_state
from zairyu_sync.erp_evolution import HR_UPDATED, evolve_world, read_erp
from zairyu_sync.erp_sample import SampleErp, generate_sample, write_erp, write_isa_seed
from zairyu_sync.immigration.simulator import load_dataset
from zairyu_sync.pii import CARD_NUMBER_PATTERN

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 25)
SEED = 7
DAYS = 30
TO_DATE = AS_OF + timedelta(days=DAYS)


def _world(root: Path, sample: SampleErp) -> tuple[sa.Engine, Path]:
    root.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{root / 'erp.sqlite'}")
    write_erp(sample, engine)
    write_isa_seed(sample, root / "isa_seed.json")
    return engine, root / "isa_seed.json"


@pytest.fixture(scope="module")
def sample() -> SampleErp:
    return generate_sample(200, as_of=AS_OF, seed=SEED)


@pytest.fixture(scope="module")
def evolved(
    sample: SampleErp, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, dict[str, list[dict[str, Any]]], dict[str, Any]]:
    engine, seed_file = _world(tmp_path_factory.mktemp("world"), sample)
    try:
        evolution = evolve_world(engine, seed_file, from_date=AS_OF, days=DAYS, seed=SEED)
        tables = read_erp(engine)
    finally:
        engine.dispose()
    load_dataset(seed_file)  # the evolved seed still honours the API contract
    isa = json.loads(seed_file.read_text(encoding="utf-8"))
    return evolution, tables, isa


def _isa_by_receipt(isa: dict[str, Any]) -> dict[str, dict[str, Any]]:
    apps = [*isa["organization_applications"], *isa["personal_applications"]]
    return {app["receipt_number"]: app for app in apps}


def _current_cards(tables: dict[str, list[dict[str, Any]]], emp_no: str) -> list[dict[str, Any]]:
    return [
        card
        for card in tables["hr_residence_card"]
        if card["emp_no"] == emp_no and card["is_current"] == 1
    ]


def test_pending_applications_get_decided(sample: SampleErp, evolved: Any) -> None:
    evolution, _, isa = evolved
    before = {app["receipt_number"]: app for app in sample.isa_applications}
    after = _isa_by_receipt(isa)
    assert evolution.to_date == TO_DATE
    assert len(evolution.decisions) >= 3
    for decision in evolution.decisions:
        old, new = before[decision.receipt_number], after[decision.receipt_number]
        assert old["status"] in {"RECEIVED", "UNDER_EXAMINATION", "SUBMITTED"}
        assert old["decided_on"] is None
        assert new["status"] == decision.outcome
        assert AS_OF < date.fromisoformat(new["decided_on"]) <= TO_DATE
        assert new["updated_at"][:10] <= TO_DATE.isoformat()
    outcomes = {decision.outcome for decision in evolution.decisions}
    assert "COMPLETED" in outcomes
    completed = [d for d in evolution.decisions if d.outcome == "COMPLETED"]
    for decision in completed:
        app = after[decision.receipt_number]
        assert CARD_NUMBER_PATTERN.fullmatch(app["new_residence_card_number"])
        assert app["granted_status"] is not None


def test_hr_records_most_new_cards_in_the_erp(evolved: Any) -> None:
    evolution, tables, isa = evolved
    after = _isa_by_receipt(isa)
    updated = [d for d in evolution.decisions if d.hr_action == HR_UPDATED]
    assert updated, "HR recorded at least one decision"
    for decision in updated:
        app = after[decision.receipt_number]
        [card] = _current_cards(tables, decision.employee_id)
        assert card["card_no"] == app["new_residence_card_number"]
        assert card["period_expires_on"] == app["granted_period_expiry"]
        assert decision.granted_expiry is not None
        assert decision.granted_expiry.isoformat() == card["period_expires_on"]
        assert card["period_expires_on"] > TO_DATE.isoformat()
    not_recorded = [d for d in evolution.decisions if d.hr_action not in (HR_UPDATED, None)]
    assert not_recorded, "some decisions are not (fully) recorded, so mismatches appear"
    assert evolution.counts["hr_updated"] > evolution.counts.get("hr_not_updated", 0)


def test_overdue_hellowork_filings_are_caught_up(sample: SampleErp, evolved: Any) -> None:
    evolution, tables, _ = evolved
    overdue = {
        *sample.scenarios["HELLOWORK_HIRE_OVERDUE"],
        *sample.scenarios["HELLOWORK_HIRE_OVERDUE_UNINSURED"],
        *sample.scenarios["HELLOWORK_SEPARATION_OVERDUE"],
    }
    assert evolution.hellowork_filings
    for emp_no, kind in evolution.hellowork_filings:
        assert emp_no in overdue
        [filing] = [
            row
            for row in tables["hr_hellowork_filing"]
            if row["emp_no"] == emp_no and row["filing_kind"] == kind
        ]
        assert AS_OF.isoformat() < filing["filed_on"] <= TO_DATE.isoformat()
    # the ones HR has not got to yet are still missing
    filed = {emp_no for emp_no, _ in evolution.hellowork_filings}
    separated = sample.scenarios["HELLOWORK_SEPARATION_OVERDUE"]
    for emp_no in overdue - filed:
        kind = "separation" if emp_no in separated else "hire"
        assert not [
            row
            for row in tables["hr_hellowork_filing"]
            if row["emp_no"] == emp_no and row["filing_kind"] == kind
        ]


def test_people_come_and_go_and_keep_working(sample: SampleErp, evolved: Any) -> None:
    evolution, tables, _ = evolved
    employees = {row["emp_no"]: row for row in tables["hr_employee"]}
    assert len(employees) == len(sample.tables["hr_employee"]) + len(evolution.hires)
    assert evolution.hires
    for emp_no in evolution.hires:
        assert AS_OF.isoformat() < employees[emp_no]["hired_on"] <= TO_DATE.isoformat()
        [card] = _current_cards(tables, emp_no)
        assert CARD_NUMBER_PATTERN.fullmatch(card["card_no"])
    for emp_no in evolution.separations:
        assert employees[emp_no]["emp_status"] == "T"
        assert AS_OF.isoformat() < employees[emp_no]["left_on"] <= TO_DATE.isoformat()
    new_days = [row for row in tables["pay_timesheet"] if row["work_date"] > AS_OF.isoformat()]
    assert len(new_days) == evolution.counts["timesheet_days"] > 0
    assert max(row["work_date"] for row in new_days) <= TO_DATE.isoformat()


def test_extensions_are_filed_in_both_systems(evolved: Any) -> None:
    evolution, tables, isa = evolved
    after = _isa_by_receipt(isa)
    erp_receipts = {row["receipt_no"] for row in tables["hr_visa_application"]}
    for receipt in evolution.extensions_filed:
        assert receipt in erp_receipts
        assert after[receipt]["status"] == "RECEIVED"
        assert after[receipt]["application_type"] == "extension"


def test_evolution_is_deterministic(sample: SampleErp, tmp_path: Path, evolved: Any) -> None:
    first, first_tables, first_isa = evolved
    engine, seed_file = _world(tmp_path / "again", sample)
    try:
        again = evolve_world(engine, seed_file, from_date=AS_OF, days=DAYS, seed=SEED)
        assert read_erp(engine) == first_tables
    finally:
        engine.dispose()
    assert again == first
    assert json.loads(seed_file.read_text(encoding="utf-8")) == first_isa


def test_advancing_the_demo_needs_an_existing_world(tmp_path: Path, sample: SampleErp) -> None:
    paths = DemoPaths(tmp_path / "demo")
    with pytest.raises(DemoError, match="run `zairyu-sync demo` first"):
        advance_world(paths, 30)
    engine, _ = _world(paths.root, sample)
    engine.dispose()
    write_state(paths, DemoState(as_of=AS_OF, seed=SEED, employees=200))
    state, evolution = advance_world(paths, 10)
    assert state == DemoState(as_of=AS_OF + timedelta(days=10), seed=SEED, employees=200)
    assert json.loads(paths.state.read_text(encoding="utf-8"))["as_of"] == "2026-12-05"
    assert evolution.from_date == AS_OF
    assert evolution.describe()[0] == "world moved 2026-11-25 -> 2026-12-05:"

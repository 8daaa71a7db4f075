"""The rule catalog and status master in the warehouse: real DuckDB files and PostgreSQL schemas."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync.canonical import FINDING_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.errors import LoadError
from zairyu_sync.load import (
    RunRecord,
    load_reference_data,
    load_run,
)
from zairyu_sync.rules import RuleCatalog, load_catalog
from zairyu_sync.statuses import StatusMaster, load_statuses

pytestmark = pytest.mark.integration

D = date(2026, 11, 25)


@pytest.fixture(scope="module")
def catalog() -> RuleCatalog:
    return load_catalog()


@pytest.fixture(scope="module")
def master() -> StatusMaster:
    return load_statuses()


def table(engine: sa.Engine, name: str) -> dict[str, dict[str, Any]]:
    """Rows of a reference table keyed by code."""
    with engine.connect() as conn:
        result = conn.execute(sa.text(f"SELECT * FROM {name} ORDER BY code"))  # noqa: S608
        return {row["code"]: dict(row) for row in result.mappings().all()}


def expected_rules(catalog: RuleCatalog) -> dict[str, dict[str, Any]]:
    escalation = {
        "critical_window_days": (
            "critical once the due date is at most PolicySettings.critical_window_days days "
            "after the as-of date"
        ),
    }
    out: dict[str, dict[str, Any]] = {}
    for rule in catalog.rules:
        if rule.severity.critical_when_overdue:
            text = "critical once the due date has passed"
        else:
            text = escalation.get(rule.severity.critical_within or "")
        out[rule.code] = {
            "code": rule.code,
            "title_en": rule.title_en,
            "title_ja": rule.title_ja,
            "base_severity": rule.severity.base,
            "escalation": text,
            "condition": rule.condition,
            "legal_basis": "\n".join(rule.legal_basis),
            "uncertain": rule.uncertain,
            "remediation_en": rule.remediation_en,
            "remediation_ja": rule.remediation_ja,
            "applies_from": rule.applies_from,
            "applies_until": rule.applies_until,
            "due_date_meaning": rule.due_date,
            "catalog_version": catalog.version,
        }
    return out


def expected_statuses(master: StatusMaster) -> dict[str, dict[str, Any]]:
    return {status.code: dataclasses.asdict(status) for status in master.statuses}


def test_tables_equal_the_catalog_and_the_master(
    warehouse: sa.Engine, catalog: RuleCatalog, master: StatusMaster
) -> None:
    load_reference_data(warehouse, catalog, master)
    rules = table(warehouse, "rules")
    assert rules == expected_rules(catalog)
    assert len(rules) == 19
    assert rules["SPECIAL_PERIOD"]["escalation"] is not None
    assert rules["STATUS_EXPIRED"]["escalation"] is None
    statuses = table(warehouse, "residence_statuses")
    assert statuses == expected_statuses(master)
    esd = statuses["employment_for_skill_development"]
    assert (esd["name_ja"], esd["valid_from"], esd["valid_until"]) == (
        "育成就労",
        date(2027, 4, 1),
        None,
    )
    assert statuses["special_permanent_resident"]["residence_card"] is False


def test_reloading_is_idempotent_and_replaces_old_content(
    warehouse: sa.Engine, catalog: RuleCatalog, master: StatusMaster
) -> None:
    # A smaller, older catalog first: the full load must remove what it no longer has.
    old = RuleCatalog(rules=catalog.rules[:2], version=0)
    load_reference_data(warehouse, old, StatusMaster(statuses=master.statuses[:3]))
    assert set(table(warehouse, "rules")) == set(catalog.codes[:2])
    assert {row["catalog_version"] for row in table(warehouse, "rules").values()} == {0}

    load_reference_data(warehouse, catalog, master)
    first = (table(warehouse, "rules"), table(warehouse, "residence_statuses"))
    load_reference_data(warehouse, catalog, master)
    second = (table(warehouse, "rules"), table(warehouse, "residence_statuses"))
    assert first == second
    assert first == (expected_rules(catalog), expected_statuses(master))


def test_failed_reference_load_keeps_the_previous_content(
    warehouse: sa.Engine, catalog: RuleCatalog, master: StatusMaster
) -> None:
    load_reference_data(warehouse, catalog, master)
    broken = dataclasses.replace(master.statuses[0], work_class="sometimes")  # breaks the CHECK
    with pytest.raises(LoadError, match="rolled back"):
        load_reference_data(
            warehouse, catalog, StatusMaster(statuses=(*master.statuses[1:], broken))
        )
    assert table(warehouse, "residence_statuses") == expected_statuses(master)
    assert len(table(warehouse, "rules")) == 19


def _finding(discrepancy_id: str, rule_code: str, severity: str) -> dict[str, Any]:
    return {
        "discrepancy_id": discrepancy_id,
        "employee_id": f"E{discrepancy_id}",
        "organization_id": "TKY01",
        "compliance_owner": "hr-tokyo@example.co.jp",
        "rule_code": rule_code,
        "severity": severity,
        "due_date": date(2026, 11, 24),
        "receipt_number": None,
        "detail": "detail",
    }


def test_open_discrepancies_with_rules_view(
    warehouse: sa.Engine, catalog: RuleCatalog, master: StatusMaster
) -> None:
    load_reference_data(warehouse, catalog, master)
    run = RunRecord(
        run_key=f"residence_status_reconciliation/{D.isoformat()}",
        dag_run_id="manual",
        logical_date=None,
        as_of=D,
        started_at=datetime(2026, 11, 25, 1, tzinfo=UTC),
        finished_at=None,
        status="success",
    )
    findings = pd.DataFrame(
        [
            _finding("1", "STATUS_EXPIRED", "critical"),
            _finding("2", "HELLOWORK_HIRE_OVERDUE", "warning"),
            _finding("3", "NOT_IN_THE_CATALOG", "info"),
        ],
        columns=list(FINDING_COLUMNS),
    )
    load_run(warehouse, run, findings, pd.DataFrame(columns=list(QUARANTINE_COLUMNS)))
    # A second run that no longer reports finding 2 resolves it: it leaves the view.
    later = dataclasses.replace(
        run, run_key=f"residence_status_reconciliation/{date(2026, 11, 26)}"
    )
    later = dataclasses.replace(later, as_of=date(2026, 11, 26))
    load_run(
        warehouse,
        later,
        findings[findings["discrepancy_id"] != "2"],
        pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
    )
    with warehouse.connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT discrepancy_id, severity_rank, rule_code, rule_title_en, "
                    "rule_title_ja, remediation_en, remediation_ja, due_date_meaning, legal_basis "
                    "FROM open_discrepancies_with_rules ORDER BY discrepancy_id"
                )
            )
            .mappings()
            .all()
        )
    expired = catalog.get("STATUS_EXPIRED")
    assert [row["discrepancy_id"] for row in rows] == ["1", "3"]
    assert dict(rows[0]) == {
        "discrepancy_id": "1",
        "severity_rank": 1,
        "rule_code": "STATUS_EXPIRED",
        "rule_title_en": expired.title_en,
        "rule_title_ja": expired.title_ja,
        "remediation_en": expired.remediation_en,
        "remediation_ja": expired.remediation_ja,
        "due_date_meaning": expired.due_date,
        "legal_basis": "\n".join(expired.legal_basis),
    }
    # An unknown rule code is still listed, without rule columns.
    assert rows[1]["severity_rank"] == 3
    assert rows[1]["rule_title_en"] is None and rows[1]["remediation_en"] is None

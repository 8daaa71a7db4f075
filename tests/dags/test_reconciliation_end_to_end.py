"""End to end: the DAG runs with ``dag.test()`` against real local components.

A small generated ERP in SQLite, the ISA simulator over HTTP on loopback, a DuckDB warehouse and a
real SMTP server; the test asserts that seeded situations land in the warehouse, that the counts add
up, and that a rerun of the same date duplicates nothing.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from tests.webhook_server import Webhook, running_webhook
from zairyu_sync.arrow_memory import ARROW_POOL_ENV
from zairyu_sync.erp_sample import (
    SampleErp,
    expected_situations,
    generate_sample,
    write_erp,
    write_isa_seed,
)
from zairyu_sync.immigration.simulator import FaultSettings, SimulatorServer, load_dataset
from zairyu_sync.mailbox import LocalMailServer

pytestmark = pytest.mark.dags

AS_OF = date(2026, 11, 25)
REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO_ROOT / "dags"
REQUIRED_RULES = (
    "STATUS_EXPIRED",
    "SPECIAL_PERIOD",
    "EXPIRY_APPROACHING",
    "WORK_NOT_PERMITTED",
    "APPLICATION_DENIED",
    "STATUS_MISMATCH",
    "EXPIRY_MISMATCH",
    "APPLICATION_NOT_FOUND",
    "DATA_QUALITY",
)


@pytest.fixture(scope="module")
def airflow_db() -> None:
    """Create the Airflow metadata DB of the test home (see tests/conftest.py)."""
    airflow = Path(sys.executable).with_name("airflow")
    completed = subprocess.run(  # noqa: S603
        [str(airflow), "db", "migrate"], env=dict(os.environ), capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Sample ERP + simulator + SMTP server, shared by the runs of this module."""
    root = tmp_path_factory.mktemp("e2e")
    sample = generate_sample(150, as_of=AS_OF, seed=11)
    erp = root / "erp.sqlite"
    engine = sa.create_engine(f"sqlite:///{erp}")
    write_erp(sample, engine)
    engine.dispose()
    write_isa_seed(sample, root / "isa_seed.json")
    with (
        SimulatorServer(
            load_dataset(root / "isa_seed.json"), client_id="e2e", client_secret="e2e-secret"
        ) as simulator,
        LocalMailServer(root / "mail") as mail,
        running_webhook() as slack,
    ):
        yield {
            "slack": slack,
            "root": root,
            "sample": sample,
            "erp": erp,
            "warehouse": root / "warehouse.duckdb",
            "simulator": simulator,
            "mail": mail,
        }


@pytest.fixture
def connections(world: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    root = world["root"]
    assert isinstance(root, Path)
    simulator = world["simulator"]
    mail = world["mail"]
    assert isinstance(simulator, SimulatorServer) and isinstance(mail, LocalMailServer)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ERP_DB", json.dumps({"conn_type": "sqlite", "host": str(world["erp"])})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": str(world["warehouse"])}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_IMMIGRATION_API",
        json.dumps(
            {
                "conn_type": "http",
                "host": simulator.base_url,
                "login": "e2e",
                "password": "e2e-secret",
                "extra": {"page_size": 25},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": mail.port,
                "extra": {"disable_tls": True, "disable_ssl": True},
            }
        ),
    )
    slack = world["slack"]
    assert isinstance(slack, Webhook)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS",
        json.dumps({"conn_type": "slackwebhook", "password": slack.url}),
    )
    # Routing as an Airflow Variable: the Tokyo HR team also wants its alerts in Slack.
    owners = (REPO_ROOT / "config" / "owners.yaml").read_text(encoding="utf-8")
    tokyo = "  hr-tokyo@example.co.jp:\n    language: ja\n    channels: [email]\n"
    assert tokyo in owners
    monkeypatch.setenv(
        "AIRFLOW_VAR_ZAIRYU_SYNC_OWNERS",
        owners.replace(tokyo, tokyo.replace("[email]", "[email, slack]")),
    )
    monkeypatch.setenv("ZAIRYU_RUN_ROOT", str(root / "runs"))


@pytest.fixture
def first_run(world: dict[str, object], airflow_db: None, connections: None) -> None:
    """The DAG's run for AS_OF has landed: the first test makes it, a test run alone here."""
    if not world.get("first_run"):
        assert _run_dag() == "success"
        world["first_run"] = True


def _run_dag(as_of: date = AS_OF) -> str:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "residence_status_reconciliation.py"))
    dag = bag.dags["residence_status_reconciliation"]
    dag_run = dag.test(logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC))
    return str(dag_run.state)


def _warehouse_rows(path: Path, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = sa.create_engine(f"duckdb:///{path}")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params).all()]
    finally:
        engine.dispose()


def _personal_data(sample: SampleErp) -> set[str]:
    """Card numbers, full names and birth dates of the sample: none may leak unmasked."""
    values = _card_numbers(sample)
    for row in sample.tables["hr_employee"]:
        if row.get("family_name") and row.get("given_name"):
            values.add(f"{row['family_name']} {row['given_name']}")
        if row.get("birth_date"):
            values.add(str(row["birth_date"]))
    return values


def _task_instances() -> dict[str, list[tuple[int, str]]]:
    """Task id -> [(map index, state)] of the latest DAG run in the test Airflow home."""
    engine = sa.create_engine(f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT task_id, map_index, state FROM task_instance WHERE run_id ="
                " (SELECT run_id FROM dag_run ORDER BY id DESC LIMIT 1)"
                " ORDER BY task_id, map_index"
            ).all()
    finally:
        engine.dispose()
    found: dict[str, list[tuple[int, str]]] = {}
    for task_id, map_index, state in rows:
        found.setdefault(str(task_id), []).append((int(map_index), str(state)))
    return found


def _xcom_values() -> list[str]:
    """Every XCom value stored in the test Airflow home's metadata DB."""
    engine = sa.create_engine(f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db")
    try:
        with engine.connect() as conn:
            return [str(value) for (value,) in conn.exec_driver_sql("SELECT value FROM xcom")]
    finally:
        engine.dispose()


@pytest.mark.usefixtures("airflow_db", "connections")
def test_dag_run_lands_seeded_discrepancies_and_counts_add_up(
    world: dict[str, object], capfd: pytest.CaptureFixture[str]
) -> None:
    warehouse = world["warehouse"]
    mail = world["mail"]
    sample = world["sample"]
    assert isinstance(warehouse, Path) and isinstance(mail, LocalMailServer)
    assert isinstance(sample, SampleErp)

    pa.set_memory_pool(pa.system_memory_pool())  # whatever ran before, the tasks choose again
    assert _run_dag() == "success"
    world["first_run"] = True
    # dag.test() runs the tasks in this process: they made jemalloc Arrow's pool (ADR 0014)
    if ARROW_POOL_ENV not in os.environ:
        assert pa.default_memory_pool().backend_name == "jemalloc"
    # the roster ran in shards, one mapped task instance per shard and stage
    mapped = _task_instances()
    for task_id in ("extract", "validate", "reconcile"):
        assert mapped[task_id] == [(index, "success") for index in range(4)], task_id
    assert mapped["load"] == [(-1, "success")]

    logs = capfd.readouterr()
    assert "residence_status_reconciliation" in logs.out + logs.err, "task logs were captured"
    xcoms = _xcom_values()
    assert len(xcoms) >= 7, "every task returned a summary through XCom"
    surfaces = {"logs": logs.out + logs.err, "xcom": "\n".join(xcoms)}
    secrets = _personal_data(sample)
    for surface, text in surfaces.items():
        leaked = sorted(value for value in secrets if value in text)
        assert not leaked, f"personal data in {surface}: {len(leaked)} value(s)"

    found = _warehouse_rows(
        warehouse, "SELECT rule_code, employee_id FROM discrepancies WHERE status = 'open'"
    )
    found_by_rule: dict[str, set[str]] = {}
    for rule_code, employee_id in found:
        found_by_rule.setdefault(str(rule_code), set()).add(str(employee_id))
    expected = expected_situations(sample)
    for rule in REQUIRED_RULES:
        seeded = expected.get(rule, set())
        assert seeded, f"the sample seeds no {rule} case"
        missing = seeded - found_by_rule.get(rule, set())
        assert not missing, (
            f"{rule}: seeded employees not found in the warehouse: {sorted(missing)}"
        )

    ((extracted, ignored, quarantined, valid, reconciled),) = _warehouse_rows(
        warehouse,
        "SELECT extracted, ignored, quarantined, valid, reconciled FROM reconciliation_runs "
        "WHERE run_key = 'residence_status_reconciliation/2026-11-25'",
    )
    assert extracted == ignored + quarantined + valid
    assert reconciled == valid
    assert quarantined > 0 and ignored > 0
    (quarantine_employees,) = _warehouse_rows(
        warehouse,
        "SELECT count(DISTINCT row_number) FROM quarantine WHERE source_table = 'employees'",
    )[0]
    assert quarantine_employees == quarantined

    owners = {
        str(owner)
        for (owner,) in _warehouse_rows(
            warehouse,
            "SELECT DISTINCT compliance_owner FROM discrepancies "
            "WHERE severity IN ('critical', 'warning') AND compliance_owner IS NOT NULL",
        )
    }
    recipients = {rcpt for message in mail.received for rcpt in message.rcpt_tos}
    assert owners <= recipients
    alert_ids = [message.message["X-Zairyu-Alert-Id"] for message in mail.received]
    assert len(alert_ids) == len(set(alert_ids)), "no alert is delivered twice"
    slack = world["slack"]
    assert isinstance(slack, Webhook)
    assert slack.requests, "the Tokyo owner's alerts also went to Slack"
    slack_text = json.dumps([payload for _, payload in slack.requests], ensure_ascii=False)
    assert "E1" in slack_text
    assert not [value for value in secrets if value in slack_text], "personal data in Slack"
    report = (root_of(world) / "runs" / "residence_status_reconciliation" / "2026-11-25").joinpath(
        "report.html"
    )
    report_text = report.read_text(encoding="utf-8")
    assert "E1" in report_text
    assert not [value for value in secrets if value in report_text], "personal data in the report"

    # Every table and analyst view of the warehouse: no raw card number, name or birth date.
    relations = [
        str(name)
        for (name,) in _warehouse_rows(
            warehouse, "SELECT table_name FROM information_schema.tables ORDER BY table_name"
        )
    ]
    assert {"discrepancies", "employee_snapshots", "open_discrepancies"} <= set(relations)
    for relation in relations:
        assert relation.isidentifier(), relation  # names come from the catalog, not from data
        dump = json.dumps(
            _warehouse_rows(warehouse, f'SELECT * FROM "{relation}"'),  # noqa: S608
            default=str,
            ensure_ascii=False,
        )
        leaked = [value for value in secrets if value in dump]
        assert not leaked, f"personal data in warehouse relation {relation}"
    for message in mail.received:
        parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
        parts = [part for part in parsed.walk() if part.get_content_maintype() == "text"]
        text = "\n".join(str(part.get_content()) for part in parts)
        assert "E1" in text, "the decoded body lists employee ids"
        assert not [value for value in secrets if value in text], "personal data in an e-mail"


def root_of(world: dict[str, object]) -> Path:
    root = world["root"]
    assert isinstance(root, Path)
    return root


def _card_numbers(sample: SampleErp) -> set[str]:
    cards = {
        str(row["card_no"]) for row in sample.tables["hr_residence_card"] if row.get("card_no")
    }
    assert cards, "the sample holds card numbers"
    return cards


@pytest.mark.usefixtures("airflow_db", "connections", "first_run")
def test_rerun_of_the_same_date_duplicates_nothing(world: dict[str, object]) -> None:
    warehouse = world["warehouse"]
    mail = world["mail"]
    assert isinstance(warehouse, Path) and isinstance(mail, LocalMailServer)
    before = _warehouse_rows(
        warehouse,
        "SELECT discrepancy_id, status, first_seen_run FROM discrepancies ORDER BY discrepancy_id",
    )
    runs_before = _warehouse_rows(warehouse, "SELECT count(*) FROM reconciliation_runs")
    mails_before = len(mail.received)
    assert before, "the first run must have loaded findings"

    assert _run_dag() == "success"

    after = _warehouse_rows(
        warehouse,
        "SELECT discrepancy_id, status, first_seen_run FROM discrepancies ORDER BY discrepancy_id",
    )
    assert after == before
    assert _warehouse_rows(warehouse, "SELECT count(*) FROM reconciliation_runs") == runs_before
    assert len(mail.received) == mails_before, "a rerun must not send the same alert twice"


@pytest.mark.usefixtures("airflow_db", "connections", "first_run")
def test_the_dag_survives_a_faulty_isa_api_with_identical_findings(
    world: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance figure at DAG level: 20% 5xx, 10% 429, 5% timeouts, 1% malformed bodies."""
    root, warehouse = root_of(world), world["warehouse"]
    assert isinstance(warehouse, Path)
    run_dir = root / "runs" / "residence_status_reconciliation" / AS_OF.isoformat()
    keys = ["discrepancy_id", "rule_code", "severity", "due_date", "receipt_number"]

    def findings() -> pd.DataFrame:
        frame = pd.read_parquet(run_dir / "discrepancies.parquet")[keys].astype(str)
        return frame.sort_values(keys).reset_index(drop=True)

    clean = findings()
    table = "SELECT discrepancy_id, status, severity, last_seen_run FROM discrepancies ORDER BY 1"
    warehouse_before = _warehouse_rows(warehouse, table)
    faults = FaultSettings(
        seed=20261125,
        error_5xx_share=0.20,
        rate_limit_share=0.10,
        timeout_share=0.05,
        timeout_seconds=0.6,
        malformed_share=0.01,
    )
    with SimulatorServer(
        load_dataset(root / "isa_seed.json"),
        client_id="e2e",
        client_secret="e2e-secret",
        faults=faults,
    ) as simulator:
        monkeypatch.setenv(
            "AIRFLOW_CONN_IMMIGRATION_API",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": simulator.base_url,
                    "login": "e2e",
                    "password": "e2e-secret",
                    "extra": {
                        "timeout": 0.3,
                        "page_size": 5,
                        "max_attempts": 8,
                        "backoff_initial_seconds": 0.01,
                        "max_backoff_seconds": 1.0,
                        "max_requests_per_second": 500,
                        "circuit_breaker_threshold": 8,
                    },
                }
            ),
        )
        assert _run_dag() == "success"
        injected = simulator.state.injected.model_dump()

    assert injected["error_5xx"] > 0 and injected["rate_limited"] > 0, injected
    pd.testing.assert_frame_equal(findings(), clean)
    assert _warehouse_rows(warehouse, table) == warehouse_before


@pytest.mark.usefixtures("airflow_db", "connections", "first_run")
def test_a_month_later_findings_open_escalate_and_resolve_in_the_event_history(
    world: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The world moves on 30 days (applications decided, HR catches up, new expiries), then to
    the day a warning's due date comes within the critical window: the event history shows
    findings opening, resolving and escalating, run by run."""
    from zairyu_sync.erp_evolution import evolve_world

    root, warehouse = world["root"], world["warehouse"]
    assert isinstance(root, Path) and isinstance(warehouse, Path)
    later = AS_OF + timedelta(days=30)
    engine = sa.create_engine(f"sqlite:///{world['erp']}")
    try:
        evolution = evolve_world(engine, root / "isa_seed.json", from_date=AS_OF, days=30, seed=11)
    finally:
        engine.dispose()
    assert evolution.to_date == later

    def events_of(day: date) -> dict[str, int]:
        rows = _warehouse_rows(
            warehouse,
            "SELECT event_type, count(*) FROM discrepancy_events WHERE run_key = :run_key "
            "GROUP BY event_type",
            run_key=f"residence_status_reconciliation/{day.isoformat()}",
        )
        return {str(kind): int(str(count)) for kind, count in rows}

    with SimulatorServer(
        load_dataset(root / "isa_seed.json"), client_id="e2e", client_secret="e2e-secret"
    ) as simulator:
        monkeypatch.setenv(
            "AIRFLOW_CONN_IMMIGRATION_API",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": simulator.base_url,
                    "login": "e2e",
                    "password": "e2e-secret",
                }
            ),
        )
        assert _run_dag(later) == "success"
        month_later = events_of(later)
        assert month_later.get("opened", 0) > 0, month_later
        assert month_later.get("resolved", 0) > 0, month_later

        # The next day a warning's due date is within the 14-day critical window.
        candidates = _warehouse_rows(
            warehouse,
            "SELECT discrepancy_id, due_date FROM discrepancies WHERE status = 'open' "
            "AND severity = 'warning' AND rule_code IN ('EXPIRY_APPROACHING', 'SPECIAL_PERIOD') "
            "AND due_date > :after ORDER BY due_date, discrepancy_id",
            after=later + timedelta(days=15),
        )
        assert candidates, "the evolved world has a warning that can escalate"
        discrepancy_id, due = candidates[0]
        assert isinstance(due, date)
        escalation_day = due - timedelta(days=14)
        assert _run_dag(escalation_day) == "success"

    escalated = _warehouse_rows(
        warehouse,
        "SELECT severity_before, severity_after FROM discrepancy_events "
        "WHERE discrepancy_id = :id AND event_type = 'escalated' AND run_key = :run_key",
        id=discrepancy_id,
        run_key=f"residence_status_reconciliation/{escalation_day.isoformat()}",
    )
    assert escalated == [("warning", "critical")]
    ((runs,),) = _warehouse_rows(warehouse, "SELECT count(*) FROM reconciliation_runs")
    assert runs == 3

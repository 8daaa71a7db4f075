"""Alert delivery against a real SMTP server (aiosmtpd on loopback) with a DuckDB alert_log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from zairyu_sync.alert import (
    AlertResult,
    Digest,
    OutboxTransport,
    SmtpTransport,
    message_id,
    send_digests,
    undelivered_alerts,
)
from zairyu_sync.alert_plan import plan_alerts
from zairyu_sync.canonical import EMPLOYEE_COLUMNS, FINDING_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.errors import AlertError
from zairyu_sync.load import RunRecord, apply_migrations, load_run, warehouse_engine
from zairyu_sync.pipeline import run_alert
from zairyu_sync.routing import AlertRouting, load_routing, routing_from_airflow
from zairyu_sync.runs import RunContext

pytestmark = pytest.mark.integration

RUN_KEY = "residence_status_reconciliation/2026-11-25"
SENDER = "zairyu-sync@example.com"
FALLBACK = "compliance@example.com"
OWNER_B = "hr-b@example.com"
CARD = "AB12345678CD"
FAST: dict[str, Any] = {"max_tries": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.02}
TITLES = {
    "STATUS_EXPIRED": ("Period of stay expired", "在留期間の超過"),
    "CARD_NUMBER_STALE": ("Card number out of date", "在留カード番号の相違"),
}


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class CollectingHandler:
    received: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def start_server(port: int) -> tuple[Controller, CollectingHandler]:
    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler


@pytest.fixture
def smtp() -> Iterator[tuple[int, CollectingHandler]]:
    port = free_port()
    controller, handler = start_server(port)
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = warehouse_engine(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    apply_migrations(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def finding(discrepancy_id: str, owner: str | None, **values: Any) -> dict[str, Any]:
    return {
        "discrepancy_id": discrepancy_id,
        "employee_id": f"E{discrepancy_id}",
        "organization_id": "ORG1",
        "compliance_owner": owner,
        "rule_code": "STATUS_EXPIRED",
        "severity": "critical",
        "due_date": date(2026, 12, 1),
        "receipt_number": None,
        "detail": "period of stay ended 2026-11-20",
        **values,
    }


D1 = date(2026, 11, 25)
OWNER_JA = "hr-a@example.com"
OWNER_EN = "hr-en@example.com"
LEAD = "lead@example.com"
RAW_NAME = "NGUYEN VAN AN"
RAW_BIRTH = "1991-07-14"
ROUTING_YAML = f"""
fallback_owner: {FALLBACK}
escalation_contact: {LEAD}
escalate_after_days: 7
owners:
  {OWNER_JA}: {{language: ja, channels: [email]}}
  {OWNER_EN}: {{language: en}}
"""
REMEDIATION = {
    "STATUS_EXPIRED": ("Stop the work now", "直ちに就労を停止する"),
    "EXPIRY_APPROACHING": ("File the renewal", "更新申請を行う"),
}


def person(employee_id: str, owner: str | None, expiry: date, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(EMPLOYEE_COLUMNS)
    row.update(
        employee_id=employee_id,
        organization_id="ORG1",
        full_name=RAW_NAME,
        nationality="VNM",
        date_of_birth=RAW_BIRTH,
        employment_status="active",
        hire_date="2024-04-01",
        employment_insured="true",
        residence_status="engineer_specialist_humanities_international",
        period_of_stay_expiry=expiry.isoformat(),
        residence_card_number=CARD,
        card_valid_until="2029-11-20",
        compliance_owner=owner,
    )
    row.update(values)
    return row


def load_day(
    engine: sa.Engine, day: date, findings: list[dict[str, Any]], people: list[dict[str, Any]]
) -> str:
    run_key = f"residence_status_reconciliation/{day.isoformat()}"
    record = RunRecord(
        run_key=run_key,
        dag_run_id=f"scheduled__{day}",
        logical_date=datetime(day.year, day.month, day.day),
        as_of=day,
        started_at=None,
        finished_at=None,
        status="success",
    )
    load_run(
        engine,
        record,
        pd.DataFrame(findings, columns=list(FINDING_COLUMNS)),
        pd.DataFrame([], columns=list(QUARANTINE_COLUMNS)),
        employees=pd.DataFrame(people, columns=list(EMPLOYEE_COLUMNS)),
    )
    return run_key


def plan(engine: sa.Engine, day: date, routing: AlertRouting) -> list[Digest]:
    return plan_alerts(
        engine,
        run_key=f"residence_status_reconciliation/{day.isoformat()}",
        as_of=day,
        routing=routing,
        rule_titles=TITLES,
        remediation=REMEDIATION,
        report_link=f"https://reports.example/{day}",
    )


def shape(digests: list[Digest]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(d.kind, d.recipient, d.channel, d.keys) for d in digests]


C1 = finding("c1", OWNER_JA, employee_id="E1")
C3 = finding("c3", "nobody-configured@example.com", employee_id="E3")
W1 = finding(
    "w1",
    OWNER_EN,
    employee_id="E2",
    severity="warning",
    rule_code="CARD_NUMBER_STALE",
    due_date=None,
    detail=f"ERP card {CARD} differs",
)


def world(day: date, e4_expiry: date) -> list[dict[str, Any]]:
    return [
        person("E1", OWNER_JA, date(2026, 11, 20)),
        person("E2", OWNER_EN, D1 + timedelta(days=80)),
        person("E3", "nobody-configured@example.com", date(2026, 11, 20)),
        person("E4", OWNER_JA, e4_expiry),
        person("E5", OWNER_JA, day + timedelta(days=3), employment_status="terminated"),
    ]


ROUTING_AB_YAML = ROUTING_YAML + f"  {OWNER_B}: {{language: en, channels: [email]}}\n"


@pytest.fixture
def digests(warehouse: sa.Engine) -> list[Digest]:
    """The alerts ``plan_alerts`` plans for day 1 of a small world (no reminders due)."""
    far = date(2030, 1, 1)
    load_day(
        warehouse,
        D1,
        [
            finding("a1", OWNER_JA, employee_id="E1"),
            finding(
                "a2",
                OWNER_JA,
                employee_id="E2",
                severity="warning",
                rule_code="CARD_NUMBER_STALE",
                due_date=None,
                detail=f"ERP card {CARD} differs from the card ISA issued",
            ),
            finding("b1", OWNER_B, employee_id="E3", severity="warning"),
            finding("n1", None, employee_id="E4"),
            finding("i1", OWNER_B, employee_id="E3", severity="info"),
        ],
        [
            person("E1", OWNER_JA, far),
            person("E2", OWNER_JA, far),
            person("E3", OWNER_B, far),
            person("E4", None, far),
        ],
    )
    return plan(warehouse, D1, load_routing(ROUTING_AB_YAML))


def alert_log(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(
            "SELECT recipient, status, attempts, error, delivered_at IS NOT NULL, finding_ids, "
            "run_key, channel, kind FROM alert_log ORDER BY recipient, kind"
        )
        return [tuple(row) for row in result.all()]


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_one_message_per_owner_and_kind_with_both_languages_and_masked_cards(
    smtp: tuple[int, CollectingHandler], warehouse: sa.Engine, digests: list[Digest]
) -> None:
    port, handler = smtp
    transport = SmtpTransport("127.0.0.1", port, SENDER)

    result = send_digests(warehouse, digests, {"email": transport}, run_key=RUN_KEY, **FAST)

    assert result == AlertResult(sent=4, skipped=0, failed=0)
    sent = [(e.rcpt_tos, e.message["Subject"]) for e in handler.received]
    assert sent == [  # critical alerts go out before the warning digests
        ([FALLBACK], "[zairyu-sync] 重大 1件 / 1 critical — 在留資格の照合 2026-11-25"),
        ([OWNER_JA], "[zairyu-sync] 重大 1件 / 1 critical — 在留資格の照合 2026-11-25"),
        ([OWNER_JA], "[zairyu-sync] 警告 1件 / 1 warning — 在留資格の照合 2026-11-25"),
        ([OWNER_B], "[zairyu-sync] 1 warning / 警告 1件 — residence status check 2026-11-25"),
    ]
    assert all(envelope.mail_from == SENDER for envelope in handler.received)

    critical_a, warning_a = handler.received[1].message, handler.received[2].message
    assert critical_a.get_content_type() == "multipart/alternative"
    for content in (body(critical_a, "plain"), body(critical_a, "html")):
        assert content.index("在留期間の超過") < content.index("Period of stay expired")
        assert "EE1" not in content and "E1" in content and "E2" not in content
    for content in (body(warning_a, "plain"), body(warning_a, "html")):
        assert content.index("在留カード番号の相違") < content.index("Card number out of date")
    for envelope in handler.received:
        for content in (body(envelope.message, "plain"), body(envelope.message, "html")):
            assert "AB******CD" in content and "N. V. A." in content
            assert CARD not in content and RAW_NAME not in content and RAW_BIRTH not in content
    assert "E4" in body(handler.received[0].message, "plain"), "no owner: the fallback owner"
    owner_b = body(handler.received[3].message, "plain")
    assert owner_b.index("Period of stay expired") < owner_b.index("在留期間の超過")
    assert all("i1" not in d.finding_ids for d in digests), "info findings are not alerted"
    assert [row[:3] + row[5:] for row in alert_log(warehouse)] == [
        (FALLBACK, "delivered", 1, "n1", RUN_KEY, "email", "critical"),
        (OWNER_JA, "delivered", 1, "a1", RUN_KEY, "email", "critical"),
        (OWNER_JA, "delivered", 1, "a2", RUN_KEY, "email", "warning_digest"),
        (OWNER_B, "delivered", 1, "b1", RUN_KEY, "email", "warning_digest"),
    ]


def test_second_send_for_the_same_run_sends_nothing(
    smtp: tuple[int, CollectingHandler], warehouse: sa.Engine, digests: list[Digest]
) -> None:
    port, handler = smtp
    transport = SmtpTransport("127.0.0.1", port, SENDER)
    send_digests(warehouse, digests, {"email": transport}, run_key=RUN_KEY, **FAST)
    log_before = alert_log(warehouse)

    replanned = plan(warehouse, D1, load_routing(ROUTING_AB_YAML))
    again = send_digests(warehouse, replanned, {"email": transport}, run_key=RUN_KEY, **FAST)

    assert [d.alert_id for d in replanned] == [d.alert_id for d in digests]
    assert again == AlertResult(sent=0, skipped=4, failed=0)
    assert len(handler.received) == 4
    assert alert_log(warehouse) == log_before


def test_server_down_records_failures_and_the_next_call_delivers_them(
    warehouse: sa.Engine, digests: list[Digest]
) -> None:
    port = free_port()  # nothing listens here yet
    transport = SmtpTransport("127.0.0.1", port, SENDER, timeout=2)

    with pytest.raises(AlertError, match="4 of 4 alerts .* could not be delivered"):
        send_digests(warehouse, digests, {"email": transport}, run_key=RUN_KEY, **FAST)

    failed = alert_log(warehouse)
    assert [row[1:3] for row in failed] == [("failed", 1)] * 4
    for row in failed:
        assert "SMTP delivery to 127.0.0.1" in row[3] and "refused" in row[3].lower()
        assert row[4] is False, "not delivered"
        assert CARD not in row[3]

    controller, handler = start_server(port)
    try:
        result = send_digests(warehouse, digests, {"email": transport}, run_key=RUN_KEY, **FAST)
    finally:
        controller.stop()

    assert result == AlertResult(sent=4, skipped=0, failed=0)
    assert len(handler.received) == 4
    assert [row[1:5] for row in alert_log(warehouse)] == [("delivered", 2, None, True)] * 4


@dataclass
class RefusingOneRecipient:
    """Delivers through the inner transport except to one recipient."""

    inner: SmtpTransport
    refused: str
    attempts: list[str] = field(default_factory=list)

    def send(self, digest: Digest) -> None:
        self.attempts.append(digest.recipient)
        if digest.recipient == self.refused:
            raise ConnectionResetError(f"relay dropped the message with {CARD} in it")
        self.inner.send(digest)


def test_one_failure_does_not_stop_the_others(
    smtp: tuple[int, CollectingHandler], warehouse: sa.Engine, digests: list[Digest]
) -> None:
    port, handler = smtp
    flaky = RefusingOneRecipient(SmtpTransport("127.0.0.1", port, SENDER), OWNER_B)

    with pytest.raises(AlertError, match="1 of 4 alerts"):
        send_digests(warehouse, digests, {"email": flaky}, run_key=RUN_KEY, **FAST)

    # (the refused recipient was retried once: max_tries=2)
    assert flaky.attempts == [FALLBACK, OWNER_JA, OWNER_JA, OWNER_B, OWNER_B]
    assert sorted(rcpt for e in handler.received for rcpt in e.rcpt_tos) == [
        FALLBACK,
        OWNER_JA,
        OWNER_JA,
    ]
    states = {row[0]: (row[1], row[3]) for row in alert_log(warehouse)}
    assert states[OWNER_B] == (
        "failed",
        "ConnectionResetError: relay dropped the message with AB******CD in it",
    )
    # The retry only sends what failed.
    healthy = SmtpTransport("127.0.0.1", port, SENDER)
    result = send_digests(warehouse, digests, {"email": healthy}, run_key=RUN_KEY, **FAST)
    assert result == AlertResult(sent=1, skipped=3, failed=0)
    assert [e.rcpt_tos for e in handler.received][-1] == [OWNER_B]
    assert len(handler.received) == 4


def test_outbox_writes_one_eml_per_digest(
    tmp_path: Path, warehouse: sa.Engine, digests: list[Digest]
) -> None:
    outbox = tmp_path / "outbox"
    transport = OutboxTransport(outbox, sender=SENDER)

    result = send_digests(warehouse, digests, {}, run_key=RUN_KEY, fallback=transport)
    for digest in digests:  # writing the same alert again overwrites its file
        transport.send(digest)

    assert result == AlertResult(sent=4, skipped=0, failed=0)
    files = sorted(path.name for path in outbox.iterdir())
    assert files == sorted(f"{digest.alert_id}.eml" for digest in digests)
    for digest in digests:
        raw = (outbox / f"{digest.alert_id}.eml").read_bytes()
        assert CARD.encode() not in raw
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        assert parsed["To"] == digest.recipient and parsed["Subject"] == digest.subject
        assert body(parsed, "plain") == digest.text_body
    assert {row[7] for row in alert_log(warehouse)} == {"email>fallback"}


def test_airflow_connection_transport_delivers_through_smtp_hook(
    smtp: tuple[int, CollectingHandler], digests: list[Digest], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.hooks.smtp import AirflowSmtpTransport

    port, handler = smtp
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 5, "retry_limit": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ZAIRYU_TEST_SMTP", json.dumps(connection))

    AirflowSmtpTransport("zairyu_test_smtp", sender=SENDER).send(digests[0])

    (envelope,) = handler.received
    assert envelope.rcpt_tos == [digests[0].recipient]
    assert envelope.message["Subject"] == digests[0].subject
    assert envelope.message["X-Zairyu-Alert-Id"] == digests[0].alert_id
    assert "在留期間の超過" in body(envelope.message, "html")
    assert "在留期間の超過" in body(envelope.message, "plain")


def test_airflow_connection_transport_wraps_failures(
    digests: list[Digest], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.hooks.smtp import AirflowSmtpTransport

    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": free_port(),
        "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 2, "retry_limit": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ZAIRYU_TEST_SMTP", json.dumps(connection))

    with pytest.raises(AlertError, match="connection 'zairyu_test_smtp' failed"):
        AirflowSmtpTransport("zairyu_test_smtp", sender=SENDER).send(digests[0])


# --- planned alerts from a warehouse: routing, kinds, reminders, escalation, crash window -------


def test_planned_alerts_route_render_mask_and_never_repeat(
    smtp: tuple[int, CollectingHandler], warehouse: sa.Engine
) -> None:
    port, handler = smtp
    routing = load_routing(ROUTING_YAML)
    transports = {"email": SmtpTransport("127.0.0.1", port, SENDER)}
    e4_expiry = D1 + timedelta(days=10)

    # Day 1: new critical (owner + unknown owner -> fallback), new warning, first reminders.
    run1 = load_day(warehouse, D1, [C1, C3, W1], world(D1, e4_expiry))
    day1 = plan(warehouse, D1, routing)
    assert shape(day1) == [
        ("critical", FALLBACK, "email", ("c3",)),
        ("critical", OWNER_JA, "email", ("c1",)),
        ("warning_digest", OWNER_EN, "email", ("w1",)),
        ("expiry_reminder", OWNER_JA, "email", (f"E4|{e4_expiry}|14",)),
        ("expiry_reminder", OWNER_EN, "email", (f"E2|{D1 + timedelta(days=80)}|90",)),
    ]
    assert send_digests(warehouse, day1, transports, run_key=run1, **FAST) == AlertResult(5, 0, 0)
    mails = {(e.rcpt_tos[0], e.message["Subject"]): e.message for e in handler.received}
    critical = mails[(OWNER_JA, "[zairyu-sync] 重大 1件 / 1 critical — 在留資格の照合 2026-11-25")]
    warning = mails[
        (OWNER_EN, "[zairyu-sync] 1 warning / 警告 1件 — residence status check 2026-11-25")
    ]
    assert critical["Message-ID"] == message_id(day1[1].alert_id)
    for message in handler.received:
        raw = message.message.as_string()
        for content in (body(message.message, "plain"), body(message.message, "html"), raw):
            assert RAW_NAME not in content and CARD not in content and RAW_BIRTH not in content
    ja_text = body(critical, "plain")
    assert "N. V. A." in ja_text and "AB******CD" in ja_text
    assert "直ちに就労を停止する" in ja_text and "Stop the work now" in ja_text
    assert ja_text.index("在留期間の超過") < ja_text.index("Period of stay expired")
    assert "https://reports.example/2026-11-25" in ja_text
    en_text = body(warning, "plain")
    assert en_text.index("Card number out of date") < en_text.index("在留カード番号の相違")
    assert "N. V. A." in body(warning, "html")

    # A rerun of day 1 plans the same ids and sends nothing.
    assert [d.alert_id for d in plan(warehouse, D1, routing)] == [d.alert_id for d in day1]
    again = send_digests(warehouse, plan(warehouse, D1, routing), transports, run_key=run1)
    assert again == AlertResult(0, 5, 0) and len(handler.received) == 5

    # Day 9: c1 open 8 days -> escalation; c3 gone -> resolved; E4 crosses 7; E2 stays in 90.
    d9 = D1 + timedelta(days=8)
    run9 = load_day(warehouse, d9, [C1, W1], world(d9, e4_expiry))
    day9 = plan(warehouse, d9, routing)
    assert shape(day9) == [
        ("escalation", LEAD, "email", ("c1",)),
        ("expiry_reminder", OWNER_JA, "email", (f"E4|{e4_expiry}|7",)),
        ("resolved", FALLBACK, "email", (f"c3@{d9}",)),
    ]
    send_digests(warehouse, day9, transports, run_key=run9, **FAST)
    assert len(handler.received) == 8
    escalation = handler.received[5].message
    assert escalation["To"] == LEAD and "エスカレーション 重大 1件" in escalation["Subject"]
    assert "8日" in body(escalation, "plain") and OWNER_JA in body(escalation, "plain")

    # Day 10: E4 renewed (new expiry 101 days out) -> the series restarts at 120; nothing else.
    d10 = d9 + timedelta(days=1)
    renewed = d10 + timedelta(days=101)
    load_day(warehouse, d10, [C1, W1], world(d10, renewed))
    assert shape(plan(warehouse, d10, routing)) == [
        ("expiry_reminder", OWNER_JA, "email", (f"E4|{renewed}|120",)),
    ]


CRASH_SCRIPT = """
import sys
from datetime import date
from zairyu_sync.alert import SmtpTransport, send_digests
from zairyu_sync.alert_plan import plan_alerts
from zairyu_sync.load import warehouse_engine
from zairyu_sync.routing import load_routing

url, port, yaml_text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
engine = warehouse_engine(url)
digests = plan_alerts(
    engine, run_key="residence_status_reconciliation/2026-11-25", as_of=date(2026, 11, 25),
    routing=load_routing(yaml_text), rule_titles={}, remediation={}, report_link=None,
)
send_digests(engine, digests, {"email": SmtpTransport("127.0.0.1", port, "x@example.com")},
             run_key="residence_status_reconciliation/2026-11-25")
"""


def test_crash_between_send_and_log_is_never_resent_and_is_surfaced(
    smtp: tuple[int, CollectingHandler], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    port, handler = smtp
    path = tmp_path / "crash.duckdb"
    engine = warehouse_engine(f"duckdb:///{path}")
    apply_migrations(engine)
    run_key = load_day(engine, D1, [C1], [person("E1", OWNER_JA, date(2026, 11, 20))])
    engine.dispose()

    env = {**os.environ, "ZAIRYU_TEST_CRASH_AFTER_SEND": "1"}
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, f"duckdb:///{path}", str(port), ROUTING_YAML],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == 137, crashed.stderr.decode()[-2000:]
    assert len(handler.received) == 1, "the SMTP server accepted the message before the crash"
    engine = warehouse_engine(f"duckdb:///{path}")
    try:
        assert [row[1:3] for row in alert_log(engine)] == [("pending", 1)]
        routing = load_routing(ROUTING_YAML)
        digests = plan_alerts(
            engine,
            run_key=run_key,
            as_of=D1,
            routing=routing,
            rule_titles={},
            remediation={},
            report_link=None,
        )
        transports = {"email": SmtpTransport("127.0.0.1", port, SENDER)}

        first = send_digests(engine, digests, transports, run_key=run_key)
        second = send_digests(engine, digests, transports, run_key=run_key)

        assert first == AlertResult(sent=0, skipped=0, failed=0, uncertain=1)
        assert second == AlertResult(sent=0, skipped=0, failed=0, uncertain=1)
        assert len(handler.received) == 1, "no second message after the crash"
        assert handler.received[0].message["Message-ID"] == message_id(digests[0].alert_id)
        assert [row[1:3] for row in alert_log(engine)] == [("uncertain", 1)]
        report = undelivered_alerts(engine)
        assert report[["alert_id", "kind", "recipient", "channel", "status"]].values.tolist() == [
            [digests[0].alert_id, "critical", OWNER_JA, "email", "uncertain"]
        ]
        assert "between sending and logging" in report.loc[0, "error"]
    finally:
        engine.dispose()


def test_missing_channel_transport_uses_fallback_or_fails_clearly(
    tmp_path: Path, warehouse: sa.Engine
) -> None:
    routing = load_routing(ROUTING_YAML.replace("{language: en}", "{channels: [email, slack]}"))
    run_key = load_day(warehouse, D1, [W1], [person("E2", OWNER_EN, date(2030, 1, 1))])
    digests = plan(warehouse, D1, routing)
    assert [(d.kind, d.channel) for d in digests] == [
        ("warning_digest", "email"),
        ("warning_digest", "slack"),
    ]
    outbox = OutboxTransport(tmp_path / "outbox")
    with pytest.raises(AlertError, match="1 of 2 alerts"):
        send_digests(warehouse, digests, {"email": outbox}, run_key=run_key, **FAST)
    states = {row[7]: (row[1], row[3]) for row in alert_log(warehouse)}
    assert states["slack"] == (
        "failed",
        "AlertError: no transport for channel 'slack' and no fallback configured",
    )
    result = send_digests(warehouse, digests, {}, run_key=run_key, fallback=outbox)
    assert result == AlertResult(sent=1, skipped=1, failed=0)
    assert len(list((tmp_path / "outbox").iterdir())) == 2
    assert undelivered_alerts(warehouse).empty


def test_routing_from_yaml_file_and_from_airflow_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owners_file = tmp_path / "owners.yaml"
    owners_file.write_text(ROUTING_YAML, encoding="utf-8")
    monkeypatch.setenv("ZAIRYU_OWNERS_FILE", str(owners_file))
    monkeypatch.delenv("AIRFLOW_VAR_ZAIRYU_SYNC_OWNERS", raising=False)
    from_file = routing_from_airflow()
    assert from_file.fallback_owner == FALLBACK and from_file.route(OWNER_EN).language == "en"

    monkeypatch.setenv(
        "AIRFLOW_VAR_ZAIRYU_SYNC_OWNERS",
        "fallback_owner: var-fallback@example.com\nescalation_contact: var-lead@example.com\n",
    )
    from_variable = routing_from_airflow()
    assert from_variable.fallback_owner == "var-fallback@example.com"
    assert from_variable.route(OWNER_EN).address == "var-fallback@example.com"


def test_run_alert_plans_delivers_and_summarises_per_kind(
    smtp: tuple[int, CollectingHandler], tmp_path: Path, warehouse: sa.Engine
) -> None:
    port, handler = smtp
    load_day(warehouse, D1, [C1, W1], [person("E1", OWNER_JA, date(2030, 1, 1))])
    ctx = RunContext(
        run_key=RUN_KEY,
        dag_run_id="scheduled__2026-11-25",
        logical_date=datetime(2026, 11, 25),
        as_of=D1,
        run_dir=tmp_path / "run",
    )
    outbox = OutboxTransport(tmp_path / "outbox")
    routing = load_routing(ROUTING_YAML.replace("{language: en}", "{channels: [email, slack]}"))

    summary = run_alert(
        ctx,
        warehouse,
        {"email": SmtpTransport("127.0.0.1", port, SENDER)},
        fallback=outbox,
        report_link=None,
        routing=routing,
    )

    assert summary["planned"] == {
        "critical": 1,
        "escalation": 0,
        "warning_digest": 2,
        "expiry_reminder": 0,
        "resolved": 0,
    }
    assert summary["by_kind_status"] == {
        "critical": {"delivered": 1},
        "warning_digest": {"delivered": 2},
    }
    assert (summary["sent"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    assert [e.rcpt_tos for e in handler.received] == [[OWNER_JA], [OWNER_EN]]
    assert len(list((tmp_path / "outbox").iterdir())) == 1, "slack went to the fallback"
    again = run_alert(ctx, warehouse, {}, fallback=None, report_link=None, routing=routing)
    assert (again["sent"], again["skipped"]) == (0, 3)

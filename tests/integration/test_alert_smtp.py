"""Alert delivery against a real SMTP server (aiosmtpd on loopback) with a DuckDB alert_log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
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
    build_digests,
    send_digests,
)
from zairyu_sync.errors import AlertError
from zairyu_sync.load import apply_migrations, warehouse_engine

pytestmark = pytest.mark.integration

RUN_KEY = "residence_status_reconciliation/2026-11-25"
SENDER = "zairyu-sync@example.com"
FALLBACK = "compliance@example.com"
CARD = "AB12345678CD"
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


@pytest.fixture
def digests() -> list[Digest]:
    frame = pd.DataFrame(
        [
            finding("a1", "hr-a@example.com"),
            finding(
                "a2",
                "hr-a@example.com",
                severity="warning",
                rule_code="CARD_NUMBER_STALE",
                due_date=None,
                detail=f"ERP card {CARD} differs from the card ISA issued",
            ),
            finding("b1", "hr-b@example.com", severity="warning"),
            finding("n1", None),
            finding("i1", "hr-b@example.com", severity="info"),
        ]
    )
    return build_digests(
        frame,
        rule_titles=TITLES,
        run_label="2026-11-25",
        report_link="https://reports.example/2026-11-25",
        fallback_owner=FALLBACK,
    )


def alert_log(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(
            "SELECT recipient, status, attempts, error, delivered_at IS NOT NULL, finding_ids, "
            "run_key, channel, kind FROM alert_log ORDER BY recipient"
        )
        return [tuple(row) for row in result.all()]


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_one_message_per_owner_with_both_languages_and_masked_cards(
    smtp: tuple[int, CollectingHandler], warehouse: sa.Engine, digests: list[Digest]
) -> None:
    port, handler = smtp
    transport = SmtpTransport("127.0.0.1", port, SENDER)

    result = send_digests(warehouse, digests, transport, run_key=RUN_KEY, channel="email")

    assert result == AlertResult(sent=3, skipped=0, failed=0)
    by_rcpt = {tuple(envelope.rcpt_tos): envelope for envelope in handler.received}
    assert sorted(by_rcpt) == [(FALLBACK,), ("hr-a@example.com",), ("hr-b@example.com",)]
    assert all(envelope.mail_from == SENDER for envelope in handler.received)

    owner_a = by_rcpt[("hr-a@example.com",)].message
    assert owner_a["Subject"] == (
        "[zairyu-sync] 1 critical, 1 warning — residence status findings 2026-11-25"
    )
    assert owner_a.get_content_type() == "multipart/alternative"
    text, html = body(owner_a, "plain"), body(owner_a, "html")
    for content in (text, html):
        assert "在留期間の超過" in content and "Period of stay expired" in content
        assert content.index("在留カード番号の相違") < content.index("Card number out of date")
        assert "AB******CD" in content and CARD not in content
    assert text.index("Ea1") < text.index("Ea2"), "critical before warning"
    fallback = by_rcpt[(FALLBACK,)].message
    assert "En1" in body(fallback, "plain")
    assert (
        by_rcpt[("hr-b@example.com",)]
        .message["Subject"]
        .startswith("[zairyu-sync] 0 critical, 1 warning")
    )
    assert "Ei1" not in body(by_rcpt[("hr-b@example.com",)].message, "plain")
    assert [row[:3] for row in alert_log(warehouse)] == [
        (FALLBACK, "delivered", 1),
        ("hr-a@example.com", "delivered", 1),
        ("hr-b@example.com", "delivered", 1),
    ]
    assert alert_log(warehouse)[1][5:] == ("a1,a2", RUN_KEY, "email", "new_findings")


def test_second_send_for_the_same_run_sends_nothing(
    smtp: tuple[int, CollectingHandler], warehouse: sa.Engine, digests: list[Digest]
) -> None:
    port, handler = smtp
    transport = SmtpTransport("127.0.0.1", port, SENDER)
    send_digests(warehouse, digests, transport, run_key=RUN_KEY, channel="email")
    log_before = alert_log(warehouse)

    again = send_digests(warehouse, digests, transport, run_key=RUN_KEY, channel="email")

    assert again == AlertResult(sent=0, skipped=3, failed=0)
    assert len(handler.received) == 3
    assert alert_log(warehouse) == log_before


def test_server_down_records_failures_and_the_next_call_delivers_them(
    warehouse: sa.Engine, digests: list[Digest]
) -> None:
    port = free_port()  # nothing listens here yet
    transport = SmtpTransport("127.0.0.1", port, SENDER, timeout=2)

    with pytest.raises(AlertError, match="3 of 3 alerts .* could not be delivered"):
        send_digests(warehouse, digests, transport, run_key=RUN_KEY, channel="email")

    failed = alert_log(warehouse)
    assert [row[1:3] for row in failed] == [("failed", 1)] * 3
    for row in failed:
        assert "SMTP delivery to 127.0.0.1" in row[3] and "refused" in row[3].lower()
        assert row[4] is False, "not delivered"
        assert CARD not in row[3]

    controller, handler = start_server(port)
    try:
        result = send_digests(warehouse, digests, transport, run_key=RUN_KEY, channel="email")
    finally:
        controller.stop()

    assert result == AlertResult(sent=3, skipped=0, failed=0)
    assert len(handler.received) == 3
    assert [row[1:5] for row in alert_log(warehouse)] == [("delivered", 2, None, True)] * 3


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
    flaky = RefusingOneRecipient(SmtpTransport("127.0.0.1", port, SENDER), "hr-a@example.com")

    with pytest.raises(AlertError, match="1 of 3 alerts"):
        send_digests(warehouse, digests, flaky, run_key=RUN_KEY, channel="email")

    assert flaky.attempts == [FALLBACK, "hr-a@example.com", "hr-b@example.com"]
    assert sorted(rcpt for e in handler.received for rcpt in e.rcpt_tos) == [
        FALLBACK,
        "hr-b@example.com",
    ]
    states = {row[0]: (row[1], row[3]) for row in alert_log(warehouse)}
    assert states["hr-a@example.com"] == (
        "failed",
        "ConnectionResetError: relay dropped the message with AB******CD in it",
    )
    # The retry only sends what failed.
    healthy = SmtpTransport("127.0.0.1", port, SENDER)
    result = send_digests(warehouse, digests, healthy, run_key=RUN_KEY, channel="email")
    assert result == AlertResult(sent=1, skipped=2, failed=0)
    assert len(handler.received) == 3


def test_outbox_writes_one_eml_per_digest(
    tmp_path: Path, warehouse: sa.Engine, digests: list[Digest]
) -> None:
    outbox = tmp_path / "outbox"
    transport = OutboxTransport(outbox, sender=SENDER)

    result = send_digests(warehouse, digests, transport, run_key=RUN_KEY, channel="outbox")
    for digest in digests:  # writing the same alert again overwrites its file
        transport.send(digest)

    assert result == AlertResult(sent=3, skipped=0, failed=0)
    files = sorted(path.name for path in outbox.iterdir())
    assert files == sorted(f"{digest.alert_id}.eml" for digest in digests)
    for digest in digests:
        raw = (outbox / f"{digest.alert_id}.eml").read_bytes()
        assert CARD.encode() not in raw
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        assert parsed["To"] == digest.recipient and parsed["Subject"] == digest.subject
        assert body(parsed, "plain") == digest.text_body
    assert {row[7] for row in alert_log(warehouse)} == {"outbox"}


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

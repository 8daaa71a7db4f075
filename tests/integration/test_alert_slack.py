"""Slack delivery through the slack provider's webhook hook against a real HTTP server on loopback.

A ``ThreadingHTTPServer`` stands in for Slack's incoming webhook: it records every request and
answers from a script (500s, a 429 with ``Retry-After``, a 400) before answering ``200 ok``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import free_port
from tests.webhook_server import TOKEN, Webhook, running_webhook
from zairyu_sync.alert import Digest
from zairyu_sync.errors import AlertError
from zairyu_sync.hooks.slack import SlackWebhookTransport

pytestmark = pytest.mark.integration

CONN_ID = "slack_alerts"
ENV = "AIRFLOW_CONN_SLACK_ALERTS"
CARD = "AB12345678CD"
BODY = (
    "在留資格の照合で、新たに対応が必要な事項が見つかりました（基準日 2026-11-25）。\n"
    "重大 1 件、警告 1 件\n\n"
    "[重大] 在留期間の超過\n  社員番号: E100\n  対応期限: 2026-12-01\n"
    "  内容: period of stay ended 2026-11-20\n\n"
    "[警告] 在留カード番号の相違\n  社員番号: E200\n  対応期限: なし\n"
    f"  内容: ERP card {CARD} differs from the card ISA issued\n\n"
    "レポート: https://reports.example/2026-11-25\n"
    "このメールは zairyu-sync が自動送信しています。\n\n"
    + "-"
    * 70
    + "\nEnglish\n\nNew residence status findings need action (as of 2026-11-25).\n"
    "1 critical, 1 warning\n\n"
    "[CRITICAL] Period of stay expired\n  Employee ID: E100\n  Due: 2026-12-01\n"
    "  Detail: period of stay ended 2026-11-20\n\n"
    "[WARNING] Card number out of date\n  Employee ID: E200\n  Due: none\n"
    f"  Detail: ERP card {CARD} differs from the card ISA issued\n\n"
    "Report: https://reports.example/2026-11-25\n"
    "This message was sent automatically by zairyu-sync.\n"
)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with running_webhook() as state:
        yield state


@pytest.fixture
def connection(webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> Webhook:
    """``slack_alerts`` as a JSON connection with the whole webhook URL in the password."""
    conn = {"conn_type": "slackwebhook", "password": webhook.url, "extra": {"timeout": 5}}
    monkeypatch.setenv(ENV, json.dumps(conn))
    return webhook


class Sleeps(list[float]):
    """A fake ``sleep`` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_digest(**values: Any) -> Digest:
    """A Digest with the keyword arguments of today's and tomorrow's signature."""
    if "channel" in {f.name for f in dataclasses.fields(Digest)}:
        values.setdefault("channel", "slack")
    values.setdefault("recipient", "hr-a@example.com")
    values.setdefault(
        "subject", "[zairyu-sync] 1 critical, 1 warning — residence status findings 2026-11-25"
    )
    values.setdefault("text_body", BODY)
    values.setdefault("html_body", f"<p>{CARD}</p>")
    values.setdefault("finding_ids", ("a1", "a2"))
    return Digest(**values)


def transport(sleeps: Sleeps, **options: Any) -> SlackWebhookTransport:
    options.setdefault("max_attempts", 4)
    options.setdefault("backoff_seconds", 0.5)
    return SlackWebhookTransport(CONN_ID, sleep=sleeps, **options)


def assert_secret_free(error: AlertError) -> None:
    message = str(error)
    assert TOKEN not in message
    assert "s3cr3t" not in message
    assert "/services/" not in message
    assert CARD not in message
    assert CONN_ID in message


def test_posts_blocks_and_fallback_text_with_card_numbers_masked(connection: Webhook) -> None:
    sleeps = Sleeps()

    transport(sleeps).send(make_digest())

    ((path, payload),) = connection.requests
    assert path == f"/services/{TOKEN}"
    assert sleeps == []
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == [
        "header",
        "section",
        "divider",
        "section",
        "section",
        "context",
    ]
    assert blocks[0]["text"]["text"] == (
        "[zairyu-sync] 1 critical, 1 warning — residence status findings 2026-11-25"
    )
    critical, warning = blocks[3]["text"]["text"], blocks[4]["text"]["text"]
    assert critical.startswith("[重大] 在留期間の超過\n  社員番号: E100")
    assert "[CRITICAL] Period of stay expired\n  Employee ID: E100" in critical
    assert "内容: ERP card AB******CD differs from the card ISA issued" in warning
    assert "Detail: ERP card AB******CD differs from the card ISA issued" in warning
    assert blocks[5]["elements"][1]["text"] == (
        "レポート / Report: <https://reports.example/2026-11-25>"
    )
    assert payload["text"].startswith("[zairyu-sync] 1 critical, 1 warning")
    assert "1 critical, 1 warning" in payload["text"]
    assert CARD not in json.dumps(payload, ensure_ascii=False)


def test_host_and_token_form_of_the_connection_reaches_a_loopback_http_endpoint(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {
        "conn_type": "slackwebhook",
        "schema": "http",
        "host": f"127.0.0.1:{webhook.port}/services",
        "password": TOKEN,
    }
    monkeypatch.setenv(ENV, json.dumps(conn))

    transport(Sleeps()).send(make_digest())

    assert [path for path, _ in webhook.requests] == [f"/services/{TOKEN}"]


def test_server_errors_are_retried_with_exponential_backoff_then_delivered(
    connection: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    connection.answer(500, times=2)
    connection.answer(503)
    sleeps = Sleeps()

    with caplog.at_level(logging.DEBUG):
        transport(sleeps).send(make_digest())

    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 3
    assert "HTTP 503" in retries[-1]
    assert not [r for r in caplog.records if "s3cr3t" in r.getMessage()]

    assert len(connection.requests) == 4
    assert all(payload == connection.requests[0][1] for _, payload in connection.requests)
    assert len(sleeps) == 3
    for attempt, waited in enumerate(sleeps):
        base = 0.5 * 2**attempt
        assert base <= waited <= base + 0.5  # exponential, plus jitter up to backoff_seconds


def test_rate_limit_waits_the_retry_after_seconds(connection: Webhook) -> None:
    connection.answer(429, body="rate_limited", Retry_After="7")
    sleeps = Sleeps()

    transport(sleeps).send(make_digest())

    assert len(connection.requests) == 2
    assert sleeps == [7.0]


def test_rate_limit_longer_than_a_task_should_wait_fails_at_once(connection: Webhook) -> None:
    connection.answer(429, body="rate_limited", Retry_After="3600")
    sleeps = Sleeps()

    with pytest.raises(AlertError, match="rate limited for 3600 s") as caught:
        transport(sleeps).send(make_digest())

    assert len(connection.requests) == 1
    assert sleeps == []
    assert_secret_free(caught.value)


def test_client_error_fails_without_retry(connection: Webhook) -> None:
    connection.answer(400, body="invalid_blocks")
    sleeps = Sleeps()

    with pytest.raises(AlertError, match="refused the message: HTTP 400 invalid_blocks") as caught:
        transport(sleeps).send(make_digest())

    assert len(connection.requests) == 1
    assert sleeps == []
    assert_secret_free(caught.value)


def test_exhausted_retries_raise_alert_error(connection: Webhook) -> None:
    connection.answer(500, times=10)
    sleeps = Sleeps()

    with pytest.raises(AlertError, match="failed after 3 attempts: HTTP 500") as caught:
        transport(sleeps, max_attempts=3).send(make_digest())

    assert len(connection.requests) == 3
    assert len(sleeps) == 2
    assert_secret_free(caught.value)


def test_connection_errors_are_retried_and_the_url_stays_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unused = f"http://127.0.0.1:{free_port()}/services/{TOKEN}"
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "slackwebhook", "password": unused}))
    sleeps = Sleeps()

    with pytest.raises(AlertError, match="failed after 3 attempts: URLError") as caught:
        transport(sleeps, max_attempts=3).send(make_digest())

    assert len(sleeps) == 2
    assert_secret_free(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # the socket error's traceback is not chained


def test_missing_connection_or_token_is_an_alert_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "slackwebhook", "host": "127.0.0.1"}))

    with pytest.raises(AlertError, match="'slack_alerts' is not usable"):
        transport(Sleeps()).send(make_digest())


def test_digest_target_names_the_owner_webhook_connection(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "target" not in {f.name for f in dataclasses.fields(Digest)}:
        pytest.skip("Digest has no target field")
    unused = f"http://127.0.0.1:{free_port()}/services/{TOKEN}"
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "slackwebhook", "password": unused}))
    owner = {"conn_type": "slackwebhook", "password": webhook.url}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_HR_A", json.dumps(owner))
    sleeps = Sleeps()

    transport(sleeps).send(make_digest(target="slack_hr_a"))

    assert len(webhook.requests) == 1
    assert sleeps == []

"""Alerts: delivery of planned :class:`Digest` messages, at most once each, and their log.

Planning (which alerts a run sends, routed and rendered per owner) is in
:mod:`zairyu_sync.alert_plan`. Delivery goes through a :class:`MailTransport` per channel
(:class:`SmtpTransport`, :class:`OutboxTransport`,
:class:`~zairyu_sync.hooks.smtp.AirflowSmtpTransport`, a Slack transport). :func:`send_digests`
records every digest in the warehouse's ``alert_log``: ``pending`` before the attempt, then
``delivered`` or ``failed``. A row found still ``pending`` means an earlier process died between
sending and logging: it is marked ``uncertain`` and not resent (at most once), for a human to
check (:func:`undelivered_alerts`).

Test hook: when the environment variable ``ZAIRYU_TEST_CRASH_AFTER_SEND`` is ``1``,
:func:`send_digests` ends the process with ``os._exit(137)`` right after the first successful
``transport.send`` and before the log update, to reproduce the crash window in tests. Never set
it anywhere else.
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import sqlalchemy as sa
import tenacity

from zairyu_sync.errors import AlertError
from zairyu_sync.pii import redact_card_numbers
from zairyu_sync.sqlfiles import sql_text

log = logging.getLogger(__name__)

#: RFC 5322 allows 998 characters a line; 100 keeps the 64-character alert id header unfolded.
_MAIL_POLICY = policy.default.clone(max_line_length=100)


@dataclass(frozen=True)
class Digest:
    """One alert message to one recipient over one channel.

    Attributes:
        recipient: the address it goes to (for Slack: the owner it is meant for).
        subject: the subject line (no personal data).
        text_body: the plain-text body.
        html_body: the HTML body (same content).
        finding_ids: the discrepancy ids it reports, in display order.
        kind: what the alert is about (``critical``, ``warning_digest``, ``expiry_reminder``,
            ``escalation``, ``resolved``; see :data:`zairyu_sync.alert_plan.KINDS`).
        channel: ``email`` or ``slack``.
        alert_keys: what the alert is about, for deduplication; empty means ``finding_ids``
            (reminders use ``employee|expiry|threshold``).
        target: a channel-specific destination, e.g. the owner's Slack connection id, or None.
        items: the structured content (masked only) for transports that render their own form.
    """

    recipient: str
    subject: str
    text_body: str
    html_body: str
    finding_ids: tuple[str, ...]
    kind: str = "critical"
    channel: str = "email"
    alert_keys: tuple[str, ...] = ()
    target: str | None = None
    items: tuple[Mapping[str, str], ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys the alert id is computed from."""
        return self.alert_keys or self.finding_ids

    @property
    def alert_id(self) -> str:
        """The run-independent id of this alert (see :func:`alert_id`)."""
        return alert_id(self.kind, self.recipient, self.keys, self.channel)


@dataclass(frozen=True)
class AlertResult:
    """How a :func:`send_digests` call went.

    Attributes:
        sent: digests delivered by this call.
        skipped: digests already delivered earlier (not sent again).
        failed: digests that could not be delivered (retried by the next call).
        uncertain: digests whose earlier attempt ended between sending and logging; not resent.
    """

    sent: int
    skipped: int
    failed: int
    uncertain: int = 0


class MailTransport(Protocol):
    """Something that delivers a :class:`Digest`; raises on failure."""

    def send(self, digest: Digest) -> None:
        """Deliver the digest or raise."""
        ...


#: Environment variable of the crash-window test hook (see the module docstring).
CRASH_AFTER_SEND_ENV = "ZAIRYU_TEST_CRASH_AFTER_SEND"
#: Key of the transport used for channels that have none of their own.
FALLBACK_TRANSPORT = "fallback"


def alert_id(kind: str, recipient: str, keys: Sequence[str], channel: str = "email") -> str:
    """A stable id for an alert: SHA-256 of kind, recipient, channel and the sorted keys.

    Args:
        kind: the alert kind.
        recipient: the recipient address (compared case-insensitively).
        keys: the finding ids (or reminder keys) the alert reports (order does not matter).
        channel: the delivery channel.

    Returns:
        64 hex characters.
    """
    parts = [kind, recipient.strip().lower(), ",".join(sorted(keys))]
    if channel != "email":  # e-mail ids stay those of logs written before channels existed
        parts.append(channel)
    key = "\x1f".join(parts)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def message_id(identity: str) -> str:
    """The e-mail ``Message-ID`` of an alert, derived from its id so relays can dedupe."""
    return f"<{identity}@zairyu-sync.local>"


def send_digests(
    engine: sa.Engine,
    digests: Sequence[Digest],
    transports: Mapping[str, MailTransport],
    *,
    run_key: str,
    fallback: MailTransport | None = None,
    max_tries: int = 3,
    backoff_seconds: float = 1.0,
    max_backoff_seconds: float = 30.0,
) -> AlertResult:
    """Deliver digests at most once each, recording every attempt in ``alert_log``.

    Per digest, by its ``alert_log`` status: ``delivered`` is skipped; ``uncertain`` is skipped
    and counted; ``pending`` (an earlier attempt died between send and log) becomes ``uncertain``
    and is not resent; otherwise (new or ``failed``) a ``pending`` row is committed, the
    transport of ``digest.channel`` sends it (retried with exponential backoff), and the row
    becomes ``delivered`` or ``failed`` with a PII-free reason. A channel without a transport uses
    ``fallback`` (e.g. the outbox) or is recorded ``failed``.

    Args:
        engine: the warehouse engine (migrations applied).
        digests: the digests to deliver.
        transports: channel name (or ``channel:target``) -> transport.
        run_key: the run the digests belong to.
        fallback: the transport for channels without one, or None.
        max_tries: attempts per digest within this call.
        backoff_seconds: first wait between attempts (doubling).
        max_backoff_seconds: the longest wait between attempts.

    Returns:
        The counts of sent, skipped, failed and uncertain digests.

    Raises:
        AlertError: the alert log could not be written, or at least one digest failed (after all
            the others were tried), so the task is retried.
    """
    sent = skipped = failed = uncertain = 0
    for digest in digests:
        identity = digest.alert_id
        status = _alert_status(engine, identity)
        if status == "delivered":
            skipped += 1
            continue
        if status in ("pending", "uncertain"):
            if status == "pending":
                _log_write(
                    engine,
                    "alert/mark_alert_uncertain.sql",
                    {
                        "alert_id": identity,
                        "error": "an earlier attempt ended between sending and logging; "
                        "check whether the recipient received it",
                    },
                )
            log.warning(
                "alert %s (%s to %s via %s) is uncertain: not resent, needs a human check",
                identity[:12],
                digest.kind,
                digest.recipient,
                digest.channel,
            )
            uncertain += 1
            continue
        transport, used = _transport_for(digest, transports, fallback)
        _log_write(
            engine,
            "alert/record_alert_intent.sql",
            {
                "alert_id": identity,
                "run_key": run_key,
                "kind": digest.kind,
                "recipient": digest.recipient,
                "channel": used,
                "finding_ids": ",".join(digest.finding_ids),
                "alert_key": "\n".join(sorted(digest.keys)),
                "subject": redact_card_numbers(digest.subject)[:500],
                "now": _utcnow(),
            },
        )
        try:
            if transport is None:
                raise AlertError(
                    f"no transport for channel {digest.channel!r} and no fallback configured"
                )
            _send_with_retry(transport, digest, max_tries, backoff_seconds, max_backoff_seconds)
        except Exception as exc:  # any transport failure is recorded, then the next digest goes
            failed += 1
            error = _error_text(exc)
            log.warning("alert %s failed: %s", identity[:12], error)
            _log_write(
                engine, "alert/mark_alert_failed.sql", {"alert_id": identity, "error": error}
            )
            continue
        if os.environ.get(CRASH_AFTER_SEND_ENV) == "1":  # test hook: the crash window
            os._exit(137)
        _log_write(
            engine, "alert/mark_alert_delivered.sql", {"alert_id": identity, "now": _utcnow()}
        )
        sent += 1
    result = AlertResult(sent=sent, skipped=skipped, failed=failed, uncertain=uncertain)
    log.info("alerts for %s: %s", run_key, result)
    if failed:
        raise AlertError(
            f"{failed} of {len(digests)} alerts for {run_key} could not be delivered; "
            "they stay in alert_log as failed and are retried by the next attempt"
        )
    return result


def undelivered_alerts(engine: sa.Engine) -> pd.DataFrame:
    """Alerts not known to be delivered (``pending``, ``failed``, ``uncertain``), for the report.

    Args:
        engine: the warehouse engine.

    Returns:
        Columns ``alert_id``, ``kind``, ``recipient``, ``channel``, ``status``, ``created_at``,
        ``error``; uncertain first, then failed, then pending, oldest first.

    Raises:
        AlertError: the query failed.
    """
    columns = ["alert_id", "kind", "recipient", "channel", "status", "created_at", "error"]
    try:
        with engine.connect() as conn:
            rows = conn.execute(sql_text("warehouse/alert/select_undelivered_alerts.sql")).all()
    except sa.exc.SQLAlchemyError as exc:
        raise AlertError(f"reading alert_log failed: {_error_text(exc)}") from exc
    return pd.DataFrame([tuple(row) for row in rows], columns=columns, dtype=object)


def alert_statuses(engine: sa.Engine, alert_ids: Sequence[str]) -> dict[str, str]:
    """The ``alert_log`` status of each of ``alert_ids`` that has a row."""
    if not alert_ids:
        return {}
    statement = sql_text("warehouse/alert/select_alert_statuses.sql").bindparams(
        sa.bindparam("alert_ids", expanding=True)
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(statement, {"alert_ids": list(alert_ids)}).all()
    except sa.exc.SQLAlchemyError as exc:
        raise AlertError(f"reading alert_log failed: {_error_text(exc)}") from exc
    return {str(row[0]): str(row[1]) for row in rows}


def _transport_for(
    digest: Digest, transports: Mapping[str, MailTransport], fallback: MailTransport | None
) -> tuple[MailTransport | None, str]:
    if digest.target:
        routed = transports.get(f"{digest.channel}:{digest.target}")
        if routed is not None:
            return routed, digest.channel
    transport = transports.get(digest.channel)
    if transport is not None:
        return transport, digest.channel
    if fallback is not None:
        log.info(
            "no %s transport; alert %s goes to the fallback", digest.channel, digest.alert_id[:12]
        )
        return fallback, f"{digest.channel}>{FALLBACK_TRANSPORT}"
    return None, digest.channel


def _send_with_retry(
    transport: MailTransport,
    digest: Digest,
    max_tries: int,
    backoff_seconds: float,
    max_backoff_seconds: float,
) -> None:
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, max_tries)),
        wait=tenacity.wait_exponential(multiplier=backoff_seconds, max=max_backoff_seconds),
        reraise=True,
        before_sleep=lambda state: log.info(
            "alert %s attempt %d failed; retrying", digest.alert_id[:12], state.attempt_number
        ),
    )
    for attempt in retrying:
        with attempt:
            transport.send(digest)


def build_message(digest: Digest, *, sender: str) -> EmailMessage:
    """The MIME message of a digest: multipart/alternative, plain text and HTML, UTF-8.

    Args:
        digest: the digest.
        sender: the From address.

    Returns:
        The message, with an ``X-Zairyu-Alert-Id`` header and a ``Message-ID`` derived from
        the alert id (the same alert always has the same Message-ID).
    """
    message = EmailMessage(policy=_MAIL_POLICY)
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = digest.recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(digest.alert_id)
    message["X-Zairyu-Alert-Id"] = digest.alert_id
    message.set_content(digest.text_body, subtype="plain", charset="utf-8")
    message.add_alternative(digest.html_body, subtype="html", charset="utf-8")
    return message


class SmtpTransport:
    """Deliver digests through an SMTP server with the standard library.

    Args:
        host: the SMTP host.
        port: the SMTP port.
        sender: the From address.
        username: login user, or None for no authentication.
        password: login password.
        starttls: upgrade the connection with STARTTLS before logging in.
        timeout: socket timeout in seconds.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self._username = username
        self._password = password
        self.starttls = starttls
        self.timeout = timeout

    def send(self, digest: Digest) -> None:
        """Send one digest; raises :class:`AlertError` when the server cannot be used."""
        message = build_message(digest, sender=self.sender)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                if self.starttls:
                    client.starttls()
                    client.ehlo()
                if self._username:
                    client.login(self._username, self._password or "")
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertError(
                f"SMTP delivery to {self.host}:{self.port} failed: {_error_text(exc)}"
            ) from exc


class OutboxTransport:
    """Write each digest as ``<alert id>.eml`` into a directory (demo, or a pickup directory).

    Args:
        directory: where the files go (created when missing).
        sender: the From address written into the files.
    """

    def __init__(self, directory: Path | str, sender: str = "zairyu-sync@localhost") -> None:
        self.directory = Path(directory)
        self.sender = sender

    def send(self, digest: Digest) -> None:
        """Write the digest's message; an existing file of the same alert is overwritten."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{digest.alert_id}.eml"
            tmp = path.with_suffix(".eml.tmp")
            tmp.write_bytes(bytes(build_message(digest, sender=self.sender)))
            tmp.replace(path)
        except OSError as exc:
            raise AlertError(f"writing to the outbox failed: {_error_text(exc)}") from exc


# --- alert log --------------------------------------------------------------------------------


def _alert_status(engine: sa.Engine, identity: str) -> str | None:
    try:
        with engine.connect() as conn:
            value = conn.execute(
                sql_text("warehouse/alert/select_alert_status.sql"),
                {"alert_id": identity},
            ).scalar_one_or_none()
    except sa.exc.SQLAlchemyError as exc:
        raise AlertError(f"reading alert_log failed: {_error_text(exc)}") from exc
    return None if value is None else str(value)


def _log_write(engine: sa.Engine, name: str, params: Mapping[str, Any]) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(sql_text(f"warehouse/{name}"), dict(params))
    except sa.exc.SQLAlchemyError as exc:
        raise AlertError(f"writing alert_log failed: {_error_text(exc)}") from exc


def _error_text(exc: BaseException) -> str:
    """A short, PII-free description of an error for logs and alert_log."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    first = lines[0] if lines else ""
    return redact_card_numbers(f"{type(original).__name__}: {first}"[:300])


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)

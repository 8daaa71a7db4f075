"""Alerts: one digest e-mail per compliance owner with the findings a run found first.

Rendering (:func:`build_digests`) is pure; delivery goes through a :class:`MailTransport`
(:class:`SmtpTransport`, :class:`OutboxTransport`, or the Airflow connection based transport in
:mod:`zairyu_sync.hooks.smtp`). :func:`send_digests` records every digest in the warehouse's
``alert_log`` before sending it, so a rerun never sends a delivered digest twice and a failed one
is retried by the next run.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

import jinja2
import pandas as pd
import sqlalchemy as sa

from zairyu_sync.errors import AlertError
from zairyu_sync.pii import redact_card_numbers
from zairyu_sync.sqlfiles import sql_text

log = logging.getLogger(__name__)

#: The kind of the digest of a run's new findings (later kinds: reminders, escalations).
NEW_FINDINGS_KIND = "new_findings"
#: Severities a new-findings digest carries, most urgent first.
DIGEST_SEVERITIES = ("critical", "warning")

_SEVERITY_LABELS = {
    "critical": ("CRITICAL", "重大"),
    "warning": ("WARNING", "警告"),
    "info": ("INFO", "情報"),
}
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

#: RFC 5322 allows 998 characters a line; 100 keeps the 64-character alert id header unfolded.
_MAIL_POLICY = policy.default.clone(max_line_length=100)

_TEXT_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("zairyu_sync", "templates"),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_HTML_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("zairyu_sync", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Digest:
    """One alert message to one recipient.

    Attributes:
        recipient: the e-mail address it goes to.
        subject: the subject line.
        text_body: the plain-text body (Japanese, then English).
        html_body: the HTML body (same content).
        finding_ids: the discrepancy ids it reports, in display order.
        kind: what the alert is about, e.g. ``new_findings``.
    """

    recipient: str
    subject: str
    text_body: str
    html_body: str
    finding_ids: tuple[str, ...]
    kind: str = NEW_FINDINGS_KIND

    @property
    def alert_id(self) -> str:
        """The run-independent id of this alert (see :func:`alert_id`)."""
        return alert_id(self.kind, self.recipient, self.finding_ids)


@dataclass(frozen=True)
class AlertResult:
    """How a :func:`send_digests` call went.

    Attributes:
        sent: digests delivered by this call.
        skipped: digests already delivered earlier (not sent again).
        failed: digests the transport could not deliver.
    """

    sent: int
    skipped: int
    failed: int


class MailTransport(Protocol):
    """Something that delivers a :class:`Digest`; raises on failure."""

    def send(self, digest: Digest) -> None:
        """Deliver the digest or raise."""
        ...


def alert_id(kind: str, recipient: str, finding_ids: Sequence[str]) -> str:
    """A stable id for an alert: SHA-256 of kind, recipient and the sorted finding ids.

    Args:
        kind: the alert kind.
        recipient: the recipient address (compared case-insensitively).
        finding_ids: the discrepancy ids the alert reports (order does not matter).

    Returns:
        64 hex characters.
    """
    key = "\x1f".join([kind, recipient.strip().lower(), ",".join(sorted(finding_ids))])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def build_digests(
    findings: pd.DataFrame,
    *,
    rule_titles: Mapping[str, tuple[str, str]],
    run_label: str,
    report_link: str | None,
    fallback_owner: str,
) -> list[Digest]:
    """Render one digest per compliance owner of the new critical and warning findings.

    Findings without an owner go to ``fallback_owner`` (never dropped). Each digest lists critical
    findings first, then by due date (undated last), rule and employee id. Every rendered text
    passes through :func:`~zairyu_sync.pii.redact_card_numbers`.

    Args:
        findings: rows with ``discrepancy_id``, ``employee_id``, ``compliance_owner``,
            ``rule_code``, ``severity``, ``due_date``, ``receipt_number``, ``detail``.
        rule_titles: rule code -> (English title, Japanese title); unknown codes show the code.
        run_label: how the run is named in the text, usually its as-of date.
        report_link: a link to the run's report, or None.
        fallback_owner: the address for findings without a compliance owner.

    Returns:
        The digests ordered by recipient; empty when there is nothing to report.

    Raises:
        AlertError: the frame lacks a column or no fallback owner is given.
    """
    required = ("discrepancy_id", "employee_id", "compliance_owner", "rule_code", "severity")
    missing = [column for column in required if column not in findings.columns]
    if missing:
        raise AlertError(f"findings frame lacks columns: {missing}")
    if not fallback_owner or not fallback_owner.strip():
        raise AlertError("a fallback owner address is required")
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for raw in findings.to_dict(orient="records"):
        record = {str(key): value for key, value in raw.items()}
        item = _finding_view(record, rule_titles)
        if item["severity"] not in DIGEST_SEVERITIES:
            continue
        owner = _text(record.get("compliance_owner")) or fallback_owner.strip()
        by_owner.setdefault(owner, []).append(item)
    digests = [
        _render(owner, sorted(items, key=_display_order), run_label, report_link)
        for owner, items in sorted(by_owner.items())
    ]
    log.info(
        "built %d digests for %d findings", len(digests), sum(len(d.finding_ids) for d in digests)
    )
    return digests


def send_digests(
    engine: sa.Engine,
    digests: Sequence[Digest],
    transport: MailTransport,
    *,
    run_key: str,
    channel: str,
) -> AlertResult:
    """Deliver digests at most once each, recording every attempt in ``alert_log``.

    For each digest: skip it when its alert id is already ``delivered``; otherwise commit a
    ``pending`` row, send, and mark it ``delivered`` (or ``failed`` with the error). A crash between
    sending and marking leaves ``pending``, which the next call retries (at-least-once delivery).

    Args:
        engine: the warehouse engine (migrations applied).
        digests: the digests to deliver.
        transport: how to deliver them.
        run_key: the run the digests belong to.
        channel: the delivery channel name recorded in the log (``email``, ``outbox``, ...).

    Returns:
        The counts of sent, skipped and failed digests.

    Raises:
        AlertError: the alert log could not be written, or at least one digest failed (after all
            the others were tried).
    """
    sent = skipped = failed = 0
    for digest in digests:
        identity = digest.alert_id
        if _alert_status(engine, identity) == "delivered":
            skipped += 1
            continue
        _log_write(
            engine,
            "alert/record_alert_intent.sql",
            {
                "alert_id": identity,
                "run_key": run_key,
                "kind": digest.kind,
                "recipient": digest.recipient,
                "channel": channel,
                "finding_ids": ",".join(digest.finding_ids),
                "now": _utcnow(),
            },
        )
        try:
            transport.send(digest)
        except Exception as exc:  # any transport failure is recorded, then the next digest goes
            failed += 1
            error = _error_text(exc)
            log.warning("alert %s failed: %s", identity[:12], error)
            _log_write(
                engine, "alert/mark_alert_failed.sql", {"alert_id": identity, "error": error}
            )
            continue
        _log_write(
            engine, "alert/mark_alert_delivered.sql", {"alert_id": identity, "now": _utcnow()}
        )
        sent += 1
    result = AlertResult(sent=sent, skipped=skipped, failed=failed)
    log.info("alerts for %s via %s: %s", run_key, channel, result)
    if failed:
        raise AlertError(
            f"{failed} of {len(digests)} alerts for {run_key} could not be delivered via "
            f"{channel}; they stay in alert_log and are retried by the next run"
        )
    return result


def build_message(digest: Digest, *, sender: str) -> EmailMessage:
    """The MIME message of a digest: multipart/alternative, plain text and HTML, UTF-8.

    Args:
        digest: the digest.
        sender: the From address.

    Returns:
        The message, with an ``X-Zairyu-Alert-Id`` header.
    """
    message = EmailMessage(policy=_MAIL_POLICY)
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = digest.recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=digest.alert_id[:16], domain="zairyu-sync.local")
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


# --- rendering --------------------------------------------------------------------------------


def _finding_view(
    record: Mapping[str, Any], rule_titles: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    rule_code = _text(record.get("rule_code")) or "UNKNOWN"
    severity = (_text(record.get("severity")) or "info").lower()
    title_en, title_ja = rule_titles.get(rule_code, (rule_code, rule_code))
    due = _due_date(record.get("due_date"))
    severity_en, severity_ja = _SEVERITY_LABELS.get(severity, (severity.upper(), severity))
    return {
        "discrepancy_id": _text(record.get("discrepancy_id")) or "",
        "employee_id": redact_card_numbers(_text(record.get("employee_id")) or "—"),
        "rule_code": rule_code,
        "severity": severity,
        "severity_en": severity_en,
        "severity_ja": severity_ja,
        "title_en": redact_card_numbers(title_en),
        "title_ja": redact_card_numbers(title_ja),
        "due": due,
        "due_en": due.isoformat() if due else "none",
        "due_ja": due.isoformat() if due else "なし",
        "receipt_number": redact_card_numbers(_text(record.get("receipt_number")) or ""),
        "detail": redact_card_numbers(_text(record.get("detail")) or ""),
    }


def _display_order(item: Mapping[str, Any]) -> tuple[int, int, date, str, str, str]:
    due: date | None = item["due"]
    return (
        _SEVERITY_RANK.get(item["severity"], 9),
        0 if due else 1,
        due or date.max,
        item["rule_code"],
        item["employee_id"],
        item["discrepancy_id"],
    )


def _render(
    owner: str, findings: list[dict[str, Any]], run_label: str, report_link: str | None
) -> Digest:
    counts = {severity: 0 for severity in DIGEST_SEVERITIES}
    for item in findings:
        counts[item["severity"]] += 1
    subject = redact_card_numbers(
        f"[zairyu-sync] {counts['critical']} critical, {counts['warning']} warning"
        f" — residence status findings {run_label}"
    )
    link = (report_link or "").strip() or None
    context = {
        "subject": subject,
        "run_label": run_label,
        "counts": counts,
        "findings": findings,
        "report_link": link,
        "report_href": link if link and link.lower().startswith(("https://", "http://")) else None,
    }
    text_body = _TEXT_ENV.get_template("alert_digest.txt.j2").render(context)
    html_body = _HTML_ENV.get_template("alert_digest.html.j2").render(context)
    return Digest(
        recipient=owner,
        subject=subject,
        text_body=redact_card_numbers(text_body),
        html_body=redact_card_numbers(html_body),
        finding_ids=tuple(item["discrepancy_id"] for item in findings),
        kind=NEW_FINDINGS_KIND,
    )


def _text(value: object) -> str | None:
    if value is None or value is pd.NaT:
        return None
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    return text or None


def _due_date(value: object) -> date | None:
    if _text(value) is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


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

"""Alert delivery through an Airflow SMTP connection (the smtp provider's ``SmtpHook``).

The connection (default ``smtp_default``) is the provider's: ``host``, ``port``, ``login``,
``password`` and the extras ``disable_tls``, ``disable_ssl``, ``timeout``, ``retry_limit``,
``from_email``. The hook is imported and the connection read only when a digest is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from zairyu_sync.config import SMTP_CONN_ID
from zairyu_sync.errors import AlertError

if TYPE_CHECKING:
    from zairyu_sync.alert import Digest

log = logging.getLogger(__name__)


class AirflowSmtpTransport:
    """A :class:`~zairyu_sync.alert.MailTransport` over an Airflow SMTP connection.

    The provider's hook opens the connection (TLS, auth, retries, timeout from the connection);
    the message is the project's own multipart/alternative one (plain text and HTML), since the
    hook's ``send_email_smtp`` has no plain-text part.

    Args:
        conn_id: the Airflow SMTP connection id.
        sender: the From address.
    """

    def __init__(self, conn_id: str = SMTP_CONN_ID, *, sender: str) -> None:
        self.conn_id = conn_id
        self.sender = sender

    def send(self, digest: Digest) -> None:
        """Send one digest through the connection; raises :class:`AlertError` on failure."""
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        from zairyu_sync.alert import build_message

        message = build_message(digest, sender=self.sender)
        try:
            with SmtpHook(smtp_conn_id=self.conn_id) as hook:
                # The hook keeps its authenticated smtplib client private; the pinned provider
                # version is exercised by tests/integration/test_alert_smtp.py.
                client = getattr(hook, "_smtp_client", None)
                if client is None:
                    raise AlertError(f"SMTP connection {self.conn_id!r} did not open")
                client.send_message(message)
        except Exception as exc:  # the provider raises AirflowException, smtplib and OS errors
            lines = str(exc).strip().splitlines()
            first = lines[0][:200] if lines else ""
            raise AlertError(
                f"SMTP delivery via connection {self.conn_id!r} failed: "
                f"{type(exc).__name__}: {first}"
            ) from exc
        log.info("sent alert %s via connection %s", digest.alert_id[:12], self.conn_id)

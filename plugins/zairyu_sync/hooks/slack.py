"""Alert delivery to a Slack channel through an incoming webhook (the slack provider's hook).

The connection (default ``slack_alerts``, type ``slackwebhook``) is the provider's: either the
whole webhook URL in ``password``, or ``host`` (the endpoint, e.g. ``hooks.slack.com/services``,
with ``schema`` defaulting to ``https``) plus the token path in ``password``; ``extra.timeout`` and
``extra.proxy`` are honoured. The webhook URL is a secret: it appears in no log line or error of
this module. The hook is imported and the connection read only when a digest is sent.

Delivery is retried with exponential backoff and jitter on 429 (waiting ``Retry-After`` when the
server sends it), on 5xx and on connection errors; other answers fail at once. Failures raise
:class:`~zairyu_sync.errors.AlertError`, which :func:`~zairyu_sync.alert.send_digests` records in
``alert_log`` so the next run retries the digest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from zairyu_sync.errors import AlertError
from zairyu_sync.pii import redact_card_numbers
from zairyu_sync.slack_format import digest_payload

if TYPE_CHECKING:
    from zairyu_sync.alert import Digest

log = logging.getLogger(__name__)

#: Default Airflow connection id of the Slack incoming webhook.
SLACK_CONN_ID = "slack_alerts"
#: A ``Retry-After`` longer than this is not waited for inside a task: the digest fails and stays
#: in ``alert_log`` for the next run.
MAX_RETRY_AFTER_SECONDS = 60.0
#: Upper bound of one exponential backoff wait.
MAX_BACKOFF_SECONDS = 30.0

# The webhook client logs the URL (a secret) in its debug lines; give it a logger that never
# formats them. Its error lines carry only the socket error.
_CLIENT_LOG = logging.getLogger(f"{__name__}.client")
_CLIENT_LOG.setLevel(logging.INFO)


class _RetryableDelivery(Exception):
    """A delivery attempt that may succeed later (429, 5xx, connection error)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class SlackWebhookTransport:
    """A :class:`~zairyu_sync.alert.MailTransport` posting digests to a Slack incoming webhook.

    Args:
        conn_id: the Airflow connection of type ``slackwebhook``; a digest whose ``target`` names
            another connection (an owner's own webhook) is posted there instead.
        max_attempts: attempts per digest, the first included.
        backoff_seconds: the first backoff wait; it doubles per attempt (plus up to the same
            amount of random jitter, at most :data:`MAX_BACKOFF_SECONDS`).
        sleep: how to wait between attempts (tests pass a recorder).
    """

    def __init__(
        self,
        conn_id: str = SLACK_CONN_ID,
        *,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.conn_id = conn_id
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    def send(self, digest: Digest) -> None:
        """Post one digest as Block Kit blocks with a text fallback.

        Args:
            digest: the digest to deliver.

        Raises:
            AlertError: the connection is unusable, Slack refused the message (4xx other than
                429), a ``Retry-After`` exceeded :data:`MAX_RETRY_AFTER_SECONDS`, or the retries
                were exhausted. The message names the connection id, never the webhook URL.
        """
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        conn_id: str = getattr(digest, "target", None) or self.conn_id
        payload = digest_payload(digest)
        # retry_handlers=[]: the client's own retries would sleep outside the backoff below.
        hook = SlackWebhookHook(
            slack_webhook_conn_id=conn_id, retry_handlers=[], logger=_CLIENT_LOG
        )
        try:
            client = hook.get_conn()
        except Exception as exc:  # the provider raises AirflowNotFoundException and others
            raise AlertError(
                f"Slack connection {conn_id!r} is not usable: {type(exc).__name__}"
            ) from None
        secrets = _secrets(str(client.url))

        def attempt() -> None:
            try:
                response = client.send_dict(payload)
            except OSError as exc:  # URLError, timeouts, refused connections
                raise _RetryableDelivery(_describe(exc, secrets)) from None
            status = int(response.status_code)
            if 200 <= status < 300:
                return
            body = _scrub(str(response.body or ""), secrets)[:100]
            if status == 429:
                retry_after = _retry_after(response.headers)
                if retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
                    raise AlertError(
                        f"Slack webhook {conn_id!r} is rate limited for {retry_after:.0f} s;"
                        " the digest is retried by the next run"
                    )
                raise _RetryableDelivery(f"HTTP 429 {body}".strip(), retry_after)
            if status >= 500:
                raise _RetryableDelivery(f"HTTP {status} {body}".strip())
            raise AlertError(
                f"Slack webhook {conn_id!r} refused the message: HTTP {status} {body}".strip()
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_RetryableDelivery),
            sleep=self._sleep,
            before_sleep=lambda state: _log_retry(conn_id, state),
            reraise=True,
        )
        try:
            retrying(attempt)
        except _RetryableDelivery as exc:
            raise AlertError(
                f"Slack webhook {conn_id!r} failed after {self.max_attempts} attempts: {exc.reason}"
            ) from None
        except AlertError:
            raise
        except Exception as exc:  # anything else the client raises, without the URL in it
            raise AlertError(
                f"Slack webhook {conn_id!r} failed: {_describe(exc, secrets)}"
            ) from None
        log.info(
            "sent alert %s via Slack connection %s (%d blocks)",
            digest.alert_id[:12],
            conn_id,
            len(payload["blocks"]),
        )

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when a 429 carried one, else exponential backoff with jitter."""
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RetryableDelivery) and error.retry_after is not None:
            return error.retry_after
        backoff = wait_exponential_jitter(
            initial=self.backoff_seconds,
            max=MAX_BACKOFF_SECONDS,
            jitter=self.backoff_seconds,
        )
        return float(backoff(state))


def _log_retry(conn_id: str, state: RetryCallState) -> None:
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    reason = error.reason if isinstance(error, _RetryableDelivery) else "error"
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning(
        "Slack webhook %s attempt %d failed (%s); retrying in %.1f s",
        conn_id,
        state.attempt_number,
        reason,
        wait,
    )


def _retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    value = None
    for key, item in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            value = item[0] if isinstance(item, list) and item else item
            break
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _secrets(url: str) -> list[str]:
    """The webhook URL and its path (the token), longest first, for scrubbing."""
    values = [url]
    if "://" in url:
        _, _, rest = url.partition("://")
        _, slash, path = rest.partition("/")
        if slash and path:
            values.append(path)
    return sorted({value for value in values if len(value) >= 4}, key=len, reverse=True)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return redact_card_numbers(" ".join(text.split()))


def _describe(exc: BaseException, secrets: Iterable[str]) -> str:
    reason = getattr(exc, "reason", None)
    detail = str(reason if reason is not None else exc)
    return _scrub(f"{type(exc).__name__}: {detail}", secrets)[:200]

"""Build the pipeline's resources from Airflow connections (used only inside tasks).

* ``erp_db``: any SQL connection with a provider hook (``sqlite``, ``postgres``, ...), or an
  ``extra`` key ``sqlalchemy_url``.
* ``warehouse``: ``duckdb`` (host = database file), ``postgres``, or ``extra.sqlalchemy_url``.
* ``immigration_api``: see :class:`zairyu_sync.hooks.immigration_api.ImmigrationApiHook`.
* ``smtp_default`` (smtp provider) and ``slack_alerts`` (slack provider's incoming webhook): the
  alert channels; a channel that is not configured goes to an outbox directory instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from zairyu_sync.alert import MailTransport, OutboxTransport
from zairyu_sync.config import SMTP_CONN_ID, run_root
from zairyu_sync.errors import ConfigError
from zairyu_sync.load import warehouse_engine

if TYPE_CHECKING:
    from zairyu_sync.routing import AlertRouting

log = logging.getLogger(__name__)

#: Sender address of alert e-mails; override with ZAIRYU_ALERT_SENDER.
DEFAULT_SENDER = "zairyu-sync@localhost"
#: libpq connection parameters honoured from a postgres connection's extra.
_LIBPQ_PARAMETERS = frozenset(
    {
        "options",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "application_name",
        "connect_timeout",
    }
)


def engine_for_connection(conn_id: str) -> sa.Engine:
    """A SQLAlchemy engine for an Airflow connection, via the provider hook where there is one."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    url = conn.extra_dejson.get("sqlalchemy_url")
    if url:
        return warehouse_engine(str(url))
    if conn.conn_type == "duckdb":
        if not conn.host:
            raise ConfigError(f"connection {conn_id!r}: duckdb needs the database file as host")
        return warehouse_engine(f"duckdb:///{conn.host}")
    try:
        hook = conn.get_hook()  # type: ignore[no-untyped-call]
    except Exception as exc:  # the SDK raises AirflowException for types without a provider
        raise ConfigError(
            f"connection {conn_id!r} of type {conn.conn_type!r} is not a SQL connection"
        ) from exc
    if not isinstance(hook, DbApiHook):
        raise ConfigError(
            f"connection {conn_id!r} of type {conn.conn_type!r} is not a SQL connection"
        )
    engine_kwargs: dict[str, object] = {}
    if conn.conn_type == "postgres":
        # The provider's SQLAlchemy URL drops libpq parameters kept in extra (search_path, TLS).
        libpq = {k: v for k, v in conn.extra_dejson.items() if k in _LIBPQ_PARAMETERS}
        if libpq:
            engine_kwargs["connect_args"] = libpq
    engine: sa.Engine = hook.get_sqlalchemy_engine(engine_kwargs=engine_kwargs or None)
    return engine


def _connection_exists(conn_id: str) -> bool:
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - any lookup failure means "not configured"
        return False
    return True


def alert_transports(
    routing: AlertRouting,
) -> tuple[dict[str, MailTransport], MailTransport]:
    """The alert transports by channel, and the outbox fallback for channels not configured.

    * ``email``: the smtp provider's ``smtp_default`` connection, when it exists;
    * ``slack``: the ``slack_alerts`` incoming-webhook connection, when it exists; an owner's own
      ``slack_conn_id`` (routing) is registered as ``slack:<conn id>`` when that connection exists;
    * fallback: ``.eml``/message files in ``ZAIRYU_OUTBOX_DIR`` (default ``<run root>/../outbox``),
      so an alert is never lost for want of a channel.
    """
    from zairyu_sync.hooks.slack import SLACK_CONN_ID, SlackWebhookTransport

    transports: dict[str, MailTransport] = {}
    if _connection_exists(SMTP_CONN_ID):
        from zairyu_sync.hooks.smtp import AirflowSmtpTransport

        sender = os.environ.get("ZAIRYU_ALERT_SENDER", DEFAULT_SENDER)
        transports["email"] = AirflowSmtpTransport(conn_id=SMTP_CONN_ID, sender=sender)
    if _connection_exists(SLACK_CONN_ID):
        transports["slack"] = SlackWebhookTransport(SLACK_CONN_ID)
    for route in routing.owners.values():
        conn_id = route.slack_conn_id
        if conn_id and f"slack:{conn_id}" not in transports and _connection_exists(conn_id):
            transports[f"slack:{conn_id}"] = SlackWebhookTransport(conn_id)
    outbox = Path(os.environ.get("ZAIRYU_OUTBOX_DIR") or run_root().parent / "outbox")
    log.info("alert channels: %s; others go to the outbox", sorted(transports) or "none")
    return transports, OutboxTransport(outbox)

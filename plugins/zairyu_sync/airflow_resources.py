"""Build the pipeline's resources from Airflow connections (used only inside tasks).

* ``erp_db``: any SQL connection with a provider hook (``sqlite``, ``postgres``, ...), or an
  ``extra`` key ``sqlalchemy_url``.
* ``warehouse``: ``duckdb`` (host = database file), ``postgres``, or ``extra.sqlalchemy_url``.
* ``immigration_api``: see :class:`zairyu_sync.hooks.immigration_api.ImmigrationApiHook`.
* ``smtp_default``: the smtp provider's connection; when it is not defined, alerts go to an outbox
  directory as ``.eml`` files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa

from zairyu_sync.alert import MailTransport, OutboxTransport
from zairyu_sync.config import SMTP_CONN_ID, run_root
from zairyu_sync.errors import ConfigError
from zairyu_sync.load import warehouse_engine

log = logging.getLogger(__name__)

#: Sender address of alert e-mails; override with ZAIRYU_ALERT_SENDER.
DEFAULT_SENDER = "zairyu-sync@localhost"
#: Owner who receives findings whose employee has no compliance owner; ZAIRYU_FALLBACK_OWNER.
DEFAULT_FALLBACK_OWNER = "compliance@localhost"
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


def mail_transport() -> tuple[MailTransport, str]:
    """The SMTP transport when ``smtp_default`` exists, else an outbox; with its channel name."""
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(SMTP_CONN_ID)
    except Exception:  # noqa: BLE001 - any lookup failure means "not configured"
        outbox = Path(os.environ.get("ZAIRYU_OUTBOX_DIR") or run_root().parent / "outbox")
        log.info("no %s connection; alerts go to the outbox directory", SMTP_CONN_ID)
        return OutboxTransport(outbox), "outbox"
    from zairyu_sync.hooks.smtp import AirflowSmtpTransport

    sender = os.environ.get("ZAIRYU_ALERT_SENDER", DEFAULT_SENDER)
    return AirflowSmtpTransport(conn_id=SMTP_CONN_ID, sender=sender), "email"


def fallback_owner() -> str:
    """The organization-level owner for findings without one."""
    return os.environ.get("ZAIRYU_FALLBACK_OWNER", DEFAULT_FALLBACK_OWNER)

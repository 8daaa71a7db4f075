"""Airflow hook for the ISA status API (the project's assumed contract, or its simulator).

Connection ``immigration_api`` (type ``http``):

* ``host`` -- base URL, e.g. ``http://127.0.0.1:8765``. When it has no scheme the URL is built
  as ``{schema or "http"}://{host}[:{port}]``; a ``port`` is also added to a full URL without one.
* ``login`` -- client id; ``password`` -- client secret (both required).
* ``extra`` (JSON, all optional) -- ``timeout`` (seconds, default 10), ``page_size`` (1..500,
  default 100), ``max_attempts`` (default 5), ``max_backoff_seconds`` (default 30),
  ``backoff_initial_seconds`` (default 0.5), ``max_requests_per_second`` (client-side rate
  limit, default 20), ``circuit_breaker_threshold`` (consecutive failed attempts before the
  run fails, default 10), ``max_total_seconds`` (failure deadline, default 600),
  ``max_concurrency`` (receipt-number lookups in flight at once, default 8) and
  ``rate_limit_burst`` (burst of the client's rate limiter, default one second's worth; keep it
  below the API's own burst when ``max_requests_per_second`` equals the API's limit).

Example::

    AIRFLOW_CONN_IMMIGRATION_API='{"conn_type": "http", "host": "http://127.0.0.1:8765",
        "login": "demo", "password": "...", "extra": {"page_size": 200}}'
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from airflow.sdk import BaseHook

from zairyu_sync.config import IMMIGRATION_API_CONN_ID
from zairyu_sync.errors import ConfigError, ZairyuSyncError
from zairyu_sync.immigration.client import HttpImmigrationClient

log = logging.getLogger(__name__)

_FLOAT_EXTRAS = (
    "timeout",
    "max_backoff_seconds",
    "backoff_initial_seconds",
    "max_requests_per_second",
    "max_total_seconds",
    "rate_limit_burst",
)
_INT_EXTRAS = (
    "page_size",
    "max_attempts",
    "circuit_breaker_threshold",
    "max_concurrency",
    "listing_ranges",  # 1 for an API without `updated_before` (ADR 0009)
)


class ImmigrationApiHook(BaseHook):
    """Builds an :class:`HttpImmigrationClient` from an Airflow connection (lazily, cached).

    Args:
        immigration_api_conn_id: the connection id (default ``immigration_api``).
        transport: an httpx transport for the client (tests).
    """

    conn_name_attr = "immigration_api_conn_id"
    default_conn_name = IMMIGRATION_API_CONN_ID
    conn_type = "http"
    hook_name = "ISA status API"

    def __init__(
        self,
        immigration_api_conn_id: str = default_conn_name,
        *,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.immigration_api_conn_id = immigration_api_conn_id
        self._transport = transport
        self._client: HttpImmigrationClient | None = None

    def get_conn(self) -> HttpImmigrationClient:
        """The client for this connection, built on first use and reused until closed.

        Raises:
            ConfigError: host, client id or client secret missing, or a malformed extra.
        """
        if self._client is None or self._client.closed:
            self._client = self._build_client()
        return self._client

    def test_connection(self) -> tuple[bool, str]:
        """Log in with the connection's credentials; returns (ok, message)."""
        try:
            with self._build_client() as client:
                client.authenticate()
                base_url = client.base_url
        except ZairyuSyncError as exc:
            return False, str(exc)
        return True, f"Logged in to the ISA status API at {base_url}"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: relabel fields for the API's client credentials."""
        return {
            "hidden_fields": [],
            "relabeling": {
                "host": "Base URL",
                "schema": "Scheme (when Base URL has none)",
                "login": "Client ID",
                "password": "Client secret",
            },
            "placeholders": {
                "host": "https://isa-status.example.jp",
                "schema": "https",
                "login": "organization client id",
                "password": "organization client secret",
                "extra": '{"timeout": 10, "page_size": 100, "max_requests_per_second": 20}',
            },
        }

    def _build_client(self) -> HttpImmigrationClient:
        conn = self.get_connection(self.immigration_api_conn_id)
        conn_id = self.immigration_api_conn_id
        if not conn.host:
            raise ConfigError(f"connection {conn_id!r}: host (the API base URL) is missing")
        if not conn.login:
            raise ConfigError(f"connection {conn_id!r}: login (the client id) is missing")
        if not conn.password:
            raise ConfigError(f"connection {conn_id!r}: password (the client secret) is missing")
        base_url = base_url_from_parts(conn.host, schema=conn.schema, port=conn.port)
        options = _client_options(conn.extra_dejson, conn_id)
        log.info("ISA status API client for %s (connection %s)", base_url, conn_id)
        return HttpImmigrationClient(
            base_url, conn.login, conn.password, transport=self._transport, **options
        )


def base_url_from_parts(host: str, *, schema: str | None = None, port: int | None = None) -> str:
    """The API base URL from a connection's ``host``, ``schema`` and ``port`` fields.

    Args:
        host: a full URL (``http://h:1/prefix``) or a bare host name.
        schema: the scheme to use when ``host`` has none (default ``http``).
        port: added when the URL has no port of its own.

    Returns:
        The base URL without a trailing slash.
    """
    text = host.strip().rstrip("/")
    if "://" not in text:
        text = f"{(schema or 'http').strip() or 'http'}://{text}"
    url = httpx.URL(text)
    if port and url.port is None:
        url = url.copy_with(port=int(port))
    return str(url).rstrip("/")


def _client_options(extra: dict[str, Any], conn_id: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name in (*_FLOAT_EXTRAS, *_INT_EXTRAS):
        raw = extra.get(name)
        if raw is None or raw == "":
            continue
        try:
            if name in _INT_EXTRAS:
                value: float = int(str(raw))
            else:
                value = float(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"connection {conn_id!r}: extra {name!r} must be a number, got {raw!r}"
            ) from exc
        options[name] = value
    return options

"""The console script and the Airflow-connection resources, against real local services."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.integration

CONSOLE_SCRIPT = Path(sys.executable).with_name("zairyu-sync")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [str(CONSOLE_SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_seed_writes_the_sample_erp_and_the_isa_seed(tmp_path: Path) -> None:
    done = _cli("seed", "--employees", "60", "--as-of", "2026-11-25", "--demo-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'erp.sqlite'}")
    try:
        with engine.connect() as conn:
            foreign = conn.exec_driver_sql(
                "SELECT count(*) FROM hr_employee WHERE nationality <> 'JPN'"
            ).scalar_one()
    finally:
        engine.dispose()
    assert foreign == 60
    seed = json.loads((tmp_path / "isa_seed.json").read_text(encoding="utf-8"))
    assert set(seed) == {"organization_applications", "personal_applications"}
    assert seed["organization_applications"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("seed", "--employees", "5"), "cannot generate the sample"),
        (("seed", "--as-of", "25/11/2026"), "not a YYYY-MM-DD date"),
    ],
)
def test_unusable_arguments_fail_with_one_clear_line(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = _cli(*args, "--demo-dir", str(tmp_path))
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_sql_connections_become_engines(
    tmp_path: Path, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.airflow_resources import engine_for_connection

    url = sa.make_url(POSTGRES_URL)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZS_PG",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": url.host,
                "port": url.port,
                "login": url.username,
                "schema": url.database,
                "extra": {"options": f"-csearch_path={pg_schema}"},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZS_SQLITE",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "e.db")}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZS_DUCK",
        json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "w.duckdb")}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_ZS_HTTP", json.dumps({"conn_type": "http", "host": "x"}))

    engine = engine_for_connection("zs_pg")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT current_schema()").scalar_one() == pg_schema
    engine.dispose()
    for conn_id, dialect in (("zs_sqlite", "sqlite"), ("zs_duck", "duckdb")):
        engine = engine_for_connection(conn_id)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        assert engine.dialect.name == dialect
        engine.dispose()
    assert (tmp_path / "e.db").exists() and (tmp_path / "w.duckdb").exists()

    from zairyu_sync.errors import ConfigError

    with pytest.raises(ConfigError, match="not a SQL connection"):
        engine_for_connection("zs_http")


def test_alert_channels_come_from_connections_and_fall_back_to_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.airflow_resources import alert_transports
    from zairyu_sync.alert import OutboxTransport
    from zairyu_sync.hooks.slack import SlackWebhookTransport
    from zairyu_sync.hooks.smtp import AirflowSmtpTransport
    from zairyu_sync.routing import load_routing

    routing = load_routing(
        "fallback_owner: c@example.co.jp\nescalation_contact: l@example.co.jp\nowners:\n"
        "  hr@example.co.jp: {channels: [email, slack], slack_conn_id: slack_hr}\n"
    )
    for name in ("SMTP_DEFAULT", "SLACK_ALERTS", "SLACK_HR"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)
    monkeypatch.setenv("ZAIRYU_OUTBOX_DIR", str(tmp_path / "outbox"))
    transports, fallback = alert_transports(routing)
    assert transports == {} and isinstance(fallback, OutboxTransport)

    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1"})
    )
    webhook = json.dumps({"conn_type": "slackwebhook", "password": "http://127.0.0.1:9/x"})
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", webhook)
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_HR", webhook)
    transports, _ = alert_transports(routing)
    assert sorted(transports) == ["email", "slack", "slack:slack_hr"]
    assert isinstance(transports["email"], AirflowSmtpTransport)
    assert isinstance(transports["slack:slack_hr"], SlackWebhookTransport)

"""The embedded demo: sample ERP (SQLite), ISA simulator, local SMTP, DuckDB warehouse, one DAG run.

``make demo`` calls :func:`run_demo` through ``zairyu-sync demo``. Everything lives under
``.demo/`` in the project; running it again regenerates the same sample for the same date and
reruns the same logical date, which upserts rather than duplicates. ``zairyu-sync demo
--advance-days N`` instead moves the same world forward N days (:mod:`zairyu_sync.erp_evolution`)
and runs the DAG for the new date; ``state.json`` remembers the world's date, seed and size.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from zairyu_sync.config import project_root
from zairyu_sync.errors import ZairyuSyncError

if TYPE_CHECKING:
    from zairyu_sync.erp_evolution import Evolution

log = logging.getLogger(__name__)

DAG_ID = "residence_status_reconciliation"
DEMO_CLIENT_ID = "demo-employer"


class DemoError(ZairyuSyncError):
    """The demo could not complete; the message says which step and where its log is."""


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo keeps its state (all below ``<project>/.demo``)."""

    root: Path

    @classmethod
    def default(cls) -> DemoPaths:
        """``$ZAIRYU_DEMO_DIR`` or ``<project>/.demo``."""
        override = os.environ.get("ZAIRYU_DEMO_DIR")
        return cls(Path(override).resolve() if override else project_root() / ".demo")

    @property
    def erp(self) -> Path:
        return self.root / "erp.sqlite"

    @property
    def isa_seed(self) -> Path:
        return self.root / "isa_seed.json"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def mail(self) -> Path:
        return self.root / "mail"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        return self.root / "state.json"


@dataclass(frozen=True)
class DemoState:
    """The demo world's identity: its current date, random seed and size."""

    as_of: date
    seed: int
    employees: int

    def to_json(self) -> str:
        """The ``state.json`` text."""
        payload = {"as_of": self.as_of.isoformat(), "seed": self.seed, "employees": self.employees}
        return json.dumps(payload, indent=1) + "\n"


def read_state(paths: DemoPaths) -> DemoState:
    """The demo state in ``paths.state``; :class:`DemoError` when there is none or it is broken."""
    if not paths.state.is_file() or not paths.erp.is_file() or not paths.isa_seed.is_file():
        raise DemoError(f"no demo world in {paths.root}; run `zairyu-sync demo` first")
    try:
        payload = json.loads(paths.state.read_text(encoding="utf-8"))
        return DemoState(
            as_of=date.fromisoformat(payload["as_of"]),
            seed=int(payload["seed"]),
            employees=int(payload["employees"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"{paths.state} is not a demo state file; run `zairyu-sync demo`") from exc


def write_state(paths: DemoPaths, state: DemoState) -> None:
    """Write ``state.json`` atomically."""
    paths.root.mkdir(parents=True, exist_ok=True)
    tmp = paths.state.with_name(f".{paths.state.name}.{os.getpid()}.tmp")
    tmp.write_text(state.to_json(), encoding="utf-8")
    os.replace(tmp, paths.state)


def advance_world(paths: DemoPaths, days: int) -> tuple[DemoState, Evolution]:
    """Move the existing demo world forward ``days`` days and record its new date."""
    from zairyu_sync.erp_evolution import evolve_world

    if days < 1:
        raise DemoError("--advance-days must be at least 1")
    state = read_state(paths)
    engine = sa.create_engine(f"sqlite:///{paths.erp}")
    try:
        evolution = evolve_world(
            engine, paths.isa_seed, from_date=state.as_of, days=days, seed=state.seed
        )
    finally:
        engine.dispose()
    new_state = DemoState(as_of=evolution.to_date, seed=state.seed, employees=state.employees)
    write_state(paths, new_state)
    return new_state, evolution


def today_in_japan() -> date:
    """Today's calendar date in Japan (the demo's default as-of date)."""
    return datetime.now(ZoneInfo("Asia/Tokyo")).date()


def seed_sample(paths: DemoPaths, *, employees: int, as_of: date, seed: int = 7) -> dict[str, int]:
    """Generate the sample ERP into SQLite and the matching ISA simulator seed."""
    from zairyu_sync.erp_sample import generate_sample, write_erp, write_isa_seed

    paths.root.mkdir(parents=True, exist_ok=True)
    try:
        sample = generate_sample(employees, as_of=as_of, seed=seed)
    except ValueError as exc:
        raise DemoError(f"cannot generate the sample: {exc}") from exc
    engine = sa.create_engine(f"sqlite:///{paths.erp}")
    try:
        written = write_erp(sample, engine)
    finally:
        engine.dispose()
    write_isa_seed(sample, paths.isa_seed)
    return written


def airflow_environment(
    paths: DemoPaths, *, api_base_url: str, api_secret: str, smtp_port: int | None
) -> dict[str, str]:
    """The environment of the demo's Airflow process: home, folders and connections."""
    root = project_root()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(paths.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_ERP_DB": json.dumps({"conn_type": "sqlite", "host": str(paths.erp)}),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps(
                {"conn_type": "duckdb", "host": str(paths.warehouse)}
            ),
            "AIRFLOW_CONN_IMMIGRATION_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": api_base_url,
                    "login": DEMO_CLIENT_ID,
                    "password": api_secret,
                    "extra": {"timeout": 10, "page_size": 200},
                }
            ),
            "ZAIRYU_RUN_ROOT": str(paths.runs),
            "ZAIRYU_OUTBOX_DIR": str(paths.root / "outbox"),
            "ZAIRYU_ALERT_SENDER": "zairyu-sync@example.co.jp",
        }
    )
    if smtp_port is not None:
        env["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {
                    "disable_tls": True,
                    "disable_ssl": True,
                    "timeout": 10,
                    "retry_limit": 2,
                },
            }
        )
    return env


def _airflow(args: list[str], env: dict[str, str], log_path: Path) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    with log_path.open("w", encoding="utf-8") as handle:
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [str(airflow), *args], env=env, stdout=handle, stderr=subprocess.STDOUT, check=False
        )
    if completed.returncode != 0:
        raise DemoError(
            f"`airflow {' '.join(args)}` failed (exit {completed.returncode}); see {log_path}"
        )


def run_dag(paths: DemoPaths, env: dict[str, str], *, as_of: date) -> Path:
    """Migrate the demo's Airflow metadata DB and run the DAG for ``as_of``; return the run dir."""
    paths.airflow_home.mkdir(parents=True, exist_ok=True)
    _airflow(["db", "migrate"], env, paths.logs / "airflow_db_migrate.log")
    run_dir = paths.runs / DAG_ID / as_of.isoformat()
    summary = run_dir / "summary.json"
    started = datetime.now().timestamp()
    log_path = paths.logs / f"dag_test_{as_of.isoformat()}.log"
    _airflow(["dags", "test", DAG_ID, as_of.isoformat()], env, log_path)
    if not summary.exists() or summary.stat().st_mtime < started:
        raise DemoError(f"the DAG run did not complete (no fresh {summary}); see {log_path}")
    text = log_path.read_text(encoding="utf-8", errors="replace")
    if "state=failed" in text or "state=upstream_failed" in text:
        raise DemoError(f"a task of the DAG run failed; see {log_path}")
    return run_dir


def format_summary(run_dir: Path, paths: DemoPaths, *, mail_count: int | None) -> str:
    """The demo's closing summary, as printed on the terminal."""
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    counts = summary.get("counts", {})
    lines = [
        "",
        f"zairyu-sync demo — {summary['run_key']} (as of {summary['as_of']})",
        "",
        f"  rows extracted    {counts.get('extracted', 0):>7}",
        f"  ignored (JPN)     {counts.get('ignored', 0):>7}",
        f"  quarantined       {counts.get('quarantined', 0):>7}",
        f"  reconciled        {counts.get('reconciled', 0):>7}",
        f"  ISA API calls     {counts.get('api_calls', 0):>7}",
        "",
        f"  findings: {summary.get('findings_total', 0)} "
        f"(new {summary.get('findings_new', 0)}, open {summary.get('findings_open', 0)}, "
        f"resolved {summary.get('findings_resolved', 0)})",
        "",
        f"  {'rule':<34}{'critical':>9}{'warning':>9}{'info':>6}",
    ]
    for rule, severities in summary.get("by_rule", {}).items():
        lines.append(
            f"  {rule:<34}{severities.get('critical', 0):>9}"
            f"{severities.get('warning', 0):>9}{severities.get('info', 0):>6}"
        )
    lines += [
        "",
        f"  warehouse  {paths.warehouse}",
        f"  report     {run_dir / 'report.html'}",
    ]
    if mail_count is not None:
        note = "" if mail_count else " (nothing new: these alerts were already delivered)"
        lines.append(f"  mail       {mail_count} new message(s) via the local SMTP server{note}")
        lines.append(f"             saved in {paths.mail}")
    lines.append("")
    return "\n".join(lines)


def run_demo(
    *,
    employees: int = 2000,
    as_of: date | None = None,
    seed: int = 7,
    paths: DemoPaths | None = None,
    advance_days: int | None = None,
) -> str:
    """Run the whole demo and return the summary text.

    Args:
        employees: foreign employees of a fresh world.
        as_of: the date of a fresh world (default today in Japan).
        seed: the random seed of a fresh world.
        paths: where the demo keeps its state.
        advance_days: instead of a fresh world, move the existing one forward this many days.

    Raises:
        DemoError: a step failed, or ``advance_days`` was given without an existing world.
    """
    from zairyu_sync.immigration.simulator import SimulatorServer, load_dataset
    from zairyu_sync.mailbox import LocalMailServer

    paths = paths or DemoPaths.default()
    evolution: Evolution | None = None
    if advance_days is not None:
        state, evolution = advance_world(paths, advance_days)
        day = state.as_of
    else:
        day = as_of or today_in_japan()
        written = seed_sample(paths, employees=employees, as_of=day, seed=seed)
        write_state(paths, DemoState(as_of=day, seed=seed, employees=employees))
        log.info("sample ERP written: %s", written)
    secret = secrets.token_urlsafe(16)
    dataset = load_dataset(paths.isa_seed)
    with (
        SimulatorServer(dataset, client_id=DEMO_CLIENT_ID, client_secret=secret) as simulator,
        LocalMailServer(paths.mail) as mail,
    ):
        env = airflow_environment(
            paths, api_base_url=simulator.base_url, api_secret=secret, smtp_port=mail.port
        )
        run_dir = run_dag(paths, env, as_of=day)
        mail_count = len(mail.received)
    summary = format_summary(run_dir, paths, mail_count=mail_count)
    if evolution is None:
        return summary
    return "\n".join(["", *evolution.describe(), summary])

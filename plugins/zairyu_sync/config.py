"""Connection ids, file locations and policy settings.

Nothing here reads a connection or a Variable at import time: settings are built inside tasks
(:func:`policy_from_env`) so DAG parsing stays free of I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from zairyu_sync.errors import ConfigError

# Airflow connection ids (set as AIRFLOW_CONN_<ID> environment variables or in the metadata DB).
ERP_CONN_ID = "erp_db"
IMMIGRATION_API_CONN_ID = "immigration_api"
WAREHOUSE_CONN_ID = "warehouse"
SMTP_CONN_ID = "smtp_default"

#: Environment variable holding the key for tokenising residence card numbers (keyed hash).
PII_KEY_ENV = "ZAIRYU_PII_KEY"
#: Environment variable naming the directory where runs keep their working files (Parquet, report).
RUN_ROOT_ENV = "ZAIRYU_RUN_ROOT"
#: Environment variable that overrides where ``sql/`` and ``expectations/`` are found.
PROJECT_ROOT_ENV = "ZAIRYU_PROJECT_ROOT"


def project_root() -> Path:
    """The directory holding ``sql/``, ``expectations/`` and ``config/``."""
    override = os.environ.get(PROJECT_ROOT_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2]


def project_path(*parts: str) -> Path:
    """A path below :func:`project_root`; raises :class:`ConfigError` when it does not exist."""
    path = project_root().joinpath(*parts)
    if not path.exists():
        raise ConfigError(f"project file not found: {'/'.join(parts)} (root {project_root()})")
    return path


#: Environment variables naming a YAML file that replaces a packaged reference file. Both files
#: hold facts the domain reference partly marks UNCERTAIN (e.g. the Technical Intern Training
#: transition), so an employer can correct them without a release.
RULE_CATALOG_ENV = "ZAIRYU_RULE_CATALOG"
STATUS_MASTER_ENV = "ZAIRYU_STATUS_MASTER"


def reference_text(resource: str, override_env: str) -> str:
    """The text of a packaged reference file, or of the file named by ``override_env``."""
    override = os.environ.get(override_env)
    if override:
        try:
            return Path(override).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{override_env}: cannot read {override}: {exc.strerror}") from exc
    from importlib import resources

    return resources.files("zairyu_sync").joinpath(resource).read_text("utf-8")


#: libyaml's safe loader where PyYAML was built with it (the same documents, parsed about 8x
#: faster: the rule catalog in 2 ms instead of 19 ms, once per process).
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_yaml(text: str) -> object:
    """``yaml.safe_load(text)``, with libyaml's loader when it is there.

    Raises:
        yaml.YAMLError: the text is not valid YAML.
    """
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


#: Environment variable with the number of shards a DAG run splits the roster into.
SHARDS_ENV = "ZAIRYU_SHARDS"
DEFAULT_SHARDS = 4


def shard_count_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The configured number of roster shards (``ZAIRYU_SHARDS``, default 4)."""
    return _whole_number_from_env(SHARDS_ENV, DEFAULT_SHARDS, environ)


#: Environment variable with the number of threads one reconciliation may use.
RECONCILE_THREADS_ENV = "ZAIRYU_RECONCILE_THREADS"
#: The default never exceeds this many threads (more gave nothing on the measured machines).
MAX_DEFAULT_RECONCILE_THREADS = 4


def reconcile_threads_from_env(environ: Mapping[str, str] | None = None) -> int:
    """Threads a reconciliation may use (``ZAIRYU_RECONCILE_THREADS``).

    Default: the CPUs this process may run on, at most :data:`MAX_DEFAULT_RECONCILE_THREADS`.
    Set it to 1 where several reconciliations share a worker's CPUs (e.g. many mapped shard
    tasks per worker), so they do not compete for them.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    default = max(1, min(cpus, MAX_DEFAULT_RECONCILE_THREADS))
    return _whole_number_from_env(RECONCILE_THREADS_ENV, default, environ)


def _whole_number_from_env(name: str, default: int, environ: Mapping[str, str] | None) -> int:
    """A positive whole number from the environment variable ``name``, else ``default``."""
    env = os.environ if environ is None else environ
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if number < 1:
        raise ConfigError(f"{name} must be at least 1, got {number}")
    return number


def run_root() -> Path:
    """Where each run's working directory is created (default ``.demo/runs`` in the project)."""
    return Path(os.environ.get(RUN_ROOT_ENV) or project_root() / ".demo" / "runs")


@dataclass(frozen=True)
class PolicySettings:
    """Thresholds that are company policy rather than law (contract.md section 4 defaults).

    Each can be overridden by an environment variable ``ZAIRYU_<FIELD_NAME_UPPER>``.
    """

    expiry_horizon_days: int = 90
    critical_window_days: int = 14
    card_renewal_days: int = 60
    pending_long_days: int = 90
    hellowork_lookback_days: int = 365
    hours_window_days: int = 7
    weekly_hours_limit: float = 28.0
    long_vacation_daily_limit: float = 8.0
    hours_lookback_days: int = 90


def policy_from_env(environ: dict[str, str] | None = None) -> PolicySettings:
    """Build :class:`PolicySettings` from ``ZAIRYU_*`` environment variables over the defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in fields(PolicySettings):
        raw = env.get(f"ZAIRYU_{field.name.upper()}")
        if raw is None or raw == "":
            continue
        try:
            values[field.name] = float(raw) if field.type in ("float", float) else int(raw)
        except ValueError as exc:
            raise ConfigError(f"ZAIRYU_{field.name.upper()} must be a number, got {raw!r}") from exc
    return PolicySettings(**values)  # type: ignore[arg-type]

"""Structural checks of the production-like stack (``docker-compose.yml``, ``Dockerfile``,
``.env.example``, ``deploy/``): no Docker engine is needed, the files are parsed and checked."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PATH = ROOT / "docker-compose.yml"
ENV_EXAMPLE_PATH = ROOT / ".env.example"
DOCKERFILE_PATH = ROOT / "Dockerfile"
INIT_DIR = ROOT / "deploy" / "postgres" / "init"

AIRFLOW_COMMANDS = {
    "api-server": "api-server",
    "scheduler": "scheduler",
    "dag-processor": "dag-processor",
    "triggerer": "triggerer",
    "worker": "celery worker",
}
AIRFLOW_SERVICES = [*AIRFLOW_COMMANDS, "airflow-init"]
EXPECTED_SERVICES = {
    *AIRFLOW_SERVICES,
    "postgres",
    "redis",
    "mailpit",
    "isa-simulator",
    "isa-seed",
}
STATEFUL_HEALTHCHECKS = {
    "postgres": "pg_isready",
    "redis": "redis-cli ping",
    "api-server": "/api/v2/monitor/health",
    "isa-simulator": "/openapi.yaml",
    "mailpit": "readyz",
}
CONNECTIONS = {
    "AIRFLOW_CONN_ERP_DB": ("postgres", "postgres", "erp"),
    "AIRFLOW_CONN_WAREHOUSE": ("postgres", "postgres", "warehouse"),
    "AIRFLOW_CONN_IMMIGRATION_API": ("http", "http://isa-simulator:8765", None),
    "AIRFLOW_CONN_SMTP_DEFAULT": ("smtp", "mailpit", None),
}
RUN_ROOT = "/opt/airflow/runs"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN", re.IGNORECASE)
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is an escape.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
ONLY_INTERPOLATION = re.compile(r"^(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\})$")


# --- helpers ------------------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def env_example() -> dict[str, str]:
    """``NAME -> value`` of ``.env.example`` (every variable must follow a comment line)."""
    values: dict[str, str] = {}
    previous = ""
    for line in ENV_EXAMPLE_PATH.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match:
            assert previous.startswith("#") or previous[:1].isupper(), (
                f"{match.group(1)} in .env.example has no comment above it"
            )
            values[match.group(1)] = match.group(2)
        previous = line.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Resolve compose interpolation like ``docker compose config`` does."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if operator in (":?", "?") and (value is None or (operator == ":?" and value == "")):
            raise KeyError(f"required variable {name} is unset: {argument}")
        if operator in (":-", "-") and (value is None or (operator == ":-" and value == "")):
            return argument or ""
        return value or ""

    return INTERPOLATION.sub(replace, text).replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(str(part) for part in command)


def healthcheck_text(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test", "")
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


def airflow_problems(compose: dict[str, Any]) -> list[str]:
    """Everything wrong with the Airflow services' shared settings (empty when fine)."""
    services = compose["services"]
    problems: list[str] = []
    reference = environment(services["scheduler"])
    for name in AIRFLOW_SERVICES:
        service = services.get(name)
        if service is None:
            problems.append(f"{name}: missing")
            continue
        env = environment(service)
        for key, value in reference.items():
            if env.get(key) != value:
                problems.append(f"{name}: {key} differs from the common environment")
        if env.get("ZAIRYU_RUN_ROOT") != RUN_ROOT:
            problems.append(f"{name}: ZAIRYU_RUN_ROOT is {env.get('ZAIRYU_RUN_ROOT')!r}")
        mounts = [str(volume) for volume in service.get("volumes", [])]
        run_mounts = [m for m in mounts if m.split(":")[1:2] == [RUN_ROOT]]
        if len(run_mounts) != 1 or run_mounts[0].split(":")[0] not in (
            compose.get("volumes") or {}
        ):
            problems.append(f"{name}: run root is not on the shared named volume")
    worker = services.get("worker", {})
    if "container_name" in worker or worker.get("ports"):
        problems.append("worker: container_name or host port prevents --scale")
    return problems


def dependency_problems(compose: dict[str, Any]) -> list[str]:
    """Dependencies that do not wait for health / completion (empty when fine)."""
    services = compose["services"]
    problems: list[str] = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for target, spec in depends.items():
            if target not in services:
                problems.append(f"{name}: depends on unknown service {target}")
                continue
            one_shot = services[target].get("restart") == "no"
            wanted = "service_completed_successfully" if one_shot else "service_healthy"
            if one_shot is False and "healthcheck" not in services[target]:
                problems.append(f"{name}: waits on {target}, which has no healthcheck")
            if (spec or {}).get("condition") != wanted:
                problems.append(f"{name}: {target} condition should be {wanted}")
    return problems


def literal_secret_problems(compose: dict[str, Any]) -> list[str]:
    """Secret-looking values that are literals instead of ``${VAR}`` (empty when fine)."""
    problems: list[str] = []
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not ONLY_INTERPOLATION.match(value):
                problems.append(f"{name}: {key} is a literal")
            if key.startswith("AIRFLOW_CONN_"):
                password = json.loads(INTERPOLATION.sub("X", value)).get("password")
                raw = re.search(r'"password":\s*"([^"]*)"', value)
                if password is not None and not (raw and ONLY_INTERPOLATION.match(raw.group(1))):
                    problems.append(f"{name}: {key} has a literal password")
            for userinfo in re.findall(r"://[^/@\s:]+:([^@\s]+)@", value):
                if not ONLY_INTERPOLATION.match(userinfo):
                    problems.append(f"{name}: {key} has a literal password in a URL")
    return problems


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any]) -> dict[str, Any]:
    """The compose file with ``.env.example`` interpolated (what ``docker compose`` would run)."""
    text = interpolate(COMPOSE_PATH.read_text(encoding="utf-8"), env_example())
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


# --- services, images, commands -----------------------------------------------------------------


def test_every_service_of_the_stack_exists(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == EXPECTED_SERVICES
    assert set(compose["volumes"]) >= {"postgres-data", "zairyu-runs", "isa-seed"}


def test_infrastructure_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert "${MAILPIT_UI_PORT:-8025}:8025" in services["mailpit"]["ports"]
    assert "1025" in [str(port) for port in services["mailpit"]["expose"]]


def test_project_services_share_one_image_built_from_the_dockerfile(
    compose: dict[str, Any],
) -> None:
    for name in [*AIRFLOW_SERVICES, "isa-seed", "isa-simulator"]:
        service = compose["services"][name]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert service["image"] == "${ZAIRYU_IMAGE:-zairyu-sync:local}", name


def test_dockerfile_extends_airflow_and_installs_with_the_project_constraints() -> None:
    text = DOCKERFILE_PATH.read_text(encoding="utf-8")
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", text, re.MULTILINE)
    assert re.search(r"pip install [^\n]*-c [^\n]*constraints\.txt", text)
    for folder in ("dags", "plugins", "sql", "expectations", "config"):
        assert re.search(rf"^COPY [^\n]*\b{folder}/ /opt/airflow/{folder}/$", text, re.MULTILINE)
    assert "ZAIRYU_PROJECT_ROOT=/opt/airflow" in text
    assert f"mkdir -p {RUN_ROOT}" in text


def test_airflow_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, command in AIRFLOW_COMMANDS.items():
        assert command_text(services[name]) == command, name
    init = command_text(services["airflow-init"])
    assert "airflow db migrate" in init
    assert "airflow users create --role Admin" in init
    assert services["airflow-init"]["restart"] == "no"


def test_simulator_serves_the_seed_on_all_interfaces(compose: dict[str, Any]) -> None:
    services = compose["services"]
    command = command_text(services["isa-simulator"])
    assert command.startswith("python -m zairyu_sync.immigration.simulator --data ")
    assert "--host 0.0.0.0 --port 8765" in command
    assert "/opt/airflow/seed/isa_seed.json" in command
    assert "isa-seed:/opt/airflow/seed:ro" in services["isa-simulator"]["volumes"]
    assert environment(services["isa-simulator"])["ZAIRYU_SIMULATOR_CLIENT_SECRET"] == (
        "${ISA_CLIENT_SECRET:?set ISA_CLIENT_SECRET in .env}"
    )
    seed = services["isa-seed"]
    assert command_text(seed) == "/opt/airflow/deploy/seed/seed_stack.sh"
    assert seed["restart"] == "no"
    script = (ROOT / "deploy" / "seed" / "seed_stack.sh").read_text(encoding="utf-8")
    assert 'zairyu-sync seed --demo-dir "$seed_dir"' in script
    assert "load_erp.py" in script


# --- Airflow configuration ----------------------------------------------------------------------


def test_airflow_services_share_the_common_environment_and_run_root(
    compose: dict[str, Any],
) -> None:
    assert airflow_problems(compose) == []


def test_shared_settings_check_catches_drift(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["container_name"] = "worker"
    broken["services"]["triggerer"]["environment"] = {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
    broken["services"]["scheduler"]["volumes"] = []
    problems = airflow_problems(broken)
    assert "worker: container_name or host port prevents --scale" in problems
    assert "triggerer: AIRFLOW__CORE__EXECUTOR differs from the common environment" in problems
    assert "scheduler: run root is not on the shared named volume" in problems


def test_executor_is_celery_on_redis(resolved: dict[str, Any]) -> None:
    env = environment(resolved["services"]["worker"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql://airflow:local-airflow-db-pw@postgres:5432/airflow"
    )
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://airflow:local-airflow-db-pw@postgres:5432/airflow"
    )
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:8080/execution/"
    assert env["ZAIRYU_PII_KEY"] == "local-pii-key-change-me"


def test_connections_point_at_stack_services(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    env = environment(services["worker"])
    for variable, (conn_type, host, schema) in CONNECTIONS.items():
        connection = json.loads(env[variable])
        assert connection["conn_type"] == conn_type, variable
        assert connection["host"] == host, variable
        if schema is not None:
            assert connection["schema"] == schema, variable
            assert connection["login"] == schema, variable
    assert json.loads(env["AIRFLOW_CONN_ERP_DB"])["password"] == "local-erp-db-pw"
    api = json.loads(env["AIRFLOW_CONN_IMMIGRATION_API"])
    assert (api["login"], api["password"]) == ("zairyu-stack", "local-isa-client-secret")
    assert json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])["port"] == 1025


def test_every_host_in_a_connection_is_a_service(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    env = environment(services["worker"])
    hosts: set[str] = set()
    for key, value in env.items():
        if key.startswith("AIRFLOW_CONN_"):
            host = str(json.loads(value)["host"])
            hosts.add(re.sub(r"^\w+://", "", host).split(":")[0].split("/")[0])
        for url_host in re.findall(r"://(?:[^@/\s]+@)?([A-Za-z][\w.-]*)", value):
            hosts.add(url_host)
    hosts.discard("localhost")
    assert hosts == {"postgres", "redis", "isa-simulator", "mailpit", "api-server"}
    assert hosts <= set(services)


def test_postgres_init_creates_the_three_databases(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert "./deploy/postgres/init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    script = (INIT_DIR / "10-create-databases.sh").read_text(encoding="utf-8")
    sql = (INIT_DIR / "databases.sql.tmpl").read_text(encoding="utf-8")
    assert "databases.sql.tmpl" in script
    for database in ("airflow", "erp", "warehouse"):
        assert (
            f"SELECT format('CREATE ROLE {database} LOGIN PASSWORD %L', :'{database}_pw') \\gexec"
            in sql
        )
        assert f"CREATE DATABASE {database} OWNER {database};" in sql
        assert f"-v {database}_pw=" in script
        assert f"{database.upper()}_DB_PASSWORD" in environment(postgres)


# --- health and start order ---------------------------------------------------------------------


def test_stateful_services_have_healthchecks(compose: dict[str, Any]) -> None:
    for name, probe in STATEFUL_HEALTHCHECKS.items():
        assert probe in healthcheck_text(compose["services"][name]), name


def test_dependents_wait_for_health_or_completion(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert dependency_problems(compose) == []
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
        if name != "airflow-init":
            assert depends["airflow-init"] == {"condition": "service_completed_successfully"}
    assert services["worker"]["depends_on"]["isa-simulator"] == {"condition": "service_healthy"}
    assert services["isa-simulator"]["depends_on"]["isa-seed"] == {
        "condition": "service_completed_successfully"
    }


def test_dependency_check_catches_unconditional_waits(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["depends_on"]["redis"] = {"condition": "service_started"}
    del broken["services"]["mailpit"]["healthcheck"]
    problems = dependency_problems(broken)
    assert "worker: redis condition should be service_healthy" in problems
    assert "worker: waits on mailpit, which has no healthcheck" in problems


# --- variables and secrets ----------------------------------------------------------------------


def test_every_variable_used_is_documented_in_env_example() -> None:
    documented = env_example()
    used = set(INTERPOLATION.findall(COMPOSE_PATH.read_text(encoding="utf-8")))
    names = {name for name, _, _ in used}
    assert names, "no ${VAR} found: the pattern is broken"
    assert names - set(documented) == set()
    assert {"ZAIRYU_PII_KEY", "ISA_CLIENT_SECRET", "AIRFLOW_DB_PASSWORD"} <= names


def test_required_secrets_fail_fast() -> None:
    text = COMPOSE_PATH.read_text(encoding="utf-8")
    required = {name for name, operator, _ in INTERPOLATION.findall(text) if operator == ":?"}
    assert required >= {
        "POSTGRES_PASSWORD",
        "AIRFLOW_DB_PASSWORD",
        "ERP_DB_PASSWORD",
        "WAREHOUSE_DB_PASSWORD",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_ADMIN_PASSWORD",
        "ISA_CLIENT_SECRET",
        "ZAIRYU_PII_KEY",
    }
    env = env_example()
    del env["ZAIRYU_PII_KEY"]
    with pytest.raises(KeyError, match="ZAIRYU_PII_KEY"):
        interpolate(text, env)


def test_no_literal_secret_values(compose: dict[str, Any]) -> None:
    assert literal_secret_problems(compose) == []
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["environment"]["ZAIRYU_PII_KEY"] = "hunter22"
    broken["services"]["worker"]["environment"]["AIRFLOW__CELERY__RESULT_BACKEND"] = (
        "db+postgresql://airflow:hunter22@postgres/airflow"
    )
    problems = literal_secret_problems(broken)
    assert "worker: ZAIRYU_PII_KEY is a literal" in problems
    assert "worker: AIRFLOW__CELERY__RESULT_BACKEND has a literal password in a URL" in problems


def test_only_env_example_holds_defaults_for_secrets() -> None:
    """Secret defaults live in .env.example only, never as ``${VAR:-value}`` in compose."""
    text = COMPOSE_PATH.read_text(encoding="utf-8")
    for name, operator, argument in INTERPOLATION.findall(text):
        if SECRET_NAME.search(name):
            assert operator == ":?" or (operator == ":-" and argument == ""), name

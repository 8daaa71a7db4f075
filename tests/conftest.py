"""Shared fixtures: real local services (PostgreSQL on 127.0.0.1:5432) and small helpers."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration when first imported: point it at a throwaway home before any
# test module imports it, so tests never touch a developer's ~/airflow.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="zairyu-test-airflow-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
for _name in [name for name in os.environ if name.startswith("AIRFLOW_CONN_")]:
    del os.environ[_name]

POSTGRES_URL = os.environ.get(
    "ZAIRYU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def as_of() -> date:
    return date(2026, 11, 25)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A throwaway PostgreSQL schema, dropped after the test."""
    schema = f"zs_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A SQLAlchemy URL whose connections use the throwaway schema as search_path."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{pg_schema}"


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()

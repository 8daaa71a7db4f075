"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from zairyu_sync.load import apply_migrations, warehouse_engine


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated warehouse, once on a DuckDB file and once in a throwaway PostgreSQL schema."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = warehouse_engine(url)
    apply_migrations(engine)
    try:
        yield engine
    finally:
        engine.dispose()

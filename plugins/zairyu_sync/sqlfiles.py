"""Access to the SQL files under ``sql/``: all SQL lives there, never in Python strings."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from zairyu_sync.config import project_path


@cache
def load_sql(name: str) -> str:
    """Return the text of ``sql/<name>`` (for example ``"erp/extract_employees.sql"``)."""
    path = project_path("sql", name)
    return path.read_text(encoding="utf-8")


def sql_text(name: str) -> TextClause:
    """Return ``sql/<name>`` as a SQLAlchemy ``text()`` clause for bound-parameter execution."""
    return text(load_sql(name))


def split_statements(sql: str) -> list[str]:
    """Split a DDL file on ``;`` at line ends; the files keep one statement per ``;``."""
    statements: list[str] = []
    current: list[str] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") and not current:
            continue
        current.append(line)
        if stripped.endswith(";"):
            statement = "\n".join(current).strip().rstrip(";").strip()
            if statement:
                statements.append(statement)
            current = []
    tail = "\n".join(current).strip()
    if tail and not all(
        part.strip().startswith("--") for part in tail.splitlines() if part.strip()
    ):
        statements.append(tail)
    return statements

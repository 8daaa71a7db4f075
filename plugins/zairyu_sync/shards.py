"""Shards of the roster: equal-sized ranges of employee numbers, processed independently.

A sharded run extracts, validates and reconciles each shard on its own (in Airflow, one mapped
task instance per shard, possibly on different workers) and loads all shards in one transaction.
Shards are ranges of the ERP's employee number, so an employee's card, applications and
timesheets always fall into the same shard as the employee; the boundaries come from the ERP
(``sql/erp/shard_boundaries.sql``), so the database's own collation decides the order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from zairyu_sync.errors import ConfigError, ExtractError
from zairyu_sync.sqlfiles import sql_text

log = logging.getLogger(__name__)

SHARD_BOUNDARIES_SQL = "erp/shard_boundaries.sql"
#: The most shards a run may have (each is a mapped task instance per stage).
MAX_SHARDS = 256


@dataclass(frozen=True)
class Shard:
    """One shard: employee numbers in ``[first_employee, next_first_employee)``.

    Attributes:
        index: 0-based position among the run's shards.
        count: how many shards the run has.
        first_employee: the smallest employee number in the shard; None = unbounded below.
        next_first_employee: the first employee number of the next shard; None = unbounded.
    """

    index: int
    count: int
    first_employee: str | None = None
    next_first_employee: str | None = None

    @property
    def label(self) -> str:
        """``001-of-004``: the shard's directory name and log label."""
        return f"{self.index + 1:03d}-of-{self.count:03d}"

    def as_params(self) -> dict[str, str | None]:
        """The bound parameters of the extract SQL (``shard_from`` / ``shard_to``)."""
        return {"shard_from": self.first_employee, "shard_to": self.next_first_employee}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for XCom). Employee numbers are identifiers, not personal data."""
        return {
            "index": self.index,
            "count": self.count,
            "first_employee": self.first_employee,
            "next_first_employee": self.next_first_employee,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Shard:
        """Inverse of :meth:`to_dict`."""
        return cls(
            index=int(payload["index"]),
            count=int(payload["count"]),
            first_employee=payload.get("first_employee"),
            next_first_employee=payload.get("next_first_employee"),
        )


WHOLE_ROSTER = Shard(index=0, count=1)


def plan_shards(engine: sa.Engine, shards: int) -> list[Shard]:
    """Split the ERP roster into at most ``shards`` ranges of about equal size.

    Args:
        engine: the ERP engine.
        shards: the wanted number of shards (1..:data:`MAX_SHARDS`).

    Returns:
        The shards in employee-number order; fewer than asked when the roster has fewer
        employees than ``shards`` (an empty roster gives one shard).

    Raises:
        ConfigError: ``shards`` is out of range.
        ExtractError: the ERP could not be queried.
    """
    if not 1 <= shards <= MAX_SHARDS:
        raise ConfigError(f"shards must be between 1 and {MAX_SHARDS}, got {shards}")
    if shards == 1:
        return [WHOLE_ROSTER]
    try:
        with engine.connect() as conn:
            rows = conn.execute(sql_text(SHARD_BOUNDARIES_SQL), {"shards": shards}).all()
    except SQLAlchemyError as exc:
        cause = type(getattr(exc, "orig", None) or exc).__name__
        raise ExtractError(f"ERP query {SHARD_BOUNDARIES_SQL} failed ({cause})") from exc
    boundaries = [str(row[0]) for row in rows]
    edges: list[str | None] = [None, *boundaries, None]
    count = len(edges) - 1
    planned = [
        Shard(index=i, count=count, first_employee=edges[i], next_first_employee=edges[i + 1])
        for i in range(count)
    ]
    log.info("planned %d shards of the roster (%d asked)", count, shards)
    return planned

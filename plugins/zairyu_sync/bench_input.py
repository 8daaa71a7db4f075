"""Input-side measurement: extract and validate a roster, whole or shard by shard.

:func:`measure_input` times :func:`~zairyu_sync.extract.extract_snapshot` and
:func:`~zairyu_sync.validate.validate_snapshot` for each shard in turn (as one worker would run
them), after building the validation context once (:func:`~zairyu_sync.validate.prepare_validation`,
a one-off cost per process reported on its own). Peak RSS is the process high-water mark
(``getrusage``), so each shard's value includes everything before it. Speed is measured here,
never asserted in tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from zairyu_sync.bench import peak_rss_mb
from zairyu_sync.extract import extract_snapshot
from zairyu_sync.shards import WHOLE_ROSTER, Shard
from zairyu_sync.validate import prepare_validation, validate_snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardTiming:
    """Extract and validate of one shard.

    Attributes:
        shard: the shard's label (``001-of-004``).
        rows: extracted rows per table (``employees``, ``applications``, ``timesheets``).
        extract_seconds: wall-clock seconds of the extract.
        validate_seconds: wall-clock seconds of the validation.
        peak_rss_mb: process peak RSS after the shard, in MiB (a high-water mark).
    """

    shard: str
    rows: dict[str, int]
    extract_seconds: float
    validate_seconds: float
    peak_rss_mb: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "shard": self.shard,
            "rows": dict(self.rows),
            "extract_seconds": round(self.extract_seconds, 4),
            "validate_seconds": round(self.validate_seconds, 4),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


@dataclass(frozen=True)
class InputMeasurement:
    """A whole input-side measurement.

    Attributes:
        setup_seconds: building the validation context (once per process).
        shards: one timing per shard, in order.
    """

    setup_seconds: float
    shards: list[ShardTiming] = field(default_factory=list)

    @property
    def employees(self) -> int:
        """Extracted employee rows over all shards."""
        return sum(timing.rows["employees"] for timing in self.shards)

    @property
    def seconds(self) -> float:
        """Extract + validate seconds over all shards (without the set-up)."""
        return sum(timing.extract_seconds + timing.validate_seconds for timing in self.shards)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form, with employees per second over extract + validate."""
        return {
            "setup_seconds": round(self.setup_seconds, 4),
            "seconds": round(self.seconds, 4),
            "employees": self.employees,
            "employees_per_second": round(self.employees / self.seconds, 1) if self.seconds else 0,
            "peak_rss_mb": max((timing.peak_rss_mb for timing in self.shards), default=0.0),
            "shards": [timing.as_dict() for timing in self.shards],
        }


def measure_input(
    engine: sa.Engine,
    *,
    as_of: date,
    shards: Sequence[Shard] = (WHOLE_ROSTER,),
    timesheet_lookback_days: int = 90,
) -> InputMeasurement:
    """Extract and validate each shard in turn and time both stages.

    Row numbers continue across shards (``row_offsets``), as in a sharded run; receipts shared
    between shards are not looked for (that needs every shard's receipts first).

    Args:
        engine: the ERP engine.
        as_of: the run's as-of date.
        shards: the shards to process (the whole roster by default).
        timesheet_lookback_days: the timesheet window of the extract.

    Returns:
        The set-up time and one :class:`ShardTiming` per shard.
    """
    started = time.perf_counter()
    prepare_validation()
    measurement = InputMeasurement(setup_seconds=time.perf_counter() - started)
    offsets = {"employees": 0, "applications": 0, "timesheets": 0}
    for shard in shards:
        started = time.perf_counter()
        snapshot = extract_snapshot(
            engine, as_of=as_of, timesheet_lookback_days=timesheet_lookback_days, shard=shard
        )
        extracted = time.perf_counter()
        validate_snapshot(
            snapshot.employees,
            snapshot.applications,
            snapshot.timesheets,
            as_of=as_of,
            row_offsets=dict(offsets),
        )
        validated = time.perf_counter()
        rows = {name: len(getattr(snapshot, name)) for name in offsets}
        for name, count in rows.items():
            offsets[name] += count
        timing = ShardTiming(
            shard.label, rows, extracted - started, validated - extracted, peak_rss_mb()
        )
        log.info(
            "input %s: %d employees, extract %.2f s, validate %.2f s",
            timing.shard,
            rows["employees"],
            timing.extract_seconds,
            timing.validate_seconds,
        )
        measurement.shards.append(timing)
        del snapshot
    return measurement

"""Dates of a run: the rules are evaluated for a calendar date in Japan."""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

#: The time zone whose calendar date is the as-of date; override with ZAIRYU_TIMEZONE.
DEFAULT_TIMEZONE = "Asia/Tokyo"


def as_of_date(data_interval_end: datetime) -> date:
    """The as-of date for a run: the data interval end's calendar date in Japan time."""
    zone = ZoneInfo(os.environ.get("ZAIRYU_TIMEZONE", DEFAULT_TIMEZONE))
    if data_interval_end.tzinfo is None:
        return data_interval_end.date()
    return data_interval_end.astimezone(zone).date()

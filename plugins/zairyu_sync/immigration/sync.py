"""Fetch the ISA applications the reconciliation needs, as a canonical text frame."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

from zairyu_sync.canonical import ISA_APPLICATION_COLUMNS
from zairyu_sync.immigration.client import ImmigrationStatusSource
from zairyu_sync.immigration.models import Application

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def fetch_isa_applications(
    source: ImmigrationStatusSource,
    receipt_numbers: Iterable[str],
    *,
    updated_since: datetime | None = None,
) -> pd.DataFrame:
    """List the organization's applications, then fetch each ERP receipt number not listed.

    Receipt numbers the API does not know (404) are simply absent from the result; the rules
    report them as APPLICATION_NOT_FOUND.

    Args:
        source: the status API adapter.
        receipt_numbers: the ERP's receipt numbers (blank ones and repeats are ignored).
        updated_since: passed to the listing; ERP receipt numbers outside it are then fetched
            one by one.

    Returns:
        One row per receipt number with exactly
        :data:`~zairyu_sync.canonical.ISA_APPLICATION_COLUMNS` (the applicant flattened to
        ``applicant_*``), object dtype holding ``str`` or ``None``: dates as ``YYYY-MM-DD``,
        ``updated_at`` as ISO 8601 with offset. Rows are sorted by receipt number. When an
        application appears twice in the listing, the most recently updated version wins.
        ``df.attrs["api_calls"]`` is the number of HTTP requests made when the source counts
        them (an ``api_calls`` attribute, as :class:`HttpImmigrationClient` has), otherwise the
        number of adapter calls (one listing plus one per receipt number fetched).

    Raises:
        ImmigrationApiError: (subclasses) the API could not be used or answered garbage.
    """
    import pandas as pd

    calls_before = _counted_calls(source)
    applications: dict[str, Application] = {}
    listed = 0
    for application in source.list_applications(updated_since=updated_since):
        listed += 1
        current = applications.get(application.receipt_number)
        if current is None or application.updated_at >= current.updated_at:
            applications[application.receipt_number] = application

    wanted = dict.fromkeys(
        text for text in (_clean(value) for value in receipt_numbers) if text is not None
    )
    fetched = not_found = 0
    for receipt in wanted:
        if receipt in applications:
            continue
        fetched += 1
        found = source.get_application(receipt)
        if found is None:
            not_found += 1
        else:
            applications[found.receipt_number] = found

    rows = [_flatten(applications[key]) for key in sorted(applications)]
    frame = pd.DataFrame(rows, columns=list(ISA_APPLICATION_COLUMNS), dtype=object)
    calls_after = _counted_calls(source)
    if calls_before is not None and calls_after is not None:
        api_calls = calls_after - calls_before
    else:
        api_calls = 1 + fetched
    frame.attrs["api_calls"] = api_calls
    log.info(
        "ISA applications: %d listed, %d ERP receipt numbers fetched individually "
        "(%d not found), %d distinct, %d API calls",
        listed,
        fetched,
        not_found,
        len(frame),
        api_calls,
    )
    return frame


def application_record(application: Application) -> dict[str, str | None]:
    """One application as a flat text record with the canonical ISA columns."""
    return _flatten(application)


def _flatten(application: Application) -> dict[str, str | None]:
    applicant = application.applicant
    return {
        "receipt_number": application.receipt_number,
        "application_type": application.application_type,
        "status": application.status,
        "filed_on": _iso(application.filed_on),
        "decided_on": _iso(application.decided_on),
        "applicant_full_name": applicant.full_name if applicant else None,
        "applicant_date_of_birth": _iso(applicant.date_of_birth) if applicant else None,
        "applicant_nationality": applicant.nationality if applicant else None,
        "applicant_residence_card_number": applicant.residence_card_number if applicant else None,
        "requested_status": application.requested_status,
        "granted_status": application.granted_status,
        "granted_period_expiry": _iso(application.granted_period_expiry),
        "new_residence_card_number": application.new_residence_card_number,
        "new_card_valid_until": _iso(application.new_card_valid_until),
        "additional_documents_due": _iso(application.additional_documents_due),
        "updated_at": application.updated_at.isoformat(),
    }


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _clean(value: object) -> str | None:
    if value is None or value != value:  # None or NaN
        return None
    text = str(value).strip()
    return text or None


def _counted_calls(source: object) -> int | None:
    calls = getattr(source, "api_calls", None)
    return calls if isinstance(calls, int) and not isinstance(calls, bool) else None

"""Fetch the ISA applications the reconciliation needs, as a canonical text frame.

Two entry points share one implementation:

* :func:`fetch_isa_applications` -- list the organization's applications, then look up every ERP
  receipt number the listing lacks.
* :func:`sync_isa_applications` -- the same result, but with a local mirror
  (:mod:`zairyu_sync.immigration.mirror`): a daily run lists only the applications updated since
  the mirror's watermark (minus a safety overlap), merges them into the mirror (the newer
  ``updated_at`` wins), reuses individually looked-up applications whose status is final, and
  looks up only the other ERP receipt numbers missing from the merged listing. Every
  ``full_every`` it lists and looks up everything again, and whenever the mirror cannot be
  trusted.

With a source that offers ``list_and_get_applications`` (as
:class:`~zairyu_sync.immigration.client.HttpImmigrationClient` does) the lookups run concurrently
and overlap the listing: receipt numbers the last sync saw outside the listing are looked up
while the listing's pages are still being read, the rest as soon as the listing is complete; a
long listing is read as several ``updated_at`` ranges at once (ADR 0009).
Other sources list first and then look up through
:func:`~zairyu_sync.immigration.client.get_applications`; the frame is the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from zairyu_sync.canonical import ISA_APPLICATION_COLUMNS
from zairyu_sync.errors import ConfigError
from zairyu_sync.immigration.client import ImmigrationStatusSource, get_applications
from zairyu_sync.immigration.models import Application

if TYPE_CHECKING:  # pandas is imported on first use, so importing the client stays light
    import pandas as pd

log = logging.getLogger(__name__)

#: Default safety overlap subtracted from the watermark for ``updated_since``.
DEFAULT_OVERLAP = timedelta(hours=1)
#: Default interval between full listings.
DEFAULT_FULL_EVERY = timedelta(days=7)
#: Application statuses after which, by the contract, an application does not change any more
#: (contract.md section 3, openapi.yaml ``ApplicationStatus``): the card was issued, the
#: application was denied, or it was withdrawn. ``PERMITTED`` and ``AWAITING_ISSUANCE`` are
#: decided but not final: they still move on to ``COMPLETED`` with the new card's number, which
#: the CARD_NUMBER_STALE rule reads.
FINAL_STATUSES: Final = frozenset({"COMPLETED", "NOT_PERMITTED", "WITHDRAWN"})


@dataclass(frozen=True)
class SyncStats:
    """What one sync did (counts only, no applicant data).

    Attributes:
        mode: ``full`` or ``incremental``.
        reason: why this mode: ``incremental``, ``no_mirror_dir``, or why the mirror was not
            used (see :func:`~zairyu_sync.immigration.mirror.load_mirror`).
        listed: applications the listing returned in this run.
        listing_rows: distinct applications in the (merged) listing.
        fetched: ERP receipt numbers looked up individually in this run.
        not_found: of those, how many the API does not know.
        rows: rows of the result.
        api_calls: HTTP requests (or adapter calls when the source does not count requests).
        updated_since: the listing's ``updated_since`` (ISO 8601), None for a full listing.
        watermark: the newest ``updated_at`` of the merged listing after this run (ISO 8601).
        reused: ERP receipt numbers outside the listing answered from the mirror without a
            lookup (applications in a final status, incremental syncs only).
    """

    mode: str
    reason: str
    listed: int
    listing_rows: int
    fetched: int
    not_found: int
    rows: int
    api_calls: int
    updated_since: str | None
    watermark: str | None
    reused: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (for XCom and logs)."""
        return {
            "mode": self.mode,
            "reason": self.reason,
            "listed": self.listed,
            "listing_rows": self.listing_rows,
            "fetched": self.fetched,
            "not_found": self.not_found,
            "reused": self.reused,
            "rows": self.rows,
            "api_calls": self.api_calls,
            "updated_since": self.updated_since,
            "watermark": self.watermark,
        }


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
            individually.

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
    calls_before = _counted_calls(source)
    plan = _Plan(_wanted(receipt_numbers), base=_empty())
    listing, listed, found = _list_and_look_up(source, plan, updated_since=updated_since)
    frame, stats, _ = _complete(
        source,
        listing,
        plan,
        found,
        calls_before=calls_before,
        listed=listed,
        mode="full",
        reason="no_mirror_dir",
        updated_since=updated_since,
    )
    frame.attrs["api_calls"] = stats.api_calls
    return frame


def sync_isa_applications(
    source: ImmigrationStatusSource,
    receipt_numbers: Iterable[str],
    *,
    mirror_dir: Path | None,
    now: datetime,
    overlap: timedelta = DEFAULT_OVERLAP,
    full_every: timedelta = DEFAULT_FULL_EVERY,
    base_url: str | None = None,
    client_id: str | None = None,
    recheck_final: bool = False,
) -> tuple[pd.DataFrame, SyncStats]:
    """The ISA frame of :func:`fetch_isa_applications`, listing incrementally from a mirror.

    Without a usable mirror (none configured, missing, corrupt, for another API or client, or
    the last full sync ``full_every`` or longer ago) the listing is read in full and every ERP
    receipt number it lacks is looked up. Otherwise only applications updated since the
    mirror's watermark minus ``overlap`` are listed and merged into the mirror's listing (the
    newer ``updated_at`` wins; an application listed again with the same ``updated_at``
    replaces the mirrored one), and the ERP receipt numbers the merged listing lacks are looked
    up individually -- except those the mirror holds in a final status (below). The merged
    listing and the looked-up applications become the new mirror (written only after the whole
    sync succeeded). On the same API state both modes give the same frame.

    ``overlap`` covers applications whose ``updated_at`` is earlier than the newest one already
    seen but that became visible later (clock differences between API nodes, late commits). An
    application that leaves the organization's listing stays in the mirror until the next full
    listing.

    Final applications are not looked up again (design decision). Receipt numbers outside the
    organization's listing (applications the applicant filed personally, receipt numbers ISA
    does not know) cannot be listed ``updated_since``: each costs one request per run, which
    made them nearly all of a daily run's requests. By the contract an application in a final
    status (:data:`FINAL_STATUSES`: ``COMPLETED``, ``NOT_PERMITTED``, ``WITHDRAWN``) no longer
    changes -- a new application gets a new receipt number -- so an incremental sync answers
    those from the mirror's lookups. Pending applications, ``PERMITTED`` /
    ``AWAITING_ISSUANCE`` ones (they still move on to ``COMPLETED``) and receipt numbers ISA did
    not know are looked up on every run. The accepted staleness bound: should ISA change an
    application after a final status anyway (a correction, against the contract), the change
    reaches the frame at the next full sync, at most ``full_every`` after the last one (every
    full sync looks everything up again). ``recheck_final`` looks final applications up on
    every run as well, for when that bound is not acceptable.

    Args:
        source: the status API adapter.
        receipt_numbers: the ERP's receipt numbers (blank ones and repeats are ignored).
        mirror_dir: the mirror directory (None: always list in full, keep no mirror). It holds
            applicant personal data: keep it next to the run directories, not in a shared place.
        now: the current time (timezone-aware; the wall clock, not a run's logical date).
        overlap: subtracted from the watermark for ``updated_since`` (>= 0).
        full_every: list and look up in full when the last full sync is this old (> 0).
        base_url: the API base URL recorded in the mirror (default: ``source.base_url``).
        client_id: the client id recorded in the mirror (default: ``source.client_id``).
        recheck_final: look up final applications outside the listing on every run too.

    Returns:
        The frame (as :func:`fetch_isa_applications` returns it, without ``attrs``) and the
        sync's statistics.

    Raises:
        ValueError: ``now`` is naive.
        ConfigError: negative ``overlap`` or non-positive ``full_every``.
        ImmigrationApiError: (subclasses) the API could not be used or answered garbage; the
            mirror is then left as it was.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if overlap < timedelta(0):
        raise ConfigError(f"overlap must not be negative, got {overlap}")
    if full_every <= timedelta(0):
        raise ConfigError(f"full_every must be positive, got {full_every}")
    from zairyu_sync.immigration.mirror import (
        MirrorState,
        full_sync_current,
        read_mirror,
        write_mirror,
    )

    identity_url = base_url if base_url is not None else str(getattr(source, "base_url", ""))
    identity_client = client_id if client_id is not None else str(getattr(source, "client_id", ""))
    calls_before = _counted_calls(source)
    wanted = _wanted(receipt_numbers)

    mirror = None
    reason = "no_mirror_dir"
    if mirror_dir is not None:
        mirror, reason = read_mirror(mirror_dir, base_url=identity_url, client_id=identity_client)
    looked_up_before: set[str] | None = None
    updated_since: datetime | None = None
    reusable = _empty()
    if mirror is not None:
        looked_up_before = set(mirror.lookups["receipt_number"])
        if not full_sync_current(mirror.state, now=now, full_every=full_every):
            reason = "full_due"
        elif mirror.state.watermark is None:  # an empty listing: list everything again
            reason = "empty_mirror"
        else:
            reason = "incremental"
            updated_since = mirror.state.watermark - overlap
            if not recheck_final:
                reusable = mirror.lookups[mirror.lookups["status"].isin(FINAL_STATUSES)]
    if reason == "incremental":
        assert mirror is not None
        base, mode, last_full = mirror.listing, "incremental", mirror.state.last_full_sync_at
    else:
        base, mode, last_full = _empty(), "full", now
    if mirror_dir is not None and mode == "full":
        log.info("ISA sync lists in full (%s)", reason)
    plan = _Plan(wanted, base=base, reusable=reusable, looked_up_before=looked_up_before)
    listing, listed, found = _list_and_look_up(source, plan, updated_since=updated_since)
    frame, stats, lookups = _complete(
        source,
        listing,
        plan,
        found,
        calls_before=calls_before,
        listed=listed,
        mode=mode,
        reason=reason,
        updated_since=updated_since,
    )
    if mirror_dir is not None:
        write_mirror(
            mirror_dir,
            listing,
            MirrorState(
                base_url=identity_url,
                client_id=identity_client,
                watermark=_watermark(listing),
                last_full_sync_at=last_full,
                synced_at=now,
                rows=len(listing),
                sha256="",
            ),
            lookups,
        )
    return frame, stats


def application_record(application: Application) -> dict[str, str | None]:
    """One application as a flat text record with the canonical ISA columns."""
    return _flatten(application)


# --- shared implementation --------------------------------------------------------------------


def _empty() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=list(ISA_APPLICATION_COLUMNS), dtype=object)


def _records(records: list[dict[str, str | None]]) -> pd.DataFrame:
    import pandas as pd

    if not records:
        return _empty()
    return pd.DataFrame(records, columns=list(ISA_APPLICATION_COLUMNS), dtype=object)


class _Plan:
    """Which ERP receipt numbers a sync looks up, and when.

    Args:
        wanted: the ERP's distinct receipt numbers.
        base: the mirror's listing the new listing is merged into (empty for a full sync).
        reusable: looked-up applications that need no new lookup (final, from the mirror).
        looked_up_before: receipt numbers the last sync looked up and found outside its
            listing (None: no earlier sync to go by).
    """

    def __init__(
        self,
        wanted: list[str],
        *,
        base: pd.DataFrame,
        reusable: pd.DataFrame | None = None,
        looked_up_before: set[str] | None = None,
    ) -> None:
        self.wanted = wanted
        self.base = base
        self._base_receipts = set(base["receipt_number"])
        if reusable is None or reusable.empty:
            self.reusable = _empty()
        else:
            keep = reusable["receipt_number"].isin(set(wanted)) & ~reusable["receipt_number"].isin(
                self._base_receipts
            )
            self.reusable = reusable[keep]
        self._reused = set(self.reusable["receipt_number"])
        #: looked up while the listing runs: applications found outside the last listing (filed
        #: personally) stay outside it, so these lookups are needed whatever the listing says;
        #: receipt numbers new to the ERP or unknown to ISA wait for the listing instead
        before = looked_up_before or set()
        self.early = [
            receipt
            for receipt in wanted
            if receipt in before
            and receipt not in self._base_receipts
            and receipt not in self._reused
        ]

    def after_listing(self, listed: Iterable[Application]) -> list[str]:
        """The receipt numbers still to look up once the listing is known."""
        known = self._base_receipts | {application.receipt_number for application in listed}
        early = set(self.early)
        return [
            receipt
            for receipt in self.wanted
            if receipt not in known and receipt not in self._reused and receipt not in early
        ]


def _wanted(receipt_numbers: Iterable[str]) -> list[str]:
    return list(
        dict.fromkeys(
            text for text in (_clean(value) for value in receipt_numbers) if text is not None
        )
    )


def _list_and_look_up(
    source: ImmigrationStatusSource, plan: _Plan, *, updated_since: datetime | None
) -> tuple[pd.DataFrame, int, dict[str, Application | None]]:
    """List (merging into ``plan.base``) and look up what the plan says.

    Returns:
        The merged listing, how many applications were listed, and the lookups' answers.
    """
    overlapped: Callable[..., Any] | None = getattr(source, "list_and_get_applications", None)
    if callable(overlapped):
        listed, found = overlapped(
            plan.early, updated_since=updated_since, after_listing=plan.after_listing
        )
    else:
        listed = list(source.list_applications(updated_since=updated_since))
        missing = [*plan.early, *plan.after_listing(listed)]
        found = get_applications(source, missing) if missing else {}
    listing, count = _merge_listing(plan.base, listed)
    return listing, count, found


def _merge_listing(base: pd.DataFrame, listed: Iterable[Application]) -> tuple[pd.DataFrame, int]:
    """Merge listed applications into ``base``: per receipt number the newest ``updated_at``
    wins, a tie goes to the later one (listing after base, later pages after earlier ones).

    Returns:
        The merged listing sorted by receipt number, and how many applications were listed.
    """
    import pandas as pd

    records = [_flatten(application) for application in listed]
    delta = _records(records)
    if base.empty and delta.empty:
        return _empty(), 0
    parts = [part for part in (base, delta) if not part.empty]
    combined = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    repeated = combined["receipt_number"].duplicated(keep=False)
    if repeated.any():  # only repeated receipt numbers need their timestamps compared
        doubles = combined[repeated]
        moments = pd.to_datetime(doubles["updated_at"], utc=True, format="ISO8601")
        order = (
            pd.DataFrame({"receipt": doubles["receipt_number"], "at": moments})
            .sort_values(["receipt", "at"], kind="stable")
            .index
        )
        newest = doubles.loc[order].drop_duplicates("receipt_number", keep="last")
        combined = pd.concat([combined[~repeated], newest])
    merged = combined.sort_values("receipt_number", kind="stable").reset_index(drop=True)
    return merged, len(records)


def _complete(
    source: ImmigrationStatusSource,
    listing: pd.DataFrame,
    plan: _Plan,
    found: dict[str, Application | None],
    *,
    calls_before: int | None,
    listed: int,
    mode: str,
    reason: str,
    updated_since: datetime | None,
) -> tuple[pd.DataFrame, SyncStats, pd.DataFrame]:
    """Build the final frame from the listing and the lookups.

    Returns:
        The frame, the statistics and the individually looked-up applications (for the
        mirror): those found now plus the reused ones, for ERP receipt numbers outside the
        listing.
    """
    import pandas as pd

    known = set(listing["receipt_number"])
    outside = {receipt: app for receipt, app in found.items() if receipt not in known}
    records = [_flatten(app) for app in outside.values() if app is not None]
    not_found = sum(1 for app in outside.values() if app is None)
    reused = plan.reusable[~plan.reusable["receipt_number"].isin(known)]
    parts = [part for part in (_records(records), reused) if not part.empty]
    if parts:
        lookups = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        lookups = lookups.sort_values("receipt_number").reset_index(drop=True)
    else:
        lookups = _empty()
    parts = [part for part in (listing, lookups) if not part.empty]
    if parts:
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        frame = frame.sort_values("receipt_number", kind="stable").reset_index(drop=True)
    else:
        frame = _empty()
    calls_after = _counted_calls(source)
    if calls_before is not None and calls_after is not None:
        api_calls = calls_after - calls_before
    else:
        api_calls = 1 + len(found)
    watermark = _watermark(listing)
    stats = SyncStats(
        mode=mode,
        reason=reason,
        listed=listed,
        listing_rows=len(listing),
        fetched=len(found),
        not_found=not_found,
        rows=len(frame),
        api_calls=api_calls,
        updated_since=None if updated_since is None else updated_since.isoformat(),
        watermark=None if watermark is None else watermark.isoformat(),
        reused=len(reused),
    )
    log.info(
        "ISA applications (%s sync): %d listed, %d in the listing, %d ERP receipt numbers "
        "looked up individually (%d not found), %d final ones reused, %d distinct, "
        "%d API calls",
        mode,
        listed,
        len(listing),
        len(found),
        not_found,
        len(reused),
        len(frame),
        api_calls,
    )
    return frame, stats, lookups


def _watermark(listing: pd.DataFrame) -> datetime | None:
    """The newest ``updated_at`` of the listing, with the offset the API wrote."""
    import pandas as pd

    if listing.empty:
        return None
    moments = pd.to_datetime(listing["updated_at"], utc=True, format="ISO8601")
    return datetime.fromisoformat(str(listing["updated_at"].iloc[int(moments.argmax())]))


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

"""A local mirror of the organization's ISA listing, for incremental (``updated_since``) syncs.

A mirror directory holds three files:

* ``isa_listing.parquet`` -- the last merged listing: one row per organization application with
  the canonical :data:`~zairyu_sync.canonical.ISA_APPLICATION_COLUMNS` as text (the same values
  :func:`~zairyu_sync.immigration.sync.application_record` gives). It holds applicant personal
  data, like a run directory's Parquet files: its contents are never logged, and the files are
  created readable by their owner only.
* ``isa_lookups.parquet`` -- the applications the last sync looked up one by one (ERP receipt
  numbers outside the listing, e.g. personally filed applications), same columns. The sync
  reuses those in a final status until the next full sync
  (:func:`~zairyu_sync.immigration.sync.sync_isa_applications` explains why).
* ``isa_listing.json`` -- the state: format version, the API base URL and client id the listing
  came from, the watermark (the newest ``updated_at`` in the listing, as the API wrote it), when
  the last full listing ran, and the row counts and SHA-256 of both Parquet files.

All are written atomically (temporary file, fsync, rename), the Parquet files first and the
state last, so the state is the commit point: a crash before it leaves a state whose checksums
do not match the Parquet files, which reads as corrupt and triggers a full listing. A mirror that is
missing, unreadable, corrupt, of another format (a format-1 mirror without the lookups file
included), for another API base URL or client id, or whose last full listing is older than the
configured interval is not used (:func:`load_mirror` says why); the caller then lists
everything again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pandas as pd

from zairyu_sync.canonical import ISA_APPLICATION_COLUMNS

log = logging.getLogger(__name__)

LISTING_FILE: Final = "isa_listing.parquet"
LOOKUPS_FILE: Final = "isa_lookups.parquet"
STATE_FILE: Final = "isa_listing.json"
MIRROR_FORMAT: Final = 2


@dataclass(frozen=True)
class MirrorState:
    """The mirror's state file.

    Attributes:
        base_url: the API base URL the listing came from.
        client_id: the organization's client id at that API.
        watermark: the newest ``updated_at`` in the listing (None when it is empty).
        last_full_sync_at: when the listing was last read in full.
        synced_at: when the mirror was last written.
        rows: rows of the listing's Parquet file.
        sha256: checksum of the listing's Parquet file.
        lookups_rows: rows of the lookups' Parquet file.
        lookups_sha256: checksum of the lookups' Parquet file.
    """

    base_url: str
    client_id: str
    watermark: datetime | None
    last_full_sync_at: datetime
    synced_at: datetime
    rows: int
    sha256: str
    lookups_rows: int = 0
    lookups_sha256: str = ""

    def as_json(self) -> dict[str, Any]:
        """The JSON form written to the state file."""
        return {
            "format": MIRROR_FORMAT,
            "base_url": self.base_url,
            "client_id": self.client_id,
            "watermark": None if self.watermark is None else self.watermark.isoformat(),
            "last_full_sync_at": self.last_full_sync_at.isoformat(),
            "synced_at": self.synced_at.isoformat(),
            "rows": self.rows,
            "parquet_sha256": self.sha256,
            "lookups_rows": self.lookups_rows,
            "lookups_sha256": self.lookups_sha256,
        }


@dataclass(frozen=True)
class LoadedMirror:
    """A readable mirror: the listing and the lookups (canonical text columns) and its state."""

    listing: pd.DataFrame
    lookups: pd.DataFrame
    state: MirrorState


def load_mirror(
    directory: Path,
    *,
    base_url: str,
    client_id: str,
    now: datetime,
    full_every: timedelta,
) -> tuple[LoadedMirror | None, str]:
    """Read the mirror if it can be used for an incremental sync.

    Args:
        directory: the mirror directory.
        base_url: the API base URL of this sync.
        client_id: the client id of this sync.
        now: the current (timezone-aware) time.
        full_every: list in full when the last full listing is at least this old.

    Returns:
        The mirror and ``"ok"``, or None and the reason it is not used (``missing``,
        ``unreadable``, ``corrupt``, ``other_format``, ``other_source``, ``full_due``). Reasons
        never quote the mirror's contents.
    """
    mirror, reason = read_mirror(directory, base_url=base_url, client_id=client_id)
    if mirror is not None and not full_sync_current(mirror.state, now=now, full_every=full_every):
        return None, "full_due"
    return mirror, reason


def full_sync_current(state: MirrorState, *, now: datetime, full_every: timedelta) -> bool:
    """Whether the mirror's last full sync is less than ``full_every`` old (and not future)."""
    return timedelta(0) <= now - state.last_full_sync_at < full_every


def read_mirror(
    directory: Path, *, base_url: str, client_id: str
) -> tuple[LoadedMirror | None, str]:
    """Read and check the mirror, whatever the age of its last full sync.

    A full sync uses an intact mirror that is due for a full listing as a hint only (which
    receipt numbers were outside the listing last time), never as data.

    Returns:
        The mirror and ``"ok"``, or None and the reason (as :func:`load_mirror`, without
        ``full_due``).
    """
    state_path = directory / STATE_FILE
    listing_path = directory / LISTING_FILE
    lookups_path = directory / LOOKUPS_FILE
    if not state_path.exists() or not listing_path.exists() or not lookups_path.exists():
        return None, "missing"
    try:
        raw = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, "unreadable"
    if not isinstance(raw, dict) or raw.get("format") != MIRROR_FORMAT:
        return None, "other_format"
    try:
        state = _state_from_json(raw)
    except (KeyError, TypeError, ValueError):
        return None, "corrupt"
    if state.base_url != base_url or state.client_id != client_id:
        return None, "other_source"
    frames = []
    for path, rows, digest in (
        (listing_path, state.rows, state.sha256),
        (lookups_path, state.lookups_rows, state.lookups_sha256),
    ):
        try:
            content = path.read_bytes()
        except OSError:
            return None, "unreadable"
        if hashlib.sha256(content).hexdigest() != digest:
            return None, "corrupt"
        try:
            frame = pd.read_parquet(path)
        except Exception:  # noqa: BLE001 - any reader failure means the file is unusable
            return None, "corrupt"
        if list(frame.columns) != list(ISA_APPLICATION_COLUMNS) or len(frame) != rows:
            return None, "corrupt"
        frame = text_frame(frame)
        if frame["receipt_number"].isna().any() or frame["receipt_number"].duplicated().any():
            return None, "corrupt"
        frames.append(frame)
    return LoadedMirror(frames[0], frames[1], state), "ok"


def write_mirror(
    directory: Path,
    listing: pd.DataFrame,
    state: MirrorState,
    lookups: pd.DataFrame | None = None,
) -> MirrorState:
    """Write the Parquet files and then the state atomically; returns the state written.

    Args:
        directory: the mirror directory (created, owner-only, when missing).
        listing: the merged listing with the canonical columns.
        state: the state to record (row counts and checksums are filled in here).
        lookups: the individually looked-up applications, canonical columns (None: none).
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if lookups is None:
        lookups = pd.DataFrame(columns=list(ISA_APPLICATION_COLUMNS), dtype=object)
    digests = []
    for name, frame in ((LISTING_FILE, listing), (LOOKUPS_FILE, lookups)):
        tmp = directory / (name + ".tmp")
        frame.reset_index(drop=True).to_parquet(tmp, index=False)
        _commit(tmp, directory / name)
        digests.append(hashlib.sha256((directory / name).read_bytes()).hexdigest())
    final = replace(
        state,
        rows=len(listing),
        sha256=digests[0],
        lookups_rows=len(lookups),
        lookups_sha256=digests[1],
    )
    tmp = directory / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(final.as_json(), indent=2), encoding="utf-8")
    _commit(tmp, directory / STATE_FILE)
    _fsync_directory(directory)
    log.info("ISA mirror written: %d listed and %d looked-up rows", len(listing), len(lookups))
    return final


def text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with object dtype holding ``str`` or ``None`` (Parquet may read back NaN)."""
    converted = frame.astype(object)
    return converted.where(converted.notna(), None)


def _state_from_json(raw: dict[str, Any]) -> MirrorState:
    watermark = raw["watermark"]
    rows = raw["rows"]
    if not isinstance(rows, int) or rows < 0:
        raise ValueError("rows")
    state = MirrorState(
        base_url=str(raw["base_url"]),
        client_id=str(raw["client_id"]),
        watermark=None if watermark is None else _aware(str(watermark)),
        last_full_sync_at=_aware(str(raw["last_full_sync_at"])),
        synced_at=_aware(str(raw["synced_at"])),
        rows=rows,
        sha256=str(raw["parquet_sha256"]),
        lookups_rows=_count(raw["lookups_rows"]),
        lookups_sha256=str(raw["lookups_sha256"]),
    )
    return state


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("row count")
    return value


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp without offset")
    return moment


def _commit(tmp: Path, target: Path) -> None:
    os.chmod(tmp, 0o600)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(target)


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

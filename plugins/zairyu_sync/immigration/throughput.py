"""Measure the ISA sync's throughput against a rate-limited loopback simulator (benchmark only).

:func:`measure_isa_sync_throughput` serves ``applications`` synthetic organization applications
(plus personally filed ones and receipt numbers ISA does not know, so that a realistic share of
the ERP's receipt numbers must be looked up one by one) from a
:class:`~zairyu_sync.immigration.simulator.SimulatorServer` with a server-side rate limit and
injected latency, then runs a full :func:`~zairyu_sync.immigration.sync.sync_isa_applications`
without a mirror (the first run), an incremental one a day later after about 1% of the
applications changed, and the weekly full re-sync (mirror present, full sync due), with the
client's rate limit set to the server's. Speed is measured here, never asserted in tests.

The synthetic applicants are generated names and numbers, not real people.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zairyu_sync.immigration.client import HttpImmigrationClient
from zairyu_sync.immigration.models import Application
from zairyu_sync.immigration.sync import SyncStats, sync_isa_applications

if TYPE_CHECKING:
    from zairyu_sync.immigration.simulator import SimulatorServer

log = logging.getLogger(__name__)

_JST = timezone(timedelta(hours=9))
_PENDING = ("SUBMITTED", "RECEIVED", "UNDER_EXAMINATION", "AWAITING_ADDITIONAL_DOCUMENTS")
_DECIDED = ("PERMITTED", "AWAITING_ISSUANCE")
_FINAL = ("COMPLETED", "COMPLETED", "COMPLETED", "NOT_PERMITTED", "WITHDRAWN")
_TYPES = ("extension", "change", "acquisition", "certificate_of_eligibility")
_CLIENT_ID = "throughput-employer"


def synthetic_application(
    receipt: str, updated_at: datetime, rng: random.Random, *, status: str | None = None
) -> dict[str, Any]:
    """One contract-shaped application with generated (not real) applicant data."""
    filed = updated_at.date() - timedelta(days=rng.randint(0, 60))
    status = status or rng.choice(_PENDING)
    permitted = status in ("PERMITTED", "AWAITING_ISSUANCE", "COMPLETED")
    decided = permitted or status == "NOT_PERMITTED"
    return {
        "receipt_number": receipt,
        "application_type": rng.choice(_TYPES),
        "status": status,
        "filed_on": filed.isoformat(),
        "decided_on": updated_at.date().isoformat() if decided else None,
        "applicant": {
            "full_name": f"SAMPLE APPLICANT {rng.randrange(10**6):06d}",
            "date_of_birth": f"{rng.randint(1960, 2005)}-{rng.randint(1, 12):02d}-15",
            "nationality": rng.choice(("VNM", "PHL", "IDN", "NPL", "CHN")),
            "residence_card_number": f"ZZ{rng.randrange(10**8):08d}ZZ",
        },
        "requested_status": "specified_skilled_worker_i",
        "granted_status": "specified_skilled_worker_i" if permitted else None,
        "granted_period_expiry": (filed + timedelta(days=365)).isoformat() if permitted else None,
        "new_residence_card_number": (
            f"ZY{rng.randrange(10**8):08d}ZY" if status == "COMPLETED" else None
        ),
        "new_card_valid_until": (
            (filed + timedelta(days=365)).isoformat() if status == "COMPLETED" else None
        ),
        "additional_documents_due": None,
        "updated_at": updated_at.isoformat(),
    }


def _status_mix(rng: random.Random, pending_share: float) -> str:
    """A status: pending with ``pending_share``, else permitted-not-final 5%, else final."""
    draw = rng.random()
    if draw < pending_share:
        return rng.choice(_PENDING)
    if draw < pending_share + 0.05:
        return rng.choice(_DECIDED)
    return rng.choice(_FINAL)


def measure_isa_sync_throughput(
    *,
    applications: int = 100_000,
    rate_limit_per_second: float = 200.0,
    latency_ms: float = 30.0,
    personal_share: float = 0.2,
    not_found_share: float = 0.01,
    changed_share: float = 0.01,
    pending_share: float = 0.15,
    max_concurrency: int = 16,
    client_burst: float | None = None,
    page_size: int = 500,
    seed: int = 7,
    measure_full_resync: bool = True,
    measure_recheck: bool = False,
    server_process: bool = True,
    listing_ranges: int | None = None,
    first_sync_only: bool = False,
) -> dict[str, Any]:
    """Run full and incremental syncs against a rate-limited simulator and measure them.

    Args:
        applications: organization applications (the listing's size).
        rate_limit_per_second: the simulator's limit (burst of one second's worth) and the
            client's rate.
        latency_ms: latency injected into every API answer.
        personal_share: personally filed applications (looked up one by one), as a share of
            ``applications``; the ERP knows all of them.
        not_found_share: ERP receipt numbers ISA does not know, as a share of ``applications``.
        changed_share: share of the organization's applications updated between the first two
            syncs (plus a tenth of that many new ones), and of the personal applications still
            open that reach a decision.
        pending_share: share of applications still pending (5% more are permitted but not
            yet completed, the rest are in a final status), as in an ERP keeping years of
            applications.
        max_concurrency: the client's in-flight lookups.
        client_burst: the client's token-bucket burst (default a quarter second's worth, so
            network jitter never pushes the server's bucket below one).
        page_size: listing page size.
        seed: random seed of the synthetic data.
        measure_full_resync: also run the weekly full re-sync (mirror present, full sync due).
        measure_recheck: also run the incremental sync with ``recheck_final`` (every
            final application looked up again, the behaviour before final ones were reused),
            on a copy of the mirror before the incremental sync.
        server_process: run the simulator in its own process (default), as a real API runs
            on another machine: in the client's process it competes for the same interpreter
            lock, and its own per-request CPU (about as much as the client's) caps what a
            2-core machine under load can send. False serves it from a thread of this process
            (and reports ``server_requests``, the simulator's own count).
        listing_ranges: the client's ``listing_ranges`` (default: ``max_concurrency``; 1 reads
            the listing in one sequence, as before the listing could be split).
        first_sync_only: measure only the first full sync (no ``incremental``, ``combined``).

    Returns:
        JSON-safe figures: the setup, and per sync (``full``, ``incremental``, optionally
        ``incremental_recheck`` and ``full_resync``) the requests made, failed attempts
        (429/5xx/transport seen by the client), seconds, achieved requests per second, its
        share of the rate limit, listing pages, rows and the sync's statistics; ``combined``
        sums ``full`` and ``incremental``.
    """
    from zairyu_sync.immigration.simulator import FaultSettings, SimulatorDataset, SimulatorServer

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=730)
    span = int((now - start).total_seconds()) - 3600

    def moment() -> datetime:
        return (start + timedelta(seconds=rng.randrange(span))).astimezone(_JST)

    organization = [
        synthetic_application(
            f"2026-TKY-{index:08d}", moment(), rng, status=_status_mix(rng, pending_share)
        )
        for index in range(applications)
    ]
    personal = [
        synthetic_application(
            f"2026-OSA-{index:08d}", moment(), rng, status=_status_mix(rng, pending_share)
        )
        for index in range(round(applications * personal_share))
    ]
    not_found = [f"2026-NGY-{index:08d}" for index in range(round(applications * not_found_share))]
    # The ERP has recorded 98% of the organization's filings, every personal one and some
    # receipt numbers ISA does not know.
    erp_receipts = [
        *(app["receipt_number"] for app in organization if rng.random() < 0.98),
        *(app["receipt_number"] for app in personal),
        *not_found,
    ]
    rng.shuffle(erp_receipts)
    started = time.perf_counter()
    dataset = SimulatorDataset.from_json(
        json.dumps({"organization_applications": organization, "personal_applications": personal})
    )
    setup_seconds = time.perf_counter() - started
    secret = secrets.token_urlsafe(16)
    burst = client_burst if client_burst is not None else max(1.0, rate_limit_per_second / 4)
    result: dict[str, Any] = {
        "applications": applications,
        "personal_applications": len(personal),
        "erp_receipts": len(erp_receipts),
        "erp_receipts_not_listed": len(personal) + len(not_found),
        "rate_limit_per_second": rate_limit_per_second,
        "latency_ms": latency_ms,
        "max_concurrency": max_concurrency,
        "client_burst": burst,
        "page_size": page_size,
        "listing_ranges": listing_ranges if listing_ranges is not None else max_concurrency,
        "pending_share": pending_share,
        "dataset_seconds": round(setup_seconds, 2),
    }
    result["server_process"] = server_process
    with tempfile.TemporaryDirectory(prefix="zairyu-isa-mirror-") as tmp:
        server: _InProcess | _SimulatorProcess
        if server_process:
            server = _SimulatorProcess(
                Path(tmp), secret, rate=rate_limit_per_second, latency_ms=latency_ms
            )
            server.start(organization, personal)
        else:
            in_process = SimulatorServer(
                dataset,
                client_id=_CLIENT_ID,
                client_secret=secret,
                rate_limit_per_second=rate_limit_per_second,
                faults=FaultSettings(latency_ms=latency_ms),
            )
            in_process.start()
            server = _InProcess(in_process)
        try:
            mirror = Path(tmp) / "mirror"
            mirror_copy = Path(tmp) / "mirror-recheck"

            def run(label: str, when: datetime, *, recheck: bool = False) -> dict[str, Any]:
                with HttpImmigrationClient(
                    server.base_url,
                    _CLIENT_ID,
                    secret,
                    page_size=page_size,
                    max_requests_per_second=rate_limit_per_second,
                    rate_limit_burst=burst,
                    max_concurrency=max_concurrency,
                    listing_ranges=listing_ranges,
                ) as client:
                    requests_before = server.requests()
                    began = time.perf_counter()
                    frame, stats = sync_isa_applications(
                        client,
                        erp_receipts,
                        mirror_dir=mirror_copy if recheck else mirror,
                        now=when,
                        recheck_final=recheck,
                    )
                    seconds = time.perf_counter() - began
                    figures = _figures(
                        client.api_calls,
                        client.failed_attempts,
                        seconds,
                        rate_limit_per_second,
                        len(frame),
                        stats,
                    )
                    if requests_before is not None:
                        figures["server_requests"] = (server.requests() or 0) - requests_before
                log.info("ISA throughput %s: %s", label, figures)
                return figures

            result["full"] = run("full", now)
            if first_sync_only:
                return result
            changed = rng.sample(organization, round(applications * changed_share))
            later = (now + timedelta(hours=1)).astimezone(_JST)
            updates = [
                Application.model_validate_json(
                    json.dumps(
                        {**app, "status": "UNDER_EXAMINATION", "updated_at": later.isoformat()}
                    )
                )
                for app in changed
            ]
            still_open = [app for app in personal if app["status"] not in _FINAL]
            decided = [
                Application.model_validate_json(
                    json.dumps(
                        synthetic_application(app["receipt_number"], later, rng, status="COMPLETED")
                    )
                )
                for app in rng.sample(still_open, round(len(still_open) * changed_share))
            ]
            additions = [
                Application.model_validate_json(
                    json.dumps(synthetic_application(f"2026-SDJ-{index:08d}", later, rng))
                )
                for index in range(max(1, len(changed) // 10))
            ]
            server.upsert_applications([*updates, *additions])
            server.upsert_applications(decided, personal=True)
            server.restart()  # an out-of-process simulator reloads its changed dataset
            result["changed_applications"] = len(updates)
            result["new_applications"] = len(additions)
            result["decided_personal_applications"] = len(decided)
            if measure_recheck:
                shutil.copytree(mirror, mirror_copy)
                result["incremental_recheck"] = run(
                    "incremental_recheck", now + timedelta(days=1), recheck=True
                )
            result["incremental"] = run("incremental", now + timedelta(days=1))
            if measure_full_resync:
                result["full_resync"] = run("full_resync", now + timedelta(days=7))
        finally:
            server.stop()
    full, incremental = result["full"], result["incremental"]
    requests = full["requests"] + incremental["requests"]
    seconds = full["seconds"] + incremental["seconds"]
    result["combined"] = {
        "requests": requests,
        "failed_requests": full["failed_requests"] + incremental["failed_requests"],
        "seconds": round(seconds, 3),
        "requests_per_second": round(requests / seconds, 1) if seconds > 0 else 0.0,
        "share_of_rate_limit": round(requests / seconds / rate_limit_per_second, 3)
        if seconds > 0
        else 0.0,
    }
    return result


def _figures(
    requests: int, failed: int, seconds: float, rate: float, rows: int, stats: SyncStats
) -> dict[str, Any]:
    achieved = requests / seconds if seconds > 0 else 0.0
    return {
        "requests": requests,
        "listing_pages": requests - stats.fetched - 1,  # lookups and login off; exact sans retries
        "failed_requests": failed,
        "seconds": round(seconds, 3),
        "requests_per_second": round(achieved, 1),
        "share_of_rate_limit": round(achieved / rate, 3),
        "rows": rows,
        "stats": stats.as_dict(),
    }


class _InProcess:
    """A :class:`SimulatorServer` in a thread of this process."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.base_url = server.base_url

    def requests(self) -> int | None:
        return int(self.server.state.requests)

    def upsert_applications(
        self, applications: list[Application], *, personal: bool = False
    ) -> None:
        self.server.upsert_applications(applications, personal=personal)

    def restart(self) -> None:
        return None

    def stop(self) -> None:
        self.server.stop()


class _SimulatorProcess:
    """The simulator's command line in a child process; changes restart it on the same port."""

    def __init__(self, directory: Path, secret: str, *, rate: float, latency_ms: float) -> None:
        self.directory = directory
        self.secret = secret
        self.rate = rate
        self.latency_ms = latency_ms
        self.base_url = ""
        self._port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._organization: dict[str, dict[str, Any]] = {}
        self._personal: dict[str, dict[str, Any]] = {}

    def requests(self) -> int | None:
        return None

    def start(self, organization: list[dict[str, Any]], personal: list[dict[str, Any]]) -> None:
        self._organization = {app["receipt_number"]: app for app in organization}
        self._personal = {app["receipt_number"]: app for app in personal}
        self._launch()

    def upsert_applications(
        self, applications: list[Application], *, personal: bool = False
    ) -> None:
        target, other = (
            (self._personal, self._organization)
            if personal
            else (self._organization, self._personal)
        )
        for application in applications:
            other.pop(application.receipt_number, None)
            target[application.receipt_number] = application.model_dump(mode="json")

    def restart(self) -> None:
        self.stop()
        self._launch()

    def _launch(self) -> None:
        data = self.directory / "simulator-data.json"
        data.write_text(
            json.dumps(
                {
                    "organization_applications": list(self._organization.values()),
                    "personal_applications": list(self._personal.values()),
                }
            ),
            encoding="utf-8",
        )
        from zairyu_sync.immigration.simulator import CLIENT_SECRET_ENV, FAULTS_ENV

        port_file = self.directory / "simulator.port"
        port_file.unlink(missing_ok=True)
        env = {
            **os.environ,
            CLIENT_SECRET_ENV: self.secret,
            FAULTS_ENV: json.dumps({"latency_ms": self.latency_ms}),
        }
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "zairyu_sync.immigration.simulator",
                "--data",
                str(data),
                "--client-id",
                _CLIENT_ID,
                "--rate-limit",
                str(self.rate),
                "--port",
                str(self._port),
                "--port-file",
                str(port_file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the ISA simulator process did not start")
            time.sleep(0.1)
        self._port = int(port_file.read_text(encoding="ascii"))
        self.base_url = f"http://127.0.0.1:{self._port}"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

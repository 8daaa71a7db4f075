"""Concurrent receipt lookups and the incremental (mirror) sync against the simulator over HTTP."""

from __future__ import annotations

import json
import logging
import random
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.conftest import free_port
from zairyu_sync.canonical import ISA_APPLICATION_COLUMNS
from zairyu_sync.errors import ImmigrationApiUnavailable
from zairyu_sync.immigration import (
    Application,
    HttpImmigrationClient,
    SimulatorDataset,
    SimulatorServer,
    fetch_isa_applications,
    sync_isa_applications,
)
from zairyu_sync.immigration.mirror import LISTING_FILE, LOOKUPS_FILE, STATE_FILE
from zairyu_sync.immigration.simulator import FaultSettings

pytestmark = pytest.mark.integration

JST = timezone(timedelta(hours=9))
CLIENT_ID = "acme-hr"
CLIENT_SECRET = "acme-secret-value"
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
NAME_PREFIX = "PERSON TEST"
CARD_PREFIX = "QQ"


def _app(
    receipt: str, updated_at: datetime, *, status: str = "UNDER_EXAMINATION"
) -> dict[str, Any]:
    digits = "".join(ch for ch in receipt if ch.isdigit())[-8:]
    return {
        "receipt_number": receipt,
        "application_type": "extension",
        "status": status,
        "filed_on": "2026-08-01",
        "decided_on": None,
        "applicant": {
            "full_name": f"{NAME_PREFIX} {digits}",
            "date_of_birth": "1998-02-03",
            "nationality": "VNM",
            "residence_card_number": f"{CARD_PREFIX}{digits}AB",
        },
        "requested_status": "specified_skilled_worker_i",
        "granted_status": None,
        "granted_period_expiry": None,
        "new_residence_card_number": None,
        "new_card_valid_until": None,
        "additional_documents_due": None,
        "updated_at": updated_at.astimezone(JST).isoformat(),
    }


def _model(raw: dict[str, Any]) -> Application:
    return Application.model_validate_json(json.dumps(raw))


def _world(n_org: int = 120, n_personal: int = 40) -> tuple[SimulatorDataset, list[str]]:
    rng = random.Random(3)
    base = NOW - timedelta(days=200)
    org = [
        _app(f"2026-TKY-{i:07d}", base + timedelta(minutes=rng.randrange(200 * 24 * 60)))
        for i in range(n_org)
    ]
    personal = [
        _app(f"2026-OSA-{i:07d}", base + timedelta(days=rng.randrange(200)))
        for i in range(n_personal)
    ]
    erp = [
        *(a["receipt_number"] for a in org[: n_org - 10]),  # 10 untracked by the ERP
        *(a["receipt_number"] for a in personal),
        *(f"2026-NGY-{i:07d}" for i in range(5)),  # unknown to ISA
    ]
    dataset = SimulatorDataset.from_json(
        json.dumps({"organization_applications": org, "personal_applications": personal})
    )
    return dataset, erp


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests in flight (the bound under test) and logins, over a real transport."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.logins = 0
        self.lookups = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if request.url.path != "/v1/auth/token":
                self.lookups += 1
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            if request.url.path == "/v1/auth/token" and response.status_code == 200:
                with self._lock:
                    self.logins += 1  # tokens issued (failed login attempts are retries)
            return response
        finally:
            with self._lock:
                self.in_flight -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def world() -> tuple[SimulatorDataset, list[str]]:
    return _world()


@pytest.fixture
def simulator(world: tuple[SimulatorDataset, list[str]]) -> Iterator[SimulatorServer]:
    with SimulatorServer(
        world[0], client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=free_port()
    ) as server:
        yield server


def _client(server: SimulatorServer, **options: Any) -> HttpImmigrationClient:
    settings: dict[str, Any] = {
        "page_size": 50,
        "timeout": 5.0,
        "max_requests_per_second": 1000.0,
        "backoff_initial_seconds": 0.05,
        "max_backoff_seconds": 2.0,
    }
    settings.update(options)
    return HttpImmigrationClient(server.base_url, CLIENT_ID, CLIENT_SECRET, **settings)


def _sequential_truth(server: SimulatorServer, receipts: list[str]) -> dict[str, Any]:
    with _client(server, max_concurrency=1) as client:
        return {receipt: client.get_application(receipt) for receipt in receipts}


# --- bounded concurrency ----------------------------------------------------------------------


@pytest.mark.parametrize("bound", [1, 3, 8])
def test_in_flight_requests_never_exceed_the_bound(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]], bound: int
) -> None:
    simulator.set_faults(FaultSettings(latency_ms=40))
    receipts = world[1][-45:]  # personal and unknown receipts
    transport = CountingTransport()
    with _client(simulator, max_concurrency=bound, async_transport=transport) as client:
        found = client.get_applications(receipts)
    simulator.set_faults(FaultSettings())
    assert found == _sequential_truth(simulator, receipts)
    assert list(found) == receipts
    if bound == 1:  # one at a time on the synchronous connection
        assert transport.lookups == 0
    else:
        assert transport.lookups == len(receipts)
        assert 2 <= transport.max_in_flight <= bound
        assert transport.logins == 1


def test_429s_are_retried_after_retry_after_under_concurrency(
    world: tuple[SimulatorDataset, list[str]],
) -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        import asyncio

        sleeps.append(seconds)
        await asyncio.sleep(min(seconds, 0.3))

    with SimulatorServer(
        world[0],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        port=free_port(),
        rate_limit_per_second=20,
    ) as server:
        receipts = world[1][-45:]
        with _client(
            server, max_concurrency=6, max_requests_per_second=200.0, async_sleep=record
        ) as client:
            found = client.get_applications(receipts)
            failed = client.failed_attempts
        truth_found = _sequential_truth(server, receipts)
    assert found == truth_found
    assert failed >= 1
    assert sleeps and set(sleeps) == {1.0}  # Retry-After honoured exactly


def test_5xx_and_revoked_tokens_under_concurrency(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]]
) -> None:
    receipts = world[1]
    truth = _sequential_truth(simulator, receipts)
    simulator.set_faults(FaultSettings(seed=11, error_5xx_share=0.1, token_revoke_share=0.03))
    transport = CountingTransport()
    try:
        with _client(
            simulator, max_concurrency=6, async_transport=transport, max_attempts=8
        ) as client:
            found = client.get_applications(receipts)
        injected = simulator.state.injected
    finally:
        simulator.set_faults(FaultSettings())
    assert found == truth
    assert injected.error_5xx >= 3 and injected.token_revoked >= 1
    # a revoked token seen by several in-flight requests leads to one login, not one each
    assert transport.logins == 1 + injected.token_revoked


def test_outage_opens_the_breaker_and_cancels_the_other_lookups(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]]
) -> None:
    with _client(simulator, max_concurrency=4) as client:
        client.authenticate()
        simulator.set_faults(FaultSettings(outage_seconds=3600))
        before = simulator.state.requests
        try:
            with pytest.raises(ImmigrationApiUnavailable, match="ISA status API unavailable"):
                client.get_applications(world[1])
        finally:
            simulator.set_faults(FaultSettings())
        sent = simulator.state.requests - before
    # each lookup gives up after max_attempts (5), and failures of lookups in flight together
    # count once towards the breaker (10): the first lookup to give up ends the batch and
    # cancels the others, so at most 4 lookups x 5 attempts were sent
    assert 5 <= sent <= 5 * 4
    assert sent < len(world[1])


# --- incremental sync -------------------------------------------------------------------------


def _change_world(server: SimulatorServer, dataset: SimulatorDataset, erp: list[str]) -> list[str]:
    """Update some applications, add new organization and personal ones; returns the new ERP."""
    later = NOW + timedelta(hours=3)
    org = sorted(dataset.organization_applications, key=lambda a: a.receipt_number)
    updated = [
        _model(
            {
                **app.model_dump(mode="json"),
                "status": "AWAITING_ADDITIONAL_DOCUMENTS",
                "additional_documents_due": "2026-12-10",
                "updated_at": later.isoformat(),
            }
        )
        for app in org[::17]
    ]
    # one change lands with an updated_at just before the watermark (a late commit): the
    # overlap must catch it
    newest = max(dataset.organization_applications, key=lambda a: a.updated_at)
    late = _model(
        {
            **org[5].model_dump(mode="json"),
            "status": "PERMITTED",
            "updated_at": (newest.updated_at - timedelta(minutes=10)).isoformat(),
        }
    )
    new_org = [_model(_app(f"2026-SDJ-{i:07d}", later)) for i in range(4)]
    server.upsert_applications([*updated, late, *new_org])
    personal_changed = _model(
        {
            **dataset.personal_applications[0].model_dump(mode="json"),
            "status": "COMPLETED",
            "updated_at": later.isoformat(),
        }
    )
    new_personal = _model(_app("2026-OSA-9999999", later, status="RECEIVED"))
    server.upsert_applications([personal_changed, new_personal], personal=True)
    # the ERP learns about two of the new organization filings, the new personal one, and
    # one previously unknown receipt number is now filed
    return [*erp, new_org[0].receipt_number, new_org[1].receipt_number, "2026-OSA-9999999"]


def test_incremental_sync_equals_a_full_sync(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]], tmp_path: Path
) -> None:
    dataset, erp = world
    mirror = tmp_path / "mirror"
    with _client(simulator, max_concurrency=4) as client:
        first, first_stats = sync_isa_applications(client, erp, mirror_dir=mirror, now=NOW)
    with _client(simulator) as client:
        pd.testing.assert_frame_equal(first, fetch_isa_applications(client, erp).copy())
    assert first_stats.mode == "full" and first_stats.reason == "missing"
    assert first_stats.listed == 120 and first_stats.fetched == 45
    assert first_stats.not_found == 5 and first_stats.rows == len(first) == 120 + 40

    erp2 = _change_world(simulator, dataset, erp)
    with _client(simulator, max_concurrency=4) as client:
        incremental, stats = sync_isa_applications(
            client, erp2, mirror_dir=mirror, now=NOW + timedelta(days=1)
        )
        incremental_calls = client.api_calls
    with _client(simulator) as client:
        full = fetch_isa_applications(client, erp2)
        full_calls = client.api_calls
    full.attrs = {}
    pd.testing.assert_frame_equal(incremental, full)
    assert list(incremental.columns) == list(ISA_APPLICATION_COLUMNS)
    assert set(map(type, incremental.to_numpy().ravel())) <= {str, type(None)}
    assert incremental["receipt_number"].is_monotonic_increasing
    assert stats.mode == "incremental"
    assert stats.listed < 30  # the changed ones plus the overlap, not the 124 applications
    assert stats.listing_rows == 124
    assert stats.fetched == 46 and stats.not_found == 5 and stats.reused == 0
    assert incremental_calls < full_calls
    row = incremental.set_index("receipt_number").loc["2026-TKY-0000005"]
    assert row["status"] == "PERMITTED"  # the late change inside the overlap was caught
    assert json.dumps(stats.as_dict())  # JSON-safe


def test_without_a_mirror_dir_the_sync_lists_in_full_every_time(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]]
) -> None:
    with _client(simulator) as client:
        frame, stats = sync_isa_applications(client, world[1], mirror_dir=None, now=NOW)
        again, stats2 = sync_isa_applications(client, world[1], mirror_dir=None, now=NOW)
    pd.testing.assert_frame_equal(frame, again)
    assert (stats.mode, stats.reason, stats2.mode) == ("full", "no_mirror_dir", "full")


def _primed(server: SimulatorServer, erp: list[str], mirror: Path) -> None:
    with _client(server) as client:
        sync_isa_applications(client, erp, mirror_dir=mirror, now=NOW)


def _corrupt_parquet(mirror: Path) -> None:
    path = mirror / LISTING_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _parquet_replaced(mirror: Path) -> None:
    """A crash after the Parquet file was replaced but before the state was."""
    pd.DataFrame([{column: "x" for column in ISA_APPLICATION_COLUMNS}], dtype=object).to_parquet(
        mirror / LISTING_FILE, index=False
    )


def _state_edit(**changes: Any) -> Any:
    def edit(mirror: Path) -> None:
        path = mirror / STATE_FILE
        state = json.loads(path.read_text())
        state.update(changes)
        path.write_text(json.dumps(state))

    return edit


@pytest.mark.parametrize(
    ("damage", "later", "reason"),
    [
        (lambda mirror: (mirror / STATE_FILE).unlink(), timedelta(days=1), "missing"),
        (lambda mirror: (mirror / LISTING_FILE).unlink(), timedelta(days=1), "missing"),
        (
            lambda mirror: (mirror / STATE_FILE).write_text("{not json"),
            timedelta(days=1),
            "unreadable",
        ),
        (_corrupt_parquet, timedelta(days=1), "corrupt"),
        (_parquet_replaced, timedelta(days=1), "corrupt"),
        (_state_edit(format=99), timedelta(days=1), "other_format"),
        (_state_edit(watermark="yesterday"), timedelta(days=1), "corrupt"),
        (_state_edit(base_url="http://127.0.0.1:1"), timedelta(days=1), "other_source"),
        (_state_edit(client_id="other-org"), timedelta(days=1), "other_source"),
        (lambda mirror: None, timedelta(days=7), "full_due"),
        (lambda mirror: None, timedelta(days=-1), "full_due"),  # clock went backwards
        (lambda mirror: None, timedelta(days=6, hours=23), "incremental"),
    ],
)
def test_an_untrustworthy_mirror_means_a_full_listing(
    simulator: SimulatorServer,
    world: tuple[SimulatorDataset, list[str]],
    tmp_path: Path,
    damage: Any,
    later: timedelta,
    reason: str,
) -> None:
    mirror = tmp_path / "mirror"
    _primed(simulator, world[1], mirror)
    damage(mirror)
    with _client(simulator) as client:
        frame, stats = sync_isa_applications(client, world[1], mirror_dir=mirror, now=NOW + later)
        truth = fetch_isa_applications(client, world[1])
    truth.attrs = {}
    assert stats.reason == reason
    assert stats.mode == ("incremental" if reason == "incremental" else "full")
    pd.testing.assert_frame_equal(frame, truth)
    if stats.mode == "incremental":
        return
    # the rewritten mirror is usable again (a full listing restarts the interval)
    with _client(simulator) as client:
        _, next_stats = sync_isa_applications(
            client, world[1], mirror_dir=mirror, now=NOW + later + timedelta(hours=1)
        )
    assert next_stats.mode == "incremental"


def test_a_failed_sync_leaves_the_mirror_untouched(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]], tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    _primed(simulator, world[1], mirror)
    before = {name: (mirror / name).read_bytes() for name in (LISTING_FILE, STATE_FILE)}
    simulator.set_faults(FaultSettings(outage_seconds=3600))
    try:
        with (
            _client(simulator, max_attempts=2, circuit_breaker_threshold=3) as client,
            pytest.raises(ImmigrationApiUnavailable),
        ):
            sync_isa_applications(client, world[1], mirror_dir=mirror, now=NOW + timedelta(days=1))
    finally:
        simulator.set_faults(FaultSettings())
    assert {name: (mirror / name).read_bytes() for name in before} == before


def test_mirror_state_and_logs_carry_no_applicant_data(
    simulator: SimulatorServer,
    world: tuple[SimulatorDataset, list[str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mirror = tmp_path / "mirror"
    caplog.set_level(logging.DEBUG)
    with _client(simulator, max_concurrency=4) as client:
        sync_isa_applications(client, world[1], mirror_dir=mirror, now=NOW)
        sync_isa_applications(client, world[1], mirror_dir=mirror, now=NOW + timedelta(days=1))
    state = (mirror / STATE_FILE).read_text()
    assert NAME_PREFIX not in state and CARD_PREFIX not in state
    assert "1998-02-03" not in state
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "ISA applications (incremental sync)" in text
    assert NAME_PREFIX not in text and f"{CARD_PREFIX}0" not in text and "1998-02-03" not in text
    assert oct((mirror / LISTING_FILE).stat().st_mode & 0o777) == oct(0o600)


# --- final applications outside the listing ---------------------------------------------------


def _decide(app: Application, status: str, when: datetime, **changes: Any) -> Application:
    return _model(
        {
            **app.model_dump(mode="json"),
            "status": status,
            "decided_on": "2026-11-20",
            "updated_at": when.astimezone(JST).isoformat(),
            **changes,
        }
    )


def test_final_lookups_are_reused_until_the_next_full_sync(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]], tmp_path: Path
) -> None:
    dataset, erp = world
    personal = sorted(dataset.personal_applications, key=lambda a: a.receipt_number)
    # 30 of the 40 personal applications are decided for good, 10 are still open
    finals = [
        _decide(app, ("COMPLETED", "NOT_PERMITTED", "WITHDRAWN")[i % 3], NOW - timedelta(days=3))
        for i, app in enumerate(personal[:30])
    ]
    simulator.upsert_applications(finals, personal=True)
    mirror = tmp_path / "mirror"

    def sync(when: datetime, directory: Path = mirror, **options: Any) -> Any:
        with _client(simulator, max_concurrency=4) as client:
            frame, stats = sync_isa_applications(
                client, erp, mirror_dir=directory, now=when, **options
            )
            calls = client.api_calls
        with _client(simulator) as client:
            truth = fetch_isa_applications(client, erp)
        truth.attrs = {}
        return frame, stats, calls, truth

    first, first_stats, _, truth = sync(NOW)
    pd.testing.assert_frame_equal(first, truth)
    assert first_stats.fetched == 45 and first_stats.reused == 0

    # only open applications change (as the contract allows): the incremental sync reuses the
    # 30 final ones and still equals a full sync
    later = NOW + timedelta(hours=5)
    simulator.upsert_applications(
        [
            _decide(personal[30], "PERMITTED", later, granted_status="specified_skilled_worker_i"),
            _model({**personal[31].model_dump(mode="json"), "updated_at": later.isoformat()}),
        ],
        personal=True,
    )
    day1, stats1, calls1, truth1 = sync(NOW + timedelta(days=1))
    pd.testing.assert_frame_equal(day1, truth1)
    assert (stats1.mode, stats1.reused, stats1.fetched) == ("incremental", 30, 15)
    assert stats1.not_found == 5
    assert calls1 == 1 + 1 + 15  # login, one listing page, the open and unknown receipts
    assert day1.set_index("receipt_number").loc[personal[30].receipt_number, "status"] == (
        "PERMITTED"
    )

    # against the contract, ISA corrects a completed application: the incremental sync keeps
    # the mirrored version (the accepted staleness) ...
    corrected = finals[0].receipt_number
    assert finals[0].status == "COMPLETED"
    simulator.upsert_applications(
        [_decide(finals[0], "COMPLETED", later, new_residence_card_number="QQ99999999ZZ")],
        personal=True,
    )
    recheck_dir = tmp_path / "mirror-recheck"
    shutil.copytree(mirror, recheck_dir)
    day2, stats2, _, truth2 = sync(NOW + timedelta(days=2))
    assert stats2.reused == 30
    stale = day2.set_index("receipt_number").loc[corrected]
    assert stale["new_residence_card_number"] is None
    different = (day2.fillna("<null>") != truth2.fillna("<null>")).any(axis=1)
    assert list(day2.loc[different, "receipt_number"]) == [corrected]
    # ... recheck_final looks it up at once ...
    rechecked, stats_recheck, _, _ = sync(NOW + timedelta(days=2), recheck_dir, recheck_final=True)
    assert stats_recheck.reused == 0 and stats_recheck.fetched == 45
    pd.testing.assert_frame_equal(rechecked, truth2)
    # ... and without it the next full sync (full_every after the last one) picks it up
    day6, stats6, _, _ = sync(NOW + timedelta(days=6, hours=23))
    assert stats6.mode == "incremental" and stats6.reused == 30
    assert day6.set_index("receipt_number").loc[corrected, "new_residence_card_number"] is None
    day7, stats7, _, truth7 = sync(NOW + timedelta(days=7))
    assert (stats7.mode, stats7.reason, stats7.reused, stats7.fetched) == (
        "full",
        "full_due",
        0,
        45,
    )
    pd.testing.assert_frame_equal(day7, truth7)
    assert day7.set_index("receipt_number").loc[corrected, "new_residence_card_number"] == (
        "QQ99999999ZZ"
    )
    # the full sync restarts the interval: final ones are reused again the next day
    _, stats8, _, _ = sync(NOW + timedelta(days=8))
    assert (stats8.mode, stats8.reused) == ("incremental", 30)


def test_a_format_1_mirror_means_a_full_listing(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]], tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    _primed(simulator, world[1], mirror)
    (mirror / LOOKUPS_FILE).unlink()
    _state_edit(format=1)(mirror)
    with _client(simulator) as client:
        _, stats = sync_isa_applications(
            client, world[1], mirror_dir=mirror, now=NOW + timedelta(days=1)
        )
    assert (stats.mode, stats.reason) == ("full", "missing")

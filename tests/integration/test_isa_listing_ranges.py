"""The listing read as concurrent ``updated_at`` ranges, against the simulator over loopback HTTP.

Every test compares with the sequential listing of the same simulator state: the ranges must
give exactly the same applications in the same order, with applications sharing an
``updated_at`` at the range bounds, under faults and through the sync with its mirror.
"""

from __future__ import annotations

import collections
import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.conftest import free_port
from zairyu_sync.immigration import (
    Application,
    HttpImmigrationClient,
    SimulatorDataset,
    SimulatorServer,
    create_app,
    fetch_isa_applications,
    sync_isa_applications,
)
from zairyu_sync.immigration.mirror import LISTING_FILE
from zairyu_sync.immigration.simulator import FaultSettings

pytestmark = pytest.mark.integration

JST = timezone(timedelta(hours=9))
CLIENT_ID = "acme-hr"
CLIENT_SECRET = "acme-secret-value"
START = datetime(2026, 5, 1, 8, 0, tzinfo=JST)
#: the client's wall clock: 121 of the 180 minutes of data lie before it; the first page (7
#: applications) ends at minute 1, so 2, 5 or 8 ranges cut the rest at whole minutes
NOW = START + timedelta(minutes=121)
SHARED = 4  # applications per updated_at
PAGE_SIZE = 7


def _app(receipt: str, updated_at: datetime) -> dict[str, Any]:
    digits = "".join(ch for ch in receipt if ch.isdigit())[-8:]
    return {
        "receipt_number": receipt,
        "application_type": "extension",
        "status": "UNDER_EXAMINATION",
        "filed_on": "2026-04-01",
        "decided_on": None,
        "applicant": {
            "full_name": f"PERSON TEST {digits}",
            "date_of_birth": "1998-02-03",
            "nationality": "VNM",
            "residence_card_number": f"QQ{digits}AB",
        },
        "requested_status": "specified_skilled_worker_i",
        "granted_status": None,
        "granted_period_expiry": None,
        "new_residence_card_number": None,
        "new_card_valid_until": None,
        "additional_documents_due": None,
        "updated_at": updated_at.isoformat(),
    }


def _world() -> tuple[SimulatorDataset, list[str]]:
    """720 organization applications, 4 per minute (half of them written in UTC), 60 personal."""
    rng = random.Random(11)
    org = []
    for index in range(720):
        moment = START + timedelta(minutes=index // SHARED)
        if index % 2:
            moment = moment.astimezone(UTC)
        org.append(_app(f"2026-TKY-{rng.randrange(10**7):07d}-{index}", moment))
    personal = [
        _app(f"2026-OSA-{index:07d}", START + timedelta(minutes=rng.randrange(180)))
        for index in range(60)
    ]
    erp = [
        *(app["receipt_number"] for app in org if rng.random() < 0.9),
        *(app["receipt_number"] for app in personal),
        *(f"2026-NGY-{index:07d}" for index in range(5)),
    ]
    rng.shuffle(erp)
    dataset = SimulatorDataset.from_json(
        json.dumps({"organization_applications": org, "personal_applications": personal})
    )
    return dataset, erp


@pytest.fixture
def world() -> tuple[SimulatorDataset, list[str]]:
    return _world()


@pytest.fixture
def simulator(world: tuple[SimulatorDataset, list[str]]) -> Iterator[SimulatorServer]:
    with SimulatorServer(
        world[0], client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=free_port()
    ) as server:
        yield server


class RecordingTransport(httpx.AsyncBaseTransport):
    """Records the listing requests' parameters; optionally expires one page token."""

    def __init__(self, server: SimulatorServer, *, expire_after: int | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.server = server
        self.expire_after = expire_after
        self.listing_params: list[httpx.QueryParams] = []
        self.expired = 0
        self._token_requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/applications":
            self.listing_params.append(request.url.params)
            if "page_token" in request.url.params:
                self._token_requests += 1
                if self._token_requests == self.expire_after:
                    self.server.set_faults(FaultSettings(page_token_expiry_share=1.0))
        response = await self._inner.handle_async_request(request)
        await response.aread()
        if response.status_code == 410:
            self.expired += 1
            self.server.set_faults(FaultSettings())  # one expiry per range at most
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _client(server: SimulatorServer, **options: Any) -> HttpImmigrationClient:
    settings: dict[str, Any] = {
        "page_size": PAGE_SIZE,
        "timeout": 5.0,
        "max_requests_per_second": 2000.0,
        "backoff_initial_seconds": 0.02,
        "max_backoff_seconds": 2.0,
        "max_concurrency": 8,
        "wall_clock": lambda: NOW,
    }
    settings.update(options)
    return HttpImmigrationClient(server.base_url, CLIENT_ID, CLIENT_SECRET, **settings)


def _dump(applications: list[Application]) -> list[dict[str, Any]]:
    return [app.model_dump(mode="json") for app in applications]


def _sequential(server: SimulatorServer, **listing: Any) -> list[Application]:
    with _client(server, listing_ranges=1) as client:
        return list(client.list_applications(**listing))


def _bounds(transport: RecordingTransport) -> list[datetime]:
    return sorted(
        {
            datetime.fromisoformat(params["updated_before"])
            for params in transport.listing_params
            if "updated_before" in params
        }
    )


@pytest.mark.parametrize("ranges", [2, 5, 8])
def test_ranges_give_exactly_the_sequential_listing(
    simulator: SimulatorServer, ranges: int, caplog: pytest.LogCaptureFixture
) -> None:
    truth = _sequential(simulator)
    transport = RecordingTransport(simulator)
    with (
        caplog.at_level(logging.INFO, logger="zairyu_sync.immigration.client"),
        _client(simulator, listing_ranges=ranges, async_transport=transport) as client,
    ):
        listed, found = client.list_and_get_applications()
    assert _dump(listed) == _dump(truth)
    assert found == {}
    assert any(f"as {ranges} updated_at ranges" in r.getMessage() for r in caplog.records)
    bounds = _bounds(transport)
    assert len(bounds) == ranges - 1
    by_moment = collections.Counter(app.updated_at for app in truth)
    # every bound is a minute at which SHARED applications were updated, split across ranges
    assert all(by_moment[bound] == SHARED for bound in bounds)
    sequential_pages = -(-len(truth) // PAGE_SIZE)
    assert len(transport.listing_params) <= sequential_pages + ranges + 1


def test_an_api_without_updated_before_is_read_in_one_sequence(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    truth = _sequential(simulator)
    simulator.set_faults(FaultSettings(without_updated_before=True))
    transport = RecordingTransport(simulator)
    with (
        caplog.at_level(logging.INFO, logger="zairyu_sync.immigration.client"),
        _client(simulator, async_transport=transport) as client,
    ):
        listed, found = client.list_and_get_applications()
    assert _dump(listed) == _dump(truth)
    assert found == {}
    assert _bounds(transport)  # ranges were tried (and refused)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "ISA listing: it answered HTTP 400 (invalid_request) to a range bounded by "
        "updated_before, so the listing is read in one sequence (the connection extra "
        "listing_ranges=1 skips this attempt)"
    ]
    first_range = [p for p in transport.listing_params if "updated_since" not in p]
    assert len(first_range) == -(-len(truth) // PAGE_SIZE)


def test_ranges_with_updated_since_give_the_sequential_listing(simulator: SimulatorServer) -> None:
    since = START + timedelta(minutes=33, seconds=20)
    truth = _sequential(simulator, updated_since=since)
    transport = RecordingTransport(simulator)
    with _client(simulator, async_transport=transport) as client:
        listed, _ = client.list_and_get_applications(updated_since=since)
    assert _dump(listed) == _dump(truth)
    assert min(app.updated_at for app in listed) >= since
    assert len(_bounds(transport)) >= 2


def test_an_expired_page_token_restarts_one_range(simulator: SimulatorServer) -> None:
    truth = _sequential(simulator)
    transport = RecordingTransport(simulator, expire_after=12)
    with _client(simulator, async_transport=transport) as client:
        listed, _ = client.list_and_get_applications()
    assert transport.expired >= 1  # (set_faults resets the simulator's own counters)
    assert _dump(listed) == _dump(truth)


def test_ranges_under_5xx_and_429_give_the_sequential_listing(
    simulator: SimulatorServer,
) -> None:
    truth = _sequential(simulator)
    simulator.set_faults(FaultSettings(seed=5, error_5xx_share=0.15, rate_limit_share=0.03))
    transport = RecordingTransport(simulator)
    with _client(
        simulator,
        max_attempts=8,
        circuit_breaker_threshold=20,
        max_backoff_seconds=1.5,
        async_transport=transport,
    ) as client:
        listed, _ = client.list_and_get_applications()
        failed = client.failed_attempts
    injected = simulator.state.injected
    assert injected.error_5xx > 0 and failed >= injected.error_5xx
    assert len(_bounds(transport)) >= 2  # the listing was read in ranges
    assert _dump(listed) == _dump(truth)


def test_full_fetch_and_mirror_sync_equal_the_sequential_ones(
    simulator: SimulatorServer, world: tuple[SimulatorDataset, list[str]], tmp_path: Path
) -> None:
    _, erp = world
    with _client(simulator, listing_ranges=1) as client:
        sequential = fetch_isa_applications(client, erp)
    transport = RecordingTransport(simulator)
    with _client(simulator, async_transport=transport) as client:
        ranged = fetch_isa_applications(client, erp)
    assert len(_bounds(transport)) >= 2  # the listing was read in ranges
    pd.testing.assert_frame_equal(ranged, sequential)
    assert ranged.attrs["api_calls"] <= sequential.attrs["api_calls"] + 8 + 1

    frames, listings = [], []
    for ranges, mirror in ((1, tmp_path / "sequential"), (8, tmp_path / "ranged")):
        with _client(simulator, listing_ranges=ranges) as client:
            frame, stats = sync_isa_applications(client, erp, mirror_dir=mirror, now=NOW)
        assert stats.mode == "full"
        frames.append(frame)
        listings.append(pd.read_parquet(mirror / LISTING_FILE))
    pd.testing.assert_frame_equal(frames[1], frames[0])
    pd.testing.assert_frame_equal(listings[1], listings[0])
    pd.testing.assert_frame_equal(frames[0], sequential)


def test_the_simulator_serves_half_open_ranges(world: tuple[SimulatorDataset, list[str]]) -> None:
    app = create_app(world[0], client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    since = START + timedelta(minutes=10)
    before = START + timedelta(minutes=20)
    with TestClient(app) as raw:
        token = raw.post(
            "/v1/auth/token", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def read(**params: str) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            query: dict[str, str | int] = {"page_size": 6, **params}
            while True:
                page = raw.get("/v1/applications", params=query, headers=headers).json()
                items += page["items"]
                if page["next_page_token"] is None:
                    return items
                query["page_token"] = page["next_page_token"]

        window = read(updated_since=since.isoformat(), updated_before=before.isoformat())
        lower = read(updated_before=before.isoformat())
        upper = read(updated_since=before.isoformat())
        whole = read()
        empty = raw.get(
            "/v1/applications",
            params={"updated_since": before.isoformat(), "updated_before": since.isoformat()},
            headers=headers,
        )
        equal = raw.get(
            "/v1/applications",
            params={"updated_since": since.isoformat(), "updated_before": since.isoformat()},
            headers=headers,
        )
        naive = raw.get(
            "/v1/applications", params={"updated_before": "2026-05-01T09:00:00"}, headers=headers
        )
    moments = [datetime.fromisoformat(item["updated_at"]) for item in window]
    assert len(window) == 10 * SHARED and all(since <= m < before for m in moments)
    assert lower + upper == whole  # adjacent ranges partition the listing, in order
    assert all(datetime.fromisoformat(item["updated_at"]) < before for item in lower)
    assert empty.status_code == equal.status_code == naive.status_code == 400
    assert empty.json()["error"]["code"] == "invalid_request"

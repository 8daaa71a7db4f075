"""Resilience of the ISA sync against an unreliable status API (the acceptance figure).

A ~150-employee sample ERP is extracted and validated once; the ISA simulator then serves its
seed over real HTTP on loopback, and ``pipeline.run_isa_sync`` + ``run_reconcile`` run against it
with faults injected. With 20% 5xx, 10% 429, 5% read timeouts and 1% malformed bodies the
findings are exactly those of a clean run; with a total outage the sync fails fast and cleanly,
writes no ISA file, and a warehouse loaded by an earlier clean run is untouched.

The measured figures are printed (``pytest -s``) for docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync.config import PolicySettings
from zairyu_sync.erp_sample import generate_sample, write_erp, write_isa_seed
from zairyu_sync.errors import (
    ImmigrationApiError,
    ImmigrationApiResponseError,
    ImmigrationApiUnavailable,
)
from zairyu_sync.immigration.client import HttpImmigrationClient, TokenBucket
from zairyu_sync.immigration.simulator import FaultSettings, SimulatorServer, load_dataset
from zairyu_sync.pipeline import run_extract, run_isa_sync, run_load, run_reconcile, run_validate
from zairyu_sync.runs import RunContext, make_run_context, read_frame

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 25)
CLIENT_ID = "faults"
CLIENT_SECRET = "faults-secret"  # noqa: S105 - test credential
CONTROL_TOKEN = "control-token"  # noqa: S105 - test credential
FINDING_KEY = ["discrepancy_id", "rule_code", "severity", "due_date", "receipt_number"]
FAULT_MIX = FaultSettings(
    seed=20261125,
    error_5xx_share=0.20,
    rate_limit_share=0.10,
    timeout_share=0.05,
    timeout_seconds=0.6,
    malformed_share=0.01,
)


@dataclass(frozen=True)
class World:
    root: Path
    validated_dir: Path
    validated: dict[str, Any]
    simulator: SimulatorServer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("api-faults")
    sample = generate_sample(150, as_of=AS_OF, seed=11)
    engine = sa.create_engine(f"sqlite:///{root / 'erp.sqlite'}")
    write_erp(sample, engine)
    write_isa_seed(sample, root / "isa_seed.json")
    ctx = _context(root / "validated")
    run_extract(ctx, engine, PolicySettings())
    engine.dispose()
    validated = run_validate(ctx)
    with SimulatorServer(
        load_dataset(root / "isa_seed.json"),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        control_token=CONTROL_TOKEN,
    ) as simulator:
        yield World(root, ctx.run_dir, validated, simulator)


def _context(root: Path) -> RunContext:
    return make_run_context(
        pipeline="residence_status_reconciliation",
        logical_date=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        as_of=AS_OF,
        dag_run_id="faults-test",
        root=root,
    )


def _fresh_run(world: World, name: str) -> RunContext:
    """A run directory holding the validated extract but no ISA file yet."""
    ctx = _context(world.root / name)
    for path in world.validated_dir.iterdir():
        if path.name != "isa_applications.parquet":
            shutil.copy2(path, ctx.run_dir / path.name)
    return ctx


def _client(world: World, **overrides: Any) -> HttpImmigrationClient:
    options: dict[str, Any] = {
        "timeout": 0.3,
        "page_size": 25,
        "max_attempts": 8,
        "max_backoff_seconds": 1.0,
        "backoff_initial_seconds": 0.01,
        "max_requests_per_second": 500.0,
        "circuit_breaker_threshold": 8,
        "max_total_seconds": 60.0,
    }
    options.update(overrides)
    return HttpImmigrationClient(world.simulator.base_url, CLIENT_ID, CLIENT_SECRET, **options)


def _findings(ctx: RunContext) -> pd.DataFrame:
    frame = read_frame(ctx.path("discrepancies"))[FINDING_KEY].astype(str)
    return frame.sort_values(FINDING_KEY).reset_index(drop=True)


def _sync_and_reconcile(world: World, name: str, faults: FaultSettings) -> dict[str, Any]:
    world.simulator.set_faults(faults)
    ctx = _fresh_run(world, name)
    requests_before = world.simulator.state.requests
    started = time.monotonic()
    # Small pages so that the run makes enough requests for the fault shares to bite.
    with _client(world, page_size=3) as client:
        isa = run_isa_sync(ctx, client)
        failed = client.failed_attempts
    elapsed = time.monotonic() - started
    run_reconcile(ctx, PolicySettings())
    injected = world.simulator.state.injected.model_dump()
    world.simulator.set_faults(FaultSettings())
    return {
        "ctx": ctx,
        "isa": isa,
        "requests": world.simulator.state.requests - requests_before,
        "failed_attempts": failed,
        "elapsed": elapsed,
        "injected": injected,
    }


@pytest.fixture(scope="module")
def clean(world: World) -> dict[str, Any]:
    return _sync_and_reconcile(world, "clean", FaultSettings())


def test_findings_under_fault_mix_equal_the_clean_run(world: World, clean: dict[str, Any]) -> None:
    faulty = _sync_and_reconcile(world, "faulty", FAULT_MIX)

    expected = _findings(clean["ctx"])
    assert len(expected) > 20
    pd.testing.assert_frame_equal(_findings(faulty["ctx"]), expected)
    isa_clean = read_frame(clean["ctx"].path("isa_applications"))
    isa_faulty = read_frame(faulty["ctx"].path("isa_applications"))
    pd.testing.assert_frame_equal(isa_faulty, isa_clean)
    injected = faulty["injected"]
    # The mix really was hostile: every kind of fault happened and was survived.
    assert injected["error_5xx"] >= 3 and injected["rate_limited"] >= 2
    assert injected["timeout"] >= 1
    assert faulty["failed_attempts"] >= sum(injected.values()) - injected["malformed"]
    assert faulty["requests"] > clean["requests"]
    print(  # noqa: T201 - figures for docs/reliability.md
        f"\n[fault-mix] clean: {clean['requests']} requests in {clean['elapsed']:.2f} s, "
        f"{len(expected)} findings; faulty: {faulty['requests']} requests, "
        f"{faulty['failed_attempts']} failed attempts retried, injected {injected}, "
        f"elapsed {faulty['elapsed']:.2f} s; findings identical"
    )


def test_total_outage_fails_fast_and_leaves_the_warehouse_untouched(
    world: World, clean: dict[str, Any]
) -> None:
    warehouse = world.root / "warehouse.duckdb"
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    try:
        run_load(
            clean["ctx"],
            engine,
            started_at=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
            validated=world.validated,
            isa=clean["isa"],
        )
        before = _warehouse_rows(engine)
    finally:
        engine.dispose()
    digest_before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    assert before["discrepancies"]

    world.simulator.set_faults(FaultSettings(outage_seconds=3600))
    ctx = _fresh_run(world, "outage")
    requests_before = world.simulator.state.requests
    started = time.monotonic()
    try:
        with (
            _client(world, circuit_breaker_threshold=6) as client,
            pytest.raises(ImmigrationApiUnavailable) as caught,
        ):
            run_isa_sync(ctx, client)
    finally:
        world.simulator.set_faults(FaultSettings())
    elapsed = time.monotonic() - started
    requests = world.simulator.state.requests - requests_before

    assert "circuit breaker open after 6 consecutive failed attempts" in str(caught.value)
    assert "HTTP 503" in str(caught.value)
    assert elapsed < 60
    assert requests == 6
    assert not ctx.path("isa_applications").exists()
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == digest_before
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    try:
        assert _warehouse_rows(engine) == before
    finally:
        engine.dispose()
    print(  # noqa: T201 - figures for docs/reliability.md
        f"\n[outage] run_isa_sync failed after {requests} requests in {elapsed:.2f} s: "
        f"{caught.value}"
    )


def test_outage_budget_deadline_opens_the_circuit(world: World) -> None:
    """With connection resets and a short deadline the budget, not the count, ends the run."""
    world.simulator.set_faults(FaultSettings(outage_seconds=3600, outage_mode="reset"))
    try:
        started = time.monotonic()
        with (
            _client(
                world,
                circuit_breaker_threshold=1000,
                max_attempts=1000,
                max_total_seconds=1.0,
                backoff_initial_seconds=0.05,
                max_backoff_seconds=0.1,
            ) as client,
            pytest.raises(ImmigrationApiUnavailable, match=r"still failing after the 1 s budget"),
        ):
            client.get_application("R-1")
        assert time.monotonic() - started < 5
    finally:
        world.simulator.set_faults(FaultSettings())


def test_expired_page_token_restarts_the_listing_once(world: World, clean: dict[str, Any]) -> None:
    world.simulator.set_faults(FaultSettings(seed=3, page_token_expiry_share=0.3))
    try:
        with _client(world) as client:
            listed = list(client.list_applications())
        restarts = world.simulator.state.injected.page_token_expired
    finally:
        world.simulator.set_faults(FaultSettings())
    with _client(world) as client:
        expected = list(client.list_applications())
    assert restarts == 1
    assert [a.receipt_number for a in listed] == [a.receipt_number for a in expected]

    world.simulator.set_faults(FaultSettings(page_token_expiry_share=1.0))
    try:
        with (
            _client(world) as client,
            pytest.raises(ImmigrationApiError, match="page token expired again"),
        ):
            list(client.list_applications())
    finally:
        world.simulator.set_faults(FaultSettings())


def test_revoked_bearer_token_is_renewed(world: World) -> None:
    world.simulator.set_faults(FaultSettings(seed=5, token_revoke_share=0.2))
    try:
        with _client(world, page_size=5) as client:
            listed = list(client.list_applications())
        revoked = world.simulator.state.injected.token_revoked
    finally:
        world.simulator.set_faults(FaultSettings())
    assert revoked >= 1
    assert len(listed) == len({a.receipt_number for a in listed}) > 0


def test_persistently_malformed_body_is_an_error_not_an_empty_result(world: World) -> None:
    world.simulator.set_faults(FaultSettings(malformed_share=1.0))
    try:
        with (
            _client(world, max_attempts=3) as client,
            pytest.raises(ImmigrationApiResponseError, match="malformed .* 3 time"),
        ):
            list(client.list_applications())
    finally:
        world.simulator.set_faults(FaultSettings())


def test_client_rate_limiter_keeps_below_the_configured_rate(world: World) -> None:
    """Checked on the limiter's own reservations and on the requests' send times.

    Wall-clock slack is not a measure: on a loaded machine slow answers refill the bucket, so
    the limiter legitimately waits less. The token bucket's guarantee is that any k reserved
    tokens span at least (k - burst) / rate seconds, and a request leaves only once its token
    is due; both are exact whatever the machine's load.
    """
    import httpx

    rate, burst = 20.0, 20
    sent: list[float] = []
    granted: list[float] = []
    clock_reads: list[float] = []
    reserved_at: list[float] = []

    class SendTimes(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(time.monotonic())
            return super().handle_request(request)

    def clock() -> float:
        clock_reads.append(time.monotonic())
        return clock_reads[-1]

    class Reservations(TokenBucket):
        def reserve(self) -> float:
            wait = super().reserve()
            reserved_at.append(clock_reads[-1])
            granted.append(clock_reads[-1] + wait)  # when this token is due
            return wait

    with _client(world, max_requests_per_second=rate, timeout=5.0, transport=SendTimes()) as client:
        client.rate_limiter = Reservations(rate, clock=clock)
        assert client.rate_limiter.capacity == burst  # the client's default burst
        client.authenticate()
        for _ in range(30):
            client.get_application("R-does-not-exist")
    # 31 requests (login included; a retried attempt adds to both lists)
    assert len(granted) == len(sent) >= 31
    # the reservations keep the bucket's bound: i..j span at least (j - i + 1 - burst) / rate
    for i in range(len(granted)):
        for j in range(i + 1, len(granted)):
            assert granted[j] - granted[i] >= (j - i + 1 - burst) / rate - 1e-9
    assert granted[-1] - granted[0] >= (31 - burst) / rate - 1e-9  # 0.55 s of throttling
    # every request left only once its token was due ...
    assert all(at >= due for at, due in zip(sent, granted, strict=True))
    # ... so on the wire any j - i + 1 requests span at least (j - i - burst) / rate seconds
    # (the next token is reserved only after the previous answer): 31 requests >= 0.5 s
    for i in range(len(sent)):
        for j in range(i + 1, len(sent)):
            assert sent[j] - sent[i] >= (j - i - burst) / rate - 1e-9
    assert client.rate_limiter.waited_seconds == pytest.approx(
        sum(due - read for due, read in zip(granted, reserved_at, strict=True))
    )


def test_control_endpoint_requires_the_control_token(world: World) -> None:
    import httpx

    url = f"{world.simulator.base_url}/_control/faults"
    assert httpx.post(url, json={"error_5xx_share": 1.0}).status_code == 404
    wrong = httpx.post(url, json={"error_5xx_share": 1.0}, headers={"X-Control-Token": "nope"})
    assert wrong.status_code == 404
    try:
        ok = httpx.post(
            url, json={"error_5xx_share": 1.0}, headers={"X-Control-Token": CONTROL_TOKEN}
        )
        assert ok.status_code == 200
        assert ok.json()["faults"]["error_5xx_share"] == 1.0
        answer = httpx.post(
            f"{world.simulator.base_url}/v1/auth/token",
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )
        assert answer.status_code in (500, 502, 503)
        assert answer.json()["error"]["code"] == "server_error"
    finally:
        world.simulator.set_faults(FaultSettings())


def _warehouse_rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("reconciliation_runs", "discrepancies", "quarantine")
    with engine.connect() as conn:
        return {
            table: sorted(
                (tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {table}"))),  # noqa: S608
                key=repr,
            )
            for table in tables
        }

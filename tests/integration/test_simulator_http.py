"""The real HttpImmigrationClient and the Airflow hook against the simulator over loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import REPO_ROOT, free_port
from zairyu_sync.canonical import ISA_APPLICATION_COLUMNS
from zairyu_sync.errors import ConfigError, ImmigrationApiAuthError, ImmigrationApiUnavailable
from zairyu_sync.immigration import (
    HttpImmigrationClient,
    SimulatorDataset,
    SimulatorServer,
    create_app,
    fetch_isa_applications,
    load_dataset,
)

pytestmark = pytest.mark.integration

JST = timezone(timedelta(hours=9))
CLIENT_ID = "acme-hr"
CLIENT_SECRET = "acme-secret-value"


def _application(
    receipt: str, updated_at: str, *, status: str = "UNDER_EXAMINATION", **fields: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "receipt_number": receipt,
        "application_type": "extension",
        "status": status,
        "filed_on": "2026-08-01",
        "decided_on": None,
        "applicant": {
            "full_name": "TRAN THI MAI",
            "date_of_birth": "1998-02-03",
            "nationality": "VNM",
            "residence_card_number": "CD23456789EF",
        },
        "requested_status": "specified_skilled_worker_i",
        "granted_status": None,
        "granted_period_expiry": None,
        "new_residence_card_number": None,
        "new_card_valid_until": None,
        "additional_documents_due": None,
        "updated_at": updated_at,
    }
    base.update(fields)
    return base


# Deliberately out of order, with two applications sharing an updated_at (receipt breaks the tie)
# and one timestamp in UTC, to exercise the contract's stable ordering.
ORGANIZATION = [
    _application("2026-TKY-0000005", "2026-11-03T09:00:00+09:00"),
    _application("2026-TKY-0000001", "2026-10-01T09:00:00+09:00", status="SUBMITTED"),
    _application(
        "2026-TKY-0000004",
        "2026-11-01T00:00:00+09:00",
        status="COMPLETED",
        decided_on="2026-10-20",
        granted_status="specified_skilled_worker_i",
        granted_period_expiry="2027-10-31",
        new_residence_card_number="GH34567890IJ",
        new_card_valid_until="2027-10-31",
    ),
    _application("2026-TKY-0000003", "2026-11-01T00:00:00+09:00"),
    _application("2026-OSK-0000002", "2026-10-15T03:00:00+00:00", application_type="change"),
    _application(
        "2026-TKY-0000006",
        "2026-11-20T12:00:00+09:00",
        status="AWAITING_ADDITIONAL_DOCUMENTS",
        additional_documents_due="2026-12-04",
    ),
    _application("2026-NGY-0000007", "2026-11-21T08:30:00+09:00", applicant=None),
]
PERSONAL = [
    _application("2026-TKY-0009001", "2026-09-30T10:00:00+09:00", status="RECEIVED"),
    _application("2026-TKY-0009002", "2026-11-22T10:00:00+09:00", status="NOT_PERMITTED"),
]
ORDERED_RECEIPTS = [
    "2026-TKY-0000001",
    "2026-OSK-0000002",  # 2026-10-15T12:00+09:00
    "2026-TKY-0000003",
    "2026-TKY-0000004",
    "2026-TKY-0000005",
    "2026-TKY-0000006",
    "2026-NGY-0000007",
]


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("isa") / "isa_seed.json"
    seed = {"organization_applications": ORGANIZATION, "personal_applications": PERSONAL}
    path.write_text(json.dumps(seed, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def dataset(seed_file: Path) -> SimulatorDataset:
    return load_dataset(seed_file)


@pytest.fixture(scope="module")
def simulator(dataset: SimulatorDataset) -> Iterator[SimulatorServer]:
    with SimulatorServer(
        dataset, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=free_port()
    ) as server:
        yield server


@pytest.fixture
def client(simulator: SimulatorServer) -> Iterator[HttpImmigrationClient]:
    with HttpImmigrationClient(
        simulator.base_url, CLIENT_ID, CLIENT_SECRET, page_size=2, timeout=5.0
    ) as api:
        yield api


def test_server_binds_loopback(simulator: SimulatorServer) -> None:
    assert simulator.base_url == f"http://127.0.0.1:{simulator.port}"


def test_pages_through_every_organization_application(client: HttpImmigrationClient) -> None:
    receipts = [application.receipt_number for application in client.list_applications()]
    assert receipts == ORDERED_RECEIPTS
    assert len(set(receipts)) == len(receipts)
    # 1 login + 4 pages of at most 2 items
    assert client.api_calls == 5


def test_updated_since_is_inclusive(client: HttpImmigrationClient) -> None:
    since = datetime(2026, 11, 1, 0, 0, tzinfo=JST)
    receipts = [item.receipt_number for item in client.list_applications(updated_since=since)]
    assert receipts == ORDERED_RECEIPTS[2:]
    same_instant_in_utc = since.astimezone(UTC)
    again = [
        item.receipt_number for item in client.list_applications(updated_since=same_instant_in_utc)
    ]
    assert again == receipts


def test_personal_applications_by_receipt_only(client: HttpImmigrationClient) -> None:
    listed = {item.receipt_number for item in client.list_applications()}
    assert "2026-TKY-0009001" not in listed
    personal = client.get_application("2026-TKY-0009001")
    assert personal is not None
    assert personal.status == "RECEIVED"
    assert personal.applicant is not None and personal.applicant.nationality == "VNM"
    organization = client.get_application("2026-TKY-0000004")
    assert organization is not None
    assert organization.new_residence_card_number == "GH34567890IJ"


def test_unknown_receipt_is_none(client: HttpImmigrationClient) -> None:
    assert client.get_application("2026-TKY-9999999") is None
    assert client.get_application("no/such receipt") is None


def test_requests_without_a_valid_token_get_401(simulator: SimulatorServer) -> None:
    with httpx.Client(base_url=simulator.base_url, timeout=5.0) as raw:
        missing = raw.get("/v1/applications")
        forged = raw.get(
            "/v1/applications/2026-TKY-0000001", headers={"Authorization": "Bearer forged"}
        )
        bad_login = raw.post(
            "/v1/auth/token", json={"client_id": CLIENT_ID, "client_secret": "wrong"}
        )
        login = raw.post(
            "/v1/auth/token", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        )
        token = login.json()["access_token"]
        authorized = raw.get(
            "/v1/applications",
            params={"page_size": 501},
            headers={"Authorization": f"Bearer {token}"},
        )
        unknown_path = raw.get("/v2/whatever", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json() == {
        "error": {
            "code": "invalid_token",
            "message": "the access token is missing, invalid or expired",
        }
    }
    assert forged.status_code == 401
    assert bad_login.status_code == 401
    assert bad_login.json()["error"]["code"] == "invalid_client"
    assert login.json()["token_type"] == "Bearer" and login.json()["expires_in"] == 3600
    assert authorized.status_code == 400
    assert authorized.json()["error"]["code"] == "invalid_request"
    assert unknown_path.status_code == 404
    assert unknown_path.json()["error"]["code"] == "not_found"


def test_bad_credentials_raise_auth_error(simulator: SimulatorServer) -> None:
    with HttpImmigrationClient(simulator.base_url, CLIENT_ID, "not-the-secret") as api:
        with pytest.raises(ImmigrationApiAuthError, match="invalid_client"):
            api.get_application("2026-TKY-0000001")


def test_fetch_isa_applications_frame(client: HttpImmigrationClient) -> None:
    erp_receipts = ["2026-TKY-0000001", "2026-TKY-0009001", "2026-TKY-0404040", "2026-TKY-0000001"]
    frame = fetch_isa_applications(client, erp_receipts)
    assert tuple(frame.columns) == ISA_APPLICATION_COLUMNS
    assert list(frame["receipt_number"]) == sorted([*ORDERED_RECEIPTS, "2026-TKY-0009001"])
    assert frame["receipt_number"].is_unique
    assert "2026-TKY-0404040" not in set(frame["receipt_number"])
    assert "2026-TKY-0009002" not in set(frame["receipt_number"])  # personal, not in the ERP
    # 1 login + 4 pages + 2 lookups (one found, one 404)
    assert frame.attrs["api_calls"] == 7
    assert {str(dtype) for dtype in frame.dtypes} == {"object"}
    completed = frame.set_index("receipt_number").loc["2026-TKY-0000004"].to_dict()
    assert completed == {
        "application_type": "extension",
        "status": "COMPLETED",
        "filed_on": "2026-08-01",
        "decided_on": "2026-10-20",
        "applicant_full_name": "TRAN THI MAI",
        "applicant_date_of_birth": "1998-02-03",
        "applicant_nationality": "VNM",
        "applicant_residence_card_number": "CD23456789EF",
        "requested_status": "specified_skilled_worker_i",
        "granted_status": "specified_skilled_worker_i",
        "granted_period_expiry": "2027-10-31",
        "new_residence_card_number": "GH34567890IJ",
        "new_card_valid_until": "2027-10-31",
        "additional_documents_due": None,
        "updated_at": "2026-11-01T00:00:00+09:00",
    }
    no_applicant = frame.set_index("receipt_number").loc["2026-NGY-0000007"]
    assert no_applicant["applicant_full_name"] is None
    utc_row = frame.set_index("receipt_number").loc["2026-OSK-0000002"]
    assert utc_row["updated_at"] == "2026-10-15T03:00:00+00:00"


def test_rate_limit_answers_429_and_the_client_waits(dataset: SimulatorDataset) -> None:
    sleeps: list[float] = []

    def short_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(0.3)  # the bucket refills 5 requests/s; no need to wait the full second

    with SimulatorServer(
        dataset, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rate_limit_per_second=5
    ) as server:
        with httpx.Client(base_url=server.base_url, timeout=5.0) as raw:
            answers = [raw.get("/v1/applications") for _ in range(8)]
        limited = [answer for answer in answers if answer.status_code == 429]
        assert limited, "a burst beyond the rate must be limited"
        assert limited[0].headers["Retry-After"] == "1"
        assert limited[0].json()["error"]["code"] == "rate_limited"
        time.sleep(1.1)
        with HttpImmigrationClient(
            server.base_url, CLIENT_ID, CLIENT_SECRET, page_size=1, sleep=short_sleep
        ) as api:
            receipts = [item.receipt_number for item in api.list_applications()]
    assert receipts == ORDERED_RECEIPTS
    assert sleeps and set(sleeps) == {1.0}


def test_maintenance_exhausts_retries(dataset: SimulatorDataset) -> None:
    sleeps: list[float] = []
    with SimulatorServer(dataset, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as server:
        server.state.maintenance = True
        with HttpImmigrationClient(
            server.base_url, CLIENT_ID, CLIENT_SECRET, max_attempts=3, sleep=sleeps.append
        ) as api:
            with pytest.raises(ImmigrationApiUnavailable, match="HTTP 503"):
                api.get_application("2026-TKY-0000001")
            assert sleeps == [1.0, 1.0]  # Retry-After: 1 on the maintenance answer
            server.state.maintenance = False
            assert api.get_application("2026-TKY-0000001") is not None


def test_tokens_expire_after_their_ttl(dataset: SimulatorDataset) -> None:
    now = [100.0]
    app = create_app(
        dataset,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_ttl_seconds=60,
        clock=lambda: now[0],
    )
    with TestClient(app) as raw:
        token = raw.post(
            "/v1/auth/token", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert raw.get("/v1/applications", headers=headers).status_code == 200
        now[0] += 59.0
        assert raw.get("/v1/applications", headers=headers).status_code == 200
        now[0] += 1.0
        expired = raw.get("/v1/applications", headers=headers)
    assert expired.status_code == 401


def test_invalid_page_token_and_updated_since_are_400(dataset: SimulatorDataset) -> None:
    app = create_app(dataset, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with TestClient(app) as raw:
        token = raw.post(
            "/v1/auth/token", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        bad_token = raw.get("/v1/applications", params={"page_token": "xyz"}, headers=headers)
        naive = raw.get(
            "/v1/applications", params={"updated_since": "2026-11-01T00:00:00"}, headers=headers
        )
        zulu = raw.get(
            "/v1/applications", params={"updated_since": "2026-11-20T03:00:00Z"}, headers=headers
        )
    assert bad_token.status_code == 400 and naive.status_code == 400
    assert [item["receipt_number"] for item in zulu.json()["items"]] == ORDERED_RECEIPTS[5:]


# --- the Airflow hook -------------------------------------------------------------------------


def _set_connection(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_IMMIGRATION_API", json.dumps({"conn_type": "http", **fields}))


def test_hook_builds_a_working_client(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.hooks.immigration_api import ImmigrationApiHook

    _set_connection(
        monkeypatch,
        host=simulator.base_url,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"page_size": 3, "timeout": "4.5", "max_attempts": 2, "listing_ranges": "1"},
    )
    hook = ImmigrationApiHook()
    client = hook.get_conn()
    assert hook.get_conn() is client  # cached
    assert client.page_size == 3 and client.max_attempts == 2
    assert client.listing_ranges == 1  # for an API without `updated_before`
    assert [item.receipt_number for item in client.list_applications()] == ORDERED_RECEIPTS
    assert client.api_calls == 1 + 3  # login + ceil(7 / 3) pages
    client.close()
    assert hook.get_conn() is not client  # a closed client is rebuilt
    assert hook.test_connection() == (
        True,
        f"Logged in to the ISA status API at {simulator.base_url}",
    )


def test_hook_builds_the_url_from_host_and_port(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.hooks.immigration_api import ImmigrationApiHook

    _set_connection(
        monkeypatch, host="127.0.0.1", port=simulator.port, login=CLIENT_ID, password=CLIENT_SECRET
    )
    with ImmigrationApiHook().get_conn() as client:
        assert client.base_url == simulator.base_url
        assert client.get_application("2026-TKY-0009002") is not None


def test_hook_reports_bad_credentials_and_missing_secret(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.hooks.immigration_api import ImmigrationApiHook

    _set_connection(monkeypatch, host=simulator.base_url, login=CLIENT_ID, password="wrong-secret")
    ok, message = ImmigrationApiHook().test_connection()
    assert ok is False and "invalid_client" in message and "wrong-secret" not in message
    _set_connection(monkeypatch, host=simulator.base_url, login=CLIENT_ID)
    with pytest.raises(ConfigError, match="client secret"):
        ImmigrationApiHook().get_conn()
    _set_connection(
        monkeypatch,
        host=simulator.base_url,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"page_size": "many"},
    )
    with pytest.raises(ConfigError, match="page_size"):
        ImmigrationApiHook().get_conn()


def test_hook_class_contract() -> None:
    from zairyu_sync.hooks.immigration_api import ImmigrationApiHook, base_url_from_parts

    assert ImmigrationApiHook.conn_name_attr == "immigration_api_conn_id"
    assert ImmigrationApiHook.default_conn_name == "immigration_api"
    assert ImmigrationApiHook.conn_type == "http"
    assert ImmigrationApiHook.hook_name == "ISA status API"
    behaviour = ImmigrationApiHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["password"] == "Client secret"
    assert base_url_from_parts("isa.example.jp", schema="https") == "https://isa.example.jp"
    assert base_url_from_parts("http://h:81/api/", port=9) == "http://h:81/api"
    assert base_url_from_parts("http://h/api", port=9) == "http://h:9/api"


# --- the command line -------------------------------------------------------------------------


def test_cli_serves_on_a_free_port_and_terminates(seed_file: Path, tmp_path: Path) -> None:
    port_file = tmp_path / "run" / "simulator.port"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "plugins")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zairyu_sync.immigration.simulator",
            "--data",
            str(seed_file),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--port-file",
            str(port_file),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the simulator did not write its port file"
            time.sleep(0.05)
        port = int(port_file.read_text(encoding="ascii"))
        assert port > 0
        base_url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base_url}/openapi.yaml", timeout=5).status_code == 200
        with HttpImmigrationClient(base_url, CLIENT_ID, CLIENT_SECRET) as api:
            assert len(list(api.list_applications())) == len(ORDERED_RECEIPTS)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert not port_file.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


def test_cli_rejects_a_broken_seed(tmp_path: Path) -> None:
    from zairyu_sync.immigration.simulator import main

    broken = tmp_path / "seed.json"
    broken.write_text('{"organization_applications": [{"receipt_number": "X"}]}', encoding="utf-8")
    argv = ["--data", str(broken), "--client-id", "a", "--client-secret", "bbbbbb"]
    assert main(argv) == 2
    assert main(["--data", str(tmp_path / "missing.json"), *argv[2:]]) == 2

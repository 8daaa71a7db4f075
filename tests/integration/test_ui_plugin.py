"""The compliance UI app and the Airflow plugin, against a real DuckDB warehouse and run files."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.conftest import REPO_ROOT
from zairyu_sync.canonical import FINDING_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.load import RunRecord, apply_migrations, load_run, warehouse_engine
from zairyu_sync.ui import DAG_ID, create_app, parse_as_of

pytestmark = pytest.mark.integration

RAW_CARD = "AB12345678CD"
OTHER_RAW_CARD = "ZZ87654321YX"
AS_OF = date(2026, 11, 25)


def _finding(
    discrepancy_id: str, *, owner: str | None, severity: str, rule_code: str, detail: str
) -> dict[str, Any]:
    return {
        "discrepancy_id": discrepancy_id,
        "employee_id": f"E{discrepancy_id}",
        "organization_id": "TKY01",
        "compliance_owner": owner,
        "rule_code": rule_code,
        "severity": severity,
        "due_date": date(2026, 12, 1),
        "receipt_number": None,
        "detail": detail,
    }


@pytest.fixture
def warehouse_url(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    engine = warehouse_engine(url)
    try:
        apply_migrations(engine)
        findings = pd.DataFrame(
            [
                _finding(
                    "d1",
                    owner="hr-tokyo@example.co.jp",
                    severity="critical",
                    rule_code="STATUS_EXPIRED",
                    detail="period of stay expired on 2026-11-20",
                ),
                _finding(
                    "d2",
                    owner="hr-tokyo@example.co.jp",
                    severity="warning",
                    rule_code="EXPIRY_APPROACHING",
                    # An upstream slip: the UI must still never show the raw number.
                    detail=f"card {RAW_CARD} expires in 40 days",
                ),
                _finding(
                    "d3",
                    owner="hr-osaka@example.co.jp",
                    severity="critical",
                    rule_code="APPLICATION_DENIED",
                    detail="application <b>denied</b>",
                ),
                _finding(
                    "d4",
                    owner=None,
                    severity="info",
                    rule_code="CARD_RENEWAL_DUE",
                    detail="card renewal due",
                ),
            ],
            columns=list(FINDING_COLUMNS),
        )
        run = RunRecord(
            run_key=f"{DAG_ID}/{AS_OF.isoformat()}",
            dag_run_id="manual__test",
            logical_date=None,
            as_of=AS_OF,
            started_at=datetime(2026, 11, 25, 1, tzinfo=UTC),
            finished_at=datetime(2026, 11, 25, 1, 5, tzinfo=UTC),
            status="success",
            counts={"extracted": 4},
        )
        load_run(engine, run, findings, pd.DataFrame(columns=list(QUARANTINE_COLUMNS)))
    finally:
        engine.dispose()
    return url


@pytest.fixture
def run_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for day, marker in (("2026-11-24", "older report"), ("2026-11-25", "newest report")):
        run_dir = root / DAG_ID / day
        run_dir.mkdir(parents=True)
        (run_dir / "report.html").write_text(
            f"<html><body><h1>{marker}</h1><p>card {OTHER_RAW_CARD}</p></body></html>",
            encoding="utf-8",
        )
    (root / DAG_ID / "2026-11-26").mkdir()  # a run still in progress: no report yet
    (root / DAG_ID / "not-a-date").mkdir()
    (root / "secret.html").write_text("outside the reports", encoding="utf-8")
    return root


@pytest.fixture
def client(run_root: Path, warehouse_url: str) -> TestClient:
    return TestClient(create_app(run_root=run_root, warehouse_url=warehouse_url))


def _no_raw_card(text: str) -> None:
    assert RAW_CARD not in text
    assert OTHER_RAW_CARD not in text


def test_index_links_the_latest_report_and_every_run(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert 'href="/report"' in response.text
    assert 'href="/discrepancies"' in response.text
    assert 'href="/runs/2026-11-25/report"' in response.text
    assert 'href="/runs/2026-11-24/report"' in response.text
    assert "2026-11-26" not in response.text  # no report there yet
    assert "not-a-date" not in response.text


def test_latest_report_is_the_newest_dated_report(client: TestClient) -> None:
    response = client.get("/report")
    assert response.status_code == 200
    assert "newest report" in response.text
    assert "AB******CD" not in response.text  # not that card
    _no_raw_card(response.text)
    assert "ZZ******YX" in response.text


def test_latest_report_without_runs_is_a_404_page(tmp_path: Path, warehouse_url: str) -> None:
    app = create_app(run_root=tmp_path / "empty", warehouse_url=warehouse_url)
    response = TestClient(app).get("/report")
    assert response.status_code == 404
    assert "No run has written a report" in response.text


def test_dated_report(client: TestClient) -> None:
    response = client.get("/runs/2026-11-24/report")
    assert response.status_code == 200
    assert "older report" in response.text
    _no_raw_card(response.text)
    assert client.get("/runs/2026-11-26/report").status_code == 404
    assert client.get("/runs/2026-11-23/report").status_code == 404


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/runs/2026-02-30/report", {422}),
        ("/runs/20261125/report", {422}),
        ("/runs/..%2F..%2Fsecret.html/report", {404, 422}),
        ("/runs/..%2Fsecret.html/report", {404, 422}),
        ("/runs/%2E%2E/report", {404, 422}),
        ("/runs/2026-11-25%2F..%2F..%2F..%2Fsecret.html/report", {404, 422}),
    ],
)
def test_path_traversal_and_bad_dates_are_refused(
    client: TestClient, path: str, statuses: set[int]
) -> None:
    response = client.get(path)
    assert response.status_code in statuses
    assert "outside the reports" not in response.text
    assert "newest report" not in response.text


def test_parse_as_of_is_strict() -> None:
    assert parse_as_of("2026-11-25") == date(2026, 11, 25)
    for text in ("2026-11-25/..", "../2026-11-25", "2026-1-5", "2026-13-01", " 2026-11-25"):
        assert parse_as_of(text) is None


def test_discrepancies_html_is_ordered_escaped_and_masked(client: TestClient) -> None:
    response = client.get("/discrepancies")
    assert response.status_code == 200
    text = response.text
    _no_raw_card(text)
    assert "AB******CD" in text
    assert "&lt;b&gt;denied&lt;/b&gt;" in text  # detail is escaped, not rendered as markup
    assert "<b>denied</b>" not in text
    assert "4 open finding(s)" in text
    # critical first, then warning, then info
    assert text.index("STATUS_EXPIRED") < text.index("EXPIRY_APPROACHING")
    assert text.index("EXPIRY_APPROACHING") < text.index("CARD_RENEWAL_DUE")
    assert "(no owner)" in text


def test_discrepancies_html_filters(client: TestClient) -> None:
    text = client.get(
        "/discrepancies", params={"owner": "hr-tokyo@example.co.jp", "severity": "critical"}
    ).text
    assert "1 open finding(s)" in text
    assert "STATUS_EXPIRED" in text
    assert "APPLICATION_DENIED" not in text
    assert client.get("/discrepancies", params={"severity": "urgent"}).status_code == 422


def test_discrepancies_json_with_filters(client: TestClient) -> None:
    payload = client.get("/api/discrepancies").json()
    assert payload["count"] == 4
    assert [row["discrepancy_id"] for row in payload["discrepancies"]] == ["d3", "d1", "d2", "d4"]
    assert payload["discrepancies"][1]["due_date"] == "2026-12-01"
    assert payload["discrepancies"][2]["detail"] == "card AB******CD expires in 40 days"

    tokyo = client.get("/api/discrepancies", params={"owner": "hr-tokyo@example.co.jp"}).json()
    assert sorted(row["discrepancy_id"] for row in tokyo["discrepancies"]) == ["d1", "d2"]
    assert tokyo["filters"] == {"owner": "hr-tokyo@example.co.jp", "severity": None}

    info = client.get("/api/discrepancies", params={"severity": "info"}).json()
    assert [row["compliance_owner"] for row in info["discrepancies"]] == ["(no owner)"]

    limited = client.get("/api/discrepancies", params={"limit": 1}).json()
    assert limited["count"] == 1 and limited["truncated"] is True
    assert client.get("/api/discrepancies", params={"severity": "urgent"}).status_code == 422
    assert client.get("/api/discrepancies", params={"limit": 0}).status_code == 422


def test_no_raw_card_number_in_any_response(client: TestClient) -> None:
    for path in ("/", "/report", "/runs/2026-11-24/report", "/discrepancies", "/api/discrepancies"):
        response = client.get(path)
        assert response.status_code == 200, path
        _no_raw_card(response.text)


def test_missing_warehouse_is_a_503_not_a_crash(tmp_path: Path, run_root: Path) -> None:
    app = create_app(run_root=run_root, warehouse_url=f"duckdb:///{tmp_path / 'none.duckdb'}")
    client = TestClient(app)
    assert client.get("/discrepancies").status_code == 503
    assert client.get("/api/discrepancies").status_code == 503
    assert not (tmp_path / "none.duckdb").exists()  # read-only: nothing was created


def test_warehouse_from_the_airflow_connection(
    monkeypatch: pytest.MonkeyPatch, run_root: Path, warehouse_url: str
) -> None:
    database = warehouse_url.removeprefix("duckdb:///")
    app = create_app(run_root=run_root)  # created before the connection exists: no I/O
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": database})
    )
    payload = TestClient(app).get("/api/discrepancies", params={"severity": "critical"}).json()
    assert [row["discrepancy_id"] for row in payload["discrepancies"]] == ["d3", "d1"]


def test_the_airflow_plugin_loads_and_its_app_mounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_root: Path, warehouse_url: str
) -> None:
    from airflow._shared.plugins_manager import _load_plugins_from_plugin_directory
    from airflow.plugins_manager import AirflowPlugin

    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "plugins" / "zairyu_sync_plugin.py", folder)
    plugins, errors = _load_plugins_from_plugin_directory(plugins_folder=str(folder))
    assert errors == {}
    [plugin] = plugins
    assert isinstance(plugin, AirflowPlugin)
    assert plugin.name == "zairyu_sync"
    [fastapi_app] = plugin.fastapi_apps
    assert fastapi_app["url_prefix"] == "/zairyu-sync"
    assert fastapi_app["name"] == "zairyu-sync reports"
    assert isinstance(fastapi_app["app"], FastAPI)
    assert plugin.external_views == [
        {
            "name": "Residence compliance",
            "href": "/zairyu-sync/",
            "destination": "nav",
            "url_route": "zairyu-sync",
            "category": "browse",
        }
    ]

    # Mounted as the API server mounts it: links carry the prefix, the app resolves lazily.
    monkeypatch.setenv("ZAIRYU_RUN_ROOT", str(run_root))
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": warehouse_url.removeprefix("duckdb:///")}),
    )
    server = FastAPI()
    server.mount(fastapi_app["url_prefix"], fastapi_app["app"])
    client = TestClient(server)
    # The pages show employee ids and findings: only signed-in Airflow users get them.
    assert client.get("/zairyu-sync/").status_code == 401
    assert client.get("/zairyu-sync/api/discrepancies").status_code == 401
    from airflow.api_fastapi.core_api.security import get_user

    fastapi_app["app"].dependency_overrides[get_user] = lambda: "signed-in user"
    index = client.get("/zairyu-sync/")
    assert index.status_code == 200
    assert 'href="/zairyu-sync/report"' in index.text
    assert "newest report" in client.get("/zairyu-sync/report").text
    assert client.get("/zairyu-sync/api/discrepancies").json()["count"] == 4

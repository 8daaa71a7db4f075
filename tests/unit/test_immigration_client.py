"""HttpImmigrationClient error paths against httpx.MockTransport (no network, no real sleeps)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from zairyu_sync.errors import (
    ConfigError,
    ImmigrationApiAuthError,
    ImmigrationApiError,
    ImmigrationApiResponseError,
    ImmigrationApiUnavailable,
)
from zairyu_sync.immigration import Application, HttpImmigrationClient, fetch_isa_applications
from zairyu_sync.immigration.client import parse_retry_after

pytestmark = pytest.mark.unit

BASE_URL = "http://isa.test"
JST = timezone(timedelta(hours=9))
CARD = "AB12345678CD"
NAME = "NGUYEN VAN AN"


def application(
    receipt: str, *, updated_at: str = "2026-11-01T09:00:00+09:00"
) -> dict[str, object]:
    return {
        "receipt_number": receipt,
        "application_type": "extension",
        "status": "UNDER_EXAMINATION",
        "filed_on": "2026-10-01",
        "decided_on": None,
        "applicant": {
            "full_name": NAME,
            "date_of_birth": "1996-04-02",
            "nationality": "VNM",
            "residence_card_number": CARD,
        },
        "requested_status": "engineer_specialist_humanities_international",
        "granted_status": None,
        "granted_period_expiry": None,
        "new_residence_card_number": None,
        "new_card_valid_until": None,
        "additional_documents_due": None,
        "updated_at": updated_at,
    }


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": code}}, headers=headers or {}
    )


def token_response(token: str = "tok-1", expires_in: int = 3600) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in}
    )


Route = Callable[[httpx.Request], httpx.Response]


class FakeApi:
    """Routes requests; ``script`` holds queued responses per path served before ``default``."""

    def __init__(self, default: Route, *, login: Route | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.default = default
        self.login = login or (lambda request: token_response())
        self.script: list[httpx.Response | Exception] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/auth/token":
            return self.login(request)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        return self.default(request)

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def make_client(api: FakeApi, sleeps: list[float], **kwargs: object) -> HttpImmigrationClient:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    options: dict[str, object] = {
        "max_attempts": 4,
        "max_backoff_seconds": 8.0,
        "async_sleep": record,
    }
    options.update(kwargs)
    return HttpImmigrationClient(
        BASE_URL,
        "org-client",
        "org-secret",
        transport=httpx.MockTransport(api),
        sleep=sleeps.append,
        **options,  # type: ignore[arg-type]
    )


def single_page(request: httpx.Request) -> httpx.Response:
    """The listing holds R-1; every receipt lookup is unknown."""
    if request.url.path != "/v1/applications":
        return error(404, "not_found")
    return httpx.Response(200, json={"items": [application("R-1")], "next_page_token": None})


def test_login_is_lazy_and_sends_credentials_and_bearer() -> None:
    api = FakeApi(single_page)
    client = make_client(api, [])
    assert api.requests == []
    items = list(client.list_applications())
    assert [item.receipt_number for item in items] == ["R-1"]
    login, listing = api.requests
    assert json.loads(login.content) == {"client_id": "org-client", "client_secret": "org-secret"}
    assert listing.headers["Authorization"] == "Bearer tok-1"
    assert listing.url.params["page_size"] == "100"
    # the token is cached: a second call does not log in again
    list(client.list_applications())
    assert api.paths().count("/v1/auth/token") == 1
    assert client.api_calls == 3


def test_retries_503_then_succeeds_with_growing_backoff() -> None:
    api = FakeApi(single_page)
    api.script = [error(503, "maintenance"), error(502, "bad_gateway")]
    sleeps: list[float] = []
    client = make_client(api, sleeps, backoff_initial_seconds=0.5)
    items = list(client.list_applications())
    assert [item.receipt_number for item in items] == ["R-1"]
    assert api.paths().count("/v1/applications") == 3
    assert len(sleeps) == 2
    # exponential with jitter in [0, 0.5]: 0.5..1.0 then 1.0..1.5
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 1.5


def test_429_honours_retry_after_exactly() -> None:
    api = FakeApi(single_page)
    api.script = [error(429, "rate_limited", {"Retry-After": "3"})]
    sleeps: list[float] = []
    client = make_client(api, sleeps)
    assert len(list(client.list_applications())) == 1
    assert sleeps == [3.0]


def test_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    api = FakeApi(single_page)
    api.script = [error(429, "rate_limited", {"Retry-After": "120"})]
    sleeps: list[float] = []
    client = make_client(api, sleeps, max_backoff_seconds=30.0)
    with pytest.raises(ImmigrationApiUnavailable, match="Retry-After 120 s exceeds"):
        list(client.list_applications())
    assert sleeps == []
    assert api.paths().count("/v1/applications") == 1


def test_transport_errors_are_retried() -> None:
    api = FakeApi(single_page)
    api.script = [httpx.ConnectTimeout("slow"), httpx.ReadError("reset")]
    sleeps: list[float] = []
    client = make_client(api, sleeps)
    assert len(list(client.list_applications())) == 1
    assert len(sleeps) == 2


def test_exhausted_retries_raise_unavailable() -> None:
    api = FakeApi(lambda request: error(503, "maintenance"))
    sleeps: list[float] = []
    client = make_client(api, sleeps, max_attempts=3)
    with pytest.raises(ImmigrationApiUnavailable, match=r"failed 3 time\(s\) \(HTTP 503\)"):
        client.get_application("R-1")
    assert api.paths().count("/v1/applications/R-1") == 3
    assert len(sleeps) == 2
    assert all(wait <= 8.0 for wait in sleeps)


def test_exhausted_retries_on_connection_errors_raise_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api = FakeApi(refuse, login=refuse)
    client = make_client(api, [], max_attempts=2)
    with pytest.raises(ImmigrationApiUnavailable, match="ConnectError"):
        client.get_application("R-1")
    assert api.paths() == ["/v1/auth/token", "/v1/auth/token"]


def test_401_logs_in_again_once_then_succeeds() -> None:
    tokens = iter(["tok-1", "tok-2"])
    api = FakeApi(single_page, login=lambda request: token_response(next(tokens)))
    api.script = [error(401, "invalid_token")]
    client = make_client(api, [])
    assert len(list(client.list_applications())) == 1
    assert api.paths() == [
        "/v1/auth/token",
        "/v1/applications",
        "/v1/auth/token",
        "/v1/applications",
    ]
    assert api.requests[1].headers["Authorization"] == "Bearer tok-1"
    assert api.requests[3].headers["Authorization"] == "Bearer tok-2"


def test_401_twice_raises_auth_error() -> None:
    api = FakeApi(lambda request: error(401, "invalid_token"))
    client = make_client(api, [])
    with pytest.raises(ImmigrationApiAuthError, match="after re-login"):
        client.get_application("R-1")
    assert api.paths().count("/v1/auth/token") == 2


def test_bad_credentials_raise_auth_error_without_retrying() -> None:
    api = FakeApi(single_page, login=lambda request: error(401, "invalid_client"))
    sleeps: list[float] = []
    client = make_client(api, sleeps)
    with pytest.raises(ImmigrationApiAuthError, match="invalid_client") as caught:
        client.authenticate()
    assert "org-secret" not in str(caught.value)
    assert api.paths() == ["/v1/auth/token"]
    assert sleeps == []


def test_expired_token_is_renewed_before_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["tok-1", "tok-2"])
    api = FakeApi(single_page, login=lambda request: token_response(next(tokens), expires_in=60))
    client = make_client(api, [])
    now = [1000.0]
    monkeypatch.setattr("zairyu_sync.immigration.client.time.monotonic", lambda: now[0])
    list(client.list_applications())
    now[0] += 55.0  # past expires_in minus the 10% margin
    list(client.list_applications())
    assert api.paths().count("/v1/auth/token") == 2
    assert api.requests[-1].headers["Authorization"] == "Bearer tok-2"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>maintenance</html>", r"malformed \(non-JSON\) body 4 time\(s\) in a row"),
        (b'{"items": [], "next_page_token": null, "total": 3}', "total: extra_forbidden"),
        (b'{"items": []}', "next_page_token: missing"),
        (
            json.dumps({"items": [{**application("R-1"), "status": "APPROVED"}]}).encode(),
            "items.0.status: literal_error",
        ),
        (
            json.dumps(
                {
                    "items": [{**application("R-1"), "updated_at": "2026-11-01T09:00:00"}],
                    "next_page_token": None,
                }
            ).encode(),
            "items.0.updated_at: timezone_aware",
        ),
    ],
    ids=["not-json", "unknown-field", "missing-field", "bad-status", "naive-timestamp"],
)
def test_contract_breaking_list_body_raises_response_error(body: bytes, expected: str) -> None:
    api = FakeApi(lambda request: httpx.Response(200, content=body))
    client = make_client(api, [])
    with pytest.raises(ImmigrationApiResponseError, match=expected) as caught:
        list(client.list_applications())
    message = str(caught.value)
    assert CARD not in message and NAME not in message


def test_contract_breaking_application_never_leaks_pii() -> None:
    broken = {**application("R-1"), "applicant": {"full_name": NAME, "residence_card_number": 7}}
    api = FakeApi(lambda request: httpx.Response(200, json=broken))
    client = make_client(api, [])
    with pytest.raises(ImmigrationApiResponseError, match="applicant.residence_card_number") as e:
        client.get_application("R-1")
    assert NAME not in str(e.value)


def test_malformed_token_body_raises_response_error() -> None:
    api = FakeApi(
        single_page,
        login=lambda request: httpx.Response(200, json={"access_token": "x", "token_type": "MAC"}),
    )
    with pytest.raises(ImmigrationApiResponseError, match="TokenResponse"):
        make_client(api, []).authenticate()


def test_paging_follows_next_page_token() -> None:
    pages = {
        None: ({"items": [application("R-1"), application("R-2")], "next_page_token": "p2"}),
        "p2": ({"items": [application("R-3"), application("R-4")], "next_page_token": "p3"}),
        "p3": ({"items": [application("R-5")], "next_page_token": None}),
    }

    def paged(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("page_token")])

    api = FakeApi(paged)
    client = make_client(api, [], page_size=2)
    since = datetime(2026, 10, 1, tzinfo=JST)
    receipts = [item.receipt_number for item in client.list_applications(updated_since=since)]
    assert receipts == ["R-1", "R-2", "R-3", "R-4", "R-5"]
    listing = [request for request in api.requests if request.url.path == "/v1/applications"]
    assert [request.url.params.get("page_token") for request in listing] == [None, "p2", "p3"]
    assert {request.url.params["updated_since"] for request in listing} == {since.isoformat()}
    assert {request.url.params["page_size"] for request in listing} == {"2"}


def test_repeated_page_token_is_rejected_instead_of_looping() -> None:
    api = FakeApi(
        lambda request: httpx.Response(
            200, json={"items": [application("R-1")], "next_page_token": "same"}
        )
    )
    with pytest.raises(ImmigrationApiResponseError, match="repeats a page token"):
        list(make_client(api, []).list_applications())


def test_oversized_page_and_items_outside_the_filter_are_rejected() -> None:
    api = FakeApi(
        lambda request: httpx.Response(
            200,
            json={"items": [application("R-1"), application("R-2")], "next_page_token": None},
        )
    )
    with pytest.raises(ImmigrationApiResponseError, match="more than page_size"):
        list(make_client(api, [], page_size=1).list_applications())
    since = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ImmigrationApiResponseError, match="updated before updated_since"):
        list(make_client(api, []).list_applications(updated_since=since))


def test_naive_updated_since_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        list(make_client(FakeApi(single_page), []).list_applications(updated_since=datetime.now()))


def test_get_404_with_error_body_is_none() -> None:
    api = FakeApi(lambda request: error(404, "not_found"))
    client = make_client(api, [])
    assert client.get_application("2026-TKY-0000001") is None
    assert api.requests[-1].url.path == "/v1/applications/2026-TKY-0000001"


def test_get_404_without_contract_body_is_not_trusted() -> None:
    api = FakeApi(lambda request: httpx.Response(404, text="Not Found"))
    with pytest.raises(ImmigrationApiResponseError, match="base URL"):
        make_client(api, []).get_application("R-1")


def test_get_quotes_the_receipt_and_checks_the_answer() -> None:
    api = FakeApi(lambda request: httpx.Response(200, json=application("R-OTHER")))
    client = make_client(api, [])
    with pytest.raises(ImmigrationApiResponseError, match="different receipt number"):
        client.get_application("R/1")
    assert api.requests[-1].url.raw_path == b"/v1/applications/R%2F1"


def test_unexpected_status_raises_api_error_with_code() -> None:
    api = FakeApi(lambda request: error(400, "invalid_request"))
    with pytest.raises(ImmigrationApiError, match=r"HTTP 400 \(invalid_request\)") as caught:
        make_client(api, []).get_application("R-1")
    assert type(caught.value) is ImmigrationApiError


def test_logs_never_carry_applicant_data(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi(single_page)
    api.script = [error(503, "maintenance")]
    caplog.set_level(logging.DEBUG, logger="zairyu_sync")
    frame = fetch_isa_applications(make_client(api, []), ["R-1", "R-9"])
    assert len(frame) == 1
    assert caplog.records, "expected log lines"
    text = caplog.text
    assert CARD not in text and NAME not in text and "1996-04-02" not in text


def test_fetch_counts_http_requests_including_login_and_retries() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/applications":
            return single_page(request)
        if request.url.path == "/v1/applications/R-2":
            return httpx.Response(200, json=application("R-2"))
        return error(404, "not_found")

    api = FakeApi(route)
    api.script = [error(503, "maintenance")]
    frame = fetch_isa_applications(make_client(api, []), ["R-1", " R-2 ", "R-3", "R-2", ""])
    assert list(frame["receipt_number"]) == ["R-1", "R-2"]
    # login + 503 + listing + get R-2 + get R-3 (404)
    assert frame.attrs["api_calls"] == 5


def test_constructor_validates_settings() -> None:
    with pytest.raises(ConfigError, match="base URL"):
        HttpImmigrationClient("isa.test", "id", "secret")
    with pytest.raises(ConfigError, match="client secret"):
        HttpImmigrationClient(BASE_URL, "id", "")
    with pytest.raises(ConfigError, match="page_size"):
        HttpImmigrationClient(BASE_URL, "id", "secret", page_size=501)
    with pytest.raises(ConfigError, match="max_attempts"):
        HttpImmigrationClient(BASE_URL, "id", "secret", max_attempts=0)


def test_context_manager_closes() -> None:
    with make_client(FakeApi(single_page), []) as client:
        assert not client.closed
    assert client.closed


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 25 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- concurrent batch lookups (get_applications, list_and_get_applications) ------------------


class SlowLookups:
    """An async MockTransport handler: lookups take a while, one receipt answers ``bad``.

    Records which lookups started and which were answered, so a test can tell that the first
    error cancelled the lookups still in flight and that the queued ones were never sent.
    """

    def __init__(self, bad_receipt: str, bad: httpx.Response, *, delay: float = 0.5) -> None:
        self.bad_receipt = bad_receipt
        self.bad = bad
        self.delay = delay
        self.started: list[str] = []
        self.answered: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        if request.url.path == "/v1/auth/token":
            return token_response()
        receipt = request.url.path.rsplit("/", 1)[-1]
        self.started.append(receipt)
        if receipt == self.bad_receipt:  # fails at once, while the others are in flight
            return self.bad
        await asyncio.sleep(self.delay)
        self.answered.append(receipt)
        return httpx.Response(200, json=application(receipt))


def batch_client(handler: Route | SlowLookups, **kwargs: object) -> HttpImmigrationClient:
    async def no_sleep(seconds: float) -> None:
        return None

    options: dict[str, object] = {
        "max_concurrency": 4,
        "max_attempts": 2,
        "max_requests_per_second": 10_000.0,
        "async_sleep": no_sleep,
    }
    options.update(kwargs)
    return HttpImmigrationClient(
        BASE_URL,
        "org-client",
        "org-secret",
        transport=httpx.MockTransport(lambda request: error(500, "unused")),
        async_transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        sleep=lambda seconds: None,
        **options,  # type: ignore[arg-type]
    )


RECEIPTS = [f"R-{index:02d}" for index in range(40)]


def test_batch_404_without_contract_body_is_not_trusted() -> None:
    handler = SlowLookups("R-02", httpx.Response(404, text="Not Found"))
    with pytest.raises(ImmigrationApiResponseError, match="base URL"):
        batch_client(handler).get_applications(RECEIPTS)


def test_batch_404_with_contract_body_is_none() -> None:
    handler = SlowLookups("R-02", error(404, "not_found"), delay=0.0)
    found = batch_client(handler).get_applications(RECEIPTS[:6])
    assert list(found) == RECEIPTS[:6]
    assert found["R-02"] is None
    assert all(found[receipt] is not None for receipt in RECEIPTS[:6] if receipt != "R-02")


def test_batch_contract_breaking_body_raises_without_applicant_data() -> None:
    broken = {**application("R-02"), "status": "DECIDED_MAYBE"}
    handler = SlowLookups("R-02", httpx.Response(200, json=broken))
    with pytest.raises(ImmigrationApiResponseError, match="breaks the contract") as caught:
        batch_client(handler).get_applications(RECEIPTS)
    message = str(caught.value)
    assert "status" in message
    assert NAME not in message and CARD not in message and "DECIDED_MAYBE" not in message


def test_batch_answer_for_another_receipt_raises() -> None:
    handler = SlowLookups("R-02", httpx.Response(200, json=application("R-99")))
    with pytest.raises(ImmigrationApiResponseError, match="different receipt number"):
        batch_client(handler).get_applications(RECEIPTS)


def test_batch_first_error_cancels_the_rest() -> None:
    handler = SlowLookups("R-01", httpx.Response(200, json=application("R-99")))
    client = batch_client(handler)
    with pytest.raises(ImmigrationApiResponseError, match="different receipt number"):
        client.get_applications(RECEIPTS)
    # 4 lookups were in flight when R-01 failed: the other 3 were cancelled before their
    # answers arrived, and none of the 36 queued receipt numbers was sent
    assert sorted(handler.started) == ["R-00", "R-01", "R-02", "R-03"]
    assert handler.answered == []
    assert client.api_calls == 1 + 4  # login + the lookups sent


class PagedListing:
    """An async handler: a 3-page listing whose pages are slow, and quick receipt lookups."""

    def __init__(self, *, bad_page: int | None = None) -> None:
        self.events: list[str] = []
        self.bad_page = bad_page
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        if request.url.path == "/v1/auth/token":
            return token_response()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if request.url.path == "/v1/applications":
                page = int(request.url.params.get("page_token", "0"))
                await asyncio.sleep(0.2)
                self.events.append(f"page {page}")
                if page == self.bad_page:
                    return httpx.Response(200, json={"items": [{"receipt_number": 1}]})
                items = [application(f"L-{page}")]
                token = str(page + 1) if page < 2 else None
                return httpx.Response(200, json={"items": items, "next_page_token": token})
            receipt = request.url.path.rsplit("/", 1)[-1]
            await asyncio.sleep(0.001)
            self.events.append(receipt)
            if receipt.startswith("U-"):
                return error(404, "not_found")
            return httpx.Response(200, json=application(receipt))
        finally:
            self.in_flight -= 1


def test_lookups_overlap_the_listing_and_after_listing_follows_it() -> None:
    handler = PagedListing()
    seen: list[list[str]] = []

    def after(listed: list[Application]) -> list[str]:
        seen.append([app.receipt_number for app in listed])
        return ["U-1", "P-1", "L-0", "P-2"]  # P-1 was looked up already: not repeated

    early = [f"P-{index}" for index in range(1, 9)]
    listed, found = batch_client(handler, max_concurrency=3).list_and_get_applications(
        early, after_listing=after
    )
    assert [app.receipt_number for app in listed] == ["L-0", "L-1", "L-2"]
    assert seen == [["L-0", "L-1", "L-2"]]
    assert list(found) == [*early, "U-1", "L-0"]
    assert found["U-1"] is None and found["L-0"] is not None
    assert handler.events.count("P-1") == 1
    # every early lookup was answered before the listing's first page, the late ones after
    # the last page; the listing held one of the three slots all along
    assert handler.events.index("page 0") > max(handler.events.index(p) for p in early)
    assert handler.events.index("U-1") > handler.events.index("page 2")
    assert handler.max_in_flight <= 3


def test_a_broken_listing_page_cancels_the_lookups() -> None:
    handler = PagedListing(bad_page=1)
    after_calls: list[int] = []
    client = batch_client(handler, max_concurrency=2)
    with pytest.raises(ImmigrationApiResponseError, match="ApplicationPage"):
        client.list_and_get_applications(
            [f"P-{index}" for index in range(1000)],
            after_listing=lambda listed: after_calls.append(len(listed)) or [],
        )
    assert after_calls == []
    assert sum(1 for event in handler.events if event.startswith("P-")) < 1000


def test_list_and_get_refuses_a_naive_updated_since() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        batch_client(PagedListing()).list_and_get_applications(updated_since=datetime.now())

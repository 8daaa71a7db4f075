"""The ISA listing read as concurrent ``updated_at`` ranges, against an in-test keyset API.

The fake API below implements the contract's listing (order (``updated_at``,
``receipt_number``), [``updated_since``, ``updated_before``), opaque keyset page tokens) so
that each test can bend one part of it: ignore or refuse ``updated_before``, expire a page
token, slow ranges down, change an application while the listing runs.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.unit.test_immigration_client import application, error, token_response
from zairyu_sync.errors import ConfigError, ImmigrationApiError, ImmigrationApiResponseError
from zairyu_sync.immigration import Application, HttpImmigrationClient
from zairyu_sync.immigration.client import MIN_PAGES_PER_RANGE

pytestmark = pytest.mark.unit

BASE_URL = "http://isa.test"
JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=JST)
PAGE_SIZE = 5
SHARED = 4  # applications per updated_at: every range bound falls inside such a group


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class KeysetApi:
    """The contract's listing over ``apps`` (receipt -> updated_at); lookups answer 404.

    Args:
        apps: the organization's applications.
        honour_before: apply ``updated_before`` (False: ignore it, like an older server).
        refuse_before: answer 400 to ``updated_before`` (an API without the parameter).
        delay: seconds an answer to a listing request with these parameters takes.
        expire_once: answer 410 ``page_token_expired`` once to the first page-token request
            whose ``updated_since`` is this instant.
        after_page: called with the request's parameters and whether the page is its range's
            last, after the page is computed (to change the data while the listing runs).
        server_now: the server's clock, sent as the ``Date`` header (None: no header).
    """

    def __init__(
        self,
        apps: dict[str, datetime],
        *,
        honour_before: bool = True,
        refuse_before: bool = False,
        delay: Callable[[httpx.QueryParams], float] | None = None,
        expire_once: datetime | None = None,
        after_page: Callable[[httpx.QueryParams, bool], None] | None = None,
        server_now: datetime | None = None,
    ) -> None:
        self.apps = dict(apps)
        self.server_now = server_now
        self.honour_before = honour_before
        self.refuse_before = refuse_before
        self.delay = delay
        self.expire_once = expire_once
        self.after_page = after_page
        self.listing_params: list[httpx.QueryParams] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def sequence(self) -> list[tuple[str, datetime]]:
        """The whole listing as (receipt, updated_at) in the contract's order."""
        return sorted(self.apps.items(), key=lambda item: (item[1], item[0]))

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/token":
            return token_response()
        if request.url.path != "/v1/applications":
            return error(404, "not_found")
        params = request.url.params
        self.listing_params.append(params)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay is not None:
                await asyncio.sleep(self.delay(params))
            else:
                await asyncio.sleep(0)
            return self._page(params)
        finally:
            self.in_flight -= 1

    def _page(self, params: httpx.QueryParams) -> httpx.Response:
        if "updated_before" in params and self.refuse_before:
            return error(400, "invalid_request")
        since = _moment(params.get("updated_since"))
        before = _moment(params.get("updated_before")) if self.honour_before else None
        token = params.get("page_token")
        if token is not None and self.expire_once is not None and since == self.expire_once:
            self.expire_once = None
            return error(410, "page_token_expired")
        rows = [
            (receipt, moment)
            for receipt, moment in self.sequence()
            if (since is None or moment >= since) and (before is None or moment < before)
        ]
        if token is not None:
            at, receipt = token.split("|")
            cursor = (datetime.fromisoformat(at), receipt)
            rows = [row for row in rows if (row[1], row[0]) > cursor]
        page, more = rows[: int(params["page_size"])], len(rows) > int(params["page_size"])
        next_token = f"{page[-1][1].isoformat()}|{page[-1][0]}" if more else None
        if self.after_page is not None:
            self.after_page(params, not more)
        items = [application(receipt, updated_at=moment.isoformat()) for receipt, moment in page]
        headers = {}
        if self.server_now is not None:
            headers["date"] = email.utils.format_datetime(
                self.server_now.astimezone(UTC), usegmt=True
            )
        return httpx.Response(
            200, json={"items": items, "next_page_token": next_token}, headers=headers
        )


def clustered(count: int, *, start: datetime = T0) -> dict[str, datetime]:
    """``count`` applications, ``SHARED`` of them per minute, receipts not in time order."""
    return {
        f"R-{(index * 7919) % 100_000:05d}": start + timedelta(minutes=index // SHARED)
        for index in range(count)
    }


def make_client(api: KeysetApi, *, now: datetime, **kwargs: Any) -> HttpImmigrationClient:
    async def no_sleep(seconds: float) -> None:
        return None

    options: dict[str, Any] = {
        "max_concurrency": 8,
        "max_attempts": 2,
        "max_requests_per_second": 10_000.0,
        "page_size": PAGE_SIZE,
        "async_sleep": no_sleep,
        "wall_clock": lambda: now,
    }
    options.update(kwargs)
    return HttpImmigrationClient(
        BASE_URL,
        "org-client",
        "org-secret",
        transport=httpx.MockTransport(lambda request: asyncio.run(api(request))),
        async_transport=httpx.MockTransport(api),
        sleep=lambda seconds: None,
        **options,
    )


def keys(listed: list[Application]) -> list[tuple[str, datetime]]:
    return [(app.receipt_number, app.updated_at) for app in listed]


def ranges_of(api: KeysetApi) -> set[tuple[str | None, str | None]]:
    """The distinct (updated_since, updated_before) pairs the client listed with."""
    return {(p.get("updated_since"), p.get("updated_before")) for p in api.listing_params}


def test_ranges_partition_the_listing_with_shared_timestamps_at_every_bound() -> None:
    apps = clustered(240)  # 60 minutes of data; "now" is at minute 50, so 10 lie beyond it
    api = KeysetApi(apps)
    now = T0 + timedelta(minutes=50)
    listed, _ = make_client(api, now=now, listing_ranges=7).list_and_get_applications()

    assert keys(listed) == api.sequence()  # every application once, in the listing's order
    bounded = sorted(
        datetime.fromisoformat(before) for _, before in ranges_of(api) if before is not None
    )
    # first page: minutes 0-1, so the rest (minute 1 to 50) is cut into 7 ranges of 7 minutes
    assert bounded == [T0 + timedelta(minutes=1 + 7 * step) for step in range(1, 7)]
    assert all(sum(moment == bound for moment in apps.values()) == SHARED for bound in bounded)
    assert api.max_in_flight > 1
    sequential_pages = -(-len(apps) // PAGE_SIZE)
    # each range may end on a partly filled page; the open range may be read once more
    assert len(api.listing_params) <= sequential_pages + 7 + 1


def test_the_result_equals_the_sequential_listing_of_the_same_data() -> None:
    apps = clustered(400, start=T0 - timedelta(days=30))
    api = KeysetApi(apps)
    client = make_client(api, now=T0, listing_ranges=8)
    listed, _ = client.list_and_get_applications()
    ranged_requests = len(api.listing_params)
    api.listing_params.clear()
    sequential = list(make_client(api, now=T0, listing_ranges=1).list_applications())
    assert [app.model_dump() for app in listed] == [app.model_dump() for app in sequential]
    assert all(p.get("updated_before") is None for p in api.listing_params)
    assert ranged_requests <= len(api.listing_params) + 8 + 1


def test_ranges_respect_updated_since() -> None:
    apps = clustered(300)
    since = T0 + timedelta(minutes=10, seconds=30)
    api = KeysetApi(apps)
    listed, _ = make_client(api, now=T0 + timedelta(minutes=80)).list_and_get_applications(
        updated_since=since
    )
    assert keys(listed) == [row for row in api.sequence() if row[1] >= since]
    assert len(ranges_of(api)) > 2


@pytest.mark.parametrize(
    ("apps", "now"),
    [
        pytest.param(clustered(5), T0 + timedelta(days=1), id="one-page"),
        pytest.param(
            {f"R-{index:03d}": T0 for index in range(30)}, T0 + timedelta(days=1), id="one-instant"
        ),
        pytest.param(clustered(40), T0 + timedelta(minutes=5), id="short-rest"),
        pytest.param(clustered(400), T0 - timedelta(days=1), id="clock-behind-the-data"),
    ],
)
def test_short_or_unmeasurable_listings_are_read_in_one_sequence(
    apps: dict[str, datetime], now: datetime
) -> None:
    api = KeysetApi(apps)
    listed, _ = make_client(api, now=now).list_and_get_applications()
    assert keys(listed) == api.sequence()
    assert all(p.get("updated_before") is None for p in api.listing_params)
    assert len(api.listing_params) == max(1, -(-len(apps) // PAGE_SIZE))


def test_the_split_is_sized_by_the_estimated_pages() -> None:
    # first page: 5 applications over 1 minute; 2 * MIN_PAGES_PER_RANGE pages' worth after it
    apps = clustered(200)
    rest_minutes = 2 * MIN_PAGES_PER_RANGE
    api = KeysetApi(apps)
    now = T0 + timedelta(minutes=1 + rest_minutes)
    listed, _ = make_client(api, now=now, listing_ranges=8).list_and_get_applications()
    assert keys(listed) == api.sequence()
    assert sum(1 for _, before in ranges_of(api) if before is not None) == 1  # two ranges


@pytest.mark.parametrize(
    ("api_options", "reason"),
    [
        pytest.param({"refuse_before": True}, "HTTP 400 (invalid_request)", id="refuses"),
        pytest.param({"honour_before": False}, "ignored updated_before", id="ignores"),
    ],
)
def test_an_api_without_updated_before_is_read_in_one_sequence(
    api_options: dict[str, bool], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    apps = clustered(240)
    api = KeysetApi(apps, **api_options)
    client = make_client(api, now=T0 + timedelta(minutes=50))
    with caplog.at_level(logging.WARNING, logger="zairyu_sync.immigration.client"):
        listed, _ = client.list_and_get_applications()
    assert keys(listed) == api.sequence()
    assert any(p.get("updated_before") is not None for p in api.listing_params)  # tried ranges
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and reason in warnings[0] and "one sequence" in warnings[0]
    # the sequence follows on from the first page and reads each page of the listing once;
    # the ranges' requests before they were given up come on top
    sequential_pages = -(-len(apps) // PAGE_SIZE)
    first_range = [p for p in api.listing_params if p.get("updated_since") is None]
    assert len(first_range) == sequential_pages
    assert len(api.listing_params) < 2 * sequential_pages


def test_late_answers_of_given_up_ranges_are_dropped() -> None:
    apps = clustered(240)
    first_bound: list[str] = []

    def delay(params: httpx.QueryParams) -> float:
        bound = params.get("updated_before")
        if bound is None:
            return 0.0
        if not first_bound:
            first_bound.append(bound)
        return 0.0 if bound == first_bound[0] else 0.3  # the other ranges answer after the end

    api = KeysetApi(apps, refuse_before=True, delay=delay)
    calls: list[int] = []

    def after_listing(listed: list[Application]) -> list[str]:
        calls.append(len(listed))
        return []

    client = make_client(api, now=T0 + timedelta(minutes=50))
    listed, _ = client.list_and_get_applications(after_listing=after_listing)
    assert keys(listed) == api.sequence()
    assert calls == [len(apps)]  # the listing ended once, with everything


def test_listing_ranges_1_does_not_try_updated_before(caplog: pytest.LogCaptureFixture) -> None:
    apps = clustered(240)
    api = KeysetApi(apps, refuse_before=True)
    client = make_client(api, now=T0 + timedelta(minutes=50), listing_ranges=1)
    with caplog.at_level(logging.WARNING, logger="zairyu_sync.immigration.client"):
        listed, _ = client.list_and_get_applications()
    assert keys(listed) == api.sequence()
    assert all(p.get("updated_before") is None for p in api.listing_params)
    assert len(api.listing_params) == -(-len(apps) // PAGE_SIZE)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


class _RefusesLaterPages(KeysetApi):
    """Honours ``updated_before`` on first pages, then answers 400 to a bounded page token."""

    def _page(self, params: httpx.QueryParams) -> httpx.Response:
        if "updated_before" in params and "page_token" in params:
            return error(400, "invalid_request")
        return super()._page(params)


def test_a_400_after_bounded_pages_were_accepted_is_an_error() -> None:
    api = _RefusesLaterPages(clustered(240))
    client = make_client(api, now=T0 + timedelta(minutes=50))
    with pytest.raises(ImmigrationApiError, match="HTTP 400"):
        client.list_and_get_applications()


def test_a_page_outside_updated_since_is_still_a_contract_violation() -> None:
    class IgnoresSince(KeysetApi):
        def _page(self, params: httpx.QueryParams) -> httpx.Response:
            answer = super()._page(params)
            if "updated_since" in params and "page_token" not in params:
                body = answer.json()
                body["items"].insert(0, application("R-EARLY", updated_at=T0.isoformat()))
                body["items"] = body["items"][:PAGE_SIZE]
                return httpx.Response(200, json=body)
            return answer

    api = IgnoresSince(clustered(240))
    client = make_client(api, now=T0 + timedelta(minutes=50))
    with pytest.raises(ImmigrationApiResponseError, match="updated_since"):
        client.list_and_get_applications()


def test_an_expired_page_token_restarts_only_its_range(caplog: pytest.LogCaptureFixture) -> None:
    apps = clustered(240)
    bound = T0 + timedelta(minutes=1 + 7 * 3)  # the fourth range's lower bound (see above)
    api = KeysetApi(apps, expire_once=bound)
    client = make_client(api, now=T0 + timedelta(minutes=50), listing_ranges=7)
    with caplog.at_level(logging.WARNING, logger="zairyu_sync.immigration.client"):
        listed, _ = client.list_and_get_applications()
    assert keys(listed) == api.sequence()
    assert api.expire_once is None  # the 410 was served
    assert any("restarting the listing" in record.getMessage() for record in caplog.records)
    restarted = [
        p
        for p in api.listing_params
        if p.get("updated_since") == bound.isoformat() and "page_token" not in p
    ]
    assert len(restarted) == 2  # its first page, and again after the 410


def test_an_application_updated_while_the_ranges_run_is_still_listed() -> None:
    """An update moves an application to the end; the open range is read on to catch it."""
    apps = clustered(240)
    now = T0 + timedelta(minutes=50)
    late = T0 + timedelta(days=1)
    moved = max(  # the newest application of the first range, read last there
        (item for item in apps.items() if item[1] < T0 + timedelta(minutes=8)),
        key=lambda item: (item[1], item[0]),
    )[0]

    def slow_first_range(params: httpx.QueryParams) -> float:
        first = params.get("updated_before") == (T0 + timedelta(minutes=8)).isoformat()
        return 0.05 if first else 0.0

    def update_after_open_range(params: httpx.QueryParams, last_page: bool) -> None:
        if last_page and "updated_before" not in params and api.apps[moved] != late:
            api.apps[moved] = late  # the first range has not reached it yet

    api = KeysetApi(apps, delay=slow_first_range, after_page=update_after_open_range)
    listed, _ = make_client(api, now=now, listing_ranges=7).list_and_get_applications()
    assert api.apps[moved] == late
    assert (moved, late) in keys(listed)
    assert len({receipt for receipt, _ in keys(listed)}) == len(apps)
    tail_since = (T0 + timedelta(minutes=59)).isoformat()  # the open range's newest before
    assert [p.get("updated_since") for p in api.listing_params].count(tail_since) == 1


def test_lookups_of_unlisted_receipts_wait_for_the_whole_ranged_listing() -> None:
    apps = clustered(240)
    api = KeysetApi(apps)
    erp = [*list(apps)[:10], "P-1", "P-2"]
    seen: list[int] = []

    def after(listed: list[Application]) -> list[str]:
        seen.append(len(listed))
        known = {app.receipt_number for app in listed}
        return [receipt for receipt in erp if receipt not in known]

    listed, found = make_client(api, now=T0 + timedelta(minutes=50)).list_and_get_applications(
        after_listing=after
    )
    assert seen == [len(apps)]
    assert found == {"P-1": None, "P-2": None}
    assert len(listed) == len(apps)


def test_naive_bounds_and_bad_settings_are_refused() -> None:
    api = KeysetApi(clustered(10))
    with pytest.raises(ValueError, match="timezone-aware"):
        make_client(api, now=T0).list_and_get_applications(updated_since=datetime(2026, 1, 1))
    with pytest.raises(ConfigError, match="listing_ranges"):
        make_client(api, now=T0, listing_ranges=0)
    assert make_client(api, now=T0, listing_ranges=64).listing_ranges == 8  # max_concurrency
    assert make_client(api, now=T0, max_concurrency=3).listing_ranges == 3


def test_ranges_end_at_the_server_clock_when_the_client_clock_is_ahead() -> None:
    """An application updated during the listing is listed although this clock runs an hour fast.

    The server stamps the update at its own present (minute 60). Ranges cut up to this machine's
    clock (minute 120) would put it into a bounded range that has already been read; cut up to
    the server's ``Date`` they put it into the open range, which is read last.
    """
    apps = clustered(240)  # minutes 0..59
    server_now = T0 + timedelta(minutes=60)
    client_now = T0 + timedelta(minutes=120)
    first_cut = T0 + timedelta(minutes=18)  # the first range's end with the client's clock
    moved = max((item for item in apps.items() if item[1] < first_cut), key=lambda i: (i[1], i[0]))

    def slow_first_range(params: httpx.QueryParams) -> float:
        return 0.05 if params.get("updated_before") == first_cut.isoformat() else 0.0

    def update(params: httpx.QueryParams, last: bool) -> None:
        """Stamp ``moved`` at the server's present right after the range holding it is read."""
        since, before = params.get("updated_since"), params.get("updated_before")
        holds_now = since is not None and datetime.fromisoformat(since) <= server_now
        holds_now &= before is None or server_now < datetime.fromisoformat(before)
        if last and holds_now and api.apps[moved[0]] != server_now:
            api.apps[moved[0]] = server_now

    api = KeysetApi(apps, delay=slow_first_range, after_page=update, server_now=server_now)
    listed, _ = make_client(api, now=client_now, listing_ranges=7).list_and_get_applications()
    assert api.apps[moved[0]] == server_now  # the update happened during the listing
    assert any(params.get("updated_before") for params in api.listing_params)  # it was split
    assert {receipt for receipt, _ in keys(listed)} == set(apps)
    bounds = [
        datetime.fromisoformat(str(params["updated_before"]))
        for params in api.listing_params
        if params.get("updated_before")
    ]
    assert max(bounds) <= server_now

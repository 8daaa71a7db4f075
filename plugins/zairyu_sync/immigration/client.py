"""The adapter interface to ISA application statuses, and its HTTP client for ``openapi.yaml``.

The pipeline depends only on :class:`ImmigrationStatusSource`. :class:`HttpImmigrationClient`
implements it for the project's assumed contract (served by the simulator); an adapter for ISA's
real API would implement the same two methods.

Failure semantics of :class:`HttpImmigrationClient`:

* 429, 5xx and transport errors (timeouts, refused connections) are retried with exponential
  backoff and jitter; a ``Retry-After`` header is honoured exactly, and one longer than
  ``max_backoff_seconds`` ends the retries at once. Exhausted retries raise
  :class:`~zairyu_sync.errors.ImmigrationApiUnavailable`.
* A 200 whose body is not JSON at all (truncated or garbled on the way) is retried like a
  transient failure; when the retries run out it raises
  :class:`~zairyu_sync.errors.ImmigrationApiResponseError` (never an empty result).
* A client-side token bucket keeps requests (attempts, logins included) at or below
  ``max_requests_per_second``.
* A circuit breaker fails the whole run cleanly: after ``circuit_breaker_threshold``
  consecutive failed attempts (across requests), or once ``max_total_seconds`` have passed since
  the client's first request while failures continue, every further request raises
  :class:`~zairyu_sync.errors.ImmigrationApiUnavailable` at once, so the task fails and the
  scheduler retries it later instead of reconciling against a partial listing.
* A listing whose page token expires (410 ``page_token_expired``) is restarted from the first
  page once; applications already yielded are not yielded again.
* Login is lazy and the token cached until shortly before it expires. A 401 on a call clears it
  and logs in again once; a second 401, or rejected credentials, raise
  :class:`~zairyu_sync.errors.ImmigrationApiAuthError`.
* :meth:`HttpImmigrationClient.get_applications` looks receipt numbers up concurrently (async
  httpx, at most ``max_concurrency`` requests in flight) with the same request/response handling
  as the sequential methods: the same retries and ``Retry-After``, one shared rate limiter, one
  shared circuit breaker, one login at a time (a 401 seen by several in-flight requests logs in
  once). A ``Retry-After`` pauses every in-flight worker, not only the request that got it.
  Failed attempts that were in flight together count once towards the breaker's consecutive
  failures (a sequential client sees exactly the old count). The first error cancels the rest.
* :meth:`HttpImmigrationClient.list_and_get_applications` reads the listing on the same slots,
  as several ``updated_at`` ranges at once when it is long (``updated_since`` /
  ``updated_before``; see :class:`_RangedListing`), while free slots already look receipt
  numbers up; then it looks up those the listing turned out to lack, with the same handling.
  An API that refuses ``updated_before`` (HTTP 400) or ignores it (a page past the range's
  end) is read on in one sequence from the first page, with a warning; any other page outside
  its range breaks the contract and raises
  :class:`~zairyu_sync.errors.ImmigrationApiResponseError`.
* Every body is validated with :mod:`zairyu_sync.immigration.models`. A body that is not JSON or
  breaks the contract raises :class:`~zairyu_sync.errors.ImmigrationApiResponseError`; it is never
  turned into an empty result. That includes a 404 without the contract's error body (for
  example a wrong base URL), which would otherwise read as "application not found".

Logs carry counts, pages, paths and status codes, never applicant data.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import email.utils
import itertools
import json as jsonlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, NoReturn, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from zairyu_sync.errors import (
    ConfigError,
    ImmigrationApiAuthError,
    ImmigrationApiError,
    ImmigrationApiResponseError,
    ImmigrationApiUnavailable,
)
from zairyu_sync.immigration.models import (
    Application,
    ApplicationPage,
    ErrorBody,
    TokenResponse,
    describe_validation_error,
)

log = logging.getLogger(__name__)

_ModelT = TypeVar("_ModelT", bound=BaseModel)
_T = TypeVar("_T")

TOKEN_PATH = "/v1/auth/token"
APPLICATIONS_PATH = "/v1/applications"
MAX_PAGE_SIZE = 500
#: Log in again this many seconds before the token's announced expiry (at most 10% of its life).
TOKEN_EXPIRY_MARGIN_SECONDS = 30.0
#: Error code of a listing page token that is no longer valid (HTTP 410).
PAGE_TOKEN_EXPIRED = "page_token_expired"
#: Default number of concurrent requests of :meth:`HttpImmigrationClient.get_applications`.
DEFAULT_MAX_CONCURRENCY = 8
#: Logins one concurrent lookup may trigger at most (revoked tokens, see ``_arequest``).
MAX_RELOGINS_PER_REQUEST = 5
#: Rejections of never-proven tokens after which a concurrent request gives up (see
#: ``_arequest``): the credentials or the API's clock are wrong, not a revocation.
FRESH_TOKEN_REJECTIONS = 3
#: Estimated pages each ``updated_at`` range of a split listing should hold at least; a listing
#: estimated shorter than twice this is read as one range (each range costs up to one partly
#: filled page more than reading it in one sequence).
MIN_PAGES_PER_RANGE = 4
#: Seconds an idle connection of the concurrent requests is kept for reuse: below common server
#: keep-alive timeouts (uvicorn's default is 5 s, httpx's own default too), so that the client,
#: not the server, closes a connection left idle (for example while the slowest listing range
#: ends); a server closing one just as a request goes out costs a failed attempt.
KEEPALIVE_EXPIRY_SECONDS = 2.0


class ImmigrationStatusSource(Protocol):
    """Where ISA application statuses come from (the adapter interface)."""

    def list_applications(self, *, updated_since: datetime | None = None) -> Iterator[Application]:
        """Yield the applications filed through the organization's account.

        Args:
            updated_since: only applications updated at or after this (timezone-aware) instant.
        """
        ...

    def get_application(self, receipt_number: str) -> Application | None:
        """One application by receipt number, including personally filed ones; None if unknown."""
        ...


class BatchImmigrationStatusSource(ImmigrationStatusSource, Protocol):
    """A source that can look many receipt numbers up at once (for example concurrently)."""

    def get_applications(self, receipt_numbers: Iterable[str]) -> dict[str, Application | None]:
        """Look receipt numbers up; see :func:`get_applications` for the result's shape."""
        ...


def get_applications(
    source: ImmigrationStatusSource, receipt_numbers: Iterable[str]
) -> dict[str, Application | None]:
    """Look up many receipt numbers through a source, concurrently when it supports it.

    Uses the source's own ``get_applications`` batch method when it has one (as
    :class:`HttpImmigrationClient` does), otherwise calls ``get_application`` once per receipt
    number, in order (the sequential default every adapter gets for free).

    Args:
        source: the status API adapter.
        receipt_numbers: receipt numbers (trimmed; blank ones are refused, repeats looked up once).

    Returns:
        Receipt number -> application, or None when the API does not know it; keys in the order
        of first appearance.

    Raises:
        ValueError: a receipt number is blank.
        ImmigrationApiError: (subclasses) the API could not be used or answered garbage.
    """
    receipts = _distinct_receipts(receipt_numbers)
    batch = getattr(source, "get_applications", None)
    if callable(batch):
        found: dict[str, Application | None] = batch(receipts)
        return {receipt: found[receipt] for receipt in receipts}
    return {receipt: source.get_application(receipt) for receipt in receipts}


def _distinct_receipts(receipt_numbers: Iterable[str]) -> list[str]:
    receipts = [receipt.strip() for receipt in receipt_numbers]
    if any(not receipt for receipt in receipts):
        raise ValueError("receipt numbers must not be empty")
    return list(dict.fromkeys(receipts))


class _RetryableStatus(Exception):
    """A 429 or 5xx answer; carries the server's ``Retry-After`` (seconds) if any."""

    def __init__(self, status_code: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after


class _MalformedBody(Exception):
    """A 200 whose body is not JSON at all (truncated or garbled); retried as transient."""

    def __init__(self, path: str) -> None:
        super().__init__(f"malformed JSON body from {path}")


class _CircuitOpen(Exception):
    """The circuit breaker is open; no further requests are sent."""


class TokenBucket:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second, burst ``capacity``.

    Args:
        rate: tokens added per second (> 0).
        capacity: bucket size (default ``max(1, rate)``).
        clock: monotonic clock in seconds.
        sleep: how to wait for a token.
    """

    def __init__(
        self,
        rate: float,
        *,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ConfigError(f"max_requests_per_second must be positive, got {rate}")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._at = clock()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def reserve(self) -> float:
        """Take one token now and return how long the caller must wait before using it.

        Tokens taken while the bucket is empty are reservations of future tokens, so concurrent
        callers (threads or asyncio tasks) that each wait their returned time never exceed the
        rate together.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.waited_seconds += wait
        return wait

    def acquire(self) -> float:
        """Take one token, waiting until one is available; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    async def acquire_async(self) -> float:
        """:meth:`acquire` for asyncio tasks (waits with ``asyncio.sleep``)."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait


class _StopWhenRetryAfterExceeds(stop_base):
    """Stop retrying when the server asks to wait longer than the client's backoff budget."""

    def __init__(self, limit_seconds: float) -> None:
        self.limit_seconds = limit_seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        return (
            isinstance(failure, _RetryableStatus)
            and failure.retry_after is not None
            and failure.retry_after > self.limit_seconds
        )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    Args:
        value: the header value, or None.
        now: the current time for HTTP-date values (default: now, UTC).

    Returns:
        Non-negative seconds, or None when the header is absent or unparseable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _is_json(content: bytes) -> bool:
    try:
        jsonlib.loads(content)
    except ValueError:
        return False
    return True


def _error_code(response: httpx.Response) -> str:
    try:
        return ErrorBody.model_validate_json(response.content).error.code
    except ValidationError:
        return "no contract error body"


class HttpImmigrationClient:
    """:class:`ImmigrationStatusSource` over HTTP for the contract in ``openapi.yaml``.

    Args:
        base_url: e.g. ``http://127.0.0.1:8765`` (scheme required; a path prefix is kept).
        client_id: the organization's client id.
        client_secret: its secret.
        timeout: seconds for connect/read/write/pool of each request.
        page_size: items per listing page (1..500).
        max_attempts: attempts per request, the first included (>= 1).
        max_backoff_seconds: cap of the exponential backoff, and the longest ``Retry-After``
            the client is willing to wait.
        transport: an httpx transport (tests pass ``httpx.MockTransport``, which also serves
            the async batch lookups unless ``async_transport`` is given).
        sleep: how to wait between attempts (tests pass a recorder).
        backoff_initial_seconds: first backoff step; it doubles per attempt, plus up to this
            much random jitter.
        max_requests_per_second: client-side rate limit (token bucket), shared by every
            request, concurrent ones included.
        circuit_breaker_threshold: consecutive failed attempts, across requests, after which
            the circuit opens and every request fails at once.
        max_total_seconds: once this much time has passed since the first request, a failed
            attempt opens the circuit instead of being retried (None: no deadline).
        clock: monotonic clock for the deadline and the rate limiter (tests).
        max_concurrency: requests in flight at most in :meth:`get_applications` (1 looks the
            receipt numbers up one by one on the synchronous connection).
        rate_limit_burst: burst size of the client's token bucket (default: one second's worth,
            ``max(1, max_requests_per_second)``). Keep it below the server's burst when the
            client's rate equals the server's limit, so that network jitter never bunches
            requests into a 429.
        async_transport: an httpx async transport for :meth:`get_applications` (tests).
        async_sleep: how the async lookups wait between attempts (tests pass a recorder).
        listing_ranges: ``updated_at`` ranges :meth:`list_and_get_applications` may read a
            long listing in at once (default and upper bound: ``max_concurrency``; 1 reads it
            in one sequence). An API without ``updated_before`` is detected on its first
            answer to a bounded range and then read in one sequence anyway; 1 saves that
            request and the warning.
        wall_clock: the current time (timezone-aware), the end of the last bounded range when
            a listing is split (tests).

    Attributes:
        api_calls: HTTP requests sent so far (logins and retries included).
        failed_attempts: attempts that failed transiently (5xx, 429, transport, malformed).
        rate_limiter: the client's :class:`TokenBucket`.
        max_concurrency: see the argument.
        listing_ranges: the ranges a listing is split into at most (see the argument).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 10.0,
        page_size: int = 100,
        max_attempts: int = 5,
        max_backoff_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_initial_seconds: float = 0.5,
        max_requests_per_second: float = 20.0,
        circuit_breaker_threshold: int = 10,
        max_total_seconds: float | None = 600.0,
        clock: Callable[[], float] = time.monotonic,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        rate_limit_burst: float | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        listing_ranges: int | None = None,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError("ISA status API base URL must be http(s)://host[:port][/prefix]")
        if not client_id or not client_secret:
            raise ConfigError("ISA status API client id and client secret are required")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        if timeout <= 0 or max_backoff_seconds < 0 or backoff_initial_seconds < 0:
            raise ConfigError("timeout must be positive and backoff settings non-negative")
        if circuit_breaker_threshold < 1:
            raise ConfigError(
                f"circuit_breaker_threshold must be at least 1, got {circuit_breaker_threshold}"
            )
        if max_total_seconds is not None and max_total_seconds <= 0:
            raise ConfigError(f"max_total_seconds must be positive, got {max_total_seconds}")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if rate_limit_burst is not None and rate_limit_burst < 1:
            raise ConfigError(f"rate_limit_burst must be at least 1, got {rate_limit_burst}")
        if listing_ranges is not None and listing_ranges < 1:
            raise ConfigError(f"listing_ranges must be at least 1, got {listing_ranges}")
        self.base_url = str(url).rstrip("/")
        self.client_id = client_id
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.max_backoff_seconds = max_backoff_seconds
        self.max_concurrency = max_concurrency
        self.listing_ranges = min(
            max_concurrency, listing_ranges if listing_ranges is not None else max_concurrency
        )
        self._wall_clock = wall_clock or _utc_now
        self.api_calls = 0
        self.failed_attempts = 0
        self.circuit_breaker_threshold = circuit_breaker_threshold
        self.max_total_seconds = max_total_seconds
        self.rate_limiter = TokenBucket(
            max_requests_per_second, capacity=rate_limit_burst, clock=clock
        )
        self._timeout = timeout
        self._clock = clock
        self._started_at: float | None = None
        self._consecutive_failures = 0
        self._failure_epoch = 0
        self._resume_at = 0.0
        self._circuit_open_reason: str | None = None
        self._client_secret = client_secret
        self._sleep = sleep
        self._async_sleep = async_sleep or asyncio.sleep
        self._backoff = wait_exponential_jitter(
            initial=backoff_initial_seconds,
            max=max_backoff_seconds,
            jitter=backoff_initial_seconds,
        )
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._proven_token: str | None = None
        if async_transport is None and isinstance(transport, httpx.AsyncBaseTransport):
            async_transport = transport
        self._async_transport = async_transport
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    # --- adapter interface --------------------------------------------------------------------

    def list_applications(self, *, updated_since: datetime | None = None) -> Iterator[Application]:
        """Yield the organization's applications, following ``next_page_token`` to the end.

        Args:
            updated_since: only applications updated at or after this timezone-aware instant.

        Raises:
            ValueError: ``updated_since`` has no timezone.
            ImmigrationApiError: (subclasses) see the module docstring.
        """
        listing = _Listing(self.page_size, updated_since)
        while not listing.done:
            response = self._request("GET", APPLICATIONS_PATH, params=listing.params)
            yield from listing.accept(response)
        listing.log_done()

    def get_application(self, receipt_number: str) -> Application | None:
        """One application by receipt number; None when the API answers 404 (unknown).

        Raises:
            ValueError: ``receipt_number`` is empty.
            ImmigrationApiError: (subclasses) see the module docstring.
        """
        receipt = receipt_number.strip()
        if not receipt:
            raise ValueError("receipt_number must not be empty")
        response = self._request("GET", _application_path(receipt))
        return self._application_from(response, receipt)

    def get_applications(self, receipt_numbers: Iterable[str]) -> dict[str, Application | None]:
        """Look many receipt numbers up, at most ``max_concurrency`` requests in flight.

        Every lookup behaves as :meth:`get_application` (same retries, rate limiter, circuit
        breaker, validation and error types). The first lookup that fails ends the batch: the
        other in-flight lookups are cancelled and that error is raised.

        Args:
            receipt_numbers: receipt numbers (trimmed; repeats are looked up once).

        Returns:
            Receipt number -> application, or None when the API answers 404; keys in the order
            of first appearance.

        Raises:
            ValueError: a receipt number is empty.
            ImmigrationApiError: (subclasses) see the module docstring.
        """
        receipts = _distinct_receipts(receipt_numbers)
        if self.max_concurrency == 1 or len(receipts) <= 1:
            return {receipt: self.get_application(receipt) for receipt in receipts}
        _, found = _run_coroutine(self._asession(receipts))
        log.info(
            "looked up %d receipt number(s) with up to %d concurrent requests (%d unknown)",
            len(receipts),
            self.max_concurrency,
            sum(1 for value in found.values() if value is None),
        )
        return found

    def list_and_get_applications(
        self,
        receipt_numbers: Iterable[str] = (),
        *,
        updated_since: datetime | None = None,
        after_listing: Callable[[list[Application]], Iterable[str]] | None = None,
    ) -> tuple[list[Application], dict[str, Application | None]]:
        """List the organization's applications and look receipt numbers up, overlapping both.

        Each listing page needs the previous page's token, so one sequence of pages uses a
        small part of the rate limit. Here the ``max_concurrency`` slots share the work: a
        free slot requests the next page of the listing when one can be requested, else looks
        a receipt number up (``receipt_numbers`` first: receipt numbers the caller expects
        outside the listing, e.g. from the last sync). When the first page shows that the
        listing is long, the rest of it is read as up to ``listing_ranges`` adjacent
        ``updated_at`` ranges at once (:class:`_RangedListing`); the result is the same
        listing. When the listing is complete, ``after_listing`` is called with it and the
        receipt numbers it returns are looked up too, so the pipe stays full from the first
        request to the last. Requests, retries, rate limiter, circuit breaker, validation and
        error types are those of :meth:`list_applications` and :meth:`get_applications`; the
        first error cancels everything else and is raised.

        Args:
            receipt_numbers: receipt numbers to look up at once (trimmed; repeats once).
            updated_since: the listing's filter (timezone-aware), as in
                :meth:`list_applications`.
            after_listing: called once with the listed applications; returns further receipt
                numbers to look up (ones already looked up are not repeated). It runs on the
                event loop, so it should be quick (set arithmetic, no I/O).

        Returns:
            The listed applications (in listing order, as :meth:`list_applications` yields
            them from the same data) and receipt number -> application or None (404), for
            ``receipt_numbers``
            followed by those ``after_listing`` added.

        Raises:
            ValueError: ``updated_since`` is naive, or a receipt number is empty (also one
                returned by ``after_listing``).
            ImmigrationApiError: (subclasses) see the module docstring.
        """
        receipts = _distinct_receipts(receipt_numbers)
        listing = _RangedListing(
            self.page_size, updated_since, max_ranges=self.listing_ranges, now=self._wall_clock
        )

        def more(listed: list[Application]) -> list[str]:
            return _distinct_receipts(after_listing(listed)) if after_listing else []

        listed, found = _run_coroutine(
            self._asession(receipts, listing=listing, after_listing=more)
        )
        log.info(
            "listed %d ISA applications while looking up %d receipt number(s) (%d unknown) "
            "with up to %d concurrent requests",
            len(listed),
            len(found),
            sum(1 for value in found.values() if value is None),
            self.max_concurrency,
        )
        return listed, found

    # --- session ------------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Log in now (normally lazy); bad credentials raise :class:`ImmigrationApiAuthError`."""
        self._token = None
        self._login()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._http.is_closed

    def close(self) -> None:
        """Close the underlying HTTP connections."""
        self._http.close()

    def __enter__(self) -> HttpImmigrationClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- shared request/response handling (sync and async) -----------------------------------

    def _token_fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._token_expires_at

    def _accept_login(self, response: httpx.Response) -> None:
        """Interpret a token endpoint answer: keep the token or raise."""
        if response.status_code in (401, 403):
            raise ImmigrationApiAuthError(
                f"ISA status API rejected the client credentials (HTTP {response.status_code}, "
                f"{_error_code(response)})"
            )
        if response.status_code != 200:
            self._raise_unexpected(response, TOKEN_PATH)
        token = self._parse(response, TokenResponse, TOKEN_PATH)
        margin = min(TOKEN_EXPIRY_MARGIN_SECONDS, token.expires_in / 10)
        self._token = token.access_token
        self._token_expires_at = time.monotonic() + token.expires_in - margin
        log.info("logged in to the ISA status API (token valid %d s)", token.expires_in)

    def _credentials(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "client_secret": self._client_secret}

    def _application_from(self, response: httpx.Response, receipt: str) -> Application | None:
        """Interpret the answer to ``GET /v1/applications/{receipt}``."""
        if response.status_code == 404:
            try:
                ErrorBody.model_validate_json(response.content)
            except ValidationError as exc:
                raise ImmigrationApiResponseError(
                    f"404 from {APPLICATIONS_PATH}/{{receipt_number}} without the contract's "
                    "error body (is the base URL right?)"
                ) from exc
            log.debug("receipt number not known to ISA (404)")
            return None
        if response.status_code != 200:
            self._raise_unexpected(response, f"{APPLICATIONS_PATH}/{{receipt_number}}")
        application = self._parse(response, Application, f"{APPLICATIONS_PATH}/{{receipt_number}}")
        if application.receipt_number != receipt:
            raise ImmigrationApiResponseError(
                "the API answered a different receipt number than the one requested"
            )
        return application

    def _retry_policy(self) -> dict[str, Any]:
        """Tenacity settings shared by the sync and the async retry loops."""
        return {
            "stop": stop_any(
                stop_after_attempt(self.max_attempts),
                _StopWhenRetryAfterExceeds(self.max_backoff_seconds),
            ),
            "wait": self._wait,
            "retry": retry_if_exception_type(
                (_RetryableStatus, httpx.TransportError, _MalformedBody)
            ),
            "before_sleep": self._log_retry,
            "reraise": False,
        }

    def _give_up(self, exc: RetryError | _CircuitOpen, method: str, path: str) -> NoReturn:
        """Turn an exhausted retry loop or an open circuit into the project's exception."""
        if isinstance(exc, _CircuitOpen):
            raise ImmigrationApiUnavailable(
                f"ISA status API unavailable: {method} {path} not sent, {exc}"
            ) from None
        last = exc.last_attempt.exception()
        attempts = exc.last_attempt.attempt_number
        if isinstance(last, _MalformedBody):
            raise ImmigrationApiResponseError(
                f"{path} answered a malformed (non-JSON) body {attempts} time(s) in a row"
            ) from last
        reason = type(last).__name__ if isinstance(last, httpx.TransportError) else str(last)
        if isinstance(last, _RetryableStatus) and (last.retry_after or 0) > (
            self.max_backoff_seconds
        ):
            reason += f", Retry-After {last.retry_after:g} s exceeds the backoff budget"
        raise ImmigrationApiUnavailable(
            f"ISA status API unavailable: {method} {path} failed {attempts} time(s) ({reason})"
        ) from last

    def _begin_attempt(self) -> int:
        """Check the circuit and count the request; returns the failure epoch it was sent in."""
        self._check_circuit()
        self.api_calls += 1
        return self._failure_epoch

    def _check_answer(self, response: httpx.Response, method: str, path: str) -> None:
        """Raise the transient failure a response stands for (429/5xx/non-JSON 200)."""
        log.debug("%s %s -> %d", method, path, response.status_code)
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                self._resume_at = max(self._resume_at, self._clock() + retry_after)
            raise _RetryableStatus(response.status_code, retry_after)
        if response.status_code == 200 and not _is_json(response.content):
            raise _MalformedBody(path)

    # --- synchronous internals ----------------------------------------------------------------

    def _bearer(self) -> str:
        if not self._token_fresh():
            self._login()
        assert self._token is not None
        return self._token

    def _login(self) -> None:
        self._accept_login(self._send("POST", TOKEN_PATH, json=self._credentials()))

    def _request(
        self, method: str, path: str, *, params: dict[str, str | int] | None = None
    ) -> httpx.Response:
        """An authenticated request; on 401 log in again once and repeat."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            response = self._send(method, path, params=params, headers=headers)
            if response.status_code != 401:
                return response
            self._token = None
            if attempt == 1:
                log.info(
                    "ISA status API answered 401 (%s); logging in again", _error_code(response)
                )
        raise ImmigrationApiAuthError(
            "ISA status API rejected a freshly issued token (HTTP 401 after re-login)"
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request with retries on 429/5xx/transport errors."""
        retrying = Retrying(sleep=self._sleep, **self._retry_policy())
        try:
            response: httpx.Response = retrying(
                self._send_once, method, path, params=params, json=json, headers=headers
            )
        except (_CircuitOpen, RetryError) as exc:
            self._give_up(exc, method, path)
        return response

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None,
        json: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        self._check_circuit()
        self.rate_limiter.acquire()
        epoch = self._begin_attempt()
        try:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
            self._check_answer(response, method, path)
        except (_RetryableStatus, httpx.TransportError, _MalformedBody) as exc:
            self._record_failure(exc, epoch)
            raise
        self._consecutive_failures = 0
        return response

    # --- asynchronous internals (get_applications) --------------------------------------------

    async def _asession(
        self,
        receipts: list[str],
        *,
        listing: _RangedListing | None = None,
        after_listing: Callable[[list[Application]], Iterable[str]] | None = None,
    ) -> tuple[list[Application], dict[str, Application | None]]:
        """Look ``receipts`` up concurrently, optionally while listing (see
        :meth:`list_and_get_applications`); at most ``max_concurrency`` requests in flight."""
        found: dict[str, Application | None] = {}
        queue = collections.deque(receipts)
        order = list(receipts)
        queued = set(receipts)
        listing_done = asyncio.Event()
        if listing is None:
            listing_done.set()
        work_changed = asyncio.Event()  # set when a page or a lookup may have become available
        login_lock = asyncio.Lock()
        limits = httpx.Limits(
            max_connections=self.max_concurrency,
            max_keepalive_connections=self.max_concurrency,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
        )
        async with httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(self._timeout),
            transport=self._async_transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
            limits=limits,
        ) as http:

            def finish_listing() -> None:
                assert listing is not None
                if listing_done.is_set():  # a late answer of a range given up (see accept)
                    return
                listing.log_done()
                if after_listing is not None:
                    more = list(dict.fromkeys(after_listing(listing.applications())))
                    more = [receipt for receipt in more if receipt not in queued]
                    queued.update(more)
                    order.extend(more)
                    queue.extend(more)
                listing_done.set()

            async def work() -> None:
                """One slot: listing pages first (they decide what else to look up)."""
                while True:
                    page = listing.take() if listing is not None else None
                    if page is not None:
                        assert listing is not None
                        part, params = page
                        response = await self._arequest(
                            http, login_lock, "GET", APPLICATIONS_PATH, params=params
                        )
                        listing.accept(part, response)
                        if listing.done:
                            finish_listing()
                        work_changed.set()
                    elif queue:  # one shared queue: each receipt goes to one worker
                        receipt = queue.popleft()
                        response = await self._arequest(
                            http, login_lock, "GET", _application_path(receipt)
                        )
                        found[receipt] = self._application_from(response, receipt)
                    elif listing_done.is_set():
                        return
                    else:  # no await since the checks above, so no wake-up is missed
                        work_changed.clear()
                        await work_changed.wait()

            slots = self.max_concurrency if listing is not None else len(receipts)
            tasks = [asyncio.create_task(work()) for _ in range(min(self.max_concurrency, slots))]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        listed = listing.applications() if listing is not None else []
        return listed, {receipt: found[receipt] for receipt in order}

    async def _abearer(self, http: httpx.AsyncClient, login_lock: asyncio.Lock) -> str:
        if not self._token_fresh():
            async with login_lock:  # one login at a time; the others reuse its token
                if not self._token_fresh():
                    response = await self._asend(http, "POST", TOKEN_PATH, json=self._credentials())
                    self._accept_login(response)
        assert self._token is not None
        return self._token

    async def _arequest(
        self,
        http: httpx.AsyncClient,
        login_lock: asyncio.Lock,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
    ) -> httpx.Response:
        """:meth:`_request` for the async lookups.

        A 401 logs in again. A 401 on a token another request already used successfully is a
        revocation or an expiry, which concurrent requests may meet more than once, so it does
        not count (bounded by :data:`MAX_RELOGINS_PER_REQUEST`). A 401 on a token nobody has
        used successfully yet counts: :data:`FRESH_TOKEN_REJECTIONS` of them raise. That is one
        more than the sequential path allows, because here a fresh token can also be revoked
        by another request in flight before this one gets to use it.
        """
        strikes = 0
        for _ in range(MAX_RELOGINS_PER_REQUEST):
            token = await self._abearer(http, login_lock)
            headers = {"Authorization": f"Bearer {token}"}
            response = await self._asend(http, method, path, params=params, headers=headers)
            if response.status_code != 401:
                self._proven_token = token
                return response
            if self._token == token:  # the first request to see the 401 drops the token
                self._token = None
            if token != self._proven_token:
                strikes += 1
                if strikes >= FRESH_TOKEN_REJECTIONS:
                    break
            log.info("ISA status API answered 401 (%s); logging in again", _error_code(response))
        raise ImmigrationApiAuthError(
            "ISA status API rejected a freshly issued token (HTTP 401 after re-login)"
        )

    async def _asend(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        retrying = AsyncRetrying(sleep=self._async_sleep, **self._retry_policy())
        try:
            response: httpx.Response = await retrying(
                self._asend_once, http, method, path, params=params, json=json, headers=headers
            )
        except (_CircuitOpen, RetryError) as exc:
            self._give_up(exc, method, path)
        return response

    async def _asend_once(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None,
        json: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        self._check_circuit()
        pause = self._resume_at - self._clock()
        if pause > 0:  # another request was told to back off: everybody waits
            await asyncio.sleep(pause)
        await self.rate_limiter.acquire_async()
        epoch = self._begin_attempt()
        try:
            response = await http.request(method, path, params=params, json=json, headers=headers)
            self._check_answer(response, method, path)
        except (_RetryableStatus, httpx.TransportError, _MalformedBody) as exc:
            self._record_failure(exc, epoch)
            raise
        self._consecutive_failures = 0
        return response

    # --- circuit breaker and retry helpers ----------------------------------------------------

    def _check_circuit(self) -> None:
        now = self._clock()
        if self._started_at is None:
            self._started_at = now
        if self._circuit_open_reason is not None:
            raise _CircuitOpen(self._circuit_open_reason)

    def _record_failure(self, failure: Exception, epoch: int) -> None:
        """Count a failed attempt sent in failure ``epoch``.

        Attempts that were already in flight when an earlier failure was counted (concurrent
        lookups hitting the same blip) add to ``failed_attempts`` but not to the consecutive
        failures; a sequential client's attempts are always sent in the current epoch.
        """
        self.failed_attempts += 1
        if epoch == self._failure_epoch:
            self._consecutive_failures += 1
            self._failure_epoch += 1
        what = type(failure).__name__ if isinstance(failure, httpx.TransportError) else failure
        elapsed = self._clock() - (self._started_at or self._clock())
        if self._circuit_open_reason is not None:
            return
        if self._consecutive_failures >= self.circuit_breaker_threshold:
            self._circuit_open_reason = (
                f"circuit breaker open after {self._consecutive_failures} consecutive failed "
                f"attempts in {elapsed:.1f} s (last: {what})"
            )
        elif self.max_total_seconds is not None and elapsed >= self.max_total_seconds:
            self._circuit_open_reason = (
                f"circuit breaker open: still failing after the {self.max_total_seconds:g} s "
                f"budget (last: {what})"
            )
        if self._circuit_open_reason is not None:
            log.error("ISA status API %s", self._circuit_open_reason)

    def _wait(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        if isinstance(failure, _RetryableStatus) and failure.retry_after is not None:
            return failure.retry_after
        return float(self._backoff(retry_state))

    @staticmethod
    def _log_retry(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        wait = retry_state.next_action.sleep if retry_state.next_action is not None else 0.0
        log.warning(
            "ISA status API attempt %d failed (%s); retrying in %.2f s",
            retry_state.attempt_number,
            type(failure).__name__ if isinstance(failure, httpx.TransportError) else failure,
            wait,
        )

    @staticmethod
    def _parse(response: httpx.Response, model: type[_ModelT], what: str) -> _ModelT:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ImmigrationApiResponseError(
                f"{what} answered a body that breaks the contract ({model.__name__}): "
                f"{describe_validation_error(exc)}"
            ) from exc

    @staticmethod
    def _raise_unexpected(response: httpx.Response, what: str) -> NoReturn:
        if response.status_code == 403:
            raise ImmigrationApiAuthError(f"{what}: access forbidden (HTTP 403)")
        raise ImmigrationApiError(
            f"{what}: unexpected HTTP {response.status_code} ({_error_code(response)})"
        )


class _UpperBoundIgnored(ImmigrationApiResponseError):
    """A page of a bounded range holds applications at or after its ``updated_before``."""


class _Listing:
    """The paging state of one listing, shared by the sync and the async paths.

    :meth:`accept` interprets one answer to ``GET /v1/applications`` with :attr:`params`:
    it validates the page, returns the applications not yielded before and moves
    :attr:`params` on to the next page (or sets :attr:`done`). A 410 ``page_token_expired``
    restarts the listing from the first page once.
    """

    def __init__(
        self,
        page_size: int,
        updated_since: datetime | None,
        *,
        updated_before: datetime | None = None,
        yielded: set[tuple[str, datetime]] | None = None,
    ) -> None:
        self.page_size = page_size
        self.updated_since = updated_since
        self.updated_before = updated_before
        self.params: dict[str, str | int] = {"page_size": page_size}
        for name, moment in (("updated_since", updated_since), ("updated_before", updated_before)):
            if moment is not None:
                if moment.tzinfo is None:
                    raise ValueError(f"{name} must be timezone-aware")
                self.params[name] = moment.isoformat()
        self.done = False
        self.pages = 0
        self.items = 0
        self._restarted = False
        self._seen_tokens: set[str] = set()
        self._yielded: set[tuple[str, datetime]] = yielded if yielded is not None else set()
        #: the first page's items (before removing repeats), for planning a split
        self.first_page: list[Application] = []

    def accept(self, response: httpx.Response) -> list[Application]:
        """Interpret the answer to the request sent with :attr:`params`."""
        if response.status_code == 410 and _error_code(response) == PAGE_TOKEN_EXPIRED:
            if self._restarted:
                raise ImmigrationApiError(
                    f"{APPLICATIONS_PATH}: the page token expired again after restarting "
                    f"the listing (page {self.pages + 1})"
                )
            self._restarted = True
            log.warning(
                "ISA listing page token expired after %d page(s); restarting the listing",
                self.pages,
            )
            self.params.pop("page_token", None)
            self._seen_tokens.clear()
            return []
        if response.status_code != 200:
            HttpImmigrationClient._raise_unexpected(response, APPLICATIONS_PATH)
        page = HttpImmigrationClient._parse(response, ApplicationPage, APPLICATIONS_PATH)
        self.pages += 1
        if len(page.items) > self.page_size:
            raise ImmigrationApiResponseError(
                f"page {self.pages} has {len(page.items)} items, more than page_size "
                f"{self.page_size}"
            )
        since, before = self.updated_since, self.updated_before
        if since is not None and any(item.updated_at < since for item in page.items):
            raise ImmigrationApiResponseError(
                f"page {self.pages} holds applications updated before updated_since"
            )
        if before is not None and any(item.updated_at >= before for item in page.items):
            raise _UpperBoundIgnored(
                f"page {self.pages} holds applications updated at or after updated_before "
                "(does the API support updated_before?)"
            )
        if self.pages == 1:
            self.first_page = list(page.items)
        log.debug("applications page %d: %d items", self.pages, len(page.items))
        fresh: list[Application] = []
        for item in page.items:
            key = (item.receipt_number, item.updated_at)
            if key in self._yielded:
                continue
            self._yielded.add(key)
            fresh.append(item)
        self.items += len(fresh)
        token = page.next_page_token
        if token is None:
            self.done = True
        elif token in self._seen_tokens:
            raise ImmigrationApiResponseError(
                f"paging repeats a page token after page {self.pages}"
            )
        else:
            self._seen_tokens.add(token)
            self.params["page_token"] = token
        return fresh

    def log_done(self) -> None:
        """Log the listing's size (counts only)."""
        log.info("listed %d ISA applications in %d page(s)", self.items, self.pages)


class _RangedListing:
    """One listing read as adjacent ``updated_at`` ranges at once, no page requested twice.

    The contract orders the listing by (``updated_at``, ``receipt_number``) and selects
    [``updated_since``, ``updated_before``), so adjacent ranges partition it. Without any
    knowledge of the data, the first page of the (unbounded) listing is requested alone. If it
    is the last one, that is the listing. Otherwise it shows where the listing starts and how
    densely the first applications lie in time: when the rest, from the first page's newest
    ``updated_at`` up to the wall clock, is estimated at ``2 * MIN_PAGES_PER_RANGE`` pages or
    more, it is split into up to ``max_ranges`` ranges of equal duration, the last one open
    (no ``updated_before``, so applications updated during the sync or stamped by a clock ahead
    of ours are still listed). Otherwise the first page's token is simply followed. The
    applications of the first page that share its newest ``updated_at`` are listed again by
    the first range and dropped here (as are those listed again after a 410 restart).

    A sequential listing sees every application that exists throughout it at least once: an
    update moves it to the end, which is read last. Ranges read concurrently keep that
    guarantee: if the open range's last page was requested while a bounded range was still
    being read, the open range is read once more from its newest ``updated_at`` as soon as
    every bounded range has ended (one more request per listing, at most a few when many
    applications changed meanwhile).

    An API without ``updated_before`` is detected by the first answer that shows it: a 400 to
    a bounded range's request before any bounded page was accepted (it refuses the parameter),
    or a bounded page holding applications at or after the bound (it ignores it). The ranges
    are then given up (answers still in flight are dropped) and the listing is read on in one
    sequence from the first page's token, as if it had never been split; applications the
    ranges already listed stay listed and are not repeated. One warning says so.

    Each page request is handed to one worker (:meth:`take`) and its answer returned with
    :meth:`accept`; a range has at most one request in flight.

    Args:
        page_size: items per page.
        updated_since: the listing's lower bound (timezone-aware) or None.
        max_ranges: ranges at most (1: never split).
        now: the current time (timezone-aware).
    """

    def __init__(
        self,
        page_size: int,
        updated_since: datetime | None,
        *,
        max_ranges: int,
        now: Callable[[], datetime],
    ) -> None:
        self.page_size = page_size
        self.max_ranges = max_ranges
        self._now = now
        self._yielded: set[tuple[str, datetime]] = set()
        self.ranges = [_Listing(page_size, updated_since, yielded=self._yielded)]
        self._parts: list[list[Application]] = [[]]
        self._ready: collections.deque[int] = collections.deque([0])
        self._active = 1  # ranges not read to their end yet
        self._planned = False
        self._tail_safe = True  # the open range's last request went out after the others ended
        self._tail_pending = False
        self.pages = 0
        self.tail_reads = 0
        self._bounded_pages = 0  # pages of bounded ranges accepted
        self._given_up: set[int] = set()  # ranges dropped for one sequence (no updated_before)

    @property
    def done(self) -> bool:
        """Whether every range has been read to its end."""
        return self._active == 0

    def take(self) -> tuple[int, dict[str, str | int]] | None:
        """The next page request to send, as (range index, query parameters), or None."""
        if not self._ready:
            return None
        index = self._ready.popleft()
        if index == len(self.ranges) - 1:  # the open range
            self._tail_safe = self._active == 1
        return index, dict(self.ranges[index].params)

    def accept(self, index: int, response: httpx.Response) -> None:
        """Interpret the answer to the request :meth:`take` handed out for range ``index``."""
        if index in self._given_up:
            return  # sent before the ranges were given up; the sequence lists it anyway
        listing = self.ranges[index]
        bounded = listing.updated_before is not None
        if bounded and response.status_code == 400 and not self._bounded_pages:
            self._read_in_one_sequence(
                f"it answered HTTP 400 ({_error_code(response)}) to a range bounded by "
                "updated_before"
            )
            return
        before = listing.pages
        try:
            fresh = listing.accept(response)
        except _UpperBoundIgnored:
            self.pages += 1
            self._read_in_one_sequence("it ignored updated_before")
            return
        self._parts[index].extend(fresh)
        self.pages += listing.pages - before
        if bounded:
            self._bounded_pages += listing.pages - before
        if not self._planned and listing.pages == 1:
            self._planned = True
            if not listing.done and self._split(listing, _server_time(response)):
                return
        last = len(self.ranges) - 1
        if not listing.done:
            self._ready.append(index)
        elif index == last and not self._tail_safe:
            self._tail_pending = True  # read on once the bounded ranges are done
        else:
            self._active -= 1
        if self._tail_pending and self._active == 1:
            self._tail_pending = False
            self._read_tail(last)

    def applications(self) -> list[Application]:
        """The listed applications in listing order.

        After ranges were given up for one sequence, the applications they listed are put back
        into the contract's order (``updated_at``, ``receipt_number``), the order the sequence
        alone would have listed them in.
        """
        listed = [application for part in self._parts for application in part]
        if self._given_up:
            listed.sort(key=lambda item: (item.updated_at, item.receipt_number))
        return listed

    def log_done(self) -> None:
        """Log the listing's size (counts only)."""
        log.info(
            "listed %d ISA applications in %d page(s), %d updated_at range(s)",
            len(self._yielded),
            self.pages,
            1 if self._given_up else max(1, len(self.ranges) - 1),
        )

    def _read_in_one_sequence(self, reason: str) -> None:
        """Give the bounded ranges up and follow the first page's token (see the class)."""
        self._given_up.update(range(1, len(self.ranges)))
        self._ready = collections.deque([0])  # the first range holds the first page's token
        self._active = 1
        self._tail_safe, self._tail_pending = True, False
        log.warning(
            "ISA listing: %s, so the listing is read in one sequence (the connection extra "
            "listing_ranges=1 skips this attempt)",
            reason,
        )

    def _split(self, probe: _Listing, server_now: datetime | None = None) -> bool:
        """Replace the rest of ``probe`` by concurrent ranges; False when not worth it.

        The ranges end at "now": the earlier of this machine's clock and the server's ``Date``
        header of the first page (when it sent one). A client clock ahead of the server's would
        otherwise put the open range's start after the server's present, so an application
        updated during the listing could be stamped into a bounded range that was already read.
        """
        if self.max_ranges < 2 or not probe.first_page:
            return False
        moments = [item.updated_at for item in probe.first_page]
        start, newest = min(moments), max(moments)
        now = self._now() if server_now is None else min(self._now(), server_now)
        rest = now - newest
        span = newest - start
        if span <= timedelta(0) or rest <= timedelta(0):
            return False  # nothing to estimate the density from, or nothing left to split
        pages = len(moments) / self.page_size * (rest / span)
        count = min(self.max_ranges, int(pages // MIN_PAGES_PER_RANGE))
        if count < 2:
            return False
        cuts = sorted({newest + rest * step / count for step in range(count)})
        if len(cuts) < 2:
            return False  # the rest is too short to cut (microsecond resolution)
        count = len(cuts)
        bounds: list[datetime | None] = [*cuts, None]
        for lower, upper in itertools.pairwise(bounds):
            assert lower is not None
            self.ranges.append(
                _Listing(self.page_size, lower, updated_before=upper, yielded=self._yielded)
            )
            self._parts.append([])
            self._ready.append(len(self.ranges) - 1)
        self._active += count - 1  # the probe ends, ``count`` ranges begin
        log.info(
            "ISA listing is long (about %d pages): reading it as %d updated_at ranges at once",
            round(pages) + 1,
            count,
        )
        return True

    def _read_tail(self, index: int) -> None:
        """Read the open range once more from its newest ``updated_at`` (see the class)."""
        listing = self.ranges[index]
        part = self._parts[index]
        since = max((item.updated_at for item in part), default=listing.updated_since)
        self.ranges[index] = _Listing(self.page_size, since, yielded=self._yielded)
        self.tail_reads += 1
        self._ready.append(index)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _server_time(response: httpx.Response) -> datetime | None:
    """The response's ``Date`` header (whole seconds, so never later than the server's clock)."""
    value = response.headers.get("date")
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _application_path(receipt: str) -> str:
    return f"{APPLICATIONS_PATH}/{quote(receipt, safe='')}"


def _run_coroutine(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from synchronous code.

    In a thread without a running event loop (an Airflow task, the CLI) this is
    :func:`asyncio.run`; inside a running loop (a notebook) the coroutine runs on a fresh loop in
    a helper thread, because a running loop cannot be re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

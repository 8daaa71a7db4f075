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
* Every body is validated with :mod:`zairyu_sync.immigration.models`. A body that is not JSON or
  breaks the contract raises :class:`~zairyu_sync.errors.ImmigrationApiResponseError`; it is never
  turned into an empty result. That includes a 404 without the contract's error body (for
  example a wrong base URL), which would otherwise read as "application not found".

Logs carry counts, pages, paths and status codes, never applicant data.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NoReturn, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
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

TOKEN_PATH = "/v1/auth/token"
APPLICATIONS_PATH = "/v1/applications"
MAX_PAGE_SIZE = 500
#: Log in again this many seconds before the token's announced expiry (at most 10% of its life).
TOKEN_EXPIRY_MARGIN_SECONDS = 30.0
#: Error code of a listing page token that is no longer valid (HTTP 410).
PAGE_TOKEN_EXPIRED = "page_token_expired"


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

    def acquire(self) -> float:
        """Take one token, waiting until one is available; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self.waited_seconds += wait
            self._sleep(wait)
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
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
        sleep: how to wait between attempts (tests pass a recorder).
        backoff_initial_seconds: first backoff step; it doubles per attempt, plus up to this
            much random jitter.
        max_requests_per_second: client-side rate limit (token bucket, burst of the same size).
        circuit_breaker_threshold: consecutive failed attempts, across requests, after which
            the circuit opens and every request fails at once.
        max_total_seconds: once this much time has passed since the first request, a failed
            attempt opens the circuit instead of being retried (None: no deadline).
        clock: monotonic clock for the deadline and the rate limiter (tests).

    Attributes:
        api_calls: HTTP requests sent so far (logins and retries included).
        failed_attempts: attempts that failed transiently (5xx, 429, transport, malformed).
        rate_limiter: the client's :class:`TokenBucket`.
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
        self.base_url = str(url).rstrip("/")
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.max_backoff_seconds = max_backoff_seconds
        self.api_calls = 0
        self.failed_attempts = 0
        self.circuit_breaker_threshold = circuit_breaker_threshold
        self.max_total_seconds = max_total_seconds
        self.rate_limiter = TokenBucket(max_requests_per_second, clock=clock)
        self._clock = clock
        self._started_at: float | None = None
        self._consecutive_failures = 0
        self._circuit_open_reason: str | None = None
        self._client_id = client_id
        self._client_secret = client_secret
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(
            initial=backoff_initial_seconds,
            max=max_backoff_seconds,
            jitter=backoff_initial_seconds,
        )
        self._token: str | None = None
        self._token_expires_at = 0.0
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
        params: dict[str, str | int] = {"page_size": self.page_size}
        if updated_since is not None:
            if updated_since.tzinfo is None:
                raise ValueError("updated_since must be timezone-aware")
            params["updated_since"] = updated_since.isoformat()
        seen_tokens: set[str] = set()
        yielded: set[tuple[str, datetime]] = set()
        restarted = False
        pages = items = 0
        while True:
            response = self._request("GET", APPLICATIONS_PATH, params=params)
            if response.status_code == 410 and _error_code(response) == PAGE_TOKEN_EXPIRED:
                if restarted:
                    raise ImmigrationApiError(
                        f"{APPLICATIONS_PATH}: the page token expired again after restarting "
                        f"the listing (page {pages + 1})"
                    )
                restarted = True
                log.warning(
                    "ISA listing page token expired after %d page(s); restarting the listing",
                    pages,
                )
                params.pop("page_token", None)
                seen_tokens.clear()
                continue
            if response.status_code != 200:
                self._raise_unexpected(response, APPLICATIONS_PATH)
            page = self._parse(response, ApplicationPage, APPLICATIONS_PATH)
            pages += 1
            if len(page.items) > self.page_size:
                raise ImmigrationApiResponseError(
                    f"page {pages} has {len(page.items)} items, more than page_size "
                    f"{self.page_size}"
                )
            if updated_since is not None and any(
                item.updated_at < updated_since for item in page.items
            ):
                raise ImmigrationApiResponseError(
                    f"page {pages} holds applications updated before updated_since"
                )
            log.debug("applications page %d: %d items", pages, len(page.items))
            for item in page.items:
                key = (item.receipt_number, item.updated_at)
                if key in yielded:
                    continue
                yielded.add(key)
                items += 1
                yield item
            token = page.next_page_token
            if token is None:
                break
            if token in seen_tokens:
                raise ImmigrationApiResponseError(f"paging repeats a page token after page {pages}")
            seen_tokens.add(token)
            params["page_token"] = token
        log.info("listed %d ISA applications in %d page(s)", items, pages)

    def get_application(self, receipt_number: str) -> Application | None:
        """One application by receipt number; None when the API answers 404 (unknown).

        Raises:
            ValueError: ``receipt_number`` is empty.
            ImmigrationApiError: (subclasses) see the module docstring.
        """
        receipt = receipt_number.strip()
        if not receipt:
            raise ValueError("receipt_number must not be empty")
        path = f"{APPLICATIONS_PATH}/{quote(receipt, safe='')}"
        response = self._request("GET", path)
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

    # --- internals ----------------------------------------------------------------------------

    def _bearer(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expires_at:
            self._login()
        assert self._token is not None
        return self._token

    def _login(self) -> None:
        response = self._send(
            "POST",
            TOKEN_PATH,
            json={"client_id": self._client_id, "client_secret": self._client_secret},
        )
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
        retrying = Retrying(
            stop=stop_any(
                stop_after_attempt(self.max_attempts),
                _StopWhenRetryAfterExceeds(self.max_backoff_seconds),
            ),
            wait=self._wait,
            retry=retry_if_exception_type((_RetryableStatus, httpx.TransportError, _MalformedBody)),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=False,
        )
        try:
            response: httpx.Response = retrying(
                self._send_once, method, path, params=params, json=json, headers=headers
            )
        except _CircuitOpen as exc:
            raise ImmigrationApiUnavailable(
                f"ISA status API unavailable: {method} {path} not sent, {exc}"
            ) from None
        except RetryError as exc:
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
        self.api_calls += 1
        try:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
            log.debug("%s %s -> %d", method, path, response.status_code)
            if response.status_code == 429 or response.status_code >= 500:
                raise _RetryableStatus(
                    response.status_code, parse_retry_after(response.headers.get("Retry-After"))
                )
            if response.status_code == 200 and not _is_json(response.content):
                raise _MalformedBody(path)
        except (_RetryableStatus, httpx.TransportError, _MalformedBody) as exc:
            self._record_failure(exc)
            raise
        self._consecutive_failures = 0
        return response

    def _check_circuit(self) -> None:
        now = self._clock()
        if self._started_at is None:
            self._started_at = now
        if self._circuit_open_reason is not None:
            raise _CircuitOpen(self._circuit_open_reason)

    def _record_failure(self, failure: Exception) -> None:
        self.failed_attempts += 1
        self._consecutive_failures += 1
        what = type(failure).__name__ if isinstance(failure, httpx.TransportError) else failure
        elapsed = self._clock() - (self._started_at or self._clock())
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

"""A simulator of the ISA status API contract (``openapi.yaml``), served with FastAPI.

It serves a seed dataset faithfully to the contract: client-credential login with expiring
bearer tokens, the organization's listing with stable keyset paging and an ``updated_since`` /
``updated_before`` time range, lookup
by receipt number (including personally filed applications), contract-shaped error bodies, an
optional rate limit (429 + ``Retry-After``) and a maintenance switch (503).

The contract document is the repository file, served unchanged at ``/openapi.yaml`` and as JSON
at ``/openapi.json``. FastAPI's own generated schema and docs pages are disabled so that there is
a single source of truth.

Fault injection (for resilience tests; never part of the public contract) is configured with a
:class:`FaultSettings` passed to :func:`create_app`/:class:`SimulatorServer`, with ``--faults``
(JSON) on the command line, with the ``ZAIRYU_SIM_FAULTS`` environment variable (JSON) or at
runtime through a control endpoint that only exists when a control token is configured
(``--control-token`` or ``ZAIRYU_SIM_CONTROL_TOKEN``)::

    POST /_control/faults          header X-Control-Token: <control token>
    {"error_5xx_share": 0.2, "rate_limit_share": 0.1, "seed": 7}      -> 200 {"faults": {...}}
    GET  /_control/faults          the current settings

The body replaces the whole :class:`FaultSettings` (missing fields take their defaults) and
reseeds the RNG; an outage starts when it is posted. Faults apply to ``/v1`` requests only, in
this order: outage (503, or connection reset), latency, reset (the connection is closed after
the status line), read timeout (the answer is delayed by ``timeout_seconds``), 5xx
(500/502/503), 429 with ``Retry-After``, bearer token revoked (401, the client must log in
again), page token expired (410 ``page_token_expired`` on a listing page after the first),
and malformed bodies (a 200 whose JSON is truncated). Draws use one seeded RNG, so a run with
the same seed and the same request sequence sees the same faults.

Run it in the foreground with::

    python -m zairyu_sync.immigration.simulator --data seed.json --port 0 \
        --client-id demo --client-secret s3cret --port-file .demo/simulator.port
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import bisect
import hmac
import json
import logging
import math
import os
import random
import secrets
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Annotated, Literal

import uvicorn
import yaml
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from zairyu_sync.errors import ConfigError
from zairyu_sync.immigration.models import (
    Application,
    TokenRequest,
    describe_validation_error,
)

log = logging.getLogger(__name__)

#: The contract document, shipped inside the package next to this module.
OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
#: Environment variable the CLI reads the client secret from when ``--client-secret`` is absent.
CLIENT_SECRET_ENV = "ZAIRYU_SIMULATOR_CLIENT_SECRET"
#: Environment variable with the fault settings (JSON object, see :class:`FaultSettings`).
FAULTS_ENV = "ZAIRYU_SIM_FAULTS"
#: Environment variable with the control token that enables ``/_control/faults``.
CONTROL_TOKEN_ENV = "ZAIRYU_SIM_CONTROL_TOKEN"
CONTROL_PATH = "/_control/faults"
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


# --- dataset ----------------------------------------------------------------------------------


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    organization_applications: list[Application]
    personal_applications: list[Application]


@dataclass(frozen=True)
class SimulatorDataset:
    """The applications the simulator serves.

    Attributes:
        organization_applications: filed through the organization's account; listed and
            fetchable by receipt number.
        personal_applications: filed by applicants themselves; fetchable by receipt number only.
    """

    organization_applications: tuple[Application, ...]
    personal_applications: tuple[Application, ...] = ()
    _by_receipt: dict[str, Application] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "organization_applications", tuple(self.organization_applications))
        object.__setattr__(self, "personal_applications", tuple(self.personal_applications))
        index: dict[str, Application] = {}
        for application in (*self.organization_applications, *self.personal_applications):
            if application.receipt_number in index:
                raise ConfigError(
                    f"simulator dataset: duplicate receipt number {application.receipt_number}"
                )
            index[application.receipt_number] = application
        object.__setattr__(self, "_by_receipt", index)

    @classmethod
    def from_json(cls, text: str | bytes) -> SimulatorDataset:
        """Build a dataset from the seed file format, validated against the contract models.

        Args:
            text: ``{"organization_applications": [...], "personal_applications": [...]}``.

        Returns:
            The dataset.

        Raises:
            ConfigError: the seed is not valid JSON, breaks the contract or repeats a receipt.
        """
        try:
            seed = _Seed.model_validate_json(text)
        except ValidationError as exc:
            raise ConfigError(
                f"simulator dataset is invalid: {describe_validation_error(exc)}"
            ) from exc
        return cls(tuple(seed.organization_applications), tuple(seed.personal_applications))

    def find(self, receipt_number: str) -> Application | None:
        """The application with this receipt number, organization or personal."""
        return self._by_receipt.get(receipt_number)

    def listing(self) -> list[Application]:
        """The organization's applications in the contract's order (updated_at, receipt)."""
        return sorted(self.organization_applications, key=_sort_key)


def load_dataset(path: str | os.PathLike[str]) -> SimulatorDataset:
    """Read and validate a seed file (see :meth:`SimulatorDataset.from_json`).

    Raises:
        ConfigError: the file is missing or invalid.
    """
    seed_path = Path(path)
    try:
        text = seed_path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read simulator dataset {seed_path.name}: {exc.strerror}"
        ) from exc
    dataset = SimulatorDataset.from_json(text)
    log.info(
        "simulator dataset loaded: %d organization and %d personal applications",
        len(dataset.organization_applications),
        len(dataset.personal_applications),
    )
    return dataset


def _sort_key(application: Application) -> tuple[datetime, str]:
    return application.updated_at, application.receipt_number


class ApplicationStore:
    """The applications a running simulator serves; changeable while it runs.

    The listing is kept sorted by (``updated_at``, ``receipt_number``) with each application's
    JSON pre-rendered, so a page is a binary search plus a join (a 100,000-application listing
    costs the same per page as a small one).

    Args:
        dataset: the initial applications.
    """

    def __init__(self, dataset: SimulatorDataset) -> None:
        self._lock = threading.Lock()
        self._organization: dict[str, Application] = {
            app.receipt_number: app for app in dataset.organization_applications
        }
        self._personal: dict[str, Application] = {
            app.receipt_number: app for app in dataset.personal_applications
        }
        self._json: dict[str, bytes] = {}
        self._keys: list[tuple[datetime, str]] = []
        self._reindex(self._organization.values(), self._personal.values())

    def _reindex(self, *changed: Iterable[Application]) -> None:
        for applications in changed:
            for application in applications:
                self._json[application.receipt_number] = application.model_dump_json().encode()
        self._keys = sorted(_sort_key(app) for app in self._organization.values())

    def upsert(self, applications: Iterable[Application], *, personal: bool = False) -> int:
        """Add or replace applications (by receipt number); returns how many were given.

        Args:
            applications: the new versions (callers set a later ``updated_at`` for a change).
            personal: store them as personally filed (fetchable by receipt number only);
                otherwise they belong to the organization's listing. A receipt number moves
                between the two when given with the other flag.
        """
        batch = list(applications)
        with self._lock:
            target, other = (
                (self._personal, self._organization)
                if personal
                else (self._organization, self._personal)
            )
            for application in batch:
                other.pop(application.receipt_number, None)
                target[application.receipt_number] = application
            self._reindex(batch)
        return len(batch)

    def find_json(self, receipt_number: str) -> bytes | None:
        """The JSON of one application (organization or personal), or None if unknown."""
        with self._lock:
            if receipt_number in self._organization or receipt_number in self._personal:
                return self._json[receipt_number]
            return None

    def page(
        self,
        *,
        since: datetime | None,
        after: tuple[datetime, str] | None,
        size: int,
        before: datetime | None = None,
    ) -> tuple[list[bytes], tuple[datetime, str] | None]:
        """One listing page: the JSON of up to ``size`` applications and the next cursor.

        Args:
            since: only applications with ``updated_at`` at or after this instant.
            after: only applications sorting after this (``updated_at``, receipt) key.
            size: page size.
            before: only applications with ``updated_at`` before this instant (exclusive).

        Returns:
            The items' JSON and the key of the last item when more follow (else None).
        """
        with self._lock:
            keys = self._keys
            start = 0
            end = len(keys)
            if since is not None:
                start = bisect.bisect_left(keys, (since,))  # type: ignore[arg-type]
            if after is not None:
                start = max(start, bisect.bisect_right(keys, after))
            if before is not None:
                end = bisect.bisect_left(keys, (before,))  # type: ignore[arg-type]
            chunk = keys[start : min(start + size, end)]
            more = start + size < end
            return [self._json[receipt] for _, receipt in chunk], (
                chunk[-1] if more and chunk else None
            )

    def counts(self) -> tuple[int, int]:
        """(organization, personal) application counts."""
        with self._lock:
            return len(self._organization), len(self._personal)


# --- fault injection --------------------------------------------------------------------------


class FaultSettings(BaseModel):
    """Faults the simulator injects into ``/v1`` requests (all off by default).

    Shares are probabilities in 0..1 drawn independently per request, in the order listed in the
    module docstring; the first fault drawn wins.

    Attributes:
        seed: seed of the fault RNG (reproducible runs).
        latency_ms: added to every ``/v1`` answer.
        error_5xx_share: answer 500, 502 or 503.
        rate_limit_share: answer 429 with ``Retry-After: retry_after_seconds``.
        retry_after_seconds: the ``Retry-After`` of injected 429s.
        reset_share: close the connection after the status line (no complete body).
        timeout_share: delay the answer by ``timeout_seconds`` (longer than the client's timeout).
        timeout_seconds: that delay.
        malformed_share: answer 200 with a truncated JSON body (GET requests only).
        page_token_expiry_share: answer 410 ``page_token_expired`` to a listing page request
            that carries a page token.
        token_revoke_share: revoke the request's bearer token and answer 401.
        outage_seconds: answer every ``/v1`` request with a failure for this long from when the
            settings were applied; ``outage_mode`` is ``"503"`` or ``"reset"``.
        without_updated_before: serve the listing as contract 1.0.0 did, where
            ``updated_before`` is an unknown query parameter (400 ``invalid_request``): an
            API without it, for the client's fallback to one sequence (ADR 0009).
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    latency_ms: float = Field(default=0.0, ge=0)
    error_5xx_share: float = Field(default=0.0, ge=0, le=1)
    rate_limit_share: float = Field(default=0.0, ge=0, le=1)
    retry_after_seconds: int = Field(default=1, ge=1)
    reset_share: float = Field(default=0.0, ge=0, le=1)
    timeout_share: float = Field(default=0.0, ge=0, le=1)
    timeout_seconds: float = Field(default=15.0, ge=0)
    malformed_share: float = Field(default=0.0, ge=0, le=1)
    page_token_expiry_share: float = Field(default=0.0, ge=0, le=1)
    token_revoke_share: float = Field(default=0.0, ge=0, le=1)
    outage_seconds: float = Field(default=0.0, ge=0)
    outage_mode: Literal["503", "reset"] = "503"
    without_updated_before: bool = False

    @classmethod
    def from_json(cls, text: str | bytes | None) -> FaultSettings:
        """Parse a JSON object (empty or None means no faults).

        Raises:
            ConfigError: not a valid fault settings object.
        """
        if text is None or not str(text).strip():
            return cls()
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ConfigError(
                f"simulator fault settings are invalid: {describe_validation_error(exc)}"
            ) from exc


class FaultCounters(BaseModel):
    """How many faults of each kind the simulator injected."""

    outage: int = 0
    error_5xx: int = 0
    rate_limited: int = 0
    reset: int = 0
    timeout: int = 0
    malformed: int = 0
    page_token_expired: int = 0
    token_revoked: int = 0


# --- app state --------------------------------------------------------------------------------


class SimulatorState:
    """Mutable runtime state of one simulator app (``app.state.simulator``).

    Attributes:
        maintenance: when true every ``/v1`` request answers 503 (a maintenance window).
        requests: number of ``/v1`` requests received, including rejected ones.
        faults: the fault settings in force (see :meth:`set_faults`).
        injected: counts of injected faults.
    """

    def __init__(
        self,
        *,
        token_ttl_seconds: int,
        rate_limit_per_second: float | None,
        clock: Callable[[], float],
        faults: FaultSettings | None = None,
    ) -> None:
        self.maintenance = False
        self.requests = 0
        self.faults = FaultSettings()
        self.injected = FaultCounters()
        self._rng = random.Random(0)
        self._outage_until = 0.0
        self._ttl = token_ttl_seconds
        self._rate = rate_limit_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._bucket = max(1.0, rate_limit_per_second or 1.0)
        self._bucket_at = clock()
        self.set_faults(faults or FaultSettings())

    def set_faults(self, faults: FaultSettings) -> None:
        """Apply fault settings: reseed the RNG, reset the counters, start any outage now."""
        with self._lock:
            self.faults = faults
            self.injected = FaultCounters()
            self._rng = random.Random(faults.seed)
            self._outage_until = self._clock() + faults.outage_seconds

    def in_outage(self) -> bool:
        """Whether a configured outage is still running."""
        return self._clock() < self._outage_until

    def draw(self, share: float) -> bool:
        """One draw of the fault RNG: true with probability ``share``."""
        if share <= 0:
            return False
        with self._lock:
            return self._rng.random() < share

    def choice(self, options: Sequence[int]) -> int:
        """A seeded choice among ``options``."""
        with self._lock:
            return options[self._rng.randrange(len(options))]

    def revoke_token(self, token: str) -> None:
        """Forget a bearer token (it then reads as expired)."""
        with self._lock:
            self._tokens.pop(token, None)

    def issue_token(self) -> str:
        """A new random bearer token valid for the configured TTL."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._tokens = {key: exp for key, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self._ttl
        return token

    def token_valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            expires = self._tokens.get(token)
            return expires is not None and expires > self._clock()

    def take_rate_slot(self) -> float | None:
        """Consume one request from the token bucket; seconds to wait when it is empty."""
        if self._rate is None:
            return None
        with self._lock:
            now = self._clock()
            capacity = max(1.0, self._rate)
            self._bucket = min(capacity, self._bucket + (now - self._bucket_at) * self._rate)
            self._bucket_at = now
            if self._bucket >= 1.0:
                self._bucket -= 1.0
                return None
            return (1.0 - self._bucket) / self._rate


def _error(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status_code, headers=headers
    )


#: Query parameters of each path in the contract; the contract lists the complete set, so anything
#: else is refused (a misspelt filter must not silently list everything).
_QUERY_PARAMETERS = {
    "/v1/applications": frozenset({"updated_since", "updated_before", "page_size", "page_token"})
}


def _allowed_methods(request: Request) -> list[str]:
    """The methods the app routes for the request's path (for a 405's ``Allow`` header)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({"type": "http", "path": request.url.path, "method": "GET"})
        if match.name != "NONE":
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _encode_cursor(key: tuple[datetime, str]) -> str:
    raw = json.dumps([key[0].isoformat(), key[1]])
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(token: str) -> tuple[datetime, str] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        updated_at, receipt = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        moment = datetime.fromisoformat(updated_at)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        return None
    if moment.tzinfo is None or not isinstance(receipt, str):
        return None
    return moment, receipt


def _parse_instant(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _control_allowed(request: Request, control_token: str | None) -> bool:
    offered = request.headers.get("x-control-token", "")
    return bool(control_token) and hmac.compare_digest(
        offered.encode(), (control_token or "").encode()
    )


def _reset() -> StreamingResponse:
    """A response whose connection is closed after the status line (a reset mid-answer)."""

    async def broken() -> AsyncIterator[bytes]:
        yield b'{"items": ['
        raise ConnectionAbortedError("simulated connection reset")

    return StreamingResponse(broken(), status_code=200, media_type="application/json")


def _truncated(response: Response) -> Response:
    """A 200 whose JSON body is cut in the middle (keeps a consistent Content-Length)."""
    return Response(
        b'{"items": [{"receipt_number": "', status_code=200, media_type="application/json"
    )


async def _inject_fault(state: SimulatorState, request: Request) -> Response | None:
    """The injected failure for this ``/v1`` request, or None to serve it normally."""
    faults = state.faults
    counters = state.injected
    if state.in_outage():
        counters.outage += 1
        if faults.outage_mode == "reset":
            return _reset()
        return _error(503, "maintenance", "the service is unavailable", {"Retry-After": "1"})
    if faults.latency_ms > 0:
        await asyncio.sleep(faults.latency_ms / 1000)
    if state.draw(faults.reset_share):
        counters.reset += 1
        return _reset()
    if state.draw(faults.timeout_share):
        counters.timeout += 1
        await asyncio.sleep(faults.timeout_seconds)
        return None
    if state.draw(faults.error_5xx_share):
        counters.error_5xx += 1
        status = state.choice((500, 502, 503))
        return _error(status, "server_error", "internal error (injected)")
    if state.draw(faults.rate_limit_share):
        counters.rate_limited += 1
        return _error(
            429,
            "rate_limited",
            "too many requests",
            {"Retry-After": str(faults.retry_after_seconds)},
        )
    path = request.url.path
    if path != "/v1/auth/token" and state.draw(faults.token_revoke_share):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and state.token_valid(token.strip()):
            counters.token_revoked += 1
            state.revoke_token(token.strip())
    if (
        path == "/v1/applications"
        and "page_token" in request.query_params
        and state.draw(faults.page_token_expiry_share)
    ):
        counters.page_token_expired += 1
        return _error(410, "page_token_expired", "the page token has expired; restart the listing")
    return None


def create_app(
    dataset: SimulatorDataset,
    *,
    client_id: str,
    client_secret: str,
    token_ttl_seconds: int = 3600,
    rate_limit_per_second: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    faults: FaultSettings | None = None,
    control_token: str | None = None,
) -> FastAPI:
    """Build the simulator app serving ``dataset``.

    Args:
        dataset: the applications to serve.
        client_id: the only accepted client id.
        client_secret: its secret.
        token_ttl_seconds: lifetime of issued bearer tokens.
        rate_limit_per_second: when set, ``/v1`` requests beyond this rate (token bucket with a
            burst of ``max(1, rate)``) get 429 with ``Retry-After``.
        clock: monotonic clock in seconds (tests use a fake one to expire tokens).
        faults: faults to inject from the start (see :class:`FaultSettings`).
        control_token: enables ``/_control/faults`` for requests carrying it in
            ``X-Control-Token``; without it the control endpoint answers 404.

    Returns:
        The FastAPI app; its :class:`SimulatorState` is ``app.state.simulator`` and its
        :class:`ApplicationStore` (changeable while serving) ``app.state.store``.
    """
    if not client_id or not client_secret:
        raise ConfigError("the simulator needs a client id and a client secret")
    if token_ttl_seconds < 1:
        raise ConfigError("token_ttl_seconds must be at least 1")
    if rate_limit_per_second is not None and rate_limit_per_second <= 0:
        raise ConfigError("rate_limit_per_second must be positive")

    state = SimulatorState(
        token_ttl_seconds=token_ttl_seconds,
        rate_limit_per_second=rate_limit_per_second,
        clock=clock,
        faults=faults,
    )
    store = ApplicationStore(dataset)
    contract_yaml = OPENAPI_PATH.read_bytes()
    contract_json = yaml.safe_load(contract_yaml)

    app = FastAPI(
        title="ISA status API simulator (zairyu-sync)",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.simulator = state
    app.state.store = store

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, "not_found", "no such resource")
        if exc.status_code == 405:
            allow = (exc.headers or {}).get("Allow") or ", ".join(_allowed_methods(request))
            return _error(405, "method_not_allowed", "method not allowed", {"Allow": allow})
        return _error(exc.status_code, "error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(item) for item in first.get("loc", ()) if item not in ("query",))
        return _error(
            400, "invalid_request", f"{where or 'request'}: {first.get('msg', 'invalid')}"
        )

    @app.middleware("http")
    async def _gate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        state.requests += 1
        injected = await _inject_fault(state, request)
        if injected is not None:
            return injected
        if state.maintenance:
            return _error(
                503, "maintenance", "the service is under maintenance", {"Retry-After": "1"}
            )
        wait = state.take_rate_slot()
        if wait is not None:
            return _error(
                429,
                "rate_limited",
                "too many requests",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if request.url.path != "/v1/auth/token":
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not state.token_valid(token.strip()):
                return _error(
                    401,
                    "invalid_token",
                    "the access token is missing, invalid or expired",
                    {"WWW-Authenticate": "Bearer"},
                )
        allowed = _QUERY_PARAMETERS.get(request.url.path, frozenset())
        if state.faults.without_updated_before:
            allowed = allowed - {"updated_before"}
        unknown = sorted(set(request.query_params.keys()) - allowed)
        if unknown:
            return _error(
                400, "invalid_request", f"unknown query parameter(s): {', '.join(unknown)}"
            )
        response = await call_next(request)
        if (
            request.method == "GET"
            and response.status_code == 200
            and state.draw(state.faults.malformed_share)
        ):
            state.injected.malformed += 1
            return _truncated(response)
        return response

    @app.get(CONTROL_PATH, include_in_schema=False)
    async def get_faults(request: Request) -> JSONResponse:
        if not _control_allowed(request, control_token):
            return _error(404, "not_found", "no such resource")
        return JSONResponse(
            {"faults": state.faults.model_dump(), "injected": state.injected.model_dump()}
        )

    @app.post(CONTROL_PATH, include_in_schema=False)
    async def set_faults(request: Request) -> JSONResponse:
        if not _control_allowed(request, control_token):
            return _error(404, "not_found", "no such resource")
        try:
            settings = FaultSettings.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            return _error(400, "invalid_request", describe_validation_error(exc))
        state.set_faults(settings)
        log.info("simulator faults set: %s", settings.model_dump(exclude_defaults=True))
        return JSONResponse({"faults": settings.model_dump()})

    @app.get("/openapi.yaml", include_in_schema=False)
    async def openapi_yaml() -> Response:
        return Response(contract_yaml, media_type="application/yaml")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(contract_json)

    @app.post("/v1/auth/token")
    async def issue_token(request: Request) -> JSONResponse:
        try:
            body = TokenRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return _error(400, "invalid_request", describe_validation_error(exc))
        id_ok = hmac.compare_digest(body.client_id.encode(), client_id.encode())
        secret_ok = hmac.compare_digest(body.client_secret.encode(), client_secret.encode())
        if not (id_ok and secret_ok):
            return _error(401, "invalid_client", "client authentication failed")
        return JSONResponse(
            {
                "access_token": state.issue_token(),
                "token_type": "Bearer",
                "expires_in": token_ttl_seconds,
            }
        )

    @app.get("/v1/applications")
    async def list_applications(
        updated_since: Annotated[str | None, Query()] = None,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        page_token: Annotated[str | None, Query()] = None,
        updated_before: Annotated[str | None, Query()] = None,
    ) -> Response:
        since = before = cursor = None
        if updated_since is not None:
            since = _parse_instant(updated_since)
            if since is None:
                return _error(
                    400, "invalid_request", "updated_since: must be an RFC 3339 date-time"
                )
        if updated_before is not None:
            before = _parse_instant(updated_before)
            if before is None:
                return _error(
                    400, "invalid_request", "updated_before: must be an RFC 3339 date-time"
                )
            if since is not None and before <= since:
                return _error(
                    400, "invalid_request", "updated_before: must be later than updated_since"
                )
        if page_token is not None:
            cursor = _decode_cursor(page_token)
            if cursor is None:
                return _error(400, "invalid_request", "page_token: not a token of this API")
        items, last = store.page(since=since, after=cursor, size=page_size, before=before)
        next_token = json.dumps(None if last is None else _encode_cursor(last))
        body = b'{"items":[' + b",".join(items) + b'],"next_page_token":' + next_token.encode()
        return Response(body + b"}", media_type="application/json")

    @app.get("/v1/applications/{receipt_number}")
    async def get_application(receipt_number: str) -> Response:
        body = store.find_json(receipt_number)
        if body is None:
            return _error(404, "not_found", "no application with this receipt number")
        return Response(body, media_type="application/json")

    return app


# --- running it -------------------------------------------------------------------------------


class SimulatorServer:
    """Runs the simulator with uvicorn in a background thread on a loopback port.

    Example::

        with SimulatorServer(dataset, client_id="id", client_secret="secret") as server:
            client = HttpImmigrationClient(server.base_url, "id", "secret")

    Args:
        dataset: the applications to serve.
        client_id: accepted client id.
        client_secret: its secret.
        host: interface to bind (loopback by default).
        port: TCP port; 0 picks a free one.
        token_ttl_seconds: see :func:`create_app`.
        rate_limit_per_second: see :func:`create_app`.
        startup_timeout: seconds to wait for the server to accept connections.
        faults: see :func:`create_app` (change them later with :meth:`set_faults`).
        control_token: see :func:`create_app`.
    """

    def __init__(
        self,
        dataset: SimulatorDataset,
        *,
        client_id: str,
        client_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl_seconds: int = 3600,
        rate_limit_per_second: float | None = None,
        startup_timeout: float = 10.0,
        faults: FaultSettings | None = None,
        control_token: str | None = None,
    ) -> None:
        self.app = create_app(
            dataset,
            client_id=client_id,
            client_secret=client_secret,
            token_ttl_seconds=token_ttl_seconds,
            rate_limit_per_second=rate_limit_per_second,
            faults=faults,
            control_token=control_token,
        )
        self.host = host
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def state(self) -> SimulatorState:
        """The app's runtime state (maintenance switch, request count)."""
        state: SimulatorState = self.app.state.simulator
        return state

    @property
    def store(self) -> ApplicationStore:
        """The served applications (change them with :meth:`upsert_applications`)."""
        store: ApplicationStore = self.app.state.store
        return store

    def upsert_applications(
        self, applications: Iterable[Application], *, personal: bool = False
    ) -> int:
        """Add or replace served applications while running (:meth:`ApplicationStore.upsert`)."""
        return self.store.upsert(applications, personal=personal)

    def set_faults(self, faults: FaultSettings) -> None:
        """Replace the injected faults (same as ``POST /_control/faults``)."""
        self.state.set_faults(faults)

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._port is None:
            raise RuntimeError("the simulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running simulator."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind the port, start serving in a background thread and wait until ready."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"isa-simulator-{self._port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError("the ISA simulator did not start")
            time.sleep(0.01)
        log.info("ISA simulator listening on %s", self.base_url)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive():
                log.warning("ISA simulator thread did not stop within 10 s")
        self._server = self._thread = None
        self._port = None

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _write_port_file(path: Path, port: int) -> None:
    """Write atomically, so a poller never reads a partial number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n", encoding="ascii")
    partial.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: serve a seed dataset in the foreground until SIGINT/SIGTERM.

    Returns:
        The process exit code (0 after a clean shutdown, 2 on a configuration error).
    """
    parser = argparse.ArgumentParser(
        prog="python -m zairyu_sync.immigration.simulator",
        description="Serve the ISA status API contract from a seed dataset.",
    )
    parser.add_argument("--data", required=True, type=Path, help="seed JSON file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--client-id", required=True)
    parser.add_argument(
        "--client-secret",
        default=os.environ.get(CLIENT_SECRET_ENV),
        help=f"default: ${CLIENT_SECRET_ENV}",
    )
    parser.add_argument("--token-ttl", type=int, default=3600, help="token lifetime, seconds")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--port-file", type=Path, help="write the bound port here when ready")
    parser.add_argument(
        "--faults",
        default=os.environ.get(FAULTS_ENV),
        help=f"fault settings as a JSON object (default: ${FAULTS_ENV})",
    )
    parser.add_argument(
        "--control-token",
        default=os.environ.get(CONTROL_TOKEN_ENV),
        help=f"enables {CONTROL_PATH} (default: ${CONTROL_TOKEN_ENV})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not args.client_secret:
        parser.error(f"--client-secret (or ${CLIENT_SECRET_ENV}) is required")

    try:
        dataset = load_dataset(args.data)
        server = SimulatorServer(
            dataset,
            client_id=args.client_id,
            client_secret=args.client_secret,
            host=args.host,
            port=args.port,
            token_ttl_seconds=args.token_ttl,
            rate_limit_per_second=args.rate_limit,
            faults=FaultSettings.from_json(args.faults),
            control_token=args.control_token or None,
        )
    except ConfigError as exc:
        log.error("%s", exc)
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with server:
            if args.port_file is not None:
                _write_port_file(args.port_file, server.port)
            log.info("serving until interrupted")
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if args.port_file is not None:
            args.port_file.unlink(missing_ok=True)
    log.info("ISA simulator stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""ISA application statuses: the assumed API contract, its simulator and the adapter client.

* ``openapi.yaml`` -- the project's own contract for an ISA status API (see its description).
* :mod:`.models` -- pydantic models of the contract's schemas.
* :mod:`.client` -- :class:`ImmigrationStatusSource` (the adapter interface) and
  :class:`HttpImmigrationClient`.
* :mod:`.sync` -- :func:`fetch_isa_applications`, the canonical ISA frame for the rules, and
  :func:`sync_isa_applications`, the same frame listed incrementally from a local mirror
  (:mod:`.mirror`).
* :mod:`.throughput` -- :func:`~.throughput.measure_isa_sync_throughput` for the benchmark.
* :mod:`.simulator` -- a FastAPI simulator of the contract. Its names are imported lazily, so
  using the client does not import FastAPI or uvicorn.

Nothing here imports Airflow; the Airflow hook lives in :mod:`zairyu_sync.hooks.immigration_api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zairyu_sync.immigration.client import (
    BatchImmigrationStatusSource,
    HttpImmigrationClient,
    ImmigrationStatusSource,
    get_applications,
    parse_retry_after,
)
from zairyu_sync.immigration.models import (
    Applicant,
    Application,
    ApplicationPage,
    ApplicationStatus,
    ApplicationType,
    ErrorBody,
    ErrorDetail,
    TokenRequest,
    TokenResponse,
)
from zairyu_sync.immigration.sync import (
    SyncStats,
    application_record,
    fetch_isa_applications,
    sync_isa_applications,
)

if TYPE_CHECKING:
    from zairyu_sync.immigration.simulator import (
        OPENAPI_PATH,
        SimulatorDataset,
        SimulatorServer,
        create_app,
        load_dataset,
    )

_SIMULATOR_NAMES = frozenset(
    {"OPENAPI_PATH", "SimulatorDataset", "SimulatorServer", "create_app", "load_dataset"}
)

__all__ = [
    "OPENAPI_PATH",
    "Applicant",
    "Application",
    "ApplicationPage",
    "ApplicationStatus",
    "ApplicationType",
    "BatchImmigrationStatusSource",
    "ErrorBody",
    "ErrorDetail",
    "HttpImmigrationClient",
    "ImmigrationStatusSource",
    "SimulatorDataset",
    "SimulatorServer",
    "SyncStats",
    "TokenRequest",
    "TokenResponse",
    "application_record",
    "create_app",
    "fetch_isa_applications",
    "get_applications",
    "load_dataset",
    "parse_retry_after",
    "sync_isa_applications",
]


def __getattr__(name: str) -> Any:
    if name in _SIMULATOR_NAMES:
        return getattr(importlib.import_module("zairyu_sync.immigration.simulator"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

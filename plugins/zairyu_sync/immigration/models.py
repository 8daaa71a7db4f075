"""Pydantic models of the ISA status API contract (``openapi.yaml`` components/schemas).

The models forbid unknown fields and validate strictly from JSON (``model_validate_json``). The
contract is the project's own assumption about ISA's API, so drift must surface loudly: with
``extra="ignore"`` a renamed field (say ``granted_period_expiry`` -> ``granted_expiry``) would be
dropped and read as null, and the rules would then report wrong findings for every employee
instead of the sync failing once with a clear error. Strict mode likewise keeps a timestamp
without offset, a number where text belongs or a date written any other way than ``YYYY-MM-DD``
from being coerced into something plausible.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

ApplicationType = Literal["extension", "change", "acquisition", "certificate_of_eligibility"]
ApplicationStatus = Literal[
    "SUBMITTED",
    "RECEIVED",
    "UNDER_EXAMINATION",
    "AWAITING_ADDITIONAL_DOCUMENTS",
    "PERMITTED",
    "AWAITING_ISSUANCE",
    "COMPLETED",
    "NOT_PERMITTED",
    "WITHDRAWN",
]


class _ContractModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Applicant(_ContractModel):
    """The foreign national an application is for (personal data: never log it)."""

    full_name: str | None = None
    date_of_birth: date | None = None
    nationality: str | None = None
    residence_card_number: str | None = None


class Application(_ContractModel):
    """One residence application as the API returns it (contract.md section 1)."""

    receipt_number: str = Field(min_length=1, max_length=64)
    application_type: ApplicationType
    status: ApplicationStatus
    filed_on: date
    decided_on: date | None = None
    applicant: Applicant | None = None
    requested_status: str | None = None
    granted_status: str | None = None
    granted_period_expiry: date | None = None
    new_residence_card_number: str | None = None
    new_card_valid_until: date | None = None
    additional_documents_due: date | None = None
    updated_at: AwareDatetime


class ApplicationPage(_ContractModel):
    """One page of ``GET /v1/applications``."""

    items: list[Application]
    next_page_token: str | None


class TokenRequest(_ContractModel):
    """Body of ``POST /v1/auth/token``."""

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)


class TokenResponse(_ContractModel):
    """Answer of ``POST /v1/auth/token``."""

    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=1)


class ErrorDetail(_ContractModel):
    """The ``error`` member of an error body."""

    code: str
    message: str


class ErrorBody(_ContractModel):
    """Body of every error response: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


def describe_validation_error(exc: ValidationError, *, limit: int = 5) -> str:
    """Summarise a validation error by locations and error types, never by the offending values.

    The values of a rejected body may be personal data (names, card numbers), so they must not
    reach an exception message or a log line.

    Args:
        exc: the pydantic error.
        limit: how many errors to list before summarising the rest as a count.

    Returns:
        e.g. ``items.0.status: literal_error; items.0.updated_at: timezone_aware (+3 more)``.
    """
    parts = [
        f"{'.'.join(str(item) for item in error['loc']) or '<root>'}: {error['type']}"
        for error in exc.errors(include_input=False, include_url=False)[:limit]
    ]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")

"""The project's exception hierarchy.

Callers catch :class:`ZairyuSyncError`; each stage raises its own subclass so a task failure says
which stage broke. Messages never contain PII (card numbers, names, birth dates).
"""

from __future__ import annotations


class ZairyuSyncError(Exception):
    """Base class of every error raised by zairyu-sync."""


class ConfigError(ZairyuSyncError):
    """A connection, setting or file the pipeline needs is missing or malformed."""


class InputError(ZairyuSyncError):
    """An input snapshot or extract is unusable as a whole (missing file, column or table)."""


class ExtractError(ZairyuSyncError):
    """Reading the ERP failed."""


class ValidationError(ZairyuSyncError):
    """Validation could not run, or extracted = valid + quarantined + ignored did not hold."""


class ImmigrationApiError(ZairyuSyncError):
    """The ISA status API could not be used."""


class ImmigrationApiAuthError(ImmigrationApiError):
    """Login failed or the token was rejected."""


class ImmigrationApiUnavailable(ImmigrationApiError):
    """The API kept failing (5xx, 429, timeouts) after the retry budget was spent."""


class ImmigrationApiResponseError(ImmigrationApiError):
    """The API answered with a body that does not match the contract; it is not trusted."""


class ReconcileError(ZairyuSyncError):
    """The rules could not be evaluated on the given frames."""


class LoadError(ZairyuSyncError):
    """Writing to the warehouse failed; the transaction was rolled back."""


class AlertError(ZairyuSyncError):
    """An alert could not be rendered or delivered."""

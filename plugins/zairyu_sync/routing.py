"""Alert routing: who receives which alert, in which language, over which channels.

The routing is YAML (documented in ``config/owners.yaml``): global ``fallback_owner``,
``escalation_contact``, ``escalate_after_days`` and ``reminder_days``, and per owner address its
``language`` (``ja``: Japanese first, English below; ``en``: English first, Japanese below),
``channels`` (``email``, ``slack``) and optional ``slack_conn_id``. Owners not listed, and
findings without an owner, go to the fallback owner.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zairyu_sync.config import project_root, safe_yaml
from zairyu_sync.errors import ConfigError

log = logging.getLogger(__name__)

#: Environment variable naming a routing YAML file replacing ``config/owners.yaml``.
OWNERS_FILE_ENV = "ZAIRYU_OWNERS_FILE"
#: The Airflow Variable holding the routing YAML (read inside the alert task only).
OWNERS_VARIABLE = "zairyu_sync_owners"
#: Languages an owner can choose; the first is the default.
LANGUAGES = ("ja", "en")
#: Delivery channels an owner can choose.
CHANNELS = ("email", "slack")
DEFAULT_ESCALATE_AFTER_DAYS = 7
DEFAULT_REMINDER_DAYS = (120, 90, 60, 30, 14, 7, 1)

_GLOBAL_KEYS = frozenset(
    {"fallback_owner", "escalation_contact", "escalate_after_days", "reminder_days", "owners"}
)
_OWNER_KEYS = frozenset({"language", "channels", "slack_conn_id"})


@dataclass(frozen=True)
class OwnerRoute:
    """How one recipient is reached.

    Attributes:
        address: the e-mail address (lower case); also the recipient of Slack alerts' records.
        language: ``ja`` (Japanese first) or ``en`` (English first).
        channels: the channels, in configured order.
        slack_conn_id: the Airflow connection of the owner's Slack webhook, or None.
    """

    address: str
    language: str = "ja"
    channels: tuple[str, ...] = ("email",)
    slack_conn_id: str | None = None


@dataclass(frozen=True)
class AlertRouting:
    """The whole routing configuration (validated, immutable).

    Attributes:
        fallback_owner: receives alerts of employees without a known owner.
        escalation_contact: receives escalations of long-open critical findings.
        escalate_after_days: days a critical finding may stay open before it escalates.
        reminder_days: expiry reminder thresholds, largest first.
        owners: configured owners by lower-case address.
    """

    fallback_owner: str
    escalation_contact: str
    escalate_after_days: int = DEFAULT_ESCALATE_AFTER_DAYS
    reminder_days: tuple[int, ...] = DEFAULT_REMINDER_DAYS
    owners: Mapping[str, OwnerRoute] = field(default_factory=dict)

    def route(self, owner: str | None) -> OwnerRoute:
        """The route of ``owner``; blank or unknown owners get the fallback owner's route."""
        key = (owner or "").strip().lower()
        if key and key in self.owners:
            return self.owners[key]
        if key:
            log.info("owner not configured; routed to the fallback owner")
        return self.contact(self.fallback_owner)

    def contact(self, address: str) -> OwnerRoute:
        """The route of a contact (fallback, escalation); unlisted: Japanese e-mail."""
        key = address.strip().lower()
        return self.owners.get(key) or OwnerRoute(address=key)


def load_routing(text: str | None = None) -> AlertRouting:
    """Parse and validate a routing YAML.

    Args:
        text: the YAML; None reads the file named by ``ZAIRYU_OWNERS_FILE``, else the project's
            ``config/owners.yaml``.

    Returns:
        The routing.

    Raises:
        ConfigError: the file cannot be read or the YAML is malformed or invalid.
    """
    if text is None:
        text = _owners_file_text()
    try:
        data = safe_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"owners routing is not valid YAML: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ConfigError("owners routing must be a mapping")
    unknown = sorted(str(key) for key in data if key not in _GLOBAL_KEYS)
    if unknown:
        raise ConfigError(f"owners routing has unknown keys: {unknown}")
    fallback = _address(data.get("fallback_owner"), "fallback_owner")
    escalation = _address(data.get("escalation_contact"), "escalation_contact")
    escalate_after = data.get("escalate_after_days", DEFAULT_ESCALATE_AFTER_DAYS)
    if (
        isinstance(escalate_after, bool)
        or not isinstance(escalate_after, int)
        or escalate_after < 0
    ):
        raise ConfigError("escalate_after_days must be a whole number of days >= 0")
    reminder_days = _reminder_days(data.get("reminder_days", list(DEFAULT_REMINDER_DAYS)))
    owners_raw = data.get("owners") or {}
    if not isinstance(owners_raw, dict):
        raise ConfigError("owners must be a mapping of address -> settings")
    owners: dict[str, OwnerRoute] = {}
    for raw_address, settings in owners_raw.items():
        address = _address(raw_address, "owner address")
        if address in owners:
            raise ConfigError(f"owner {address} is listed twice")
        owners[address] = _owner(address, settings)
    return AlertRouting(
        fallback_owner=fallback,
        escalation_contact=escalation,
        escalate_after_days=escalate_after,
        reminder_days=reminder_days,
        owners=owners,
    )


def routing_from_airflow() -> AlertRouting:
    """The routing from the Airflow Variable ``zairyu_sync_owners`` if set, else from the file.

    Call inside a task only: reading a Variable talks to the Airflow API server (or reads
    ``AIRFLOW_VAR_ZAIRYU_SYNC_OWNERS``).

    Raises:
        ConfigError: the configured YAML is malformed.
    """
    text = os.environ.get(f"AIRFLOW_VAR_{OWNERS_VARIABLE.upper()}")
    if text is None:
        try:
            from airflow.sdk import Variable

            value = Variable.get(OWNERS_VARIABLE, default=None)
        except Exception as exc:  # noqa: BLE001 - no task context or no Variable: use the file
            log.info(
                "Variable %s not readable (%s); using the file", OWNERS_VARIABLE, type(exc).__name__
            )
            value = None
        text = None if value is None else str(value)
    if text is not None:
        log.info("alert routing from the Airflow Variable %s", OWNERS_VARIABLE)
    return load_routing(text)


def _owners_file_text() -> str:
    override = os.environ.get(OWNERS_FILE_ENV)
    path = Path(override) if override else project_root() / "config" / "owners.yaml"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        source = OWNERS_FILE_ENV if override else "config/owners.yaml"
        raise ConfigError(f"cannot read the owners routing ({source}): {exc.strerror}") from exc


def _address(value: Any, label: str) -> str:
    if not isinstance(value, str) or "@" not in value or not value.strip():
        raise ConfigError(f"{label} must be an e-mail address")
    address = value.strip().lower()
    if any(char.isspace() for char in address):
        raise ConfigError(f"{label} must be an e-mail address")
    return address


def _reminder_days(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError("reminder_days must be a non-empty list of days")
    days: set[int] = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise ConfigError("reminder_days must hold whole numbers of days >= 0")
        days.add(item)
    return tuple(sorted(days, reverse=True))


def _owner(address: str, settings: Any) -> OwnerRoute:
    if settings is None:
        return OwnerRoute(address=address)
    if not isinstance(settings, dict):
        raise ConfigError(f"owner {address}: settings must be a mapping")
    unknown = sorted(str(key) for key in settings if key not in _OWNER_KEYS)
    if unknown:
        raise ConfigError(f"owner {address}: unknown keys {unknown}")
    language = settings.get("language", LANGUAGES[0])
    if language not in LANGUAGES:
        raise ConfigError(f"owner {address}: language must be one of {list(LANGUAGES)}")
    channels_raw = settings.get("channels", ["email"])
    if isinstance(channels_raw, str):
        channels_raw = [channels_raw]
    if not isinstance(channels_raw, list) or not channels_raw:
        raise ConfigError(f"owner {address}: channels must be a non-empty list")
    channels: list[str] = []
    for channel in channels_raw:
        if channel not in CHANNELS:
            raise ConfigError(f"owner {address}: channel must be one of {list(CHANNELS)}")
        if channel not in channels:
            channels.append(channel)
    slack_conn_id = settings.get("slack_conn_id")
    if slack_conn_id is not None and (not isinstance(slack_conn_id, str) or not slack_conn_id):
        raise ConfigError(f"owner {address}: slack_conn_id must be a connection id")
    return OwnerRoute(
        address=address,
        language=str(language),
        channels=tuple(channels),
        slack_conn_id=slack_conn_id,
    )

"""The residence status master (contract.md section 2) loaded from ``residence_statuses.yaml``.

:mod:`zairyu_sync.canonical` keeps the contract's literal code sets; this module holds the data
behind them (Japanese and English names, legal basis, the dates a status is in force, notes) and is
checked against those sets by the tests. Validation uses it to quarantine a status that is not in
force on the as-of date, and the warehouse gets it as the ``residence_statuses`` table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import yaml

from zairyu_sync.config import STATUS_MASTER_ENV, reference_text, safe_yaml
from zairyu_sync.errors import ConfigError

log = logging.getLogger(__name__)

STATUS_RESOURCE: Final = "residence_statuses.yaml"
#: Work classes of section 2: unrestricted, within the status's activities, not permitted without
#: a permission for activity outside status, depends on the designation (指定書).
WORK_CLASSES: Final = ("unrestricted", "within_status", "not_permitted", "designation")

_TEXT_FIELDS: Final = ("code", "name_ja", "name_en", "work_class", "legal_basis")
_FLAG_FIELDS: Final = ("fixed_period", "designation", "residence_card")
_KNOWN_FIELDS: Final = frozenset(
    (*_TEXT_FIELDS, *_FLAG_FIELDS, "valid_from", "valid_until", "note")
)


@dataclass(frozen=True)
class ResidenceStatus:
    """One status of residence (在留資格).

    Attributes:
        code: the contract's status code.
        name_ja: the name in the Immigration Control Act, e.g. ``技術・人文知識・国際業務``.
        name_en: ISA's English name.
        work_class: one of :data:`WORK_CLASSES`.
        fixed_period: the status has a fixed period of stay.
        designation: the status is tied to a designated organization named in the 指定書.
        residence_card: holders carry a residence card.
        valid_from: first day the status can be held, None when long in force.
        valid_until: last day the status can be held, None when no end is modelled.
        legal_basis: where the status is defined.
        note: remarks, including what is uncertain; None when there are none.
    """

    code: str
    name_ja: str
    name_en: str
    work_class: str
    fixed_period: bool
    designation: bool
    residence_card: bool
    valid_from: date | None
    valid_until: date | None
    legal_basis: str
    note: str | None

    def in_force_on(self, day: date) -> bool:
        """Whether the status can be held on ``day`` (both bounds inclusive)."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until


@dataclass(frozen=True)
class StatusMaster:
    """Every residence status, in file order, plus the code sets derived from them."""

    statuses: tuple[ResidenceStatus, ...]
    version: int = 1

    @property
    def codes(self) -> frozenset[str]:
        """All status codes."""
        return frozenset(status.code for status in self.statuses)

    def get(self, code: str) -> ResidenceStatus:
        """The status with ``code``; raises KeyError for an unknown code."""
        for status in self.statuses:
            if status.code == code:
                return status
        raise KeyError(code)

    def with_work_class(self, work_class: str) -> frozenset[str]:
        """Codes of the statuses in ``work_class`` (one of :data:`WORK_CLASSES`)."""
        if work_class not in WORK_CLASSES:
            raise ValueError(f"unknown work class {work_class!r}")
        return frozenset(s.code for s in self.statuses if s.work_class == work_class)

    @property
    def no_fixed_period(self) -> frozenset[str]:
        """Codes of the statuses without a fixed period of stay."""
        return frozenset(s.code for s in self.statuses if not s.fixed_period)

    @property
    def tied_to_designated_organization(self) -> frozenset[str]:
        """Codes of the statuses tied to a designated organization."""
        return frozenset(s.code for s in self.statuses if s.designation)

    @property
    def no_residence_card(self) -> frozenset[str]:
        """Codes of the statuses whose holders carry no residence card."""
        return frozenset(s.code for s in self.statuses if not s.residence_card)

    def not_in_force_on(self, day: date) -> frozenset[str]:
        """Codes of the statuses that cannot be held on ``day``."""
        return frozenset(s.code for s in self.statuses if not s.in_force_on(day))


def load_statuses(text: str | None = None) -> StatusMaster:
    """Load and validate the residence status master.

    Args:
        text: YAML text to parse; default: the file named by ``ZAIRYU_STATUS_MASTER``, else the
            packaged ``residence_statuses.yaml``.

    Returns:
        The validated master.

    Raises:
        ConfigError: the YAML is malformed, a field is missing or has the wrong type, a code is
            duplicated, a work class is unknown or ``valid_from`` is after ``valid_until``.
    """
    if text is None:
        text = reference_text(STATUS_RESOURCE, STATUS_MASTER_ENV)
    try:
        document = safe_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"status master is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("statuses"), list):
        raise ConfigError("status master must be a mapping with a 'statuses' list")
    version = document.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError("status master 'version' must be an integer")
    statuses = tuple(_parse(entry, index) for index, entry in enumerate(document["statuses"]))
    codes = [status.code for status in statuses]
    duplicated = sorted({code for code in codes if codes.count(code) > 1})
    if duplicated:
        raise ConfigError(f"status master has duplicated codes: {', '.join(duplicated)}")
    log.debug("loaded status master with %d statuses", len(statuses))
    return StatusMaster(statuses=statuses, version=version)


def _parse(entry: Any, index: int) -> ResidenceStatus:
    if not isinstance(entry, dict):
        raise ConfigError(f"status #{index} must be a mapping")
    label = str(entry.get("code") or f"#{index}")
    missing = sorted(_KNOWN_FIELDS - set(entry))
    unknown = sorted(set(entry) - _KNOWN_FIELDS)
    if missing or unknown:
        raise ConfigError(f"status {label}: missing fields {missing}, unknown fields {unknown}")
    for key in _TEXT_FIELDS:
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ConfigError(f"status {label}: '{key}' must be a non-empty string")
    for key in _FLAG_FIELDS:
        if not isinstance(entry[key], bool):
            raise ConfigError(f"status {label}: '{key}' must be true or false")
    if entry["work_class"] not in WORK_CLASSES:
        raise ConfigError(f"status {label}: work_class must be one of {', '.join(WORK_CLASSES)}")
    note = entry["note"]
    if note is not None and (not isinstance(note, str) or not note.strip()):
        raise ConfigError(f"status {label}: 'note' must be a non-empty string or null")
    valid_from = _date(entry["valid_from"], label, "valid_from")
    valid_until = _date(entry["valid_until"], label, "valid_until")
    if valid_from is not None and valid_until is not None and valid_from > valid_until:
        raise ConfigError(f"status {label}: valid_from is after valid_until")
    return ResidenceStatus(
        code=entry["code"].strip(),
        name_ja=entry["name_ja"].strip(),
        name_en=entry["name_en"].strip(),
        work_class=entry["work_class"],
        fixed_period=entry["fixed_period"],
        designation=entry["designation"],
        residence_card=entry["residence_card"],
        valid_from=valid_from,
        valid_until=valid_until,
        legal_basis=entry["legal_basis"].strip(),
        note=note.strip() if note else None,
    )


def _date(value: Any, label: str, key: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"status {label}: '{key}' must be a YYYY-MM-DD date or null")

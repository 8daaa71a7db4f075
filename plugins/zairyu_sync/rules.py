"""The rule catalog (contract.md section 4) loaded from the package data file ``rules.yaml``.

The catalog is data: titles, the plain-language condition, legal basis, remediation and the
severity policy of each rule code. :mod:`zairyu_sync.reconcile` registers one evaluator per code and
applies the severity policy from here; policy thresholds are named, never written, in the YAML
(they are :class:`~zairyu_sync.config.PolicySettings` fields).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import yaml

from zairyu_sync.canonical import SEVERITIES
from zairyu_sync.config import RULE_CATALOG_ENV, PolicySettings, reference_text, safe_yaml
from zairyu_sync.errors import ConfigError

log = logging.getLogger(__name__)

CATALOG_RESOURCE = "rules.yaml"
_POLICY_FIELDS = frozenset(field.name for field in fields(PolicySettings))
_REQUIRED_TEXT = (
    "code",
    "title_en",
    "title_ja",
    "condition",
    "remediation_en",
    "remediation_ja",
    "due_date",
)


@dataclass(frozen=True)
class SeverityPolicy:
    """Base severity of a rule and how it escalates to ``critical``.

    Attributes:
        base: ``critical``, ``warning`` or ``info``.
        critical_within: name of the PolicySettings field holding the number of days: the finding
            is critical once its due date is at most that many days after the as-of date.
        critical_when_overdue: the finding is critical once its due date is before the as-of date.
    """

    base: str
    critical_within: str | None = None
    critical_when_overdue: bool = False

    def critical_within_days(self, policy: PolicySettings) -> int | None:
        """The escalation window in days under ``policy`` (None when the rule does not escalate)."""
        if self.critical_within is None:
            return None
        return int(getattr(policy, self.critical_within))


@dataclass(frozen=True)
class Rule:
    """One catalog entry (see ``rules.yaml`` for the meaning of each field)."""

    code: str
    title_en: str
    title_ja: str
    severity: SeverityPolicy
    condition: str
    legal_basis: tuple[str, ...]
    uncertain: str | None
    remediation_en: str
    remediation_ja: str
    applies_from: date | None
    applies_until: date | None
    due_date: str
    policy_settings: tuple[str, ...]

    def applies_on(self, day: date) -> bool:
        """Whether the rule is in force on ``day`` (both bounds inclusive)."""
        if self.applies_from is not None and day < self.applies_from:
            return False
        return self.applies_until is None or day <= self.applies_until


@dataclass(frozen=True)
class RuleCatalog:
    """All rules, in catalog order, and the catalog's ``version``."""

    rules: tuple[Rule, ...]
    version: int = 1

    @property
    def codes(self) -> tuple[str, ...]:
        """Rule codes in catalog order."""
        return tuple(rule.code for rule in self.rules)

    def get(self, code: str) -> Rule:
        """The rule with ``code``; raises KeyError for an unknown code."""
        for rule in self.rules:
            if rule.code == code:
                return rule
        raise KeyError(code)

    def titles(self) -> dict[str, tuple[str, str]]:
        """Rule code -> (English title, Japanese title)."""
        return {rule.code: (rule.title_en, rule.title_ja) for rule in self.rules}

    def unimplemented_codes(self, implemented: frozenset[str] | set[str]) -> tuple[str, ...]:
        """Catalog codes that have no evaluator among ``implemented``, in catalog order."""
        return tuple(code for code in self.codes if code not in implemented)


def load_catalog(text: str | None = None) -> RuleCatalog:
    """Load and validate the rule catalog.

    Args:
        text: YAML text to parse; default: the file named by ``ZAIRYU_RULE_CATALOG``, else the
            packaged ``rules.yaml``.

    Returns:
        The validated catalog.

    Raises:
        ConfigError: the YAML is malformed, a field is missing, a code is duplicated, a severity
            or a PolicySettings field name is invalid.
    """
    if text is None:
        text = reference_text(CATALOG_RESOURCE, RULE_CATALOG_ENV)
    return _parse_catalog(text)


@functools.lru_cache(maxsize=8)
def _parse_catalog(text: str) -> RuleCatalog:
    """The catalog in ``text``; parsed once per distinct text (a catalog is immutable)."""
    try:
        document = safe_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"rule catalog is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise ConfigError("rule catalog must be a mapping with a 'rules' list")
    rules = tuple(_parse_rule(entry, index) for index, entry in enumerate(document["rules"]))
    codes = [rule.code for rule in rules]
    duplicated = sorted({code for code in codes if codes.count(code) > 1})
    if duplicated:
        raise ConfigError(f"rule catalog has duplicated codes: {', '.join(duplicated)}")
    version = document.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError("rule catalog 'version' must be an integer")
    log.debug("loaded rule catalog version %d with %d rules", version, len(rules))
    return RuleCatalog(rules=rules, version=version)


def _parse_rule(entry: Any, index: int) -> Rule:
    if not isinstance(entry, dict):
        raise ConfigError(f"rule #{index} must be a mapping")
    label = str(entry.get("code") or f"#{index}")
    for key in _REQUIRED_TEXT:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"rule {label}: '{key}' must be a non-empty string")
    legal_basis = entry.get("legal_basis")
    if (
        not isinstance(legal_basis, list)
        or not legal_basis
        or not all(isinstance(item, str) and item.strip() for item in legal_basis)
    ):
        raise ConfigError(f"rule {label}: 'legal_basis' must be a non-empty list of strings")
    settings = entry.get("policy_settings") or []
    if not isinstance(settings, list) or not all(item in _POLICY_FIELDS for item in settings):
        raise ConfigError(f"rule {label}: 'policy_settings' must name PolicySettings fields")
    uncertain = entry.get("uncertain")
    if uncertain is not None and not isinstance(uncertain, str):
        raise ConfigError(f"rule {label}: 'uncertain' must be a string or null")
    return Rule(
        code=entry["code"].strip(),
        title_en=entry["title_en"].strip(),
        title_ja=entry["title_ja"].strip(),
        severity=_parse_severity(entry.get("severity"), label),
        condition=entry["condition"].strip(),
        legal_basis=tuple(item.strip() for item in legal_basis),
        uncertain=uncertain.strip() if uncertain else None,
        remediation_en=entry["remediation_en"].strip(),
        remediation_ja=entry["remediation_ja"].strip(),
        applies_from=_parse_date(entry.get("applies_from"), label, "applies_from"),
        applies_until=_parse_date(entry.get("applies_until"), label, "applies_until"),
        due_date=entry["due_date"].strip(),
        policy_settings=tuple(settings),
    )


def _parse_severity(value: Any, label: str) -> SeverityPolicy:
    if not isinstance(value, dict):
        raise ConfigError(f"rule {label}: 'severity' must be a mapping with 'base'")
    unknown = set(value) - {"base", "critical_within_days", "critical_when_overdue"}
    if unknown:
        raise ConfigError(f"rule {label}: unknown severity keys {sorted(unknown)}")
    base = value.get("base")
    if base not in SEVERITIES:
        raise ConfigError(f"rule {label}: severity base must be one of {', '.join(SEVERITIES)}")
    within = value.get("critical_within_days")
    if within is not None and within not in _POLICY_FIELDS:
        raise ConfigError(
            f"rule {label}: critical_within_days must name a PolicySettings field, got {within!r}"
        )
    overdue = value.get("critical_when_overdue", False)
    if not isinstance(overdue, bool):
        raise ConfigError(f"rule {label}: critical_when_overdue must be true or false")
    if base == "critical" and (within is not None or overdue):
        raise ConfigError(f"rule {label}: a critical rule cannot escalate")
    return SeverityPolicy(base=base, critical_within=within, critical_when_overdue=overdue)


def _parse_date(value: Any, label: str, key: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"rule {label}: '{key}' must be a YYYY-MM-DD date or null")

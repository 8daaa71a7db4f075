"""The rule catalog (rules.yaml) against contract.md section 4."""

from __future__ import annotations

import re

import pytest

from tests.factories import CONTRACT_RULE_CODES
from zairyu_sync.config import PolicySettings
from zairyu_sync.errors import ConfigError
from zairyu_sync.rules import load_catalog

pytestmark = pytest.mark.unit

CONTRACT_CODES = CONTRACT_RULE_CODES
# contract.md section 4, severity column
CONTRACT_BASE_SEVERITY = {
    "STATUS_EXPIRED": "critical",
    "SPECIAL_PERIOD": "warning",
    "EXPIRY_APPROACHING": "warning",
    "CARD_RENEWAL_DUE": "warning",
    "WORK_NOT_PERMITTED": "critical",
    "HOURS_LIMIT_EXCEEDED": "critical",
    "STUDENT_NOT_ENROLLED": "critical",
    "DESIGNATED_ORGANIZATION_MISMATCH": "critical",
    "APPLICATION_DENIED": "critical",
    "ADDITIONAL_DOCUMENTS_REQUESTED": "warning",
    "STATUS_MISMATCH": "warning",
    "EXPIRY_MISMATCH": "warning",
    "CARD_NUMBER_STALE": "warning",
    "APPLICATION_NOT_FOUND": "warning",
    "APPLICATION_UNTRACKED": "info",
    "APPLICATION_PENDING_LONG": "info",
    "HELLOWORK_HIRE_OVERDUE": "warning",
    "HELLOWORK_SEPARATION_OVERDUE": "warning",
    "DATA_QUALITY": "warning",
}


def test_catalog_has_exactly_the_19_contract_codes_once_each() -> None:
    catalog = load_catalog()
    assert len(catalog.codes) == 19
    assert len(set(catalog.codes)) == 19
    assert set(catalog.codes) == CONTRACT_CODES


def test_every_rule_has_titles_legal_basis_and_remediation() -> None:
    for rule in load_catalog().rules:
        assert rule.title_en and rule.title_ja, rule.code
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", rule.title_ja), rule.code
        assert rule.legal_basis and all(rule.legal_basis), rule.code
        assert rule.remediation_en and rule.remediation_ja, rule.code
        assert rule.condition and rule.due_date, rule.code


def test_severity_policies_match_the_contract() -> None:
    catalog = load_catalog()
    for code, base in CONTRACT_BASE_SEVERITY.items():
        assert catalog.get(code).severity.base == base, code
    policy = PolicySettings(critical_window_days=21)
    assert catalog.get("SPECIAL_PERIOD").severity.critical_within_days(policy) == 21
    assert catalog.get("EXPIRY_APPROACHING").severity.critical_within_days(policy) == 21
    assert catalog.get("CARD_RENEWAL_DUE").severity.critical_when_overdue is True
    assert catalog.get("STATUS_EXPIRED").severity.critical_within_days(policy) is None


def test_legal_basis_cites_the_domain_articles() -> None:
    catalog = load_catalog()
    assert any("73-2" in text for text in catalog.get("STATUS_EXPIRED").legal_basis)
    assert any("20(5)" in text for text in catalog.get("SPECIAL_PERIOD").legal_basis)
    assert any("19-5" in text for text in catalog.get("CARD_RENEWAL_DUE").legal_basis)
    assert any("Art. 28" in text for text in catalog.get("HELLOWORK_HIRE_OVERDUE").legal_basis)
    assert "UNCERTAIN" in (catalog.get("HELLOWORK_HIRE_OVERDUE").uncertain or "")


def test_titles_helper_and_unimplemented_codes() -> None:
    catalog = load_catalog()
    assert catalog.titles()["DATA_QUALITY"][0] == "Record failed validation"
    missing = catalog.unimplemented_codes({"DATA_QUALITY", "STATUS_EXPIRED"})
    assert len(missing) == 17 and "DATA_QUALITY" not in missing


_ENTRY = """
  - code: {code}
    title_en: T
    title_ja: タイトル
    severity: {severity}
    condition: c
    legal_basis: [入管法 Art. 73-2]
    remediation_en: r
    remediation_ja: 対応
    applies_from: null
    applies_until: null
    due_date: none
"""


def test_a_catalog_cannot_build_python_objects() -> None:
    """The catalog is read with a safe loader (libyaml's when PyYAML has it): no Python tags."""
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog("rules: !!python/object/apply:os.getcwd []")


def test_duplicated_codes_are_rejected() -> None:
    text = "rules:" + _ENTRY.format(code="A", severity="{base: info}") * 2
    with pytest.raises(ConfigError, match="duplicated codes: A"):
        load_catalog(text)


@pytest.mark.parametrize(
    "severity",
    [
        "{base: urgent}",
        "{base: warning, critical_within_days: 14}",
        "{base: warning, critical_within_days: no_such_setting}",
        "{base: critical, critical_when_overdue: true}",
    ],
)
def test_invalid_severity_policies_are_rejected(severity: str) -> None:
    with pytest.raises(ConfigError, match="rule A"):
        load_catalog("rules:" + _ENTRY.format(code="A", severity=severity))


def test_applies_window_is_inclusive() -> None:
    from datetime import date

    text = "rules:" + _ENTRY.format(code="A", severity="{base: info}").replace(
        "applies_from: null", "applies_from: 2027-04-01"
    )
    rule = load_catalog(text).get("A")
    assert not rule.applies_on(date(2027, 3, 31))
    assert rule.applies_on(date(2027, 4, 1))

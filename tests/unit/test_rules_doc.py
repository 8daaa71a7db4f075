"""docs/rules.md is generated from the rule catalog and kept in sync with it."""

from __future__ import annotations

import json
import re
from dataclasses import fields

import pytest

from tests.conftest import REPO_ROOT
from zairyu_sync.config import PolicySettings
from zairyu_sync.rules import load_catalog
from zairyu_sync.rules_doc import POLICY_DESCRIPTIONS, render_rules_markdown, rules_as_json

pytestmark = pytest.mark.unit

DOC = REPO_ROOT / "docs" / "rules.md"


def _section(markdown: str, code: str) -> str:
    match = re.search(rf"^### {code}\n(.*?)(?=^### |\Z)", markdown, flags=re.M | re.S)
    assert match, f"no section for {code}"
    return match.group(1)


def test_committed_doc_matches_the_catalog() -> None:
    expected = render_rules_markdown(load_catalog())
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert committed == expected, "docs/rules.md is out of date: run `make docs` and commit it"


def test_rendering_is_deterministic_and_ignores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = render_rules_markdown(load_catalog())
    monkeypatch.setenv("ZAIRYU_CRITICAL_WINDOW_DAYS", "3")
    assert render_rules_markdown(load_catalog()) == first
    assert "`critical_window_days` = 14 (`ZAIRYU_CRITICAL_WINDOW_DAYS`)" in first


def test_every_code_has_a_section_with_titles_legal_basis_and_remediation() -> None:
    catalog = load_catalog()
    markdown = render_rules_markdown(catalog)

    headings = re.findall(r"^### (\S+)$", markdown, flags=re.M)
    assert headings == list(catalog.codes)
    for rule in catalog.rules:
        section = _section(markdown, rule.code)
        assert f"**{rule.title_ja}** — {rule.title_en}" in section
        assert "**Legal basis.**" in section
        for basis in rule.legal_basis:
            assert f"- {basis}" in section
        assert rule.remediation_ja in section and rule.remediation_en in section
        assert f"- **Due date:** {rule.due_date}" in section
        assert rule.condition in section
        if rule.uncertain:
            assert f"**Uncertain.** {rule.uncertain}" in section
        else:
            assert "**Uncertain.**" not in section


def test_summary_table_has_one_row_per_rule_in_catalog_order() -> None:
    catalog = load_catalog()
    markdown = render_rules_markdown(catalog)

    rows = re.findall(
        r"^\| \[`([A-Z_]+)`\]\(#([a-z_]+)\) \| (.+?) \| (.+?) \| (\w+) \|", markdown, re.M
    )
    assert [row[0] for row in rows] == list(catalog.codes)
    for code, anchor, title_ja, title_en, base in rows:
        rule = catalog.get(code)
        assert (anchor, title_ja, title_en, base) == (
            code.lower(),
            rule.title_ja,
            rule.title_en,
            rule.severity.base,
        )


def test_severity_policy_is_explained_with_default_numbers() -> None:
    markdown = render_rules_markdown(load_catalog())

    special = _section(markdown, "SPECIAL_PERIOD")
    assert (
        "Becomes critical when the due date is at most 14 days after the as-of date"
        " (`critical_window_days`, default 14, `ZAIRYU_CRITICAL_WINDOW_DAYS`)." in special
    )
    assert "Becomes critical once the due date is before the as-of date." in _section(
        markdown, "CARD_RENEWAL_DUE"
    )
    assert "Does not escalate." in _section(markdown, "APPLICATION_UNTRACKED")
    assert "`pending_long_days` = 90 (`ZAIRYU_PENDING_LONG_DAYS`)" in _section(
        markdown, "APPLICATION_PENDING_LONG"
    )
    assert "Critical — act today." in _section(markdown, "STATUS_EXPIRED")


def test_intro_lists_every_policy_threshold_with_default_and_env_var() -> None:
    markdown = render_rules_markdown(load_catalog())
    defaults = PolicySettings()

    assert "UNCERTAIN" in markdown
    for field in fields(PolicySettings):
        assert POLICY_DESCRIPTIONS.get(field.name), f"describe {field.name} in rules_doc"
        value = getattr(defaults, field.name)
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        assert f"| `{field.name}` | {shown} | `ZAIRYU_{field.name.upper()}` |" in markdown


def test_applies_from_and_until_are_rendered() -> None:
    text = (REPO_ROOT / "plugins" / "zairyu_sync" / "rules.yaml").read_text(encoding="utf-8")
    text = text.replace("applies_from: null", "applies_from: 2027-04-01", 1).replace(
        "applies_until: null", "applies_until: 2030-03-31", 2
    )
    catalog = load_catalog(text)
    markdown = render_rules_markdown(catalog)

    first, second = catalog.rules[0], catalog.rules[1]
    assert "- **Applies:** from 2027-04-01 until 2030-03-31 (both inclusive)" in _section(
        markdown, first.code
    )
    assert "- **Applies:** until 2030-03-31 (inclusive)" in _section(markdown, second.code)
    assert "- **Applies:** always" in _section(markdown, catalog.rules[2].code)


def test_json_rendering_round_trips_the_catalog() -> None:
    catalog = load_catalog()
    document = json.loads(json.dumps(rules_as_json(catalog), ensure_ascii=False))

    assert [item["code"] for item in document] == list(catalog.codes)
    special = document[catalog.codes.index("SPECIAL_PERIOD")]
    assert special["severity"] == {
        "base": "warning",
        "critical_within": "critical_window_days",
        "critical_within_days_default": 14,
        "critical_when_overdue": False,
    }
    assert special["policy_settings"] == {
        "critical_window_days": {"default": 14, "env": "ZAIRYU_CRITICAL_WINDOW_DAYS"}
    }
    assert all(item["legal_basis"] for item in document)

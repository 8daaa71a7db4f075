"""Render the rule catalog (``rules.yaml``) as documentation: Markdown for ``docs/rules.md``, JSON.

The document is generated from the catalog's data and the :class:`PolicySettings` defaults only
(never from the environment), so the same catalog always renders the same text.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any, Final

from zairyu_sync.config import PolicySettings
from zairyu_sync.rules import Rule, RuleCatalog, SeverityPolicy

log = logging.getLogger(__name__)

REGENERATE_COMMAND: Final = "zairyu-sync rules --format markdown --output docs/rules.md"

#: What each policy threshold means (PolicySettings field -> description).
POLICY_DESCRIPTIONS: Final[dict[str, str]] = {
    "expiry_horizon_days": "how many days ahead EXPIRY_APPROACHING looks for expiring periods",
    "critical_window_days": "a warning becomes critical when its due date is this close",
    "card_renewal_days": "how many days ahead CARD_RENEWAL_DUE looks at card validity",
    "pending_long_days": "a pending application older than this is reported",
    "hellowork_lookback_days": "how far back hires and separations are checked for Hello Work",
    "hours_window_days": "length of the rolling window of the weekly hours limit",
    "weekly_hours_limit": "hours allowed within the rolling window (outside-status permission)",
    "long_vacation_daily_limit": "hours allowed per day during a student's long vacation",
    "hours_lookback_days": "how many days of timesheets are checked",
}

_SEVERITY_WORDS = {
    "critical": "Critical — act today.",
    "warning": "Warning — act before the due date.",
    "info": "Info — worth a look; no action is due yet.",
}


def env_var(field_name: str) -> str:
    """The environment variable that overrides a PolicySettings field."""
    return f"ZAIRYU_{field_name.upper()}"


def render_rules_markdown(catalog: RuleCatalog) -> str:
    """The rule catalog as a Markdown document (``docs/rules.md``).

    Args:
        catalog: the rule catalog, usually :func:`zairyu_sync.rules.load_catalog`.

    Returns:
        The document, ending with one newline. Deterministic: only the catalog and the
        PolicySettings defaults go into it.
    """
    defaults = PolicySettings()
    lines: list[str] = [
        "# Rule catalog",
        "",
        f"<!-- Generated from plugins/zairyu_sync/rules.yaml by `{REGENERATE_COMMAND}`"
        " (`make docs`). Do not edit by hand. -->",
        "",
        "The rule catalog is the list of checks zairyu-sync runs on every reconciliation: each",
        "rule compares the ERP's record of a foreign employee (and the ERP's applications) with",
        "the residence application statuses returned by the Immigration Services Agency (ISA) and",
        "reports a *finding* with a rule code, a severity and a due date. The catalog is data",
        "(`plugins/zairyu_sync/rules.yaml`); this page is generated from it. Rule codes are",
        "stable: analysts query them in the `discrepancies` table and in `discrepancies.csv`.",
        "",
        "## Severity policy",
        "",
        "Each rule has a base severity:",
        "",
        "- **critical** — the employer may be committing an offence today (for example employing",
        "  someone whose status has expired); stop and act now.",
        "- **warning** — a deadline or a mismatch that becomes a problem if nobody acts.",
        "- **info** — worth a look; nothing is at risk yet.",
        "",
        "A warning can escalate to critical, in one of two ways:",
        "",
        "- *within a window*: critical once its due date is at most N days after the as-of date,",
        "  where N is a policy setting (for example `critical_window_days`, default "
        f"{defaults.critical_window_days});",
        "- *once overdue*: critical once its due date is before the as-of date.",
        "",
        "## Policy thresholds",
        "",
        "The numbers below are company policy, not law. Each can be changed with the environment",
        "variable shown; the defaults apply when it is unset.",
        "",
        "| setting | default | environment variable | meaning |",
        "|---|---|---|---|",
    ]
    for field in fields(PolicySettings):
        lines.append(
            f"| `{field.name}` | {_number(getattr(defaults, field.name))} | "
            f"`{env_var(field.name)}` | {_cell(POLICY_DESCRIPTIONS.get(field.name, ''))} |"
        )
    lines += [
        "",
        "## Uncertain facts",
        "",
        "Some facts behind the rules are not confirmed by a primary source (marked UNCERTAIN in",
        "the domain research). They never hide in code: a threshold that depends on them is a",
        "policy setting above, a date from which a rule applies is `applies_from` /",
        "`applies_until` in the catalog, and anything else is flagged in the rule's",
        "**Uncertain** note below. Check those notes against the primary source before relying",
        "on the rule.",
        "",
        "## Summary",
        "",
        "| code | 日本語 | English | base severity | escalation |",
        "|---|---|---|---|---|",
    ]
    for rule in catalog.rules:
        lines.append(
            f"| [`{rule.code}`](#{rule.code.lower()}) | {_cell(rule.title_ja)} | "
            f"{_cell(rule.title_en)} | {rule.severity.base} | "
            f"{_cell(_escalation(rule.severity, defaults))} |"
        )
    lines += ["", "## Rules", ""]
    for rule in catalog.rules:
        lines += _rule_section(rule, defaults)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def rules_as_json(catalog: RuleCatalog) -> list[dict[str, Any]]:
    """The catalog as JSON-serialisable objects (one per rule, catalog order).

    The severity object carries the escalation window's default in days next to the setting's
    name, and ``policy_settings`` maps each setting the rule reads to its default and its
    environment variable.
    """
    defaults = PolicySettings()
    return [
        {
            "code": rule.code,
            "title_ja": rule.title_ja,
            "title_en": rule.title_en,
            "severity": {
                "base": rule.severity.base,
                "critical_within": rule.severity.critical_within,
                "critical_within_days_default": rule.severity.critical_within_days(defaults),
                "critical_when_overdue": rule.severity.critical_when_overdue,
            },
            "condition": rule.condition,
            "due_date": rule.due_date,
            "legal_basis": list(rule.legal_basis),
            "uncertain": rule.uncertain,
            "remediation_ja": rule.remediation_ja,
            "remediation_en": rule.remediation_en,
            "applies_from": rule.applies_from.isoformat() if rule.applies_from else None,
            "applies_until": rule.applies_until.isoformat() if rule.applies_until else None,
            "policy_settings": {
                name: {"default": getattr(defaults, name), "env": env_var(name)}
                for name in _settings_of(rule)
            },
        }
        for rule in catalog.rules
    ]


# --- pieces -----------------------------------------------------------------------------------


def _rule_section(rule: Rule, defaults: PolicySettings) -> list[str]:
    lines = [
        f"### {rule.code}",
        "",
        f"**{rule.title_ja}** — {rule.title_en}",
        "",
        f"- **Code:** `{rule.code}`",
        f"- **Severity:** {_severity_in_words(rule.severity, defaults)}",
        f"- **Due date:** {rule.due_date}",
        f"- **Applies:** {_applies(rule)}",
    ]
    settings = _settings_of(rule)
    if settings:
        lines.append(
            "- **Policy settings:** "
            + ", ".join(
                f"`{name}` = {_number(getattr(defaults, name))} (`{env_var(name)}`)"
                for name in settings
            )
        )
    lines += ["", "**Condition.** " + rule.condition, "", "**Legal basis.**", ""]
    lines += [f"- {item}" for item in rule.legal_basis]
    lines.append("")
    if rule.uncertain:
        lines += ["**Uncertain.** " + rule.uncertain, ""]
    lines += [
        "**Remediation.**",
        "",
        f"- 日本語: {rule.remediation_ja}",
        f"- English: {rule.remediation_en}",
        "",
    ]
    return lines


def _settings_of(rule: Rule) -> tuple[str, ...]:
    """The policy settings a rule reads, its escalation window included, without repeats."""
    names = list(rule.policy_settings)
    if rule.severity.critical_within and rule.severity.critical_within not in names:
        names.append(rule.severity.critical_within)
    return tuple(names)


def _escalation(severity: SeverityPolicy, defaults: PolicySettings) -> str:
    days = severity.critical_within_days(defaults)
    if days is not None:
        return f"critical within {days} days of the due date (`{severity.critical_within}`)"
    if severity.critical_when_overdue:
        return "critical once overdue"
    return "—"


def _severity_in_words(severity: SeverityPolicy, defaults: PolicySettings) -> str:
    text = _SEVERITY_WORDS[severity.base]
    days = severity.critical_within_days(defaults)
    if days is not None:
        name = severity.critical_within or ""
        text += (
            f" Becomes critical when the due date is at most {days} days after the as-of date"
            f" (`{name}`, default {days}, `{env_var(name)}`)."
        )
    elif severity.critical_when_overdue:
        text += " Becomes critical once the due date is before the as-of date."
    elif severity.base != "critical":
        text += " Does not escalate."
    return text


def _applies(rule: Rule) -> str:
    start, until = rule.applies_from, rule.applies_until
    if start is not None and until is not None:
        return f"from {start.isoformat()} until {until.isoformat()} (both inclusive)"
    if start is not None:
        return f"from {start.isoformat()} (inclusive)"
    if until is not None:
        return f"until {until.isoformat()} (inclusive)"
    return "always (no start or end date)"


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")

"""Which alerts a run sends: pure planning from the warehouse state, routed and rendered per owner.

Kinds (see :data:`KINDS`):

* ``critical``: critical findings first seen in this run, one message per owner;
* ``warning_digest``: the run's new warnings, one digest per owner;
* ``expiry_reminder``: active (or on-leave) employees of this run's ``employee_snapshots`` whose
  period of stay ends within a reminder threshold. Only the smallest threshold crossed is planned,
  and each ``employee|expiry|threshold`` key only once (a renewal has a new expiry and starts
  again);
* ``escalation``: critical findings open more than ``escalate_after_days`` (first seen -> as-of
  date), to the escalation contact, once per finding;
* ``resolved``: critical findings this run resolved, a short notice to the owner.

Keys already alerted by another run (``delivered``, ``pending`` or ``uncertain`` in ``alert_log``)
are not planned again; a rerun of the same run key plans the same digests (same alert ids), which
:func:`zairyu_sync.alert.send_digests` then skips. Rendered texts contain masked data only
(``name_masked``, ``card_masked`` from the snapshots) and pass through
:func:`~zairyu_sync.pii.redact_card_numbers`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import jinja2
import sqlalchemy as sa

from zairyu_sync.alert import Digest
from zairyu_sync.errors import AlertError
from zairyu_sync.pii import redact_card_numbers
from zairyu_sync.routing import AlertRouting, OwnerRoute
from zairyu_sync.sqlfiles import sql_text

log = logging.getLogger(__name__)

CRITICAL = "critical"
WARNING_DIGEST = "warning_digest"
EXPIRY_REMINDER = "expiry_reminder"
ESCALATION = "escalation"
RESOLVED = "resolved"
#: Alert kinds in the order they are planned and sent.
KINDS = (CRITICAL, ESCALATION, WARNING_DIGEST, EXPIRY_REMINDER, RESOLVED)
#: Kinds whose keys can recur across runs and are deduplicated against ``alert_log``.
DEDUPLICATED_KINDS = (EXPIRY_REMINDER, ESCALATION, RESOLVED)
#: The rule whose remediation a reminder quotes.
REMINDER_RULE = "EXPIRY_APPROACHING"

_ENV_TEXT = jinja2.Environment(
    loader=jinja2.PackageLoader("zairyu_sync", "templates"),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_ENV_HTML = jinja2.Environment(
    loader=jinja2.PackageLoader("zairyu_sync", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

# kind -> language -> (count phrase, intro)
_KIND_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    CRITICAL: {
        "ja": (
            "重大 {n}件",
            "在留資格の照合で、至急対応が必要な重大な事項が新たに見つかりました。",
        ),
        "en": (
            "{n} critical",
            "The residence status check found new critical findings that need action now.",
        ),
    },
    WARNING_DIGEST: {
        "ja": ("警告 {n}件", "在留資格の照合で、対応が必要な警告が新たに見つかりました。"),
        "en": ("{n} warning{s}", "The residence status check found new warnings that need action."),
    },
    EXPIRY_REMINDER: {
        "ja": (
            "在留期間満了の予告 {n}件",
            "次の社員の在留期間が満了に近づいています。更新申請の準備を確認してください。",
        ),
        "en": (
            "{n} expiry reminder{s}",
            "These employees' periods of stay end soon. Check that the renewal is prepared.",
        ),
    },
    ESCALATION: {
        "ja": ("エスカレーション 重大 {n}件", "次の重大な事項が、期限を超えて未解決のままです。"),
        "en": (
            "{n} critical escalated",
            "These critical findings have stayed open beyond the escalation period.",
        ),
    },
    RESOLVED: {
        "ja": ("解決 {n}件", "次の重大な事項は、今回の照合で解決が確認されました。"),
        "en": (
            "{n} resolved",
            "The residence status check confirmed these critical findings as resolved.",
        ),
    },
}
_TOPIC = {"ja": "在留資格の照合", "en": "residence status check"}
_LANGUAGE_NAME = {"ja": "日本語", "en": "English"}
_LABELS = {
    "ja": {
        "employee": "社員番号",
        "name": "氏名（マスク）",
        "card": "在留カード番号（マスク）",
        "due": "対応期限",
        "remediation": "対応",
        "receipt": "申請受付番号",
        "expiry": "在留期間満了日",
        "days_left": "残り日数",
        "threshold": "通知区分",
        "days_open": "未解決日数",
        "first_seen": "初回検出日",
        "owner": "担当",
        "resolved_on": "解決日",
        "none": "なし",
        "report": "レポート",
        "days": "{n}日",
        "threshold_value": "満了{n}日前",
        "footer": (
            "このメールは zairyu-sync が自動送信しています。"
            "氏名・生年月日・在留カード番号はマスクしています。"
        ),
        "reminder_heading": "在留期間の満了が近い",
    },
    "en": {
        "employee": "Employee ID",
        "name": "Name (masked)",
        "card": "Residence card (masked)",
        "due": "Due",
        "remediation": "Action",
        "receipt": "Receipt number",
        "expiry": "Period of stay ends",
        "days_left": "Days left",
        "threshold": "Reminder",
        "days_open": "Days open",
        "first_seen": "First seen",
        "owner": "Owner",
        "resolved_on": "Resolved on",
        "none": "none",
        "report": "Report",
        "days": "{n} days",
        "threshold_value": "{n} days before expiry",
        "footer": (
            "This message was sent automatically by zairyu-sync."
            " Names, birth dates and residence card numbers are masked."
        ),
        "reminder_heading": "Period of stay ending soon",
    },
}
#: Severity labels, (English, Japanese) like the rule titles.
_SEVERITY = {"critical": ("CRITICAL", "重大"), "warning": ("WARNING", "警告")}


@dataclass(frozen=True)
class _Entry:
    """One thing an alert reports: its dedup key, finding id (if any), owner and fields."""

    key: str
    finding_id: str | None
    owner: str | None
    values: Mapping[str, Any]


def plan_alerts(
    engine: sa.Engine,
    *,
    run_key: str,
    as_of: date,
    routing: AlertRouting,
    rule_titles: Mapping[str, tuple[str, str]],
    remediation: Mapping[str, tuple[str, str]],
    report_link: str | None,
) -> list[Digest]:
    """Plan every alert of a run from the warehouse (after the run was loaded).

    Args:
        engine: the warehouse engine.
        run_key: the run key.
        as_of: the run's as-of date.
        routing: the alert routing.
        rule_titles: rule code -> (English title, Japanese title).
        remediation: rule code -> (English remediation, Japanese remediation).
        report_link: a link to the run's report, or None.

    Returns:
        The digests in :data:`KINDS` order, then by recipient and channel.

    Raises:
        AlertError: reading the warehouse failed.
    """
    claimed = _claimed_keys(engine, run_key)
    label = as_of.isoformat()
    context = _Context(rule_titles, remediation, label, report_link)
    new = _findings(engine, "new", run_key, as_of)
    plan: list[tuple[str, list[_Entry], bool]] = [
        (CRITICAL, [e for e in new if e.values["severity"] == "critical"], False),
        (ESCALATION, _findings(engine, "escalation", run_key, as_of, routing), True),
        (WARNING_DIGEST, [e for e in new if e.values["severity"] == "warning"], False),
        (EXPIRY_REMINDER, _reminders(engine, run_key, as_of, routing), False),
        (RESOLVED, _findings(engine, "resolved", run_key, as_of), False),
    ]
    digests: list[Digest] = []
    for kind, entries, to_escalation in plan:
        by_route: dict[str, tuple[OwnerRoute, list[_Entry]]] = {}
        for entry in entries:
            route = (
                routing.contact(routing.escalation_contact)
                if to_escalation
                else routing.route(entry.owner)
            )
            by_route.setdefault(route.address, (route, []))[1].append(entry)
        for address in sorted(by_route):
            route, owned = by_route[address]
            for channel in route.channels:
                fresh = [e for e in owned if e.key not in claimed.get(channel, set())]
                if fresh:
                    digests.append(_render(kind, route, channel, fresh, context))
    log.info(
        "planned %d alerts for %s: %s",
        len(digests),
        run_key,
        {kind: sum(1 for d in digests if d.kind == kind) for kind in KINDS},
    )
    return digests


def reminder_threshold(days_left: int, thresholds: Sequence[int]) -> int | None:
    """The smallest reminder threshold crossed ``days_left`` days before the expiry, or None.

    Args:
        days_left: days from the as-of date to the expiry (0 = expires on the as-of date).
        thresholds: the reminder thresholds in days.

    Returns:
        The smallest threshold ``t`` with ``days_left <= t``; None when none is crossed or the
        period already ended.
    """
    if days_left < 0:
        return None
    crossed = [threshold for threshold in thresholds if days_left <= threshold]
    return min(crossed) if crossed else None


def reminder_key(employee_id: str, expiry: date, threshold: int) -> str:
    """The dedup key of an expiry reminder: once per employee, expiry date and threshold."""
    return f"{employee_id}|{expiry.isoformat()}|{threshold}"


# --- warehouse reads --------------------------------------------------------------------------


def _claimed_keys(engine: sa.Engine, run_key: str) -> dict[str, set[str]]:
    statement = sql_text("warehouse/alert/select_claimed_alert_keys.sql").bindparams(
        sa.bindparam("kinds", expanding=True)
    )
    rows = _read(engine, statement, {"kinds": list(DEDUPLICATED_KINDS), "run_key": run_key})
    claimed: dict[str, set[str]] = {}
    for channel, keys in rows:
        base = str(channel).split(">", 1)[0]
        claimed.setdefault(base, set()).update(k for k in str(keys).split("\n") if k)
    return claimed


def _findings(
    engine: sa.Engine,
    scope: str,
    run_key: str,
    as_of: date,
    routing: AlertRouting | None = None,
) -> list[_Entry]:
    escalate_before = as_of - timedelta(days=routing.escalate_after_days if routing else 0)
    rows = _read(
        engine,
        sql_text("warehouse/alert/select_plan_findings.sql"),
        {"scope": scope, "run_key": run_key, "escalate_before": escalate_before},
    )
    entries: list[_Entry] = []
    for row in rows:
        (finding_id, employee_id, owner, rule_code, severity, due, receipt, first_seen,
         resolved_on, name_masked, card_masked) = row  # fmt: skip
        first = _as_date(first_seen)
        resolved = _as_date(resolved_on)
        key = str(finding_id)
        if scope == "resolved":
            key = f"{finding_id}@{resolved.isoformat() if resolved else ''}"
        entries.append(
            _Entry(
                key=key,
                finding_id=str(finding_id),
                owner=_text(owner),
                values={
                    "employee_id": _text(employee_id) or "—",
                    "rule_code": _text(rule_code) or "UNKNOWN",
                    "severity": _text(severity) or "info",
                    "due": _as_date(due),
                    "receipt_number": _text(receipt),
                    "first_seen": first,
                    "days_open": (as_of - first).days if first else None,
                    "resolved_on": resolved,
                    "owner": _text(owner),
                    "name_masked": _text(name_masked),
                    "card_masked": _text(card_masked),
                },
            )
        )
    return entries


def _reminders(engine: sa.Engine, run_key: str, as_of: date, routing: AlertRouting) -> list[_Entry]:
    if not routing.reminder_days:
        return []
    horizon = as_of + timedelta(days=max(routing.reminder_days))
    rows = _read(
        engine,
        sql_text("warehouse/alert/select_plan_expiries.sql"),
        {"run_key": run_key, "as_of": as_of, "horizon": horizon},
    )
    entries: list[_Entry] = []
    for employee_id, owner, expiry_value, status, name_masked, card_masked in rows:
        expiry = _as_date(expiry_value)
        if expiry is None:
            continue
        days_left = (expiry - as_of).days
        threshold = reminder_threshold(days_left, routing.reminder_days)
        if threshold is None:
            continue
        entries.append(
            _Entry(
                key=reminder_key(str(employee_id), expiry, threshold),
                finding_id=None,
                owner=_text(owner),
                values={
                    "employee_id": str(employee_id),
                    "expiry": expiry,
                    "days_left": days_left,
                    "threshold": threshold,
                    "residence_status": _text(status),
                    "name_masked": _text(name_masked),
                    "card_masked": _text(card_masked),
                },
            )
        )
    return entries


def _read(engine: sa.Engine, statement: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(statement, dict(params)).all()]
    except sa.exc.SQLAlchemyError as exc:
        original = getattr(exc, "orig", None) or exc
        raise AlertError(f"planning alerts failed: {type(original).__name__}") from exc


# --- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    rule_titles: Mapping[str, tuple[str, str]]
    remediation: Mapping[str, tuple[str, str]]
    run_label: str
    report_link: str | None


def _render(
    kind: str, route: OwnerRoute, channel: str, entries: list[_Entry], context: _Context
) -> Digest:
    entries = sorted(entries, key=_entry_order)
    languages = ("en", "ja") if route.language == "en" else ("ja", "en")
    count = len(entries)
    plural = "" if count == 1 else "s"
    phrases = [_KIND_TEXT[kind][lang][0].format(n=count, s=plural) for lang in languages]
    topics = " ".join(_TOPIC[lang] for lang in languages[:1])
    subject = redact_card_numbers(
        f"[zairyu-sync] {' / '.join(phrases)} — {topics} {context.run_label}"
    )
    sections = [
        {
            "lang": lang,
            "language_name": _LANGUAGE_NAME[lang],
            "intro": f"{_KIND_TEXT[kind][lang][1]} ({_as_of_label(lang, context.run_label)})",
            "headline": _KIND_TEXT[kind][lang][0].format(n=count, s=plural),
            "items": [_item(kind, lang, entry, context) for entry in entries],
            "report_label": _LABELS[lang]["report"],
            "footer": _LABELS[lang]["footer"],
        }
        for lang in languages
    ]
    link = (context.report_link or "").strip() or None
    template_context = {
        "subject": subject,
        "kind": kind,
        "sections": sections,
        "report_link": link,
        "report_href": link if link and link.lower().startswith(("https://", "http://")) else None,
    }
    text_body = _ENV_TEXT.get_template("alert_message.txt.j2").render(template_context)
    html_body = _ENV_HTML.get_template("alert_message.html.j2").render(template_context)
    first_items: list[dict[str, Any]] = [
        _item(kind, languages[0], entry, context) for entry in entries
    ]
    items = tuple(
        {"heading": item["heading"], **{label: value for label, value in item["lines"]}}
        for item in first_items
    )
    return Digest(
        recipient=route.address,
        subject=subject,
        text_body=redact_card_numbers(text_body),
        html_body=redact_card_numbers(html_body),
        finding_ids=tuple(e.finding_id for e in entries if e.finding_id),
        kind=kind,
        channel=channel,
        alert_keys=tuple(sorted(e.key for e in entries)),
        target=route.slack_conn_id if channel == "slack" else None,
        items=items,
    )


def _as_of_label(lang: str, run_label: str) -> str:
    return f"基準日 {run_label}" if lang == "ja" else f"as of {run_label}"


def _item(kind: str, lang: str, entry: _Entry, context: _Context) -> dict[str, Any]:
    labels = _LABELS[lang]
    values = entry.values
    index = 1 if lang == "ja" else 0
    lines: list[tuple[str, str]] = [(labels["employee"], values["employee_id"])]
    lines.append((labels["name"], values["name_masked"] or "—"))
    if values.get("card_masked"):
        lines.append((labels["card"], values["card_masked"]))
    if kind == EXPIRY_REMINDER:
        heading = labels["reminder_heading"]
        lines += [
            (labels["expiry"], values["expiry"].isoformat()),
            (labels["days_left"], labels["days"].format(n=values["days_left"])),
            (labels["threshold"], labels["threshold_value"].format(n=values["threshold"])),
        ]
        hint = context.remediation.get(REMINDER_RULE)
    else:
        code = values["rule_code"]
        title = context.rule_titles.get(code, (code, code))[index]
        severity = _SEVERITY.get(values["severity"], (values["severity"],) * 2)[index]
        heading = f"[{severity}] {title}"
        due: date | None = values["due"]
        lines.append((labels["due"], due.isoformat() if due else labels["none"]))
        if values.get("receipt_number"):
            lines.append((labels["receipt"], values["receipt_number"]))
        if kind == ESCALATION:
            first: date | None = values["first_seen"]
            lines += [
                (labels["first_seen"], first.isoformat() if first else labels["none"]),
                (labels["days_open"], labels["days"].format(n=values["days_open"])),
                (labels["owner"], values["owner"] or labels["none"]),
            ]
        if kind == RESOLVED:
            resolved: date | None = values["resolved_on"]
            lines.append((labels["resolved_on"], resolved.isoformat() if resolved else "—"))
        hint = None if kind == RESOLVED else context.remediation.get(code)
    if hint:
        lines.append((labels["remediation"], hint[index].strip()))
    return {
        "heading": redact_card_numbers(heading),
        "lines": [(label, redact_card_numbers(str(value))) for label, value in lines],
    }


def _entry_order(entry: _Entry) -> tuple[date, str, str]:
    values = entry.values
    when = values.get("expiry") or values.get("due") or date.max
    return (when, str(values.get("rule_code", "")), entry.key)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def kind_counts(digests: Iterable[Digest]) -> dict[str, int]:
    """Number of digests per kind (all :data:`KINDS`, zero included)."""
    counts = dict.fromkeys(KINDS, 0)
    for digest in digests:
        counts[digest.kind] = counts.get(digest.kind, 0) + 1
    return counts

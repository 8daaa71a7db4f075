"""The run report: one self-contained HTML page (inline CSS and SVG, no network) per run.

Japanese first with English: headline counts, findings by rule and severity, upcoming period-of-stay
expiries, the trend of open critical findings and the list of open critical findings with what to
do. Only masked data reaches the report: discrepancy details are masked by the rules, names and
birth dates are never passed in, and the whole page passes through
:func:`zairyu_sync.pii.redact_card_numbers` as a safety net.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd
from markupsafe import Markup

from zairyu_sync.canonical import SEVERITIES
from zairyu_sync.charts import Column, Series, StackedBar, column_chart, stacked_bar_chart
from zairyu_sync.pii import redact_card_numbers

if TYPE_CHECKING:
    from zairyu_sync.rules import RuleCatalog

log = logging.getLogger(__name__)

#: Upcoming expiries are charted for this many days after the as-of date.
EXPIRY_HORIZON_DAYS = 120
#: The critical trend shows at most this many most recent runs.
TREND_RUNS = 30

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
SEVERITY_SERIES = (
    Series("critical", "重大 / critical", "#c0362c"),
    Series("warning", "警告 / warning", "#e8912d"),
    Series("info", "情報 / info", "#7b8794"),
)
_ACTIVE_EMPLOYMENT = ("active", "on_leave")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("zairyu_sync", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["redact"] = lambda value: redact_card_numbers("" if value is None else str(value))


@dataclass(frozen=True)
class CriticalFinding:
    """One row of the open critical list (masked detail only)."""

    employee_id: str
    rule_code: str
    title_ja: str
    title_en: str
    due_date: str
    days_left: int | None
    owner: str
    detail: str
    remediation_ja: str
    remediation_en: str

    @property
    def days_text(self) -> str:
        """Days left or overdue, Japanese then English."""
        if self.days_left is None:
            return "期限なし / no due date"
        if self.days_left < 0:
            return f"{-self.days_left}日超過 / {-self.days_left} days overdue"
        if self.days_left == 0:
            return "本日期限 / due today"
        return f"残り{self.days_left}日 / {self.days_left} days left"


def weekly_expiries(
    employees: pd.DataFrame, *, as_of: date, horizon_days: int = EXPIRY_HORIZON_DAYS
) -> pd.DataFrame:
    """Active employees' period-of-stay expiries in the next ``horizon_days``, per week.

    An employee is active when employed or on leave, hired on or before ``as_of`` and not
    terminated on or before it (as in :mod:`zairyu_sync.reconcile`). Expiries from ``as_of`` to
    ``as_of + horizon_days`` (inclusive) are counted in the week (Monday) they fall in; every week
    of the window is present, with 0 where nothing expires.

    Args:
        employees: the run's valid employees (``employees.parquet``).
        as_of: the run's as-of date.
        horizon_days: length of the window.

    Returns:
        Columns ``week_start`` (date, a Monday) and ``count`` (int).
    """
    end = as_of + timedelta(days=horizon_days)
    first_week = as_of - timedelta(days=as_of.weekday())
    weeks = pd.date_range(first_week, end, freq="W-MON")
    counts = pd.Series(0, index=weeks, dtype="int64")
    needed = {"employment_status", "hire_date", "termination_date", "period_of_stay_expiry"}
    if employees.empty or not needed <= set(employees.columns):
        if not employees.empty:
            log.warning("employees frame lacks %s; no expiries charted", needed - set(employees))
    else:
        day = pd.Timestamp(as_of)
        hire = pd.to_datetime(employees["hire_date"], errors="coerce")
        termination = pd.to_datetime(employees["termination_date"], errors="coerce")
        expiry = pd.to_datetime(employees["period_of_stay_expiry"], errors="coerce")
        active = (
            employees["employment_status"].isin(_ACTIVE_EMPLOYMENT)
            & (hire <= day)
            & ~(termination <= day)
        )
        window = expiry[active & (expiry >= day) & (expiry <= pd.Timestamp(end))]
        week = window - pd.to_timedelta(window.dt.weekday, unit="D")
        counts = counts.add(week.value_counts(), fill_value=0).astype("int64")
    return pd.DataFrame(
        {"week_start": [stamp.date() for stamp in counts.index], "count": counts.to_list()}
    )


def render_report(
    *,
    summary: Mapping[str, Any],
    discrepancies: pd.DataFrame,
    catalog: RuleCatalog,
    upcoming_expiries: pd.DataFrame | None = None,
    critical_trend: pd.DataFrame | None = None,
    undelivered_alerts: pd.DataFrame | None = None,
) -> str:
    """Render the report HTML.

    Args:
        summary: the run summary (``run_key``, ``as_of``, ``counts``, ``findings_new`` /
            ``_open`` / ``_resolved``, ``quarantine_reasons``); missing keys render as 0 / empty.
        discrepancies: the run's findings (``canonical.FINDING_COLUMNS``, masked details).
        catalog: the rule catalog (titles and remediation).
        upcoming_expiries: ``week_start``, ``count`` (see :func:`weekly_expiries`); None or empty
            renders a "no data" state.
        critical_trend: ``as_of_date``, ``open_critical`` per run; None or empty renders a
            "no data" state.
        undelivered_alerts: alerts not (or not surely) delivered (``kind``, ``recipient``,
            ``channel``, ``status``, ``created_at``, ``error``), see
            :func:`zairyu_sync.alert.undelivered_alerts`.

    Returns:
        The HTML page, with every card number redacted.
    """
    as_of = _parse_date(summary.get("as_of"))
    by_rule = _by_rule_and_severity(discrepancies)
    severity_totals = {
        severity: sum(row.get(severity, 0) for row in by_rule.values()) for severity in SEVERITIES
    }
    expiries = _expiry_columns(upcoming_expiries)
    trend = _trend_columns(critical_trend)
    template = _ENV.get_template("report.html.j2")
    html = template.render(
        summary=summary,
        as_of=as_of.isoformat() if as_of else str(summary.get("as_of", "")),
        counts=summary.get("counts", {}),
        findings={
            key: int(summary.get(f"findings_{key}", 0) or 0)
            for key in ("total", "new", "open", "resolved", "reopened")
        },
        severity_totals=severity_totals,
        severity_series=SEVERITY_SERIES,
        rule_rows=_rule_rows(by_rule, catalog),
        rule_chart=_rule_chart(by_rule, catalog, severity_totals),
        expiries=expiries,
        expiry_total=sum(column.value for column in expiries),
        expiry_chart=_expiry_chart(expiries),
        horizon_days=EXPIRY_HORIZON_DAYS,
        trend=trend,
        trend_chart=_trend_chart(trend),
        critical_rows=_critical_findings(discrepancies, catalog, as_of),
        quarantine_reasons=_flat_reasons(summary.get("quarantine_reasons", {})),
        undelivered=_undelivered_rows(undelivered_alerts),
    )
    return redact_card_numbers(html)


def _undelivered_rows(frame: pd.DataFrame | None) -> list[dict[str, str]]:
    if frame is None or frame.empty:
        return []
    columns = ("kind", "recipient", "channel", "status", "created_at", "error")
    rows = []
    for record in frame.to_dict("records"):
        rows.append({key: "" if record.get(key) is None else str(record[key]) for key in columns})
    return rows


def write_report(
    path: Path,
    *,
    summary: Mapping[str, Any],
    discrepancies: pd.DataFrame,
    catalog: RuleCatalog,
    upcoming_expiries: pd.DataFrame | None = None,
    critical_trend: pd.DataFrame | None = None,
    undelivered_alerts: pd.DataFrame | None = None,
) -> Path:
    """Render the report and write it atomically (temporary file, then rename)."""
    html = render_report(
        summary=summary,
        discrepancies=discrepancies,
        catalog=catalog,
        upcoming_expiries=upcoming_expiries,
        critical_trend=critical_trend,
        undelivered_alerts=undelivered_alerts,
    )
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


# --- helpers -------------------------------------------------------------------------------------


def _parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        log.warning("report: unparseable as-of date; days left are not shown")
        return None


def _by_rule_and_severity(discrepancies: pd.DataFrame) -> dict[str, dict[str, int]]:
    if discrepancies.empty or not {"rule_code", "severity"} <= set(discrepancies.columns):
        return {}
    grouped = discrepancies.groupby(["rule_code", "severity"]).size().reset_index(name="n")
    table: dict[str, dict[str, int]] = {}
    for record in grouped.to_dict("records"):
        table.setdefault(str(record["rule_code"]), {})[str(record["severity"])] = int(record["n"])
    return table


def _titles(catalog: RuleCatalog, code: str) -> tuple[str, str]:
    """(Japanese, English) title of a rule; the code itself for an unknown rule."""
    english, japanese = catalog.titles().get(code, (code, code))
    return japanese, english


def _ordered_codes(by_rule: Mapping[str, Mapping[str, int]], catalog: RuleCatalog) -> list[str]:
    """Most critical first, then most findings, then catalog order."""
    position = {code: index for index, code in enumerate(catalog.codes)}
    return sorted(
        by_rule,
        key=lambda code: (
            -by_rule[code].get("critical", 0),
            -sum(by_rule[code].values()),
            position.get(code, len(position)),
            code,
        ),
    )


def _rule_rows(
    by_rule: Mapping[str, Mapping[str, int]], catalog: RuleCatalog
) -> list[dict[str, Any]]:
    rows = []
    for code in _ordered_codes(by_rule, catalog):
        title_ja, title_en = _titles(catalog, code)
        counts = {severity: int(by_rule[code].get(severity, 0)) for severity in SEVERITIES}
        rows.append(
            {
                "code": code,
                "title_ja": title_ja,
                "title_en": title_en,
                **counts,
                "total": sum(counts.values()),
            }
        )
    return rows


def _rule_chart(
    by_rule: Mapping[str, Mapping[str, int]],
    catalog: RuleCatalog,
    severity_totals: Mapping[str, int],
) -> Markup | None:
    if not by_rule:
        return None
    bars = []
    for code in _ordered_codes(by_rule, catalog):
        title_ja, title_en = _titles(catalog, code)
        bars.append(StackedBar(title_ja, title_en, dict(by_rule[code])))
    total = sum(severity_totals.values())
    return stacked_bar_chart(
        bars,
        SEVERITY_SERIES,
        chart_id="chart-findings-by-rule",
        title="ルール別・重要度別の指摘件数 / Findings by rule and severity",
        description=(
            f"{total} findings in {len(bars)} rules: {severity_totals.get('critical', 0)} "
            f"critical, {severity_totals.get('warning', 0)} warning, "
            f"{severity_totals.get('info', 0)} info."
        ),
    )


def _expiry_columns(frame: pd.DataFrame | None) -> list[Column]:
    if frame is None or frame.empty:
        return []
    if not {"week_start", "count"} <= set(frame.columns):
        log.warning("upcoming expiries lack week_start/count; shown as no data")
        return []
    ordered = frame.assign(_week=pd.to_datetime(frame["week_start"])).sort_values("_week")
    columns = []
    for week, count in zip(ordered["_week"], ordered["count"], strict=True):
        value = 0 if pd.isna(count) else int(count)
        columns.append(
            Column(
                label=f"{week.month}/{week.day}",
                value=value,
                tooltip=f"{week.date().isoformat()} の週 / week of {week.date().isoformat()}: "
                f"{value}",
                full_label=week.date().isoformat(),
            )
        )
    return columns


def _expiry_chart(columns: list[Column]) -> Markup | None:
    if not columns:
        return None
    total = sum(column.value for column in columns)
    return column_chart(
        columns,
        chart_id="chart-upcoming-expiries",
        title="今後の在留期間満了（週別）/ Upcoming period-of-stay expiries per week",
        description=(
            f"{total} active employees' periods of stay expire in the next "
            f"{EXPIRY_HORIZON_DAYS} days, over {len(columns)} weeks."
        ),
        colour="#2f6fb0",
    )


def _trend_columns(frame: pd.DataFrame | None) -> list[Column]:
    if frame is None or frame.empty:
        return []
    if not {"as_of_date", "open_critical"} <= set(frame.columns):
        log.warning("critical trend lacks as_of_date/open_critical; shown as no data")
        return []
    ordered = (
        frame.assign(_day=pd.to_datetime(frame["as_of_date"]))
        .dropna(subset=["_day"])
        .sort_values("_day")
        .tail(TREND_RUNS)
    )
    columns = []
    for day, count in zip(ordered["_day"], ordered["open_critical"], strict=True):
        value = 0 if pd.isna(count) else int(count)
        iso = day.date().isoformat()
        columns.append(
            Column(
                label=f"{day.month}/{day.day}",
                value=value,
                tooltip=f"{iso}: {value}",
                full_label=iso,
            )
        )
    return columns


def _trend_chart(columns: list[Column]) -> Markup | None:
    if not columns:
        return None
    latest = columns[-1].value
    return column_chart(
        columns,
        chart_id="chart-critical-trend",
        title="未解決の重大指摘の推移 / Open critical findings over the last runs",
        description=f"{len(columns)} runs; the latest has {latest} open critical findings.",
        colour="#c0362c",
        height=200,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _critical_findings(
    discrepancies: pd.DataFrame, catalog: RuleCatalog, as_of: date | None
) -> list[CriticalFinding]:
    if discrepancies.empty or "severity" not in discrepancies.columns:
        return []
    critical = discrepancies[discrepancies["severity"] == "critical"]
    remediation = {rule.code: (rule.remediation_ja, rule.remediation_en) for rule in catalog.rules}
    rows = []
    for record in critical.to_dict("records"):
        code = _text(record.get("rule_code"))
        title_ja, title_en = _titles(catalog, code)
        due = _parse_date(_text(record.get("due_date")) or None)
        rows.append(
            CriticalFinding(
                employee_id=_text(record.get("employee_id")),
                rule_code=code,
                title_ja=title_ja,
                title_en=title_en,
                due_date=due.isoformat() if due else "",
                days_left=(due - as_of).days if due and as_of else None,
                owner=_text(record.get("compliance_owner")),
                detail=_text(record.get("detail")),
                remediation_ja=remediation.get(code, ("", ""))[0],
                remediation_en=remediation.get(code, ("", ""))[1],
            )
        )
    return sorted(
        rows,
        key=lambda row: (row.due_date == "", row.due_date, row.rule_code, row.employee_id),
    )


def _flat_reasons(reasons: Any) -> list[tuple[str, int]]:
    """Quarantine reason tallies as (code, rows), most frequent first.

    Accepts both ``{code: n}`` (the run summary) and ``{table: {code: n}}`` (validation summary).
    """
    totals: dict[str, int] = {}
    if isinstance(reasons, Mapping):
        for key, value in reasons.items():
            if isinstance(value, Mapping):
                for code, count in value.items():
                    totals[str(code)] = totals.get(str(code), 0) + int(count)
            else:
                totals[str(key)] = totals.get(str(key), 0) + int(value)
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

"""The run report: masking, escaping, counts, the SVG charts, weekly expiries and no-data states."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from zairyu_sync.canonical import FINDING_COLUMNS
from zairyu_sync.charts import (
    Column,
    Series,
    StackedBar,
    column_chart,
    nice_step,
    stacked_bar_chart as stacked,
)
from zairyu_sync.report import TREND_RUNS, render_report, weekly_expiries, write_report
from zairyu_sync.rules import load_catalog

pytestmark = pytest.mark.unit

AS_OF = date(2026, 11, 25)  # a Wednesday
CATALOG = load_catalog()


def finding(
    employee_id: str, rule_code: str, severity: str, due: str | None, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "discrepancy_id": f"{employee_id}-{rule_code}",
        "employee_id": employee_id,
        "organization_id": "TKY01",
        "compliance_owner": "hr-tokyo@example.co.jp",
        "rule_code": rule_code,
        "severity": severity,
        "due_date": pd.Timestamp(due) if due else pd.NaT,
        "receipt_number": None,
        "detail": f"finding for {employee_id}",
    }
    row.update(extra)
    return row


def summary(**extra: Any) -> dict[str, Any]:
    return {
        "run_key": "residence_status_reconciliation/2026-11-25",
        "as_of": AS_OF.isoformat(),
        "counts": {
            "extracted": 166,
            "ignored": 15,
            "quarantined": 6,
            "reconciled": 145,
            "api_calls": 7,
        },
        "findings_new": 4,
        "findings_open": 39,
        "findings_resolved": 2,
        **extra,
    }


def cell(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match is not None, element_id
    return match.group(1)


def test_report_masks_and_escapes() -> None:
    discrepancies = pd.DataFrame(
        [
            finding(
                "E1<script>",
                "STATUS_EXPIRED",
                "critical",
                "2026-11-11",
                detail="card AB12345678CD expired",
            )
        ]
    )
    html = render_report(summary=summary(), discrepancies=discrepancies, catalog=CATALOG)
    assert "AB12345678CD" not in html and "AB******CD" in html
    assert "E1<script>" not in html and "E1&lt;script&gt;" in html
    assert "2026-11-11" in html
    assert CATALOG.titles()["STATUS_EXPIRED"][1] in html


def test_headline_counts() -> None:
    discrepancies = pd.DataFrame(
        [
            finding("E1", "STATUS_EXPIRED", "critical", "2026-11-20"),
            finding("E2", "WORK_NOT_PERMITTED", "critical", "2026-11-25"),
            finding("E3", "EXPIRY_APPROACHING", "warning", "2027-01-10"),
            finding("", "APPLICATION_UNTRACKED", "info", None),
        ]
    )
    html = render_report(summary=summary(), discrepancies=discrepancies, catalog=CATALOG)
    expected = {
        "count-extracted": "166",
        "count-ignored": "15",
        "count-quarantined": "6",
        "count-reconciled": "145",
        "count-api-calls": "7",
        "count-new": "4",
        "count-open": "39",
        "count-resolved": "2",
        "count-critical": "2",
        "count-warning": "1",
        "count-info": "1",
    }
    assert {key: cell(html, key) for key in expected} == expected


def test_critical_list_is_sorted_by_due_date_with_days_left_and_remediation() -> None:
    discrepancies = pd.DataFrame(
        [
            finding("E-LATER", "WORK_NOT_PERMITTED", "critical", "2026-12-05"),
            finding("E-WARN", "EXPIRY_APPROACHING", "warning", "2026-11-01"),
            finding("E-NODUE", "APPLICATION_DENIED", "critical", None),
            finding("E-OVERDUE", "STATUS_EXPIRED", "critical", "2026-11-13"),
            finding("E-TODAY", "HOURS_LIMIT_EXCEEDED", "critical", "2026-11-25"),
        ]
    )
    html = render_report(summary=summary(), discrepancies=discrepancies, catalog=CATALOG)
    table = html[html.index('id="critical"') : html.index("</table>", html.index('id="critical"'))]
    order = re.findall(r'<span class="emp">([^<]*)</span>', table)
    assert order == ["E-OVERDUE", "E-TODAY", "E-LATER", "E-NODUE"]
    assert "E-WARN" not in table
    assert "12日超過 / 12 days overdue" in table
    assert "本日期限 / due today" in table
    assert "残り10日 / 10 days left" in table
    assert "期限なし / no due date" in table
    assert table.count('<tr class="overdue">') == 1
    rule = CATALOG.get("STATUS_EXPIRED")
    assert rule.remediation_ja in table and rule.title_en in table
    assert rule.remediation_en.replace("'", "&#39;") in table


def test_findings_chart_has_one_bar_segment_per_rule_and_severity() -> None:
    discrepancies = pd.DataFrame(
        [
            finding("E1", "EXPIRY_APPROACHING", "critical", "2026-11-30"),
            finding("E2", "EXPIRY_APPROACHING", "warning", "2027-01-30"),
            finding("E3", "EXPIRY_APPROACHING", "warning", "2027-02-01"),
            finding("E4", "DATA_QUALITY", "warning", "2026-11-25"),
        ]
    )
    html = render_report(summary=summary(), discrepancies=discrepancies, catalog=CATALOG)
    chart = html[html.index('<svg id="chart-findings-by-rule"') : html.index("</svg>")]
    segments = re.findall(r'class="bar bar-(\w+)" data-value="(\d+)"', chart)
    assert segments == [("critical", "1"), ("warning", "2"), ("warning", "1")]
    title_en, title_ja = CATALOG.titles()["EXPIRY_APPROACHING"]
    assert title_ja in chart and title_en in chart
    assert 'role="img"' in chart and 'aria-labelledby="chart-findings-by-rule-title' in chart
    assert "4 findings in 2 rules: 1 critical, 3 warning, 0 info." in chart


def test_no_data_states_render_without_charts() -> None:
    empty = pd.DataFrame(columns=["rule_code", "severity"])
    html = render_report(summary={}, discrepancies=empty, catalog=CATALOG)
    for element in ("by-rule-none", "expiries-none", "trend-none", "critical-none"):
        assert f'id="{element}"' in html
    assert "<svg" not in html
    assert cell(html, "count-extracted") == "0" and cell(html, "count-critical") == "0"


def test_frames_without_the_expected_columns_render_as_no_data() -> None:
    html = render_report(
        summary=summary(),
        discrepancies=pd.DataFrame(),
        catalog=CATALOG,
        upcoming_expiries=pd.DataFrame({"week": [AS_OF], "n": [3]}),
        critical_trend=pd.DataFrame({"day": [AS_OF], "critical": [3]}),
    )
    assert 'id="expiries-none"' in html and 'id="trend-none"' in html
    assert "<svg" not in html


def test_expiry_and_trend_charts() -> None:
    expiries = pd.DataFrame(
        {"week_start": [date(2026, 11, 30), date(2026, 11, 23)], "count": [4, 0]}
    )
    days = [AS_OF - timedelta(days=n) for n in range(TREND_RUNS + 5)]
    trend = pd.DataFrame({"as_of_date": days, "open_critical": range(len(days))})
    html = render_report(
        summary=summary(),
        discrepancies=pd.DataFrame(),
        catalog=CATALOG,
        upcoming_expiries=expiries,
        critical_trend=trend,
    )
    expiry_chart = html[html.index('<svg id="chart-upcoming-expiries"') :]
    expiry_chart = expiry_chart[: expiry_chart.index("</svg>")]
    assert re.findall(r'class="bar" data-value="(\d+)"', expiry_chart) == ["4"]
    assert ">11/23<" in expiry_chart and ">11/30<" in expiry_chart
    assert expiry_chart.index(">11/23<") < expiry_chart.index(">11/30<")
    trend_chart = html[html.index('<svg id="chart-critical-trend"') :]
    trend_chart = trend_chart[: trend_chart.index("</svg>")]
    values = [int(v) for v in re.findall(r'class="bar" data-value="(\d+)"', trend_chart)]
    assert values == list(range(TREND_RUNS - 1, 0, -1))  # oldest first; the 0 bar is not drawn
    assert f"{TREND_RUNS} runs; the latest has 0 open critical findings." in trend_chart


def test_weekly_expiries_counts_active_employees_per_monday() -> None:
    def employee(expiry: str | None, status: str = "active", **dates: str) -> dict[str, Any]:
        return {
            "employment_status": status,
            "hire_date": pd.Timestamp(dates.get("hire", "2024-04-01")),
            "termination_date": pd.Timestamp(dates["terminated"])
            if "terminated" in dates
            else pd.NaT,
            "period_of_stay_expiry": pd.Timestamp(expiry) if expiry else pd.NaT,
        }

    employees = pd.DataFrame(
        [
            employee("2026-11-25"),  # as-of day: counted, week of 11-23
            employee("2026-11-29"),  # Sunday: same week
            employee("2026-11-30", status="on_leave"),  # Monday: next week
            employee("2027-03-25"),  # as_of + 120: counted
            employee("2027-03-26"),  # as_of + 121: outside
            employee("2026-11-24"),  # already expired: not upcoming
            employee("2026-12-01", status="terminated", terminated="2026-10-31"),
            employee("2026-12-01", terminated="2026-11-20"),
            employee("2026-12-01", hire="2026-12-01"),  # not hired yet
            employee(None),  # no fixed period
        ]
    )
    weeks = weekly_expiries(employees, as_of=AS_OF)
    assert list(weeks.columns) == ["week_start", "count"]
    assert weeks["week_start"].iloc[0] == date(2026, 11, 23)
    assert weeks["week_start"].iloc[-1] == date(2027, 3, 22)
    assert len(weeks) == 18 and all(day.weekday() == 0 for day in weeks["week_start"])
    counts = dict(zip(weeks["week_start"], weeks["count"], strict=True))
    assert counts[date(2026, 11, 23)] == 2
    assert counts[date(2026, 11, 30)] == 1
    assert counts[date(2027, 3, 22)] == 1
    assert int(weeks["count"].sum()) == 4


def test_weekly_expiries_of_no_employees_is_all_zero_weeks() -> None:
    weeks = weekly_expiries(pd.DataFrame(), as_of=AS_OF, horizon_days=13)
    assert weeks["week_start"].tolist() == [
        date(2026, 11, 23),
        date(2026, 11, 30),
        date(2026, 12, 7),
    ]
    assert weeks["count"].tolist() == [0, 0, 0]


def test_report_is_self_contained_and_accessible() -> None:
    discrepancies = pd.DataFrame([finding("E1", "STATUS_EXPIRED", "critical", "2026-11-11")])
    expiries = pd.DataFrame({"week_start": [date(2026, 11, 30)], "count": [2]})
    trend = pd.DataFrame({"as_of_date": [AS_OF], "open_critical": [1]})
    html = render_report(
        summary=summary(
            quarantine_reasons={"employees": {"EXPIRY_MISSING": 2}, "applications": {}}
        ),
        discrepancies=discrepancies,
        catalog=CATALOG,
        upcoming_expiries=expiries,
        critical_trend=trend,
    )
    assert html.startswith("<!doctype html>") and '<html lang="ja">' in html
    assert "<title>在留資格照合レポート 2026-11-25" in html
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//|<link|@import|url\(""", html)
    assert html.count('<svg id="chart-') == 3 and html.count('role="img"') == 3
    for table in ("by-rule", "expiries", "trend", "quarantine"):
        assert f'<table id="{table}"' in html
    assert re.search(r"<code>EXPIRY_MISSING</code></td><td class=\"num\">2<", html)
    assert "@media print" in html
    assert "names and birth dates are never shown" in html


def test_write_report_is_atomic(tmp_path: Path) -> None:
    discrepancies = pd.DataFrame([finding("E1", "STATUS_EXPIRED", "critical", "2026-11-11")])
    target = tmp_path / "report.html"
    assert (
        write_report(target, summary=summary(), discrepancies=discrepancies, catalog=CATALOG)
        == target
    )
    assert target.read_text(encoding="utf-8") == render_report(
        summary=summary(), discrepancies=discrepancies, catalog=CATALOG
    )
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


@pytest.mark.parametrize(
    ("maximum", "step"), [(0, 1), (3, 1), (5, 1), (7, 2), (16, 5), (40, 10), (230, 50)]
)
def test_nice_step(maximum: int, step: int) -> None:
    assert nice_step(maximum) == step


def test_charts_escape_labels_and_scale_bars() -> None:
    bars = [
        StackedBar("<b>規則</b>", "rule & co", {"a": 2, "b": 2}),
        StackedBar("x", "y", {"a": 1}),
    ]
    svg = stacked(
        bars,
        [Series("a", "A", "#111111"), Series("b", "B", "#222222")],
        chart_id="c",
        title="T",
        description="D",
    )
    assert "<b>" not in svg and "&lt;b&gt;規則&lt;/b&gt;" in svg and "rule &amp; co" in svg
    widths = [
        float(w)
        for w in re.findall(
            r'class="bar bar-\w+" data-value="\d+" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg
        )
    ]
    assert widths == pytest.approx([widths[0], widths[0], widths[0] / 2])
    columns = column_chart(
        [Column("1/1", 3, "t"), Column("1/8", 0, "t")],
        chart_id="k",
        title="T",
        description="D",
        colour="#333333",
    )
    assert columns.count('class="bar"') == 1 and ">1/8<" in columns


def test_undelivered_alerts_are_listed_for_follow_up() -> None:
    empty = pd.DataFrame(columns=list(FINDING_COLUMNS))
    delivered = render_report(summary=summary(), discrepancies=empty, catalog=CATALOG)
    assert 'id="undelivered-none"' in delivered and 'id="undelivered"' not in delivered

    undelivered = pd.DataFrame(
        [
            {
                "alert_id": "a1",
                "kind": "critical",
                "recipient": "hr-tokyo@example.co.jp",
                "channel": "email",
                "status": "uncertain",
                "created_at": "2026-11-25 09:00:00",
                "error": "interrupted while sending AB12345678CD",
            }
        ]
    )
    html = render_report(
        summary=summary(), discrepancies=empty, catalog=CATALOG, undelivered_alerts=undelivered
    )
    table = html[html.index('id="undelivered"') :]
    assert "hr-tokyo@example.co.jp" in table and "uncertain" in table
    assert "AB12345678CD" not in html and "AB******CD" in table

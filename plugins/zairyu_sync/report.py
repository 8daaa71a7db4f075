"""The run report: a self-contained HTML page with the run's counts and its critical findings.

Only masked data reaches the report: discrepancy details are masked by the rules, and every rendered
string passes through :func:`zairyu_sync.pii.redact_card_numbers` as a safety net.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from zairyu_sync.pii import redact_card_numbers

if TYPE_CHECKING:
    from zairyu_sync.rules import RuleCatalog

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("zairyu_sync", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["redact"] = lambda value: redact_card_numbers("" if value is None else str(value))


def _finding_rows(discrepancies: pd.DataFrame, catalog: RuleCatalog) -> list[dict[str, str]]:
    titles = catalog.titles()
    frame = discrepancies.copy()
    frame["_order"] = frame["severity"].map(_SEVERITY_ORDER).fillna(9)
    frame = frame.sort_values(
        ["_order", "due_date", "rule_code", "employee_id"], na_position="last"
    )
    rows = []
    for record in frame.to_dict("records"):
        due = record.get("due_date")
        title_en, title_ja = titles.get(str(record["rule_code"]), (str(record["rule_code"]), ""))
        rows.append(
            {
                "severity": str(record["severity"]),
                "rule_code": str(record["rule_code"]),
                "title_en": title_en,
                "title_ja": title_ja,
                "employee_id": ""
                if record.get("employee_id") is None
                else str(record["employee_id"]),
                "owner": ""
                if record.get("compliance_owner") is None
                else str(record["compliance_owner"]),
                "due_date": "" if due is None or pd.isna(due) else str(pd.Timestamp(due).date()),
                "detail": str(record.get("detail") or ""),
            }
        )
    return rows


def render_report(
    *, summary: Mapping[str, Any], discrepancies: pd.DataFrame, catalog: RuleCatalog
) -> str:
    """Render the report HTML for a run summary and its discrepancies."""
    rows = _finding_rows(discrepancies, catalog) if not discrepancies.empty else []
    severity_totals = {
        severity: sum(1 for row in rows if row["severity"] == severity)
        for severity in ("critical", "warning", "info")
    }
    template = _ENV.get_template("report.html.j2")
    html = template.render(
        summary=summary,
        counts=summary.get("counts", {}),
        by_rule=summary.get("by_rule", {}),
        quarantine_reasons=summary.get("quarantine_reasons", {}),
        severity_totals=severity_totals,
        critical_rows=[row for row in rows if row["severity"] == "critical"],
        titles=catalog.titles(),
    )
    return redact_card_numbers(html)


def write_report(
    path: Path, *, summary: Mapping[str, Any], discrepancies: pd.DataFrame, catalog: RuleCatalog
) -> Path:
    """Render and write the report atomically."""
    html = render_report(summary=summary, discrepancies=discrepancies, catalog=catalog)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path

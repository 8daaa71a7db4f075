"""The reconciliation pipeline as a sequence of stage functions over a run directory.

Each function takes the run's :class:`~zairyu_sync.runs.RunContext` plus the resources it needs
(an engine, an API source, a mail transport), reads its inputs from the run directory, writes its
outputs there and returns a small JSON-safe summary (counts and paths, never PII). The Airflow DAG
calls these from thin tasks; tests and the CLI call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from zairyu_sync import __version__
from zairyu_sync.alert import MailTransport, alert_statuses, send_digests, undelivered_alerts
from zairyu_sync.alert_plan import kind_counts, plan_alerts
from zairyu_sync.config import PolicySettings
from zairyu_sync.errors import AlertError, ValidationError
from zairyu_sync.extract import ErpSnapshot, extract_snapshot
from zairyu_sync.immigration import ImmigrationStatusSource, fetch_isa_applications
from zairyu_sync.load import (
    RunRecord,
    apply_migrations,
    load_reference_data,
    load_run,
    open_critical_trend,
)
from zairyu_sync.reconcile import reconcile
from zairyu_sync.report import weekly_expiries, write_report
from zairyu_sync.routing import AlertRouting, routing_from_airflow
from zairyu_sync.rules import load_catalog
from zairyu_sync.runs import RunContext, read_frame, write_frame, write_json
from zairyu_sync.statuses import load_statuses
from zairyu_sync.validate import validate_snapshot

log = logging.getLogger(__name__)


def run_extract(ctx: RunContext, erp_engine: sa.Engine, policy: PolicySettings) -> dict[str, Any]:
    """Extract the canonical tables from the ERP into the run directory."""
    snapshot = extract_snapshot(
        erp_engine, as_of=ctx.as_of, timesheet_lookback_days=policy.hours_lookback_days
    )
    write_frame(snapshot.employees, ctx.path("employees_raw"))
    write_frame(snapshot.applications, ctx.path("applications_raw"))
    write_frame(snapshot.timesheets, ctx.path("timesheets_raw"))
    counts = {
        "employees": len(snapshot.employees),
        "applications": len(snapshot.applications),
        "timesheets": len(snapshot.timesheets),
    }
    log.info("extracted %s for %s", counts, ctx.run_key)
    return {"run_key": ctx.run_key, "extracted": counts}


def _read_raw(ctx: RunContext) -> ErpSnapshot:
    return ErpSnapshot(
        employees=read_frame(ctx.path("employees_raw")),
        applications=read_frame(ctx.path("applications_raw")),
        timesheets=read_frame(ctx.path("timesheets_raw")),
    )


def run_validate(ctx: RunContext) -> dict[str, Any]:
    """Validate the raw extract; valid rows and the quarantine go to the run directory."""
    raw = _read_raw(ctx)
    outcome = validate_snapshot(raw.employees, raw.applications, raw.timesheets, as_of=ctx.as_of)
    write_frame(outcome.employees, ctx.path("employees"))
    write_frame(outcome.applications, ctx.path("applications"))
    write_frame(outcome.timesheets, ctx.path("timesheets"))
    write_frame(outcome.quarantine, ctx.path("quarantine"))
    summary = outcome.summary()
    log.info("validated %s", summary.get("counts"))
    return {"run_key": ctx.run_key, **summary}


def _erp_receipt_numbers(ctx: RunContext) -> list[str]:
    """Every receipt number of the raw ERP extract, trimmed, including rows validation set aside."""
    applications = read_frame(ctx.path("applications_raw"))
    values = (str(value).strip() for value in applications["receipt_number"].dropna())
    return sorted({value for value in values if value})


def run_isa_sync(ctx: RunContext, source: ImmigrationStatusSource) -> dict[str, Any]:
    """Fetch the ISA statuses of the organization and of every ERP receipt number."""
    isa = fetch_isa_applications(source, _erp_receipt_numbers(ctx))
    api_calls = int(isa.attrs.get("api_calls", 0))
    isa.attrs = {}
    write_frame(isa, ctx.path("isa_applications"))
    log.info("fetched %d ISA applications with %d API calls", len(isa), api_calls)
    return {"run_key": ctx.run_key, "isa_applications": len(isa), "api_calls": api_calls}


def run_reconcile(ctx: RunContext, policy: PolicySettings) -> dict[str, Any]:
    """Evaluate the rule catalog as of the run's date."""
    result = reconcile(
        read_frame(ctx.path("employees")),
        read_frame(ctx.path("applications")),
        read_frame(ctx.path("isa_applications")),
        read_frame(ctx.path("quarantine")),
        as_of=ctx.as_of,
        policy=policy,
        timesheets=read_frame(ctx.path("timesheets")),
        erp_receipt_numbers=_erp_receipt_numbers(ctx),
    )
    write_frame(result.discrepancies, ctx.path("discrepancies"))
    by_rule = result.counts_by_rule_and_severity()
    log.info("reconciled: %d findings", len(result.discrepancies))
    return {"run_key": ctx.run_key, "findings": len(result.discrepancies), "by_rule": by_rule}


def run_load(
    ctx: RunContext,
    warehouse: sa.Engine,
    *,
    started_at: datetime,
    validated: Mapping[str, Any],
    isa: Mapping[str, Any],
) -> dict[str, Any]:
    """Load the run into the warehouse in one transaction.

    The run row, discrepancies (with their lifecycle events) and quarantine, the snapshot of the
    run's valid employees and the ISA application statuses it saw.
    """
    apply_migrations(warehouse)
    catalog = load_catalog()
    load_reference_data(warehouse, catalog, load_statuses())
    discrepancies = read_frame(ctx.path("discrepancies"))
    quarantine = read_frame(ctx.path("quarantine"))
    employees = read_frame(ctx.path("employees"))
    isa_applications = read_frame(ctx.path("isa_applications"))
    counts = _run_counts(validated, isa, reconciled=len(employees))
    record = RunRecord(
        run_key=ctx.run_key,
        dag_run_id=ctx.dag_run_id,
        logical_date=ctx.logical_date,
        as_of=ctx.as_of,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        status="success",
        counts=counts,
        code_version=__version__,
        rule_catalog_version=catalog.version,
    )
    result = load_run(
        warehouse,
        record,
        discrepancies,
        quarantine,
        employees=employees,
        isa_applications=isa_applications,
    )
    summary = {
        "run_key": ctx.run_key,
        "counts": counts,
        "findings_total": len(discrepancies),
        "findings_new": len(result.new_ids),
        "findings_open": result.still_open_count,
        "findings_resolved": len(result.resolved_ids),
        "findings_reopened": len(result.reopened_ids),
        "findings_escalated": len(result.escalated_ids),
    }
    log.info("loaded %s", summary)
    return summary


def _run_counts(
    validated: Mapping[str, Any], isa: Mapping[str, Any], *, reconciled: int
) -> dict[str, int]:
    employees = validated["counts"]["employees"]
    counts = {
        "extracted": int(employees["extracted"]),
        "ignored": int(employees["ignored"]),
        "quarantined": int(employees["quarantined"]),
        "valid": int(employees["valid"]),
        "reconciled": int(reconciled),
        "api_calls": int(isa.get("api_calls", 0)),
    }
    if counts["extracted"] != counts["valid"] + counts["quarantined"] + counts["ignored"]:
        raise ValidationError(f"employee counts do not add up: {counts}")
    if counts["reconciled"] != counts["valid"]:
        raise ValidationError(f"reconciled {counts['reconciled']} of {counts['valid']} valid rows")
    return counts


def run_report(ctx: RunContext, warehouse: sa.Engine, loaded: Mapping[str, Any]) -> dict[str, Any]:
    """Write the run's summary JSON and HTML report (masked PII only)."""
    discrepancies = read_frame(ctx.path("discrepancies"))
    quarantine = read_frame(ctx.path("quarantine"))
    catalog = load_catalog()
    summary = {
        "run_key": ctx.run_key,
        "as_of": ctx.as_of.isoformat(),
        **{key: value for key, value in loaded.items() if key != "run_key"},
        "by_rule": _by_rule(discrepancies),
        "quarantine_reasons": _quarantine_reasons(quarantine),
    }
    write_json(summary, ctx.path("summary"))
    expiries = weekly_expiries(read_frame(ctx.path("employees")), as_of=ctx.as_of)
    trend = open_critical_trend(warehouse)
    write_report(
        ctx.path("report"),
        summary=summary,
        discrepancies=discrepancies,
        catalog=catalog,
        upcoming_expiries=expiries,
        critical_trend=trend,
        undelivered_alerts=undelivered_alerts(warehouse),
    )
    return {
        "run_key": ctx.run_key,
        "summary": str(ctx.path("summary")),
        "report": str(ctx.path("report")),
    }


def _by_rule(discrepancies: pd.DataFrame) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    if discrepancies.empty:
        return table
    grouped = discrepancies.groupby(["rule_code", "severity"]).size().reset_index(name="n")
    for record in grouped.to_dict("records"):
        table.setdefault(str(record["rule_code"]), {})[str(record["severity"])] = int(record["n"])
    return dict(sorted(table.items()))


def _quarantine_reasons(quarantine: pd.DataFrame) -> dict[str, int]:
    if quarantine.empty:
        return {}
    codes = quarantine["reason_codes"].fillna("").str.split(",").explode().str.strip()
    counts = codes[codes != ""].value_counts()
    return {str(code): int(count) for code, count in sorted(counts.items())}


def run_alert(
    ctx: RunContext,
    warehouse: sa.Engine,
    transports: Mapping[str, MailTransport],
    *,
    fallback: MailTransport | None,
    report_link: str | None,
    routing: AlertRouting | None = None,
) -> dict[str, Any]:
    """Plan and deliver the run's alerts (critical, escalation, warnings, reminders, resolved).

    Args:
        ctx: the run context.
        warehouse: the warehouse engine (the run loaded).
        transports: channel name (``email``, ``slack``, or ``slack:<conn id>``) -> transport.
        fallback: the transport for channels without one (e.g. the outbox), or None.
        report_link: a link to the run's report, or None.
        routing: the alert routing; None reads it (Airflow Variable ``zairyu_sync_owners``, else
            ``ZAIRYU_OWNERS_FILE`` or ``config/owners.yaml``).

    Returns:
        A JSON-safe summary without personal data: planned counts per kind, counts per kind and
        status, sent/skipped/failed/uncertain.

    Raises:
        AlertError: at least one alert failed (after trying all), so the task is retried.
    """
    routing = routing or routing_from_airflow()
    catalog = load_catalog()
    remediation = {rule.code: (rule.remediation_en, rule.remediation_ja) for rule in catalog.rules}
    digests = plan_alerts(
        warehouse,
        run_key=ctx.run_key,
        as_of=ctx.as_of,
        routing=routing,
        rule_titles=catalog.titles(),
        remediation=remediation,
        report_link=report_link,
    )
    summary: dict[str, Any] = {"run_key": ctx.run_key, "planned": kind_counts(digests)}
    error: AlertError | None = None
    try:
        result = send_digests(
            warehouse, digests, transports, run_key=ctx.run_key, fallback=fallback
        )
    except AlertError as exc:
        error = exc
        result = None
    statuses = alert_statuses(warehouse, [digest.alert_id for digest in digests])
    by_kind: dict[str, dict[str, int]] = {}
    for digest in digests:
        status = statuses.get(digest.alert_id, "unknown")
        counts = by_kind.setdefault(digest.kind, {})
        counts[status] = counts.get(status, 0) + 1
    summary["by_kind_status"] = by_kind
    if result is not None:
        summary.update(
            sent=result.sent,
            skipped=result.skipped,
            failed=result.failed,
            uncertain=result.uncertain,
        )
    log.info("alerts %s", summary)
    if error is not None:
        raise error
    return summary

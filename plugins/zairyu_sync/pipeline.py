"""The reconciliation pipeline as a sequence of stage functions over a run directory.

Each function takes the run's :class:`~zairyu_sync.runs.RunContext` plus the resources it needs
(an engine, an API source, a mail transport), reads its inputs from the run directory, writes its
outputs there and returns a small JSON-safe summary (counts and paths, never PII). The Airflow DAG
calls these from thin tasks; tests and the CLI call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pandas as pd
import sqlalchemy as sa

from zairyu_sync import __version__
from zairyu_sync.alert import MailTransport, alert_statuses, send_digests, undelivered_alerts
from zairyu_sync.alert_plan import kind_counts, plan_alerts
from zairyu_sync.canonical import APPLICATION_COLUMNS, EMPLOYEE_COLUMNS, QUARANTINE_COLUMNS
from zairyu_sync.config import PolicySettings
from zairyu_sync.errors import AlertError, ValidationError
from zairyu_sync.extract import ErpSnapshot, extract_snapshot
from zairyu_sync.immigration import ImmigrationStatusSource
from zairyu_sync.immigration.sync import sync_isa_applications
from zairyu_sync.load import (
    RunRecord,
    apply_migrations,
    load_reference_data,
    load_run,
    open_critical_trend,
)
from zairyu_sync.reconcile import combine_findings, reconcile
from zairyu_sync.report import weekly_expiries, write_report
from zairyu_sync.routing import AlertRouting, routing_from_airflow
from zairyu_sync.rules import load_catalog
from zairyu_sync.runs import RunContext, frame_rows, read_frame, write_frame, write_json
from zairyu_sync.shards import WHOLE_ROSTER, Shard, plan_shards
from zairyu_sync.statuses import load_statuses
from zairyu_sync.validate import SOURCE_TABLES, validate_snapshot

log = logging.getLogger(__name__)


def run_plan_shards(ctx: RunContext, erp_engine: sa.Engine, shards: int) -> list[dict[str, Any]]:
    """Split the roster into shards (employee-number ranges); JSON-safe, one dict per shard."""
    planned = [shard.to_dict() for shard in plan_shards(erp_engine, shards)]
    write_json({"run_key": ctx.run_key, "shards": planned}, ctx.path("shards"))
    return planned


def run_extract(
    ctx: RunContext,
    erp_engine: sa.Engine,
    policy: PolicySettings,
    shard: Shard | None = None,
) -> dict[str, Any]:
    """Extract the canonical tables from the ERP into the run directory.

    Without ``shard`` the whole roster goes into the run directory; with one, only that shard,
    into the shard's directory (:meth:`RunContext.for_shard`), and :func:`run_index_roster`
    follows once every shard is extracted.
    """
    target = ctx if shard is None else ctx.for_shard(shard.label)
    snapshot = extract_snapshot(
        erp_engine,
        as_of=ctx.as_of,
        timesheet_lookback_days=policy.hours_lookback_days,
        shard=shard or WHOLE_ROSTER,
    )
    write_frame(snapshot.employees, target.path("employees_raw"))
    write_frame(snapshot.applications, target.path("applications_raw"))
    write_frame(snapshot.timesheets, target.path("timesheets_raw"))
    if shard is None:
        receipts = receipt_numbers(snapshot.applications)
        write_frame(pd.DataFrame({"receipt_number": sorted(receipts)}), ctx.path("erp_receipts"))
    counts = {
        "employees": len(snapshot.employees),
        "applications": len(snapshot.applications),
        "timesheets": len(snapshot.timesheets),
    }
    log.info("extracted %s for %s%s", counts, ctx.run_key, _shard_note(shard))
    summary: dict[str, Any] = {"run_key": ctx.run_key, "extracted": counts}
    if shard is not None:
        summary["shard"] = shard.to_dict()
    return summary


def run_index_roster(
    ctx: RunContext, extracted: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Join the shards' extracts into what needs the whole roster.

    Writes the ERP's receipt numbers over all shards (for the ISA sync and the roster rules) and
    those held by more than one shard (quarantined as duplicates by every shard holding them),
    and gives each shard its row offsets so quarantine row numbers are unique across shards.

    Args:
        ctx: the run context.
        extracted: the summaries :func:`run_extract` returned for every shard, in any order.

    Returns:
        Per shard, in shard order: ``{"shard": ..., "row_offsets": {table: rows before it}}``.

    Raises:
        ValidationError: the summaries do not cover every shard of one plan exactly once.
    """
    shards = sorted((Shard.from_dict(item["shard"]) for item in extracted), key=_shard_index)
    count = shards[0].count if shards else 0
    if [shard.index for shard in shards] != list(range(count)) or any(
        shard.count != count for shard in shards
    ):
        raise ValidationError(
            f"shard extracts do not cover one plan: {[shard.label for shard in shards]}"
        )
    by_index = {int(item["shard"]["index"]): item["extracted"] for item in extracted}
    offsets = dict.fromkeys(("employees", "applications", "timesheets"), 0)
    plans: list[dict[str, Any]] = []
    holders: dict[str, int] = {}
    shared: set[str] = set()
    for shard in shards:
        plans.append({"shard": shard.to_dict(), "row_offsets": dict(offsets)})
        for table in offsets:
            offsets[table] += int(by_index[shard.index][table])
        raw = read_frame(ctx.for_shard(shard.label).path("applications_raw"))
        for receipt in receipt_numbers(raw):
            if holders.setdefault(receipt, shard.index) != shard.index:
                shared.add(receipt)
    write_frame(pd.DataFrame({"receipt_number": sorted(holders)}), ctx.path("erp_receipts"))
    write_frame(pd.DataFrame({"receipt_number": sorted(shared)}), ctx.path("shared_receipts"))
    log.info(
        "indexed %d shards: %s rows, %d ERP receipt numbers, %d held by more than one shard",
        len(shards),
        offsets,
        len(holders),
        len(shared),
    )
    return plans


def _shard_index(shard: Shard) -> int:
    return shard.index


def _shard_note(shard: Shard | None) -> str:
    return "" if shard is None else f" (shard {shard.label})"


def receipt_numbers(applications: pd.DataFrame) -> set[str]:
    """The trimmed, non-blank receipt numbers of a raw applications frame."""
    text = applications["receipt_number"].dropna().astype(str)  # str() of each value, as text
    given = pd.unique(text.to_numpy(dtype=object))
    values = (value.strip() for value in given)  # Python's strip, once per distinct text
    return {value for value in values if value}


def _read_raw(ctx: RunContext) -> ErpSnapshot:
    return ErpSnapshot(
        employees=read_frame(ctx.path("employees_raw")),
        applications=read_frame(ctx.path("applications_raw")),
        timesheets=read_frame(ctx.path("timesheets_raw")),
    )


def run_validate(ctx: RunContext, shard_plan: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate the raw extract; valid rows and the quarantine go to the run directory.

    With ``shard_plan`` (one item of :func:`run_index_roster`) only that shard is validated, in
    its directory, with its row offsets and the receipt numbers other shards also hold.
    """
    target, offsets, shared = ctx, None, frozenset[str]()
    if shard_plan is not None:
        shard = Shard.from_dict(shard_plan["shard"])
        target = ctx.for_shard(shard.label)
        offsets = {table: int(rows) for table, rows in shard_plan["row_offsets"].items()}
        shared = frozenset(read_frame(ctx.path("shared_receipts"))["receipt_number"])
    raw = _read_raw(target)
    outcome = validate_snapshot(
        raw.employees,
        raw.applications,
        raw.timesheets,
        as_of=ctx.as_of,
        row_offsets=offsets,
        receipts_in_other_shards=shared,
    )
    write_frame(outcome.employees, target.path("employees"))
    write_frame(outcome.applications, target.path("applications"))
    write_frame(outcome.timesheets, target.path("timesheets"))
    write_frame(outcome.quarantine, target.path("quarantine"))
    summary = outcome.summary()
    log.info("validated %s%s", summary.get("counts"), _shard_note(_plan_shard(shard_plan)))
    result = {"run_key": ctx.run_key, **summary}
    if shard_plan is not None:
        result["shard"] = dict(shard_plan["shard"])
    return result


def _plan_shard(shard_plan: Mapping[str, Any] | None) -> Shard | None:
    return None if shard_plan is None else Shard.from_dict(shard_plan["shard"])


def _erp_receipt_numbers(ctx: RunContext) -> pd.Series:
    """Every receipt number of the raw ERP extract, trimmed, including rows validation set aside."""
    numbers: pd.Series = read_frame(ctx.path("erp_receipts"))["receipt_number"]
    return numbers


def run_isa_sync(
    ctx: RunContext,
    source: ImmigrationStatusSource,
    shards: Sequence[Shard] | None = None,
) -> dict[str, Any]:
    """Fetch the ISA statuses of the organization and of every ERP receipt number.

    The organization's listing is read incrementally (``updated_since``) against the ISA
    mirror in the pipeline's state directory (:meth:`RunContext.state_dir`), in full when the
    mirror is missing, unusable or due for its periodic full re-listing. With ``shards``, each
    shard also gets the ISA applications of its own receipt numbers
    (:func:`partition_isa_applications`).
    """
    isa, stats = sync_isa_applications(
        source,
        [str(number) for number in _erp_receipt_numbers(ctx)],
        mirror_dir=ctx.state_dir("isa_mirror"),
        now=datetime.now(UTC),
    )
    write_frame(isa, ctx.path("isa_applications"))
    if shards is not None:
        partition_isa_applications(ctx, shards, isa)
    summary = stats.as_dict()
    log.info("ISA sync %s", summary)
    return {
        "run_key": ctx.run_key,
        "isa_applications": len(isa),
        "api_calls": int(summary["api_calls"]),
        "sync": summary,
    }


def partition_isa_applications(
    ctx: RunContext, shards: Sequence[Shard], isa: pd.DataFrame | None = None
) -> None:
    """Write each shard the ISA applications whose receipt number its ERP extract holds.

    The shard rules only join ISA applications on the shard's receipt numbers (the roster rules
    read the whole frame), so a shard need not read and prepare the whole listing.
    """
    isa = read_frame(ctx.path("isa_applications")) if isa is None else isa
    held = [
        receipt_numbers(
            read_frame(ctx.for_shard(shard.label).path("applications_raw"), ["receipt_number"])
        )
        for shard in shards
    ]
    holders = pd.DataFrame(
        {
            "receipt_number": pd.array([r for wanted in held for r in wanted], dtype="string"),
            "shard": np.repeat(np.arange(len(held)), [len(wanted) for wanted in held]),
        }
    )
    listed = pd.DataFrame(
        {
            "receipt_number": isa["receipt_number"].astype("string").str.strip(),
            "row": np.arange(len(isa)),
        }
    ).dropna(subset=["receipt_number"])
    # one hash join for all shards; a receipt number two shards hold goes to both
    matched = listed.merge(holders, on="receipt_number")
    shard_of, row = matched["shard"].to_numpy(), matched["row"].to_numpy()
    order = np.lexsort((row, shard_of))  # by shard, then in the listing's order
    shard_of, row = shard_of[order], row[order]
    bounds = np.searchsorted(shard_of, np.arange(len(shards) + 1))
    for position, shard in enumerate(shards):
        rows = row[bounds[position] : bounds[position + 1]]
        write_frame(
            isa.take(rows).reset_index(drop=True),
            ctx.for_shard(shard.label).path("isa_applications"),
        )


def run_reconcile(
    ctx: RunContext, policy: PolicySettings, shard: Shard | None = None
) -> dict[str, Any]:
    """Evaluate the rule catalog as of the run's date.

    Without ``shard`` every rule runs over the whole roster; with one, the employee rules run
    over that shard (the roster rules follow in :func:`run_reconcile_roster`).
    """
    source = ctx if shard is None else ctx.for_shard(shard.label)
    result = reconcile(
        read_frame(source.path("employees")),
        read_frame(source.path("applications")),
        read_frame(source.path("isa_applications")),
        read_frame(source.path("quarantine")),
        as_of=ctx.as_of,
        policy=policy,
        timesheets=read_frame(source.path("timesheets")),
        erp_receipt_numbers=_erp_receipt_numbers(ctx),
        scope="all" if shard is None else "shard",
    )
    write_frame(result.discrepancies, source.path("discrepancies"))
    by_rule = result.counts_by_rule_and_severity()
    log.info("reconciled: %d findings%s", len(result.discrepancies), _shard_note(shard))
    summary: dict[str, Any] = {
        "run_key": ctx.run_key,
        "findings": len(result.discrepancies),
        "by_rule": by_rule,
    }
    if shard is not None:
        summary["shard"] = shard.to_dict()
    return summary


#: The employee columns the roster rules read: APPLICATION_UNTRACKED matches the applicant's
#: residence card number to an employee and routes the finding to that employee's owner.
_ROSTER_EMPLOYEE_COLUMNS: Final = (
    "employee_id",
    "residence_card_number",
    "organization_id",
    "compliance_owner",
)


def run_reconcile_roster(
    ctx: RunContext, policy: PolicySettings, shards: Sequence[Shard]
) -> dict[str, Any]:
    """Evaluate the roster rules (:data:`~zairyu_sync.reconcile.ROSTER_RULES`) over all shards.

    Only the employee columns those rules read are loaded (the others are left empty), so the
    whole roster's employees cost a few columns of memory, not every column.
    """
    employees = pd.concat(
        [
            read_frame(ctx.for_shard(shard.label).path("employees"), _ROSTER_EMPLOYEE_COLUMNS)
            for shard in shards
        ],
        ignore_index=True,
    )
    unread = {
        column: pd.Series(None, index=employees.index, dtype=object)
        for column in EMPLOYEE_COLUMNS
        if column not in _ROSTER_EMPLOYEE_COLUMNS
    }
    result = reconcile(
        employees.assign(**unread),
        pd.DataFrame({column: pd.Series(dtype=object) for column in APPLICATION_COLUMNS}),
        read_frame(ctx.path("isa_applications")),
        pd.DataFrame({column: pd.Series(dtype=object) for column in QUARANTINE_COLUMNS}),
        as_of=ctx.as_of,
        policy=policy,
        erp_receipt_numbers=_erp_receipt_numbers(ctx),
        scope="roster",
    )
    write_frame(result.discrepancies, ctx.path("roster_discrepancies"))
    log.info("roster rules over %d shards: %d findings", len(shards), len(result.discrepancies))
    return {
        "run_key": ctx.run_key,
        "findings": len(result.discrepancies),
        "by_rule": result.counts_by_rule_and_severity(),
    }


def run_load(
    ctx: RunContext,
    warehouse: sa.Engine,
    *,
    started_at: datetime,
    validated: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    isa: Mapping[str, Any],
    shards: Sequence[Shard] | None = None,
) -> dict[str, Any]:
    """Load the run into the warehouse in one transaction.

    The run row, discrepancies (with their lifecycle events) and quarantine, the snapshot of the
    run's valid employees and the ISA application statuses it saw. With ``shards`` the shards'
    findings, the roster findings and the shards' quarantines are merged (and written to the run
    directory for the report), and the employees are staged one shard at a time.

    Args:
        ctx: the run context.
        warehouse: the warehouse engine.
        started_at: when the run started.
        validated: :func:`run_validate`'s summary, or one per shard.
        isa: :func:`run_isa_sync`'s summary.
        shards: the run's shards; None for a run over the whole roster.
    """
    apply_migrations(warehouse)
    catalog = load_catalog()
    load_reference_data(warehouse, catalog, load_statuses())
    employees: pd.DataFrame | Iterator[pd.DataFrame]
    if shards is None:
        discrepancies = read_frame(ctx.path("discrepancies"))
        quarantine = read_frame(ctx.path("quarantine"))
        employees = read_frame(ctx.path("employees"))
        reconciled = len(employees)
    else:
        parts = [ctx.for_shard(shard.label) for shard in shards]
        discrepancies = combine_findings(
            [read_frame(part.path("discrepancies")) for part in parts]
            + [read_frame(ctx.path("roster_discrepancies"))]
        )
        quarantine = _combine_quarantine([read_frame(part.path("quarantine")) for part in parts])
        write_frame(discrepancies, ctx.path("discrepancies"))
        write_frame(quarantine, ctx.path("quarantine"))
        reconciled = sum(frame_rows(part.path("employees")) for part in parts)
        employees = (read_frame(part.path("employees")) for part in parts)
    isa_applications = read_frame(ctx.path("isa_applications"))
    counts = _run_counts(merge_validation_summaries(validated), isa, reconciled=reconciled)
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
    if shards is not None:
        summary["shards"] = [shard.label for shard in shards]
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


def merge_validation_summaries(
    summaries: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """One validation summary from the shards' summaries (counts and reason tallies added up)."""
    if isinstance(summaries, Mapping):
        return dict(summaries)
    counts: dict[str, dict[str, int]] = {}
    reasons: dict[str, dict[str, int]] = {}
    quarantined = 0
    for summary in summaries:
        for table, numbers in summary["counts"].items():
            into = counts.setdefault(table, {})
            for key, value in numbers.items():
                into[key] = into.get(key, 0) + int(value)
        for table, codes in summary.get("quarantine_reasons", {}).items():
            into = reasons.setdefault(table, {})
            for code, value in codes.items():
                into[code] = into.get(code, 0) + int(value)
        quarantined += int(summary.get("quarantined_rows", 0))
    return {
        "counts": counts,
        "quarantine_reasons": {
            table: dict(sorted(codes.items())) for table, codes in reasons.items()
        },
        "quarantined_rows": quarantined,
    }


def _combine_quarantine(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The shards' quarantines as one, ordered by source table then row number."""
    combined = pd.concat(frames, ignore_index=True)
    order = {table: rank for rank, table in enumerate(SOURCE_TABLES)}
    rank = combined["source_table"].map(order)
    return (
        combined.assign(_rank=rank)
        .sort_values(["_rank", "row_number"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def run_report(ctx: RunContext, warehouse: sa.Engine, loaded: Mapping[str, Any]) -> dict[str, Any]:
    """Write the run's summary JSON and HTML report (masked PII only)."""
    discrepancies = read_frame(ctx.path("discrepancies"))
    quarantine = read_frame(ctx.path("quarantine"))
    catalog = load_catalog()
    summary = {
        "run_key": ctx.run_key,
        "as_of": ctx.as_of.isoformat(),
        **{key: value for key, value in loaded.items() if key not in ("run_key", "shards")},
        "by_rule": _by_rule(discrepancies),
        "quarantine_reasons": _quarantine_reasons(quarantine),
    }
    write_json(summary, ctx.path("summary"))
    expiries = weekly_expiries(_report_employees(ctx, loaded.get("shards")), as_of=ctx.as_of)
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


def _report_employees(ctx: RunContext, shard_labels: Sequence[str] | None) -> pd.DataFrame:
    """The run's valid employees, from the run directory or (a sharded run) its shards."""
    if not shard_labels:
        return read_frame(ctx.path("employees"))
    return pd.concat(
        [
            read_frame(ctx.for_shard(label).path("employees"), columns=REPORT_EMPLOYEE_COLUMNS)
            for label in shard_labels
        ],
        ignore_index=True,
    )


REPORT_EMPLOYEE_COLUMNS = (
    "employment_status",
    "hire_date",
    "termination_date",
    "period_of_stay_expiry",
)


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

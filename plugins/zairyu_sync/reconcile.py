"""Rule evaluation (contract.md section 4) over the validated frames and the ISA statuses.

Each rule is a small vectorised function registered against its catalog code in :data:`EVALUATORS`.
An evaluator returns its findings as a frame (``employee_id``, ``receipt_number``, ``due_date``,
``detail``); severity comes from the catalog's severity policy, ``organization_id`` and
``compliance_owner`` from the employee. Interpretations beyond the contract's table:

* An employee's applications are the ERP rows joined to ISA by receipt number; the ISA values of
  ``application_type`` and ``filed_on`` win over the ERP's when ISA has them.
* STATUS_MISMATCH / EXPIRY_MISMATCH compare the employee's *latest* Permitted application, and
  CARD_NUMBER_STALE the latest COMPLETED one (latest by decided_on, filed_on, receipt_number), so
  older grants that a later one superseded do not fire.
* EXPIRY_APPROACHING is silenced by a Pending extension/change, or by a Permitted one that grants a
  period beyond the current ``period_of_stay_expiry``.
* DESIGNATED_ORGANIZATION_MISMATCH also fires when no designated organization is recorded.
* ``discrepancy_id`` hashes employee_id + rule_code + receipt_number; for DATA_QUALITY the source
  table is part of the key, because one employee can have a finding per source table.

Details are English, and carry no names or birth dates; card numbers are masked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from zairyu_sync.canonical import (
    APPLICATION_COLUMNS,
    DISCREPANCY_COLUMNS,
    EMPLOYEE_BOOL_COLUMNS,
    EMPLOYEE_COLUMNS,
    EMPLOYEE_DATE_COLUMNS,
    FINDING_COLUMNS,
    ISA_APPLICATION_COLUMNS,
    ISA_APPLICATION_DATE_COLUMNS,
    ISA_PENDING,
    ISA_PERMITTED,
    NO_FIXED_PERIOD,
    NO_RESIDENCE_CARD,
    QUARANTINE_COLUMNS,
    TIED_TO_DESIGNATED_ORGANIZATION,
    WORK_NOT_PERMITTED_WITHOUT_PERMISSION,
)
from zairyu_sync.config import PolicySettings
from zairyu_sync.errors import InputError, ReconcileError
from zairyu_sync.pii import mask_card_number, redact_card_numbers
from zairyu_sync.rules import Rule, RuleCatalog, load_catalog

log = logging.getLogger(__name__)

_FINDING_COLUMNS = ("employee_id", "receipt_number", "due_date", "detail")
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_EXTENSION_TYPES = ("extension", "change")
_CARD_RENEWAL_STATUSES = ("permanent_resident", "highly_skilled_professional_ii")
_HELLOWORK_EXEMPT = NO_RESIDENCE_CARD  # special permanent residents, diplomats, officials


@dataclass(frozen=True)
class ReconciliationResult:
    """The findings of one reconciliation.

    Attributes:
        discrepancies: one row per finding, columns :data:`FINDING_COLUMNS`, sorted by severity,
            rule code, employee id, receipt number.
        as_of: the date the rules were evaluated for.
        unimplemented_codes: catalog codes that have no evaluator (they produced nothing).
    """

    discrepancies: pd.DataFrame
    as_of: date
    unimplemented_codes: tuple[str, ...] = field(default_factory=tuple)

    def counts_by_rule_and_severity(self) -> dict[str, dict[str, int]]:
        """``{rule_code: {severity: count}}``, JSON-safe, sorted by rule code."""
        table: dict[str, dict[str, int]] = {}
        if self.discrepancies.empty:
            return table
        grouped = self.discrepancies.groupby(["rule_code", "severity"]).size().reset_index(name="n")
        for row in grouped.to_dict("records"):
            table.setdefault(str(row["rule_code"]), {})[str(row["severity"])] = int(row["n"])
        return dict(sorted(table.items()))

    def to_contract_frame(self) -> pd.DataFrame:
        """The ``discrepancies.csv`` shape of contract.md section 5 (all text, '' for empty)."""
        frame = self.discrepancies
        due = frame["due_date"]
        out = pd.DataFrame(
            {
                "employee_id": frame["employee_id"].fillna(""),
                "rule_code": frame["rule_code"],
                "severity": frame["severity"],
                "due_date": due.dt.strftime("%Y-%m-%d").where(due.notna(), ""),
                "receipt_number": frame["receipt_number"].fillna(""),
                "detail": frame["detail"],
            }
        )
        return out[list(DISCREPANCY_COLUMNS)].astype(object).reset_index(drop=True)


@dataclass(frozen=True)
class _Inputs:
    """Prepared frames shared by the evaluators."""

    as_of: pd.Timestamp
    policy: PolicySettings
    employees: pd.DataFrame  # valid, with derived columns (active, special_period_end)
    applications: pd.DataFrame  # ERP applications joined to ISA and to their employee
    isa: pd.DataFrame  # normalised ISA applications, one per receipt number
    quarantine: pd.DataFrame
    timesheets: pd.DataFrame
    erp_receipts: frozenset[str]


Evaluator = Callable[[_Inputs], pd.DataFrame]
#: Rule code -> evaluator; populated by :func:`_rule`.
EVALUATORS: dict[str, Evaluator] = {}


def _rule(code: str) -> Callable[[Evaluator], Evaluator]:
    def register(function: Evaluator) -> Evaluator:
        if code in EVALUATORS:
            raise ReconcileError(f"two evaluators registered for {code}")
        EVALUATORS[code] = function
        return function

    return register


def reconcile(
    employees: pd.DataFrame,
    applications: pd.DataFrame,
    isa_applications: pd.DataFrame,
    quarantine: pd.DataFrame,
    *,
    as_of: date,
    policy: PolicySettings | None = None,
    timesheets: pd.DataFrame | None = None,
    catalog: RuleCatalog | None = None,
    erp_receipt_numbers: Iterable[str] = (),
) -> ReconciliationResult:
    """Evaluate every catalog rule in force on ``as_of``.

    Args:
        employees: valid employees from :func:`zairyu_sync.validate.validate_snapshot`.
        applications: valid ERP applications (same source).
        isa_applications: the ISA status API's applications as text
            (``canonical.ISA_APPLICATION_COLUMNS``); dates are parsed here.
        quarantine: the validation quarantine (one DATA_QUALITY finding per employee, source
            table and receipt number).
        as_of: the date D the rules are evaluated for.
        policy: thresholds; defaults to :class:`PolicySettings` defaults.
        timesheets: valid timesheets (for HOURS_LIMIT_EXCEEDED).
        catalog: the rule catalog; defaults to the packaged one.
        erp_receipt_numbers: every receipt number the ERP holds, including those of rows
            validation set aside (applications of quarantined or ignored employees), so that
            APPLICATION_UNTRACKED fires only for applications the ERP really lacks.

    Returns:
        The findings.

    Raises:
        InputError: a required column is missing.
        ReconcileError: an evaluator has no catalog entry, or findings collide on their id.
    """
    policy = policy or PolicySettings()
    catalog = catalog or load_catalog()
    orphans = sorted(set(EVALUATORS) - set(catalog.codes))
    if orphans:
        raise ReconcileError(f"evaluators without a catalog entry: {', '.join(orphans)}")
    unimplemented = catalog.unimplemented_codes(frozenset(EVALUATORS))
    if unimplemented:
        log.warning("rules without an evaluator (not checked): %s", ", ".join(unimplemented))
    inputs = _prepare(
        employees, applications, isa_applications, quarantine, timesheets, as_of, policy
    )
    known = frozenset(str(number).strip() for number in erp_receipt_numbers if number)
    if known:
        inputs = dataclasses.replace(inputs, erp_receipts=inputs.erp_receipts | known)
    frames = []
    for rule in catalog.rules:
        if rule.code not in EVALUATORS or not rule.applies_on(as_of):
            continue
        findings = EVALUATORS[rule.code](inputs)
        if not findings.empty:
            frames.append(_finish(findings, rule, inputs))
    discrepancies = _assemble(frames)
    log.info("reconciled %d employees: %d findings", len(inputs.employees), len(discrepancies))
    return ReconciliationResult(
        discrepancies=discrepancies, as_of=as_of, unimplemented_codes=unimplemented
    )


# --- preparation ------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise InputError(f"{table}: missing required column {column!r}")


def _dates(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_localize(None)
        return series.astype("datetime64[ns]").dt.normalize()
    parsed = pd.to_datetime(series.astype(object), format="%Y-%m-%d", errors="coerce")
    return parsed.astype("datetime64[ns]")


def _text(series: pd.Series, *, upper: bool = False, lower: bool = False) -> pd.Series:
    text = series.astype("string").str.strip()
    if upper:
        text = text.str.normalize("NFKC").str.upper()
    if lower:
        text = text.str.lower()
    return text.mask(text == "").astype(object).where(lambda s: s.notna(), None)


def _flags(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    mapped = _text(series, lower=True).map({"true": True, "false": False}, na_action="ignore")
    return mapped.astype("boolean")


def _prepare(
    employees: pd.DataFrame,
    applications: pd.DataFrame,
    isa_applications: pd.DataFrame,
    quarantine: pd.DataFrame,
    timesheets: pd.DataFrame | None,
    as_of: date,
    policy: PolicySettings,
) -> _Inputs:
    _require(employees, EMPLOYEE_COLUMNS, "employees")
    _require(applications, APPLICATION_COLUMNS, "applications")
    _require(isa_applications, ISA_APPLICATION_COLUMNS, "isa_applications")
    _require(quarantine, QUARANTINE_COLUMNS, "quarantine")
    day = pd.Timestamp(as_of)

    emp = employees.loc[:, list(EMPLOYEE_COLUMNS)].reset_index(drop=True).copy()
    for column in EMPLOYEE_COLUMNS:
        if column in EMPLOYEE_DATE_COLUMNS:
            emp[column] = _dates(emp[column])
        elif column in EMPLOYEE_BOOL_COLUMNS:
            emp[column] = _flags(emp[column])
        else:
            emp[column] = _text(emp[column], upper=column == "residence_card_number")
    quarantined_ids = set(
        quarantine.loc[quarantine["source_table"] == "employees", "employee_id"].dropna()
    )
    emp = emp[emp["employee_id"].notna() & ~emp["employee_id"].isin(quarantined_ids)]
    emp = emp.drop_duplicates("employee_id", keep=False).reset_index(drop=True)
    emp["active"] = (
        emp["employment_status"].isin(["active", "on_leave"])
        & (emp["hire_date"] <= day)
        & ~(emp["termination_date"] <= day)
    )
    emp["special_period_end"] = special_period_end(emp["period_of_stay_expiry"])

    isa = isa_applications.loc[:, list(ISA_APPLICATION_COLUMNS)].copy()
    for column in ISA_APPLICATION_COLUMNS:
        if column in ISA_APPLICATION_DATE_COLUMNS:
            isa[column] = _dates(isa[column])
        elif column == "updated_at":
            isa[column] = pd.to_datetime(
                isa[column].astype(object), utc=True, errors="coerce", format="ISO8601"
            )
        else:
            isa[column] = _text(
                isa[column],
                upper=column
                in ("status", "applicant_residence_card_number", "new_residence_card_number"),
                lower=column in ("application_type", "requested_status", "granted_status"),
            )
    isa = (
        isa[isa["receipt_number"].notna()]
        .sort_values(["receipt_number", "updated_at"], na_position="first", kind="stable")
        .drop_duplicates("receipt_number", keep="last")
        .reset_index(drop=True)
    )

    erp = applications.loc[:, list(APPLICATION_COLUMNS)].copy()
    erp["receipt_number"] = _text(erp["receipt_number"])
    erp["employee_id"] = _text(erp["employee_id"])
    erp["application_type"] = _text(erp["application_type"], lower=True)
    erp["filed_on"] = _dates(erp["filed_on"])
    erp_receipts = frozenset(erp["receipt_number"].dropna()) | frozenset(
        quarantine["receipt_number"].dropna().astype(str)
    )
    joined = erp.merge(
        isa.drop(columns=[c for c in isa.columns if c.startswith("applicant_")]),
        on="receipt_number",
        how="left",
        suffixes=("_erp", ""),
        indicator="_isa_match",
    )
    joined["at_isa"] = joined["_isa_match"] == "both"
    joined["application_type"] = joined["application_type"].fillna(joined["application_type_erp"])
    joined["filed_on"] = joined["filed_on"].fillna(joined["filed_on_erp"])
    joined = joined.drop(columns=["_isa_match", "application_type_erp", "filed_on_erp"])
    apps = joined.merge(
        emp[
            [
                "employee_id",
                "active",
                "residence_status",
                "period_of_stay_expiry",
                "special_period_end",
                "residence_card_number",
            ]
        ],
        on="employee_id",
        how="inner",
    )
    apps["pending"] = apps["status"].isin(ISA_PENDING)
    apps["permitted"] = apps["status"].isin(ISA_PERMITTED)
    apps["extension_or_change"] = apps["application_type"].isin(_EXTENSION_TYPES)

    ts = _prepare_timesheets(timesheets)
    return _Inputs(
        as_of=day,
        policy=policy,
        employees=_with_coverage(emp, apps, day),
        applications=apps,
        isa=isa,
        quarantine=quarantine.reset_index(drop=True),
        timesheets=ts,
        erp_receipts=erp_receipts,
    )


def _prepare_timesheets(timesheets: pd.DataFrame | None) -> pd.DataFrame:
    columns = ["employee_id", "work_date", "hours", "is_long_vacation"]
    if timesheets is None or timesheets.empty:
        return pd.DataFrame(
            {
                "employee_id": pd.Series(dtype=object),
                "work_date": pd.Series(dtype="datetime64[ns]"),
                "hours": pd.Series(dtype="float64"),
                "is_long_vacation": pd.Series(dtype="boolean"),
            }
        )
    _require(timesheets, tuple(columns), "timesheets")
    ts = timesheets.loc[:, columns].copy()
    ts["employee_id"] = _text(ts["employee_id"])
    ts["work_date"] = _dates(ts["work_date"])
    ts["hours"] = pd.to_numeric(ts["hours"], errors="coerce").astype("float64").fillna(0.0)
    ts["is_long_vacation"] = _flags(ts["is_long_vacation"]).fillna(False)
    return ts


def _with_coverage(emp: pd.DataFrame, apps: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """Per employee: covered by a Pending application / by a Permitted grant; has a renewal."""
    pending_cover = (
        apps["extension_or_change"]
        & apps["pending"]
        & (apps["filed_on"] <= apps["period_of_stay_expiry"])
        & (day <= apps["special_period_end"])
    )
    permitted_cover = apps["permitted"] & (apps["granted_period_expiry"] >= day)
    renewal = apps["extension_or_change"] & (
        apps["pending"]
        | (apps["permitted"] & (apps["granted_period_expiry"] > apps["period_of_stay_expiry"]))
    )
    covering = (
        apps[pending_cover]
        .sort_values(["employee_id", "filed_on", "receipt_number"], kind="stable")
        .drop_duplicates("employee_id")
        .set_index("employee_id")["receipt_number"]
    )
    out = emp.copy()
    ids = out["employee_id"]
    out["pending_cover"] = ids.isin(apps.loc[pending_cover, "employee_id"])
    out["permitted_cover"] = ids.isin(apps.loc[permitted_cover, "employee_id"])
    out["has_renewal"] = ids.isin(apps.loc[renewal, "employee_id"])
    out["covering_receipt"] = ids.map(covering).astype(object)
    return out


# --- finishing --------------------------------------------------------------------------------


def _findings(
    frame: pd.DataFrame,
    detail: pd.Series,
    *,
    due_date: pd.Series | None = None,
    receipt: pd.Series | None = None,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "employee_id": frame["employee_id"].to_numpy(),
            "receipt_number": (receipt.to_numpy() if receipt is not None else [None] * len(frame)),
            "due_date": (due_date.to_numpy() if due_date is not None else pd.NaT),
            "detail": detail.to_numpy(),
        }
    )


def _finish(findings: pd.DataFrame, rule: Rule, inputs: _Inputs) -> pd.DataFrame:
    """Add rule code, severity (catalog policy), owner columns and the discrepancy id."""
    out = findings.copy()
    out["due_date"] = pd.to_datetime(out["due_date"]).astype("datetime64[ns]")
    out["rule_code"] = rule.code
    severity = pd.Series(rule.severity.base, index=out.index, dtype=object)
    window = rule.severity.critical_within_days(inputs.policy)
    if window is not None:
        severity = severity.mask((out["due_date"] - inputs.as_of).dt.days <= window, "critical")
    if rule.severity.critical_when_overdue:
        severity = severity.mask(out["due_date"] < inputs.as_of, "critical")
    out["severity"] = severity
    owners = inputs.employees.set_index("employee_id")[["organization_id", "compliance_owner"]]
    for column in ("organization_id", "compliance_owner"):
        looked_up = out["employee_id"].map(owners[column])
        out[column] = out[column].fillna(looked_up) if column in out else looked_up
    key_extra = out.pop("_key_extra") if "_key_extra" in out else pd.Series("", index=out.index)
    keys = (
        out["employee_id"].fillna("").astype(str)
        + "|"
        + rule.code
        + "|"
        + out["receipt_number"].fillna("").astype(str)
        + key_extra.astype(str)
    )
    out["discrepancy_id"] = [hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] for key in keys]
    out["detail"] = out["detail"].astype(str).map(redact_card_numbers)
    return out[list(FINDING_COLUMNS)]


def _assemble(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in FINDING_COLUMNS})
        empty["due_date"] = pd.Series(dtype="datetime64[ns]")
        return empty
    result = pd.concat(frames, ignore_index=True)
    duplicated = result["discrepancy_id"].duplicated()
    if duplicated.any():
        raise ReconcileError(f"{int(duplicated.sum())} findings share a discrepancy id")
    result["_rank"] = result["severity"].map(_SEVERITY_RANK)
    result = result.sort_values(
        ["_rank", "rule_code", "employee_id", "receipt_number", "discrepancy_id"],
        na_position="last",
        kind="stable",
    ).drop(columns="_rank")
    for column in FINDING_COLUMNS:
        if column != "due_date":
            result[column] = result[column].astype(object).where(result[column].notna(), None)
    return result.reset_index(drop=True)


def _iso(series: pd.Series) -> pd.Series:
    text: pd.Series = series.dt.strftime("%Y-%m-%d").fillna("unknown")
    return text


def _active(inputs: _Inputs) -> pd.DataFrame:
    return inputs.employees[inputs.employees["active"]]


# --- rules: residence status --------------------------------------------------------------------


@_rule("STATUS_EXPIRED")
def _status_expired(inputs: _Inputs) -> pd.DataFrame:
    emp = _active(inputs)
    hit = emp[
        ~emp["residence_status"].isin(NO_FIXED_PERIOD)
        & (emp["period_of_stay_expiry"] < inputs.as_of)
        & ~emp["pending_cover"]
        & ~emp["permitted_cover"]
    ]
    detail = (
        "Period of stay ("
        + hit["residence_status"]
        + ") expired on "
        + _iso(hit["period_of_stay_expiry"])
        + "; no extension/change filed on or before the expiry is pending within the special "
        "period and no permitted application grants a period to the as-of date or later."
    )
    return _findings(hit, detail, due_date=hit["period_of_stay_expiry"])


@_rule("SPECIAL_PERIOD")
def _special_period(inputs: _Inputs) -> pd.DataFrame:
    emp = _active(inputs)
    hit = emp[(emp["period_of_stay_expiry"] < inputs.as_of) & emp["pending_cover"]]
    detail = (
        "Period of stay expired on "
        + _iso(hit["period_of_stay_expiry"])
        + "; working in the special period under pending application "
        + hit["covering_receipt"].fillna("")
        + " until at most "
        + _iso(hit["special_period_end"])
        + "."
    )
    return _findings(
        hit, detail, due_date=hit["special_period_end"], receipt=hit["covering_receipt"]
    )


@_rule("EXPIRY_APPROACHING")
def _expiry_approaching(inputs: _Inputs) -> pd.DataFrame:
    emp = _active(inputs)
    horizon = inputs.as_of + pd.Timedelta(days=inputs.policy.expiry_horizon_days)
    expiry = emp["period_of_stay_expiry"]
    hit = emp[(expiry >= inputs.as_of) & (expiry <= horizon) & ~emp["has_renewal"]]
    days_left = (hit["period_of_stay_expiry"] - inputs.as_of).dt.days.astype(int).astype(str)
    detail = (
        "Period of stay ("
        + hit["residence_status"]
        + ") expires on "
        + _iso(hit["period_of_stay_expiry"])
        + " (in "
        + days_left
        + " days) and no extension/change application is pending or permitted."
    )
    return _findings(hit, detail, due_date=hit["period_of_stay_expiry"])


@_rule("CARD_RENEWAL_DUE")
def _card_renewal_due(inputs: _Inputs) -> pd.DataFrame:
    emp = _active(inputs)
    limit = inputs.as_of + pd.Timedelta(days=inputs.policy.card_renewal_days)
    hit = emp[
        emp["residence_status"].isin(_CARD_RENEWAL_STATUSES) & (emp["card_valid_until"] <= limit)
    ]
    detail = (
        "Residence card "
        + hit["residence_card_number"].map(mask_card_number)
        + " is valid until "
        + _iso(hit["card_valid_until"])
        + "; the holder ("
        + hit["residence_status"]
        + ") must renew the card."
    )
    return _findings(hit, detail, due_date=hit["card_valid_until"])


@_rule("WORK_NOT_PERMITTED")
def _work_not_permitted(inputs: _Inputs) -> pd.DataFrame:
    emp = _active(inputs)
    designated_no = (emp["residence_status"] == "designated_activities") & emp[
        "designated_work_permitted"
    ].eq(False).fillna(False).astype(bool)
    no_permission = emp["outside_status_permission"].fillna("none") == "none"
    hit = emp[
        (emp["residence_status"].isin(WORK_NOT_PERMITTED_WITHOUT_PERMISSION) | designated_no)
        & no_permission
    ]
    reason = hit["residence_status"].where(
        hit["residence_status"] != "designated_activities",
        "designated_activities whose designation does not allow this work",
    )
    detail = (
        "Status " + reason + " does not permit work and no permission for activity outside "
        "status is recorded."
    )
    return _findings(hit, detail)


@_rule("HOURS_LIMIT_EXCEEDED")
def _hours_limit_exceeded(inputs: _Inputs) -> pd.DataFrame:
    policy, day = inputs.policy, inputs.as_of
    holders = inputs.employees[inputs.employees["outside_status_permission"] == "comprehensive"]
    start = day - pd.Timedelta(days=policy.hours_lookback_days - 1)
    ts = inputs.timesheets
    ts = ts[
        ts["employee_id"].isin(holders["employee_id"])
        & (ts["work_date"] >= start)
        & (ts["work_date"] <= day)
    ]
    students = holders.loc[holders["residence_status"] == "student", "employee_id"]
    vacation = ts["employee_id"].isin(students) & ts["is_long_vacation"].astype(bool)
    daily = (
        ts.assign(
            counted=ts["hours"].where(~vacation, 0.0),
            vacation_hours=ts["hours"].where(vacation, 0.0),
        )
        .groupby(["employee_id", "work_date"], as_index=False)[["counted", "vacation_hours"]]
        .sum()
        .sort_values(["employee_id", "work_date"], kind="stable")
        .reset_index(drop=True)
    )
    rolling = (
        daily.set_index("work_date")
        .groupby("employee_id", sort=False)["counted"]
        .rolling(f"{policy.hours_window_days}D")
        .sum()
    )
    daily["window_hours"] = rolling.to_numpy(dtype="float64") if len(daily) else 0.0
    week = _worst(daily, "window_hours", policy.weekly_hours_limit)
    vac = _worst(daily, "vacation_hours", policy.long_vacation_daily_limit)
    if week.empty and vac.empty:
        return _findings(holders.iloc[0:0], pd.Series(dtype=object))
    # Built row by row: an empty frame (only one kind of breach) must still give text values.
    week_text = pd.Series(
        {
            employee_id: f"{hours:.1f} h in the {policy.hours_window_days} days ending "
            f"{day:%Y-%m-%d} (limit {policy.weekly_hours_limit:g} h)"
            for employee_id, hours, day in zip(
                week.index, week["window_hours"], week["work_date"], strict=True
            )
        },
        dtype=object,
    )
    vac_text = pd.Series(
        {
            employee_id: f"{hours:.1f} h on long-vacation day {day:%Y-%m-%d} "
            f"(limit {policy.long_vacation_daily_limit:g} h/day)"
            for employee_id, hours, day in zip(
                vac.index, vac["vacation_hours"], vac["work_date"], strict=True
            )
        },
        dtype=object,
    )
    hit = pd.DataFrame({"employee_id": sorted(set(week.index) | set(vac.index))})
    parts = pd.concat([hit["employee_id"].map(week_text), hit["employee_id"].map(vac_text)], axis=1)
    joined = parts.iloc[:, 0].fillna("").str.cat(parts.iloc[:, 1].fillna(""), sep="; ")
    detail = "Comprehensive permission exceeded: worked " + joined.str.strip("; ") + "."
    return _findings(hit, detail)


def _worst(daily: pd.DataFrame, column: str, limit: float) -> pd.DataFrame:
    """Per employee, the day with the highest ``column`` above ``limit`` (ties: earliest)."""
    over = daily[daily[column] > limit + 1e-9].astype({column: "float64"})
    return (
        over.sort_values(["employee_id", column, "work_date"], ascending=[True, False, True])
        .drop_duplicates("employee_id")
        .set_index("employee_id")
    )


@_rule("STUDENT_NOT_ENROLLED")
def _student_not_enrolled(inputs: _Inputs) -> pd.DataFrame:
    emp = _active(inputs)
    hit = emp[
        (emp["residence_status"] == "student") & (emp["student_enrolled_until"] < inputs.as_of)
    ]
    detail = (
        "Student enrollment ended on "
        + _iso(hit["student_enrolled_until"])
        + "; the permission to work outside status no longer applies."
    )
    return _findings(hit, detail, due_date=hit["student_enrolled_until"])


@_rule("DESIGNATED_ORGANIZATION_MISMATCH")
def _designated_organization_mismatch(inputs: _Inputs) -> pd.DataFrame:
    emp = _active(inputs)
    designated = emp["designated_organization_id"]
    hit = emp[
        emp["residence_status"].isin(TIED_TO_DESIGNATED_ORGANIZATION)
        & (designated.isna() | (designated != emp["organization_id"]))
    ]
    named = hit["designated_organization_id"].fillna("no organization recorded")
    detail = (
        "Status "
        + hit["residence_status"]
        + " is tied to the designated organization ("
        + named
        + ") but the employee works for "
        + hit["organization_id"].fillna("unknown")
        + "."
    )
    return _findings(hit, detail)


# --- rules: applications ----------------------------------------------------------------------


def _latest(apps: pd.DataFrame) -> pd.DataFrame:
    return apps.sort_values(
        ["employee_id", "decided_on", "filed_on", "receipt_number"],
        na_position="first",
        kind="stable",
    ).drop_duplicates("employee_id", keep="last")


@_rule("APPLICATION_DENIED")
def _application_denied(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    hit = apps[apps["active"] & (apps["status"] == "NOT_PERMITTED")]
    detail = (
        "ISA did not permit the "
        + hit["application_type"].fillna("unknown")
        + " application "
        + hit["receipt_number"]
        + " (decided "
        + _iso(hit["decided_on"])
        + ")."
    )
    return _findings(hit, detail, due_date=hit["decided_on"], receipt=hit["receipt_number"])


@_rule("ADDITIONAL_DOCUMENTS_REQUESTED")
def _additional_documents_requested(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    hit = apps[apps["status"] == "AWAITING_ADDITIONAL_DOCUMENTS"]
    detail = (
        "ISA requested additional documents for application "
        + hit["receipt_number"]
        + " (due "
        + _iso(hit["additional_documents_due"])
        + ")."
    )
    return _findings(
        hit, detail, due_date=hit["additional_documents_due"], receipt=hit["receipt_number"]
    )


@_rule("STATUS_MISMATCH")
def _status_mismatch(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    latest = _latest(apps[apps["permitted"]])
    hit = latest[
        latest["granted_status"].notna()
        & (latest["granted_status"] != latest["residence_status"].fillna(""))
    ]
    detail = (
        "Application "
        + hit["receipt_number"]
        + " granted status "
        + hit["granted_status"]
        + " but the ERP has "
        + hit["residence_status"].fillna("none")
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("EXPIRY_MISMATCH")
def _expiry_mismatch(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    latest = _latest(apps[apps["permitted"]])
    granted, recorded = latest["granted_period_expiry"], latest["period_of_stay_expiry"]
    hit = latest[granted.notna() & (recorded.isna() | (granted != recorded))]
    detail = (
        "Application "
        + hit["receipt_number"]
        + " granted a period of stay to "
        + _iso(hit["granted_period_expiry"])
        + " but the ERP has "
        + hit["period_of_stay_expiry"].dt.strftime("%Y-%m-%d").fillna("no expiry")
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("CARD_NUMBER_STALE")
def _card_number_stale(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    latest = _latest(apps[apps["status"] == "COMPLETED"])
    new_card = latest["new_residence_card_number"]
    hit = latest[new_card.notna() & (new_card != latest["residence_card_number"].fillna(""))]
    detail = (
        "Application "
        + hit["receipt_number"]
        + " issued card "
        + hit["new_residence_card_number"].map(mask_card_number)
        + " but the ERP still has "
        + hit["residence_card_number"].map(mask_card_number)
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("APPLICATION_NOT_FOUND")
def _application_not_found(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    hit = apps[~apps["at_isa"]]
    detail = (
        "The ERP's "
        + hit["application_type"].fillna("unknown")
        + " application "
        + hit["receipt_number"]
        + " (filed "
        + _iso(hit["filed_on"])
        + ") is unknown to the ISA status API."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("APPLICATION_UNTRACKED")
def _application_untracked(inputs: _Inputs) -> pd.DataFrame:
    isa = inputs.isa
    hit = isa[~isa["receipt_number"].isin(inputs.erp_receipts)]
    if hit.empty:
        return _findings(hit.assign(employee_id=None), pd.Series(dtype=object))
    cards = (
        inputs.employees[inputs.employees["residence_card_number"].notna()]
        .sort_values("employee_id", kind="stable")
        .drop_duplicates("residence_card_number")
        .set_index("residence_card_number")["employee_id"]
    )
    hit = hit.assign(employee_id=hit["applicant_residence_card_number"].map(cards).astype(object))
    detail = (
        "ISA has "
        + hit["application_type"].fillna("unknown")
        + " application "
        + hit["receipt_number"]
        + " ("
        + hit["status"].fillna("unknown status")
        + ", filed "
        + _iso(hit["filed_on"])
        + ") that the ERP does not record"
        + hit["employee_id"].map(lambda e: "" if isinstance(e, str) else "; no employee matches")
        + "."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


@_rule("APPLICATION_PENDING_LONG")
def _application_pending_long(inputs: _Inputs) -> pd.DataFrame:
    apps = inputs.applications
    age = (inputs.as_of - apps["filed_on"]).dt.days
    hit = apps[apps["pending"] & (age > inputs.policy.pending_long_days)]
    days = (inputs.as_of - hit["filed_on"]).dt.days.astype(int).astype(str)
    detail = (
        "Application "
        + hit["receipt_number"]
        + " ("
        + hit["status"]
        + ") was filed on "
        + _iso(hit["filed_on"])
        + ", "
        + days
        + " days ago, and is still pending."
    )
    return _findings(hit, detail, receipt=hit["receipt_number"])


# --- deadlines: special period and Hello Work (public helpers) -------------------------------


def special_period_end(expiry: pd.Series) -> pd.Series:
    """The last day of the special period for each period-of-stay expiry.

    Args:
        expiry: ``period_of_stay_expiry`` as ``datetime64`` (NaT allowed).

    Returns:
        ``expiry`` + 2 calendar months, clamped to that month's last day (NaT stays NaT).
    """
    end: pd.Series = (expiry + pd.DateOffset(months=2)).astype("datetime64[ns]")
    return end


def hellowork_hire_deadline(hire: pd.Series, insured: pd.Series) -> pd.Series:
    """The Hello Work hire notification deadline for each hire date.

    Args:
        hire: hire dates as ``datetime64``.
        insured: employment-insurance insured person (True/False, aligned with ``hire``).

    Returns:
        Insured: the 10th of the month after the hire month; otherwise the last day of the month
        after the hire month.
    """
    flags = insured.astype("boolean").fillna(False).astype(bool)
    deadline: pd.Series = _tenth_of_month_after(hire).where(flags, _month_after_end(hire))
    return deadline


def hellowork_separation_deadline(termination: pd.Series, insured: pd.Series) -> pd.Series:
    """The Hello Work separation notification deadline for each termination date.

    Args:
        termination: termination dates as ``datetime64``.
        insured: employment-insurance insured person (True/False, aligned with ``termination``).

    Returns:
        Insured: termination date + 10 days; otherwise the last day of the month after the
        termination month.
    """
    flags = insured.astype("boolean").fillna(False).astype(bool)
    deadline: pd.Series = (termination + pd.Timedelta(days=10)).where(
        flags, _month_after_end(termination)
    )
    return deadline


def _month_after_end(days: pd.Series) -> pd.Series:
    first_of_next = (days.dt.to_period("M") + 1).dt.to_timestamp()
    end: pd.Series = (first_of_next + pd.offsets.MonthEnd(0)).astype("datetime64[ns]")
    return end


def _tenth_of_month_after(days: pd.Series) -> pd.Series:
    first_of_next = (days.dt.to_period("M") + 1).dt.to_timestamp()
    tenth: pd.Series = (first_of_next + pd.Timedelta(days=9)).astype("datetime64[ns]")
    return tenth


# --- rules: Hello Work ------------------------------------------------------------------------


@_rule("HELLOWORK_HIRE_OVERDUE")
def _hellowork_hire_overdue(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    emp = emp[~emp["residence_status"].isin(_HELLOWORK_EXEMPT)]
    age = (inputs.as_of - emp["hire_date"]).dt.days
    insured = emp["employment_insured"].eq(True).fillna(False).astype(bool)
    deadline = hellowork_hire_deadline(emp["hire_date"], insured)
    due = (
        (age >= 0)
        & (age <= inputs.policy.hellowork_lookback_days)
        & emp["hellowork_hire_notified_on"].isna()
        & (inputs.as_of > deadline)
    )
    hit, deadline = emp[due], deadline[due]
    detail = (
        "Hired on "
        + _iso(hit["hire_date"])
        + "; the Hello Work hire notification ("
        + insured[due].map({True: "insured", False: "not insured"})
        + ") was due by "
        + _iso(deadline)
        + " and is not recorded."
    )
    return _findings(hit, detail, due_date=deadline)


@_rule("HELLOWORK_SEPARATION_OVERDUE")
def _hellowork_separation_overdue(inputs: _Inputs) -> pd.DataFrame:
    emp = inputs.employees
    emp = emp[~emp["residence_status"].isin(_HELLOWORK_EXEMPT)]
    left = emp["termination_date"]
    age = (inputs.as_of - left).dt.days
    insured = emp["employment_insured"].eq(True).fillna(False).astype(bool)
    deadline = hellowork_separation_deadline(left, insured)
    due = (
        (age >= 0)
        & (age <= inputs.policy.hellowork_lookback_days)
        & emp["hellowork_separation_notified_on"].isna()
        & (inputs.as_of > deadline)
    )
    hit, deadline = emp[due], deadline[due]
    detail = (
        "Left on "
        + _iso(hit["termination_date"])
        + "; the Hello Work separation notification ("
        + insured[due].map({True: "insured", False: "not insured"})
        + ") was due by "
        + _iso(deadline)
        + " and is not recorded."
    )
    return _findings(hit, detail, due_date=deadline)


# --- rules: data quality ----------------------------------------------------------------------


@_rule("DATA_QUALITY")
def _data_quality(inputs: _Inputs) -> pd.DataFrame:
    quarantine = inputs.quarantine
    frame = quarantine.assign(
        _employee=quarantine["employee_id"].fillna(""),
        _receipt=quarantine["receipt_number"].fillna(""),
        _row=quarantine["row_number"].astype(str),
        _codes=quarantine["reason_codes"].fillna("").astype(str).str.split(","),
    )
    grouped = (
        frame.groupby(["_employee", "source_table", "_receipt"], sort=True)
        .agg(
            rows=("_row", ", ".join),
            count=("_row", "size"),
            codes=("_codes", _join_codes),
            reasons=("reasons", _join_unique),
            organization_id=("organization_id", "first"),
            compliance_owner=("compliance_owner", "first"),
        )
        .reset_index()
    )
    detail = (
        grouped["count"].astype(str)
        + " "
        + grouped["source_table"]
        + " row(s) quarantined (row "
        + grouped["rows"]
        + "): "
        + grouped["codes"]
        + " - "
        + grouped["reasons"]
        + "."
    )
    out = _findings(
        grouped.assign(employee_id=grouped["_employee"].replace("", None)),
        detail,
        receipt=grouped["_receipt"].replace("", None),
    )
    out["organization_id"] = grouped["organization_id"].to_numpy()
    out["compliance_owner"] = grouped["compliance_owner"].to_numpy()
    out["_key_extra"] = ("|" + grouped["source_table"]).to_numpy()
    return out


def _join_codes(values: pd.Series) -> str:
    return ",".join(sorted({code for codes in values for code in codes if code}))


def _join_unique(values: pd.Series) -> str:
    return "; ".join(dict.fromkeys(str(value) for value in values if isinstance(value, str)))


def implemented_codes() -> frozenset[str]:
    """Rule codes that have an evaluator."""
    return frozenset(EVALUATORS)

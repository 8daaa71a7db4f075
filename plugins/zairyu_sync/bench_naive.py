"""The whole rule catalog evaluated row by row in plain Python: the benchmark's naive baseline.

:func:`naive_reconcile` takes what :func:`zairyu_sync.reconcile.reconcile` takes and finds what
it finds (scope ``all``), written the way a careful programmer would without vectorising: every
frame is read once with ``to_dict("records")``, each value is normalised and each date parsed
per row, joins are dict look-ups (employees by id, ISA applications by receipt number) and each
rule is a small function over one employee or one application. The stage benchmark
(:mod:`zairyu_sync.bench`) times it against ``reconcile``; the unit tests use it as an
independent oracle for ``reconcile``'s findings.

The semantics are those of contract.md section 4 and ``rules.yaml``, with the interpretations
``reconcile`` documents:

* The rules look at valid employees only: an employee quarantined from the employees table, or
  whose id is held by more than one row, is left out (DATA_QUALITY reports the quarantine).
* An employee's applications are the ERP rows joined to ISA by receipt number (ISA's type and
  filing date win when ISA has them); applications of employees outside the roster are left out.
* Covered, for an expired period of stay: a Pending extension/change filed on or before the
  expiry while D is on or before the special period end (the covering application is the first
  by filing date, then receipt number), or a Permitted application granting a period to D or
  later. EXPIRY_APPROACHING is silenced by a Pending extension/change, or a Permitted one
  granting a period beyond the current expiry.
* STATUS_MISMATCH / EXPIRY_MISMATCH read the latest Permitted application, CARD_NUMBER_STALE the
  latest COMPLETED one (latest by decided_on, filed_on, receipt number; missing sorts first).
* HOURS_LIMIT_EXCEEDED sums the timesheet days within the lookback up to D, per holder of a
  comprehensive permission; a day breaches when the window of days ending on it sums over the
  weekly limit or, for students, its long-vacation hours exceed the daily limit.
* APPLICATION_UNTRACKED: ISA applications (the latest update per receipt number) whose receipt
  number neither the valid applications, the quarantine nor ``erp_receipt_numbers`` hold.
* DATA_QUALITY: one finding per (employee id, source table, receipt number) of the quarantine.

Severity follows the catalog's policy (``critical_within_days``, ``critical_when_overdue``), and
``discrepancy_id`` is computed as ``reconcile`` computes it, so the two sets of findings can be
compared id for id.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import math
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pandas as pd

from zairyu_sync.canonical import (
    FINDING_COLUMNS,
    ISA_PENDING,
    ISA_PERMITTED,
    NO_FIXED_PERIOD,
    NO_RESIDENCE_CARD,
    TIED_TO_DESIGNATED_ORGANIZATION,
    WORK_NOT_PERMITTED_WITHOUT_PERMISSION,
)
from zairyu_sync.config import PolicySettings
from zairyu_sync.pii import mask_card_number
from zairyu_sync.rules import Rule, load_catalog

log = logging.getLogger(__name__)

Row = dict[str, Any]

_RENEWAL_TYPES = frozenset({"extension", "change"})
_CARD_RENEWAL_STATUSES = frozenset({"permanent_resident", "highly_skilled_professional_ii"})
_HELLOWORK_EXEMPT = NO_RESIDENCE_CARD  # special permanent residents, diplomats, officials
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
#: Sums of hours are compared with a limit this much above it, so that rounding in a sum of
#: fractional hours never turns exactly-at-the-limit into a breach.
_HOURS_TOLERANCE = 1e-9


@dataclass(frozen=True)
class _Finding:
    """One finding before severity and id are worked out."""

    employee_id: str | None
    receipt_number: str | None
    due_date: date | None
    detail: str
    organization_id: object = None
    compliance_owner: object = None
    key_extra: str = ""


@dataclass(frozen=True)
class _Context:
    """What the rules read besides the row in hand."""

    as_of: date
    policy: PolicySettings
    applications_by_employee: dict[str, list[Row]]
    hours_breaches: dict[str, str]


def naive_reconcile(
    employees: pd.DataFrame,
    applications: pd.DataFrame,
    isa_applications: pd.DataFrame,
    quarantine: pd.DataFrame,
    *,
    as_of: date,
    policy: PolicySettings | None = None,
    timesheets: pd.DataFrame | None = None,
    erp_receipt_numbers: Iterable[str] = (),
) -> pd.DataFrame:
    """Every catalog rule in force on ``as_of``, evaluated row by row.

    Args:
        employees: valid employees (as :func:`~zairyu_sync.validate.validate_snapshot` gives).
        applications: valid ERP applications.
        isa_applications: the ISA status API's applications (``ISA_APPLICATION_COLUMNS``).
        quarantine: the validation quarantine.
        as_of: the date D the rules are evaluated for.
        policy: thresholds; defaults to :class:`PolicySettings` defaults.
        timesheets: valid timesheets (for HOURS_LIMIT_EXCEEDED), or None.
        erp_receipt_numbers: every receipt number the ERP holds, set-aside rows' included.

    Returns:
        One row per finding with the columns of ``canonical.FINDING_COLUMNS``, ordered by
        severity, rule code, employee id, receipt number and discrepancy id.
    """
    policy = policy or PolicySettings()
    rules = {rule.code: rule for rule in load_catalog().rules if rule.applies_on(as_of)}
    evaluated = {*_EMPLOYEE_RULES, *_APPLICATION_RULES, *_LATEST_DECISION_RULES, *_LISTING_RULES}
    missing = sorted(set(rules) - evaluated)
    if missing:
        log.warning("naive baseline has no evaluation for: %s", ", ".join(missing))

    roster = _roster(employees, quarantine, as_of)
    isa = _isa_by_receipt(isa_applications)
    erp = [_erp_application(row) for row in _records(applications)]
    own = [app for app in erp if app["employee_id"] in roster]
    joined = [_joined_application(app, isa.get(app["receipt_number"] or ""), roster) for app in own]
    by_employee: dict[str, list[Row]] = {}
    for app in joined:
        by_employee.setdefault(app["employee_id"], []).append(app)
    context = _Context(
        as_of=as_of,
        policy=policy,
        applications_by_employee=by_employee,
        hours_breaches=_hours_breaches(roster, timesheets, as_of, policy),
    )

    found = _row_findings(roster.values(), _EMPLOYEE_RULES, rules, context)
    found += _row_findings(joined, _APPLICATION_RULES, rules, context)
    for code, latest_found in _LATEST_DECISION_RULES.items():
        if code in rules:
            found.extend((rules[code], finding) for finding in latest_found(roster, context))
    if "APPLICATION_UNTRACKED" in rules:
        held = _held_receipts(erp, quarantine, erp_receipt_numbers)
        untracked = _application_untracked(isa, held, roster)
        found.extend((rules["APPLICATION_UNTRACKED"], finding) for finding in untracked)
    if "DATA_QUALITY" in rules:
        found.extend((rules["DATA_QUALITY"], finding) for finding in _data_quality(quarantine))

    return _findings_frame([_finished(rule, finding, as_of, policy) for rule, finding in found])


def _row_findings(
    rows: Iterable[Row],
    evaluators: dict[str, Callable[[Row, _Context], _Finding | None]],
    rules: dict[str, Rule],
    context: _Context,
) -> list[tuple[Rule, _Finding]]:
    """Each rule in force evaluated on each row (an employee or an application)."""
    in_force = [(rules[code], evaluate) for code, evaluate in evaluators.items() if code in rules]
    found = []
    for row in rows:
        for rule, evaluate in in_force:
            finding = evaluate(row, context)
            if finding is not None:
                found.append((rule, finding))
    return found


def _findings_frame(records: list[Row]) -> pd.DataFrame:
    """The finished findings in report order, as reconcile returns them."""
    records.sort(key=_report_order)
    log.info("naive baseline: %d findings", len(records))
    frame = pd.DataFrame(records, columns=[*FINDING_COLUMNS, "_rank"], dtype=object)
    frame["due_date"] = pd.to_datetime(frame["due_date"]).astype("datetime64[ns]")
    return frame.drop(columns="_rank")


# --- values ----------------------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[Row]:
    """The frame's rows as dicts by column name (``to_dict("records")``)."""
    return cast(list[Row], frame.to_dict("records"))


def _missing(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(value: object) -> str | None:
    """Stripped text; missing or empty text is None."""
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def _upper(value: object) -> str | None:
    """Stripped text in upper case, full-width characters folded (card numbers, ISA statuses)."""
    text = _text(value)
    return None if text is None else unicodedata.normalize("NFKC", text).upper()


def _flag(value: object) -> bool | None:
    """``true``/``false`` (any case) or a boolean; anything else is None."""
    if _missing(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _day(value: object) -> date | None:
    """A calendar day from a timestamp, a date or ``YYYY-MM-DD`` text; None otherwise."""
    if _missing(value):
        return None
    if isinstance(value, datetime):  # pandas Timestamps too; a time of day is dropped
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None


def _hours(value: object) -> float:
    """Hours worked as a number; missing or unreadable hours count as 0."""
    if _missing(value):
        return 0.0
    try:
        hours = float(value if isinstance(value, int | float) else str(value).strip())
    except ValueError:
        return 0.0
    return 0.0 if math.isnan(hours) else hours


def _updated_at(value: object) -> datetime | None:
    """An ISA ``updated_at`` as a UTC timestamp (no zone means UTC); None when unreadable."""
    if _missing(value):
        return None
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _iso(day: date | None) -> str:
    return day.isoformat() if day is not None else "unknown"


# --- deadlines -------------------------------------------------------------------------------


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _months_later(day: date, months: int) -> tuple[int, int]:
    """(year, month) of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def special_period_end(expiry: date) -> date:
    """``expiry`` + 2 calendar months, clamped to that month's last day."""
    year, month = _months_later(expiry, 2)
    return min(date(year, month, 1) + timedelta(days=expiry.day - 1), _month_end(year, month))


def hellowork_hire_deadline(hire: date, insured: bool) -> date:
    """Insured: the 10th of the month after the hire; otherwise that month's last day."""
    year, month = _months_later(hire, 1)
    return date(year, month, 10) if insured else _month_end(year, month)


def hellowork_separation_deadline(termination: date, insured: bool) -> date:
    """Insured: 10 days after the termination; otherwise the last day of the month after it."""
    if insured:
        return termination + timedelta(days=10)
    return _month_end(*_months_later(termination, 1))


# --- preparation -----------------------------------------------------------------------------


def _roster(employees: pd.DataFrame, quarantine: pd.DataFrame, as_of: date) -> dict[str, Row]:
    """Valid employees by id, dates parsed: quarantined ids and ids held twice left out.

    Each also gets ``active`` (on ``as_of``) and its ``special_period_end``.
    """
    quarantined = {
        row["employee_id"]
        for row in _records(quarantine)
        if row["source_table"] == "employees" and not _missing(row["employee_id"])
    }
    roster: dict[str, Row] = {}
    seen_twice: set[str] = set()
    for raw in _records(employees):
        emp = _employee(raw)
        emp["active"] = _is_active(emp, as_of)
        expiry = emp["period_of_stay_expiry"]
        emp["special_period_end"] = None if expiry is None else special_period_end(expiry)
        employee_id = emp["employee_id"]
        if employee_id is None or employee_id in quarantined:
            continue
        if employee_id in roster:
            seen_twice.add(employee_id)
        roster[employee_id] = emp
    for employee_id in seen_twice:
        del roster[employee_id]
    return roster


def _employee(raw: Row) -> Row:
    return {
        "employee_id": _text(raw["employee_id"]),
        "organization_id": _text(raw["organization_id"]),
        "compliance_owner": _text(raw["compliance_owner"]),
        "employment_status": _text(raw["employment_status"]),
        "hire_date": _day(raw["hire_date"]),
        "termination_date": _day(raw["termination_date"]),
        "employment_insured": _flag(raw["employment_insured"]),
        "residence_status": _text(raw["residence_status"]),
        "period_of_stay_expiry": _day(raw["period_of_stay_expiry"]),
        "residence_card_number": _upper(raw["residence_card_number"]),
        "card_valid_until": _day(raw["card_valid_until"]),
        "outside_status_permission": _text(raw["outside_status_permission"]),
        "designated_work_permitted": _flag(raw["designated_work_permitted"]),
        "designated_organization_id": _text(raw["designated_organization_id"]),
        "student_enrolled_until": _day(raw["student_enrolled_until"]),
        "hellowork_hire_notified_on": _day(raw["hellowork_hire_notified_on"]),
        "hellowork_separation_notified_on": _day(raw["hellowork_separation_notified_on"]),
    }


def _is_active(emp: Row, as_of: date) -> bool:
    """Employed (active or on leave), hired on or before D and not terminated by D."""
    hire, termination = emp["hire_date"], emp["termination_date"]
    return (
        emp["employment_status"] in ("active", "on_leave")
        and hire is not None
        and hire <= as_of
        and not (termination is not None and termination <= as_of)
    )


def _isa_application(raw: Row) -> Row:
    def lower(value: object) -> str | None:
        text = _text(value)
        return None if text is None else text.lower()

    return {
        "receipt_number": _text(raw["receipt_number"]),
        "application_type": lower(raw["application_type"]),
        "status": _upper(raw["status"]),
        "filed_on": _day(raw["filed_on"]),
        "decided_on": _day(raw["decided_on"]),
        "applicant_residence_card_number": _upper(raw["applicant_residence_card_number"]),
        "granted_status": lower(raw["granted_status"]),
        "granted_period_expiry": _day(raw["granted_period_expiry"]),
        "new_residence_card_number": _upper(raw["new_residence_card_number"]),
        "additional_documents_due": _day(raw["additional_documents_due"]),
        "updated_at": raw["updated_at"],
    }


def _isa_by_receipt(isa_applications: pd.DataFrame) -> dict[str, Row]:
    """ISA applications by receipt number; of repeats, the latest update (then the last row)."""
    versions: dict[str, list[Row]] = {}
    for raw in _records(isa_applications):
        isa = _isa_application(raw)
        if isa["receipt_number"] is not None:
            versions.setdefault(isa["receipt_number"], []).append(isa)
    latest: dict[str, Row] = {}
    for receipt, rows in versions.items():
        if len(rows) == 1:
            latest[receipt] = rows[0]
            continue
        best, best_key = rows[0], (False, datetime.min.replace(tzinfo=UTC))
        for row in rows:
            stamp = _updated_at(row["updated_at"])
            key = (stamp is not None, stamp or datetime.min.replace(tzinfo=UTC))
            if key >= best_key:  # equal keys: the later row wins
                best, best_key = row, key
        latest[receipt] = best
    return latest


def _erp_application(raw: Row) -> Row:
    application_type = _text(raw["application_type"])
    return {
        "employee_id": _text(raw["employee_id"]),
        "receipt_number": _text(raw["receipt_number"]),
        "application_type": None if application_type is None else application_type.lower(),
        "filed_on": _day(raw["filed_on"]),
    }


def _joined_application(app: Row, isa: Row | None, roster: dict[str, Row]) -> Row:
    """An ERP application with ISA's answer and its employee (ISA's type and filing date win)."""
    emp = roster[app["employee_id"]]
    status = isa["status"] if isa else None
    return {
        **app,
        "at_isa": isa is not None,
        "application_type": (isa and isa["application_type"]) or app["application_type"],
        "filed_on": (isa and isa["filed_on"]) or app["filed_on"],
        "status": status,
        "decided_on": isa["decided_on"] if isa else None,
        "granted_status": isa["granted_status"] if isa else None,
        "granted_period_expiry": isa["granted_period_expiry"] if isa else None,
        "new_residence_card_number": isa["new_residence_card_number"] if isa else None,
        "additional_documents_due": isa["additional_documents_due"] if isa else None,
        "pending": status in ISA_PENDING,
        "permitted": status in ISA_PERMITTED,
        "employee": emp,
    }


# --- cover of an employee's period of stay ---------------------------------------------------


def _pending_cover(app: Row, emp: Row, as_of: date) -> bool:
    """A Pending extension/change filed on or before the expiry, D within the special period."""
    expiry, filed = emp["period_of_stay_expiry"], app["filed_on"]
    return (
        app["application_type"] in _RENEWAL_TYPES
        and app["pending"]
        and expiry is not None
        and filed is not None
        and filed <= expiry
        and as_of <= emp["special_period_end"]
    )


def _permitted_cover(app: Row, as_of: date) -> bool:
    granted = app["granted_period_expiry"]
    return app["permitted"] and granted is not None and granted >= as_of


def _is_renewal(app: Row, emp: Row) -> bool:
    """A Pending extension/change, or a Permitted one granting beyond the current expiry."""
    if app["application_type"] not in _RENEWAL_TYPES:
        return False
    if app["pending"]:
        return True
    granted, expiry = app["granted_period_expiry"], emp["period_of_stay_expiry"]
    return app["permitted"] and granted is not None and expiry is not None and granted > expiry


def _covering_application(emp: Row, context: _Context) -> Row | None:
    """The employee's first (by filing date, receipt number) Pending application that covers."""
    covering = [
        app
        for app in context.applications_by_employee.get(emp["employee_id"], [])
        if _pending_cover(app, emp, context.as_of)
    ]
    if not covering:
        return None
    return min(covering, key=lambda app: (app["filed_on"], app["receipt_number"]))


# --- rules: one employee ---------------------------------------------------------------------


def _employee_finding(
    emp: Row, detail: str, *, due: date | None = None, receipt: str | None = None
) -> _Finding:
    return _Finding(
        employee_id=emp["employee_id"],
        receipt_number=receipt,
        due_date=due,
        detail=detail,
        organization_id=emp["organization_id"],
        compliance_owner=emp["compliance_owner"],
    )


def _status_expired(emp: Row, context: _Context) -> _Finding | None:
    expiry, as_of = emp["period_of_stay_expiry"], context.as_of
    if not emp["active"] or emp["residence_status"] in NO_FIXED_PERIOD:
        return None
    if expiry is None or expiry >= as_of:
        return None
    apps = context.applications_by_employee.get(emp["employee_id"], [])
    if any(_pending_cover(app, emp, as_of) or _permitted_cover(app, as_of) for app in apps):
        return None
    detail = (
        f"Period of stay ({emp['residence_status']}) expired on {expiry}; not covered by a "
        "pending or permitted application."
    )
    return _employee_finding(emp, detail, due=expiry)


def _special_period(emp: Row, context: _Context) -> _Finding | None:
    expiry = emp["period_of_stay_expiry"]
    if not emp["active"] or expiry is None or expiry >= context.as_of:
        return None
    covering = _covering_application(emp, context)
    if covering is None:
        return None
    end = emp["special_period_end"]
    detail = (
        f"Period of stay expired on {expiry}; working in the special period under pending "
        f"application {covering['receipt_number']} until at most {end}."
    )
    return _employee_finding(emp, detail, due=end, receipt=covering["receipt_number"])


def _expiry_approaching(emp: Row, context: _Context) -> _Finding | None:
    expiry, as_of = emp["period_of_stay_expiry"], context.as_of
    if not emp["active"] or expiry is None:
        return None
    if not as_of <= expiry <= as_of + timedelta(days=context.policy.expiry_horizon_days):
        return None
    apps = context.applications_by_employee.get(emp["employee_id"], [])
    if any(_is_renewal(app, emp) for app in apps):
        return None
    detail = (
        f"Period of stay ({emp['residence_status']}) expires on {expiry} (in "
        f"{(expiry - as_of).days} days); no extension/change is pending or permitted."
    )
    return _employee_finding(emp, detail, due=expiry)


def _card_renewal_due(emp: Row, context: _Context) -> _Finding | None:
    valid_until = emp["card_valid_until"]
    if not emp["active"] or emp["residence_status"] not in _CARD_RENEWAL_STATUSES:
        return None
    limit = context.as_of + timedelta(days=context.policy.card_renewal_days)
    if valid_until is None or valid_until > limit:
        return None
    card = mask_card_number(emp["residence_card_number"])
    detail = f"Residence card {card} is valid until {valid_until}; the holder must renew it."
    return _employee_finding(emp, detail, due=valid_until)


def _work_not_permitted(emp: Row, context: _Context) -> _Finding | None:
    status = emp["residence_status"]
    if not emp["active"]:
        return None
    if (emp["outside_status_permission"] or "none") != "none":
        return None
    designated_no = status == "designated_activities" and emp["designated_work_permitted"] is False
    if status not in WORK_NOT_PERMITTED_WITHOUT_PERMISSION and not designated_no:
        return None
    detail = f"Status {status} does not permit this work and no permission is recorded."
    return _employee_finding(emp, detail)


def _hours_limit_exceeded(emp: Row, context: _Context) -> _Finding | None:
    breach = context.hours_breaches.get(emp["employee_id"])
    if breach is None:
        return None
    return _employee_finding(emp, f"Comprehensive permission exceeded: worked {breach}.")


def _student_not_enrolled(emp: Row, context: _Context) -> _Finding | None:
    until = emp["student_enrolled_until"]
    if not emp["active"] or emp["residence_status"] != "student":
        return None
    if until is None or until >= context.as_of:
        return None
    return _employee_finding(emp, f"Student enrollment ended on {until}.", due=until)


def _designated_organization_mismatch(emp: Row, context: _Context) -> _Finding | None:
    designated, status = emp["designated_organization_id"], emp["residence_status"]
    if not emp["active"] or status not in TIED_TO_DESIGNATED_ORGANIZATION:
        return None
    if designated is not None and designated == emp["organization_id"]:
        return None
    detail = (
        f"Status {status} is tied to {designated or 'no organization recorded'} but the "
        f"employee works for {emp['organization_id'] or 'unknown'}."
    )
    return _employee_finding(emp, detail)


@dataclass(frozen=True)
class _HelloWorkNotice:
    """A Hello Work notification due after an event (hire or leaving)."""

    event_column: str
    notified_column: str
    deadline: Callable[[date, bool], date]
    event_text: str
    notice_text: str

    def overdue(self, emp: Row, context: _Context) -> _Finding | None:
        day = emp[self.event_column]
        if emp["residence_status"] in _HELLOWORK_EXEMPT or emp[self.notified_column] is not None:
            return None
        if day is None or not 0 <= (context.as_of - day).days <= (
            context.policy.hellowork_lookback_days
        ):
            return None
        deadline = self.deadline(day, emp["employment_insured"] is True)
        if context.as_of <= deadline:
            return None
        detail = (
            f"{self.event_text} on {day}; the Hello Work {self.notice_text} notification was "
            f"due by {deadline}."
        )
        return _employee_finding(emp, detail, due=deadline)


_HIRE_NOTICE = _HelloWorkNotice(
    "hire_date", "hellowork_hire_notified_on", hellowork_hire_deadline, "Hired", "hire"
)
_SEPARATION_NOTICE = _HelloWorkNotice(
    "termination_date",
    "hellowork_separation_notified_on",
    hellowork_separation_deadline,
    "Left",
    "separation",
)


_EMPLOYEE_RULES: dict[str, Callable[[Row, _Context], _Finding | None]] = {
    "STATUS_EXPIRED": _status_expired,
    "SPECIAL_PERIOD": _special_period,
    "EXPIRY_APPROACHING": _expiry_approaching,
    "CARD_RENEWAL_DUE": _card_renewal_due,
    "WORK_NOT_PERMITTED": _work_not_permitted,
    "HOURS_LIMIT_EXCEEDED": _hours_limit_exceeded,
    "STUDENT_NOT_ENROLLED": _student_not_enrolled,
    "DESIGNATED_ORGANIZATION_MISMATCH": _designated_organization_mismatch,
    "HELLOWORK_HIRE_OVERDUE": _HIRE_NOTICE.overdue,
    "HELLOWORK_SEPARATION_OVERDUE": _SEPARATION_NOTICE.overdue,
}


# --- rules: hours worked ---------------------------------------------------------------------


def _hours_breaches(
    roster: dict[str, Row], timesheets: pd.DataFrame | None, as_of: date, policy: PolicySettings
) -> dict[str, str]:
    """Holders of a comprehensive permission who breached a limit -> what they worked.

    Days are summed per holder within the lookback up to D; for students, long-vacation hours
    are summed apart (they do not count towards the window, and each day has its own limit).
    """
    holders = {
        employee_id: emp["residence_status"] == "student"
        for employee_id, emp in roster.items()
        if emp["outside_status_permission"] == "comprehensive"
    }
    if timesheets is None or not holders:
        return {}
    first_day = as_of - timedelta(days=policy.hours_lookback_days - 1)
    counted: dict[str, dict[date, float]] = {}
    vacation: dict[str, dict[date, float]] = {}
    for row in _records(timesheets):
        employee_id = _text(row["employee_id"])
        if employee_id not in holders:
            continue
        day = _day(row["work_date"])
        if day is None or not first_day <= day <= as_of:
            continue
        hours = _hours(row["hours"])
        on_vacation = holders[employee_id] and _flag(row["is_long_vacation"]) is True
        days = (vacation if on_vacation else counted).setdefault(employee_id, {})
        days[day] = days.get(day, 0.0) + hours
        # A day with only long-vacation hours still ends a window (of the other days' hours).
        counted.setdefault(employee_id, {}).setdefault(day, 0.0)
    breaches = {}
    for employee_id, days in counted.items():
        text = _worst_breach(days, vacation.get(employee_id, {}), policy)
        if text:
            breaches[employee_id] = text
    return breaches


def _window_hours(days: dict[date, float], last: date, window_days: int) -> float:
    """Hours counted on the ``window_days`` days ending on ``last``."""
    total = 0.0
    for back in range(window_days):
        total += days.get(last - timedelta(days=back), 0.0)
    return total


def _worst_breach(
    counted: dict[date, float], vacation: dict[date, float], policy: PolicySettings
) -> str:
    """The worst window over the weekly limit and the worst long-vacation day over the daily
    limit (the earliest of equals), as text; empty when neither limit was exceeded."""
    weekly_limit = policy.weekly_hours_limit + _HOURS_TOLERANCE
    daily_limit = policy.long_vacation_daily_limit + _HOURS_TOLERANCE
    worst_week: tuple[float, date] | None = None
    worst_day: tuple[float, date] | None = None
    for day in sorted(counted):
        window = _window_hours(counted, day, policy.hours_window_days)
        if window > weekly_limit and (worst_week is None or window > worst_week[0]):
            worst_week = (window, day)
        on_vacation = vacation.get(day, 0.0)
        if on_vacation > daily_limit and (worst_day is None or on_vacation > worst_day[0]):
            worst_day = (on_vacation, day)
    parts = []
    if worst_week is not None:
        parts.append(
            f"{worst_week[0]:.1f} h in the {policy.hours_window_days} days ending "
            f"{worst_week[1]} (limit {policy.weekly_hours_limit:g} h)"
        )
    if worst_day is not None:
        parts.append(
            f"{worst_day[0]:.1f} h on long-vacation day {worst_day[1]} "
            f"(limit {policy.long_vacation_daily_limit:g} h/day)"
        )
    return "; ".join(parts)


# --- rules: one application ------------------------------------------------------------------


def _application_finding(app: Row, detail: str, *, due: date | None = None) -> _Finding:
    emp = app["employee"]
    return _Finding(
        employee_id=app["employee_id"],
        receipt_number=app["receipt_number"],
        due_date=due,
        detail=detail,
        organization_id=emp["organization_id"],
        compliance_owner=emp["compliance_owner"],
    )


def _application_denied(app: Row, context: _Context) -> _Finding | None:
    if app["status"] != "NOT_PERMITTED" or not app["employee"]["active"]:
        return None
    detail = (
        f"ISA did not permit the {app['application_type'] or 'unknown'} application "
        f"{app['receipt_number']} (decided {_iso(app['decided_on'])})."
    )
    return _application_finding(app, detail, due=app["decided_on"])


def _additional_documents_requested(app: Row, context: _Context) -> _Finding | None:
    if app["status"] != "AWAITING_ADDITIONAL_DOCUMENTS":
        return None
    due = app["additional_documents_due"]
    detail = f"ISA requested additional documents for {app['receipt_number']} (due {_iso(due)})."
    return _application_finding(app, detail, due=due)


def _application_not_found(app: Row, context: _Context) -> _Finding | None:
    if app["at_isa"]:
        return None
    detail = (
        f"The ERP's {app['application_type'] or 'unknown'} application {app['receipt_number']} "
        f"(filed {_iso(app['filed_on'])}) is unknown to the ISA status API."
    )
    return _application_finding(app, detail)


def _application_pending_long(app: Row, context: _Context) -> _Finding | None:
    filed = app["filed_on"]
    if not app["pending"] or filed is None:
        return None
    age = (context.as_of - filed).days
    if age <= context.policy.pending_long_days:
        return None
    detail = (
        f"Application {app['receipt_number']} ({app['status']}) was filed on {filed}, "
        f"{age} days ago, and is still pending."
    )
    return _application_finding(app, detail)


_APPLICATION_RULES: dict[str, Callable[[Row, _Context], _Finding | None]] = {
    "APPLICATION_DENIED": _application_denied,
    "ADDITIONAL_DOCUMENTS_REQUESTED": _additional_documents_requested,
    "APPLICATION_NOT_FOUND": _application_not_found,
    "APPLICATION_PENDING_LONG": _application_pending_long,
}


# --- rules: the latest decided application ---------------------------------------------------


def _latest(apps: list[Row], wanted: Callable[[Row], bool]) -> Row | None:
    """The last of ``apps`` that are ``wanted`` by (decided_on, filed_on, receipt number).

    A missing value sorts before any other; of equals, the later one in the list is last.
    """
    latest, latest_key = None, None
    for app in apps:
        if not wanted(app):
            continue
        key = (
            app["decided_on"] is not None,
            app["decided_on"] or date.min,
            app["filed_on"] is not None,
            app["filed_on"] or date.min,
            app["receipt_number"] is not None,
            app["receipt_number"] or "",
        )
        if latest_key is None or key >= latest_key:
            latest, latest_key = app, key
    return latest


def _latest_permitted(roster: dict[str, Row], context: _Context) -> list[Row]:
    apps = context.applications_by_employee
    found = (
        _latest(apps.get(employee_id, []), lambda app: app["permitted"]) for employee_id in roster
    )
    return [app for app in found if app is not None]


def _status_mismatch(roster: dict[str, Row], context: _Context) -> list[_Finding]:
    findings = []
    for app in _latest_permitted(roster, context):
        granted, recorded = app["granted_status"], app["employee"]["residence_status"]
        if granted is not None and granted != (recorded or ""):
            detail = (
                f"Application {app['receipt_number']} granted status {granted} but the ERP has "
                f"{recorded or 'none'}."
            )
            findings.append(_application_finding(app, detail))
    return findings


def _expiry_mismatch(roster: dict[str, Row], context: _Context) -> list[_Finding]:
    findings = []
    for app in _latest_permitted(roster, context):
        granted, recorded = app["granted_period_expiry"], app["employee"]["period_of_stay_expiry"]
        if granted is not None and granted != recorded:
            detail = (
                f"Application {app['receipt_number']} granted a period of stay to {granted} but "
                f"the ERP has {recorded or 'no expiry'}."
            )
            findings.append(_application_finding(app, detail))
    return findings


def _card_number_stale(roster: dict[str, Row], context: _Context) -> list[_Finding]:
    findings = []
    for employee_id, emp in roster.items():
        apps = context.applications_by_employee.get(employee_id, [])
        app = _latest(apps, lambda app: app["status"] == "COMPLETED")
        if app is None:
            continue
        new_card, recorded = app["new_residence_card_number"], emp["residence_card_number"]
        if new_card is not None and new_card != (recorded or ""):
            detail = (
                f"Application {app['receipt_number']} issued card {mask_card_number(new_card)} "
                f"but the ERP still has {mask_card_number(recorded)}."
            )
            findings.append(_application_finding(app, detail))
    return findings


_LATEST_DECISION_RULES: dict[str, Callable[[dict[str, Row], _Context], list[_Finding]]] = {
    "STATUS_MISMATCH": _status_mismatch,
    "EXPIRY_MISMATCH": _expiry_mismatch,
    "CARD_NUMBER_STALE": _card_number_stale,
}


# --- rules: the ISA listing against the ERP --------------------------------------------------


def _held_receipts(
    erp: list[Row], quarantine: pd.DataFrame, erp_receipt_numbers: Iterable[str]
) -> set[str]:
    """Receipt numbers the ERP holds: its valid applications, the quarantine and the rest."""
    held = {app["receipt_number"] for app in erp if app["receipt_number"] is not None}
    for row in _records(quarantine):
        if not _missing(row["receipt_number"]):
            held.add(str(row["receipt_number"]))
    for number in erp_receipt_numbers:
        if number:
            held.add(str(number).strip())
    return held


def _application_untracked(
    isa: dict[str, Row], held: set[str], roster: dict[str, Row]
) -> list[_Finding]:
    """ISA applications the ERP lacks, attributed to the employee holding the applicant's card.

    When several valid employees hold that card, the first by employee id is named.
    """
    card_holders: dict[str, Row] = {}
    for employee_id in sorted(roster):
        emp = roster[employee_id]
        card = emp["residence_card_number"]
        if card is not None and card not in card_holders:
            card_holders[card] = emp
    findings = []
    for receipt, app in isa.items():
        if receipt in held:
            continue
        card = app["applicant_residence_card_number"]
        holder = card_holders.get(card) if card is not None else None
        detail = (
            f"ISA has {app['application_type'] or 'unknown'} application {receipt} "
            f"({app['status'] or 'unknown status'}, filed {_iso(app['filed_on'])}) that the ERP "
            f"does not record{'' if holder else '; no employee matches'}."
        )
        findings.append(
            _Finding(
                employee_id=holder["employee_id"] if holder else None,
                receipt_number=receipt,
                due_date=None,
                detail=detail,
                organization_id=holder["organization_id"] if holder else None,
                compliance_owner=holder["compliance_owner"] if holder else None,
            )
        )
    return findings


# --- rules: data quality ---------------------------------------------------------------------


def _data_quality(quarantine: pd.DataFrame) -> list[_Finding]:
    """One finding per employee, source table and receipt number among the quarantined rows."""
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in _records(quarantine):
        employee_id = "" if _missing(row["employee_id"]) else str(row["employee_id"])
        receipt = "" if _missing(row["receipt_number"]) else str(row["receipt_number"])
        groups.setdefault((employee_id, str(row["source_table"]), receipt), []).append(row)
    findings = []
    for (employee_id, table, receipt), rows in sorted(groups.items()):
        codes = sorted(
            {code for row in rows for code in str(row["reason_codes"] or "").split(",") if code}
        )
        reasons = "; ".join(
            dict.fromkeys(row["reasons"] for row in rows if isinstance(row["reasons"], str))
        )
        numbers = ", ".join(str(row["row_number"]) for row in rows)
        findings.append(
            _Finding(
                employee_id=employee_id or None,
                receipt_number=receipt or None,
                due_date=None,
                detail=f"{len(rows)} {table} row(s) quarantined (row {numbers}): "
                f"{','.join(codes)} - {reasons}.",
                organization_id=_first_present(row["organization_id"] for row in rows),
                compliance_owner=_first_present(row["compliance_owner"] for row in rows),
                key_extra=f"|{table}",
            )
        )
    return findings


def _first_present(values: Iterable[object]) -> object:
    return next((value for value in values if not _missing(value)), None)


#: Rules over the ISA listing and the quarantine rather than one employee or application.
_LISTING_RULES = frozenset({"APPLICATION_UNTRACKED", "DATA_QUALITY"})


# --- finishing -------------------------------------------------------------------------------


def discrepancy_id(
    employee_id: str | None, rule_code: str, receipt: str | None, extra: str = ""
) -> str:
    """sha256 of employee + ``|CODE|`` + receipt + extra (missing parts empty), 32 hex digits."""
    key = f"{employee_id or ''}|{rule_code}|{receipt or ''}{extra}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _severity(rule: Rule, due: date | None, as_of: date, policy: PolicySettings) -> str:
    """The catalog's base severity, escalated to critical as its policy says."""
    if due is not None:
        window = rule.severity.critical_within_days(policy)
        if window is not None and (due - as_of).days <= window:
            return "critical"
        if rule.severity.critical_when_overdue and due < as_of:
            return "critical"
    return rule.severity.base


def _finished(rule: Rule, finding: _Finding, as_of: date, policy: PolicySettings) -> Row:
    severity = _severity(rule, finding.due_date, as_of, policy)
    return {
        "discrepancy_id": discrepancy_id(
            finding.employee_id, rule.code, finding.receipt_number, finding.key_extra
        ),
        "employee_id": finding.employee_id,
        "organization_id": finding.organization_id,
        "compliance_owner": finding.compliance_owner,
        "rule_code": rule.code,
        "severity": severity,
        "due_date": finding.due_date,
        "receipt_number": finding.receipt_number,
        "detail": finding.detail,
        "_rank": _SEVERITY_RANK[severity],
    }


def _report_order(record: Row) -> tuple[object, ...]:
    """Severity, rule code, employee id, receipt number (missing last), discrepancy id."""
    return (
        record["_rank"],
        record["rule_code"],
        record["employee_id"] is None,
        record["employee_id"] or "",
        record["receipt_number"] is None,
        record["receipt_number"] or "",
        record["discrepancy_id"],
    )

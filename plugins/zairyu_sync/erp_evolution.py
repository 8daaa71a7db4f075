"""Move a sample world forward in time: what HR and ISA do while the days pass.

The demo's world is a sample ERP (see :mod:`zairyu_sync.erp_sample`) and the ISA simulator's
seed. :func:`evolve_world` advances both by ``days``, as the people involved would:

* ISA decides pending applications (mostly permitted, a few not permitted, some asking for
  additional documents); permitted ones get a new card a few days later;
* HR records most new cards in the ERP, but not all, and some only half (expiry without the new
  card number, or without the new status), so mismatches appear as they do in real life;
* applicants hand in requested documents, HR files extensions for expiries that come close,
  files overdue Hello Work notifications and fixes some data-quality faults;
* a few employees leave and a few are hired; part-time workers log new timesheet days.

Everything is deterministic given the input world, ``seed`` and ``days``. ERP tables are read
and rewritten with SQLAlchemy Core (bound parameters, one transaction).
"""

from __future__ import annotations

import calendar
import json
import logging
import math
import os
import random
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from zairyu_sync.canonical import (
    ISA_PENDING,
    JAPANESE_NATIONALITY,
    NO_FIXED_PERIOD,
    TIED_TO_DESIGNATED_ORGANIZATION,
)
from zairyu_sync.erp_sample import ERP_TABLE_COLUMNS
from zairyu_sync.pii import CARD_NUMBER_PATTERN

log = logging.getLogger(__name__)

#: What HR did with a decided application in the ERP.
HR_UPDATED = "updated"
HR_EXPIRY_ONLY = "expiry_only"  # new expiry typed in, old card number kept
HR_STATUS_NOT_CHANGED = "status_not_changed"  # new card and expiry, old status code kept
HR_NOT_UPDATED = "not_updated"
HR_AWAITING_CARD = "awaiting_card"  # permitted, new card not issued yet: nothing to record

_SPECIAL_PERMANENT = "special_permanent_resident"
_DESIGNATED_ACTIVITIES = "designated_activities"
_RECEIPT = re.compile(r"^(\d{4})-([A-Z]+)-(\d+)$")
_ONE_YEAR_TERMS = ("specified_skilled_worker_i", "technical_intern_training_")


@dataclass(frozen=True)
class Decision:
    """One application ISA decided during the elapsed days.

    Attributes:
        receipt_number: the application's receipt number.
        employee_id: the ERP employee it belongs to, or None (no employee found).
        outcome: the ISA status after the decision (``COMPLETED``, ``PERMITTED``,
            ``NOT_PERMITTED``).
        decided_on: the decision date.
        granted_expiry: the new period-of-stay expiry, if any.
        hr_action: what HR recorded (``HR_*`` constants; None for denials).
    """

    receipt_number: str
    employee_id: str | None
    outcome: str
    decided_on: date
    granted_expiry: date | None
    hr_action: str | None


@dataclass(frozen=True)
class Evolution:
    """What happened in the world between ``from_date`` and ``to_date``.

    Attributes:
        from_date: the world's date before.
        to_date: the world's date after.
        decisions: the applications ISA decided.
        counts: event name -> how often it happened.
        hellowork_filings: (employee id, ``hire``/``separation``) notifications HR filed late.
        extensions_filed: receipt numbers of extension applications HR filed.
        hires: employee ids of new hires.
        separations: employee ids of employees who left.
    """

    from_date: date
    to_date: date
    decisions: tuple[Decision, ...]
    counts: Mapping[str, int]
    hellowork_filings: tuple[tuple[str, str], ...]
    extensions_filed: tuple[str, ...]
    hires: tuple[str, ...]
    separations: tuple[str, ...]

    def describe(self) -> list[str]:
        """Short lines for a terminal summary (no personal data)."""
        c = self.counts
        return [
            f"world moved {self.from_date.isoformat()} -> {self.to_date.isoformat()}:",
            f"  ISA decided {c.get('permitted', 0)} application(s) "
            f"({c.get('cards_issued', 0)} new cards), denied {c.get('not_permitted', 0)}, "
            f"asked for documents {c.get('documents_requested', 0)}",
            f"  HR recorded {c.get('hr_updated', 0)} new card(s) fully, "
            f"{c.get('hr_partial', 0)} partly, {c.get('hr_not_updated', 0)} not at all",
            f"  HR filed {c.get('extensions_filed', 0)} extension(s), "
            f"{c.get('hellowork_filed', 0)} overdue Hello Work notification(s), "
            f"fixed {c.get('data_fixed', 0)} data-quality fault(s)",
            f"  {c.get('hires', 0)} hire(s), {c.get('separations', 0)} separation(s), "
            f"{c.get('timesheet_days', 0)} new timesheet row(s)",
        ]


def evolve_world(
    erp: sa.Engine, isa_seed: Path, *, from_date: date, days: int, seed: int
) -> Evolution:
    """Advance the sample ERP and the ISA seed file by ``days`` days.

    Args:
        erp: the sample ERP database (schema of ``sql/erp/schema.sql``).
        isa_seed: the ISA simulator seed file; rewritten in place.
        from_date: the world's current date.
        days: how many days pass (at least 1).
        seed: the world's random seed (the same inputs always give the same result).

    Returns:
        What happened.

    Raises:
        ValueError: ``days`` is less than 1.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    tables = read_erp(erp)
    payload = json.loads(isa_seed.read_text(encoding="utf-8"))
    world = _World(
        tables,
        organization=payload["organization_applications"],
        personal=payload["personal_applications"],
        from_date=from_date,
        days=days,
        rng=random.Random(f"zairyu-sync-evolution:{seed}:{from_date.isoformat()}:{days}"),
    )
    evolution = world.run()
    write_erp_tables(erp, world.tables)
    payload = {
        "organization_applications": sorted(world.organization, key=_receipt_key),
        "personal_applications": sorted(world.personal, key=_receipt_key),
    }
    tmp = isa_seed.with_name(f".{isa_seed.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, isa_seed)
    log.info("world advanced to %s: %s", evolution.to_date, dict(evolution.counts))
    return evolution


def read_erp(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Every ERP table's rows (column -> value, dates as stored), in primary-key order."""
    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, columns in ERP_TABLE_COLUMNS.items():
            table = sa.table(name, *(sa.column(column) for column in columns))
            query = sa.select(*table.c).order_by(*(table.c[column] for column in columns[:2]))
            tables[name] = [dict(row) for row in conn.execute(query).mappings()]
    return tables


def write_erp_tables(engine: sa.Engine, tables: Mapping[str, list[dict[str, Any]]]) -> None:
    """Replace the rows of every ERP table in one transaction (children deleted first)."""
    meta = {
        name: sa.table(name, *(sa.column(column) for column in columns))
        for name, columns in ERP_TABLE_COLUMNS.items()
    }
    with engine.begin() as conn:
        for name in reversed(list(ERP_TABLE_COLUMNS)):
            conn.execute(sa.delete(meta[name]))
        for name, table in meta.items():
            rows = tables[name]
            for start in range(0, len(rows), 10_000):
                conn.execute(sa.insert(table), rows[start : start + 10_000])


# --- the world ---------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _receipt_key(app: Mapping[str, Any]) -> str:
    return str(app["receipt_number"])


@dataclass
class _World:
    tables: dict[str, list[dict[str, Any]]]
    organization: list[dict[str, Any]]
    personal: list[dict[str, Any]]
    from_date: date
    days: int
    rng: random.Random
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    decisions: list[Decision] = field(default_factory=list)
    hellowork: list[tuple[str, str]] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    hires: list[str] = field(default_factory=list)
    separations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.to_date = self.from_date + timedelta(days=self.days)
        refs = self.tables["ref_residence_status"]
        self.canonical_of = {str(r["erp_status_code"]): str(r["canonical_code"]) for r in refs}
        self.erp_code_of = {str(r["canonical_code"]): str(r["erp_status_code"]) for r in refs}
        self.bureau_of = {
            str(r["org_code"]): str(r["isa_bureau"]) for r in self.tables["hr_organization"]
        }
        self.employees = {str(r["emp_no"]): r for r in self.tables["hr_employee"]}
        self.card_numbers = {
            str(r["card_no"]) for r in self.tables["hr_residence_card"] if r["card_no"]
        }
        for app in self._applications():
            for number in (
                app.get("new_residence_card_number"),
                (app.get("applicant") or {}).get("residence_card_number"),
            ):
                if number:
                    self.card_numbers.add(str(number))
        self.receipt_seq = max(
            (
                int(match.group(3))
                for app in self._applications()
                if (match := _RECEIPT.match(str(app["receipt_number"])))
            ),
            default=100_000,
        )

    # --- helpers ------------------------------------------------------------------------------

    def _applications(self) -> list[dict[str, Any]]:
        return sorted([*self.organization, *self.personal], key=_receipt_key)

    def _window_day(self, earliest: date | None = None) -> date:
        low = max(1, ((earliest - self.from_date).days if earliest else 1))
        return self.from_date + timedelta(days=self.rng.randint(min(low, self.days), self.days))

    def _updated_at(self, day: date) -> str:
        rng = self.rng
        return (
            f"{day.isoformat()}T{rng.randint(8, 19):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d}+09:00"
        )

    def _new_card_number(self) -> str:
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        while True:
            number = (
                "".join(self.rng.choice(letters) for _ in range(2))
                + f"{self.rng.randrange(10**8):08d}"
                + "".join(self.rng.choice(letters) for _ in range(2))
            )
            if number not in self.card_numbers:
                self.card_numbers.add(number)
                return number

    def _current_cards(self) -> dict[str, list[dict[str, Any]]]:
        cards: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for card in self.tables["hr_residence_card"]:
            if int(card["is_current"]) == 1:
                cards[str(card["emp_no"])].append(card)
        return cards

    def _status_of(self, card: Mapping[str, Any] | None) -> str | None:
        if card is None:
            return None
        return self.canonical_of.get(str(card["status_code"]))

    def _next_id(self, table: str, column: str) -> int:
        return max((int(row[column]) for row in self.tables[table]), default=0) + 1

    def _is_foreign(self, emp_no: str) -> bool:
        return str(self.employees[emp_no]["nationality"]) != JAPANESE_NATIONALITY

    def _term_years(self, status: str) -> int:
        if status.startswith(_ONE_YEAR_TERMS):
            return 1
        return self.rng.choice((1, 3, 3, 5))

    # --- the story ----------------------------------------------------------------------------

    def run(self) -> Evolution:
        self._isa_examines()
        self._hr_files_extensions()
        self._hr_files_hellowork()
        self._hr_fixes_data()
        self._separations()
        self._hires()
        self._timesheets()
        self.tables["hr_employee"].sort(key=lambda row: str(row["emp_no"]))
        return Evolution(
            from_date=self.from_date,
            to_date=self.to_date,
            decisions=tuple(self.decisions),
            counts=dict(self.counts),
            hellowork_filings=tuple(self.hellowork),
            extensions_filed=tuple(self.extensions),
            hires=tuple(self.hires),
            separations=tuple(self.separations),
        )

    def _isa_examines(self) -> None:
        """ISA works through pending applications; HR records most new cards."""
        owner_of_receipt = {
            str(row["receipt_no"]): str(row["emp_no"]) for row in self.tables["hr_visa_application"]
        }
        owner_of_card = {
            str(card["card_no"]): str(card["emp_no"])
            for card in self.tables["hr_residence_card"]
            if card["card_no"]
        }
        decide_probability = 1 - math.exp(-self.days / 40)
        for app in self._applications():
            status = str(app["status"])
            if status not in ISA_PENDING:
                continue
            filed_on = _day(app["filed_on"]) or self.from_date
            if status == "AWAITING_ADDITIONAL_DOCUMENTS":
                if self.rng.random() < 0.7:
                    due = _day(app.get("additional_documents_due")) or self.to_date
                    handed_in = min(self._window_day(), due, self.to_date)
                    handed_in = max(handed_in, self.from_date + timedelta(days=1))
                    app.update(
                        status="UNDER_EXAMINATION",
                        additional_documents_due=None,
                        updated_at=self._updated_at(handed_in),
                    )
                    self.counts["documents_submitted"] += 1
                continue
            age = (self.to_date - filed_on).days
            probability = decide_probability * (1.5 if age > 60 else 1.0) * (0.3 if age < 20 else 1)
            if self.rng.random() >= min(probability, 0.95):
                if status in ("SUBMITTED", "RECEIVED") and self.rng.random() < 0.6:
                    app.update(
                        status="UNDER_EXAMINATION", updated_at=self._updated_at(self._window_day())
                    )
                continue
            applicant_card = (app.get("applicant") or {}).get("residence_card_number")
            emp_no = owner_of_receipt.get(str(app["receipt_number"])) or owner_of_card.get(
                str(applicant_card)
            )
            self._decide(app, emp_no, filed_on)

    def _decide(self, app: dict[str, Any], emp_no: str | None, filed_on: date) -> None:
        decided_on = self._window_day(filed_on + timedelta(days=1))
        roll = self.rng.random()
        if roll < 0.06:
            app.update(
                status="NOT_PERMITTED",
                decided_on=decided_on.isoformat(),
                updated_at=self._updated_at(decided_on),
            )
            self.counts["not_permitted"] += 1
            self.decisions.append(
                Decision(
                    str(app["receipt_number"]), emp_no, "NOT_PERMITTED", decided_on, None, None
                )
            )
            return
        if roll < 0.10:
            app.update(
                status="AWAITING_ADDITIONAL_DOCUMENTS",
                additional_documents_due=(decided_on + timedelta(days=14)).isoformat(),
                updated_at=self._updated_at(decided_on),
            )
            self.counts["documents_requested"] += 1
            return
        cards = self._current_cards().get(emp_no or "", [])
        card = cards[0] if len(cards) == 1 else None
        granted = str(app.get("requested_status") or self._status_of(card) or "")
        if not granted:
            return
        kind = str(app["application_type"])
        old_expiry = _day(card["period_expires_on"]) if card else None
        expiry: date | None = None
        if granted not in NO_FIXED_PERIOD and kind != "certificate_of_eligibility":
            start = old_expiry if old_expiry and old_expiry > decided_on else decided_on
            expiry = _add_months(start, 12 * self._term_years(granted))
        issued_on = decided_on + timedelta(days=self.rng.randint(2, 12))
        app.update(
            decided_on=decided_on.isoformat(),
            granted_status=granted,
            granted_period_expiry=None if expiry is None else expiry.isoformat(),
        )
        self.counts["permitted"] += 1
        if kind == "certificate_of_eligibility" or issued_on > self.to_date:
            app.update(status="PERMITTED", updated_at=self._updated_at(decided_on))
            action = None if kind == "certificate_of_eligibility" else HR_AWAITING_CARD
            self.decisions.append(
                Decision(
                    str(app["receipt_number"]), emp_no, "PERMITTED", decided_on, expiry, action
                )
            )
            return
        new_card = self._new_card_number()
        valid_until = expiry or _add_months(issued_on, 84)
        app.update(
            status="COMPLETED",
            new_residence_card_number=new_card,
            new_card_valid_until=valid_until.isoformat(),
            updated_at=self._updated_at(issued_on),
        )
        self.counts["cards_issued"] += 1
        action = HR_NOT_UPDATED
        if card is not None and emp_no is not None:
            action = self._hr_records_card(
                emp_no, card, granted, expiry, new_card, valid_until, issued_on
            )
        else:
            self.counts["hr_not_updated"] += 1
        self.decisions.append(
            Decision(str(app["receipt_number"]), emp_no, "COMPLETED", decided_on, expiry, action)
        )

    def _hr_records_card(
        self,
        emp_no: str,
        card: dict[str, Any],
        granted: str,
        expiry: date | None,
        new_card: str,
        valid_until: date,
        issued_on: date,
    ) -> str:
        roll = self.rng.random()
        old_status = self._status_of(card)
        changed = granted != old_status
        if roll >= 0.88:
            self.counts["hr_not_updated"] += 1
            return HR_NOT_UPDATED
        if roll >= 0.78:  # half done
            self.counts["hr_partial"] += 1
            if changed:
                action = HR_STATUS_NOT_CHANGED
                granted = old_status or granted
            else:
                card["period_expires_on"] = None if expiry is None else expiry.isoformat()
                card["card_valid_until"] = valid_until.isoformat()
                return HR_EXPIRY_ONLY
        else:
            action = HR_UPDATED
            self.counts["hr_updated"] += 1
        card["is_current"] = 0
        org = str(self.employees[emp_no]["org_code"])
        tied = granted in TIED_TO_DESIGNATED_ORGANIZATION or granted == _DESIGNATED_ACTIVITIES
        self.tables["hr_residence_card"].append(
            {
                "card_id": self._next_id("hr_residence_card", "card_id"),
                "emp_no": emp_no,
                "card_no": new_card,
                "status_code": self.erp_code_of.get(granted, str(card["status_code"])),
                "period_expires_on": None if expiry is None else expiry.isoformat(),
                "card_valid_until": valid_until.isoformat(),
                "issued_on": issued_on.isoformat(),
                # a new status ends the old outside-status permission
                "permission_kind": "NASHI" if changed else card["permission_kind"],
                "designation_work_ok": (
                    (1 if granted == _DESIGNATED_ACTIVITIES else None)
                    if changed
                    else card["designation_work_ok"]
                ),
                "designated_org_code": org if tied else None,
                "is_current": 1,
            }
        )
        return action

    def _pending_by_employee(self) -> set[str]:
        pending_receipts = {
            str(app["receipt_number"])
            for app in self._applications()
            if app["status"] in ISA_PENDING
        }
        pending_cards = {
            str((app.get("applicant") or {}).get("residence_card_number"))
            for app in self._applications()
            if app["status"] in ISA_PENDING
        }
        employees = {
            str(row["emp_no"])
            for row in self.tables["hr_visa_application"]
            if str(row["receipt_no"]) in pending_receipts
        }
        employees.update(
            str(card["emp_no"])
            for card in self.tables["hr_residence_card"]
            if card["is_current"] and str(card["card_no"]) in pending_cards
        )
        return employees

    def _hr_files_extensions(self) -> None:
        """HR files extensions for some of the expiries that come within three months."""
        pending = self._pending_by_employee()
        probability = min(0.8, self.days / 60)
        for emp_no, cards in sorted(self._current_cards().items()):
            employee = self.employees[emp_no]
            if len(cards) != 1 or emp_no in pending or employee["emp_status"] == "T":
                continue
            card = cards[0]
            expiry = _day(card["period_expires_on"])
            status = self._status_of(card)
            if expiry is None or status is None or not card["card_no"]:
                continue
            if not self.from_date < expiry <= self.to_date + timedelta(days=90):
                continue
            if self.rng.random() >= probability:
                continue
            earliest = max(self.from_date + timedelta(days=1), expiry - timedelta(days=90))
            filed_on = self._window_day(earliest)
            if filed_on >= expiry:
                continue
            self.receipt_seq += self.rng.randint(1, 37)
            bureau = self.bureau_of.get(str(employee["org_code"]), "TKY")
            receipt = f"{filed_on.year}-{bureau}-{self.receipt_seq:07d}"
            personal = self.rng.random() < 0.2
            app = {
                "receipt_number": receipt,
                "application_type": "extension",
                "status": "RECEIVED",
                "filed_on": filed_on.isoformat(),
                "decided_on": None,
                "applicant": {
                    "full_name": f"{employee['family_name']} {employee['given_name']}",
                    "date_of_birth": str(employee["birth_date"]),
                    "nationality": employee["nationality"],
                    "residence_card_number": card["card_no"],
                },
                "requested_status": status,
                "granted_status": None,
                "granted_period_expiry": None,
                "new_residence_card_number": None,
                "new_card_valid_until": None,
                "additional_documents_due": None,
                "updated_at": self._updated_at(filed_on),
            }
            (self.personal if personal else self.organization).append(app)
            self.tables["hr_visa_application"].append(
                {
                    "application_id": self._next_id("hr_visa_application", "application_id"),
                    "emp_no": emp_no,
                    "receipt_no": receipt,
                    "application_kind": "KOSHIN",
                    "filed_on": filed_on.isoformat(),
                    "filed_by": "employee" if personal else "company",
                }
            )
            self.extensions.append(receipt)
            self.counts["extensions_filed"] += 1

    def _hr_files_hellowork(self) -> None:
        """HR catches up on some missing Hello Work notifications."""
        filed = {
            (str(row["emp_no"]), str(row["filing_kind"]))
            for row in self.tables["hr_hellowork_filing"]
        }
        current = self._current_cards()
        for emp_no, employee in sorted(self.employees.items()):
            cards = current.get(emp_no, [])
            if not self._is_foreign(emp_no) or any(
                self._status_of(card) == _SPECIAL_PERMANENT for card in cards
            ):
                continue
            due: list[tuple[str, date | None]] = [("hire", _day(employee["hired_on"]))]
            if employee["emp_status"] == "T":
                due.append(("separation", _day(employee["left_on"])))
            for kind, event_day in due:
                if event_day is None or event_day >= self.from_date or (emp_no, kind) in filed:
                    continue
                if self.rng.random() >= 0.6:
                    continue
                self._file_hellowork(emp_no, kind, self._window_day())
                self.hellowork.append((emp_no, kind))
                self.counts["hellowork_filed"] += 1

    def _file_hellowork(self, emp_no: str, kind: str, filed_on: date) -> None:
        self.tables["hr_hellowork_filing"].append(
            {
                "filing_id": self._next_id("hr_hellowork_filing", "filing_id"),
                "emp_no": emp_no,
                "filing_kind": kind,
                "filed_on": filed_on.isoformat(),
            }
        )

    def _hr_fixes_data(self) -> None:
        """HR corrects about half of the data-quality faults it has."""
        enrolled = {str(row["emp_no"]) for row in self.tables["hr_student_enrollment"]}
        schools = sorted({str(row["school_name"]) for row in self.tables["hr_student_enrollment"]})
        known = sorted(self.canonical_of, key=len, reverse=True)
        for emp_no, cards in sorted(self._current_cards().items()):
            if len(cards) > 1 and self.rng.random() < 0.5:
                keep = max(cards, key=lambda c: (str(c["issued_on"] or ""), int(c["card_id"])))
                for card in cards:
                    if card is not keep:
                        card["is_current"] = 0
                self.counts["data_fixed"] += 1
                cards = [keep]
            for card in cards:
                number = card["card_no"]
                if number and not CARD_NUMBER_PATTERN.fullmatch(str(number)):
                    if self.rng.random() < 0.5:
                        card["card_no"] = self._new_card_number()
                        self.counts["data_fixed"] += 1
                code = str(card["status_code"])
                if code not in self.canonical_of:
                    fix = next((k for k in known if code.startswith(k)), None)
                    if fix is not None and self.rng.random() < 0.5:
                        card["status_code"] = fix
                        self.counts["data_fixed"] += 1
                status = self._status_of(card)
                if (
                    card["period_expires_on"] is None
                    and status is not None
                    and status not in NO_FIXED_PERIOD
                    and card["card_valid_until"] is not None
                    and self.rng.random() < 0.5
                ):
                    card["period_expires_on"] = card["card_valid_until"]
                    self.counts["data_fixed"] += 1
                if (
                    status == "student"
                    and emp_no not in enrolled
                    and schools
                    and self.rng.random() < 0.5
                ):
                    start = (_day(card["issued_on"]) or self.from_date) + timedelta(days=7)
                    self.tables["hr_student_enrollment"].append(
                        {
                            "enrollment_id": self._next_id(
                                "hr_student_enrollment", "enrollment_id"
                            ),
                            "emp_no": emp_no,
                            "school_name": self.rng.choice(schools),
                            "enrolled_from": start.isoformat(),
                            "enrolled_until": _add_months(self.to_date, 18).isoformat(),
                        }
                    )
                    enrolled.add(emp_no)
                    self.counts["data_fixed"] += 1

    def _active_foreign(self) -> list[str]:
        return [
            emp_no
            for emp_no, employee in sorted(self.employees.items())
            if employee["emp_status"] == "A" and self._is_foreign(emp_no)
        ]

    def _separations(self) -> None:
        probability = 0.008 * self.days / 30
        for emp_no in self._active_foreign():
            if self.rng.random() >= probability:
                continue
            employee = self.employees[emp_no]
            left_on = self._window_day()
            employee.update(emp_status="T", left_on=left_on.isoformat())
            self.separations.append(emp_no)
            self.counts["separations"] += 1
            notify = left_on + timedelta(days=self.rng.randint(1, 9))
            if notify <= self.to_date and self.rng.random() < 0.7:
                self._file_hellowork(emp_no, "separation", notify)

    def _hires(self) -> None:
        active = self._active_foreign()
        current = self._current_cards()
        templates = [
            emp_no
            for emp_no in active
            if len(current.get(emp_no, [])) == 1
            and (status := self._status_of(current[emp_no][0])) is not None
            and status not in NO_FIXED_PERIOD
            and status not in ("student", "dependent", _DESIGNATED_ACTIVITIES)
            and current[emp_no][0]["card_no"]
        ]
        if not templates:
            return
        count = sum(self.rng.random() < 0.01 * self.days / 30 for _ in active)
        count = max(count, 1 if self.days >= 7 else 0)
        names: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for emp_no in active:
            names[str(self.employees[emp_no]["nationality"])].append(self.employees[emp_no])
        orgs = sorted(self.bureau_of)
        next_no = max(int(emp_no[1:]) for emp_no in self.employees if emp_no[1:].isdigit()) + 1
        for _ in range(count):
            template_no = self.rng.choice(templates)
            template = self.employees[template_no]
            template_card = current[template_no][0]
            status = self._status_of(template_card) or ""
            pool = names[str(template["nationality"])]
            emp_no = f"E{next_no:06d}"
            next_no += 1
            org = self.rng.choice(orgs)
            hired_on = self._window_day()
            employee = {
                "emp_no": emp_no,
                "org_code": org,
                "family_name": self.rng.choice(pool)["family_name"],
                "given_name": self.rng.choice(pool)["given_name"],
                "nationality": template["nationality"],
                "birth_date": (
                    hired_on - timedelta(days=self.rng.randint(22 * 365, 40 * 365))
                ).isoformat(),
                "emp_status": "A",
                "hired_on": hired_on.isoformat(),
                "left_on": None,
                "job_code": template["job_code"],
                "koyo_hoken": 1,
                "compliance_owner_email": None,
            }
            self.tables["hr_employee"].append(employee)
            self.employees[emp_no] = employee
            issued = hired_on - timedelta(days=self.rng.randint(10, 200))
            expiry = _add_months(issued, 12 * self._term_years(status))
            tied = status in TIED_TO_DESIGNATED_ORGANIZATION
            self.tables["hr_residence_card"].append(
                {
                    "card_id": self._next_id("hr_residence_card", "card_id"),
                    "emp_no": emp_no,
                    "card_no": self._new_card_number(),
                    "status_code": template_card["status_code"],
                    "period_expires_on": expiry.isoformat(),
                    "card_valid_until": expiry.isoformat(),
                    "issued_on": issued.isoformat(),
                    "permission_kind": "NASHI",
                    "designation_work_ok": None,
                    "designated_org_code": org if tied else None,
                    "is_current": 1,
                }
            )
            notify = hired_on + timedelta(days=self.rng.randint(1, 12))
            if notify <= self.to_date and self.rng.random() < 0.7:
                self._file_hellowork(emp_no, "hire", notify)
            self.hires.append(emp_no)
            self.counts["hires"] += 1

    def _timesheets(self) -> None:
        """Part-time workers keep their weekly pattern; one student overdoes a week."""
        rows = self.tables["pay_timesheet"]
        recent: dict[str, set[int]] = defaultdict(set)
        window_start = self.from_date - timedelta(days=28)
        for row in rows:
            work_date = _day(row["work_date"])
            if work_date is not None and window_start < work_date <= self.from_date:
                recent[str(row["emp_no"])].add(work_date.weekday())
        current = self._current_cards()
        workers = [
            emp_no
            for emp_no in sorted(recent)
            if self.employees[emp_no]["emp_status"] == "A"
            and any(card["permission_kind"] == "HOKATSU" for card in current.get(emp_no, []))
        ]
        new_rows: list[dict[str, Any]] = []
        for emp_no in workers:
            weekdays = sorted(recent[emp_no])
            if len(weekdays) > 4:
                weekdays = sorted(self.rng.sample(weekdays, 4))
            for offset in range(1, self.days + 1):
                day = self.from_date + timedelta(days=offset)
                if day.weekday() in weekdays and self.rng.random() > 0.1:
                    hours = self.rng.choice((3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0))
                    new_rows.append(_timesheet_row(emp_no, day, hours))
        if workers and self.days >= 7:
            overworker = self.rng.choice(workers)
            start = self.to_date - timedelta(days=6)
            new_rows = [
                row
                for row in new_rows
                if not (row["emp_no"] == overworker and row["work_date"] >= start.isoformat())
            ]
            new_rows.extend(
                _timesheet_row(overworker, start + timedelta(days=offset), 7.0)
                for offset in range(5)
            )
            self.counts["overtime_weeks"] += 1
        rows.extend(new_rows)
        rows.sort(key=lambda row: (str(row["emp_no"]), str(row["work_date"])))
        self.counts["timesheet_days"] += len(new_rows)


def _timesheet_row(emp_no: str, day: date, hours: float) -> dict[str, Any]:
    return {
        "emp_no": emp_no,
        "work_date": day.isoformat(),
        "hours_worked": hours,
        "long_vacation": 0,
    }

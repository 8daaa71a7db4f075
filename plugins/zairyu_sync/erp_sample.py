"""A deterministic, realistic sample ERP (payroll/HR database) and the matching ISA dataset.

:func:`generate_sample` builds, from a seed and an as-of date, the rows of every table in
``sql/erp/schema.sql`` plus the applications the ISA status API knows of. Most employees are
clean; a known, small share of them is *seeded* with each situation of contract.md section 4
(and with data-quality faults validation must quarantine), every situation at least once even for
small samples. :func:`expected_situations` returns that seeded ground truth per rule code.

:func:`write_erp` loads the rows into any SQLAlchemy engine (SQLite, PostgreSQL) and
:func:`write_isa_seed` writes the API simulator's seed file.
"""

from __future__ import annotations

import calendar
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from zairyu_sync.canonical import NO_FIXED_PERIOD, TIED_TO_DESIGNATED_ORGANIZATION
from zairyu_sync.sqlfiles import load_sql, split_statements

log = logging.getLogger(__name__)

#: ERP tables in insert order (parents first) and their columns.
ERP_TABLE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "hr_organization": (
        "org_code",
        "org_name",
        "prefecture",
        "isa_bureau",
        "compliance_owner_email",
    ),
    "ref_residence_status": ("erp_status_code", "label_ja", "canonical_code", "work_class"),
    "hr_employee": (
        "emp_no",
        "org_code",
        "family_name",
        "given_name",
        "nationality",
        "birth_date",
        "emp_status",
        "hired_on",
        "left_on",
        "job_code",
        "koyo_hoken",
        "compliance_owner_email",
    ),
    "hr_residence_card": (
        "card_id",
        "emp_no",
        "card_no",
        "status_code",
        "period_expires_on",
        "card_valid_until",
        "issued_on",
        "permission_kind",
        "designation_work_ok",
        "designated_org_code",
        "is_current",
    ),
    "hr_student_enrollment": (
        "enrollment_id",
        "emp_no",
        "school_name",
        "enrolled_from",
        "enrolled_until",
    ),
    "hr_visa_application": (
        "application_id",
        "emp_no",
        "receipt_no",
        "application_kind",
        "filed_on",
        "filed_by",
    ),
    "pay_timesheet": ("emp_no", "work_date", "hours_worked", "long_vacation"),
    "hr_hellowork_filing": ("filing_id", "emp_no", "filing_kind", "filed_on"),
}

#: Keys of one ISA application object (contract.md section 1), in order.
ISA_APPLICATION_KEYS: tuple[str, ...] = (
    "receipt_number",
    "application_type",
    "status",
    "filed_on",
    "decided_on",
    "applicant",
    "requested_status",
    "granted_status",
    "granted_period_expiry",
    "new_residence_card_number",
    "new_card_valid_until",
    "additional_documents_due",
    "updated_at",
)
ISA_APPLICANT_KEYS: tuple[str, ...] = (
    "full_name",
    "date_of_birth",
    "nationality",
    "residence_card_number",
)

# --- reference data ---------------------------------------------------------------------------

# canonical code -> (ERP code, Japanese label, work class)
_ERP_STATUS: Mapping[str, tuple[str, str, str]] = {
    "diplomat": ("GAIKO", "外交", "within_status"),
    "official": ("KOYO", "公用", "within_status"),
    "professor": ("KYOJU", "教授", "within_status"),
    "artist": ("GEIJUTSU", "芸術", "within_status"),
    "religious_activities": ("SHUKYO", "宗教", "within_status"),
    "journalist": ("HODO", "報道", "within_status"),
    "highly_skilled_professional_i": ("KODO1", "高度専門職1号", "within_status"),
    "highly_skilled_professional_ii": ("KODO2", "高度専門職2号", "within_status"),
    "business_manager": ("KEIEI", "経営・管理", "within_status"),
    "legal_accounting_services": ("HOKAI", "法律・会計業務", "within_status"),
    "medical_services": ("IRYO", "医療", "within_status"),
    "researcher": ("KENKYU", "研究", "within_status"),
    "instructor": ("KYOIKU", "教育", "within_status"),
    "engineer_specialist_humanities_international": (
        "GIJINKOKU",
        "技術・人文知識・国際業務",
        "within_status",
    ),
    "intra_company_transferee": ("TENKIN", "企業内転勤", "within_status"),
    "nursing_care": ("KAIGO", "介護", "within_status"),
    "entertainer": ("KOGYO", "興行", "within_status"),
    "skilled_labor": ("GINO", "技能", "within_status"),
    "specified_skilled_worker_i": ("TOKUGI1", "特定技能1号", "within_status"),
    "specified_skilled_worker_ii": ("TOKUGI2", "特定技能2号", "within_status"),
    "technical_intern_training_i": ("JISSHU1", "技能実習1号", "within_status"),
    "technical_intern_training_ii": ("JISSHU2", "技能実習2号", "within_status"),
    "technical_intern_training_iii": ("JISSHU3", "技能実習3号", "within_status"),
    "employment_for_skill_development": ("IKUSEI", "育成就労", "within_status"),
    "cultural_activities": ("BUNKA", "文化活動", "not_permitted"),
    "temporary_visitor": ("TANKI", "短期滞在", "not_permitted"),
    "student": ("RYUGAKU", "留学", "not_permitted"),
    "trainee": ("KENSHU", "研修", "not_permitted"),
    "dependent": ("KAZOKU", "家族滞在", "not_permitted"),
    "designated_activities": ("TOKKATSU", "特定活動", "designation"),
    "permanent_resident": ("EIJU", "永住者", "unrestricted"),
    "special_permanent_resident": ("TOKUEI", "特別永住者", "unrestricted"),
    "spouse_or_child_of_japanese": ("NIHAI", "日本人の配偶者等", "unrestricted"),
    "spouse_or_child_of_permanent_resident": ("EIHAI", "永住者の配偶者等", "unrestricted"),
    "long_term_resident": ("TEIJU", "定住者", "unrestricted"),
}
#: An ERP code HR typed in that the code list does not know (a data-quality fault).
UNKNOWN_ERP_STATUS_CODE = "TOKKATSU46"

_ORGANIZATIONS: tuple[tuple[str, str, str, str, str, int], ...] = (
    # org_code, name, prefecture, ISA bureau, compliance owner, weight
    ("TKY01", "本社（東京）", "東京都", "TKY", "hr-tokyo@example.co.jp", 28),
    ("OSK01", "大阪工場", "大阪府", "OSK", "hr-osaka@example.co.jp", 20),
    ("NGY01", "名古屋工場", "愛知県", "NGY", "hr-nagoya@example.co.jp", 24),
    ("FKO01", "福岡物流センター", "福岡県", "FKO", "hr-fukuoka@example.co.jp", 14),
    ("SND01", "仙台食品工場", "宮城県", "SND", "hr-sendai@example.co.jp", 14),
)
_GLOBAL_MOBILITY_OWNER = "global-mobility@example.co.jp"

# nationality -> (family names, given names), romanised as on the card
_NAMES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "VNM": (
        ("NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "VU", "DANG", "BUI", "DO", "NGO", "DUONG"),
        (
            "VAN AN",
            "THI HOA",
            "DUC MINH",
            "THI LAN",
            "QUANG HUY",
            "THI MAI",
            "VAN HUNG",
            "THANH TUNG",
            "THI THU",
            "MINH KHOA",
            "NGOC ANH",
            "HOANG NAM",
        ),
    ),
    "CHN": (
        ("WANG", "LI", "ZHANG", "LIU", "CHEN", "YANG", "ZHAO", "HUANG", "ZHOU", "WU", "SUN"),
        ("WEI", "FANG", "JING", "LEI", "XIUYING", "HAO", "YAN", "JUN", "LINA", "MING", "XIAOYU"),
    ),
    "PHL": (
        ("SANTOS", "REYES", "CRUZ", "BAUTISTA", "GARCIA", "MENDOZA", "DELA CRUZ", "RAMOS"),
        ("MARIA CLARA", "JOHN PAUL", "ANGELICA", "MARK ANTHONY", "JOY", "CHRISTIAN", "KRISTINE"),
    ),
    "NPL": (
        ("SHRESTHA", "GURUNG", "TAMANG", "RAI", "MAGAR", "THAPA", "KARKI", "ADHIKARI", "KC"),
        ("BIKASH", "SITA", "RAM BAHADUR", "ANITA", "SURESH", "SABINA", "PRAKASH", "SUNITA"),
    ),
    "IDN": (
        ("SAPUTRA", "WIJAYA", "SANTOSO", "PRATAMA", "HIDAYAT", "SETIAWAN", "KURNIAWAN"),
        ("AGUS", "DEWI", "RINA", "BUDI", "SITI NURHALIZA", "EKO", "PUTRI", "ARIF", "INDAH"),
    ),
    "BRA": (
        ("SILVA", "SANTOS", "OLIVEIRA", "SOUZA", "PEREIRA", "COSTA", "NAKAMURA", "YAMAMOTO"),
        ("LUCAS", "ANA PAULA", "RAFAEL", "JULIANA", "MARCOS", "FERNANDA", "THIAGO", "CAMILA"),
    ),
    "KOR": (
        ("KIM", "LEE", "PARK", "CHOI", "JUNG", "KANG", "CHO", "YOON"),
        ("MINJUN", "SEOYEON", "JIHOON", "HYEJIN", "SUNGHO", "JIYOUNG", "DONGHYUN", "EUNJI"),
    ),
    "MMR": (
        ("AUNG", "KYAW", "ZAW", "THEIN", "HTET", "WIN", "MYINT"),
        ("KYAW ZIN", "SU MYAT", "THIHA", "NANDAR", "MIN HTET", "EI PHYU", "ZAW LIN"),
    ),
    "THA": (
        ("SUKSAWAT", "WONGSAWAT", "CHAIYAPORN", "SRISUK", "BOONMA"),
        ("SOMCHAI", "NATTAYA", "KITTI", "PORNPIMOL", "ANAN", "SIRIPORN"),
    ),
    "LKA": (
        ("PERERA", "FERNANDO", "SILVA", "JAYASINGHE", "BANDARA", "DISSANAYAKE"),
        ("KASUN", "NIMALI", "CHAMARA", "DILANI", "RUWAN", "SANDUNI"),
    ),
    "IND": (
        ("SHARMA", "PATEL", "SINGH", "KUMAR", "IYER", "REDDY"),
        ("RAHUL", "PRIYA", "ARJUN", "DEEPIKA", "VIKRAM", "ANANYA"),
    ),
    "BGD": (
        ("HOSSAIN", "RAHMAN", "ISLAM", "AHMED", "UDDIN"),
        ("MOHAMMAD", "FATEMA", "RAKIB", "NUSRAT", "TANVIR"),
    ),
    "USA": (
        ("SMITH", "JOHNSON", "BROWN", "MILLER", "DAVIS", "WILSON"),
        ("MICHAEL", "EMILY", "DANIEL", "SARAH", "CHRISTOPHER", "JESSICA"),
    ),
    "PER": (
        ("QUISPE", "FLORES", "RODRIGUEZ", "HIGA", "GUSHIKEN"),
        ("JOSE LUIS", "CARMEN", "JUAN CARLOS", "ROSA", "LUIS ALBERTO"),
    ),
    "JPN": (
        (
            "SATO",
            "SUZUKI",
            "TAKAHASHI",
            "TANAKA",
            "WATANABE",
            "ITO",
            "YAMAMOTO",
            "NAKAMURA",
            "KOBAYASHI",
            "KATO",
        ),
        ("HIROSHI", "YUKI", "KENJI", "AYAKA", "TAKUYA", "MISAKI", "DAISUKE", "NAOMI", "SHO"),
    ),
}

# Roughly the MHLW October 2025 mix (domain.md section 8) for the general workforce.
_GENERAL_MIX: tuple[tuple[str, int], ...] = (
    ("VNM", 24),
    ("CHN", 17),
    ("PHL", 10),
    ("NPL", 9),
    ("IDN", 9),
    ("BRA", 5),
    ("KOR", 4),
    ("MMR", 4),
    ("THA", 3),
    ("LKA", 2),
    ("IND", 2),
    ("BGD", 1),
    ("USA", 2),
    ("PER", 1),
)
_TRAINEE_MIX: tuple[tuple[str, int], ...] = (
    ("VNM", 45),
    ("IDN", 20),
    ("PHL", 12),
    ("MMR", 10),
    ("CHN", 8),
    ("NPL", 3),
    ("THA", 2),
)
_STUDENT_MIX: tuple[tuple[str, int], ...] = (
    ("VNM", 30),
    ("NPL", 25),
    ("CHN", 25),
    ("LKA", 7),
    ("MMR", 7),
    ("BGD", 6),
)
_DEPENDENT_MIX: tuple[tuple[str, int], ...] = (("NPL", 40), ("CHN", 30), ("VNM", 20), ("IND", 10))
_LONG_TERM_MIX: tuple[tuple[str, int], ...] = (("BRA", 50), ("PHL", 25), ("PER", 15), ("CHN", 10))

_OFFICE_JOBS = ("ENG-SE", "ENG-QA", "ENG-MECH", "ADM-INTL", "SLS-OVS")
_FLOOR_JOBS = ("MFG-FOOD", "MFG-WELD", "MFG-ASSY", "LOG-WH", "CONST-02")
_PART_TIME_JOBS = ("PT-STORE", "PT-KITCHEN", "PT-LOGI")


@dataclass(frozen=True)
class _StatusProfile:
    weight: float
    mix: tuple[tuple[str, int], ...]
    jobs: tuple[str, ...]
    terms: tuple[int, ...]  # period-of-stay lengths in years; () = no fixed period
    insured: float  # probability of employment insurance
    ages: tuple[int, int]


_PROFILES: Mapping[str, _StatusProfile] = {
    "engineer_specialist_humanities_international": _StatusProfile(
        22, _GENERAL_MIX, _OFFICE_JOBS, (1, 3, 5), 1.0, (22, 50)
    ),
    "specified_skilled_worker_i": _StatusProfile(
        14, _TRAINEE_MIX, _FLOOR_JOBS, (1,), 1.0, (21, 40)
    ),
    "specified_skilled_worker_ii": _StatusProfile(
        1, _TRAINEE_MIX, _FLOOR_JOBS, (1, 3), 1.0, (25, 45)
    ),
    "technical_intern_training_i": _StatusProfile(
        4, _TRAINEE_MIX, _FLOOR_JOBS, (1,), 1.0, (19, 32)
    ),
    "technical_intern_training_ii": _StatusProfile(
        9, _TRAINEE_MIX, _FLOOR_JOBS, (1, 2), 1.0, (20, 34)
    ),
    "technical_intern_training_iii": _StatusProfile(
        3, _TRAINEE_MIX, _FLOOR_JOBS, (1, 2), 1.0, (22, 36)
    ),
    "permanent_resident": _StatusProfile(
        12, _GENERAL_MIX, _OFFICE_JOBS + _FLOOR_JOBS, (), 0.95, (28, 62)
    ),
    "spouse_or_child_of_japanese": _StatusProfile(
        4, _GENERAL_MIX, _OFFICE_JOBS + _FLOOR_JOBS, (1, 3, 5), 0.8, (25, 55)
    ),
    "spouse_or_child_of_permanent_resident": _StatusProfile(
        1, _GENERAL_MIX, _FLOOR_JOBS, (1, 3), 0.8, (22, 50)
    ),
    "long_term_resident": _StatusProfile(4, _LONG_TERM_MIX, _FLOOR_JOBS, (1, 3, 5), 0.9, (22, 58)),
    "special_permanent_resident": _StatusProfile(
        1, (("KOR", 1),), _OFFICE_JOBS + _FLOOR_JOBS, (), 1.0, (25, 64)
    ),
    "student": _StatusProfile(10, _STUDENT_MIX, _PART_TIME_JOBS, (1, 2), 0.0, (19, 29)),
    "dependent": _StatusProfile(3, _DEPENDENT_MIX, _PART_TIME_JOBS, (1, 3), 0.1, (22, 45)),
    "designated_activities": _StatusProfile(3, _GENERAL_MIX, _OFFICE_JOBS, (1,), 1.0, (22, 32)),
    "skilled_labor": _StatusProfile(
        1, (("CHN", 3), ("NPL", 2), ("IND", 1)), ("FNB-COOK",), (1, 3, 5), 1.0, (25, 55)
    ),
    "intra_company_transferee": _StatusProfile(
        1, _GENERAL_MIX, _OFFICE_JOBS, (1, 3, 5), 1.0, (26, 55)
    ),
    "highly_skilled_professional_i": _StatusProfile(
        1, _GENERAL_MIX, _OFFICE_JOBS, (5,), 1.0, (27, 50)
    ),
    "highly_skilled_professional_ii": _StatusProfile(
        0.3, _GENERAL_MIX, _OFFICE_JOBS, (), 1.0, (32, 55)
    ),
    "nursing_care": _StatusProfile(1, _TRAINEE_MIX, ("CARE-01",), (1, 3, 5), 1.0, (23, 45)),
    "business_manager": _StatusProfile(0.5, _GENERAL_MIX, ("MGT-01",), (1, 3), 1.0, (30, 60)),
    "instructor": _StatusProfile(0.5, _GENERAL_MIX, ("EDU-LANG",), (1, 3), 1.0, (25, 55)),
    "researcher": _StatusProfile(0.3, _GENERAL_MIX, ("RND-01",), (1, 3), 1.0, (27, 55)),
}
# The status a current card most plausibly replaced (for card history and change applications).
_PREVIOUS_STATUS: Mapping[str, str] = {
    "engineer_specialist_humanities_international": "student",
    "specified_skilled_worker_i": "technical_intern_training_ii",
    "specified_skilled_worker_ii": "specified_skilled_worker_i",
    "technical_intern_training_ii": "technical_intern_training_i",
    "technical_intern_training_iii": "technical_intern_training_ii",
    "permanent_resident": "engineer_specialist_humanities_international",
    "highly_skilled_professional_i": "engineer_specialist_humanities_international",
    "highly_skilled_professional_ii": "highly_skilled_professional_i",
    "designated_activities": "student",
    "nursing_care": "student",
}
_SCHOOLS = (
    "東京国際日本語学院",
    "大阪ビジネスカレッジ",
    "名古屋情報専門学校",
    "福岡外語専門学校",
    "東北経済大学",
)
_APPLICATION_KIND_CODES: Mapping[str, str] = {
    "extension": "KOSHIN",
    "change": "HENKO",
    "acquisition": "SHUTOKU",
    "certificate_of_eligibility": "NINTEI",
}


@dataclass(frozen=True)
class _Scenario:
    """A seeded situation: its name, the rule codes it must trigger and its share of employees."""

    name: str
    rule_codes: tuple[str, ...]
    share: float


#: Every seeded situation. Names without rule codes are seeded *negative* cases (must not fire).
SCENARIOS: tuple[_Scenario, ...] = (
    _Scenario("STATUS_EXPIRED", ("STATUS_EXPIRED",), 0.005),
    _Scenario("STATUS_EXPIRED_FILED_LATE", ("STATUS_EXPIRED",), 0.002),
    _Scenario("STATUS_EXPIRED_SPECIAL_PERIOD_OVER", ("STATUS_EXPIRED",), 0.002),
    _Scenario("SPECIAL_PERIOD", ("SPECIAL_PERIOD",), 0.01),
    _Scenario("SPECIAL_PERIOD_CRITICAL", ("SPECIAL_PERIOD",), 0.005),
    _Scenario("EXPIRY_APPROACHING", ("EXPIRY_APPROACHING",), 0.014),
    _Scenario("EXPIRY_APPROACHING_CRITICAL", ("EXPIRY_APPROACHING",), 0.006),
    _Scenario("EXPIRY_APPROACHING_COVERED", (), 0.02),
    _Scenario("WORK_NOT_PERMITTED_STUDENT", ("WORK_NOT_PERMITTED",), 0.003),
    _Scenario("WORK_NOT_PERMITTED_DEPENDENT", ("WORK_NOT_PERMITTED",), 0.002),
    _Scenario("WORK_NOT_PERMITTED_DESIGNATED", ("WORK_NOT_PERMITTED",), 0.002),
    _Scenario("APPLICATION_DENIED", ("APPLICATION_DENIED",), 0.004),
    _Scenario("STATUS_MISMATCH", ("STATUS_MISMATCH",), 0.004),
    _Scenario("EXPIRY_MISMATCH", ("EXPIRY_MISMATCH",), 0.007),
    _Scenario("CARD_NUMBER_STALE", ("CARD_NUMBER_STALE",), 0.008),
    _Scenario("APPLICATION_NOT_FOUND", ("APPLICATION_NOT_FOUND",), 0.004),
    _Scenario("APPLICATION_UNTRACKED", ("APPLICATION_UNTRACKED",), 0.004),
    _Scenario("ADDITIONAL_DOCUMENTS_REQUESTED", ("ADDITIONAL_DOCUMENTS_REQUESTED",), 0.007),
    _Scenario("APPLICATION_PENDING_LONG", ("APPLICATION_PENDING_LONG",), 0.005),
    _Scenario("CARD_RENEWAL_DUE", ("CARD_RENEWAL_DUE",), 0.006),
    _Scenario("CARD_RENEWAL_DUE_PASSED", ("CARD_RENEWAL_DUE",), 0.003),
    _Scenario("CARD_RENEWAL_DUE_HSP2", ("CARD_RENEWAL_DUE",), 0.001),
    _Scenario("STUDENT_NOT_ENROLLED", ("STUDENT_NOT_ENROLLED",), 0.005),
    _Scenario("DESIGNATED_ORGANIZATION_MISMATCH", ("DESIGNATED_ORGANIZATION_MISMATCH",), 0.005),
    _Scenario("HELLOWORK_HIRE_OVERDUE", ("HELLOWORK_HIRE_OVERDUE",), 0.01),
    _Scenario("HELLOWORK_HIRE_OVERDUE_UNINSURED", ("HELLOWORK_HIRE_OVERDUE",), 0.004),
    _Scenario("HELLOWORK_SEPARATION_OVERDUE", ("HELLOWORK_SEPARATION_OVERDUE",), 0.01),
    _Scenario("HOURS_LIMIT_EXCEEDED", ("HOURS_LIMIT_EXCEEDED",), 0.007),
    _Scenario("HOURS_LIMIT_EXCEEDED_DEPENDENT", ("HOURS_LIMIT_EXCEEDED",), 0.003),
    _Scenario("HOURS_LIMIT_EXCEEDED_LONG_VACATION_DAY", ("HOURS_LIMIT_EXCEEDED",), 0.003),
    _Scenario("LONG_VACATION_WITHIN_LIMIT", (), 0.01),
    _Scenario("DQ_MALFORMED_CARD_NUMBER", ("DATA_QUALITY",), 0.005),
    _Scenario("DQ_MISSING_EXPIRY", ("DATA_QUALITY",), 0.004),
    _Scenario("DQ_UNKNOWN_STATUS", ("DATA_QUALITY",), 0.003),
    _Scenario("DQ_DUPLICATE_CURRENT_CARD", ("DATA_QUALITY",), 0.003),
    _Scenario("DQ_STUDENT_WITHOUT_ENROLLMENT", ("DATA_QUALITY",), 0.003),
)
CLEAN = "CLEAN"
JAPANESE_STAFF = "JAPANESE_STAFF"


# --- the generated sample ---------------------------------------------------------------------


@dataclass(frozen=True)
class SampleErp:
    """A generated sample ERP and the ISA applications consistent with it.

    Attributes:
        as_of: the date the situations were seeded relative to.
        seed: the random seed used.
        tables: ERP table name -> rows (column -> value; dates as ISO text).
        organization_applications: ISA applications filed through the company's account
            (returned by the API's listing), including the ones the ERP has not recorded.
        personal_applications: ISA applications filed by employees themselves (reachable only by
            receipt number).
        scenarios: scenario name (see :data:`SCENARIOS`, plus ``CLEAN`` and ``JAPANESE_STAFF``)
            -> employee ids seeded with it.
        unmatched_untracked_receipts: receipt numbers of ISA applications the ERP lacks whose
            applicant is no employee (certificate-of-eligibility filings for recruits abroad);
            APPLICATION_UNTRACKED fires for them with an empty employee_id.
        not_found_receipts: ERP receipt numbers the ISA dataset deliberately does not hold.
    """

    as_of: date
    seed: int
    tables: Mapping[str, list[dict[str, Any]]]
    organization_applications: list[dict[str, Any]]
    personal_applications: list[dict[str, Any]]
    scenarios: Mapping[str, frozenset[str]]
    unmatched_untracked_receipts: frozenset[str]
    not_found_receipts: frozenset[str]

    @property
    def isa_applications(self) -> list[dict[str, Any]]:
        """All ISA applications (organization ones first)."""
        return [*self.organization_applications, *self.personal_applications]


def generate_sample(
    n_foreign: int = 2000,
    *,
    as_of: date,
    seed: int = 7,
    n_japanese: int | None = None,
) -> SampleErp:
    """Generate a realistic sample ERP and the matching ISA dataset.

    Args:
        n_foreign: number of foreign employees (at least ``len(SCENARIOS)``, so every seeded
            situation is present).
        as_of: the date situations (expiries, deadlines, timesheets) are seeded relative to.
        seed: random seed; the same arguments always give the same sample.
        n_japanese: number of Japanese staff rows (default: 10% of ``n_foreign``).

    Returns:
        The sample.

    Raises:
        ValueError: ``n_foreign`` is too small to seed every situation, or ``n_japanese`` < 0.
    """
    if n_foreign < len(SCENARIOS):
        raise ValueError(f"n_foreign must be at least {len(SCENARIOS)} to seed every situation")
    japanese = round(n_foreign * 0.1) if n_japanese is None else n_japanese
    if japanese < 0:
        raise ValueError("n_japanese must not be negative")
    sample = _Generator(as_of=as_of, seed=seed).generate(n_foreign, japanese)
    log.info(
        "generated sample ERP: %d employees, %d ISA applications (seed %d)",
        len(sample.tables["hr_employee"]),
        len(sample.isa_applications),
        seed,
    )
    return sample


def expected_situations(sample: SampleErp) -> dict[str, set[str]]:
    """The seeded ground truth: rule code -> employee ids seeded to trigger it.

    Derived from what the generator chose to seed (:data:`SCENARIOS`), not from running the
    rules. Negative scenarios (which must *not* fire) and applications without an employee
    (:attr:`SampleErp.unmatched_untracked_receipts`) do not appear.
    """
    expected: dict[str, set[str]] = {}
    for scenario in SCENARIOS:
        for rule_code in scenario.rule_codes:
            expected.setdefault(rule_code, set()).update(sample.scenarios.get(scenario.name, ()))
    return expected


def write_erp(sample: SampleErp, engine: sa.Engine, *, batch_size: int = 10_000) -> dict[str, int]:
    """Create the ERP schema (if missing) and load the sample into it, replacing earlier rows.

    Runs in one transaction: ``sql/erp/schema.sql`` is applied, every ERP table is emptied
    (children first) and the rows are inserted with executemany in batches of ``batch_size``.

    Args:
        sample: the generated sample.
        engine: the ERP database (SQLite or PostgreSQL).
        batch_size: rows per executemany call.

    Returns:
        Table name -> number of rows written.
    """
    tables = {
        name: sa.table(name, *(sa.column(column) for column in columns))
        for name, columns in ERP_TABLE_COLUMNS.items()
    }
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for statement in split_statements(load_sql("erp/schema.sql")):
            conn.execute(sa.text(statement))
        for name in reversed(list(ERP_TABLE_COLUMNS)):
            conn.execute(sa.delete(tables[name]))
        for name, table in tables.items():
            rows = sample.tables[name]
            for start in range(0, len(rows), batch_size):
                conn.execute(sa.insert(table), rows[start : start + batch_size])
            counts[name] = len(rows)
    log.info("wrote sample ERP: %s", counts)
    return counts


def write_isa_seed(sample: SampleErp, path: Path) -> None:
    """Write the ISA status API simulator's seed file.

    Format: ``{"organization_applications": [Application...], "personal_applications":
    [Application...]}`` with Application objects as in contract.md section 1.

    Args:
        sample: the generated sample.
        path: the JSON file to write (its directory is created if missing).
    """
    payload = {
        "organization_applications": sample.organization_applications,
        "personal_applications": sample.personal_applications,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# --- generation -------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


@dataclass
class _Card:
    card_no: str | None
    status_code: str
    expires_on: date | None
    valid_until: date | None
    issued_on: date | None
    permission: str
    designation_ok: int | None
    designated_org: str | None
    is_current: int = 1


@dataclass
class _Application:
    receipt_no: str
    kind: str
    filed_on: date
    in_erp: bool
    filed_by: str
    isa: dict[str, Any] | None
    channel: str  # "organization", "personal" or "none" (ISA does not know it)


@dataclass
class _Person:
    nationality: str
    family: str
    given: str
    birth_date: date
    org: str
    emp_status: str
    hired_on: date
    job_code: str
    insured: bool
    status: str | None = None
    years: int = 0
    left_on: date | None = None
    owner_override: str | None = None
    current: _Card | None = None
    old_cards: list[_Card] = field(default_factory=list)
    extra_current: list[_Card] = field(default_factory=list)
    enrollment: tuple[date, date] | None = None
    applications: list[_Application] = field(default_factory=list)
    timesheet: list[tuple[date, float, bool]] = field(default_factory=list)
    hire_filed_on: date | None = None
    separation_filed_on: date | None = None
    scenario: str = CLEAN
    emp_no: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.family} {self.given}"

    @property
    def card(self) -> _Card:
        if self.current is None:
            raise ValueError("person has no current card")
        return self.current


class _Generator:
    """Builds one sample; all randomness comes from one seeded ``random.Random``."""

    def __init__(self, *, as_of: date, seed: int) -> None:
        self.as_of = as_of
        self.seed = seed
        self.rng = random.Random(seed)
        self.card_numbers: set[str] = set()
        self.receipt_seq = self.rng.randint(100_000, 400_000)
        self.unmatched_untracked: list[dict[str, Any]] = []
        self.builders: Mapping[str, Callable[[], _Person]] = {
            "STATUS_EXPIRED": self._status_expired,
            "STATUS_EXPIRED_FILED_LATE": self._status_expired_filed_late,
            "STATUS_EXPIRED_SPECIAL_PERIOD_OVER": self._status_expired_special_period_over,
            "SPECIAL_PERIOD": self._special_period,
            "SPECIAL_PERIOD_CRITICAL": self._special_period_critical,
            "EXPIRY_APPROACHING": self._expiry_approaching,
            "EXPIRY_APPROACHING_CRITICAL": self._expiry_approaching_critical,
            "EXPIRY_APPROACHING_COVERED": self._expiry_approaching_covered,
            "WORK_NOT_PERMITTED_STUDENT": self._work_not_permitted_student,
            "WORK_NOT_PERMITTED_DEPENDENT": self._work_not_permitted_dependent,
            "WORK_NOT_PERMITTED_DESIGNATED": self._work_not_permitted_designated,
            "APPLICATION_DENIED": self._application_denied,
            "STATUS_MISMATCH": self._status_mismatch,
            "EXPIRY_MISMATCH": self._expiry_mismatch,
            "CARD_NUMBER_STALE": self._card_number_stale,
            "APPLICATION_NOT_FOUND": self._application_not_found,
            "APPLICATION_UNTRACKED": self._application_untracked,
            "ADDITIONAL_DOCUMENTS_REQUESTED": self._additional_documents,
            "APPLICATION_PENDING_LONG": self._pending_long,
            "CARD_RENEWAL_DUE": self._card_renewal_due,
            "CARD_RENEWAL_DUE_PASSED": self._card_renewal_due_passed,
            "CARD_RENEWAL_DUE_HSP2": self._card_renewal_due_hsp2,
            "STUDENT_NOT_ENROLLED": self._student_not_enrolled,
            "DESIGNATED_ORGANIZATION_MISMATCH": self._designated_org_mismatch,
            "HELLOWORK_HIRE_OVERDUE": self._hire_overdue,
            "HELLOWORK_HIRE_OVERDUE_UNINSURED": self._hire_overdue_uninsured,
            "HELLOWORK_SEPARATION_OVERDUE": self._separation_overdue,
            "HOURS_LIMIT_EXCEEDED": self._hours_exceeded_student,
            "HOURS_LIMIT_EXCEEDED_DEPENDENT": self._hours_exceeded_dependent,
            "HOURS_LIMIT_EXCEEDED_LONG_VACATION_DAY": self._hours_long_vacation_day,
            "LONG_VACATION_WITHIN_LIMIT": self._long_vacation_within_limit,
            "DQ_MALFORMED_CARD_NUMBER": self._dq_malformed_card,
            "DQ_MISSING_EXPIRY": self._dq_missing_expiry,
            "DQ_UNKNOWN_STATUS": self._dq_unknown_status,
            "DQ_DUPLICATE_CURRENT_CARD": self._dq_duplicate_card,
            "DQ_STUDENT_WITHOUT_ENROLLMENT": self._dq_student_without_enrollment,
        }

    # --- top level ----------------------------------------------------------------------------

    def generate(self, n_foreign: int, n_japanese: int) -> SampleErp:
        plan: list[str] = []
        for scenario in SCENARIOS:
            plan.extend([scenario.name] * max(1, round(scenario.share * n_foreign)))
        if len(plan) > n_foreign:  # small samples: one of each situation, the rest clean
            plan = [scenario.name for scenario in SCENARIOS]
        people: list[_Person] = []
        for name in plan:
            person = self.builders[name]()
            person.scenario = name
            people.append(person)
        people.extend(self._clean() for _ in range(n_foreign - len(plan)))
        people.extend(self._japanese() for _ in range(n_japanese))
        self.rng.shuffle(people)
        for index, person in enumerate(people, start=1):
            person.emp_no = f"E{100000 + index:06d}"
        untracked_apps = self._unmatched_untracked_applications(max(1, round(n_foreign * 0.002)))
        return self._assemble(people, untracked_apps)

    def _assemble(self, people: list[_Person], untracked: list[dict[str, Any]]) -> SampleErp:
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in ERP_TABLE_COLUMNS}
        tables["hr_organization"] = [
            {
                "org_code": code,
                "org_name": name,
                "prefecture": prefecture,
                "isa_bureau": bureau,
                "compliance_owner_email": owner,
            }
            for code, name, prefecture, bureau, owner, _ in _ORGANIZATIONS
        ]
        tables["ref_residence_status"] = [
            {
                "erp_status_code": code,
                "label_ja": label,
                "canonical_code": canonical,
                "work_class": wc,
            }
            for canonical, (code, label, wc) in _ERP_STATUS.items()
        ]
        org_apps: list[dict[str, Any]] = list(untracked)
        personal_apps: list[dict[str, Any]] = []
        scenarios: dict[str, set[str]] = {}
        not_found: set[str] = set()
        ids = {"card": 0, "enrollment": 0, "application": 0, "filing": 0}

        def next_id(kind: str) -> int:
            ids[kind] += 1
            return ids[kind]

        for person in people:
            scenarios.setdefault(person.scenario, set()).add(person.emp_no)
            tables["hr_employee"].append(self._employee_row(person))
            cards = [
                *person.old_cards,
                *([person.current] if person.current else []),
                *person.extra_current,
            ]
            for card in cards:
                tables["hr_residence_card"].append(
                    {
                        "card_id": next_id("card"),
                        "emp_no": person.emp_no,
                        "card_no": card.card_no,
                        "status_code": card.status_code,
                        "period_expires_on": _iso(card.expires_on),
                        "card_valid_until": _iso(card.valid_until),
                        "issued_on": _iso(card.issued_on),
                        "permission_kind": card.permission,
                        "designation_work_ok": card.designation_ok,
                        "designated_org_code": card.designated_org,
                        "is_current": card.is_current,
                    }
                )
            if person.enrollment is not None:
                tables["hr_student_enrollment"].append(
                    {
                        "enrollment_id": next_id("enrollment"),
                        "emp_no": person.emp_no,
                        "school_name": self.rng.choice(_SCHOOLS),
                        "enrolled_from": person.enrollment[0].isoformat(),
                        "enrolled_until": person.enrollment[1].isoformat(),
                    }
                )
            for app in person.applications:
                if app.in_erp:
                    tables["hr_visa_application"].append(
                        {
                            "application_id": next_id("application"),
                            "emp_no": person.emp_no,
                            "receipt_no": app.receipt_no,
                            "application_kind": _APPLICATION_KIND_CODES[app.kind],
                            "filed_on": app.filed_on.isoformat(),
                            "filed_by": app.filed_by,
                        }
                    )
                if app.channel == "organization" and app.isa is not None:
                    org_apps.append(app.isa)
                elif app.channel == "personal" and app.isa is not None:
                    personal_apps.append(app.isa)
                else:
                    not_found.add(app.receipt_no)
            for work_date, hours, long_vacation in person.timesheet:
                tables["pay_timesheet"].append(
                    {
                        "emp_no": person.emp_no,
                        "work_date": work_date.isoformat(),
                        "hours_worked": hours,
                        "long_vacation": int(long_vacation),
                    }
                )
            for kind, filed_on in (
                ("hire", person.hire_filed_on),
                ("separation", person.separation_filed_on),
            ):
                if filed_on is not None:
                    tables["hr_hellowork_filing"].append(
                        {
                            "filing_id": next_id("filing"),
                            "emp_no": person.emp_no,
                            "filing_kind": kind,
                            "filed_on": filed_on.isoformat(),
                        }
                    )
        tables["hr_employee"].sort(key=lambda row: str(row["emp_no"]))
        org_apps.sort(key=lambda app: str(app["receipt_number"]))
        personal_apps.sort(key=lambda app: str(app["receipt_number"]))
        return SampleErp(
            as_of=self.as_of,
            seed=self.seed,
            tables=tables,
            organization_applications=org_apps,
            personal_applications=personal_apps,
            scenarios={name: frozenset(ids_) for name, ids_ in scenarios.items()},
            unmatched_untracked_receipts=frozenset(str(app["receipt_number"]) for app in untracked),
            not_found_receipts=frozenset(not_found),
        )

    @staticmethod
    def _employee_row(person: _Person) -> dict[str, Any]:
        return {
            "emp_no": person.emp_no,
            "org_code": person.org,
            "family_name": person.family,
            "given_name": person.given,
            "nationality": person.nationality,
            "birth_date": person.birth_date.isoformat(),
            "emp_status": person.emp_status,
            "hired_on": person.hired_on.isoformat(),
            "left_on": _iso(person.left_on),
            "job_code": person.job_code,
            "koyo_hoken": int(person.insured),
            "compliance_owner_email": person.owner_override,
        }

    # --- random helpers -----------------------------------------------------------------------

    def _days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def _weighted(self, options: Sequence[tuple[str, float]]) -> str:
        names = [name for name, _ in options]
        weights = [weight for _, weight in options]
        return self.rng.choices(names, weights=weights, k=1)[0]

    def _card_number(self) -> str:
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

    def _receipt(self, filed_on: date, org: str) -> str:
        self.receipt_seq += self.rng.randint(1, 37)
        bureau = next(b for code, _, _, b, _, _ in _ORGANIZATIONS if code == org)
        return f"{filed_on.year}-{bureau}-{self.receipt_seq:07d}"

    def _updated_at(self, day: date) -> str:
        day = min(day, self.as_of)
        return (
            f"{day.isoformat()}T{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}:"
            f"{self.rng.randint(0, 59):02d}+09:00"
        )

    # --- people -------------------------------------------------------------------------------

    def _person(
        self,
        status: str,
        *,
        hired_days: tuple[int, int] = (400, 3000),
        history: bool = False,
    ) -> _Person:
        """An active, clean employee of ``status``: valid card, notified hire, clean hours."""
        profile = _PROFILES[status]
        nationality = self._weighted(profile.mix)
        families, givens = _NAMES[nationality]
        org = self._weighted([(code, weight) for code, *_, weight in _ORGANIZATIONS])
        age = self.rng.randint(*profile.ages)
        person = _Person(
            nationality=nationality,
            family=self.rng.choice(families),
            given=self.rng.choice(givens),
            birth_date=self.as_of - timedelta(days=age * 365 + self.rng.randint(0, 364)),
            org=org,
            emp_status="A",
            hired_on=self.as_of - self._days(*hired_days),
            job_code=self.rng.choice(profile.jobs),
            insured=self.rng.random() < profile.insured,
            status=status,
            years=self.rng.choice(profile.terms) if profile.terms else 0,
        )
        if self.rng.random() < 0.05:
            person.owner_override = _GLOBAL_MOBILITY_OWNER
        person.current = self._current_card(person)
        if status != "special_permanent_resident":
            person.hire_filed_on = min(person.hired_on + self._days(1, 9), self.as_of)
        if status == "student":
            person.enrollment = (
                self.as_of - self._days(120, 700),
                self.as_of + self._days(60, 700),
            )
        if person.card.permission == "HOKATSU":
            person.timesheet = self._clean_hours(self.as_of - timedelta(days=27), self.as_of)
        if history:
            self._add_history(person)
        return person

    def _current_card(self, person: _Person) -> _Card:
        status = person.status or ""
        code = _ERP_STATUS[status][0]
        permission = "HOKATSU" if status in ("student", "dependent") else "NASHI"
        designated = person.org if status in TIED_TO_DESIGNATED_ORGANIZATION else None
        if status == "designated_activities":
            designated = person.org
        if status == "special_permanent_resident":
            return _Card(
                None, code, None, None, self.as_of - self._days(200, 2500), "NASHI", None, None
            )
        if status in NO_FIXED_PERIOD:
            issued = self.as_of - self._days(30, 7 * 365 - 150)
            return _Card(
                self._card_number(),
                code,
                None,
                _add_months(issued, 84),
                issued,
                permission,
                None,
                designated,
            )
        term_days = 365 * person.years
        issued = self.as_of - self._days(30, max(31, term_days - 130))
        expires = _add_months(issued, 12 * person.years)
        return _Card(
            self._card_number(),
            code,
            expires,
            expires,
            issued,
            permission,
            1 if status == "designated_activities" else None,
            designated,
        )

    def _set_expiry(self, person: _Person, expires: date) -> None:
        """Move the current card's expiry (and its issue date) to ``expires``."""
        card = person.card
        years = person.years or 1
        card.expires_on = expires
        card.valid_until = expires
        card.issued_on = min(_add_months(expires, -12 * years), self.as_of - timedelta(days=20))

    def _add_history(self, person: _Person) -> None:
        """An older card, and the completed application that replaced it (clean people only)."""
        card = person.card
        status = person.status or ""
        if card.issued_on is None or status == "special_permanent_resident":
            return
        previous = status
        if status in _PREVIOUS_STATUS and self.rng.random() < 0.5:
            previous = _PREVIOUS_STATUS[status]
        if status == "permanent_resident" and previous == status:
            old_expires = card.issued_on + self._days(0, 30)
            old_valid = old_expires
        else:
            old_expires = card.issued_on + self._days(5, 45)
            old_valid = old_expires
        old_issued = _add_months(old_expires, -12 * self.rng.choice((1, 3)))
        person.old_cards.append(
            _Card(
                self._card_number(),
                _ERP_STATUS[previous][0],
                None if previous in NO_FIXED_PERIOD else old_expires,
                old_valid,
                old_issued,
                "HOKATSU" if previous in ("student", "dependent") else "NASHI",
                None,
                person.org if previous in TIED_TO_DESIGNATED_ORGANIZATION else None,
                is_current=0,
            )
        )
        if status in NO_FIXED_PERIOD:
            return  # permanent residence and card renewals are not applications of contract types
        kind = "extension" if previous == status else "change"
        filed_on = card.issued_on - self._days(20, 50)
        decided_on = card.issued_on - self._days(0, 7)
        self._application(
            person,
            kind=kind,
            filed_on=filed_on,
            status="COMPLETED",
            requested=status,
            decided_on=decided_on,
            granted_status=status,
            granted_expiry=card.expires_on,
            new_card=card.card_no,
            new_card_valid=card.valid_until,
            applicant_card=person.old_cards[-1].card_no,
            updated_on=card.issued_on,
        )

    def _application(
        self,
        person: _Person,
        *,
        kind: str,
        filed_on: date,
        status: str,
        requested: str | None,
        decided_on: date | None = None,
        granted_status: str | None = None,
        granted_expiry: date | None = None,
        new_card: str | None = None,
        new_card_valid: date | None = None,
        docs_due: date | None = None,
        applicant_card: str | None = None,
        updated_on: date | None = None,
        in_erp: bool = True,
        channel: str | None = None,
    ) -> _Application:
        receipt = self._receipt(filed_on, person.org)
        if channel is None:
            channel = "organization" if self.rng.random() < 0.8 else "personal"
        if updated_on is None:
            updated_on = decided_on or filed_on + self._days(
                0, max(0, (self.as_of - filed_on).days)
            )
        isa = {
            "receipt_number": receipt,
            "application_type": kind,
            "status": status,
            "filed_on": filed_on.isoformat(),
            "decided_on": _iso(decided_on),
            "applicant": {
                "full_name": person.full_name,
                "date_of_birth": person.birth_date.isoformat(),
                "nationality": person.nationality,
                "residence_card_number": (
                    applicant_card if applicant_card is not None else person.card.card_no
                ),
            },
            "requested_status": requested,
            "granted_status": granted_status,
            "granted_period_expiry": _iso(granted_expiry),
            "new_residence_card_number": new_card,
            "new_card_valid_until": _iso(new_card_valid),
            "additional_documents_due": _iso(docs_due),
            "updated_at": self._updated_at(updated_on),
        }
        app = _Application(
            receipt_no=receipt,
            kind=kind,
            filed_on=filed_on,
            in_erp=in_erp,
            filed_by="employee" if channel == "personal" else "company",
            isa=isa,
            channel=channel,
        )
        person.applications.append(app)
        return app

    def _pending(self, person: _Person, kind: str, filed_on: date, requested: str) -> _Application:
        status = self.rng.choice(("RECEIVED", "UNDER_EXAMINATION", "UNDER_EXAMINATION"))
        return self._application(
            person, kind=kind, filed_on=filed_on, status=status, requested=requested
        )

    def _clean(self) -> _Person:
        status = self._weighted([(name, profile.weight) for name, profile in _PROFILES.items()])
        person = self._person(status, hired_days=(45, 3650), history=self.rng.random() < 0.5)
        roll = self.rng.random()
        if roll < 0.07:  # left the company, separation notified
            person.emp_status = "T"
            person.hired_on = min(person.hired_on, self.as_of - timedelta(days=120))
            person.hire_filed_on = (
                None if person.hire_filed_on is None else person.hired_on + self._days(1, 9)
            )
            span = (self.as_of - person.hired_on).days - 30
            person.left_on = self.as_of - self._days(15, max(16, min(span, 700)))
            if status != "special_permanent_resident":
                person.separation_filed_on = person.left_on + self._days(1, 9)
            person.timesheet = [entry for entry in person.timesheet if entry[0] <= person.left_on]
        elif roll < 0.10:
            person.emp_status = "L"
            person.timesheet = []
        if status == "engineer_specialist_humanities_international" and self.rng.random() < 0.02:
            person.card.permission = "KOBETSU"
        return person

    def _japanese(self) -> _Person:
        families, givens = _NAMES["JPN"]
        person = _Person(
            nationality="JPN",
            family=self.rng.choice(families),
            given=self.rng.choice(givens),
            birth_date=self.as_of - timedelta(days=self.rng.randint(22 * 365, 64 * 365)),
            org=self._weighted([(code, weight) for code, *_, weight in _ORGANIZATIONS]),
            emp_status="A",
            hired_on=self.as_of - self._days(30, 9000),
            job_code=self.rng.choice(_OFFICE_JOBS + _FLOOR_JOBS),
            insured=True,
            scenario=JAPANESE_STAFF,
        )
        if self.rng.random() < 0.08 and (self.as_of - person.hired_on).days > 60:
            person.emp_status = "T"
            person.left_on = self.as_of - self._days(1, (self.as_of - person.hired_on).days - 30)
        return person

    def _clean_hours(
        self, start: date, end: date, *, skip: frozenset[date] = frozenset()
    ) -> list[tuple[date, float, bool]]:
        """At most 4 fixed weekdays of at most 6 h: any 7-day window stays at or under 24 h."""
        weekdays = set(self.rng.sample(range(7), self.rng.choice((2, 3, 4))))
        hours: list[tuple[date, float, bool]] = []
        day = start
        while day <= end:
            if day not in skip and day.weekday() in weekdays and self.rng.random() > 0.1:
                hours.append((day, self.rng.choice((3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0)), False))
            day += timedelta(days=1)
        return hours

    def _unmatched_untracked_applications(self, count: int) -> list[dict[str, Any]]:
        """Certificate-of-eligibility filings for recruits abroad that HR did not record."""
        apps: list[dict[str, Any]] = []
        for _ in range(count):
            recruit = self._person("specified_skilled_worker_i")
            filed_on = self.as_of - self._days(5, 40)
            apps.append(
                {
                    "receipt_number": self._receipt(filed_on, recruit.org),
                    "application_type": "certificate_of_eligibility",
                    "status": "UNDER_EXAMINATION",
                    "filed_on": filed_on.isoformat(),
                    "decided_on": None,
                    "applicant": {
                        "full_name": recruit.full_name,
                        "date_of_birth": recruit.birth_date.isoformat(),
                        "nationality": recruit.nationality,
                        "residence_card_number": None,
                    },
                    "requested_status": "specified_skilled_worker_i",
                    "granted_status": None,
                    "granted_period_expiry": None,
                    "new_residence_card_number": None,
                    "new_card_valid_until": None,
                    "additional_documents_due": None,
                    "updated_at": self._updated_at(filed_on + self._days(0, 3)),
                }
            )
        return apps

    def _fixed_status(self) -> str:
        return self._weighted(
            [
                ("engineer_specialist_humanities_international", 5),
                ("specified_skilled_worker_i", 3),
                ("technical_intern_training_ii", 2),
                ("nursing_care", 1),
                ("long_term_resident", 1),
            ]
        )

    # --- seeded situations (contract.md section 4) --------------------------------------------

    def _status_expired(self) -> _Person:
        person = self._person(self._fixed_status())
        self._set_expiry(person, self.as_of - self._days(1, 40))
        return person

    def _status_expired_filed_late(self) -> _Person:
        person = self._person(self._fixed_status())
        expires = self.as_of - self._days(10, 40)
        self._set_expiry(person, expires)
        filed = expires + self._days(1, 7)  # after expiry: no special period
        self._pending(person, "extension", filed, person.status or "")
        return person

    def _status_expired_special_period_over(self) -> _Person:
        person = self._person(self._fixed_status())
        expires = self.as_of - self._days(64, 80)  # special period (expiry + 2 months) has ended
        self._set_expiry(person, expires)
        filed = expires - self._days(1, 8)
        self._pending(person, "extension", filed, person.status or "")
        return person

    def _special_period(self) -> _Person:
        person = self._person(self._fixed_status())
        expires = self.as_of - self._days(1, 30)
        self._set_expiry(person, expires)
        self._pending(person, "extension", expires - self._days(1, 25), person.status or "")
        return person

    def _special_period_critical(self) -> _Person:
        person = self._person(self._fixed_status())
        candidates = [
            self.as_of - timedelta(days=back)
            for back in range(45, 63)
            if 0 <= (_add_months(self.as_of - timedelta(days=back), 2) - self.as_of).days <= 13
        ]
        expires = self.rng.choice(candidates)
        self._set_expiry(person, expires)
        self._pending(person, "extension", expires - self._days(1, 25), person.status or "")
        return person

    def _expiry_approaching(self) -> _Person:
        person = self._person(self._fixed_status())
        self._set_expiry(person, self.as_of + self._days(15, 90))
        return person

    def _expiry_approaching_critical(self) -> _Person:
        person = self._person(self._fixed_status())
        self._set_expiry(person, self.as_of + self._days(0, 13))
        return person

    def _expiry_approaching_covered(self) -> _Person:
        person = self._person(self._fixed_status())
        self._set_expiry(person, self.as_of + self._days(5, 85))
        self._pending(person, "extension", self.as_of - self._days(1, 40), person.status or "")
        return person

    def _work_not_permitted_student(self) -> _Person:
        person = self._person("student")
        person.card.permission = "NASHI"
        person.timesheet = []
        return person

    def _work_not_permitted_dependent(self) -> _Person:
        person = self._person("dependent")
        person.card.permission = "NASHI"
        person.timesheet = []
        return person

    def _work_not_permitted_designated(self) -> _Person:
        person = self._person("designated_activities")
        person.card.designation_ok = 0  # e.g. job-hunting after graduation
        return person

    def _application_denied(self) -> _Person:
        person = self._person("engineer_specialist_humanities_international")
        filed = self.as_of - self._days(40, 80)
        self._application(
            person,
            kind="change",
            filed_on=filed,
            status="NOT_PERMITTED",
            requested="business_manager",
            decided_on=self.as_of - self._days(2, 20),
        )
        return person

    def _status_mismatch(self) -> _Person:
        # ISA changed the status (trainee -> specified skilled worker); HR updated only the expiry.
        person = self._person("technical_intern_training_iii")
        filed = self.as_of - self._days(40, 70)
        decided = self.as_of - self._days(3, 20)
        new_expiry = _add_months(decided, 12)
        self._set_expiry(person, new_expiry)
        self._application(
            person,
            kind="change",
            filed_on=filed,
            status=self.rng.choice(("PERMITTED", "AWAITING_ISSUANCE")),
            requested="specified_skilled_worker_i",
            decided_on=decided,
            granted_status="specified_skilled_worker_i",
            granted_expiry=new_expiry,
        )
        return person

    def _expiry_mismatch(self) -> _Person:
        # Extension granted (awaiting the new card); HR still has the old expiry.
        person = self._person(self._fixed_status())
        old_expiry = self.as_of + self._days(20, 80)
        self._set_expiry(person, old_expiry)
        decided = self.as_of - self._days(1, 15)
        self._application(
            person,
            kind="extension",
            filed_on=self.as_of - self._days(40, 75),
            status="PERMITTED",
            requested=person.status,
            decided_on=decided,
            granted_status=person.status,
            granted_expiry=_add_months(old_expiry, 36),
        )
        return person

    def _card_number_stale(self) -> _Person:
        # Extension completed and a new card issued; HR updated the expiry, not the card number.
        person = self._person(self._fixed_status())
        card = person.card
        decided = self.as_of - self._days(10, 60)
        filed = decided - self._days(20, 40)
        issued = decided + self._days(1, 7)
        new_expiry = _add_months(decided + self._days(10, 80), 12 * (person.years or 1))
        card.expires_on = card.valid_until = new_expiry
        self._application(
            person,
            kind="extension",
            filed_on=filed,
            status="COMPLETED",
            requested=person.status,
            decided_on=decided,
            granted_status=person.status,
            granted_expiry=new_expiry,
            new_card=self._card_number(),
            new_card_valid=new_expiry,
            updated_on=issued,
        )
        return person

    def _application_not_found(self) -> _Person:
        person = self._person("engineer_specialist_humanities_international")
        self._application(
            person,
            kind="change",
            filed_on=self.as_of - self._days(10, 60),
            status="RECEIVED",
            requested="highly_skilled_professional_i",
            channel="none",
        )
        return person

    def _application_untracked(self) -> _Person:
        person = self._person("technical_intern_training_iii")
        self._application(
            person,
            kind="change",
            filed_on=self.as_of - self._days(5, 40),
            status="UNDER_EXAMINATION",
            requested="specified_skilled_worker_i",
            in_erp=False,
            channel="organization",
        )
        return person

    def _additional_documents(self) -> _Person:
        person = self._person(self._fixed_status())
        self._set_expiry(person, self.as_of + self._days(30, 80))
        self._application(
            person,
            kind="extension",
            filed_on=self.as_of - self._days(10, 40),
            status="AWAITING_ADDITIONAL_DOCUMENTS",
            requested=person.status,
            docs_due=self.as_of + self._days(3, 14),
        )
        return person

    def _pending_long(self) -> _Person:
        person = self._person("engineer_specialist_humanities_international")
        self._set_expiry(person, self.as_of + self._days(200, 600))
        self._application(
            person,
            kind="change",
            filed_on=self.as_of - self._days(95, 150),
            status="UNDER_EXAMINATION",
            requested="highly_skilled_professional_i",
        )
        return person

    def _card_renewal(self, status: str, valid_until: date) -> _Person:
        person = self._person(status)
        person.card.valid_until = valid_until
        person.card.issued_on = _add_months(valid_until, -84)
        return person

    def _card_renewal_due(self) -> _Person:
        return self._card_renewal("permanent_resident", self.as_of + self._days(0, 60))

    def _card_renewal_due_passed(self) -> _Person:
        return self._card_renewal("permanent_resident", self.as_of - self._days(1, 30))

    def _card_renewal_due_hsp2(self) -> _Person:
        return self._card_renewal("highly_skilled_professional_ii", self.as_of + self._days(0, 60))

    def _student_not_enrolled(self) -> _Person:
        person = self._person("student")
        start = self.as_of - self._days(500, 900)
        person.enrollment = (start, self.as_of - self._days(10, 120))
        return person

    def _designated_org_mismatch(self) -> _Person:
        person = self._person(
            self._weighted([("specified_skilled_worker_i", 3), ("technical_intern_training_ii", 1)])
        )
        others = [code for code, *_ in _ORGANIZATIONS if code != person.org]
        person.card.designated_org = self.rng.choice(others)
        return person

    def _hire_overdue(self) -> _Person:
        person = self._person(self._fixed_status(), hired_days=(70, 300))
        person.insured = True
        person.hire_filed_on = None
        return person

    def _hire_overdue_uninsured(self) -> _Person:
        person = self._person("dependent", hired_days=(70, 300))
        person.insured = False
        person.hire_filed_on = None
        return person

    def _separation_overdue(self) -> _Person:
        person = self._person(self._fixed_status())
        person.emp_status = "T"
        person.left_on = self.as_of - self._days(70, 300)
        return person

    def _hours_over_week(self, person: _Person) -> None:
        start = self.as_of - timedelta(days=20)
        block = {start + timedelta(days=offset) for offset in range(7)}
        hours = [entry for entry in person.timesheet if entry[0] not in block]
        hours.extend(
            (start + timedelta(days=offset), self.rng.choice((6.0, 6.5, 7.0)), False)
            for offset in range(5)
        )
        person.timesheet = sorted(hours)

    def _hours_exceeded_student(self) -> _Person:
        person = self._person("student")
        self._hours_over_week(person)
        return person

    def _hours_exceeded_dependent(self) -> _Person:
        person = self._person("dependent")
        self._hours_over_week(person)
        return person

    def _long_vacation(self, person: _Person, *, over_limit: bool) -> None:
        start, end = self.as_of - timedelta(days=27), self.as_of - timedelta(days=14)
        vacation = frozenset(
            start + timedelta(days=offset) for offset in range((end - start).days + 1)
        )
        hours = [(day, 8.0, True) for day in sorted(vacation) if day.weekday() < 5]
        if over_limit:
            index = self.rng.randrange(len(hours))
            hours[index] = (hours[index][0], self.rng.choice((9.0, 9.5, 10.0)), True)
        hours.extend(self._clean_hours(start, self.as_of, skip=vacation))
        person.timesheet = sorted(hours)

    def _hours_long_vacation_day(self) -> _Person:
        person = self._person("student")
        self._long_vacation(person, over_limit=True)
        return person

    def _long_vacation_within_limit(self) -> _Person:
        person = self._person("student")
        self._long_vacation(person, over_limit=False)
        return person

    def _dq_malformed_card(self) -> _Person:
        person = self._person(self._fixed_status())
        number = person.card.card_no or self._card_number()
        person.card.card_no = self.rng.choice(
            (
                number[:-1],
                f"{number[:2]}O{number[3:]}",  # a letter where a digit belongs
                f"{number[:2]}-{number[2:10]}-{number[10:]}",
                number + "X",
            )
        )
        return person

    def _dq_missing_expiry(self) -> _Person:
        person = self._person("engineer_specialist_humanities_international")
        person.card.expires_on = None
        return person

    def _dq_unknown_status(self) -> _Person:
        person = self._person("designated_activities")
        person.card.status_code = UNKNOWN_ERP_STATUS_CODE
        return person

    def _dq_duplicate_card(self) -> _Person:
        # HR recorded the renewed card but left the previous one flagged current as well.
        person = self._person(self._fixed_status())
        card = person.card
        old_expiry = (card.issued_on or self.as_of) + self._days(5, 30)
        person.extra_current.append(
            _Card(
                self._card_number(),
                card.status_code,
                old_expiry,
                old_expiry,
                _add_months(old_expiry, -12),
                card.permission,
                card.designation_ok,
                card.designated_org,
            )
        )
        return person

    def _dq_student_without_enrollment(self) -> _Person:
        person = self._person("student")
        person.enrollment = None
        return person

"""The canonical tables of the reconciliation contract (contract.md sections 1-3).

Every ERP is mapped to these tables by the extract SQL, and ``zairyu-sync reconcile`` reads the same
tables from files. Stages pass them between each other as pandas DataFrames:

* *raw* frames: every column as nullable text, exactly as extracted (so that validation sees
  unparseable dates and malformed codes instead of the extractor silently coercing them);
* *typed* frames: produced by :mod:`zairyu_sync.validate` for rows that passed; dates are
  ``datetime64`` at day precision, booleans are ``boolean``.
"""

from __future__ import annotations

from typing import Final

EMPLOYEE_COLUMNS: Final = (
    "employee_id",
    "organization_id",
    "full_name",
    "nationality",
    "date_of_birth",
    "employment_status",
    "hire_date",
    "termination_date",
    "job_category",
    "employment_insured",
    "residence_status",
    "period_of_stay_expiry",
    "residence_card_number",
    "card_valid_until",
    "outside_status_permission",
    "designated_work_permitted",
    "designated_organization_id",
    "student_enrolled_until",
    "hellowork_hire_notified_on",
    "hellowork_separation_notified_on",
    "compliance_owner",
)
EMPLOYEE_DATE_COLUMNS: Final = (
    "date_of_birth",
    "hire_date",
    "termination_date",
    "period_of_stay_expiry",
    "card_valid_until",
    "student_enrolled_until",
    "hellowork_hire_notified_on",
    "hellowork_separation_notified_on",
)
EMPLOYEE_BOOL_COLUMNS: Final = ("employment_insured", "designated_work_permitted")

APPLICATION_COLUMNS: Final = ("employee_id", "receipt_number", "application_type", "filed_on")
APPLICATION_DATE_COLUMNS: Final = ("filed_on",)

TIMESHEET_COLUMNS: Final = ("employee_id", "work_date", "hours", "is_long_vacation")

#: isa_applications.json flattened: the nested ``applicant`` object becomes ``applicant_*`` columns.
ISA_APPLICATION_COLUMNS: Final = (
    "receipt_number",
    "application_type",
    "status",
    "filed_on",
    "decided_on",
    "applicant_full_name",
    "applicant_date_of_birth",
    "applicant_nationality",
    "applicant_residence_card_number",
    "requested_status",
    "granted_status",
    "granted_period_expiry",
    "new_residence_card_number",
    "new_card_valid_until",
    "additional_documents_due",
    "updated_at",
)
ISA_APPLICATION_DATE_COLUMNS: Final = (
    "filed_on",
    "decided_on",
    "applicant_date_of_birth",
    "granted_period_expiry",
    "new_card_valid_until",
    "additional_documents_due",
)

DISCREPANCY_COLUMNS: Final = (
    "employee_id",
    "rule_code",
    "severity",
    "due_date",
    "receipt_number",
    "detail",
)

#: The discrepancies frame passed from reconcile to load and alert (contract §5 plus keys).
FINDING_COLUMNS: Final = (
    "discrepancy_id",
    "employee_id",
    "organization_id",
    "compliance_owner",
    "rule_code",
    "severity",
    "due_date",
    "receipt_number",
    "detail",
)
#: The quarantine frame: one row per input row that failed validation; no PII in ``reasons``.
QUARANTINE_COLUMNS: Final = (
    "source_table",
    "row_number",
    "employee_id",
    "receipt_number",
    "organization_id",
    "compliance_owner",
    "reason_codes",
    "reasons",
)

JAPANESE_NATIONALITY: Final = "JPN"
EMPLOYMENT_STATUSES: Final = ("active", "on_leave", "terminated")
OUTSIDE_STATUS_PERMISSIONS: Final = ("none", "comprehensive", "individual")
APPLICATION_TYPES: Final = ("extension", "change", "acquisition", "certificate_of_eligibility")
SEVERITIES: Final = ("critical", "warning", "info")

# --- contract.md section 2: residence status codes -------------------------------------------
WORK_UNRESTRICTED: Final = frozenset(
    {
        "permanent_resident",
        "special_permanent_resident",
        "spouse_or_child_of_japanese",
        "spouse_or_child_of_permanent_resident",
        "long_term_resident",
    }
)
WORK_WITHIN_STATUS: Final = frozenset(
    {
        "professor",
        "artist",
        "religious_activities",
        "journalist",
        "highly_skilled_professional_i",
        "highly_skilled_professional_ii",
        "business_manager",
        "legal_accounting_services",
        "medical_services",
        "researcher",
        "instructor",
        "engineer_specialist_humanities_international",
        "intra_company_transferee",
        "nursing_care",
        "entertainer",
        "skilled_labor",
        "specified_skilled_worker_i",
        "specified_skilled_worker_ii",
        "technical_intern_training_i",
        "technical_intern_training_ii",
        "technical_intern_training_iii",
        "employment_for_skill_development",
        "diplomat",
        "official",
    }
)
WORK_NOT_PERMITTED_WITHOUT_PERMISSION: Final = frozenset(
    {"cultural_activities", "temporary_visitor", "student", "trainee", "dependent"}
)
DESIGNATION_DEPENDENT: Final = frozenset({"designated_activities"})
RESIDENCE_STATUSES: Final = (
    WORK_UNRESTRICTED
    | WORK_WITHIN_STATUS
    | WORK_NOT_PERMITTED_WITHOUT_PERMISSION
    | DESIGNATION_DEPENDENT
)
NO_FIXED_PERIOD: Final = frozenset(
    {"permanent_resident", "special_permanent_resident", "highly_skilled_professional_ii"}
)
TIED_TO_DESIGNATED_ORGANIZATION: Final = frozenset(
    {
        "specified_skilled_worker_i",
        "specified_skilled_worker_ii",
        "technical_intern_training_i",
        "technical_intern_training_ii",
        "technical_intern_training_iii",
        "highly_skilled_professional_i",
        "employment_for_skill_development",
    }
)
#: Statuses whose holders carry no residence card (card number legitimately empty).
NO_RESIDENCE_CARD: Final = frozenset({"special_permanent_resident", "diplomat", "official"})

# --- contract.md section 3: ISA application status codes -------------------------------------
ISA_PENDING: Final = frozenset(
    {"SUBMITTED", "RECEIVED", "UNDER_EXAMINATION", "AWAITING_ADDITIONAL_DOCUMENTS"}
)
ISA_PERMITTED: Final = frozenset({"PERMITTED", "AWAITING_ISSUANCE", "COMPLETED"})
ISA_OTHER: Final = frozenset({"NOT_PERMITTED", "WITHDRAWN"})
ISA_STATUSES: Final = ISA_PENDING | ISA_PERMITTED | ISA_OTHER

-- Sample payroll/HR schema of the ERP that zairyu-sync extracts from.
--
-- This is the ERP's own shape, not the canonical one: codes are the ERP's (employment status
-- A/L/T, its own residence status code list, outside-status permission kinds), names are split
-- into family/given, and residence cards keep their full history per employee. The
-- extract_*.sql files map it onto the canonical tables of contract.md section 1.
-- Portable across SQLite and PostgreSQL: one statement per ';' at a line end.

CREATE TABLE IF NOT EXISTS hr_organization (
    org_code VARCHAR(16) NOT NULL PRIMARY KEY,
    org_name VARCHAR(200) NOT NULL,
    prefecture VARCHAR(20),
    isa_bureau VARCHAR(8),
    compliance_owner_email VARCHAR(254)
);

-- The ERP's residence status code list and the canonical code (contract.md section 2) it maps to.
CREATE TABLE IF NOT EXISTS ref_residence_status (
    erp_status_code VARCHAR(16) NOT NULL PRIMARY KEY,
    label_ja VARCHAR(100) NOT NULL,
    canonical_code VARCHAR(64) NOT NULL,
    work_class VARCHAR(20) NOT NULL
);

-- emp_status: 'A' active, 'L' on leave, 'T' terminated. koyo_hoken: 1 = employment-insurance
-- insured person. compliance_owner_email overrides the organization's owner when set.
CREATE TABLE IF NOT EXISTS hr_employee (
    emp_no VARCHAR(16) NOT NULL PRIMARY KEY,
    org_code VARCHAR(16) NOT NULL REFERENCES hr_organization (org_code),
    family_name VARCHAR(100),
    given_name VARCHAR(100),
    nationality VARCHAR(3),
    birth_date DATE,
    emp_status VARCHAR(1) NOT NULL,
    hired_on DATE,
    left_on DATE,
    job_code VARCHAR(20),
    koyo_hoken INTEGER,
    compliance_owner_email VARCHAR(254)
);

-- Every residence card (or special permanent resident certificate) an employee has shown, old
-- and current. is_current = 1 marks the card in force; permission_kind is the back-side
-- outside-status permission: 'NASHI' none, 'HOKATSU' comprehensive, 'KOBETSU' individual.
-- designation_work_ok and designated_org_code come from the designation (shiteisho).
CREATE TABLE IF NOT EXISTS hr_residence_card (
    card_id INTEGER NOT NULL PRIMARY KEY,
    emp_no VARCHAR(16) NOT NULL REFERENCES hr_employee (emp_no),
    card_no VARCHAR(20),
    status_code VARCHAR(16),
    period_expires_on DATE,
    card_valid_until DATE,
    issued_on DATE,
    permission_kind VARCHAR(10),
    designation_work_ok INTEGER,
    designated_org_code VARCHAR(16),
    is_current INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS ix_hr_residence_card_emp ON hr_residence_card (emp_no, is_current);

CREATE TABLE IF NOT EXISTS hr_student_enrollment (
    enrollment_id INTEGER NOT NULL PRIMARY KEY,
    emp_no VARCHAR(16) NOT NULL REFERENCES hr_employee (emp_no),
    school_name VARCHAR(200),
    enrolled_from DATE,
    enrolled_until DATE
);
CREATE INDEX IF NOT EXISTS ix_hr_student_enrollment_emp ON hr_student_enrollment (emp_no);

-- Residence applications HR knows of. application_kind: 'KOSHIN' extension, 'HENKO' change,
-- 'SHUTOKU' acquisition, 'NINTEI' certificate of eligibility. filed_by: 'company' or 'employee'.
CREATE TABLE IF NOT EXISTS hr_visa_application (
    application_id INTEGER NOT NULL PRIMARY KEY,
    emp_no VARCHAR(16) NOT NULL REFERENCES hr_employee (emp_no),
    receipt_no VARCHAR(32) NOT NULL,
    application_kind VARCHAR(10) NOT NULL,
    filed_on DATE,
    filed_by VARCHAR(10)
);
CREATE INDEX IF NOT EXISTS ix_hr_visa_application_emp ON hr_visa_application (emp_no);

CREATE TABLE IF NOT EXISTS pay_timesheet (
    emp_no VARCHAR(16) NOT NULL REFERENCES hr_employee (emp_no),
    work_date DATE NOT NULL,
    hours_worked NUMERIC(5, 2) NOT NULL,
    long_vacation INTEGER NOT NULL,
    PRIMARY KEY (emp_no, work_date)
);

-- Hello Work foreign employment notifications filed. filing_kind: 'hire' or 'separation'.
CREATE TABLE IF NOT EXISTS hr_hellowork_filing (
    filing_id INTEGER NOT NULL PRIMARY KEY,
    emp_no VARCHAR(16) NOT NULL REFERENCES hr_employee (emp_no),
    filing_kind VARCHAR(12) NOT NULL,
    filed_on DATE NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_hr_hellowork_filing_emp ON hr_hellowork_filing (emp_no);

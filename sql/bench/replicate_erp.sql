-- Replicate the roster of the ERP schema (schema.sql) in place, PostgreSQL only (benchmark).
-- Bound parameters: copies (the roster is copies times its current size afterwards) and stride
-- (larger than every integer id of the base, so copy k's ids are id + k * stride).
-- Copy k (1 .. copies - 1) of every row rotates the letters of its identifiers (employee numbers,
-- card numbers, receipt numbers) by k mod 26 and their digits by (k / 26) mod 10: formats such
-- as AB12345678CD stay valid (and malformed values stay malformed), identifiers stay unique for
-- up to 26 copies, and every copy produces the base's findings again. Reference tables
-- (organizations, status codes) are shared. One statement per ';' at a line end.

INSERT INTO hr_employee (
    emp_no, org_code, family_name, given_name, nationality, birth_date, emp_status, hired_on,
    left_on, job_code, koyo_hoken, compliance_owner_email
)
SELECT
    TRANSLATE(TRANSLATE(e.emp_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits),
    e.org_code, e.family_name, e.given_name, e.nationality, e.birth_date, e.emp_status,
    e.hired_on, e.left_on, e.job_code, e.koyo_hoken, e.compliance_owner_email
FROM hr_employee e
CROSS JOIN (
    SELECT
        k,
        SUBSTR('ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ', MOD(k, 26) + 1, 26) AS letters,
        SUBSTR('01234567890123456789', MOD(k / 26, 10) + 1, 10) AS digits
    FROM generate_series(1, CAST(:copies AS INTEGER) - 1) AS g (k)
) r;

INSERT INTO hr_residence_card (
    card_id, emp_no, card_no, status_code, period_expires_on, card_valid_until, issued_on,
    permission_kind, designation_work_ok, designated_org_code, is_current
)
SELECT
    c.card_id + r.k * CAST(:stride AS INTEGER),
    TRANSLATE(TRANSLATE(c.emp_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits),
    TRANSLATE(TRANSLATE(c.card_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits),
    c.status_code, c.period_expires_on, c.card_valid_until, c.issued_on, c.permission_kind,
    c.designation_work_ok, c.designated_org_code, c.is_current
FROM hr_residence_card c
CROSS JOIN (
    SELECT
        k,
        SUBSTR('ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ', MOD(k, 26) + 1, 26) AS letters,
        SUBSTR('01234567890123456789', MOD(k / 26, 10) + 1, 10) AS digits
    FROM generate_series(1, CAST(:copies AS INTEGER) - 1) AS g (k)
) r;

INSERT INTO hr_student_enrollment (
    enrollment_id, emp_no, school_name, enrolled_from, enrolled_until
)
SELECT
    s.enrollment_id + r.k * CAST(:stride AS INTEGER),
    TRANSLATE(TRANSLATE(s.emp_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits),
    s.school_name, s.enrolled_from, s.enrolled_until
FROM hr_student_enrollment s
CROSS JOIN (
    SELECT
        k,
        SUBSTR('ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ', MOD(k, 26) + 1, 26) AS letters,
        SUBSTR('01234567890123456789', MOD(k / 26, 10) + 1, 10) AS digits
    FROM generate_series(1, CAST(:copies AS INTEGER) - 1) AS g (k)
) r;

INSERT INTO hr_visa_application (
    application_id, emp_no, receipt_no, application_kind, filed_on, filed_by
)
SELECT
    a.application_id + r.k * CAST(:stride AS INTEGER),
    TRANSLATE(TRANSLATE(a.emp_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits),
    TRANSLATE(
        TRANSLATE(a.receipt_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits
    ),
    a.application_kind, a.filed_on, a.filed_by
FROM hr_visa_application a
CROSS JOIN (
    SELECT
        k,
        SUBSTR('ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ', MOD(k, 26) + 1, 26) AS letters,
        SUBSTR('01234567890123456789', MOD(k / 26, 10) + 1, 10) AS digits
    FROM generate_series(1, CAST(:copies AS INTEGER) - 1) AS g (k)
) r;

INSERT INTO pay_timesheet (emp_no, work_date, hours_worked, long_vacation)
SELECT
    TRANSLATE(TRANSLATE(t.emp_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits),
    t.work_date, t.hours_worked, t.long_vacation
FROM pay_timesheet t
CROSS JOIN (
    SELECT
        k,
        SUBSTR('ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ', MOD(k, 26) + 1, 26) AS letters,
        SUBSTR('01234567890123456789', MOD(k / 26, 10) + 1, 10) AS digits
    FROM generate_series(1, CAST(:copies AS INTEGER) - 1) AS g (k)
) r;

INSERT INTO hr_hellowork_filing (filing_id, emp_no, filing_kind, filed_on)
SELECT
    f.filing_id + r.k * CAST(:stride AS INTEGER),
    TRANSLATE(TRANSLATE(f.emp_no, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', r.letters), '0123456789', r.digits),
    f.filing_kind, f.filed_on
FROM hr_hellowork_filing f
CROSS JOIN (
    SELECT
        k,
        SUBSTR('ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ', MOD(k, 26) + 1, 26) AS letters,
        SUBSTR('01234567890123456789', MOD(k / 26, 10) + 1, 10) AS digits
    FROM generate_series(1, CAST(:copies AS INTEGER) - 1) AS g (k)
) r;

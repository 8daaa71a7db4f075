-- Canonical employees (contract.md section 1) from the payroll/HR schema (schema.sql).
-- One row per employee and current residence card: an employee with two current cards (an ERP
-- data error) yields two rows, which validation quarantines as a duplicate employee_id.
-- Japanese staff are included (nationality JPN; no card). Codes and flags are rendered as text
-- here; dates come back as the engine's DATE type and extract.py renders them as ISO text.
-- An ERP status code missing from ref_residence_status passes through unmapped, so validation
-- sees (and quarantines) it instead of a silent null.
-- shard_from / shard_to (bound, NULL = unbounded) restrict the extract to one shard of the roster:
-- emp_no in [shard_from, shard_to), the ranges of shard_boundaries.sql (repeated on the card join
-- and inside the aggregates so a shard neither scans every card nor aggregates the whole roster).
SELECT
    e.emp_no AS employee_id,
    e.org_code AS organization_id,
    NULLIF(TRIM(COALESCE(e.family_name, '') || ' ' || COALESCE(e.given_name, '')), '') AS full_name,
    e.nationality AS nationality,
    e.birth_date AS date_of_birth,
    CASE e.emp_status
        WHEN 'A' THEN 'active'
        WHEN 'L' THEN 'on_leave'
        WHEN 'T' THEN 'terminated'
        ELSE e.emp_status
    END AS employment_status,
    e.hired_on AS hire_date,
    e.left_on AS termination_date,
    e.job_code AS job_category,
    CASE e.koyo_hoken WHEN 1 THEN 'true' WHEN 0 THEN 'false' END AS employment_insured,
    COALESCE(rs.canonical_code, c.status_code) AS residence_status,
    c.period_expires_on AS period_of_stay_expiry,
    NULLIF(TRIM(c.card_no), '') AS residence_card_number,
    c.card_valid_until AS card_valid_until,
    CASE
        WHEN c.card_id IS NULL THEN NULL
        WHEN c.permission_kind IS NULL OR c.permission_kind = 'NASHI' THEN 'none'
        WHEN c.permission_kind = 'HOKATSU' THEN 'comprehensive'
        WHEN c.permission_kind = 'KOBETSU' THEN 'individual'
        ELSE c.permission_kind
    END AS outside_status_permission,
    CASE c.designation_work_ok WHEN 1 THEN 'true' WHEN 0 THEN 'false' END
        AS designated_work_permitted,
    c.designated_org_code AS designated_organization_id,
    se.enrolled_until AS student_enrolled_until,
    hw.hire_filed_on AS hellowork_hire_notified_on,
    hw.separation_filed_on AS hellowork_separation_notified_on,
    COALESCE(e.compliance_owner_email, o.compliance_owner_email) AS compliance_owner
FROM hr_employee e
LEFT JOIN hr_organization o
    ON o.org_code = e.org_code
LEFT JOIN hr_residence_card c
    ON c.emp_no = e.emp_no AND c.is_current = 1
    AND (CAST(:shard_from AS VARCHAR(16)) IS NULL OR c.emp_no >= :shard_from)
    AND (CAST(:shard_to AS VARCHAR(16)) IS NULL OR c.emp_no < :shard_to)
LEFT JOIN ref_residence_status rs
    ON rs.erp_status_code = c.status_code
LEFT JOIN (
    SELECT emp_no, MAX(enrolled_until) AS enrolled_until
    FROM hr_student_enrollment s
    WHERE (CAST(:shard_from AS VARCHAR(16)) IS NULL OR s.emp_no >= :shard_from)
        AND (CAST(:shard_to AS VARCHAR(16)) IS NULL OR s.emp_no < :shard_to)
    GROUP BY emp_no
) se
    ON se.emp_no = e.emp_no
LEFT JOIN (
    SELECT
        emp_no,
        MAX(CASE WHEN filing_kind = 'hire' THEN filed_on END) AS hire_filed_on,
        MAX(CASE WHEN filing_kind = 'separation' THEN filed_on END) AS separation_filed_on
    FROM hr_hellowork_filing h
    WHERE (CAST(:shard_from AS VARCHAR(16)) IS NULL OR h.emp_no >= :shard_from)
        AND (CAST(:shard_to AS VARCHAR(16)) IS NULL OR h.emp_no < :shard_to)
    GROUP BY emp_no
) hw
    ON hw.emp_no = e.emp_no
WHERE
    (CAST(:shard_from AS VARCHAR(16)) IS NULL OR e.emp_no >= :shard_from)
    AND (CAST(:shard_to AS VARCHAR(16)) IS NULL OR e.emp_no < :shard_to)
ORDER BY e.emp_no, c.card_id

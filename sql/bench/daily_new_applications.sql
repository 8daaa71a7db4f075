-- The applications daily_changes.sql filed (receipt numbers starting with :receipt_prefix), with
-- what the ISA status API knows of them: the applicant's current card and status.
SELECT
    a.receipt_no AS receipt_number,
    a.filed_on AS filed_on,
    e.family_name AS family_name,
    e.given_name AS given_name,
    e.birth_date AS date_of_birth,
    e.nationality AS nationality,
    c.card_no AS residence_card_number,
    COALESCE(rs.canonical_code, c.status_code) AS requested_status
FROM hr_visa_application a
JOIN hr_employee e
    ON e.emp_no = a.emp_no
LEFT JOIN hr_residence_card c
    ON c.emp_no = a.emp_no AND c.is_current = 1
LEFT JOIN ref_residence_status rs
    ON rs.erp_status_code = c.status_code
WHERE a.receipt_no LIKE CAST(:receipt_prefix AS VARCHAR(16)) || '%'
ORDER BY a.receipt_no, c.card_id

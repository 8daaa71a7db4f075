-- Canonical applications (contract.md section 1): the residence applications HR has recorded.
-- shard_from / shard_to: see extract_employees.sql.
-- filed_on comes back as the engine's DATE type; extract.py renders it as ISO text.
SELECT
    a.emp_no AS employee_id,
    TRIM(a.receipt_no) AS receipt_number,
    CASE a.application_kind
        WHEN 'KOSHIN' THEN 'extension'
        WHEN 'HENKO' THEN 'change'
        WHEN 'SHUTOKU' THEN 'acquisition'
        WHEN 'NINTEI' THEN 'certificate_of_eligibility'
        ELSE a.application_kind
    END AS application_type,
    a.filed_on AS filed_on
FROM hr_visa_application a
WHERE
    (CAST(:shard_from AS VARCHAR(16)) IS NULL OR a.emp_no >= :shard_from)
    AND (CAST(:shard_to AS VARCHAR(16)) IS NULL OR a.emp_no < :shard_to)
ORDER BY a.emp_no, a.filed_on, a.receipt_no, a.application_id

-- Open findings first recorded by the given run (what its alerts are about).
SELECT
    discrepancy_id, employee_id, organization_id, compliance_owner, rule_code, severity,
    due_date, receipt_number, detail, first_seen_on
FROM discrepancies
WHERE first_seen_run = :run_key
    AND status = 'open'
    AND severity IN :severities
ORDER BY discrepancy_id

-- Findings the warehouse has never seen: open, first and last seen in this run.
INSERT INTO discrepancies (
    discrepancy_id, employee_id, organization_id, compliance_owner, rule_code, severity,
    due_date, receipt_number, detail, status,
    first_seen_run, last_seen_run, first_seen_on, last_seen_on, updated_at
)
SELECT
    s.discrepancy_id, s.employee_id, s.organization_id, s.compliance_owner, s.rule_code,
    s.severity, s.due_date, s.receipt_number, s.detail, 'open',
    :run_key, :run_key, :as_of, :as_of, :now
FROM staging_discrepancies AS s
WHERE NOT EXISTS (
    SELECT 1 FROM discrepancies AS d WHERE d.discrepancy_id = s.discrepancy_id
)

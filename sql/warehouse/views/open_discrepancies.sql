-- Open discrepancies by compliance owner and severity: one row per open finding, with a
-- severity_rank (1 = critical) so analysts can sort owners' queues the way alerts do.
CREATE OR REPLACE VIEW open_discrepancies AS
SELECT
    COALESCE(compliance_owner, '(no owner)') AS compliance_owner,
    severity,
    CASE severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END AS severity_rank,
    rule_code,
    employee_id,
    organization_id,
    due_date,
    receipt_number,
    detail,
    discrepancy_id,
    first_seen_on,
    last_seen_on,
    first_seen_run,
    last_seen_run
FROM discrepancies
WHERE status = 'open';

-- The rest of refresh_seen_discrepancies.sql: known findings of this run (at or after the latest
-- as-of that saw them) that neither reopen nor change owner, so their status, owner and
-- resolution columns keep their values and are not assigned. Rows whose values would not change
-- are left alone.
UPDATE discrepancies SET
    employee_id = s.employee_id,
    organization_id = s.organization_id,
    rule_code = s.rule_code,
    severity = s.severity,
    due_date = s.due_date,
    receipt_number = s.receipt_number,
    detail = s.detail,
    last_seen_run = :run_key,
    last_seen_on = :as_of,
    updated_at = :now
FROM staging_discrepancies AS s
WHERE discrepancies.discrepancy_id = s.discrepancy_id
    AND discrepancies.last_seen_on <= :as_of
    AND NOT COALESCE(
        discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of, FALSE
    )
    AND discrepancies.compliance_owner IS NOT DISTINCT FROM s.compliance_owner
    AND (
        discrepancies.employee_id IS DISTINCT FROM s.employee_id
        OR discrepancies.organization_id IS DISTINCT FROM s.organization_id
        OR discrepancies.rule_code IS DISTINCT FROM s.rule_code
        OR discrepancies.severity IS DISTINCT FROM s.severity
        OR discrepancies.due_date IS DISTINCT FROM s.due_date
        OR discrepancies.receipt_number IS DISTINCT FROM s.receipt_number
        OR discrepancies.detail IS DISTINCT FROM s.detail
        OR discrepancies.last_seen_run <> :run_key
        OR discrepancies.last_seen_on <> :as_of
    )

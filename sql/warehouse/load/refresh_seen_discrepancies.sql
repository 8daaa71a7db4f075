-- Findings of this run that the warehouse already knows. Only a run at or after the latest as-of
-- that saw a finding refreshes it (a backfill never overwrites newer state); a resolved finding
-- seen again on or after the date it was resolved is reopened. Rows whose values would not change
-- are left alone, so a rerun with the same input changes nothing (not even updated_at).
UPDATE discrepancies SET
    employee_id = s.employee_id,
    organization_id = s.organization_id,
    compliance_owner = s.compliance_owner,
    rule_code = s.rule_code,
    severity = s.severity,
    due_date = s.due_date,
    receipt_number = s.receipt_number,
    detail = s.detail,
    last_seen_run = :run_key,
    last_seen_on = :as_of,
    status = CASE
        WHEN discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of THEN 'open'
        ELSE discrepancies.status
    END,
    resolved_run = CASE
        WHEN discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of THEN NULL
        ELSE discrepancies.resolved_run
    END,
    resolved_on = CASE
        WHEN discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of THEN NULL
        ELSE discrepancies.resolved_on
    END,
    reopened_run = CASE
        WHEN discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of
            THEN :run_key
        ELSE discrepancies.reopened_run
    END,
    reopened_on = CASE
        WHEN discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of THEN :as_of
        ELSE discrepancies.reopened_on
    END,
    updated_at = :now
FROM staging_discrepancies AS s
WHERE discrepancies.discrepancy_id = s.discrepancy_id
    AND discrepancies.last_seen_on <= :as_of
    AND (
        discrepancies.employee_id IS DISTINCT FROM s.employee_id
        OR discrepancies.organization_id IS DISTINCT FROM s.organization_id
        OR discrepancies.compliance_owner IS DISTINCT FROM s.compliance_owner
        OR discrepancies.rule_code IS DISTINCT FROM s.rule_code
        OR discrepancies.severity IS DISTINCT FROM s.severity
        OR discrepancies.due_date IS DISTINCT FROM s.due_date
        OR discrepancies.receipt_number IS DISTINCT FROM s.receipt_number
        OR discrepancies.detail IS DISTINCT FROM s.detail
        OR discrepancies.last_seen_run <> :run_key
        OR discrepancies.last_seen_on <> :as_of
        OR (discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of)
    )

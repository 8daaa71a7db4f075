-- Findings of this run that the warehouse already knows. Only a run at or after the latest as-of
-- that saw a finding refreshes it (a backfill never overwrites newer state); a resolved finding
-- seen again on or after the date it was resolved is reopened. Rows whose values would not change
-- are left alone, so a rerun with the same input changes nothing (not even updated_at).
-- This statement takes the findings that reopen or change owner (the columns of
-- discrepancies_status_owner_idx); refresh_seen_discrepancies_in_place.sql takes all the others,
-- without assigning the indexed columns (DuckDB rewrites every row whose indexed columns are
-- assigned as a delete and an insert).
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
        (discrepancies.status = 'resolved' AND discrepancies.resolved_on <= :as_of)
        OR discrepancies.compliance_owner IS DISTINCT FROM s.compliance_owner
    )

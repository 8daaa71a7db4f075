-- Findings with the masked employee data of the run that last saw them (no raw personal data).
-- :scope picks the set: 'new' = open critical/warning findings first seen by :run_key;
-- 'escalation' = open critical findings first seen before :escalate_before;
-- 'resolved' = critical findings resolved by :run_key.
SELECT
    d.discrepancy_id, d.employee_id, d.compliance_owner, d.rule_code, d.severity, d.due_date,
    d.receipt_number, d.first_seen_on, d.resolved_on, s.name_masked, s.card_masked
FROM discrepancies AS d
LEFT JOIN employee_snapshots AS s
    ON s.run_key = d.last_seen_run AND s.employee_id = d.employee_id
WHERE
    (:scope = 'new' AND d.first_seen_run = :run_key AND d.status = 'open'
        AND d.severity IN ('critical', 'warning'))
    OR (:scope = 'escalation' AND d.status = 'open' AND d.severity = 'critical'
        AND d.first_seen_on < :escalate_before)
    OR (:scope = 'resolved' AND d.resolved_run = :run_key AND d.status = 'resolved'
        AND d.severity = 'critical')
ORDER BY d.discrepancy_id

-- Open discrepancies with their rule's titles, remediation and legal basis, for analysts and
-- owners' work queues. A finding whose rule code is not in the catalog table still appears
-- (LEFT JOIN) with null rule columns.
CREATE OR REPLACE VIEW open_discrepancies_with_rules AS
SELECT
    d.discrepancy_id,
    COALESCE(d.compliance_owner, '(no owner)') AS compliance_owner,
    d.severity,
    CASE d.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END AS severity_rank,
    d.rule_code,
    r.title_en AS rule_title_en,
    r.title_ja AS rule_title_ja,
    d.employee_id,
    d.organization_id,
    d.due_date,
    r.due_date_meaning,
    d.receipt_number,
    d.detail,
    r.remediation_en,
    r.remediation_ja,
    r.legal_basis,
    r.uncertain,
    d.first_seen_on,
    d.last_seen_on
FROM discrepancies AS d
LEFT JOIN rules AS r ON r.code = d.rule_code
WHERE d.status = 'open';

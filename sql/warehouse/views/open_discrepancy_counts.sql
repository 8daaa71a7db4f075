-- How many discrepancies each compliance owner has open, per severity, and the earliest due date.
CREATE OR REPLACE VIEW open_discrepancy_counts AS
SELECT
    COALESCE(compliance_owner, '(no owner)') AS compliance_owner,
    severity,
    COUNT(*) AS open_count,
    MIN(due_date) AS earliest_due_date,
    MIN(first_seen_on) AS oldest_first_seen_on
FROM discrepancies
WHERE status = 'open'
GROUP BY COALESCE(compliance_owner, '(no owner)'), severity;

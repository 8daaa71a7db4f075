-- Periods of stay ending within 120 days of the latest snapshot (the employee_snapshots of the run
-- with the latest as-of date that has any), for active employees only (contract section 4:
-- active or on leave, hired on or before the as-of date, not terminated by it). days_left counts
-- calendar days from the as-of date; bucket is '<=30', '31-60', '61-90' or '91-120'.
CREATE OR REPLACE VIEW upcoming_expiries AS
SELECT
    s.employee_id,
    s.organization_id,
    COALESCE(s.compliance_owner, '(no owner)') AS compliance_owner,
    s.residence_status,
    s.period_of_stay_expiry,
    s.period_of_stay_expiry - s.as_of_date AS days_left,
    CASE
        WHEN s.period_of_stay_expiry - s.as_of_date <= 30 THEN '<=30'
        WHEN s.period_of_stay_expiry - s.as_of_date <= 60 THEN '31-60'
        WHEN s.period_of_stay_expiry - s.as_of_date <= 90 THEN '61-90'
        ELSE '91-120'
    END AS bucket,
    s.as_of_date,
    s.run_key
FROM employee_snapshots AS s
WHERE s.run_key = (
        SELECT latest.run_key
        FROM employee_snapshots AS latest
        ORDER BY latest.as_of_date DESC, latest.run_key DESC
        LIMIT 1
    )
    AND s.employment_status IN ('active', 'on_leave')
    AND (s.hire_date IS NULL OR s.hire_date <= s.as_of_date)
    AND (s.termination_date IS NULL OR s.termination_date > s.as_of_date)
    AND s.period_of_stay_expiry >= s.as_of_date
    AND s.period_of_stay_expiry - s.as_of_date <= 120;

-- Employees of the run still employed whose period of stay ends between :as_of and :horizon.
SELECT
    employee_id, compliance_owner, period_of_stay_expiry, residence_status, name_masked,
    card_masked
FROM employee_snapshots
WHERE run_key = :run_key
    AND employment_status IN ('active', 'on_leave')
    AND (termination_date IS NULL OR termination_date >= :as_of)
    AND period_of_stay_expiry >= :as_of
    AND period_of_stay_expiry <= :horizon
ORDER BY employee_id

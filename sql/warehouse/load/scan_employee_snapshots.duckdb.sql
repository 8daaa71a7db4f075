-- DuckDB scans the registered Arrow table "employee_snapshots_frame" (the run's employees,
-- tokenised and masked in Python) straight into the snapshot table under the run key.
INSERT INTO employee_snapshots (
    run_key, as_of_date, employee_id, organization_id, nationality, employment_status, hire_date,
    termination_date, job_category, employment_insured, residence_status, period_of_stay_expiry,
    card_valid_until, outside_status_permission, designated_work_permitted,
    designated_organization_id, student_enrolled_until, compliance_owner, card_token, card_masked,
    name_masked, birth_year
)
SELECT
    CAST(:run_key AS VARCHAR),
    CAST(:as_of AS DATE),
    CAST(employee_id AS VARCHAR),
    CAST(organization_id AS VARCHAR),
    CAST(nationality AS VARCHAR),
    CAST(employment_status AS VARCHAR),
    CAST(hire_date AS DATE),
    CAST(termination_date AS DATE),
    CAST(job_category AS VARCHAR),
    CAST(employment_insured AS BOOLEAN),
    CAST(residence_status AS VARCHAR),
    CAST(period_of_stay_expiry AS DATE),
    CAST(card_valid_until AS DATE),
    CAST(outside_status_permission AS VARCHAR),
    CAST(designated_work_permitted AS BOOLEAN),
    CAST(designated_organization_id AS VARCHAR),
    CAST(student_enrolled_until AS DATE),
    CAST(compliance_owner AS VARCHAR),
    CAST(card_token AS VARCHAR),
    CAST(card_masked AS VARCHAR),
    CAST(name_masked AS VARCHAR),
    CAST(birth_year AS INTEGER)
FROM employee_snapshots_frame

-- The run's employees (tokenised and masked in Python) straight into the snapshot table; the run
-- key and as-of date lead each row.
COPY employee_snapshots (
    run_key, as_of_date, employee_id, organization_id, nationality, employment_status, hire_date,
    termination_date, job_category, employment_insured, residence_status, period_of_stay_expiry,
    card_valid_until, outside_status_permission, designated_work_permitted,
    designated_organization_id, student_enrolled_until, compliance_owner, card_token, card_masked,
    name_masked, birth_year
) FROM STDIN WITH (FORMAT csv)

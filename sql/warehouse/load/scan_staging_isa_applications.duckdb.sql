-- DuckDB scans the registered Arrow table "isa_applications_frame" directly.
INSERT INTO staging_isa_applications (
    receipt_number, status, updated_at, application_type, filed_on, decided_on, granted_status,
    granted_period_expiry, applicant_card_token, applicant_card_masked
)
SELECT
    CAST(receipt_number AS VARCHAR),
    CAST(status AS VARCHAR),
    CAST(updated_at AS TIMESTAMP),
    CAST(application_type AS VARCHAR),
    CAST(filed_on AS DATE),
    CAST(decided_on AS DATE),
    CAST(granted_status AS VARCHAR),
    CAST(granted_period_expiry AS DATE),
    CAST(applicant_card_token AS VARCHAR),
    CAST(applicant_card_masked AS VARCHAR)
FROM isa_applications_frame

-- Statuses not seen before (by receipt number, status and ISA's updated_at) are added with the run
-- that first saw them; known ones are left as they are, so each receipt keeps its status history.
INSERT INTO isa_application_statuses (
    receipt_number, status, updated_at, application_type, filed_on, decided_on, granted_status,
    granted_period_expiry, applicant_card_token, applicant_card_masked, first_seen_run,
    first_seen_at, recorded_at
)
SELECT
    s.receipt_number, s.status, s.updated_at, s.application_type, s.filed_on, s.decided_on,
    s.granted_status, s.granted_period_expiry, s.applicant_card_token, s.applicant_card_masked,
    :run_key, :as_of, :now
FROM staging_isa_applications AS s
WHERE NOT EXISTS (
    SELECT 1 FROM isa_application_statuses AS t
    WHERE t.receipt_number = s.receipt_number
        AND t.status = s.status
        AND t.updated_at = s.updated_at
)

COPY staging_isa_applications (
    receipt_number, status, updated_at, application_type, filed_on, decided_on, granted_status,
    granted_period_expiry, applicant_card_token, applicant_card_masked
) FROM STDIN WITH (FORMAT csv)

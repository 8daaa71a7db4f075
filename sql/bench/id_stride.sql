-- The smallest id stride for replicate_erp.sql: one more than the largest integer id of the ERP.
SELECT 1 + GREATEST(
    COALESCE((SELECT MAX(card_id) FROM hr_residence_card), 0),
    COALESCE((SELECT MAX(enrollment_id) FROM hr_student_enrollment), 0),
    COALESCE((SELECT MAX(application_id) FROM hr_visa_application), 0),
    COALESCE((SELECT MAX(filing_id) FROM hr_hellowork_filing), 0)
) AS stride

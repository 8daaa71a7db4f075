-- Sizes of the ERP roster and its distinct identifiers (checks that a replication kept them
-- unique): rows per table and distinct card and receipt numbers.
SELECT
    (SELECT COUNT(*) FROM hr_employee) AS employees,
    (SELECT COUNT(*) FROM hr_residence_card) AS cards,
    (SELECT COUNT(DISTINCT card_no) FROM hr_residence_card) AS distinct_card_numbers,
    (SELECT COUNT(*) FROM hr_student_enrollment) AS enrollments,
    (SELECT COUNT(*) FROM hr_visa_application) AS applications,
    (SELECT COUNT(DISTINCT receipt_no) FROM hr_visa_application) AS distinct_receipt_numbers,
    (SELECT COUNT(*) FROM pay_timesheet) AS timesheets,
    (SELECT COUNT(*) FROM hr_hellowork_filing) AS hellowork_filings

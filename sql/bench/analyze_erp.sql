-- Refresh the planner statistics of the ERP tables after a bulk replication (PostgreSQL).
ANALYZE hr_employee;
ANALYZE hr_residence_card;
ANALYZE hr_student_enrollment;
ANALYZE hr_visa_application;
ANALYZE pay_timesheet;
ANALYZE hr_hellowork_filing;

-- A day of ERP changes for the incremental benchmark (PostgreSQL). Every employee with a card
-- whose position in employee-number order is a multiple of :every changes (1% for every = 100),
-- in turn: a renewed period of stay (new expiry and card validity from :changed_on), a newly
-- filed extension application (receipt number :receipt_prefix + position, id after the largest)
-- and a timesheet row for :changed_on. One statement per ';' at a line end.

UPDATE hr_residence_card
SET
    period_expires_on = CAST(:changed_on AS DATE) + 1095,
    card_valid_until = CAST(:changed_on AS DATE) + 1095,
    issued_on = CAST(:changed_on AS DATE)
WHERE is_current = 1
    AND emp_no IN (
        SELECT emp_no
        FROM (
            SELECT e.emp_no, ROW_NUMBER() OVER (ORDER BY e.emp_no) AS position
            FROM hr_employee e
            WHERE EXISTS (SELECT 1 FROM hr_residence_card c WHERE c.emp_no = e.emp_no)
        ) ranked
        WHERE MOD(position, CAST(:every AS INTEGER)) = 0
            AND MOD(position / CAST(:every AS INTEGER), 3) = 0
    );

INSERT INTO hr_visa_application (
    application_id, emp_no, receipt_no, application_kind, filed_on, filed_by
)
SELECT
    (SELECT COALESCE(MAX(application_id), 0) FROM hr_visa_application) + position,
    emp_no,
    CAST(:receipt_prefix AS VARCHAR(16)) || LPAD(CAST(position AS VARCHAR(16)), 7, '0'),
    'KOSHIN',
    CAST(:changed_on AS DATE),
    'company'
FROM (
    SELECT e.emp_no, ROW_NUMBER() OVER (ORDER BY e.emp_no) AS position
    FROM hr_employee e
    WHERE EXISTS (SELECT 1 FROM hr_residence_card c WHERE c.emp_no = e.emp_no)
) ranked
WHERE MOD(position, CAST(:every AS INTEGER)) = 0
    AND MOD(position / CAST(:every AS INTEGER), 3) = 1;

INSERT INTO pay_timesheet (emp_no, work_date, hours_worked, long_vacation)
SELECT emp_no, CAST(:changed_on AS DATE), 8.0, 0
FROM (
    SELECT e.emp_no, ROW_NUMBER() OVER (ORDER BY e.emp_no) AS position
    FROM hr_employee e
    WHERE EXISTS (SELECT 1 FROM hr_residence_card c WHERE c.emp_no = e.emp_no)
) ranked
WHERE MOD(position, CAST(:every AS INTEGER)) = 0
    AND MOD(position / CAST(:every AS INTEGER), 3) = 2
    AND NOT EXISTS (
        SELECT 1
        FROM pay_timesheet t
        WHERE t.emp_no = ranked.emp_no AND t.work_date = CAST(:changed_on AS DATE)
    );

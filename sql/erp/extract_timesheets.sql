-- Canonical timesheets (contract.md section 1) for the lookback window given by the bound
-- parameters from_date and to_date (ISO date text, both inclusive); shard_from / shard_to: see
-- extract_employees.sql. work_date and hours come back as the engine's native types; extract.py
-- renders them as ISO / plain decimal text.
SELECT
    t.emp_no AS employee_id,
    t.work_date AS work_date,
    t.hours_worked AS hours,
    CASE t.long_vacation WHEN 1 THEN 'true' WHEN 0 THEN 'false' END AS is_long_vacation
FROM pay_timesheet t
WHERE t.work_date >= :from_date
    AND t.work_date <= :to_date
    AND (CAST(:shard_from AS VARCHAR(16)) IS NULL OR t.emp_no >= :shard_from)
    AND (CAST(:shard_to AS VARCHAR(16)) IS NULL OR t.emp_no < :shard_to)
ORDER BY t.emp_no, t.work_date

-- Boundaries of the roster's shards (bound parameter shards: how many, of about equal size):
-- the first emp_no of every shard but the first. Shard i covers emp_no in [boundary i-1,
-- boundary i), unbounded at both ends, so an employee's card, applications and timesheets fall
-- into the same shard as the employee. Order and comparison are the database's own, the same the
-- extract SQL filters with. Fewer rows come back when there are fewer employees than shards.
SELECT emp_no AS first_employee
FROM (
    SELECT
        emp_no,
        ROW_NUMBER() OVER (ORDER BY emp_no) - 1 AS position,
        COUNT(*) OVER () AS total
    FROM hr_employee
) ranked
WHERE position > 0
    AND (position * :shards) / total > ((position - 1) * :shards) / total
ORDER BY emp_no

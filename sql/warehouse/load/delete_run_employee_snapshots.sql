-- A rerun replaces the run's snapshot rows.
DELETE FROM employee_snapshots WHERE run_key = :run_key

-- The latest runs' open critical findings (as of each run's as-of date), newest first.
SELECT as_of_date, run_key, findings_open_critical
FROM reconciliation_runs
ORDER BY as_of_date DESC, run_key DESC
LIMIT :limit

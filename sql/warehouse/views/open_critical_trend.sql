-- Open critical findings per run, as of the run's as-of date (reconciliation_runs
-- .findings_open_critical, written by the load from findings_as_of_run). Sort by as_of_date.
CREATE OR REPLACE VIEW open_critical_trend AS
SELECT
    as_of_date,
    run_key,
    findings_open_critical AS open_critical
FROM reconciliation_runs;

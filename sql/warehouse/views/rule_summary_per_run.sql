-- Findings open as of each run's as-of date, per rule and severity. "Open as of the run" follows
-- findings_as_of_run: the finding's latest event on or before that date is not a resolution, and
-- the severity is the one that event left it at. Runs with no open finding have no rows.
CREATE OR REPLACE VIEW rule_summary_per_run AS
SELECT
    run_key,
    as_of_date,
    rule_code,
    severity,
    COUNT(*) AS open_findings
FROM findings_as_of_run
WHERE status = 'open'
GROUP BY run_key, as_of_date, rule_code, severity;

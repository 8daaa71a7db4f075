-- Findings open as of the run's as-of date and how many of them are critical, by the event
-- history (the findings_as_of_run view). For an in-order run this equals the open discrepancies
-- after its load; unlike that count it does not change when the run is rerun after later runs.
SELECT
    COUNT(*) AS open_count,
    COALESCE(SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END), 0) AS open_critical
FROM findings_as_of_run
WHERE run_key = :run_key AND status = 'open'

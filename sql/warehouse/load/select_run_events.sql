-- The transitions this run key recorded, and whether each finding is in the run's current set
-- (a rerun with different input may have since dropped a finding the run key first opened).
SELECT
    e.discrepancy_id,
    e.event_type,
    CASE WHEN s.discrepancy_id IS NULL THEN 0 ELSE 1 END AS in_run
FROM discrepancy_events AS e
LEFT JOIN staging_discrepancies AS s ON s.discrepancy_id = e.discrepancy_id
WHERE e.run_key = :run_key
ORDER BY e.discrepancy_id, e.event_type

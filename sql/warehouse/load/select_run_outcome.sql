-- The findings this run created, resolved or reopened, and whether they are in its set.
SELECT
    d.discrepancy_id,
    d.status,
    d.first_seen_run,
    d.resolved_run,
    d.reopened_run,
    CASE WHEN s.discrepancy_id IS NULL THEN 0 ELSE 1 END AS in_run
FROM discrepancies AS d
LEFT JOIN staging_discrepancies AS s ON s.discrepancy_id = d.discrepancy_id
WHERE d.first_seen_run = :run_key
    OR d.resolved_run = :run_key
    OR d.reopened_run = :run_key
ORDER BY d.discrepancy_id

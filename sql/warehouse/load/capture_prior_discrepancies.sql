-- Before the upserts: the state of every known finding this run reports, and of every open finding
-- it may resolve (last seen on or before its as-of date). A finding of the run without a row here
-- is one the load is about to open.
INSERT INTO staging_prior_discrepancies (discrepancy_id, status, severity)
SELECT d.discrepancy_id, d.status, d.severity
FROM discrepancies AS d
WHERE EXISTS (
        SELECT 1 FROM staging_discrepancies AS s WHERE s.discrepancy_id = d.discrepancy_id
    )
    OR (d.status = 'open' AND d.last_seen_on <= :as_of)

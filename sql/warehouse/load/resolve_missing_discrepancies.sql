-- Open findings this run no longer reports are resolved, unless a later as-of run saw them
-- (a backfill of an earlier date must not close newer findings).
UPDATE discrepancies SET
    status = 'resolved',
    resolved_run = :run_key,
    resolved_on = :as_of,
    updated_at = :now
WHERE status = 'open'
    AND last_seen_on <= :as_of
    AND NOT EXISTS (
        SELECT 1 FROM staging_discrepancies AS s
        WHERE s.discrepancy_id = discrepancies.discrepancy_id
    )

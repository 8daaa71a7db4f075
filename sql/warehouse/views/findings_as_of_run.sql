-- The state of every finding as of each run's as-of date, read from the event history: a finding's
-- state as of run R is its latest event with as_of_date <= R's as-of date (ties within one as-of
-- date broken by recorded_at, then by the order opened < reopened < (de)escalated < resolved).
-- status is 'resolved' when that event is a resolution, else 'open'; severity is the severity the
-- event left the finding at (for a resolution, the severity it had when resolved). Only findings
-- that had an event on or before R's as-of date appear. This is "what the warehouse knew about
-- that date": reruns of R after later runs do not change it; a later backfill of an earlier date
-- adds what the backfill found.
CREATE OR REPLACE VIEW findings_as_of_run AS
SELECT
    run_key,
    as_of_date,
    discrepancy_id,
    employee_id,
    rule_code,
    severity,
    status,
    last_event_type,
    last_event_on
FROM (
    SELECT
        r.run_key,
        r.as_of_date,
        e.discrepancy_id,
        e.employee_id,
        e.rule_code,
        COALESCE(e.severity_after, e.severity_before) AS severity,
        CASE WHEN e.event_type = 'resolved' THEN 'resolved' ELSE 'open' END AS status,
        e.event_type AS last_event_type,
        e.as_of_date AS last_event_on,
        ROW_NUMBER() OVER (
            PARTITION BY r.run_key, e.discrepancy_id
            ORDER BY
                e.as_of_date DESC,
                e.recorded_at DESC,
                CASE e.event_type
                    WHEN 'resolved' THEN 4
                    WHEN 'escalated' THEN 3
                    WHEN 'deescalated' THEN 3
                    WHEN 'reopened' THEN 2
                    ELSE 1
                END DESC
        ) AS position
    FROM reconciliation_runs AS r
    JOIN discrepancy_events AS e ON e.as_of_date <= r.as_of_date
) AS latest
WHERE position = 1;

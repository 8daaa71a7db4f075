-- After the upserts: one event per transition this load made, read from the state before
-- (staging_prior_discrepancies) and after (discrepancies). Findings the lifecycle did not touch
-- (e.g. those a later as-of run saw, during a backfill) are equal before and after and get none.
-- Event ids hash discrepancy_id|run_key|event_type: a rerun of the run key adds nothing it added.
INSERT INTO discrepancy_events (
    event_id, discrepancy_id, run_key, as_of_date, event_type, severity_before, severity_after,
    rule_code, employee_id, recorded_at
)
SELECT
    md5(t.discrepancy_id || '|' || CAST(:run_key AS VARCHAR) || '|' || t.event_type),
    t.discrepancy_id,
    :run_key,
    :as_of,
    t.event_type,
    t.severity_before,
    t.severity_after,
    t.rule_code,
    t.employee_id,
    :now
FROM (
    SELECT
        d.discrepancy_id, 'opened' AS event_type, CAST(NULL AS VARCHAR(10)) AS severity_before,
        d.severity AS severity_after, d.rule_code, d.employee_id
    FROM discrepancies AS d
    JOIN staging_discrepancies AS s ON s.discrepancy_id = d.discrepancy_id
    LEFT JOIN staging_prior_discrepancies AS p ON p.discrepancy_id = d.discrepancy_id
    WHERE p.discrepancy_id IS NULL
    UNION ALL
    SELECT
        d.discrepancy_id, 'reopened', p.severity, d.severity, d.rule_code, d.employee_id
    FROM discrepancies AS d
    JOIN staging_prior_discrepancies AS p ON p.discrepancy_id = d.discrepancy_id
    WHERE p.status = 'resolved' AND d.status = 'open'
    UNION ALL
    SELECT
        d.discrepancy_id, 'resolved', p.severity, CAST(NULL AS VARCHAR(10)), d.rule_code,
        d.employee_id
    FROM discrepancies AS d
    JOIN staging_prior_discrepancies AS p ON p.discrepancy_id = d.discrepancy_id
    WHERE p.status = 'open' AND d.status = 'resolved'
    UNION ALL
    SELECT
        d.discrepancy_id,
        CASE
            WHEN (CASE d.severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END)
                > (CASE p.severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END)
                THEN 'escalated'
            ELSE 'deescalated'
        END,
        p.severity, d.severity, d.rule_code, d.employee_id
    FROM discrepancies AS d
    JOIN staging_prior_discrepancies AS p ON p.discrepancy_id = d.discrepancy_id
    WHERE d.status = 'open' AND d.severity <> p.severity
) AS t
ON CONFLICT (event_id) DO NOTHING

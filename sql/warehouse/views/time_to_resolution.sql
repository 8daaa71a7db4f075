-- How long resolved findings stayed unresolved, per rule: calendar days from first_seen_on to
-- resolved_on of the discrepancies currently resolved (a finding that was reopened and resolved
-- again counts from its first sighting to its latest resolution). Median by percentile_cont.
CREATE OR REPLACE VIEW time_to_resolution AS
SELECT
    rule_code,
    COUNT(*) AS resolved_count,
    CAST(AVG(resolved_on - first_seen_on) AS DOUBLE PRECISION) AS avg_days,
    CAST(
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY resolved_on - first_seen_on)
        AS DOUBLE PRECISION
    ) AS median_days,
    MAX(resolved_on - first_seen_on) AS max_days
FROM discrepancies
WHERE status = 'resolved' AND resolved_on IS NOT NULL
GROUP BY rule_code;

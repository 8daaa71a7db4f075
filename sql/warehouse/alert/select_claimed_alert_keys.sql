-- Keys of alerts of the given kinds that were delivered or may have been (pending, uncertain),
-- by other run keys: the planner does not alert about them again. Failed ones are not claimed.
SELECT channel, alert_key FROM alert_log
WHERE kind IN :kinds
    AND status IN ('delivered', 'pending', 'uncertain')
    AND run_key <> :run_key
    AND alert_key IS NOT NULL

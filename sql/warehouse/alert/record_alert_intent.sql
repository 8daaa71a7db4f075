-- Written and committed before the message is handed to the transport: a crash after sending
-- leaves a 'pending' row (the next run retries it) rather than no trace at all.
INSERT INTO alert_log (
    alert_id, run_key, kind, recipient, channel, finding_ids, status, attempts, created_at,
    delivered_at, error
) VALUES (
    :alert_id, :run_key, :kind, :recipient, :channel, :finding_ids, 'pending', 1, :now,
    NULL, NULL
)
ON CONFLICT (alert_id) DO UPDATE SET
    run_key = EXCLUDED.run_key,
    channel = EXCLUDED.channel,
    status = 'pending',
    attempts = alert_log.attempts + 1

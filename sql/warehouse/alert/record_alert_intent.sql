-- Written and committed before the message is handed to the transport: a crash after sending
-- leaves a 'pending' row, which the next attempt marks 'uncertain' instead of resending.
INSERT INTO alert_log (
    alert_id, run_key, kind, recipient, channel, finding_ids, status, attempts, created_at,
    delivered_at, error, alert_key, subject, last_attempt_at
) VALUES (
    :alert_id, :run_key, :kind, :recipient, :channel, :finding_ids, 'pending', 1, :now,
    NULL, NULL, :alert_key, :subject, :now
)
ON CONFLICT (alert_id) DO UPDATE SET
    run_key = EXCLUDED.run_key,
    channel = EXCLUDED.channel,
    status = 'pending',
    attempts = alert_log.attempts + 1,
    last_attempt_at = EXCLUDED.last_attempt_at

-- Alerts a human may need to look at: uncertain (maybe sent, maybe not), failed, still pending.
SELECT alert_id, kind, recipient, channel, status, created_at, error
FROM alert_log
WHERE status IN ('uncertain', 'failed', 'pending')
ORDER BY
    CASE status WHEN 'uncertain' THEN 0 WHEN 'failed' THEN 1 ELSE 2 END,
    created_at,
    alert_id

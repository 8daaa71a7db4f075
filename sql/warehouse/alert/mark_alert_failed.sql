UPDATE alert_log SET status = 'failed', error = :error
WHERE alert_id = :alert_id

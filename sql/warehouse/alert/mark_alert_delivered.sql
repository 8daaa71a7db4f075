UPDATE alert_log SET status = 'delivered', delivered_at = :now, error = NULL
WHERE alert_id = :alert_id

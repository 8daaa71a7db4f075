SELECT status FROM alert_log WHERE alert_id = :alert_id

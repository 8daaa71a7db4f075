SELECT alert_id, status FROM alert_log WHERE alert_id IN :alert_ids

-- A row still 'pending' from an earlier attempt: the process ended between send and log.
UPDATE alert_log SET status = 'uncertain', error = :error
WHERE alert_id = :alert_id AND status = 'pending'

-- Warehouse schema, version 0004: alert_log for routed alerts of several kinds and the crash window.
-- New status 'uncertain': a row still 'pending' from an earlier attempt (the process died between
-- handing the message to the transport and recording the outcome). It is not resent; a human checks.
-- New columns: alert_key (the alert's keys, one per line: finding ids, or employee|expiry|threshold
-- for reminders), subject (no personal data), last_attempt_at. DuckDB cannot change a CHECK
-- constraint, so the table is rebuilt and the rows copied (portable DuckDB + PostgreSQL).
CREATE TABLE alert_log_v4 (
    alert_id VARCHAR(64) PRIMARY KEY,
    run_key VARCHAR(200) NOT NULL,
    kind VARCHAR(40) NOT NULL,
    recipient VARCHAR(320) NOT NULL,
    channel VARCHAR(40) NOT NULL,
    finding_ids TEXT NOT NULL,
    status VARCHAR(10) NOT NULL
        CHECK (status IN ('pending', 'delivered', 'failed', 'uncertain')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    error TEXT,
    alert_key TEXT,
    subject TEXT,
    last_attempt_at TIMESTAMP
);

INSERT INTO alert_log_v4 (
    alert_id, run_key, kind, recipient, channel, finding_ids, status, attempts, created_at,
    delivered_at, error, alert_key, subject, last_attempt_at
)
SELECT
    alert_id, run_key, kind, recipient, channel, finding_ids, status, attempts, created_at,
    delivered_at, error, finding_ids, NULL, created_at
FROM alert_log;

DROP TABLE alert_log;

ALTER TABLE alert_log_v4 RENAME TO alert_log;

CREATE INDEX IF NOT EXISTS alert_log_kind_status_idx ON alert_log (kind, status);

-- Warehouse schema, version 0001. Runs unchanged on DuckDB and PostgreSQL: portable types only,
-- no foreign keys (DuckDB cannot update a referenced row), timestamps are UTC without time zone.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR(100) PRIMARY KEY,
    applied_at TIMESTAMP NOT NULL
);

-- One row per run key (pipeline/as-of date); a rerun of the same date overwrites its row.
CREATE TABLE IF NOT EXISTS reconciliation_runs (
    run_key VARCHAR(200) PRIMARY KEY,
    dag_run_id VARCHAR(250),
    logical_date TIMESTAMP,
    as_of_date DATE NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR(20) NOT NULL,
    extracted INTEGER NOT NULL DEFAULT 0,
    ignored INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    valid INTEGER NOT NULL DEFAULT 0,
    reconciled INTEGER NOT NULL DEFAULT 0,
    api_calls INTEGER NOT NULL DEFAULT 0,
    findings_total INTEGER NOT NULL DEFAULT 0,
    findings_new INTEGER NOT NULL DEFAULT 0,
    findings_open INTEGER NOT NULL DEFAULT 0,
    findings_resolved INTEGER NOT NULL DEFAULT 0,
    findings_reopened INTEGER NOT NULL DEFAULT 0,
    code_version VARCHAR(50)
);

-- Current state of every finding ever seen, keyed by its stable id (employee + rule + receipt).
-- first_seen_* is the run that first recorded it; last_seen_* the latest as-of run that saw it.
CREATE TABLE IF NOT EXISTS discrepancies (
    discrepancy_id VARCHAR(64) PRIMARY KEY,
    employee_id VARCHAR(64),
    organization_id VARCHAR(64),
    compliance_owner VARCHAR(320),
    rule_code VARCHAR(64) NOT NULL,
    severity VARCHAR(10) NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    due_date DATE,
    receipt_number VARCHAR(64),
    detail TEXT,
    status VARCHAR(10) NOT NULL CHECK (status IN ('open', 'resolved')),
    first_seen_run VARCHAR(200) NOT NULL,
    last_seen_run VARCHAR(200) NOT NULL,
    first_seen_on DATE NOT NULL,
    last_seen_on DATE NOT NULL,
    resolved_run VARCHAR(200),
    resolved_on DATE,
    reopened_run VARCHAR(200),
    reopened_on DATE,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS discrepancies_status_owner_idx
    ON discrepancies (status, compliance_owner);

CREATE INDEX IF NOT EXISTS discrepancies_first_seen_run_idx
    ON discrepancies (first_seen_run);

-- Rows that failed validation, per run; a rerun replaces its run's rows. No PII columns.
CREATE TABLE IF NOT EXISTS quarantine (
    run_key VARCHAR(200) NOT NULL,
    source_table VARCHAR(64) NOT NULL,
    row_number INTEGER NOT NULL,
    employee_id VARCHAR(64),
    receipt_number VARCHAR(64),
    organization_id VARCHAR(64),
    compliance_owner VARCHAR(320),
    reason_codes TEXT,
    reasons TEXT,
    PRIMARY KEY (run_key, source_table, row_number)
);

-- Every alert the pipeline meant to send; the id is run-independent so a rerun never resends.
CREATE TABLE IF NOT EXISTS alert_log (
    alert_id VARCHAR(64) PRIMARY KEY,
    run_key VARCHAR(200) NOT NULL,
    kind VARCHAR(40) NOT NULL,
    recipient VARCHAR(320) NOT NULL,
    channel VARCHAR(40) NOT NULL,
    finding_ids TEXT NOT NULL,
    status VARCHAR(10) NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    error TEXT
);

-- Warehouse schema, version 0003: history, so that analysts and compliance owners can prove months
-- later what the company knew and when. Portable DuckDB + PostgreSQL types only; every table below
-- is written by zairyu_sync.load.load_run in the run's single transaction.

-- The run's rule catalog version, how many findings it escalated and how many critical findings
-- were open as of its as-of date (see the findings_as_of_run view for the definition). DuckDB cannot
-- add a column with a NOT NULL constraint, so the counts rely on their default instead.
ALTER TABLE reconciliation_runs ADD COLUMN rule_catalog_version INTEGER;

ALTER TABLE reconciliation_runs ADD COLUMN findings_escalated INTEGER DEFAULT 0;

ALTER TABLE reconciliation_runs ADD COLUMN findings_open_critical INTEGER DEFAULT 0;

-- One row per lifecycle transition of a discrepancy; rows are only ever inserted. The id is the MD5
-- of discrepancy_id|run_key|event_type, so a rerun of a run key never adds the same event twice.
-- severity_before is null for 'opened', severity_after is null for 'resolved'.
CREATE TABLE IF NOT EXISTS discrepancy_events (
    event_id VARCHAR(64) PRIMARY KEY,
    discrepancy_id VARCHAR(64) NOT NULL,
    run_key VARCHAR(200) NOT NULL,
    as_of_date DATE NOT NULL,
    event_type VARCHAR(12) NOT NULL
        CHECK (event_type IN ('opened', 'escalated', 'deescalated', 'resolved', 'reopened')),
    severity_before VARCHAR(10),
    severity_after VARCHAR(10),
    rule_code VARCHAR(64) NOT NULL,
    employee_id VARCHAR(64),
    recorded_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS discrepancy_events_discrepancy_idx
    ON discrepancy_events (discrepancy_id, as_of_date);

CREATE INDEX IF NOT EXISTS discrepancy_events_run_idx ON discrepancy_events (run_key);

-- Findings recorded before this version get their history seeded from their current state: when
-- they were first seen, last reopened and (if resolved) resolved, at their current severity. Any
-- earlier resolve/reopen cycles and severity changes were not recorded and cannot be recovered.
INSERT INTO discrepancy_events (
    event_id, discrepancy_id, run_key, as_of_date, event_type, severity_before, severity_after,
    rule_code, employee_id, recorded_at
)
SELECT
    md5(discrepancy_id || '|' || first_seen_run || '|opened'), discrepancy_id, first_seen_run,
    first_seen_on, 'opened', NULL, severity, rule_code, employee_id, updated_at
FROM discrepancies;

INSERT INTO discrepancy_events (
    event_id, discrepancy_id, run_key, as_of_date, event_type, severity_before, severity_after,
    rule_code, employee_id, recorded_at
)
SELECT
    md5(discrepancy_id || '|' || reopened_run || '|reopened'), discrepancy_id, reopened_run,
    reopened_on, 'reopened', severity, severity, rule_code, employee_id, updated_at
FROM discrepancies
WHERE reopened_run IS NOT NULL AND reopened_on IS NOT NULL;

INSERT INTO discrepancy_events (
    event_id, discrepancy_id, run_key, as_of_date, event_type, severity_before, severity_after,
    rule_code, employee_id, recorded_at
)
SELECT
    md5(discrepancy_id || '|' || resolved_run || '|resolved'), discrepancy_id, resolved_run,
    resolved_on, 'resolved', severity, NULL, rule_code, employee_id, updated_at
FROM discrepancies
WHERE status = 'resolved' AND resolved_run IS NOT NULL AND resolved_on IS NOT NULL;

-- The canonical record of every valid employee as one run saw it; a rerun replaces the run's rows.
-- No name, birth date or card number: card_token is a keyed hash (joinable across runs),
-- card_masked and name_masked are display forms, birth_year is all that is kept of the birth date.
CREATE TABLE IF NOT EXISTS employee_snapshots (
    run_key VARCHAR(200) NOT NULL,
    as_of_date DATE NOT NULL,
    employee_id VARCHAR(64) NOT NULL,
    organization_id VARCHAR(64),
    nationality VARCHAR(3),
    employment_status VARCHAR(20),
    hire_date DATE,
    termination_date DATE,
    job_category VARCHAR(100),
    employment_insured BOOLEAN,
    residence_status VARCHAR(64),
    period_of_stay_expiry DATE,
    card_valid_until DATE,
    outside_status_permission VARCHAR(20),
    designated_work_permitted BOOLEAN,
    designated_organization_id VARCHAR(64),
    student_enrolled_until DATE,
    compliance_owner VARCHAR(320),
    card_token VARCHAR(64),
    card_masked VARCHAR(20),
    name_masked VARCHAR(200),
    birth_year INTEGER,
    PRIMARY KEY (run_key, employee_id)
);

CREATE INDEX IF NOT EXISTS employee_snapshots_employee_idx
    ON employee_snapshots (employee_id, as_of_date);

-- Every application status the ISA API returned, with the first run (and its as-of date) that
-- saw it; rows are only inserted, so this is the status history of each receipt number.
-- recorded_at is when that run loaded it (a backfill sees today's statuses under an old as-of).
CREATE TABLE IF NOT EXISTS isa_application_statuses (
    receipt_number VARCHAR(64) NOT NULL,
    status VARCHAR(40) NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    application_type VARCHAR(40),
    filed_on DATE,
    decided_on DATE,
    granted_status VARCHAR(64),
    granted_period_expiry DATE,
    applicant_card_token VARCHAR(64),
    applicant_card_masked VARCHAR(20),
    first_seen_run VARCHAR(200) NOT NULL,
    first_seen_at DATE NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (receipt_number, status, updated_at)
);

-- Session-local staging tables for one load; dropped again before the transaction commits.
DROP TABLE IF EXISTS staging_discrepancies;

CREATE TEMPORARY TABLE staging_discrepancies (
    discrepancy_id VARCHAR(64) NOT NULL PRIMARY KEY,
    employee_id VARCHAR(64),
    organization_id VARCHAR(64),
    compliance_owner VARCHAR(320),
    rule_code VARCHAR(64) NOT NULL,
    severity VARCHAR(10) NOT NULL,
    due_date DATE,
    receipt_number VARCHAR(64),
    detail TEXT
);

DROP TABLE IF EXISTS staging_quarantine;

CREATE TEMPORARY TABLE staging_quarantine (
    source_table VARCHAR(64) NOT NULL,
    row_number INTEGER NOT NULL,
    employee_id VARCHAR(64),
    receipt_number VARCHAR(64),
    organization_id VARCHAR(64),
    compliance_owner VARCHAR(320),
    reason_codes TEXT,
    reasons TEXT,
    PRIMARY KEY (source_table, row_number)
);

-- The state of the discrepancies this load may change, captured before it changes them: every
-- known finding the run reports plus every open one it may resolve. Events are the difference.
DROP TABLE IF EXISTS staging_prior_discrepancies;

CREATE TEMPORARY TABLE staging_prior_discrepancies (
    discrepancy_id VARCHAR(64) NOT NULL PRIMARY KEY,
    status VARCHAR(10) NOT NULL,
    severity VARCHAR(10) NOT NULL
);

-- The ISA application statuses the run saw (applicant card tokenised and masked in Python).
DROP TABLE IF EXISTS staging_isa_applications;

CREATE TEMPORARY TABLE staging_isa_applications (
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
    PRIMARY KEY (receipt_number, status, updated_at)
);

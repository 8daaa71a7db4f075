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

-- Warehouse schema, version 0002: the reference data analysts join findings to. Both tables are
-- replaced as a whole at every load (zairyu_sync.load.load_reference_data) from the packaged
-- rules.yaml and residence_statuses.yaml. Portable DuckDB + PostgreSQL types only.

-- The rule catalog (contract.md section 4): one row per rule code. legal_basis holds one citation
-- per line; escalation says when a finding becomes critical (null: never escalates).
CREATE TABLE IF NOT EXISTS rules (
    code VARCHAR(64) PRIMARY KEY,
    title_en TEXT NOT NULL,
    title_ja TEXT NOT NULL,
    base_severity VARCHAR(10) NOT NULL CHECK (base_severity IN ('critical', 'warning', 'info')),
    escalation TEXT,
    condition TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    uncertain TEXT,
    remediation_en TEXT NOT NULL,
    remediation_ja TEXT NOT NULL,
    applies_from DATE,
    applies_until DATE,
    due_date_meaning TEXT NOT NULL,
    catalog_version INTEGER NOT NULL
);

-- The residence status master (contract.md section 2): one row per status code.
CREATE TABLE IF NOT EXISTS residence_statuses (
    code VARCHAR(64) PRIMARY KEY,
    name_ja TEXT NOT NULL,
    name_en TEXT NOT NULL,
    work_class VARCHAR(20) NOT NULL
        CHECK (work_class IN ('unrestricted', 'within_status', 'not_permitted', 'designation')),
    fixed_period BOOLEAN NOT NULL,
    designation BOOLEAN NOT NULL,
    residence_card BOOLEAN NOT NULL,
    valid_from DATE,
    valid_until DATE,
    legal_basis TEXT NOT NULL,
    note TEXT
);

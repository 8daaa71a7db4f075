-- The run's row; a rerun of the same run key overwrites it (findings_* are filled in at the end).
INSERT INTO reconciliation_runs (
    run_key, dag_run_id, logical_date, as_of_date, started_at, finished_at, status,
    extracted, ignored, quarantined, valid, reconciled, api_calls,
    findings_total, findings_new, findings_open, findings_resolved, findings_reopened,
    code_version, rule_catalog_version
) VALUES (
    :run_key, :dag_run_id, :logical_date, :as_of_date, :started_at, :finished_at, :status,
    :extracted, :ignored, :quarantined, :valid, :reconciled, :api_calls,
    :findings_total, 0, 0, 0, 0,
    :code_version, :rule_catalog_version
)
ON CONFLICT (run_key) DO UPDATE SET
    dag_run_id = EXCLUDED.dag_run_id,
    logical_date = EXCLUDED.logical_date,
    as_of_date = EXCLUDED.as_of_date,
    started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at,
    status = EXCLUDED.status,
    extracted = EXCLUDED.extracted,
    ignored = EXCLUDED.ignored,
    quarantined = EXCLUDED.quarantined,
    valid = EXCLUDED.valid,
    reconciled = EXCLUDED.reconciled,
    api_calls = EXCLUDED.api_calls,
    findings_total = EXCLUDED.findings_total,
    code_version = EXCLUDED.code_version,
    rule_catalog_version = EXCLUDED.rule_catalog_version

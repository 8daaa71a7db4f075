UPDATE reconciliation_runs SET
    findings_new = :findings_new,
    findings_open = :findings_open,
    findings_resolved = :findings_resolved,
    findings_reopened = :findings_reopened
WHERE run_key = :run_key

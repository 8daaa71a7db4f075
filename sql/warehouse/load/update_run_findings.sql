UPDATE reconciliation_runs SET
    findings_new = :findings_new,
    findings_open = :findings_open,
    findings_resolved = :findings_resolved,
    findings_reopened = :findings_reopened,
    findings_escalated = :findings_escalated,
    findings_open_critical = :findings_open_critical
WHERE run_key = :run_key

COPY staging_discrepancies (
    discrepancy_id, employee_id, organization_id, compliance_owner, rule_code, severity,
    due_date, receipt_number, detail
) FROM STDIN WITH (FORMAT csv)

COPY staging_quarantine (
    source_table, row_number, employee_id, receipt_number, organization_id, compliance_owner,
    reason_codes, reasons
) FROM STDIN WITH (FORMAT csv)

INSERT INTO quarantine (
    run_key, source_table, row_number, employee_id, receipt_number, organization_id,
    compliance_owner, reason_codes, reasons
)
SELECT
    :run_key, source_table, row_number, employee_id, receipt_number, organization_id,
    compliance_owner, reason_codes, reasons
FROM staging_quarantine

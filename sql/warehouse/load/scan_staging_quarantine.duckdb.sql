-- DuckDB scans the registered Arrow table "quarantine_frame" directly.
INSERT INTO staging_quarantine (
    source_table, row_number, employee_id, receipt_number, organization_id, compliance_owner,
    reason_codes, reasons
)
SELECT
    CAST(source_table AS VARCHAR),
    CAST(row_number AS INTEGER),
    CAST(employee_id AS VARCHAR),
    CAST(receipt_number AS VARCHAR),
    CAST(organization_id AS VARCHAR),
    CAST(compliance_owner AS VARCHAR),
    CAST(reason_codes AS VARCHAR),
    CAST(reasons AS VARCHAR)
FROM quarantine_frame

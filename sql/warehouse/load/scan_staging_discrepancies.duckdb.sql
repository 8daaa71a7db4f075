-- DuckDB scans the registered Arrow table "discrepancies_frame" directly.
INSERT INTO staging_discrepancies (
    discrepancy_id, employee_id, organization_id, compliance_owner, rule_code, severity,
    due_date, receipt_number, detail
)
SELECT
    CAST(discrepancy_id AS VARCHAR),
    CAST(employee_id AS VARCHAR),
    CAST(organization_id AS VARCHAR),
    CAST(compliance_owner AS VARCHAR),
    CAST(rule_code AS VARCHAR),
    CAST(severity AS VARCHAR),
    CAST(due_date AS DATE),
    CAST(receipt_number AS VARCHAR),
    CAST(detail AS VARCHAR)
FROM discrepancies_frame

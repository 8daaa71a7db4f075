-- One rule of the catalog (executemany over every rule).
INSERT INTO rules (
    code, title_en, title_ja, base_severity, escalation, condition, legal_basis, uncertain,
    remediation_en, remediation_ja, applies_from, applies_until, due_date_meaning, catalog_version
) VALUES (
    :code, :title_en, :title_ja, :base_severity, :escalation, :condition, :legal_basis, :uncertain,
    :remediation_en, :remediation_ja, :applies_from, :applies_until, :due_date_meaning,
    :catalog_version
)

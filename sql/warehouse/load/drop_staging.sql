DROP TABLE IF EXISTS staging_discrepancies;

DROP TABLE IF EXISTS staging_quarantine;

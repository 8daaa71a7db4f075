DROP TABLE IF EXISTS staging_discrepancies;

DROP TABLE IF EXISTS staging_quarantine;

DROP TABLE IF EXISTS staging_prior_discrepancies;

DROP TABLE IF EXISTS staging_isa_applications;

-- One residence status of the master (executemany over every status).
INSERT INTO residence_statuses (
    code, name_ja, name_en, work_class, fixed_period, designation, residence_card, valid_from,
    valid_until, legal_basis, note
) VALUES (
    :code, :name_ja, :name_en, :work_class, :fixed_period, :designation, :residence_card,
    :valid_from, :valid_until, :legal_basis, :note
)

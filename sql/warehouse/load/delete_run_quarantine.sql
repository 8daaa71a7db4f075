DELETE FROM quarantine WHERE run_key = :run_key

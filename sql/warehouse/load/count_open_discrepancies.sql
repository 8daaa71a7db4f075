SELECT COUNT(*) FROM discrepancies WHERE status = 'open'

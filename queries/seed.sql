-- Synthetic data (loanremind seed) writes the lender's tables with COPY
-- (CopyFrom); these are the statements around it.

-- name: LenderTablesWithRows
-- Which of the lender's tables already hold rows.
SELECT t FROM (VALUES
    ('borrowers', EXISTS (SELECT 1 FROM borrowers)),
    ('loans', EXISTS (SELECT 1 FROM loans)),
    ('installments', EXISTS (SELECT 1 FROM installments)),
    ('borrower_quiet_windows', EXISTS (SELECT 1 FROM borrower_quiet_windows)),
    ('holidays', EXISTS (SELECT 1 FROM holidays))
) AS x (t, has_rows)
WHERE has_rows;

-- name: ResetQuietWindowSequence
-- Rows written with explicit ids: move the sequence past them.
SELECT setval(pg_get_serial_sequence('borrower_quiet_windows', 'id'), GREATEST(max(id), 1), max(id) IS NOT NULL)
FROM borrower_quiet_windows;

-- name: AnalyzeLenderTables
ANALYZE borrowers, loans, installments, borrower_quiet_windows, holidays;

package queries

import (
	"context"
	"fmt"
)

// LenderTablesWithRows names the lender's tables that already hold rows.
func LenderTablesWithRows(ctx context.Context, db DBTX) ([]string, error) {
	rows, err := db.QueryContext(ctx, stmt("LenderTablesWithRows"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// FinishSeed moves the quiet windows' id sequence past the ids a seed wrote
// and refreshes the planner's statistics of the lender's tables.
func FinishSeed(ctx context.Context, db DBTX) error {
	if _, err := db.ExecContext(ctx, stmt("ResetQuietWindowSequence")); err != nil {
		return fmt.Errorf("borrower_quiet_windows id sequence: %w", err)
	}
	if _, err := db.ExecContext(ctx, stmt("AnalyzeLenderTables")); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

package queries

import (
	"context"
	"fmt"
)

// LenderTablesWithRows names the lender's tables that already hold rows.
func LenderTablesWithRows(ctx context.Context, db DBTX) ([]string, error) {
	return selectColumn[string](ctx, db, stmt("LenderTablesWithRows"))
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

package queries

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// ServerReference times PostgreSQL writing, with one INSERT ... SELECT, the
// grouped messages and audit rows a run wrote (see reference.sql). It
// returns the time and the rows it wrote; the tables are dropped after.
func ServerReference(ctx context.Context, db DBTX, runID int64, dueDates []time.Time, stages []string) (time.Duration, int64, int64, error) {
	dates := make([]string, len(dueDates))
	for i, d := range dueDates {
		dates[i] = d.Format(time.DateOnly)
	}
	if _, err := db.ExecContext(ctx, stmt("ReferenceSetup")); err != nil {
		return 0, 0, 0, fmt.Errorf("reference setup: %w", err)
	}
	defer db.ExecContext(context.WithoutCancel(ctx), stmt("ReferenceDrop"))
	start := time.Now()
	if _, err := db.ExecContext(ctx, stmt("ReferenceInsert"), pq.Array(dates), pq.Array(stages), runID); err != nil {
		return 0, 0, 0, fmt.Errorf("reference insert: %w", err)
	}
	elapsed := time.Since(start)
	var sends, audit int64
	if err := db.QueryRowContext(ctx, stmt("ReferenceCounts")).Scan(&sends, &audit); err != nil {
		return 0, 0, 0, err
	}
	return elapsed, sends, audit, nil
}

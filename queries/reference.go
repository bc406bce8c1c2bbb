package queries

import (
	"context"
	"database/sql"
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

// VerifyReference times PostgreSQL reading a run's audit rows in chain
// order and writing them to /dev/null on the server (see reference.sql), in
// a read-only transaction on db, and returns the rows it wrote. Give it a new
// pool: a server process that has read the run before reads it again faster
// than `audit verify`'s new one can. It needs a superuser or
// pg_write_server_files.
func VerifyReference(ctx context.Context, db *sql.DB, runID int64) (time.Duration, int64, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, 0, fmt.Errorf("verify reference: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmt("ChainSettings")); err != nil {
		return 0, 0, fmt.Errorf("verify reference: %w", err)
	}
	start := time.Now()
	res, err := tx.ExecContext(ctx, fmt.Sprintf(stmt("VerifyReference"), runID))
	if err != nil {
		return 0, 0, fmt.Errorf("verify reference: %w", err)
	}
	elapsed := time.Since(start)
	rows, err := res.RowsAffected()
	if err != nil {
		return 0, 0, fmt.Errorf("verify reference: %w", err)
	}
	return elapsed, rows, nil
}

package queries_test

import (
	"context"
	"testing"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// The benchmark's reference for audit verify writes out exactly the run's
// audit rows, and no other run's.
func TestVerifyReference(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	mustExec(t, db.DB, `INSERT INTO reminder_audit (id, run_id, at, borrower_id, loan_id, installment_id, stage, channel,
		decision, reason, time_zones, policy_sha256, details, prev_hash, hash)
		SELECT n, CASE WHEN n <= 4 THEN 7 ELSE 8 END, now(), n, n, n, 'due_today', 'sms', 'queued', '',
		       '[]', 'policy', jsonb_build_object('seq', n), 'prev' || n, 'hash' || n
		FROM generate_series(1, 6) AS n`)
	_, rows, err := queries.VerifyReference(context.Background(), db.DB, 7)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 4 {
		t.Errorf("the reference wrote %d rows of run 7, want 4", rows)
	}
}

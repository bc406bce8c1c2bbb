package queries_test

import (
	"context"
	"strings"
	"testing"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// A run record changes only as its run does: counters and head grow while
// it runs, it ends once with a seal, its header never changes, and an
// ended run's record is final.
func TestRunRecordGuard(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	mustExec(t, db.DB, `INSERT INTO reminder_runs (id, mode, as_of, business_date, actor, started_at, status,
		config_sha256, policy_sha256, templates_sha256, version, audit_head)
		VALUES (1, 'scheduled', now(), current_date, 'cron', now(), 'running', 'c', 'p', 't', 'v', 'genesis')`)
	try := func(q string) error {
		_, err := db.Exec(q)
		return err
	}
	for _, c := range []struct {
		query, refused string // refused: "" when allowed, else part of the error
	}{
		{`UPDATE reminder_runs SET candidates = candidates + 5, queued = queued + 3, audit_rows = audit_rows + 5, audit_head = 'h5'`, ""},
		{`UPDATE reminder_runs SET actor = 'mallory'`, "header of run 1 never changes"},
		{`UPDATE reminder_runs SET prev_run_head = 'forged'`, "header of run 1 never changes"},
		{`UPDATE reminder_runs SET audit_rows = 4`, "only grow"},
		{`UPDATE reminder_runs SET seal = 'early'`, "sealed only as it ends"},
		{`UPDATE reminder_runs SET status = 'succeeded', finished_at = now(), seal = 's'`, ""},
		{`UPDATE reminder_runs SET status = 'running', seal = NULL, finished_at = NULL`, "its record is final"},
		{`UPDATE reminder_runs SET error = 'rewritten'`, "its record is final"},
	} {
		err := try(c.query)
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: %v, want it allowed", c.query, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s: %v, want refused with %q", c.query, err, c.refused)
		}
	}
	var status, seal string
	var rows int
	if err := db.QueryRow(`SELECT status, seal, audit_rows FROM reminder_runs WHERE id = 1`).Scan(&status, &seal, &rows); err != nil {
		t.Fatal(err)
	}
	if status != "succeeded" || seal != "s" || rows != 5 {
		t.Errorf("the record: %s, seal %s, %d rows; want succeeded, s, 5", status, seal, rows)
	}
}

// Pruning takes no table lock: runs keep writing audit rows while a prune
// is under way.
func TestPruneDoesNotHoldUpAuditWrites(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	const row = `INSERT INTO reminder_audit (run_id, at, borrower_id, loan_id, installment_id, stage, channel, decision,
		reason, time_zones, policy_sha256, details, prev_hash, hash)
		VALUES ($1, now(), 1, 1, 1, 'due_today', 'sms', 'suppressed', 'opted_out', '[]', 'p', '{}', 'a', 'b')`
	mustExec(t, db.DB, row, 1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, n, err := queries.PruneRuns(ctx, tx, []int64{1}); err != nil || n != 1 {
		t.Fatalf("prune run 1: %d audit rows (%v)", n, err)
	}
	// Another run writes meanwhile, with a short lock timeout.
	w, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if _, err := w.Exec(`SET LOCAL lock_timeout = '2s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(row, 2); err != nil {
		t.Fatalf("an audit row written during a prune: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

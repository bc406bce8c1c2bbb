package queries_test

import (
	"strings"
	"testing"

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

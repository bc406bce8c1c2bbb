package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/pii"
)

// Issue 6: the audit trail cannot be changed by the job, changes made by a
// superuser who bypassed the trigger are found, compliance staff get what
// they ask for and no more, and the explanations agree with the record.

var roleCounter atomic.Int64

// jobRoleURL creates a login role that is granted loanremind_job, as
// docs/compliance.md tells operators to, and returns d's URL connecting as it. The role
// is dropped when the test ends.
func jobRoleURL(t *testing.T, d *testDB) string {
	t.Helper()
	name := fmt.Sprintf("lr_job_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, roleCounter.Add(1))
	u, err := url.Parse(d.url)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skipf("the test database is not given as a URL (%q): cannot connect as another role", d.url)
	}
	d.exec(t, `CREATE ROLE `+pq.QuoteIdentifier(name)+` LOGIN IN ROLE loanremind_job`)
	t.Cleanup(func() {
		if _, err := d.db.Exec(`DROP ROLE IF EXISTS ` + pq.QuoteIdentifier(name)); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	q := u.Query()
	if q.Has("user") {
		q.Set("user", name)
	} else {
		u.User = url.User(name)
	}
	q.Del("password")
	u.RawQuery = q.Encode()
	jobURL := u.String()
	// Prove the URL really connects as the new role.
	db, err := sql.Open("postgres", jobURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var user string
	var super bool
	if err := db.QueryRow(`SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super); err != nil {
		t.Fatalf("connect as %s: %v", name, err)
	}
	if user != name || super {
		t.Fatalf("connected as %s (superuser %v), want %s", user, super, name)
	}
	return jobURL
}

// asJobRole runs one statement in a transaction of d's superuser session
// that switched to the job's role with SET LOCAL ROLE, and rolls it back.
func asJobRole(t *testing.T, d *testDB, query string, args ...any) error {
	t.Helper()
	tx, err := d.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SET LOCAL ROLE loanremind_job`); err != nil {
		t.Fatal(err)
	}
	var who string
	if err := tx.QueryRow(`SELECT current_user`).Scan(&who); err != nil || who != "loanremind_job" {
		t.Fatalf("SET ROLE: current_user %q, %v", who, err)
	}
	_, err = tx.Exec(query, args...)
	return err
}

// asOwner runs one statement as the test's own superuser (who owns the
// tables) in a transaction that is rolled back.
func asOwner(t *testing.T, d *testDB, query string, args ...any) error {
	t.Helper()
	tx, err := d.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = tx.Exec(query, args...)
	return err
}

func pqErrCode(err error) string {
	var e *pq.Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	return ""
}

// bypassTrigger runs statements as a superuser who lifted the append-only
// triggers (of the audit, the run records and the events) for one
// transaction, as an attacker with full access would.
func bypassTrigger(t *testing.T, d *testDB, statements ...string) {
	t.Helper()
	tx, err := d.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	all := append(append([]string{`ALTER TABLE reminder_audit DISABLE TRIGGER reminder_audit_append_only`,
		`ALTER TABLE reminder_runs DISABLE TRIGGER reminder_runs_final`,
		`ALTER TABLE reminder_audit_events DISABLE TRIGGER reminder_audit_events_append_only`}, statements...),
		`ALTER TABLE reminder_audit ENABLE TRIGGER reminder_audit_append_only`, `ALTER TABLE reminder_runs ENABLE TRIGGER reminder_runs_final`,
		`ALTER TABLE reminder_audit_events ENABLE TRIGGER reminder_audit_events_append_only`)
	for _, q := range all {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if s := triggerState(t, d); s != "O" {
		t.Fatalf("the append-only trigger was left in state %q", s)
	}
}

func triggerState(t *testing.T, d *testDB) string {
	t.Helper()
	var s string
	if err := d.db.QueryRow(`SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'reminder_audit_append_only'`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// copyAuditRow inserts a copy of an audit row: format it with the
// expression for the copy's installment_id and the id of the row to copy.
const copyAuditRow = `INSERT INTO reminder_audit (run_id, at, borrower_id, loan_id, installment_id, stage, channel, decision,
	reason, send_id, scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash)
	SELECT run_id, at, borrower_id, loan_id, %s, stage, channel, decision, reason, send_id, scheduled_for,
	       valid_until, time_zones, policy_sha256, details, prev_hash, hash
	FROM reminder_audit WHERE id = %d RETURNING id`

func TestAuditTrailIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 300)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	// An administrative event, so that the events table has a row too.
	mustCLI(t, ctx, d.env, "audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--unmasked", "--actor", "alice")
	rows, events := d.count(t, `SELECT count(*) FROM reminder_audit`), d.count(t, `SELECT count(*) FROM reminder_audit_events`)
	if rows == 0 || events != 1 {
		t.Fatalf("%d audit rows, %d events", rows, events)
	}
	changes := []string{
		`UPDATE reminder_audit SET reason = 'changed' WHERE id = (SELECT min(id) FROM reminder_audit)`,
		`UPDATE reminder_audit SET hash = hash`,
		`DELETE FROM reminder_audit WHERE id = (SELECT max(id) FROM reminder_audit)`,
		`DELETE FROM reminder_audit`,
		`TRUNCATE reminder_audit`,
		`UPDATE reminder_audit_events SET actor = 'mallory'`,
		`DELETE FROM reminder_audit_events`,
		`TRUNCATE reminder_audit_events`,
	}

	t.Run("the job role may read and insert, nothing else", func(t *testing.T) {
		for _, q := range changes {
			err := asJobRole(t, d, q)
			if err == nil || pqErrCode(err) != "42501" {
				t.Errorf("as loanremind_job: %s: %v, want permission denied (42501)", q, err)
			}
		}
		for _, q := range []string{
			`ALTER TABLE reminder_audit DISABLE TRIGGER reminder_audit_append_only`,
			`ALTER TABLE reminder_audit DISABLE TRIGGER ALL`,
			`DROP TRIGGER reminder_audit_append_only ON reminder_audit`,
		} {
			if err := asJobRole(t, d, q); err == nil {
				t.Errorf("as loanremind_job: %s succeeds", q)
			}
		}
		if err := asJobRole(t, d, `SELECT count(*) FROM reminder_audit`); err != nil {
			t.Errorf("the job role cannot read the audit: %v", err)
		}
		if err := asJobRole(t, d, fmt.Sprintf(copyAuditRow, "installment_id", 1)); err != nil {
			t.Errorf("the job role cannot insert audit rows: %v", err)
		}
		for priv, want := range map[string]bool{"SELECT": true, "INSERT": true, "UPDATE": false, "DELETE": false, "TRUNCATE": false} {
			for _, table := range []string{"reminder_audit", "reminder_audit_events"} {
				var got bool
				d.scanRow(t, `SELECT has_table_privilege('loanremind_job', $1, $2)`, []any{table, priv}, &got)
				if got != want {
					t.Errorf("loanremind_job %s on %s: %v, want %v", priv, table, got, want)
				}
			}
		}
	})

	t.Run("prune mode lets the owner delete audit rows, and nothing else", func(t *testing.T) {
		const prune = `SELECT set_config('loanremind.prune', 'on', true); `
		for _, q := range []string{
			`UPDATE reminder_audit SET reason = 'changed' WHERE id = (SELECT min(id) FROM reminder_audit)`,
			`TRUNCATE reminder_audit`,
			`DELETE FROM reminder_audit_events`,
		} {
			if err := asOwner(t, d, prune+q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("as the owner, pruning: %s: %v, want the append-only trigger's error", q, err)
			}
		}
		const del = `DELETE FROM reminder_audit WHERE id = (SELECT max(id) FROM reminder_audit)`
		if err := asJobRole(t, d, prune+del); pqErrCode(err) != "42501" {
			t.Errorf("as loanremind_job, pruning: %s: %v, want permission denied", del, err)
		}
		if err := asOwner(t, d, prune+del); err != nil {
			t.Errorf("as the owner, pruning: %s: %v", del, err)
		}
	})

	t.Run("an ended run's record is final, for the job role and the owner", func(t *testing.T) {
		for _, q := range []string{
			`UPDATE reminder_runs SET status = 'running', seal = NULL, finished_at = NULL`,
			`UPDATE reminder_runs SET actor = 'mallory'`,
			`UPDATE reminder_runs SET audit_rows = audit_rows - 1`,
		} {
			if err := asOwner(t, d, q); err == nil || !strings.Contains(err.Error(), "its record is final") {
				t.Errorf("as the owner: %s: %v, want the run guard's error", q, err)
			}
			// The job's role may update only the columns a run changes
			// (migration 00007); the guard stops it on those.
			if err := asJobRole(t, d, q); pqErrCode(err) != "42501" {
				t.Errorf("as loanremind_job: %s: %v, want permission denied or the run guard's error", q, err)
			}
		}
	})

	t.Run("the trigger stops the table owner too", func(t *testing.T) {
		var owner string
		var super bool
		d.scanRow(t, `SELECT tableowner, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) FROM pg_tables WHERE tablename = 'reminder_audit'`, nil, &owner, &super)
		var me string
		d.scanRow(t, `SELECT current_user`, nil, &me)
		if owner != me {
			t.Fatalf("the test session (%s) does not own reminder_audit (%s)", me, owner)
		}
		for _, q := range changes {
			err := asOwner(t, d, q)
			if err == nil || !strings.Contains(err.Error(), "append-only") || pqErrCode(err) != "42501" {
				t.Errorf("as the owner (superuser %v): %s: %v, want the append-only trigger's error", super, q, err)
			}
		}
	})

	if n, m := d.count(t, `SELECT count(*) FROM reminder_audit`), d.count(t, `SELECT count(*) FROM reminder_audit_events`); n != rows || m != events {
		t.Fatalf("the trail changed: %d → %d rows, %d → %d events", rows, n, events, m)
	}
	r := mustCLI(t, ctx, d.env, "audit", "verify")
	if !strings.Contains(r.stdout, "audit trail intact") {
		t.Errorf("verify: %s", r.stdout)
	}
}

// TestRunAsJobRole follows docs/compliance.md: the job runs as a login role that is
// granted loanremind_job, and everything it does works with only that.
func TestRunAsJobRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 400)
	env := d.with("DATABASE_URL", jobRoleURL(t, d))
	r := mustCLI(t, ctx, env, "run", "--as-of", testAsOf)
	if !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("run as the job role:\n%s", r.stdout)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_audit`); n == 0 {
		t.Fatal("the run as the job role wrote no audit rows")
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_sends`); n == 0 {
		t.Fatal("the run as the job role wrote no messages")
	}
	// A later run continues the chain, a dry run writes nothing, and the
	// compliance commands that do not delete work too.
	mustCLI(t, ctx, env, "run", "--as-of", "2026-11-29T10:00:00+08:00")
	mustCLI(t, ctx, env, "run", "--as-of", "2026-11-29T10:00:00+08:00", "--dry-run")
	mustCLI(t, ctx, env, "audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--unmasked", "--actor", "bob")
	if r := mustCLI(t, ctx, env, "audit", "verify"); !strings.Contains(r.stdout, "audit trail intact: 2 runs") {
		t.Errorf("verify as the job role: %s", r.stdout)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE status = 'succeeded'`); n != 2 {
		t.Errorf("%d succeeded runs, want 2", n)
	}
}

// auditIDs returns the ids of audit rows of a run, in order.
func auditIDs(t *testing.T, d *testDB, run int64) []int64 {
	t.Helper()
	return d.ids(t, `SELECT id FROM reminder_audit WHERE run_id = $1 ORDER BY id`, run)
}

// TestVerifyFindsTampering changes a fresh database in each case as a
// superuser who disabled the trigger, and checks that `audit verify` exits 1
// and names the row or run.
func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		runs   int
		change func(t *testing.T, d *testDB) []string // returns what the output must contain
	}{
		{"untouched", 2, nil},
		{"edited row", 1, func(t *testing.T, d *testDB) []string {
			ids := auditIDs(t, d, 1)
			id := ids[len(ids)/2]
			bypassTrigger(t, d, fmt.Sprintf(`UPDATE reminder_audit SET reason = reason || '-edited' WHERE id = %d`, id))
			return []string{fmt.Sprintf("audit row %d: its content does not match its hash", id)}
		}},
		{"edited decision", 1, func(t *testing.T, d *testDB) []string {
			var id int64
			d.scanRow(t, `SELECT id FROM reminder_audit WHERE decision = 'suppressed' ORDER BY id LIMIT 1`, nil, &id)
			bypassTrigger(t, d, fmt.Sprintf(`UPDATE reminder_audit SET decision = 'queued', reason = '' WHERE id = %d`, id))
			return []string{fmt.Sprintf("audit row %d:", id), "queued decisions"}
		}},
		{"deleted row", 1, func(t *testing.T, d *testDB) []string {
			ids := auditIDs(t, d, 1)
			i := len(ids) / 2
			bypassTrigger(t, d, fmt.Sprintf(`DELETE FROM reminder_audit WHERE id = %d`, ids[i]))
			return []string{fmt.Sprintf("audit row %d: does not link to row %d before it", ids[i+1], ids[i-1]), "rows were deleted"}
		}},
		{"inserted row", 1, func(t *testing.T, d *testDB) []string {
			ids := auditIDs(t, d, 1)
			// The copy of a row from the middle of the run, with another
			// installment, gets the next id: the end of the chain.
			bypassTrigger(t, d, fmt.Sprintf(copyAuditRow, "installment_id + 1", ids[len(ids)/2]))
			var id int64
			if err := d.db.QueryRow(`SELECT max(id) FROM reminder_audit`).Scan(&id); err != nil || id <= ids[len(ids)-1] {
				t.Fatalf("the copy has id %d: %v", id, err)
			}
			return []string{fmt.Sprintf("audit row %d:", id), "rows were inserted"}
		}},
		{"edited run actor", 1, func(t *testing.T, d *testDB) []string {
			bypassTrigger(t, d, `UPDATE reminder_runs SET actor = 'mallory' WHERE id = 1`)
			return []string{"run 1, audit row", "run 1: the run record does not match its seal"}
		}},
		{"edited run count", 1, func(t *testing.T, d *testDB) []string {
			bypassTrigger(t, d, `UPDATE reminder_runs SET queued = queued + 1 WHERE id = 1`)
			return []string{"run 1: the run record counts", "run 1: the run record does not match its seal"}
		}},
		{"deleted run", 2, func(t *testing.T, d *testDB) []string {
			bypassTrigger(t, d,
				`DELETE FROM reminder_audit WHERE run_id = 1`,
				`DELETE FROM reminder_decisions WHERE run_id = 1`,
				`DELETE FROM reminder_sends WHERE run_id = 1`,
				`DELETE FROM reminder_runs WHERE id = 1`)
			return []string{"run 2: links to run 1, which is missing", "run 1 was deleted"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := seeded(t, 300)
			mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
			if c.runs > 1 {
				mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-29T10:00:00+08:00")
				if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE id = 2 AND prev_run_id = 1 AND audit_rows > 0`); n != 1 {
					t.Fatal("run 2 does not link to run 1 or has no audit rows")
				}
			}
			if len(auditIDs(t, d, 1)) < 10 {
				t.Fatal("too few audit rows to tamper with")
			}
			if c.change == nil {
				for _, workers := range []string{"0", "1", "3"} {
					r := mustCLI(t, ctx, d.env, "audit", "verify", "--workers", workers)
					if !strings.Contains(r.stdout, fmt.Sprintf("audit trail intact: %d runs", c.runs)) {
						t.Errorf("verify --workers %s: %s", workers, r.stdout)
					}
				}
				if r := cli(t, ctx, d.env, "audit", "verify", "--workers", "-1"); r.code != 2 || !strings.Contains(r.stderr, "--workers -1") {
					t.Errorf("verify --workers -1: exit %d, want 2\n%s", r.code, r.stderr)
				}
				return
			}
			wants := c.change(t, d)
			r := cli(t, ctx, d.env, "audit", "verify")
			if r.code != 1 {
				t.Fatalf("verify after %s: exit %d, want 1\n%s\n%s", c.name, r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "AUDIT TRAIL BROKEN") {
				t.Errorf("the report does not say the trail is broken:\n%s", r.stdout)
			}
			for _, w := range wants {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("the report does not say %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// exportCSV runs audit export in CSV and returns the records after checking
// the header.
func exportCSV(t *testing.T, d *testDB, env map[string]string, args ...string) [][]string {
	t.Helper()
	r := mustCLI(t, context.Background(), env, append([]string{"audit", "export", "--format", "csv"}, args...)...)
	records, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("export %v is not CSV: %v", args, err)
	}
	if len(records) == 0 || !slices.Equal(records[0], audit.ExportColumns()) {
		t.Fatalf("export %v: header %v, want %v", args, records[:min(len(records), 1)], audit.ExportColumns())
	}
	return records[1:]
}

func exportCol(name string) int { return slices.Index(audit.ExportColumns(), name) }

// exportSQLIDs returns the ids a query finds, as an export prints them.
func exportSQLIDs(t *testing.T, d *testDB, query string, args ...any) []string {
	t.Helper()
	out := []string{}
	for _, id := range d.ids(t, query, args...) {
		out = append(out, strconv.FormatInt(id, 10))
	}
	return out
}

func TestAuditExport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 1000)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-29T10:00:00+08:00")
	const wide = "2000-01-01"
	const wideTo = "2100-12-31"
	// Decision times are the wall clock of the run: the business dates
	// they fall on (Asia/Shanghai, the default business zone).
	var first, last string
	d.scanRow(t, `SELECT min((at AT TIME ZONE 'Asia/Shanghai')::date)::text, max((at AT TIME ZONE 'Asia/Shanghai')::date)::text FROM reminder_audit`, nil, &first, &last)
	shift := func(day string, n int) string {
		t0, _ := time.Parse(time.DateOnly, day)
		return t0.AddDate(0, 0, n).Format(time.DateOnly)
	}
	var borrower, loan, installment int64
	d.scanRow(t, `SELECT borrower_id FROM reminder_audit GROUP BY borrower_id HAVING count(DISTINCT run_id) = 2 ORDER BY count(*) DESC, borrower_id LIMIT 1`, nil, &borrower)
	d.scanRow(t, `SELECT loan_id FROM reminder_audit GROUP BY loan_id HAVING count(*) > 1 ORDER BY count(*) DESC, loan_id LIMIT 1`, nil, &loan)
	d.scanRow(t, `SELECT installment_id FROM reminder_audit GROUP BY installment_id HAVING count(*) > 1 ORDER BY installment_id LIMIT 1`, nil, &installment)
	if borrower == 0 || loan == 0 || installment == 0 {
		t.Fatalf("no borrower, loan or installment with several decisions: %d %d %d", borrower, loan, installment)
	}
	inRange := `at >= ($1::date)::timestamp AT TIME ZONE 'Asia/Shanghai' AND at < ($2::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'`
	type filterCase struct {
		name  string
		args  []string
		where string
		from  string
		to    string
	}
	cases := []filterCase{
		{"everything", nil, "true", wide, wideTo},
		{"borrower", []string{"--borrower", fmt.Sprint(borrower)}, fmt.Sprintf("borrower_id = %d", borrower), wide, wideTo},
		{"loan", []string{"--loan", fmt.Sprint(loan)}, fmt.Sprintf("loan_id = %d", loan), wide, wideTo},
		{"run 1", []string{"--run", "1"}, "run_id = 1", wide, wideTo},
		{"run 2", []string{"--run", "2"}, "run_id = 2", wide, wideTo},
		{"installment", []string{"--installment", fmt.Sprint(installment)}, fmt.Sprintf("installment_id = %d", installment), wide, wideTo},
		{"the days of the runs", nil, "true", first, last},
		{"the days before", nil, "true", shift(first, -30), shift(first, -1)},
		{"the days after", nil, "true", shift(last, 1), shift(last, 30)},
		{"borrower in run 2", []string{"--borrower", fmt.Sprint(borrower), "--run", "2"}, fmt.Sprintf("borrower_id = %d AND run_id = 2", borrower), first, last},
	}
	for _, dec := range []string{"queued", "deferred", "suppressed", "skipped", "expired"} {
		cases = append(cases, filterCase{"decision " + dec, []string{"--decision", dec}, "decision = '" + dec + "'", wide, wideTo})
	}
	// By contact: a Chinese mobile number typed in national format (the
	// default phone region is CN) finds the decisions the job hashed in
	// E.164, and an email address in capitals finds those about it.
	var phone, email string
	d.scanRow(t, `SELECT b.phone FROM reminder_audit a JOIN borrowers b ON b.id = a.borrower_id
		WHERE a.channel = 'sms' AND a.details ? 'contact_hmac' AND b.phone ~ '^\+861[0-9]{10}$'
		GROUP BY b.phone ORDER BY count(DISTINCT a.run_id) DESC, count(*) DESC, b.phone LIMIT 1`, nil, &phone)
	d.scanRow(t, `SELECT b.email FROM reminder_audit a JOIN borrowers b ON b.id = a.borrower_id
		WHERE a.channel = 'email' AND a.details ? 'contact_hmac'
		GROUP BY b.email ORDER BY count(*) DESC, b.email LIMIT 1`, nil, &email)
	if phone == "" || email == "" {
		t.Fatalf("no phone number or email with decisions: %q %q", phone, email)
	}
	hasher := pii.NewHasher([]byte(d.env["LOANREMIND_AUDIT_HMAC_KEY"]))
	cases = append(cases,
		filterCase{"contact phone", []string{"--contact", strings.TrimPrefix(phone, "+86")},
			fmt.Sprintf("details->>'contact_hmac' = '%s'", hasher.Contact("sms", phone)), wide, wideTo},
		filterCase{"contact email", []string{"--contact", strings.ToUpper(email)},
			fmt.Sprintf("details->>'contact_hmac' = '%s'", hasher.Contact("email", email)), wide, wideTo},
		filterCase{"contact nobody has", []string{"--contact", "+8613000000000"}, "false", wide, wideTo})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := exportSQLIDs(t, d, `SELECT id FROM reminder_audit WHERE `+inRange+` AND `+c.where+` ORDER BY id`, c.from, c.to)
			if len(want) == 0 && !strings.HasPrefix(c.name, "the days ") && c.name != "contact nobody has" {
				t.Errorf("%s: SQL finds no rows: the test data lacks them", c.name)
			}
			records := exportCSV(t, d, d.env, append([]string{"--from", c.from, "--to", c.to}, c.args...)...)
			got := []string{}
			for _, r := range records {
				got = append(got, r[exportCol("audit_id")])
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: export has %d rows, SQL %d (export %v…, SQL %v…)", c.name, len(got), len(want), got[:min(len(got), 5)], want[:min(len(want), 5)])
			}
		})
	}

	all := []string{"--from", wide, "--to", wideTo}
	rc, ac := exportCol("recipient"), exportCol("account_ref")
	t.Run("masked unless --unmasked", func(t *testing.T) {
		// Masked by default; the same rows, with full values, with --unmasked.
		masked := exportCSV(t, d, d.env, all...)
		if r := cli(t, ctx, d.env, append([]string{"audit", "export", "--unmasked"}, all...)...); r.code != 2 {
			t.Errorf("--unmasked without --actor: exit %d, want 2", r.code)
		}
		if n := d.count(t, `SELECT count(*) FROM reminder_audit_events`); n != 0 {
			t.Errorf("a refused unmasked export recorded %d events", n)
		}
		full := exportCSV(t, d, d.env, append(all, "--unmasked", "--actor", "alice@compliance")...)
		if len(full) != len(masked) {
			t.Fatalf("unmasked export has %d rows, masked %d", len(full), len(masked))
		}
		truth := map[string][2]string{} // audit id → the address and account reference
		rows, err := d.db.Query(`
			SELECT a.id, coalesce(s.recipient, CASE a.channel WHEN 'sms' THEN b.phone ELSE b.email END, ''), coalesce(l.account_ref, '')
			FROM reminder_audit a LEFT JOIN reminder_sends s ON s.id = a.send_id
			JOIN borrowers b ON b.id = a.borrower_id JOIN loans l ON l.id = a.loan_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var rcpt, acct string
			if err := rows.Scan(&id, &rcpt, &acct); err != nil {
				t.Fatal(err)
			}
			truth[fmt.Sprint(id)] = [2]string{rcpt, acct}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		maskedText := ""
		for _, r := range masked {
			maskedText += strings.Join(r, ",") + "\n"
		}
		checked := 0
		for i := range full {
			m, u := masked[i], full[i]
			tr, ok := truth[u[0]]
			if !ok || m[0] != u[0] {
				t.Fatalf("row %d: audit ids %s / %s", i, m[0], u[0])
			}
			if u[rc] != tr[0] || u[ac] != tr[1] {
				t.Errorf("unmasked row %s: recipient %q, account %q; the database has %q, %q", u[0], u[rc], u[ac], tr[0], tr[1])
			}
			wantRcpt := pii.MaskPhone(tr[0])
			if u[exportCol("channel")] == "email" {
				wantRcpt = pii.MaskEmail(tr[0])
			}
			if m[rc] != wantRcpt || m[ac] != pii.MaskAccount(tr[1]) {
				t.Errorf("masked row %s: recipient %q, account %q; want %q, %q", m[0], m[rc], m[ac], wantRcpt, pii.MaskAccount(tr[1]))
			}
			for _, secret := range tr {
				if len(secret) >= 6 && strings.Contains(maskedText, secret) {
					t.Errorf("the masked export shows %q (row %s)", secret, u[0])
				}
			}
			if tr[0] != "" && tr[1] != "" {
				checked++
			}
		}
		if checked < 100 {
			t.Errorf("only %d rows had an address and account to check", checked)
		}
		var actor, event, format, host string
		if err := d.db.QueryRow(`SELECT actor, event, details->>'format', coalesce(details->>'host', '') FROM reminder_audit_events`).Scan(&actor, &event, &format, &host); err != nil {
			t.Fatalf("the unmasked export recorded no event: %v", err)
		}
		if actor != "alice@compliance" || event != audit.EventUnmaskedExport || format != "csv" || host == "" {
			t.Errorf("event: %s by %s from host %q (format %s)", event, actor, host, format)
		}
		if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "2 runs") || !strings.Contains(r.stdout, "1 events") {
			t.Errorf("verify after an unmasked export: %s", r.stdout)
		}
	})

	t.Run("unmasked by contact records its keyed hashes", func(t *testing.T) {
		// An unmasked export about one contact records which, by its keyed
		// hashes, not the address.
		national := strings.TrimPrefix(phone, "+86")
		mustCLI(t, ctx, d.env, "audit", "export", "--from", wide, "--to", wideTo, "--contact", national, "--unmasked", "--actor", "alice@compliance")
		var contactEvent string
		d.scanRow(t, `SELECT details->>'contact_hmac' FROM reminder_audit_events ORDER BY id DESC LIMIT 1`, nil, &contactEvent)
		if !strings.Contains(contactEvent, hasher.Contact("sms", phone)) || strings.Contains(contactEvent, national) {
			t.Errorf("the unmasked export by contact recorded contact_hmac %s", contactEvent)
		}
	})

	t.Run("json lines are the csv rows", func(t *testing.T) {
		// JSON: one object per line, the same rows.
		masked := exportCSV(t, d, d.env, all...)
		r := mustCLI(t, ctx, d.env, "audit", "export", "--format", "json", "--from", wide, "--to", wideTo)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != len(masked) {
			t.Fatalf("%d JSON lines, %d CSV rows", len(lines), len(masked))
		}
		for i, line := range lines {
			var obj map[string]any
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&obj); err != nil || dec.More() {
				t.Fatalf("line %d is not one JSON object: %v\n%s", i+1, err, line)
			}
			if id, _ := obj["audit_id"].(json.Number); id.String() != masked[i][0] {
				t.Fatalf("line %d: audit_id %v, CSV row %s", i+1, obj["audit_id"], masked[i][0])
			}
			if obj["recipient"] != masked[i][rc] || obj["account_ref"] != masked[i][ac] || obj["decision"] != masked[i][exportCol("decision")] {
				t.Fatalf("line %d differs from the CSV row %v: %s", i+1, masked[i], line)
			}
			if _, ok := obj["time_zones"].([]any); !ok {
				t.Fatalf("line %d: time_zones is not an array: %s", i+1, line)
			}
		}
	})

	t.Run("bad usage", func(t *testing.T) {
		if r := cli(t, ctx, d.env, "audit", "export", "--from", wide, "--to", wideTo, "--contact", "  "); r.code != 2 || !strings.Contains(r.stderr, "--contact") {
			t.Errorf("export with a blank --contact: exit %d, want 2\n%s", r.code, r.stderr)
		}
		for _, args := range [][]string{
			{"--from", wide},
			{"--from", wide, "--to", wideTo, "--format", "xml"},
			{"--from", wide, "--to", wideTo, "--decision", "maybe"},
			{"--from", "yesterday", "--to", wideTo},
			{"--from", "2026-12-02", "--to", "2026-12-01", "--format", "csv"},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				if r := cli(t, ctx, d.env, append([]string{"audit", "export"}, args...)...); r.code != 2 {
					t.Errorf("audit export %v: exit %d, want 2", args, r.code)
				}
			})
		}
	})
}

// outcomeLine and historyLine read explain's output.
var (
	outcomeLine = regexp.MustCompile(`^  - stage (\S+), (\w+): (\w+)(?: \(([^)]*)\))?(?:, to be sent from (\S+) until (\S+))?$`)
	historyLine = regexp.MustCompile(`^  - (\S+) audit row \d+, run (\d+) \(.*?\): stage (\S+), (\w+): (\w+)(?: \(([^)]*)\))?(?:, message (\d+) scheduled for (\S+), valid until (\S+))?; zones `)
)

func explainSection(out, title string) []string {
	_, rest, ok := strings.Cut(out, "\n"+title+"\n")
	if !ok {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(rest, "\n") {
		if l == "" {
			break
		}
		lines = append(lines, l)
	}
	return lines
}

func TestExplainAgreesWithAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 2000)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	for _, decision := range []string{"queued", "deferred", "suppressed", "expired"} {
		t.Run(decision, func(t *testing.T) {
			picks := d.ids(t, `SELECT DISTINCT installment_id FROM reminder_audit WHERE decision = $1 ORDER BY installment_id LIMIT 3`, decision)
			if len(picks) == 0 {
				t.Errorf("the run made no %s decision: the seed should have one", decision)
				return
			}
			// And some in messages with several installments, whose validity
			// is the earliest of their items'.
			picks = append(picks, d.ids(t, `SELECT a.installment_id FROM reminder_audit a
				WHERE a.decision = $1 AND (SELECT count(*) FROM reminder_send_items i WHERE i.send_id = a.send_id) > 2
				ORDER BY a.installment_id LIMIT 3`, decision)...)
			for _, inst := range picks {
				explainAgrees(t, ctx, d, inst)
			}
		})
	}
	// Asked about a later instant, explain says a run then would not select
	// what the ledger holds; about an installment no stage applies to, that
	// no run selects it.
	decided := d.ids(t, `SELECT installment_id FROM reminder_audit WHERE decision = 'suppressed' ORDER BY id LIMIT 1`)[0]
	r := mustCLI(t, ctx, d.env, "explain", "--installment", fmt.Sprint(decided), "--as-of", "2026-11-28T15:00:00+08:00")
	if !strings.Contains(r.stdout, "a run then would not select it again") {
		t.Errorf("explain of a decided installment later shows no note that it is not selected again:\n%s", r.stdout)
	}
	later := d.ids(t, `SELECT i.id FROM installments i WHERE i.due_date > DATE '2027-06-01' AND i.amount_paid_minor < i.amount_due_minor ORDER BY i.id LIMIT 1`)
	if len(later) == 1 {
		r := mustCLI(t, ctx, d.env, "explain", "--installment", fmt.Sprint(later[0]), "--as-of", testAsOf)
		if !strings.Contains(r.stdout, "Not a candidate on 2026-11-28: no stage applies") {
			t.Errorf("explain of an installment due months later does not say it is no candidate:\n%s", r.stdout)
		}
	} else {
		t.Error("the seed has no installment due after 2027-06-01")
	}
	// A borrower who opts out after the run: explain says what it would
	// decide now, and that the run recorded otherwise.
	inst := d.ids(t, `SELECT installment_id FROM reminder_audit WHERE decision = 'queued' AND channel = 'sms' ORDER BY id LIMIT 1`)[0]
	d.exec(t, `UPDATE borrowers SET sms_opt_out = true WHERE id = (SELECT borrower_id FROM reminder_audit WHERE installment_id = $1 LIMIT 1)`, inst)
	r = mustCLI(t, ctx, d.env, "explain", "--installment", fmt.Sprint(inst))
	diffs := explainSection(r.stdout, "Differences from what the run recorded (the borrower's facts above are as they are now; they, or the policy, changed since):")
	if len(diffs) == 0 || !strings.Contains(diffs[0], "sms: queued") || !strings.Contains(strings.Join(diffs, "\n"), "opted_out") {
		t.Errorf("explain after the borrower opted out shows no difference from the recorded queued:\n%s", r.stdout)
	}
	if r := cli(t, ctx, d.env, "explain", "--installment", "999999999"); r.code == 0 {
		t.Error("explain of an installment that does not exist exits 0")
	}
	if r := cli(t, ctx, d.env, "explain"); r.code != 2 {
		t.Errorf("explain without --installment: exit %d, want 2", r.code)
	}
}

// explainAgrees checks that explain's outcome for an installment is what
// the audit recorded, and that its history lists every audit row.
func explainAgrees(t *testing.T, ctx context.Context, d *testDB, inst int64) {
	t.Helper()
	type auditRow struct {
		id, run, send                        int64
		at, stage, channel, decision, reason string
		scheduled, valid                     sql.NullTime
	}
	r := mustCLI(t, ctx, d.env, "explain", "--installment", fmt.Sprint(inst))
	if strings.Contains(r.stdout, "Differences from what the run recorded") {
		t.Errorf("installment %d: explain differs from the record although nothing changed:\n%s", inst, r.stdout)
	}
	outcomes := explainSection(r.stdout, "The outcome:")
	history := explainSection(r.stdout, "Audit history (every recorded decision about this installment):")
	rs, err := d.db.Query(`SELECT id, run_id, coalesce(send_id, 0), to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		stage, channel, decision, reason, scheduled_for, valid_until FROM reminder_audit WHERE installment_id = $1 ORDER BY id`, inst)
	if err != nil {
		t.Fatal(err)
	}
	var want []auditRow
	for rs.Next() {
		var a auditRow
		if err := rs.Scan(&a.id, &a.run, &a.send, &a.at, &a.stage, &a.channel, &a.decision, &a.reason, &a.scheduled, &a.valid); err != nil {
			rs.Close()
			t.Fatal(err)
		}
		want = append(want, a)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	if len(want) == 0 {
		t.Errorf("installment %d has no audit rows", inst)
		return
	}
	if len(history) != len(want) {
		t.Errorf("installment %d: %d history lines, %d audit rows:\n%s", inst, len(history), len(want), r.stdout)
	}
	// explain re-evaluates the latest run's decisions; the history lists
	// every run's.
	latest := want[len(want)-1].run
	for _, a := range want {
		stamp := func(nt sql.NullTime) string {
			if !nt.Valid {
				return ""
			}
			return nt.Time.UTC().Format(time.RFC3339)
		}
		found := a.run != latest
		for _, l := range outcomes {
			if a.run != latest {
				break
			}
			if strings.HasPrefix(l, "      local time: ") {
				continue
			}
			m := outcomeLine.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("installment %d: unreadable outcome line %q", inst, l)
				continue
			}
			if m[1] == a.stage && m[2] == a.channel {
				found = true
				if m[3] != a.decision || m[4] != a.reason {
					t.Errorf("installment %d, %s %s: explain says %s (%s), the audit row %d says %s (%s)",
						inst, a.stage, a.channel, m[3], m[4], a.id, a.decision, a.reason)
				}
				if m[5] != stamp(a.scheduled) || m[6] != stamp(a.valid) {
					t.Errorf("installment %d, %s %s: explain sends from %q until %q, the audit row %d from %q until %q",
						inst, a.stage, a.channel, m[5], m[6], a.id, stamp(a.scheduled), stamp(a.valid))
				}
			}
		}
		if !found {
			t.Errorf("installment %d: no outcome for stage %s, %s (audit row %d):\n%s", inst, a.stage, a.channel, a.id, strings.Join(outcomes, "\n"))
		}
		listed := false
		for _, l := range history {
			m := historyLine.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("installment %d: unreadable history line %q", inst, l)
				continue
			}
			send := ""
			if a.scheduled.Valid {
				send = fmt.Sprint(a.send)
			}
			if m[1] == a.at && m[2] == fmt.Sprint(a.run) && m[3] == a.stage && m[4] == a.channel && m[5] == a.decision &&
				m[6] == a.reason && m[7] == send && m[8] == stamp(a.scheduled) && m[9] == stamp(a.valid) {
				listed = true
			}
		}
		if !listed {
			t.Errorf("installment %d: the history does not list audit row %d (%s run %d %s %s %s %s):\n%s",
				inst, a.id, a.at, a.run, a.stage, a.channel, a.decision, a.reason, strings.Join(history, "\n"))
		}
	}
}

var approvedLine = regexp.MustCompile(`^    ((?:sms|email)/[^:]+\.tmpl): ([0-9a-f]{64})$`)

// approvedBlock returns the templates.approved block preview prints, as
// YAML, and the hashes in it.
func approvedBlock(t *testing.T, out string) (string, map[string]string) {
	t.Helper()
	_, rest, ok := strings.Cut(out, "\ntemplates:\n  approved:\n")
	if !ok {
		t.Fatalf("preview prints no templates.approved block:\n%s", out)
	}
	hashes := map[string]string{}
	block := "templates:\n  approved:\n"
	for _, l := range strings.Split(rest, "\n") {
		m := approvedLine.FindStringSubmatch(l)
		if m == nil {
			break
		}
		hashes[m[1]] = m[2]
		block += l + "\n"
	}
	return block, hashes
}

func TestTemplatesPreviewAndApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newTestDB(t)
	env := d.with()
	r := mustCLI(t, ctx, env, "templates", "preview")
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var channels []string
	for _, s := range cfg.Stages {
		for _, ch := range append(append([]string{}, s.Channels...), s.Fallback) {
			if ch != "" && !slices.Contains(channels, ch) {
				channels = append(channels, ch)
			}
		}
	}
	locales := []string{cfg.Templates.DefaultLocale}
	for l := range cfg.Signature {
		if !slices.Contains(locales, l) {
			locales = append(locales, l)
		}
	}
	block, hashes := approvedBlock(t, r.stdout)
	var names []string
	for _, s := range cfg.Stages {
		for _, ch := range channels {
			for _, loc := range locales {
				name := fmt.Sprintf("%s/%s.%s.tmpl", ch, s.Name, loc)
				names = append(names, name)
				t.Run(name, func(t *testing.T) {
					if !strings.Contains(r.stdout, fmt.Sprintf("\n=== %s (locale %s, sha256 ", name, loc)) {
						t.Errorf("preview does not render %s", name)
					}
					if h, ok := hashes[name]; !ok {
						t.Errorf("the approved block lacks %s", name)
					} else if !strings.Contains(r.stdout, fmt.Sprintf("=== %s (locale %s, sha256 %s…)", name, loc, h[:12])) {
						t.Errorf("%s is rendered with another hash than the approved block's %s", name, h[:12])
					}
				})
			}
		}
	}
	if len(names) < 20 || len(hashes) != len(names) {
		t.Errorf("%d templates expected (%d stages × %v × %v), the block pins %d", len(names), len(cfg.Stages), channels, locales, len(hashes))
	}
	sort.Strings(names)

	dir := t.TempDir()
	good := filepath.Join(dir, "approved.yaml")
	if err := os.WriteFile(good, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, ctx, env, "templates", "preview", "--config", good)
	mustCLI(t, ctx, env, "run", "--config", good, "--as-of", testAsOf, "--dry-run")

	wrongName := names[len(names)/2]
	wrongHash := strings.Repeat("ab", 32)
	wrong := filepath.Join(dir, "wrong.yaml")
	wrongBlock := strings.Replace(block, wrongName+": "+hashes[wrongName], wrongName+": "+wrongHash, 1)
	if wrongBlock == block {
		t.Fatalf("could not change the hash of %s", wrongName)
	}
	if err := os.WriteFile(wrong, []byte(wrongBlock), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"templates", "preview", "--config", wrong},
		{"run", "--config", wrong, "--as-of", testAsOf},
	} {
		t.Run("unapproved text refused by "+args[0], func(t *testing.T) {
			r := cli(t, ctx, env, args...)
			if r.code != 2 {
				t.Errorf("%v: exit %d, want 2", args, r.code)
			}
			if !strings.Contains(r.stderr, wrongName) {
				t.Errorf("%v: the error does not name %s:\n%s", args, wrongName, tail(r.stderr, 2000))
			}
			for _, other := range names {
				if other != wrongName && strings.Contains(r.stderr, other) {
					t.Errorf("%v: the error names %s, whose hash is right", args, other)
				}
			}
		})
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs`); n != 0 {
		t.Errorf("a run with unapproved templates wrote %d run records", n)
	}
}

// TestAuditPrune makes a run on a business date more than three years
// before a later one, and prunes it.
func TestAuditPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 1500)
	const oldDay, oldAsOf = "2022-01-10", "2022-01-10T10:00:00+08:00"
	// Half of the borrowers' installments fall due around the old date,
	// the other half around the test date.
	d.exec(t, `UPDATE installments SET due_date = due_date - (DATE '`+testDay+`' - DATE '`+oldDay+`')
		WHERE loan_id IN (SELECT id FROM loans WHERE borrower_id % 2 = 0)`)
	oldAnchor := reportedAnchor(t, mustCLI(t, ctx, d.env, "run", "--as-of", oldAsOf))
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE id = 1 AND business_date = '`+oldDay+`' AND status = 'succeeded'`); n != 1 {
		t.Fatal("run 1 is not a succeeded run of " + oldDay)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE id = 2 AND prev_run_id = 1`); n != 1 {
		t.Fatal("run 2 does not link to run 1")
	}
	counts := func(run int) [4]int64 {
		return [4]int64{
			d.count(t, `SELECT count(*) FROM reminder_audit WHERE run_id = $1`, run),
			d.count(t, `SELECT count(*) FROM reminder_sends WHERE run_id = $1`, run),
			d.count(t, `SELECT count(*) FROM reminder_send_items si JOIN reminder_sends s ON s.id = si.send_id WHERE s.run_id = $1`, run),
			d.count(t, `SELECT count(*) FROM reminder_decisions WHERE run_id = $1`, run),
		}
	}
	old, kept := counts(1), counts(2)
	for i, what := range []string{"audit rows", "sends", "ledger items", "decisions"} {
		if old[i] == 0 || kept[i] == 0 {
			t.Fatalf("run 1 has %d %s, run 2 %d: both need some", old[i], what, kept[i])
		}
	}
	oldSends := d.ids(t, `SELECT id FROM reminder_sends WHERE run_id = 1`)
	unchanged := func(when string) {
		t.Helper()
		if got := counts(1); got != old {
			t.Fatalf("%s: run 1's rows changed: %v → %v", when, old, got)
		}
		if n := d.count(t, `SELECT count(*) FROM reminder_audit_events`); n != 0 {
			t.Fatalf("%s: %d events recorded", when, n)
		}
	}

	// The job's role cannot prune: it may not lift the trigger.
	r := cli(t, ctx, d.with("DATABASE_URL", jobRoleURL(t, d)), "audit", "prune", "--before", "2022-01-11", "--actor", "job", "--reason", "r")
	if r.code != 1 || !strings.Contains(r.stderr, "owner") {
		t.Errorf("prune as the job role: exit %d, want 1 naming the owner:\n%s", r.code, tail(r.stderr, 1000))
	}
	unchanged("after a prune as the job role")
	if s := triggerState(t, d); s != "O" {
		t.Fatalf("trigger state %q after a failed prune", s)
	}

	// Within the retention period (three years by default), and without
	// an actor or reason: bad usage.
	recent := time.Now().AddDate(-1, 0, 0).Format(time.DateOnly)
	for _, args := range [][]string{
		{"--before", recent, "--actor", "a", "--reason", "r"},
		{"--before", time.Now().AddDate(0, 0, 1).Format(time.DateOnly), "--actor", "a", "--reason", "r"},
		{"--before", "2022-01-11", "--reason", "r"},
		{"--before", "2022-01-11", "--actor", "a"},
		{"--actor", "a", "--reason", "r"},
		{"--before", "last year", "--actor", "a", "--reason", "r"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if r := cli(t, ctx, d.env, append([]string{"audit", "prune"}, args...)...); r.code != 2 {
				t.Errorf("audit prune %v: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
		})
	}
	unchanged("after refused prunes")

	r = mustCLI(t, ctx, d.env, "audit", "prune", "--before", "2022-01-11", "--actor", "alice", "--reason", "retention: 3 years after last activity")
	pruneAnchor := printedEventAnchor(t, r.stdout)
	if !strings.Contains(r.stdout, fmt.Sprintf("pruned 1 runs and %d audit rows", old[0])) {
		t.Errorf("prune reports: %s", r.stdout)
	}
	if got := counts(1); got != [4]int64{} {
		t.Errorf("run 1's audit rows, sends, ledger items and decisions left after the prune: %v", got)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_send_items WHERE send_id = ANY($1)`, pq.Array(oldSends)); n != 0 {
		t.Errorf("%d ledger items of pruned sends remain", n)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE id = 1`); n != 0 {
		t.Error("run 1 is still there")
	}
	if got := counts(2); got != kept {
		t.Errorf("run 2 changed: %v → %v", kept, got)
	}
	var actor, reason, runs, before string
	err := d.db.QueryRow(`SELECT actor, details->>'reason', details->>'runs', details->>'before' FROM reminder_audit_events WHERE event = 'prune'`).Scan(&actor, &reason, &runs, &before)
	if err != nil || actor != "alice" || reason != "retention: 3 years after last activity" || runs != "1" || before != "2022-01-11" {
		t.Errorf("prune event: %v: actor %q, reason %q, runs %q, before %q", err, actor, reason, runs, before)
	}
	if s := triggerState(t, d); s != "O" {
		t.Errorf("the append-only trigger is %q after the prune", s)
	}
	if err := asOwner(t, d, `DELETE FROM reminder_audit WHERE run_id = 2`); err == nil {
		t.Error("after a prune, the trigger no longer stops deletes")
	}
	r = mustCLI(t, ctx, d.env, "audit", "verify")
	if !strings.Contains(r.stdout, "audit trail intact: 1 runs") {
		t.Errorf("verify after the prune: %s", r.stdout)
	}
	// An anchor kept from the pruned run: gone as recorded, not deleted;
	// and the prune event's own anchor.
	if r := cli(t, ctx, d.env, "audit", "verify", "--anchor", oldAnchor, "--event-anchor", pruneAnchor); r.code != 0 ||
		!strings.Contains(r.stdout, "anchored: 1 run(s) and 1 event(s)") {
		t.Errorf("verify with the pruned run's anchor %s and the prune's %s: exit %d\n%s", oldAnchor, pruneAnchor, r.code, r.stdout)
	}
	if r := cli(t, ctx, d.env, "audit", "verify", "--anchor", "1:"+strings.Repeat("ab", 32)); r.code != 1 ||
		!strings.Contains(r.stdout, "run 1: was pruned with chain head "+oldAnchor[2:14]) {
		t.Errorf("verify with another head for the pruned run: exit %d\n%s", r.code, r.stdout)
	}
	// A later run links to what remains, and the trail still verifies.
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-29T10:00:00+08:00")
	mustCLI(t, ctx, d.env, "audit", "verify")
}

// TestVerifyAnchorsTheEndOfTheTrail shows what the chains alone cannot:
// the newest run removed whole by a superuser leaves an intact-looking
// trail, and the anchor kept from that run's last log line exposes it. An
// anchored run's chain is walked whatever the selection.
func TestVerifyAnchorsTheEndOfTheTrail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 300)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	second := mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-29T10:00:00+08:00")

	// The anchor as operators keep it: from the run's last log line, and
	// the same in its report.
	var anchor string
	for _, line := range strings.Split(second.stderr, "\n") {
		var entry struct {
			Msg   string `json:"msg"`
			RunID int64  `json:"run_id"`
			Head  string `json:"audit_head"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "run finished" {
			anchor = fmt.Sprintf("%d:%s", entry.RunID, entry.Head)
		}
	}
	if !strings.HasPrefix(anchor, "2:") || len(anchor) != 2+64 {
		t.Fatalf("no anchor for run 2 in its last log line: %q\n%s", anchor, tail(second.stderr, 2000))
	}
	if got := reportedAnchor(t, second); got != anchor {
		t.Errorf("the report shows the anchor %s, the log %s", got, anchor)
	}
	if d.count(t, `SELECT count(*) FROM reminder_runs WHERE id = 2 AND audit_rows > 0 AND audit_head = $1`, anchor[2:]) != 1 {
		t.Fatal("the anchor is not run 2's recorded head, or run 2 wrote nothing")
	}

	r := mustCLI(t, ctx, d.env, "audit", "verify", "--anchor", anchor)
	if !strings.Contains(r.stdout, "audit trail intact: 2 runs") || !strings.Contains(r.stdout, "anchored: 1 run(s)") {
		t.Errorf("verify with the anchor:\n%s", r.stdout)
	}
	wrong := "2:" + strings.Repeat("ab", 32)
	if r := cli(t, ctx, d.env, "audit", "verify", "--anchor", wrong); r.code != 1 ||
		!strings.Contains(r.stdout, "run 2: its chain head is "+anchor[2:14]+"…, but the anchor kept outside the database says abababababab…") {
		t.Errorf("verify with a wrong anchor: exit %d\n%s", r.code, r.stdout)
	}
	for _, c := range []struct{ name, anchor string }{
		{"no head", "2"},
		{"run not a number", "x:" + anchor[2:]},
		{"short head", "2:" + anchor[2:20]},
		{"run 0", "0:" + anchor[2:]},
		{"head not hex", "2:" + strings.Repeat("zz", 32)},
	} {
		t.Run("bad anchor/"+c.name, func(t *testing.T) {
			if r := cli(t, ctx, d.env, "audit", "verify", "--anchor", c.anchor); r.code != 2 || !strings.Contains(r.stderr, "--anchor") {
				t.Errorf("--anchor %q: exit %d, want 2 naming the flag\n%s", c.anchor, r.code, r.stderr)
			}
		})
	}

	// Verifying run 1 with run 2's anchor walks run 2's chain too, whose
	// record alone would not show an edited row.
	ids := auditIDs(t, d, 2)
	id := ids[len(ids)/2]
	bypassTrigger(t, d, fmt.Sprintf(`UPDATE reminder_audit SET reason = reason || '-edited' WHERE id = %d`, id))
	if r := mustCLI(t, ctx, d.env, "audit", "verify", "--run", "1"); !strings.Contains(r.stdout, "audit trail intact: 1 runs") {
		t.Errorf("verify run 1:\n%s", r.stdout)
	}
	r = cli(t, ctx, d.env, "audit", "verify", "--run", "1", "--anchor", anchor)
	if r.code != 1 || !strings.Contains(r.stdout, fmt.Sprintf("run 2, audit row %d: its content does not match its hash", id)) {
		t.Errorf("verify run 1 with run 2's anchor after a row of run 2 was edited: exit %d\n%s", r.code, r.stdout)
	}
	if r := cli(t, ctx, d.env, "audit", "verify", "--run", "9", "--anchor", anchor); r.code != 1 || !strings.Contains(r.stdout, "run 9: no such run") {
		t.Errorf("verify a missing run with an anchor: exit %d\n%s", r.code, r.stdout)
	}

	// The newest run removed whole: nothing links to it, so the chains
	// still verify; the anchor does not.
	bypassTrigger(t, d,
		`DELETE FROM reminder_audit WHERE run_id = 2`,
		`DELETE FROM reminder_decisions WHERE run_id = 2`,
		`DELETE FROM reminder_send_items WHERE send_id IN (SELECT id FROM reminder_sends WHERE run_id = 2)`,
		`DELETE FROM reminder_sends WHERE run_id = 2`,
		`DELETE FROM reminder_runs WHERE id = 2`)
	if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "audit trail intact: 1 runs") {
		t.Errorf("verify without the anchor after the newest run was removed:\n%s", r.stdout)
	}
	r = cli(t, ctx, d.env, "audit", "verify", "--anchor", anchor)
	if r.code != 1 || !strings.Contains(r.stdout, "run 2: is missing, but an anchor kept outside the database names it and no recorded prune removed it: the run was deleted whole") {
		t.Errorf("verify with the anchor after the newest run was removed: exit %d\n%s", r.code, r.stdout)
	}
}

// TestVerifyAnchorsEvents: the newest administrative event removed whole
// leaves the events chain intact; the anchor the command that recorded it
// printed shows it.
func TestVerifyAnchorsEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 100)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	r := mustCLI(t, ctx, d.env, "audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--unmasked", "--actor", "alice")
	anchor := printedEventAnchor(t, r.stderr)
	if strings.Contains(r.stdout, "event anchor") {
		t.Error("the event anchor went to standard output, into the export")
	}
	if r := mustCLI(t, ctx, d.env, "audit", "verify", "--event-anchor", anchor); !strings.Contains(r.stdout, "1 events verified") ||
		!strings.Contains(r.stdout, "anchored: 0 run(s) and 1 event(s)") {
		t.Errorf("verify with the event anchor %s:\n%s", anchor, r.stdout)
	}
	id, _, _ := strings.Cut(anchor, ":")
	if r := cli(t, ctx, d.env, "audit", "verify", "--event-anchor", id+":"+strings.Repeat("cd", 32)); r.code != 1 ||
		!strings.Contains(r.stdout, "audit event "+id+": its hash is "+anchor[len(id)+1:len(id)+13]) {
		t.Errorf("verify with a wrong event anchor: exit %d\n%s", r.code, r.stdout)
	}
	for _, c := range []struct{ name, anchor string }{
		{"no hash", id},
		{"event not a number", "x:" + anchor[len(id)+1:]},
		{"short hash", id + ":abc"},
	} {
		t.Run("bad event anchor/"+c.name, func(t *testing.T) {
			if r := cli(t, ctx, d.env, "audit", "verify", "--event-anchor", c.anchor); r.code != 2 || !strings.Contains(r.stderr, "--event-anchor") {
				t.Errorf("--event-anchor %q: exit %d, want 2 naming the flag\n%s", c.anchor, r.code, r.stderr)
			}
		})
	}
	// An anchored event's content is checked whatever runs are selected.
	bypassTrigger(t, d, `UPDATE reminder_audit_events SET actor = 'mallory' WHERE id = `+id)
	if r := cli(t, ctx, d.env, "audit", "verify", "--run", "1", "--event-anchor", anchor); r.code != 1 ||
		!strings.Contains(r.stdout, "audit event "+id+": its content does not match its hash") {
		t.Errorf("verify run 1 with the anchor of an edited event: exit %d\n%s", r.code, r.stdout)
	}
	bypassTrigger(t, d, `DELETE FROM reminder_audit_events WHERE id = `+id)
	if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "audit trail intact: 1 runs") {
		t.Errorf("verify without the anchor after the newest event was removed:\n%s", r.stdout)
	}
	r = cli(t, ctx, d.env, "audit", "verify", "--event-anchor", anchor)
	if r.code != 1 || !strings.Contains(r.stdout, "audit event "+id+": is missing, but an anchor kept outside the database names it: the event was deleted") {
		t.Errorf("verify with the event anchor after the event was removed: exit %d\n%s", r.code, r.stdout)
	}
}

// printedEventAnchor returns the EVENT:HASH a command printed after
// "event anchor ".
func printedEventAnchor(t *testing.T, out string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, "event anchor ")
	anchor, _, _ := strings.Cut(rest, " ")
	if !ok || !strings.Contains(anchor, ":") {
		t.Fatalf("no event anchor printed:\n%s", out)
	}
	return anchor
}

// reportedAnchor returns the anchor a run's report prints, RUN:HEAD.
func reportedAnchor(t *testing.T, r result) string {
	t.Helper()
	for _, line := range strings.Split(r.stdout, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "anchor "); ok {
			anchor, _, _ := strings.Cut(rest, " ")
			return anchor
		}
	}
	t.Fatalf("the run's report shows no anchor:\n%s", r.stdout)
	return ""
}

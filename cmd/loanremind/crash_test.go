package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startCLI starts the test binary as the loanremind command in a process of
// its own.
func startCLI(t *testing.T, env map[string]string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{"LOANREMIND_TEST_AS_CLI=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// ledger is the outcome of a run that the crash test compares: every
// message (without its id and run), every ledger item and every final
// decision.
func ledger(t *testing.T, d *testDB) string {
	t.Helper()
	var s string
	err := d.db.QueryRow(`SELECT concat_ws(E'\n',
		(SELECT count(*) FROM reminder_sends),
		(SELECT md5(string_agg(concat_ws(',', borrower_id, channel, recipient, stage, template, body, currency,
		        total_due_minor, scheduled_for, valid_until, segments), ';' ORDER BY borrower_id, channel)) FROM reminder_sends),
		(SELECT md5(string_agg(concat_ws(',', s.borrower_id, i.installment_id, i.stage, i.channel, i.amount_minor), ';'
		        ORDER BY i.installment_id, i.stage, i.channel)) FROM reminder_send_items i JOIN reminder_sends s ON s.id = i.send_id),
		(SELECT md5(string_agg(concat_ws(',', installment_id, stage, channel, decision, reason), ';'
		        ORDER BY installment_id, stage, channel)) FROM reminder_decisions))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A SIGKILL in the middle of a multi-batch run loses at most the open
// batch; the next run completes the work, and the result equals an
// uninterrupted run's on the same data.
func TestCrashMidRunThenRerunEqualsUninterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const borrowers = 12000
	crashed := seeded(t, borrowers)
	clean := seeded(t, borrowers)
	env := crashed.with("LOANREMIND_BATCH_SIZE", "100")

	cmd, out := startCLI(t, env, "run", "--as-of", testAsOf)
	deadline := time.Now().Add(60 * time.Second)
	for {
		// Kill it once some batches have committed.
		if n := crashed.count(t, `SELECT coalesce(max(audit_rows), 0) FROM reminder_runs`); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no batch committed within a minute:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	var status string
	var partial int64
	crashed.scanRow(t, `SELECT status, audit_rows FROM reminder_runs ORDER BY id LIMIT 1`, nil, &status, &partial)
	if status != "running" {
		t.Fatalf("the killed run is %q, want still marked running", status)
	}
	// Dead, with its lane's lock gone, the killed run vouches for the rows
	// it counted: verify passes, and catches a row added to it.
	if r := mustCLI(t, ctx, crashed.env, "audit", "verify"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("audit verify of the killed run: %s", r.stdout)
	}
	var forged int64
	last := crashed.count(t, `SELECT max(id) FROM reminder_audit`)
	if err := crashed.db.QueryRow(fmt.Sprintf(copyAuditRow, "installment_id", last)).Scan(&forged); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, ctx, crashed.env, "audit", "verify"); r.code != 1 || !strings.Contains(r.stdout, "rows were inserted") {
		t.Errorf("audit verify with a row added to the killed run: exit %d\n%s", r.code, r.stdout)
	}
	bypassTrigger(t, crashed, fmt.Sprintf(`DELETE FROM reminder_audit WHERE id = %d`, forged))

	mustCLI(t, ctx, env, "run", "--as-of", testAsOf)
	mustCLI(t, ctx, clean.with("LOANREMIND_BATCH_SIZE", "5000"), "run", "--as-of", testAsOf)

	if partial >= clean.count(t, `SELECT count(*) FROM reminder_audit`) {
		t.Fatalf("the kill came after the whole run (%d audit rows): the test proves nothing", partial)
	}
	if a, b := ledger(t, crashed), ledger(t, clean); a != b {
		t.Errorf("after a crash and a re-run the outbox and ledger differ from an uninterrupted run:\n%s\nvs\n%s", a, b)
	}
	// The killed run is marked failed by the run that completed it, and the
	// audit trail still verifies.
	crashed.scanRow(t, `SELECT status FROM reminder_runs ORDER BY id LIMIT 1`, nil, &status)
	if status != "failed" {
		t.Errorf("the killed run is %q after the next run, want failed", status)
	}
	r := mustCLI(t, ctx, crashed.env, "audit", "verify")
	if !strings.Contains(r.stdout, "intact") {
		t.Errorf("audit verify after the crash: %s", r.stdout)
	}
}

// The database going away mid-run: exit 1, the run marked failed; the next
// run completes the work.
func TestDatabaseGoneMidRunExits1AndMarksFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 12000)
	env := d.with("LOANREMIND_BATCH_SIZE", "100")
	var name string
	d.scanRow(t, `SELECT current_database()`, nil, &name)

	done := make(chan result, 1)
	go func() { done <- cli(t, ctx, env, "run", "--as-of", testAsOf) }()
	deadline := time.Now().Add(60 * time.Second)
	for d.count(t, `SELECT coalesce(max(audit_rows), 0) FROM reminder_runs`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no batch committed within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Cut every connection the job has to the database.
	d.exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name)
	r := <-done
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, tail(r.stderr, 2000))
	}
	var status, errText string
	d.scanRow(t, `SELECT status, coalesce(error, '') FROM reminder_runs ORDER BY id LIMIT 1`, nil, &status, &errText)
	if status != "failed" || errText == "" {
		t.Errorf("run is %q (%q), want failed with the error", status, errText)
	}
	mustCLI(t, ctx, env, "run", "--as-of", testAsOf)
	if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_sends GROUP BY borrower_id, channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d borrowers got a second message after the re-run", n)
	}
	if !strings.Contains(mustCLI(t, ctx, d.env, "audit", "verify").stdout, "intact") {
		t.Error("the audit trail does not verify after the failure")
	}
}

package main

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/loanremind/loanremind/jobs/audit"
)

// TestInsiderWritesAreNotVouchedFor plays an insider who has the job's
// database credentials (a login role in loanremind_job) and writes to the
// job's tables behind its back: a message with a phishing link, final
// decisions and ledger items that silence reminders. `audit verify` names
// every such row by table and key, and the sender's check refuses the
// planted message and one whose body a superuser changed.
func TestInsiderWritesAreNotVouchedFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 300)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "audit trail intact") {
		t.Fatalf("verify before: %s", r.stdout)
	}
	insider, err := sql.Open("postgres", jobRoleURL(t, d))
	if err != nil {
		t.Fatal(err)
	}
	defer insider.Close()

	var runID, realSend int64
	if err := d.db.QueryRow(`SELECT run_id, id FROM reminder_sends ORDER BY id LIMIT 1`).Scan(&runID, &realSend); err != nil {
		t.Fatal(err)
	}
	if refused, err := audit.Vouch(ctx, d.db, []int64{realSend}); err != nil || len(refused) != 0 {
		t.Fatalf("Vouch(the job's own message) = %v, %v; want vouched", refused, err)
	}

	var planted int64
	err = insider.QueryRow(`INSERT INTO reminder_sends (run_id, borrower_id, channel, recipient, locale, template,
		template_sha256, body, segments, stage, scheduled_for, valid_until, created_at)
		SELECT run_id, borrower_id, channel, '+8613999999999', locale, template, template_sha256,
		       '【安心金融】您的借款已逾期，请立即访问 http://anxin-pay.evil.example 还款', 1, stage,
		       scheduled_for, valid_until, created_at
		FROM reminder_sends WHERE id = $1 RETURNING id`, realSend).Scan(&planted)
	if err != nil {
		t.Fatalf("as the job role, plant a message: %v", err)
	}
	// A ledger item for the planted message, on an installment no run has
	// reminded yet, and a final decision that silences another.
	var freeInstallment, freeLoan, silenced int64
	if err := d.db.QueryRow(`SELECT i.id, i.loan_id FROM installments i
		WHERE NOT EXISTS (SELECT 1 FROM reminder_audit a WHERE a.installment_id = i.id) ORDER BY i.id LIMIT 1`).
		Scan(&freeInstallment, &freeLoan); err != nil {
		t.Fatal(err)
	}
	if err := d.db.QueryRow(`SELECT i.id FROM installments i
		WHERE NOT EXISTS (SELECT 1 FROM reminder_audit a WHERE a.installment_id = i.id) ORDER BY i.id OFFSET 1 LIMIT 1`).
		Scan(&silenced); err != nil {
		t.Fatal(err)
	}
	if _, err := insider.Exec(`INSERT INTO reminder_send_items (send_id, installment_id, loan_id, stage, channel, amount_minor)
		VALUES ($1, $2, $3, 'overdue_1d', 'sms', 100)`, planted, freeInstallment, freeLoan); err != nil {
		t.Fatalf("as the job role, plant a ledger item: %v", err)
	}
	if _, err := insider.Exec(`INSERT INTO reminder_decisions (installment_id, stage, channel, run_id, decision, reason, decided_at)
		VALUES ($1, 'overdue_1d', 'sms', $2, 'suppressed', 'opted_out', now())`, silenced, runID); err != nil {
		t.Fatalf("as the job role, plant a decision: %v", err)
	}
	// A superuser changes the body of a real message.
	var edited int64
	if err := d.db.QueryRow(`SELECT id FROM reminder_sends WHERE id > $1 AND id <> $2 ORDER BY id LIMIT 1`, realSend, planted).Scan(&edited); err != nil {
		t.Fatal(err)
	}
	d.exec(t, `UPDATE reminder_sends SET body = body || ' http://evil.example' WHERE id = $1`, edited)

	r := cli(t, ctx, d.env, "audit", "verify")
	if r.code != 1 {
		t.Fatalf("verify after the insider's writes exits %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"reminder_sends " + itoa(planted) + ": no audit row",
		"reminder_sends " + itoa(edited) + ": no audit row",
		"reminder_send_items (send " + itoa(planted) + ", installment " + itoa(freeInstallment) + ", overdue_1d, sms)",
		"reminder_decisions (installment " + itoa(silenced) + ", overdue_1d, sms): no audit row of run " + itoa(runID) +
			" made this decision (suppressed opted_out)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify does not report %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "reminder_sends "+itoa(realSend)+":") {
		t.Errorf("verify reports the job's own message %d:\n%s", realSend, r.stdout)
	}
	// One run selected: its rows are checked too.
	if r := cli(t, ctx, d.env, "audit", "verify", "--run", itoa(runID)); r.code != 1 || !strings.Contains(r.stdout, "reminder_sends "+itoa(planted)) {
		t.Errorf("verify --run %d exits %d:\n%s", runID, r.code, r.stdout)
	}

	refused, err := audit.Vouch(ctx, d.db, []int64{realSend, planted, edited, 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := refused[realSend]; ok {
		t.Errorf("Vouch refuses the job's own message: %s", refused[realSend])
	}
	for id, want := range map[int64]string{
		planted: "queued", edited: "message hash", 1 << 40: "no such message",
	} {
		if !strings.Contains(refused[id], want) {
			t.Errorf("Vouch(%d) = %q, want a reason with %q", id, refused[id], want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// An insider with the job's credentials rewrites the phone cache to send
// every text to one number. The cache's keyed hashes no longer match, so the
// next run parses the borrowers' real numbers again and texts those.
func TestInsiderCannotRedirectThroughPhoneCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 300)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	insider, err := sql.Open("postgres", jobRoleURL(t, d))
	if err != nil {
		t.Fatal(err)
	}
	defer insider.Close()
	const evil = "+8613999999999"
	res, err := insider.Exec(`UPDATE reminder_phone_cache SET e164 = $1 WHERE valid`, evil)
	if err != nil {
		t.Fatalf("as the job role, rewrite the cache: %v", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("the cache held no valid parse to rewrite")
	}
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-29T10:00:00+08:00")
	if n := d.count(t, `SELECT count(*) FROM reminder_sends WHERE run_id = 2 AND channel = 'sms'`); n == 0 {
		t.Fatal("the second run sent no SMS: the test shows nothing")
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_sends WHERE recipient = $1`, evil); n != 0 {
		t.Errorf("%d messages to the number the insider put in the cache", n)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_phone_cache c WHERE e164 = $1
		AND EXISTS (SELECT 1 FROM reminder_sends s WHERE s.run_id = 2 AND s.borrower_id = c.borrower_id)`, evil); n != 0 {
		t.Errorf("%d cache entries of the run's borrowers still hold the insider's number", n)
	}
}

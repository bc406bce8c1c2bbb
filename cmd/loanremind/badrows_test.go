package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// Bad rows are skipped with a reason in the audit and the run goes on.
func TestBadRowsAreSkippedWithAReason(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newTestDB(t)
	// A lender's view may hold what our own tables forbid.
	d.exec(t, `ALTER TABLE installments DROP CONSTRAINT installments_amount_due_nonnegative`)
	d.exec(t, `INSERT INTO borrowers (id, full_name, phone, email, locale, time_zone, region) VALUES
		(1, 'Good', '+8613812345678', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
		(2, 'Bad zone', '+8613812345679', NULL, 'zh-CN', 'Asia/Shang hai', NULL),
		(3, 'Bad phone', 'call me maybe', NULL, 'zh-CN', NULL, 'CN-11'),
		(4, 'Negative', '+8613812345680', NULL, 'zh-CN', NULL, NULL),
		(5, 'Odd money', '+8613812345681', NULL, 'zh-CN', NULL, NULL),
		(6, 'Nobody', NULL, NULL, 'zh-CN', NULL, NULL)`)
	d.exec(t, `INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES
		(1, 1, 'LN0000000001', 'CNY', 'active'), (2, 2, 'LN0000000002', 'CNY', 'active'),
		(3, 3, 'LN0000000003', 'CNY', 'active'), (4, 4, 'LN0000000004', 'CNY', 'active'),
		(5, 5, 'LN0000000005', 'XYZ', 'active'), (6, 6, 'LN0000000006', 'CNY', 'active')`)
	d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES
		(1, 1, 1, '2026-11-21', 10000, 0), (2, 2, 1, '2026-11-21', 10000, 0), (3, 3, 1, '2026-11-21', 10000, 0),
		(4, 4, 1, '2026-11-21', -500, 0), (5, 5, 1, '2026-11-21', 10000, 0), (6, 6, 1, '2026-11-21', 10000, 0)`)
	r := mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	if !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("run did not succeed:\n%s", r.stdout)
	}
	for _, c := range []struct {
		name string
		inst int64
		want string
	}{
		{"good", 1, "queued"},
		{"bad zone", 2, "skipped invalid_time_zone"},
		{"bad phone", 3, "skipped invalid_phone"},
		{"negative amount", 4, "skipped invalid_amount"},
		{"unknown currency", 5, "skipped unknown_currency:XYZ"},
		{"no contact", 6, "skipped missing_phone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got string
			d.scanRow(t, `SELECT string_agg(trim(decision || ' ' || reason), ', ' ORDER BY channel DESC) FROM reminder_audit WHERE installment_id = $1`, []any{c.inst}, &got)
			if !strings.HasPrefix(got, c.want) {
				t.Errorf("installment %d: audit says %q, want %q", c.inst, got, c.want)
			}
		})
	}
	// No contact at all: both channels are recorded.
	var email string
	d.scanRow(t, `SELECT decision || ' ' || reason FROM reminder_audit WHERE installment_id = 6 AND channel = 'email'`, nil, &email)
	if email != "skipped missing_email" {
		t.Errorf("borrower without any contact, email: %q", email)
	}
}

// Logs carry no full phone number, email or account reference (PIPL arts.
// 28 and 51): seeded data through a run, a dry run and explain.
func TestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 800)
	// Names as lenders store them: with stray spaces, which the templates
	// clean away, so that a dry run's masking must find the name as written
	// in the message.
	d.exec(t, `UPDATE borrowers SET full_name = full_name || ' ' WHERE id % 2 = 0`)
	d.exec(t, `UPDATE borrowers SET full_name = ' ' || replace(full_name, ' ', '  ') WHERE id % 3 = 0`)
	var logs, samples strings.Builder
	for _, args := range [][]string{
		{"run", "--as-of", testAsOf, "--dry-run"},
		{"run", "--as-of", testAsOf},
		{"explain", "--installment", "1"},
	} {
		r := cli(t, ctx, d.with("LOANREMIND_LOG_LEVEL", "debug"), args...)
		logs.WriteString(r.stderr)
		if args[0] == "run" {
			logs.WriteString(r.stdout) // the dry run's samples are masked too
			samples.WriteString(r.stdout)
		}
	}
	text := logs.String()
	if !strings.Contains(text, `"msg":"run finished"`) {
		t.Fatalf("no logs captured:\n%s", tail(text, 500))
	}
	if !strings.Contains(samples.String(), "**") {
		t.Fatalf("the dry run printed no sample with a masked name:\n%s", tail(samples.String(), 800))
	}
	rows, err := d.db.Query(`SELECT coalesce(phone, ''), coalesce(email, ''), (SELECT string_agg(account_ref, ',') FROM loans l WHERE l.borrower_id = b.id),
		regexp_replace(trim(coalesce(full_name, '')), '\s+', ' ', 'g') FROM borrowers b`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	digits := regexp.MustCompile(`\D`)
	logDigits := digits.ReplaceAllString(text, "")
	leaks := 0
	for rows.Next() {
		var phone, email, refs, name string
		if err := rows.Scan(&phone, &email, &refs, &name); err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(name) >= 2 && strings.Contains(samples.String(), name) && leaks < 5 {
			t.Errorf("a full name appears in the dry run's samples: %s…", string([]rune(name)[:1]))
			leaks++
		}
		if p := digits.ReplaceAllString(phone, ""); len(p) >= 8 && strings.Contains(logDigits, p) && leaks < 5 {
			t.Errorf("a full phone number appears in the logs: %s…", p[:3])
			leaks++
		}
		if email != "" && strings.Contains(text, email) && leaks < 5 {
			t.Errorf("an email address appears in the logs")
			leaks++
		}
		for _, ref := range strings.Split(refs, ",") {
			if len(ref) > 4 && strings.Contains(text, ref) && leaks < 5 {
				t.Errorf("an account reference appears in the logs")
				leaks++
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// Two runs started together never remind an installment twice: runs of the
// same lane and shard skip (exit 0), a backfill of the same day may overlap.
func TestConcurrentRunsProduceNoDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 4000)
	env := d.with("LOANREMIND_BATCH_SIZE", "200")
	var wg sync.WaitGroup
	results := make([]result, 4)
	args := [][]string{
		{"run", "--as-of", testAsOf},
		{"run", "--as-of", testAsOf},
		{"backfill", "--from", testDay, "--to", testDay, "--send-late", "--actor", "test", "--reason", "overlap"},
		{"run", "--as-of", testAsOf, "--actor", "ops", "--reason", "by hand"},
	}
	for i := range args {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = cli(t, ctx, env, args[i]...)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("%v: exit %d\n%s", args[i], r.code, tail(r.stderr, 1500))
		}
	}
	if n := d.count(t, `SELECT count(*) FROM (SELECT installment_id, stage, channel FROM reminder_audit
		GROUP BY installment_id, stage, channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d installments were decided twice for one stage and channel", n)
	}
	if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_sends GROUP BY borrower_id, channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d borrowers got two messages on one channel", n)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE status = 'skipped'`); n == 0 {
		t.Log("no run was skipped: the runs of one lane happened not to overlap")
	}
	if !strings.Contains(mustCLI(t, ctx, d.env, "audit", "verify").stdout, "intact") {
		t.Error("audit trail does not verify after concurrent runs")
	}
}

// A candidate row the job cannot read at all (a lender's view with a NULL
// where its schema has none) fails the run, naming the row: the run must
// not take the end of what it could read for the end of the candidates.
func TestUnreadableCandidateRowFailsTheRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 2000)
	d.exec(t, `ALTER TABLE installments ALTER seq DROP NOT NULL`)
	var inst int64
	if err := d.db.QueryRow(`UPDATE installments SET seq = NULL WHERE id = (
		SELECT i.id FROM installments i JOIN loans l ON l.id = i.loan_id
		WHERE i.amount_paid_minor < i.amount_due_minor AND i.due_date BETWEEN DATE '2026-11-01' AND DATE '2026-11-30'
		ORDER BY abs(l.borrower_id - 1000) LIMIT 1) RETURNING id`).Scan(&inst); err != nil {
		t.Fatal(err)
	}
	r := cli(t, ctx, d.env, "run", "--as-of", testAsOf)
	var status, errText string
	d.scanRow(t, `SELECT status, coalesce(error, '') FROM reminder_runs ORDER BY id DESC LIMIT 1`, nil, &status, &errText)
	if r.code != 1 || status != "failed" || !strings.Contains(errText, fmt.Sprintf("installment %d", inst)) {
		t.Errorf("a run over an unreadable row: exit %d, %s (%q); want exit 1, failed, naming installment %d", r.code, status, errText, inst)
	}
}

// The same installment twice in the candidates (a lender's view that joins
// it to two rows) is decided once, and the run goes on past it.
func TestRepeatedCandidateRowIsDecidedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 2000)
	d.exec(t, `ALTER TABLE installments DROP CONSTRAINT installments_pkey CASCADE`)
	d.exec(t, `ALTER TABLE installments DROP CONSTRAINT installments_loan_seq_key`)
	var inst int64
	if err := d.db.QueryRow(`INSERT INTO installments SELECT * FROM installments WHERE id = (
		SELECT i.id FROM installments i JOIN loans l ON l.id = i.loan_id
		WHERE i.amount_paid_minor < i.amount_due_minor AND i.due_date BETWEEN DATE '2026-11-01' AND DATE '2026-11-30'
		ORDER BY abs(l.borrower_id - 1000) LIMIT 1) RETURNING id`).Scan(&inst); err != nil {
		t.Fatal(err)
	}
	r := cli(t, ctx, d.with("LOANREMIND_BATCH_SIZE", "100"), "run", "--as-of", testAsOf)
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, tail(r.stderr, 2000))
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_audit WHERE installment_id = $1`, inst); n != 1 {
		t.Errorf("installment %d, twice in the candidates: %d audit rows, want 1", inst, n)
	}
	if !strings.Contains(r.stderr, "more than once") {
		t.Errorf("no warning about the repeated installment:\n%s", tail(r.stderr, 1500))
	}
	if n := d.count(t, `SELECT count(DISTINCT borrower_id) FROM reminder_audit WHERE borrower_id > 1000`); n == 0 {
		t.Error("the run stopped at the repeated installment")
	}
	mustVerify(t, d)
}

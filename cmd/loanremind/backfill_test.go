package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

// seededAt seeds N borrowers (seed 7) with due dates around the given day.
func seededAt(t *testing.T, borrowers int, day string) *testDB {
	t.Helper()
	d := newTestDB(t)
	mustCLI(t, context.Background(), d.env, "seed", "--borrowers", fmt.Sprint(borrowers), "--seed", "7", "--as-of", day)
	return d
}

// fingerprint summarizes every table the job writes.
func fingerprint(t *testing.T, d *testDB) string {
	t.Helper()
	var s string
	err := d.db.QueryRow(`SELECT concat_ws('|',
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY id), '')) FROM reminder_runs x),
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY id), '')) FROM reminder_sends x),
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY installment_id, stage, channel), '')) FROM reminder_send_items x),
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY installment_id, stage, channel), '')) FROM reminder_decisions x),
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY id), '')) FROM reminder_audit x),
		(SELECT count(*) FROM reminder_phone_cache))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// outputCounts counts the rows a backfill adds: sends, ledger items, final
// decisions and audit rows.
func outputCounts(t *testing.T, d *testDB) [4]int64 {
	t.Helper()
	return [4]int64{
		d.count(t, `SELECT count(*) FROM reminder_sends`),
		d.count(t, `SELECT count(*) FROM reminder_send_items`),
		d.count(t, `SELECT count(*) FROM reminder_decisions`),
		d.count(t, `SELECT count(*) FROM reminder_audit`),
	}
}

// auditKeys lists the (installment, stage, channel) keys the audit holds,
// failing if any is decided twice.
func auditKeys(t *testing.T, d *testDB) map[string]bool {
	t.Helper()
	if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_audit GROUP BY installment_id, stage, channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d installments were decided twice for one stage and channel", n)
	}
	rows, err := d.db.Query(`SELECT installment_id, stage, channel FROM reminder_audit`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var id int64
		var stage, channel string
		if err := rows.Scan(&id, &stage, &channel); err != nil {
			t.Fatal(err)
		}
		keys[fmt.Sprintf("%d/%s/%s", id, stage, channel)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func mustVerify(t *testing.T, d *testDB) {
	t.Helper()
	if r := mustCLI(t, context.Background(), d.env, "audit", "verify"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("audit verify: %s", r.stdout)
	}
}

// A week's backfill: one run record per day, oldest first, as of each day's
// first scheduled time, with the actor and reason; paid installments are
// never reminded; repeating it adds nothing; a dry run writes nothing.
func TestBackfillWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 2000)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")

	// Pay some installments that the week would otherwise remind.
	d.exec(t, `
		CREATE TABLE paid_by_test AS
		SELECT i.id FROM installments i JOIN loans l ON l.id = i.loan_id
		WHERE l.status = 'active' AND i.amount_paid_minor < i.amount_due_minor AND i.amount_due_minor > 0
		  AND i.due_date BETWEEN DATE '2026-11-19' AND DATE '2026-11-30'
		ORDER BY i.id LIMIT 60`)
	if n := d.count(t, `SELECT count(*) FROM paid_by_test`); n < 20 {
		t.Fatalf("only %d installments to pay: the seed changed", n)
	}
	d.exec(t, `UPDATE installments SET amount_paid_minor = amount_due_minor WHERE id IN (SELECT id FROM paid_by_test)`)

	// Daily at 09:30 in Shanghai: each day runs as of 09:30 that day.
	env := d.with("LOANREMIND_SCHEDULE", "CRON_TZ=Asia/Shanghai 30 9 * * *", "LOANREMIND_BATCH_SIZE", "300")
	args := []string{"backfill", "--from", "2026-11-22", "--to", testDay, "--actor", "alice@lender", "--reason", "INC-4211: sender outage"}
	r := mustCLI(t, ctx, env, args...)
	if strings.Count(r.stdout, "succeeded") != 7 {
		t.Errorf("the report does not show 7 succeeded days:\n%s", r.stdout)
	}

	rows, err := d.db.Query(`SELECT id, mode, as_of, business_date::text, actor, reason, status, shard_index, shard_count
		FROM reminder_runs ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, shanghai)
	n := 0
	for rows.Next() {
		var id int64
		var asOf time.Time
		var mode, bd, actor, reason, status string
		var si, sc int
		if err := rows.Scan(&id, &mode, &asOf, &bd, &actor, &reason, &status, &si, &sc); err != nil {
			t.Fatal(err)
		}
		want := day.AddDate(0, 0, n).Add(9*time.Hour + 30*time.Minute)
		if mode != "backfill" || !asOf.Equal(want) || bd != want.Format("2006-01-02") || actor != "alice@lender" ||
			reason != "INC-4211: sender outage" || status != "succeeded" || si != 0 || sc != 1 {
			t.Errorf("run %d (day %d): mode %s as of %s business date %s actor %q reason %q status %s shard %d/%d; want backfill as of %s",
				id, n+1, mode, asOf.In(shanghai).Format(time.RFC3339), bd, actor, reason, status, si, sc, want.Format(time.RFC3339))
		}
		n++
	}
	rows.Close()
	if n != 7 {
		t.Fatalf("%d run records for 7 days", n)
	}
	// Every day decided something: the week is not empty.
	if m := d.count(t, `SELECT count(DISTINCT run_id) FROM reminder_audit`); m != 7 {
		t.Errorf("only %d of the 7 days have audit rows", m)
	}

	t.Run("paid installments are never reminded", func(t *testing.T) {
		if m := d.count(t, `SELECT count(*) FROM reminder_send_items WHERE installment_id IN (SELECT id FROM paid_by_test)`); m != 0 {
			t.Errorf("%d ledger items remind paid installments", m)
		}
		if m := d.count(t, `SELECT count(*) FROM reminder_audit WHERE installment_id IN (SELECT id FROM paid_by_test)`); m != 0 {
			t.Errorf("%d audit rows decide about paid installments", m)
		}
		// Unpaid installments due on the same days were decided.
		if m := d.count(t, `
			SELECT count(*) FROM reminder_audit a JOIN installments i ON i.id = a.installment_id
			WHERE i.due_date IN (SELECT i2.due_date FROM installments i2 WHERE i2.id IN (SELECT id FROM paid_by_test))`); m == 0 {
			t.Error("nothing due on the paid installments' dates was decided: the check proves nothing")
		}
	})

	t.Run("repeating the backfill adds no sends, items or audit rows", func(t *testing.T) {
		before := outputCounts(t, d)
		mustCLI(t, ctx, env, args...)
		if after := outputCounts(t, d); after != before {
			t.Errorf("the repeat changed sends, items, decisions, audit from %v to %v", before, after)
		}
		if m := d.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'backfill' AND status = 'succeeded'`); m != 14 {
			t.Errorf("%d succeeded backfill runs after the repeat, want 14", m)
		}
		mustVerify(t, d)
	})

	t.Run("a dry run writes nothing", func(t *testing.T) {
		before := fingerprint(t, d)
		// The built-in schedule (hourly in Shanghai): each day runs as of
		// its midnight.
		r := mustCLI(t, ctx, d.env, "backfill", "--from", "2026-11-29", "--to", "2026-11-30", "--dry-run",
			"--actor", "alice@lender", "--reason", "preview")
		if after := fingerprint(t, d); after != before {
			t.Errorf("backfill --dry-run changed the tables")
		}
		for _, want := range []string{"Dry run (nothing written)", "as of 2026-11-29T00:00:00+08:00", "as of 2026-11-30T00:00:00+08:00"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
			}
		}
		if m := regexp.MustCompile(`candidates=[1-9]`).FindAllString(r.stdout, -1); len(m) != 2 {
			t.Errorf("the dry run does not preview candidates on both days:\n%s", r.stdout)
		}
	})
}

// --actor and --reason are required: exit 2, nothing recorded.
func TestBackfillNeedsActorAndReason(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 100)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"neither", []string{"backfill", "--from", "2026-11-22", "--to", testDay}},
		{"no reason", []string{"backfill", "--from", "2026-11-22", "--to", testDay, "--actor", "alice"}},
		{"no actor", []string{"backfill", "--from", "2026-11-22", "--to", testDay, "--reason", "INC-1"}},
		{"empty actor", []string{"backfill", "--from", "2026-11-22", "--to", testDay, "--actor", "", "--reason", "INC-1"}},
		{"from after to", []string{"backfill", "--from", "2026-11-29", "--to", testDay, "--actor", "alice", "--reason", "INC-1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := cli(t, ctx, d.env, c.args...)
			if r.code != 2 {
				t.Errorf("%s: exit %d, want 2\n%s", strings.Join(c.args, " "), r.code, r.stderr)
			}
		})
	}
	if r := cli(t, ctx, d.env, "backfill", "--from", "2026-11-22", "--to", testDay); !strings.Contains(r.stderr, "--actor") || !strings.Contains(r.stderr, "--reason") {
		t.Errorf("the error does not say what is missing: %s", r.stderr)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs`); n != 0 {
		t.Errorf("%d run records written by refused backfills", n)
	}
}

// Backfilling days long past: reminders whose validity passed before now are
// recorded expired; with --send-late, on a copy of the same data, they are
// sent from now on instead.
func TestBackfillStaleDaysExpireUnlessSendLate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const from, to = "2026-09-28", "2026-10-04"
	stale := seededAt(t, 1500, "2026-10-01")
	late := seededAt(t, 1500, "2026-10-01")
	args := []string{"backfill", "--from", from, "--to", to, "--actor", "bob@lender", "--reason", "INC-4300: missed October"}

	mustCLI(t, ctx, stale.env, args...)
	if n := stale.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'backfill' AND status = 'succeeded'`); n != 7 {
		t.Errorf("%d succeeded backfill runs, want 7", n)
	}
	if n := stale.count(t, `SELECT count(*) FROM reminder_sends`); n != 0 {
		t.Errorf("%d messages for reminders whose validity passed weeks ago", n)
	}
	if n := stale.count(t, `SELECT count(*) FROM reminder_audit WHERE decision IN ('queued', 'deferred')`); n != 0 {
		t.Errorf("%d stale reminders queued", n)
	}
	expired := stale.count(t, `SELECT count(*) FROM reminder_audit WHERE decision = 'expired' AND reason = 'valid_until_passed'`)
	if expired == 0 {
		t.Fatal("no reminder recorded expired (valid_until_passed)")
	}
	if n := stale.count(t, `SELECT count(*) FROM reminder_audit WHERE decision = 'expired' AND reason <> 'valid_until_passed'`); n != 0 {
		t.Errorf("%d expired for another reason, although every validity passed before now", n)
	}
	if n := stale.count(t, `SELECT count(*) FROM reminder_decisions WHERE decision = 'expired' AND reason = 'valid_until_passed'`); n != expired {
		t.Errorf("%d expiries in the ledger, %d in the audit", n, expired)
	}
	mustVerify(t, stale)

	lateArgs := append(append([]string(nil), args...), "--send-late")
	before := time.Now().Truncate(time.Second)
	mustCLI(t, ctx, late.env, lateArgs...)
	after := time.Now()
	if n := late.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'backfill' AND status = 'succeeded' AND send_late`); n != 7 {
		t.Errorf("%d succeeded send-late backfill runs, want 7", n)
	}
	sent := late.count(t, `SELECT count(*) FROM reminder_audit WHERE decision IN ('queued', 'deferred')`)
	if sent == 0 || late.count(t, `SELECT count(*) FROM reminder_sends`) == 0 {
		t.Fatal("--send-late sent nothing")
	}
	if n := late.count(t, `SELECT count(*) FROM reminder_audit WHERE reason = 'valid_until_passed'`); n != 0 {
		t.Errorf("%d reminders expired (valid_until_passed) despite --send-late", n)
	}
	if n := late.count(t, `SELECT count(*) FROM reminder_sends WHERE scheduled_for < $1`, before); n != 0 {
		t.Errorf("%d late messages scheduled before the backfill started", n)
	}
	if n := late.count(t, `SELECT count(*) FROM reminder_audit WHERE decision IN ('queued', 'deferred') AND scheduled_for < $1`, before); n != 0 {
		t.Errorf("%d late reminders audited with a send time before the backfill started", n)
	}
	// Late validity is a day (late_validity) from the send-late run.
	if n := late.count(t, `SELECT count(*) FROM reminder_sends WHERE valid_until <= scheduled_for OR valid_until > $1`, after.Add(24*time.Hour+time.Minute)); n != 0 {
		t.Errorf("%d late messages with a validity beyond late_validity", n)
	}
	// explain re-evaluates a late reminder as its send-late run did: one
	// alone in its message, so that the message's other items do not
	// change its validity.
	var lone int64
	if err := late.db.QueryRow(`SELECT min(i.installment_id) FROM reminder_send_items i
		WHERE (SELECT count(*) FROM reminder_send_items j WHERE j.send_id = i.send_id) = 1`).Scan(&lone); err != nil {
		t.Fatal(err)
	}
	explainAgrees(t, ctx, late, lone)
	// The same installments, stages and channels were decided once each;
	// only the outcome differs.
	a, b := auditKeys(t, stale), auditKeys(t, late)
	if len(a) != len(b) {
		t.Errorf("the stale backfill decided %d keys, the send-late one %d", len(a), len(b))
	}
	for k := range a {
		if !b[k] {
			t.Errorf("decided in the stale backfill only: %s", k)
			break
		}
	}
	mustVerify(t, late)
}

// A backfill of today beside the scheduled run of today, both writing at
// once: no installment is decided twice for a stage and channel, nothing is
// lost, and both succeed.
func TestBackfillBesideScheduledRunAddsNoDuplicate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 3000)
	clean := seeded(t, 3000)
	env := d.with("LOANREMIND_BATCH_SIZE", "100", "LOANREMIND_LOCK_TIMEOUT", "2m")

	// Hold every borrower stripe so that both runs select the same
	// candidates and then wait to write (on the stripes, or on each other's
	// uncommitted ledger rows): their writes overlap for sure.
	conn, err := d.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(1280462675, s) FROM generate_series(0, 63) s`); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer release()

	var wg sync.WaitGroup
	var backfill, scheduled result
	wg.Add(2)
	go func() {
		defer wg.Done()
		backfill = cli(t, ctx, env, "backfill", "--from", testDay, "--to", testDay, "--actor", "alice", "--reason", "overlap")
	}()
	go func() {
		defer wg.Done()
		scheduled = cli(t, ctx, env, "run", "--as-of", testAsOf)
	}()
	// Only write transactions wait for locks, and a run's write can only
	// wait on the other's rows once that one writes: two waiters mean both
	// runs are writing.
	waitFor(t, 2*time.Minute, "both runs to wait for locks in their writes", func() bool {
		return d.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`) >= 2
	})
	release()
	wg.Wait()
	for name, r := range map[string]result{"backfill": backfill, "run": scheduled} {
		if r.code != 0 {
			t.Errorf("%s beside the other: exit %d\n%s\n%s", name, r.code, r.stdout, tail(r.stderr, 3000))
		}
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE status = 'succeeded'`); n != 2 {
		t.Errorf("%d runs succeeded, want 2", n)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs a JOIN reminder_runs b ON a.id < b.id
		WHERE tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)`); n != 1 {
		t.Fatal("the two runs did not overlap: the test proves nothing")
	}
	t.Logf("replanned batches: backfill %d, run %d", strings.Count(backfill.stderr, "planning it again"), strings.Count(scheduled.stderr, "planning it again"))

	keys := auditKeys(t, d) // fails on any key decided twice
	if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_sends s JOIN reminder_send_items i ON i.send_id = s.id
		GROUP BY i.installment_id, i.stage, i.channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d installments are in two messages for one stage and channel", n)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_send_items i LEFT JOIN reminder_audit a
		ON a.installment_id = i.installment_id AND a.stage = i.stage AND a.channel = i.channel AND a.send_id = i.send_id
		WHERE a.id IS NULL`); n != 0 {
		t.Errorf("%d ledger items without their audit row", n)
	}
	// Nothing lost: together they decided what one run decides alone.
	mustCLI(t, ctx, clean.env, "run", "--as-of", testAsOf)
	want := auditKeys(t, clean)
	if len(keys) != len(want) {
		t.Errorf("the overlapping runs decided %d keys; one run alone decides %d", len(keys), len(want))
	}
	for k := range want {
		if !keys[k] {
			t.Errorf("not decided by the overlapping runs: %s", k)
			break
		}
	}
	mustVerify(t, d)
}

// A scheduled run plans its batch; meanwhile borrowers ask not to be
// contacted and a backfill of the same day suppresses their reminders
// first. The two ledgers have unique keys of their own, so the scheduled
// run must notice that its keys were decided the other way: it plans the
// batch again, and no installment ends up both sent and suppressed.
func TestRunNoticesKeysABackfillSuppressedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Which borrowers the run reminds, on a copy of the same data.
	clean := seeded(t, 300)
	mustCLI(t, ctx, clean.env, "run", "--as-of", testAsOf)
	reminded := clean.ids(t, `SELECT borrower_id FROM reminder_audit GROUP BY borrower_id
		HAVING bool_and(decision IN ('queued', 'deferred')) AND ('x' || left(md5(borrower_id::text), 7))::bit(28)::int % 64 <> 0`)
	if len(reminded) == 0 {
		t.Fatal("the seed reminds nobody outside stripe 0")
	}

	d := seeded(t, 300)
	env := d.with("LOANREMIND_BATCH_SIZE", "5000", "LOANREMIND_LOCK_TIMEOUT", "2m")
	finish := runHeldAtCommit(t, ctx, d, env)
	// The reminded borrowers ask not to be contacted; everyone else pays,
	// so that the backfill selects only the former (none in stripe 0).
	d.exec(t, `UPDATE borrowers SET do_not_contact = true WHERE id = ANY($1)`, pq.Array(reminded))
	d.exec(t, `UPDATE installments i SET amount_paid_minor = amount_due_minor FROM loans l
		WHERE l.id = i.loan_id AND NOT l.borrower_id = ANY($1) AND amount_due_minor >= 0`, pq.Array(reminded))
	mustCLI(t, ctx, env, "backfill", "--from", testDay, "--to", testDay, "--actor", "ops", "--reason", "INC-1")
	if r := finish(); r.code != 0 {
		t.Fatalf("the scheduled run: exit %d\n%s", r.code, tail(r.stderr, 2000))
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_send_items i JOIN reminder_decisions x USING (installment_id, stage, channel)`); n != 0 {
		t.Errorf("%d keys both sent and finally decided", n)
	}
	if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_audit GROUP BY installment_id, stage, channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d keys decided twice in the audit", n)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_sends WHERE borrower_id = ANY($1)`, pq.Array(reminded)); n != 0 {
		t.Errorf("%d messages to borrowers whose reminders the backfill suppressed", n)
	}
	mustVerify(t, d)
}

// While a run waits to commit a batch, the sender gives up on a send that
// frequency caps counted and another run adds one in its place: the number
// of sends is the same, but not the sends, so the run plans the batch again
// against the sends as they are.
func TestRunNoticesASendReplacedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 300)
	borrower := d.ids(t, `SELECT l.borrower_id FROM installments i JOIN loans l ON l.id = i.loan_id
		JOIN borrowers b ON b.id = l.borrower_id
		WHERE i.due_date = DATE '2026-11-28' AND i.amount_paid_minor < i.amount_due_minor AND l.status = 'active'
		  AND NOT coalesce(b.do_not_contact, false) ORDER BY 1 LIMIT 1`)[0]
	const send = `INSERT INTO reminder_sends (run_id, borrower_id, channel, recipient, locale, template, template_sha256,
		body, segments, stage, scheduled_for, valid_until, status, created_at)
		VALUES ($1, $2, 'sms', '+8613800000000', 'zh-CN', 'sms/due_today.tmpl', 'x', 'earlier', 1, 'due_today',
		        $3::timestamptz, $3::timestamptz + interval '1 hour', 'sent', $3::timestamptz)`
	d.exec(t, send, 9001, borrower, "2026-11-28T08:00:00+08:00")

	env := d.with("LOANREMIND_BATCH_SIZE", "5000", "LOANREMIND_LOCK_TIMEOUT", "2m")
	finish := runHeldAtCommit(t, ctx, d, env)
	d.exec(t, `UPDATE reminder_sends SET status = 'failed' WHERE run_id = 9001`)
	d.exec(t, send, 9002, borrower, "2026-11-28T09:00:00+08:00")
	r := finish()
	if r.code != 0 {
		t.Fatalf("the run: exit %d\n%s", r.code, tail(r.stderr, 2000))
	}
	if !strings.Contains(r.stderr, "planning it again") {
		t.Errorf("the run did not plan its batch again after a counted send was replaced:\n%s", tail(r.stderr, 1500))
	}
	// The job's run verifies; the sends the test put in for runs 9001 and
	// 9002, which have no audit, do not.
	if r := mustCLI(t, ctx, d.env, "audit", "verify", "--run", "1"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("audit verify --run 1: %s", r.stdout)
	}
}

// runHeldAtCommit starts a run as of testAsOf and holds it, its one batch
// written but not committed, on lock stripe 0 (which the batch's borrowers
// need): the test changes things meanwhile, then finish lets the run go on
// and returns its result.
func runHeldAtCommit(t *testing.T, ctx context.Context, d *testDB, env map[string]string) (finish func() result) {
	t.Helper()
	conn, err := d.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hold, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	release := func() {
		hold.Rollback()
		conn.Close()
	}
	t.Cleanup(release)
	if _, err := hold.Exec(`SELECT pg_advisory_xact_lock(1280462675, 0)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() { done <- cli(t, ctx, env, "run", "--as-of", testAsOf) }()
	waitFor(t, time.Minute, "the run to wait for its lock stripes", func() bool {
		return d.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) >= 1
	})
	return func() result {
		release()
		return <-done
	}
}

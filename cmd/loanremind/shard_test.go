package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs"
)

// decisionSet lists the audit's (installment, stage, channel, decision,
// reason) rows, sorted.
func decisionSet(t *testing.T, d *testDB) []string {
	t.Helper()
	return queryStrings(t, d, `SELECT concat_ws(',', installment_id, stage, channel, decision, reason) FROM reminder_audit`)
}

// sendMultiset lists the sends' (borrower, channel, body, scheduled_for),
// sorted, duplicates kept.
func sendMultiset(t *testing.T, d *testDB) []string {
	t.Helper()
	return queryStrings(t, d, `SELECT concat_ws(',', borrower_id, channel, md5(body), extract(epoch FROM scheduled_for)) FROM reminder_sends`)
}

func queryStrings(t *testing.T, d *testDB, query string) []string {
	t.Helper()
	rows, err := d.db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// diff reports the first differences between two sorted lists.
func diff(a, b []string) string {
	var out []string
	i, j := 0, 0
	for (i < len(a) || j < len(b)) && len(out) < 5 {
		switch {
		case j >= len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, "only in the first: "+a[i])
			i++
		case i >= len(a) || b[j] < a[i]:
			out = append(out, "only in the second: "+b[j])
			j++
		default:
			i, j = i+1, j+1
		}
	}
	return strings.Join(out, "\n")
}

// Four shard runs, started at once, do exactly what one unsharded run does
// on a copy of the same data, and each borrower is handled by one shard.
func TestShardsTogetherEqualOneRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sharded := seeded(t, 4000)
	whole := seeded(t, 4000)
	env := sharded.with("LOANREMIND_BATCH_SIZE", "200")

	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = cli(t, ctx, env, "run", "--as-of", testAsOf, "--shard", fmt.Sprintf("%d/4", i))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("shard %d/4: exit %d\n%s\n%s", i, r.code, r.stdout, tail(r.stderr, 3000))
		}
	}
	mustCLI(t, ctx, whole.env, "run", "--as-of", testAsOf)

	if n := sharded.count(t, `SELECT count(*) FROM reminder_runs WHERE shard_count = 4 AND status = 'succeeded'`); n != 4 {
		t.Errorf("%d succeeded shard runs, want 4", n)
	}
	if n := sharded.count(t, `SELECT count(DISTINCT shard_index) FROM reminder_runs`); n != 4 {
		t.Errorf("runs of %d distinct shards, want 4", n)
	}
	a, b := decisionSet(t, sharded), decisionSet(t, whole)
	if len(b) == 0 {
		t.Fatal("the unsharded run decided nothing")
	}
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("the shards decided %d rows, the unsharded run %d; first differences:\n%s", len(a), len(b), diff(a, b))
	}
	a, b = sendMultiset(t, sharded), sendMultiset(t, whole)
	if len(b) == 0 {
		t.Fatal("the unsharded run sent nothing")
	}
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("the shards wrote %d messages, the unsharded run %d; first differences:\n%s", len(a), len(b), diff(a, b))
	}

	// Every borrower's messages and decisions come from one shard: the one
	// jobs.ShardOf names.
	if n := sharded.count(t, `SELECT count(*) FROM (
		SELECT s.borrower_id FROM reminder_sends s JOIN reminder_runs r ON r.id = s.run_id
		GROUP BY s.borrower_id HAVING count(DISTINCT r.shard_index) > 1) x`); n != 0 {
		t.Errorf("%d borrowers got messages from more than one shard", n)
	}
	rows, err := sharded.db.Query(`SELECT DISTINCT a.borrower_id, r.shard_index FROM reminder_audit a JOIN reminder_runs r ON r.id = a.run_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	perShard := map[int]int{}
	for rows.Next() {
		var id int64
		var shard int
		if err := rows.Scan(&id, &shard); err != nil {
			t.Fatal(err)
		}
		if want := jobs.ShardOf(id, 4); shard != want {
			t.Errorf("borrower %d was handled by shard %d, not its shard %d", id, shard, want)
		}
		perShard[shard]++
	}
	for i := 0; i < 4; i++ {
		if perShard[i] == 0 {
			t.Errorf("shard %d handled no borrower: %v", i, perShard)
		}
	}
	mustVerify(t, sharded)
}

// In a Kubernetes Indexed Job, JOB_COMPLETION_INDEX with
// LOANREMIND_SHARD_COUNT picks the shard when --shard is not given.
func TestShardFromJobCompletionIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 800)
	r := mustCLI(t, ctx, d.with("JOB_COMPLETION_INDEX", "2", "LOANREMIND_SHARD_COUNT", "4"), "run", "--as-of", testAsOf)
	if !strings.Contains(r.stdout, "shard 2/4") {
		t.Errorf("the report does not name shard 2/4:\n%s", r.stdout)
	}
	var index, count int
	if err := d.db.QueryRow(`SELECT shard_index, shard_count FROM reminder_runs`).Scan(&index, &count); err != nil {
		t.Fatal(err)
	}
	if index != 2 || count != 4 {
		t.Errorf("run recorded as shard %d/%d, want 2/4", index, count)
	}
	decided := d.ids(t, `SELECT DISTINCT borrower_id FROM reminder_audit`)
	for _, id := range decided {
		if jobs.ShardOf(id, 4) != 2 {
			t.Errorf("shard 2/4 decided about borrower %d of shard %d", id, jobs.ShardOf(id, 4))
		}
	}
	if len(decided) == 0 {
		t.Error("shard 2/4 decided about no borrower")
	}
	// --shard beats the environment; a bad index is bad usage.
	r = mustCLI(t, ctx, d.with("JOB_COMPLETION_INDEX", "2", "LOANREMIND_SHARD_COUNT", "4"), "run", "--as-of", testAsOf, "--shard", "1/4")
	if !strings.Contains(r.stdout, "shard 1/4") {
		t.Errorf("--shard 1/4 with JOB_COMPLETION_INDEX=2: %s", r.stdout)
	}
	for _, kv := range [][]string{{"JOB_COMPLETION_INDEX", "4", "LOANREMIND_SHARD_COUNT", "4"}, {"JOB_COMPLETION_INDEX", "x", "LOANREMIND_SHARD_COUNT", "4"}} {
		t.Run("bad index "+kv[1], func(t *testing.T) {
			if r := cli(t, ctx, d.with(kv...), "run", "--as-of", testAsOf); r.code != 2 {
				t.Errorf("%v: exit %d, want 2", kv, r.code)
			}
		})
	}
}

// lockClass and the lane keys are those of queries.LaneOf: a scheduled or
// manual run of shard 0/1 holds (0x4c524c4b, 1<<12); a backfill of shard 0/1
// holds (0x4c524c4b, 1<<24 | 1<<12).
const (
	lockClass        = 0x4c524c4b
	scheduledLaneKey = 1 << 12
	backfillLaneKey  = 1<<24 | 1<<12
)

// A run that finds another run of its lane and shard holding the lock is
// recorded skipped, writes nothing and exits 0; the other lane is not held
// up.
func TestSecondRunOfTheSameShardIsSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 500)
	conn, err := d.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The session plays another loanremind run (of the same role): its
	// lock is waited out, not reported.
	if _, err := conn.ExecContext(ctx, `SET application_name = 'loanremind'`); err != nil {
		t.Fatal(err)
	}
	lock := func(key int) {
		t.Helper()
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1::int4, $2::int4)`, lockClass, key).Scan(&ok); err != nil || !ok {
			t.Fatalf("take lane lock %d: %v %v", key, ok, err)
		}
	}
	unlock := func(key int) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1::int4, $2::int4)`, lockClass, key); err != nil {
			t.Fatal(err)
		}
	}

	lock(scheduledLaneKey)
	r := cli(t, ctx, d.env, "run", "--as-of", testAsOf)
	if r.code != 0 {
		t.Fatalf("run beside a holder of its lock: exit %d, want 0\n%s", r.code, tail(r.stderr, 2000))
	}
	var status, errText, mode string
	var finished bool
	if err := d.db.QueryRow(`SELECT status, coalesce(error, ''), mode, finished_at IS NOT NULL FROM reminder_runs ORDER BY id DESC LIMIT 1`).Scan(&status, &errText, &mode, &finished); err != nil {
		t.Fatal(err)
	}
	if status != "skipped" || !strings.Contains(errText, "lock") || mode != "scheduled" || !finished {
		t.Errorf("run record: %s %s %q finished=%v; want a finished scheduled run, skipped, naming the lock", mode, status, errText, finished)
	}
	if !strings.Contains(r.stdout, "skipped") {
		t.Errorf("the report does not say the run was skipped:\n%s", r.stdout)
	}
	// No anchor: a skipped run is in no lane's chain, and anchoring it
	// would leave the run that held the lock unanchored.
	if strings.Contains(r.stdout, "anchor") || strings.Contains(r.stderr, "audit_head") {
		t.Errorf("a skipped run offers an anchor:\n%s\n%s", r.stdout, tail(r.stderr, 2000))
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_sends`) + d.count(t, `SELECT count(*) FROM reminder_audit`) + d.count(t, `SELECT count(*) FROM reminder_decisions`); n != 0 {
		t.Errorf("the skipped run wrote %d sends, audit rows or decisions", n)
	}
	// A manual run shares the lane.
	if r := cli(t, ctx, d.env, "run", "--as-of", testAsOf, "--actor", "carol", "--reason", "retry"); r.code != 0 ||
		d.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'manual' AND status = 'skipped'`) != 1 {
		t.Errorf("manual run beside the lock holder: exit %d, want skipped\n%s", r.code, r.stdout)
	}
	// Another shard is another lock.
	if r := cli(t, ctx, d.env, "run", "--as-of", testAsOf, "--shard", "0/2"); r.code != 0 ||
		d.count(t, `SELECT count(*) FROM reminder_runs WHERE shard_count = 2 AND status = 'succeeded'`) != 1 {
		t.Errorf("shard 0/2 beside the holder of 0/1's lock: exit %d\n%s", r.code, r.stdout)
	}

	// The backfill lane is separate: a held scheduled lane does not hold it
	// up, and a held backfill lane stops a backfill, recorded skipped.
	lock(backfillLaneKey)
	r = cli(t, ctx, d.env, "backfill", "--from", "2026-11-27", "--to", testDay, "--actor", "alice", "--reason", "lock test")
	if r.code != 0 {
		t.Fatalf("backfill beside a holder of its lock: exit %d, want 0\n%s", r.code, tail(r.stderr, 2000))
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'backfill'`); n != 1 ||
		d.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'backfill' AND status = 'skipped' AND error LIKE '%lock%'`) != 1 {
		t.Errorf("backfill beside the lock holder: %d backfill runs, want one, skipped", n)
	}
	if !strings.Contains(r.stdout, "backfill stopped") {
		t.Errorf("the backfill report does not say it stopped:\n%s", r.stdout)
	}
	unlock(backfillLaneKey)
	mustCLI(t, ctx, d.env, "backfill", "--from", testDay, "--to", testDay, "--actor", "alice", "--reason", "lock test")
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'backfill' AND status = 'succeeded'`); n != 1 {
		t.Errorf("backfill with the scheduled lane held: %d succeeded backfill runs, want 1", n)
	}

	// Once the lock is free, the next run does the work.
	unlock(scheduledLaneKey)
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-28T11:00:00+08:00")
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE mode = 'scheduled' AND status = 'succeeded' AND shard_count = 1`); n != 1 {
		t.Errorf("%d succeeded scheduled runs after the lock was released, want 1", n)
	}
	mustVerify(t, d)
}

// A run whose lane lock's connection is cut mid-run has lost the lock:
// another run of the lane may have started beside it. It must not report
// success (the rest of the run carries on over fresh connections).
func TestRunThatLosesItsLaneLockFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 12000)
	env := d.with("LOANREMIND_BATCH_SIZE", "100")
	done := runLosingItsLaneLock(t, ctx, d, env)
	r := <-done
	var status, errText string
	d.scanRow(t, `SELECT status, coalesce(error, '') FROM reminder_runs ORDER BY id LIMIT 1`, nil, &status, &errText)
	if r.code != 1 || status != "failed" || !strings.Contains(errText, "lock") {
		t.Fatalf("run that lost its lane lock: exit %d, recorded %s (%q); want exit 1, failed, naming the lock\n%s",
			r.code, status, errText, tail(r.stderr, 2000))
	}
	// The next run finds nothing left to do twice, and the trail verifies.
	mustCLI(t, ctx, env, "run", "--as-of", testAsOf)
	if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_sends GROUP BY borrower_id, channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d borrowers got a second message after the re-run", n)
	}
	mustVerify(t, d)
}

// A run that lost its lane lock and the next run of the lane, started at
// once, overlap: the next run closes the first as abandoned, sealed as its
// record stood, and the first cannot add a batch after that. The trail
// verifies, and no installment is decided twice.
func TestRunThatLostItsLockBesideTheNextRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 12000)
	env := d.with("LOANREMIND_BATCH_SIZE", "50")
	done := runLosingItsLaneLock(t, ctx, d, env)
	second := cli(t, ctx, env, "run", "--as-of", testAsOf)
	first := <-done
	if first.code != 1 || second.code != 0 {
		t.Errorf("the run that lost its lock: exit %d (want 1); the next: exit %d (want 0)\n%s", first.code, second.code, tail(second.stderr, 1500))
	}
	if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_audit GROUP BY installment_id, stage, channel HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d installments decided twice for a stage and channel", n)
	}
	mustVerify(t, d)
}

// runLosingItsLaneLock starts a scheduled run and, once a batch has
// committed, ends the session that holds its lane lock; the run's result
// comes on the channel.
func runLosingItsLaneLock(t *testing.T, ctx context.Context, d *testDB, env map[string]string) <-chan result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- cli(t, ctx, env, "run", "--as-of", testAsOf) }()
	var pid int64
	waitFor(t, time.Minute, "a batch to commit", func() bool {
		if d.count(t, `SELECT coalesce(max(audit_rows), 0) FROM reminder_runs`) == 0 {
			return false
		}
		// Only this database's lock: tests running beside it in the same
		// cluster hold the same keys in theirs.
		err := d.db.QueryRow(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND classid = $1 AND objid = $2 AND objsubid = 2
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, lockClass, scheduledLaneKey).Scan(&pid)
		return err == nil
	})
	d.exec(t, `SELECT pg_terminate_backend($1)`, pid)
	return done
}

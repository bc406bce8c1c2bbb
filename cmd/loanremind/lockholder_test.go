package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// holdLaneLock takes the default lane's lock (shard 0 of 1) on a session of
// db with the given application_name, until the test ends.
func holdLaneLock(t *testing.T, db *sql.DB, app string, key int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, `SELECT set_config('application_name', $1, false)`, app); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1::int4, 4096)`, key); err != nil {
		t.Fatal(err)
	}
}

// Anyone who can connect could take the job's lock and have every run
// skipped with exit 0, nobody paged. A holder that is not a loanremind run
// of the job's role fails the run, named; another loanremind run's lock is
// waited out as before, and the skipped runs in a row are counted; a
// deployment with its own lock_key is not held up at all.
func TestLockHeldByAnotherSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("an intruder's session fails the run, named", func(t *testing.T) {
		d := seeded(t, 50)
		holdLaneLock(t, d.db, "psql", 1280461899)
		r := cli(t, ctx, d.env, "run", "--as-of", testAsOf)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"not a loanremind run", "pid ", `application_name "psql"`, "role "} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not name %q:\n%s", want, r.stderr)
			}
		}
		if n := d.count(t, `SELECT count(*) FROM reminder_runs`); n != 0 {
			t.Errorf("%d run records", n)
		}
	})

	t.Run("another role's session fails the run, whatever it calls itself", func(t *testing.T) {
		d := seeded(t, 50)
		other, err := sql.Open("postgres", jobRoleURL(t, d))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		holdLaneLock(t, other, "loanremind", 1280461899)
		if r := cli(t, ctx, d.env, "run", "--as-of", testAsOf); r.code != 1 || !strings.Contains(r.stderr, "not a loanremind run") {
			t.Errorf("exit %d, want 1 naming the holder:\n%s", r.code, r.stderr)
		}
	})

	t.Run("a loanremind run's lock skips the run, counted", func(t *testing.T) {
		d := seeded(t, 50)
		holdLaneLock(t, d.db, "loanremind", 1280461899)
		for i := 1; i <= 2; i++ {
			r := cli(t, ctx, d.env, "run", "--as-of", testAsOf)
			if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "skipped") {
				t.Fatalf("run %d: exit %d, want 0 skipped:\n%s%s", i, r.code, r.stdout, r.stderr)
			}
		}
		if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE status = 'skipped'`); n != 2 {
			t.Errorf("%d skipped run records, want 2", n)
		}
	})

	t.Run("a deployment with its own lock_key is not held up", func(t *testing.T) {
		d := seeded(t, 50)
		holdLaneLock(t, d.db, "psql", 1280461899)
		r := mustCLI(t, ctx, d.with("LOANREMIND_LOCK_KEY", "77"), "run", "--as-of", testAsOf)
		if !strings.Contains(r.stdout, "succeeded") {
			t.Errorf("the run with lock_key 77:\n%s", r.stdout)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/loanremind/loanremind/queries/pgtest"
)

// TestMain runs the tests against real PostgreSQL. When the test binary is
// started with LOANREMIND_TEST_AS_CLI=1 it is the loanremind command itself:
// the crash tests start it as a separate process to kill it.
func TestMain(m *testing.M) {
	if os.Getenv("LOANREMIND_TEST_AS_CLI") == "1" {
		main()
		return
	}
	pgtest.Main(m)
}

// result is what a command printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the command in-process as main would, with env as its whole
// environment.
func cli(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	getenv := func(k string) string { return env[k] }
	err := run(ctx, args, getenv, &out, &errOut)
	code := exitCode(err, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// mustCLI runs the command and fails the test unless it exits 0.
func mustCLI(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	r := cli(t, ctx, env, args...)
	if r.code != 0 {
		t.Fatalf("loanremind %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, tail(r.stderr, 3000))
	}
	return r
}

// testDB is a fresh migrated database and the environment that points the
// command at it.
type testDB struct {
	url string
	db  *sql.DB
	env map[string]string
}

func newTestDB(t *testing.T) *testDB {
	t.Helper()
	url, db := pgtest.New(t)
	return &testDB{url: url, db: db.DB, env: map[string]string{
		"DATABASE_URL":              url,
		"LOANREMIND_LOG_FORMAT":     "json",
		"LOANREMIND_AUDIT_HMAC_KEY": "test-key",
		// Commands run in this process: keep the process's memory limit
		// for the test binary's own, many parallel tests.
		"GOMEMLIMIT": "off",
	}}
}

// with returns the environment plus the given variables.
func (d *testDB) with(kv ...string) map[string]string {
	env := map[string]string{}
	for k, v := range d.env {
		env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

func (d *testDB) count(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := d.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// scanRow reads the one row a query returns into dest, and fails the test
// on an error, no row included.
func (d *testDB) scanRow(t *testing.T, query string, args []any, dest ...any) {
	t.Helper()
	if err := d.db.QueryRow(query, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// ids returns the one bigint column of a query's rows.
func (d *testDB) ids(t *testing.T, query string, args ...any) []int64 {
	t.Helper()
	rows, err := d.db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func (d *testDB) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := d.db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger
// and a report.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

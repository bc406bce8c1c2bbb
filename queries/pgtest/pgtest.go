// Package pgtest is the real-PostgreSQL test harness every package's tests
// use. There is no mocked database anywhere.
//
// Where the server comes from, in order:
//  1. LOANREMIND_TEST_DATABASE_URL, a URL of a role that may create
//     databases;
//  2. a local server, if one answers (PGHOST/PGPORT/PGUSER, 127.0.0.1:5432 or
//     the usual unix socket);
//  3. otherwise a throwaway cluster started with initdb/pg_ctl in a temporary
//     directory, stopped when the package's tests end
//     (LOANREMIND_TEST_PG=throwaway forces this).
//
// The migrations run once per server into a template database named after
// their hash; every test then gets a database of its own cloned from it, so
// tests and packages run in parallel without seeing each other's rows.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/localpg"
)

// server is the state of one test binary's connection to its server.
type server struct {
	adminURL string // a URL to the maintenance database
	cluster  *localpg.Cluster
	template string
	err      error
}

var (
	setupOnce sync.Once
	srv       server
	counter   atomic.Int64
)

// Main runs a package's tests and stops a throwaway cluster, if one was
// started, after them. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if srv.cluster != nil {
		if err := srv.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	os.Exit(code)
}

// DB returns a fresh, migrated database for this test, dropped when the test
// ends.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	_, db := New(t)
	return db
}

// New returns the URL of a fresh, migrated database for this test and an open
// pool on it; both go away when the test ends.
func New(t testing.TB) (string, *sqlx.DB) {
	t.Helper()
	setupOnce.Do(setup)
	if srv.err != nil {
		t.Fatalf("pgtest: %v", srv.err)
	}
	name := fmt.Sprintf("lrtest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, counter.Add(1))
	admin, err := sql.Open("postgres", srv.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	if err := cloneTemplate(ctx, admin, name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	u := withDatabase(srv.adminURL, name)
	db, err := sqlx.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin, err := sql.Open("postgres", srv.adminURL)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return u, db
}

// AdminURL returns the URL of the server's maintenance database, for tests
// that create databases of their own.
func AdminURL(t testing.TB) string {
	t.Helper()
	setupOnce.Do(setup)
	if srv.err != nil {
		t.Fatalf("pgtest: %v", srv.err)
	}
	return srv.adminURL
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv.adminURL, srv.cluster, srv.err = findServer(ctx)
	if srv.err != nil {
		return
	}
	srv.template = "lrtemplate_" + queries.MigrationsSHA256()[:16]
	srv.err = ensureTemplate(ctx, srv.adminURL, srv.template)
}

func findServer(ctx context.Context) (string, *localpg.Cluster, error) {
	if u := os.Getenv("LOANREMIND_TEST_DATABASE_URL"); u != "" {
		if err := ping(ctx, u); err != nil {
			return "", nil, fmt.Errorf("LOANREMIND_TEST_DATABASE_URL: %w", err)
		}
		return u, nil, nil
	}
	if os.Getenv("LOANREMIND_TEST_PG") != "throwaway" {
		for _, u := range localCandidates() {
			if ping(ctx, u) == nil {
				return u, nil, nil
			}
		}
	}
	c, err := localpg.Start(ctx, localpg.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("no test database: LOANREMIND_TEST_DATABASE_URL is unset, no local server answers, and a throwaway cluster could not start: %w", err)
	}
	return c.URL("postgres"), c, nil
}

// localCandidates lists the URLs at which a developer's local server may
// answer.
func localCandidates() []string {
	name := os.Getenv("PGUSER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	var out []string
	if h := os.Getenv("PGHOST"); h != "" {
		port := os.Getenv("PGPORT")
		if port == "" {
			port = "5432"
		}
		out = append(out, dsnURL(h, port, name))
	}
	for _, h := range []string{"127.0.0.1", "/var/run/postgresql", "/tmp"} {
		out = append(out, dsnURL(h, "5432", name))
		if name != "postgres" {
			out = append(out, dsnURL(h, "5432", "postgres"))
		}
	}
	return out
}

func dsnURL(host, port, user string) string {
	q := url.Values{}
	q.Set("host", host)
	q.Set("port", port)
	q.Set("user", user)
	q.Set("sslmode", "disable")
	q.Set("connect_timeout", "2")
	return "postgres:///postgres?" + q.Encode()
}

// ping checks that the URL answers and that its role may create databases.
func ping(ctx context.Context, u string) error {
	db, err := sql.Open("postgres", u)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var ok bool
	err = db.QueryRowContext(ctx, `SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&ok)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("role may not create databases")
	}
	return nil
}

// ensureTemplate creates the migrated template database once per server;
// concurrent test binaries serialize on an advisory lock.
func ensureTemplate(ctx context.Context, adminURL, name string) error {
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	const lockKey = 0x4c52_5447 // "LRTG"
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockKey)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	// Templates of earlier migrations are of no more use: drop them, but
	// the newest few, which another checkout's tests may be cloning now.
	if err := dropOldTemplates(ctx, conn, name); err != nil {
		return err
	}
	building := name + "_build"
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(building)+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(building)+` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
		return err
	}
	db, err := sql.Open("postgres", withDatabase(adminURL, building))
	if err != nil {
		return err
	}
	_, err = queries.Migrate(ctx, db)
	db.Close()
	if err != nil {
		return err
	}
	for _, q := range []string{
		`ALTER DATABASE ` + pq.QuoteIdentifier(building) + ` RENAME TO ` + pq.QuoteIdentifier(name),
		`ALTER DATABASE ` + pq.QuoteIdentifier(name) + ` WITH IS_TEMPLATE true`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// keptTemplates is how many templates of other migrations stay: those of
// other checkouts (another branch, a reviewer's copy) testing on the same
// server at the same time.
const keptTemplates = 3

// dropOldTemplates drops the template databases of other migrations but
// the keptTemplates newest (database OIDs grow with creation).
func dropOldTemplates(ctx context.Context, conn *sql.Conn, keep string) error {
	rows, err := conn.QueryContext(ctx, `SELECT datname FROM pg_database
		WHERE datname LIKE 'lrtemplate\_%' AND datname <> $1 AND datname NOT LIKE '%\_build'
		ORDER BY oid::bigint DESC OFFSET $2`, keep, keptTemplates)
	if err != nil {
		return err
	}
	var old []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		old = append(old, n)
	}
	rows.Close()
	for _, n := range old {
		q := pq.QuoteIdentifier(n)
		if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+q+` WITH IS_TEMPLATE false`); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+q+` WITH (FORCE)`); err != nil {
			return err
		}
	}
	return nil
}

func cloneTemplate(ctx context.Context, admin *sql.DB, name string) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		_, err = admin.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)+` TEMPLATE `+pq.QuoteIdentifier(srv.template))
		var pqErr *pq.Error
		switch {
		case err == nil:
			return nil
		case errors.As(err, &pqErr) && pqErr.Code == "3D000":
			// The template is gone: an older checkout's tests on the same
			// server dropped it as stale. Build it again.
			if err := ensureTemplate(ctx, srv.adminURL, srv.template); err != nil {
				return err
			}
			continue
		case !strings.Contains(err.Error(), "being accessed by other users"):
			return err
		}
		// Another session briefly connected to the template (autovacuum,
		// a concurrent clone on older servers): try again.
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
	return err
}

// withDatabase returns u with its database replaced.
func withDatabase(u, database string) string {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		// A key=value connection string.
		return u + " dbname=" + database
	}
	parsed.Path = "/" + database
	return parsed.String()
}

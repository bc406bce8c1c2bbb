package queries_test

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// emptyDB returns a new database with no migrations applied.
func emptyDB(t *testing.T) *sql.DB {
	t.Helper()
	admin, err := sql.Open("postgres", pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("lrtest_empty_%s", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")))
	drop := `DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`
	if _, err := admin.Exec(drop); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(drop); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	db, err := sql.Open("postgres", withDB(pgtest.AdminURL(t), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func withDB(admin, name string) string {
	return strings.Replace(admin, "/postgres?", "/"+name+"?", 1)
}

// The columns DESIGN.md fixes, table by table.
var designColumns = map[string][]string{
	"borrowers":    {"id", "full_name", "phone", "email", "locale", "time_zone", "region", "sms_opt_out", "email_opt_out", "do_not_contact"},
	"loans":        {"id", "borrower_id", "account_ref", "currency", "status"},
	"installments": {"id", "loan_id", "seq", "due_date", "amount_due_minor", "amount_paid_minor"},
	"holidays":     {"region", "date"},
	"reminder_runs": {"id", "mode", "as_of", "business_date", "shard_index", "shard_count", "actor", "reason",
		"started_at", "finished_at", "status", "config_sha256", "version", "queued", "deferred", "suppressed",
		"skipped", "expired", "error"},
	"reminder_sends": {"id", "run_id", "borrower_id", "channel", "recipient", "locale", "template", "template_sha256",
		"body", "segments", "stage", "currency", "total_due_minor", "scheduled_for", "valid_until", "status", "created_at"},
	"reminder_send_items": {"send_id", "installment_id", "loan_id", "stage", "channel"},
	"reminder_audit": {"id", "run_id", "at", "borrower_id", "loan_id", "installment_id", "stage", "channel",
		"decision", "reason", "send_id", "time_zones", "policy_sha256", "details", "prev_hash", "hash"},
	"borrower_quiet_windows": {"borrower_id"},
	"reminder_deliveries": {"id", "send_id", "at", "event", "reason", "provider", "provider_message_id", "attempt",
		"details", "prev_hash", "hash"},
}

func TestMigrateCreatesDesignSchemaAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := emptyDB(t)
	applied, err := queries.Migrate(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("first migrate applied nothing")
	}
	for table, cols := range designColumns {
		t.Run(table, func(t *testing.T) {
			rows, err := db.Query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, table)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			have := map[string]bool{}
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					t.Fatal(err)
				}
				have[c] = true
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for _, c := range cols {
				if !have[c] {
					t.Errorf("table %s lacks column %s", table, c)
				}
			}
		})
	}
	var unique bool
	err = db.QueryRow(`
		SELECT EXISTS (
		  SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		  WHERE c.relname = 'reminder_send_items' AND i.indisunique
		    AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
		         FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
		         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum)
		        = ARRAY['installment_id', 'stage', 'channel'])`).Scan(&unique)
	if err != nil || !unique {
		t.Errorf("no unique key on reminder_send_items(installment_id, stage, channel): %v", err)
	}

	schemaBefore := schemaFingerprint(t, db)
	again, err := queries.Migrate(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("second migrate applied %d migrations, want none", len(again))
	}
	if after := schemaFingerprint(t, db); after != schemaBefore {
		t.Error("second migrate changed the schema")
	}

	status, err := queries.MigrationStatus(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != len(applied) {
		t.Errorf("status lists %d migrations, migrate applied %d", len(status), len(applied))
	}
	for _, s := range status {
		if !s.Applied || s.Name == "" {
			t.Errorf("migration %d %q not applied", s.Version, s.Name)
		}
	}
}

func TestConcurrentMigrateIsSafe(t *testing.T) {
	t.Parallel()
	db := emptyDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	counts := make([]int, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied, err := queries.Migrate(context.Background(), db)
			errs[i], counts[i] = err, len(applied)
		}()
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
		total += counts[i]
	}
	status, err := queries.MigrationStatus(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if total != len(status) {
		t.Errorf("concurrent migrates applied %d migrations in all, want each of the %d once", total, len(status))
	}
}

func TestConstraintsRejectBadRows(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	mustExec(t, db.DB, `INSERT INTO borrowers (id, full_name) VALUES (1, 'A')`)
	mustExec(t, db.DB, `INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES (1, 1, 'LN1', 'CNY', 'active')`)
	for _, c := range []struct{ name, bad string }{
		{"currency not ISO 4217", `INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES (2, 1, 'LN2', 'cn', 'active')`},
		{"negative amount due", `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor) VALUES (1, 1, 1, '2026-01-01', -5)`},
		{"negative amount paid", `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES (1, 1, 1, '2026-01-01', 5, -1)`},
		{"installment of no loan", `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor) VALUES (1, 99, 1, '2026-01-01', 5)`},
		{"unknown run mode", `INSERT INTO reminder_runs (mode, as_of, business_date, actor, started_at, status, config_sha256, policy_sha256, templates_sha256, version)
		 VALUES ('hourly', now(), current_date, 'x', now(), 'running', '', '', '', '')`},
		{"unknown run status", `INSERT INTO reminder_runs (mode, as_of, business_date, actor, started_at, status, config_sha256, policy_sha256, templates_sha256, version)
		 VALUES ('manual', now(), current_date, 'x', now(), 'done', '', '', '', '')`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := db.Exec(c.bad); err == nil {
				t.Errorf("accepted: %s", c.bad)
			}
		})
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func schemaFingerprint(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT table_name || '.' || column_name || ':' || data_type FROM information_schema.columns WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(cols)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(cols, n)
}

func TestCreateDatabase(t *testing.T) {
	t.Parallel()
	admin, err := sql.Open("postgres", pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("lrtest_create_%d", time.Now().UnixNano())
	if err := queries.CreateDatabase(context.Background(), admin, name); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`DROP DATABASE ` + pq.QuoteIdentifier(name)); err != nil {
		t.Error(err)
	}
}

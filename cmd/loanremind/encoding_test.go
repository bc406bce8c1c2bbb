package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/loanremind/loanremind/queries/pgtest"
)

// A lender's SQL_ASCII database can hold any bytes: one 0xff in a name
// used to fail every run ("invalid byte sequence for encoding UTF8"). That
// borrower is skipped with a reason, and the rest are reminded.
func TestUndecodableRowsAreSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := sql.Open("postgres", pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // after the drop below
	name := fmt.Sprintf("lr_sqlascii_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := admin.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name) + ` TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(pgtest.AdminURL(t))
	if err != nil {
		t.Skipf("the test server is not given as a URL: %v", err)
	}
	u.Path = "/" + name
	env := map[string]string{"DATABASE_URL": u.String(), "LOANREMIND_LOG_FORMAT": "json",
		"LOANREMIND_AUDIT_HMAC_KEY": "test-key", "GOMEMLIMIT": "off"}
	mustCLI(t, ctx, env, "migrate")
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO borrowers (id, full_name, phone, email, locale, time_zone, region) VALUES
			(1, 'Good', '+8613812345678', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
			(2, E'Zh\xffang', '+8613812345679', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
			(3, 'Bad account', '+8613812345680', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31')`,
		`INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES
			(1, 1, 'LN0000000001', 'CNY', 'active'), (2, 2, 'LN0000000002', 'CNY', 'active'),
			(3, 3, E'LN00000\xfe\xff03', 'CNY', 'active')`,
		`INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES
			(1, 1, 1, '2026-11-21', 10000, 0), (2, 2, 1, '2026-11-21', 10000, 0), (3, 3, 1, '2026-11-21', 10000, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	r := mustCLI(t, ctx, env, "run", "--as-of", testAsOf)
	if !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("run:\n%s", r.stdout)
	}
	for id, want := range map[int64]string{1: "queued", 2: "skipped invalid_encoding", 3: "skipped invalid_encoding"} {
		var got string
		if err := db.QueryRow(`SELECT string_agg(trim(decision || ' ' || reason), ', ') FROM reminder_audit WHERE installment_id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("installment %d: %q, want %q", id, got, want)
		}
	}
	if r := mustCLI(t, ctx, env, "audit", "verify"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("verify: %s", r.stdout)
	}
}

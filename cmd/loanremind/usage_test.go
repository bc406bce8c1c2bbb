package main

import (
	"context"
	"strings"
	"testing"
)

// An empty or blank filter is bad usage: `audit export --contact ""` used
// to drop the filter and export every row, unmasked too.
func TestBlankFlagValuesAreBadUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newTestDB(t)
	for _, args := range [][]string{
		{"audit", "export", "--contact", ""},
		{"audit", "export", "--contact", "  ", "--unmasked", "--actor", "carol"},
		{"audit", "export", "--decision="},
		{"audit", "export", "--from", " "},
		{"audit", "verify", "--from", ""},
		{"explain", "--installment", "1", "--as-of", ""},
		{"run", "--reason", " "},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := cli(t, ctx, d.env, args...)
			if r.code != 2 || !strings.Contains(r.stderr, "given with an empty value") {
				t.Errorf("exit %d, want 2 naming the empty value:\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_audit_events`); n != 0 {
		t.Errorf("%d audit events recorded by refused commands", n)
	}
}

// No error message carries the database password, even when the URL does
// not parse and the parser quotes it whole.
func TestDatabasePasswordIsNeverPrinted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ name, url, secret string }{
		{"a URL that does not parse", "postgres://rt_app:p%ss@127.0.0.1:1/lender", "p%ss"},
		{"a server that does not answer", "postgres://rt_app:Sup3rSecret@127.0.0.1:1/lender?connect_timeout=1", "Sup3rSecret"},
		{"a DSN", "host=127.0.0.1 port=1 user=rt_app password=Sup3rSecret connect_timeout=1", "Sup3rSecret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, ctx, map[string]string{"DATABASE_URL": tc.url}, "audit", "verify")
			if r.code == 0 {
				t.Fatalf("verify against %s succeeded", tc.url)
			}
			if strings.Contains(r.stdout+r.stderr, tc.secret) {
				t.Errorf("the password is printed:\n%s%s", r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "database") {
				t.Errorf("the error does not say what failed:\n%s", r.stderr)
			}
		})
	}
}

package queries_test

import (
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/loanremind/loanremind/queries/pgtest"
)

// The console's role reads every table and writes administrative events,
// and nothing else.
func TestConsoleRole(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.New(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	db, err := sqlx.Open("postgres", url+sep+"role=loanremind_console")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"borrowers", "loans", "installments", "borrower_quiet_windows", "holidays",
		"reminder_runs", "reminder_sends", "reminder_send_items", "reminder_decisions", "reminder_audit",
		"reminder_audit_events", "reminder_phone_cache"} {
		if _, err := db.Exec(`SELECT * FROM ` + table + ` LIMIT 1`); err != nil {
			t.Errorf("SELECT %s: %v", table, err)
		}
	}
	if _, err := db.Exec(`INSERT INTO reminder_audit_events (at, actor, event, details, prev_hash, hash)
		VALUES (now(), 'test', 'reveal', '{}', 'x', 'y')`); err != nil {
		t.Errorf("INSERT reminder_audit_events: %v", err)
	}
	for _, q := range []string{
		`INSERT INTO reminder_audit (run_id, at, borrower_id, loan_id, installment_id, stage, channel, decision, reason, time_zones, policy_sha256, details, prev_hash, hash)
		 VALUES (1, now(), 1, 1, 1, 's', 'sms', 'queued', '', '[]', 'p', '{}', 'a', 'b')`,
		`INSERT INTO reminder_runs (mode, as_of, business_date, actor, started_at, status, config_sha256, policy_sha256, templates_sha256, version)
		 VALUES ('manual', now(), current_date, 'x', now(), 'running', 'c', 'p', 't', 'v')`,
		`UPDATE reminder_runs SET status = 'failed'`,
		`UPDATE reminder_sends SET status = 'cancelled'`,
		`INSERT INTO reminder_sends (run_id, borrower_id, channel, recipient, locale, template, template_sha256, body, stage, scheduled_for, valid_until, created_at)
		 VALUES (1, 1, 'sms', 'x', 'en', 't', 's', 'b', 's', now(), now() + interval '1 hour', now())`,
		`DELETE FROM reminder_audit_events`,
		`UPDATE borrowers SET phone = 'x'`,
		`DELETE FROM reminder_phone_cache`,
	} {
		_, err := db.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%.60s…: %v, want permission denied", q, err)
		}
	}
}

package deliver_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/deliver"
)

// asSuperuser runs statements with the trail's append-only triggers
// lifted, in one transaction, as a superuser with the database's
// credentials could.
func asSuperuser(t *testing.T, db *sql.DB, statements ...string) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	all := append([]string{`ALTER TABLE reminder_deliveries DISABLE TRIGGER reminder_deliveries_append_only`,
		`ALTER TABLE reminder_delivery_sessions DISABLE TRIGGER reminder_delivery_sessions_final`,
		`ALTER TABLE reminder_delivery_sessions DISABLE TRIGGER reminder_delivery_sessions_no_delete`}, statements...)
	all = append(all, `ALTER TABLE reminder_deliveries ENABLE TRIGGER reminder_deliveries_append_only`,
		`ALTER TABLE reminder_delivery_sessions ENABLE TRIGGER reminder_delivery_sessions_final`,
		`ALTER TABLE reminder_delivery_sessions ENABLE TRIGGER reminder_delivery_sessions_no_delete`)
	for _, q := range all {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// The delivery trail is append-only for everyone, and audit verify shows
// an event edited, deleted or inserted by a superuser who lifted the
// trigger, and a status changed behind the sender's back.
func TestVerifyCatchesTamperedDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newManualClock(base.Add(time.Minute))
	delivered := func(t *testing.T) *sql.DB {
		db := newDB(t)
		buildOutbox(t, db, 1, 30, dueNow)
		gw := newGateway(t, clock)
		d := dispatcher(t, db, clock, nil, deliver.ProviderConfig{Provider: gw.provider(t, "gateway"), MaxInFlight: 4})
		if err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := audit.Verify(ctx, db, audit.VerifyFilter{})
		if err != nil || !rep.OK() || rep.Deliveries != 60 || rep.DeliverySessions != 2 {
			t.Fatalf("verify before tampering: %+v, %v", rep, err)
		}
		return db
	}

	t.Run("append only", func(t *testing.T) {
		t.Parallel()
		db := delivered(t)
		for _, q := range []string{
			`UPDATE reminder_deliveries SET reason = 'x' WHERE id = (SELECT min(id) FROM reminder_deliveries)`,
			`DELETE FROM reminder_deliveries WHERE id = (SELECT min(id) FROM reminder_deliveries)`,
			`TRUNCATE reminder_deliveries`,
			`DELETE FROM reminder_delivery_sessions`,
			`UPDATE reminder_delivery_sessions SET events = 0`,
			`UPDATE reminder_delivery_sessions SET host = 'elsewhere'`,
		} {
			if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "loanremind:") {
				t.Errorf("%s: %v, want refused", q, err)
			}
		}
	})

	for _, tc := range []struct {
		name       string
		statements []string
		want       string
	}{
		{"edited", []string{`UPDATE reminder_deliveries SET provider_message_id = 'forged'
			WHERE id = (SELECT id FROM reminder_deliveries WHERE event = 'sent' ORDER BY id LIMIT 1 OFFSET 3)`},
			"does not match its hash: the event was edited"},
		{"deleted", []string{`DELETE FROM reminder_deliveries WHERE id = (SELECT id FROM reminder_deliveries WHERE event = 'sent' ORDER BY id LIMIT 1 OFFSET 3)`},
			"events between them were deleted"},
		{"last deleted", []string{`DELETE FROM reminder_deliveries WHERE id = (SELECT max(id) FROM reminder_deliveries)`},
			"events were deleted"},
		{"inserted", []string{`INSERT INTO reminder_deliveries (session_id, send_id, at, event, reason, provider, provider_message_id, attempt, details, prev_hash, hash)
			SELECT session_id, send_id, at, 'delivered', '', provider, provider_message_id, attempt, '{}', hash, md5(hash) || md5(hash)
			FROM reminder_deliveries WHERE event = 'sent' ORDER BY id LIMIT 1`},
			"events were inserted"},
		{"session deleted", []string{`DELETE FROM reminder_delivery_sessions WHERE id = (SELECT min(id) FROM reminder_delivery_sessions)`},
			"has no record"},
		{"status changed", []string{`UPDATE reminder_sends SET status = 'delivered' WHERE id = (SELECT min(id) FROM reminder_sends)`},
			"the delivery trail shows no such event"},
		{"released by hand", []string{`INSERT INTO reminder_released_items (send_id, installment_id, loan_id, stage, channel, amount_minor, released_at)
			SELECT send_id, installment_id, loan_id, stage, channel, amount_minor, now() FROM reminder_send_items ORDER BY send_id LIMIT 1`,
			`DELETE FROM reminder_send_items WHERE send_id = (SELECT min(send_id) FROM reminder_send_items)`},
			"released for a second plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := delivered(t)
			asSuperuser(t, db, tc.statements...)
			rep, err := audit.Verify(ctx, db, audit.VerifyFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			found := false
			for _, p := range rep.Problems {
				all = append(all, p.String())
				found = found || strings.Contains(p.String(), tc.want)
			}
			if !found {
				t.Errorf("verify says %q, want a problem containing %q", all, tc.want)
			}
		})
	}
}

package deliver_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/queries/pgtest"
)

var roleCounter atomic.Int64

// senderURL is the database URL of a new login role in loanremind_sender.
func senderURL(t *testing.T, dbURL string, db *sql.DB) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skipf("the test database is not given as a URL: cannot connect as another role")
	}
	name := fmt.Sprintf("lr_sender_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, roleCounter.Add(1))
	mustExec(t, db, `CREATE ROLE `+pq.QuoteIdentifier(name)+` LOGIN IN ROLE loanremind_sender`)
	t.Cleanup(func() { db.Exec(`DROP ROLE IF EXISTS ` + pq.QuoteIdentifier(name)) })
	q := u.Query()
	if q.Has("user") {
		q.Set("user", name)
	} else {
		u.User = url.User(name)
	}
	q.Del("password")
	u.RawQuery = q.Encode()
	return u.String()
}

// The sender's role may do all a dispatcher does (claim, cancel, refuse,
// send, retry, expire and give back ledger items, record receipts) and
// nothing else: it cannot write the ledger, the audit or a message's text.
func TestSenderRole(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dbURL, sqlxDB := pgtest.New(t)
	owner := sqlxDB.DB
	box := buildOutbox(t, owner, 1, 6, func(i int) (time.Time, time.Time) {
		if i == 5 {
			return base.Add(-2 * time.Hour), base.Add(-time.Hour) // expires unsent
		}
		return dueNow(i)
	})
	mustExec(t, owner, `UPDATE installments SET amount_paid_minor = amount_due_minor WHERE id = $1`, (box.first+1)*100+1)
	mustExec(t, owner, `UPDATE reminder_sends SET body = body || '!' WHERE id = $1`, box.ids[2])
	sender, err := sql.Open("postgres", senderURL(t, dbURL, owner))
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	clock := newOffsetClock(base.Add(time.Minute))
	gw := newGateway(t, clock)
	gw.mu.Lock()
	gw.answer = func(k string, call int) (int, http.Header) {
		if k == key(box.ids[3]) && call == 1 {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	}
	gw.mu.Unlock()
	d := dispatcher(t, sender, clock, func(c *deliver.Config) { c.RetryInitial = 200 * time.Millisecond },
		deliver.ProviderConfig{Provider: gw.provider(t, "gateway")})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for statuses(t, owner)["sent"] < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not sent: %v", statuses(t, owner))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.Receipt(ctx, deliver.ReceiptEvent{Provider: "gateway", SendID: box.ids[0], Delivered: true}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("as the sender's role: %v", err)
	}
	want := []string{"delivered", "cancelled", "refused", "sent", "sent", "expired"}
	for i, id := range box.ids {
		if s := stateOf(t, owner, id); s.status != want[i] {
			t.Errorf("message %d: %s (%s), want %s", i, s.status, s.events, want[i])
		}
	}
	for _, q := range []string{
		`DELETE FROM reminder_send_items`,
		`INSERT INTO reminder_released_items SELECT send_id, installment_id, loan_id, stage, channel, amount_minor, now() FROM reminder_send_items`,
		`UPDATE reminder_sends SET body = 'x'`,
		`UPDATE reminder_sends SET recipient = '+1'`,
		`INSERT INTO reminder_sends (run_id, borrower_id, channel, recipient, locale, template, template_sha256, body, stage, scheduled_for, valid_until, created_at) VALUES (1, 1, 'sms', '+1', 'en', 't', 't', 'b', 's', now(), now() + interval '1 hour', now())`,
		`INSERT INTO reminder_audit_events (at, actor, event, details, prev_hash, hash) VALUES (now(), 'x', 'x', '{}', 'x', 'x')`,
		`UPDATE reminder_deliveries SET reason = 'x'`,
		`UPDATE installments SET amount_paid_minor = 0`,
	} {
		if _, err := sender.Exec(q); err == nil || !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("as the sender's role, %s: %v, want refused", q, err)
		}
	}
}

package deliver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/deliver"
)

// state is a message's status, its reason and its trail.
type state struct {
	status, reason string
	events         string // event:reason, in order
}

func stateOf(t testing.TB, db *sql.DB, id int64) state {
	t.Helper()
	var s state
	err := db.QueryRow(`SELECT status, coalesce(status_reason, ''),
		coalesce((SELECT string_agg(event || CASE WHEN reason <> '' THEN ':' || reason ELSE '' END, ',' ORDER BY at, session_id, id)
		          FROM reminder_deliveries WHERE send_id = s.id), '')
		FROM reminder_sends s WHERE id = $1`, id).Scan(&s.status, &s.reason, &s.events)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func verifyOK(t testing.TB, db *sql.DB) {
	t.Helper()
	// As autovacuum would have by now: verification's plans need the
	// tables' statistics.
	mustExec(t, db, "ANALYZE")
	rep, err := audit.Verify(context.Background(), db, audit.VerifyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify: %s", p)
	}
}

// Four dispatchers share 20,000 due messages: each message reaches the
// gateway exactly once, and each is recorded sent.
func TestFourDispatchersSendEachMessageOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	const n = 20000
	buildOutbox(t, db, 1, n, dueNow)
	clock := newOffsetClock(base.Add(time.Minute))
	gw := newGateway(t, clock)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	ds := make([]*deliver.Dispatcher, 4)
	for i := range 4 {
		d := dispatcher(t, db, clock, func(c *deliver.Config) { c.ClaimBatch, c.Claimers = 250, 2 },
			deliver.ProviderConfig{Provider: gw.provider(t, "gateway"), MaxInFlight: 16})
		ds[i] = d
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.RunOnce(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	gw.check(t)
	if len(gw.calls) != n {
		t.Errorf("the gateway got %d messages, want %d", len(gw.calls), n)
	}
	for key, c := range gw.calls {
		if c != 1 {
			t.Errorf("%s reached the gateway %d times", key, c)
		}
	}
	if got := statuses(t, db); got["sent"] != n {
		t.Errorf("statuses %v, want %d sent", got, n)
	}
	for i, d := range ds {
		if d.Totals()["sent"] == 0 {
			t.Errorf("dispatcher %d sent nothing", i)
		}
	}
	verifyOK(t, db)
}

// A message is sent only inside its window: not before scheduled_for, and
// not at or after valid_until, even when the window passes between the
// claim and the call.
func TestSendsOnlyInsideTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	// Messages 0-9 are due; 10-19 are due in ten minutes; 20-29 ended
	// before now; 30-31 end at base+1h, while the first of them is being
	// sent.
	box := buildOutbox(t, db, 1, 32, func(i int) (time.Time, time.Time) {
		switch {
		case i < 10:
			return base, base.Add(6 * time.Hour)
		case i < 20:
			return base.Add(10 * time.Minute), base.Add(6 * time.Hour)
		case i < 30:
			return base.Add(-2 * time.Hour), base.Add(-time.Hour)
		}
		return base.Add(-time.Minute), base.Add(time.Hour)
	})
	clock := newManualClock(base)
	gw := newGateway(t, clock)
	// First the due ones, nothing else.
	mustExec(t, db, `UPDATE reminder_sends SET status = 'cancelled', status_reason = 'test' WHERE id = ANY($1)`, box.ids[30:32])
	d := dispatcher(t, db, clock, func(c *deliver.Config) { c.PollInterval = time.Hour },
		deliver.ProviderConfig{Provider: gw.provider(t, "gateway"), MaxInFlight: 1})
	if err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for i, id := range box.ids[:30] {
		s := stateOf(t, db, id)
		want := map[bool]string{true: "sent", false: "pending"}[i < 10]
		if i >= 20 {
			want = "expired"
		}
		if s.status != want {
			t.Errorf("message %d: %s (%s), want %s", i, s.status, s.events, want)
		}
	}
	// Ten minutes on, the deferred ones.
	clock.Set(base.Add(10 * time.Minute))
	if err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range box.ids[10:20] {
		if s := stateOf(t, db, id); s.status != "sent" {
			t.Errorf("deferred message %d: %s, want sent", id, s.status)
		}
	}
	// The window of the last two passes while the first is at the
	// gateway: the second is never called.
	mustExec(t, db, `UPDATE reminder_sends SET status = 'pending', status_reason = NULL WHERE id = ANY($1)`, box.ids[30:32])
	clock.Set(base.Add(59 * time.Minute))
	gw.mu.Lock()
	gw.hold = make(chan struct{})
	gw.arrived = make(chan string, 4)
	gw.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- d.RunOnce(ctx) }()
	<-gw.arrived
	clock.Set(base.Add(time.Hour))
	close(gw.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	first, second := stateOf(t, db, box.ids[30]), stateOf(t, db, box.ids[31])
	if first.status != "sent" || second.status != "expired" || strings.Contains(second.events, "sent") {
		t.Errorf("window passing mid-batch: first %+v, second %+v; want sent, then expired unsent", first, second)
	}
	if c := gw.calls[fmt.Sprintf("loanremind-%d", box.ids[31])]; c != 0 {
		t.Errorf("the message whose window passed was called %d times", c)
	}
	// The status edits above were the test's: verify the rest.
	gw.check(t)
}

// The claim re-checks the facts each message was written on, and the
// audit's word for it: changed facts cancel it with the reason, a message
// the audit does not vouch for is refused and counted.
func TestClaimRechecksFacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	box := buildOutbox(t, db, 1, 12, dueNow)
	b := func(i int) int64 { return box.first + int64(i) }
	mustExec(t, db, `UPDATE installments SET amount_paid_minor = amount_due_minor WHERE id = $1`, b(0)*100+1)
	mustExec(t, db, `UPDATE installments SET amount_paid_minor = 100 WHERE id = $1`, b(1)*100+1)
	mustExec(t, db, `UPDATE borrowers SET sms_opt_out = true WHERE id = $1`, b(2))
	mustExec(t, db, `UPDATE borrowers SET do_not_contact = true WHERE id = $1`, b(3))
	mustExec(t, db, `UPDATE borrowers SET phone = '+8613900000000' WHERE id = $1`, b(4))
	mustExec(t, db, `UPDATE loans SET status = 'disputed' WHERE id = $1`, b(5)*10+1)
	mustExec(t, db, `UPDATE loans SET status = E'weird\u202e status' WHERE id = $1`, b(6)*10+1)
	// The same number written nationally is the same address.
	mustExec(t, db, `UPDATE borrowers SET phone = '138' || lpad($1::text, 8, '0') WHERE id = $1`, b(7))
	// A superuser edits a body; someone plants a message.
	mustExec(t, db, `UPDATE reminder_sends SET body = body || ' http://evil.example' WHERE id = $1`, box.ids[8])
	var planted int64
	if err := db.QueryRow(`INSERT INTO reminder_sends (run_id, borrower_id, channel, recipient, locale, template, template_sha256,
		body, segments, stage, scheduled_for, valid_until, created_at)
		SELECT run_id, borrower_id, channel, recipient, locale, template, template_sha256, 'Pay now at http://evil.example', 1,
		       stage, scheduled_for, valid_until, created_at FROM reminder_sends WHERE id = $1 RETURNING id`, box.ids[9]).Scan(&planted); err != nil {
		t.Fatal(err)
	}
	clock := newManualClock(base.Add(time.Minute))
	gw := newGateway(t, clock)
	d := dispatcher(t, db, clock, nil, deliver.ProviderConfig{Provider: gw.provider(t, "gateway")})
	if err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		id             int64
		status, reason string
	}{
		{"paid", box.ids[0], "cancelled", "paid"},
		{"partly paid", box.ids[1], "cancelled", "amount_changed"},
		{"opted out", box.ids[2], "cancelled", "opted_out"},
		{"do not contact", box.ids[3], "cancelled", "do_not_contact"},
		{"changed address", box.ids[4], "cancelled", "contact_changed"},
		{"disputed", box.ids[5], "cancelled", "loan_status:disputed"},
		{"unknown loan status", box.ids[6], "cancelled", "loan_status:other"},
		{"national number", box.ids[7], "sent", ""},
		{"body changed", box.ids[8], "refused", "not_vouched"},
		{"planted", planted, "refused", "not_vouched"},
		{"untouched", box.ids[10], "sent", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stateOf(t, db, tc.id)
			if s.status != tc.status || s.reason != tc.reason {
				t.Errorf("%s (%s) %q, want %s %q", s.status, s.events, s.reason, tc.status, tc.reason)
			}
			called := gw.calls[fmt.Sprintf("loanremind-%d", tc.id)] > 0
			if called != (tc.status == "sent") {
				t.Errorf("called the gateway: %v", called)
			}
		})
	}
	if got := metric(t, d, "loanremind_delivery_refused_total", nil); got != 2 {
		t.Errorf("loanremind_delivery_refused_total %v, want 2", got)
	}
	if got := metric(t, d, "loanremind_deliveries_total", map[string]string{"provider": "gateway", "channel": "sms", "outcome": "cancelled"}); got != 7 {
		t.Errorf("cancelled %v, want 7", got)
	}
	gw.check(t)
}

// metric reads a series of the dispatcher's registry (labels: those it
// must have).
func metric(t testing.TB, d *deliver.Dispatcher, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := d.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("no series %s %v", name, labels)
	return 0
}

package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver"
)

func key(id int64) string { return fmt.Sprintf("loanremind-%d", id) }

// How the dispatcher answers the gateway's answers: a transient error is
// retried under the same idempotency key and sent once; Retry-After is
// waited for; a permanent error fails the message with the gateway's code;
// a gateway down until the window closes expires it, with the last error,
// and gives its ledger items back for one more plan.
func TestGatewayAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		answer  func(key string, call int) (int, http.Header)
		status  string
		reason  string
		events  string
		calls   int
		check   func(t *testing.T, g *gateway, id int64)
		window  window
		pending bool
	}{
		{
			name: "500 then 200",
			answer: func(_ string, call int) (int, http.Header) {
				if call == 1 {
					return http.StatusInternalServerError, nil
				}
				return http.StatusOK, nil
			},
			status: "sent", events: "claimed,retry:500,claimed,sent", calls: 2,
		},
		{
			name: "429 with Retry-After",
			answer: func(_ string, call int) (int, http.Header) {
				if call == 1 {
					return http.StatusTooManyRequests, http.Header{"Retry-After": {"120"}}
				}
				return http.StatusOK, nil
			},
			status: "sent", events: "claimed,retry:429,claimed,sent", calls: 2,
			check: func(t *testing.T, g *gateway, id int64) {
				times := g.times[key(id)]
				if len(times) == 2 && times[1].Sub(times[0]) < 120*time.Second {
					t.Errorf("tried again %s after a 429 with Retry-After: 120", times[1].Sub(times[0]))
				}
			},
		},
		{
			name:   "400",
			answer: func(string, int) (int, http.Header) { return http.StatusBadRequest, nil },
			status: "failed", reason: "400", events: "claimed,failed:400", calls: 1,
		},
		{
			name:   "404",
			answer: func(string, int) (int, http.Header) { return http.StatusNotFound, nil },
			status: "failed", reason: "404", events: "claimed,failed:404", calls: 1,
		},
		{
			name:   "down past valid_until",
			answer: func(string, int) (int, http.Header) { return http.StatusServiceUnavailable, nil },
			window: func(int) (time.Time, time.Time) { return base, base.Add(30 * time.Minute) },
			status: "expired", reason: "window_passed",
			check: func(t *testing.T, g *gateway, id int64) {
				if c := g.calls[key(id)]; c < 3 {
					t.Errorf("tried %d times in half an hour", c)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := newDB(t)
			win := tc.window
			if win == nil {
				win = dueNow
			}
			box := buildOutbox(t, db, 1, 1, win)
			clock := newManualClock(base.Add(time.Minute))
			gw := newGateway(t, clock)
			gw.mu.Lock()
			gw.answer = tc.answer
			gw.mu.Unlock()
			d := dispatcher(t, db, clock, func(c *deliver.Config) {
				c.RetryInitial, c.RetryMax = 10*time.Second, 5*time.Minute
			}, deliver.ProviderConfig{Provider: gw.provider(t, "gateway")})
			if err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			gw.check(t)
			id := box.ids[0]
			s := stateOf(t, db, id)
			if s.status != tc.status || s.reason != tc.reason {
				t.Errorf("%s %q (%s), want %s %q", s.status, s.reason, s.events, tc.status, tc.reason)
			}
			if tc.events != "" && s.events != tc.events {
				t.Errorf("trail %s, want %s", s.events, tc.events)
			}
			if tc.calls != 0 && gw.calls[key(id)] != tc.calls {
				t.Errorf("%d calls, want %d", gw.calls[key(id)], tc.calls)
			}
			if n := gw.delivered[key(id)]; (tc.status == "sent") != (n == 1) || n > 1 {
				t.Errorf("delivered %d times", n)
			}
			if tc.check != nil {
				tc.check(t, gw, id)
			}
			verifyOK(t, db)
		})
	}
}

// A gateway down until the window closes: the message expires with the
// last error, its ledger item is given back once, and the trail says so.
func TestExpiryReleasesTheLedgerOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	box := buildOutbox(t, db, 1, 2, func(int) (time.Time, time.Time) { return base, base.Add(10 * time.Minute) })
	clock := newManualClock(base.Add(time.Minute))
	gw := newGateway(t, clock)
	gw.mu.Lock()
	gw.answer = func(string, int) (int, http.Header) { return http.StatusBadGateway, nil }
	gw.mu.Unlock()
	d := dispatcher(t, db, clock, nil, deliver.ProviderConfig{Provider: gw.provider(t, "gateway")})
	if err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var details string
	if err := db.QueryRow(`SELECT details::text FROM reminder_deliveries WHERE send_id = $1 AND event = 'expired'`, box.ids[0]).Scan(&details); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(details, `"last_error": "502"`) || !strings.Contains(details, `"released_items": 1`) {
		t.Errorf("expiry details %s, want the last error and one released item", details)
	}
	var ledger, released int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM reminder_send_items), (SELECT count(*) FROM reminder_released_items)`).Scan(&ledger, &released); err != nil {
		t.Fatal(err)
	}
	if ledger != 0 || released != 2 {
		t.Errorf("ledger %d, released %d; want every item given back once", ledger, released)
	}
	// Releasing again changes nothing: once is once.
	if _, err := db.Exec(`SELECT reminder_release_expired($1, now())`, box.ids); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, db)
}

// A provider that keeps failing opens its circuit: the dispatcher stops
// calling it for the cooldown, the metric says so, and messages wait.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	buildOutbox(t, db, 1, 40, func(int) (time.Time, time.Time) { return base, base.Add(30 * time.Minute) })
	clock := newManualClock(base.Add(time.Minute))
	gw := newGateway(t, clock)
	gw.mu.Lock()
	gw.answer = func(string, int) (int, http.Header) { return http.StatusServiceUnavailable, nil }
	gw.mu.Unlock()
	d := dispatcher(t, db, clock, func(c *deliver.Config) {
		c.BreakerFailures, c.BreakerCooldown = 3, 10*time.Minute
	}, deliver.ProviderConfig{Provider: gw.provider(t, "gateway"), MaxInFlight: 2})
	if err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// Three failures open it; each cooldown lets one trial through.
	if gw.total > 3+2+4 {
		t.Errorf("the gateway was called %d times for 40 messages: the circuit did not open", gw.total)
	}
	if got := metric(t, d, "loanremind_provider_circuit_open", map[string]string{"provider": "gateway"}); got != 1 {
		t.Errorf("loanremind_provider_circuit_open %v, want 1", got)
	}
	if got := statuses(t, db); got["expired"] != 40 {
		t.Errorf("statuses %v, want every message expired", got)
	}
	verifyOK(t, db)
}

// Receipts move a sent message to delivered or undelivered once; a
// receipt for a message the provider did not send is refused.
func TestReceipts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := newDB(t)
	box := buildOutbox(t, db, 1, 4, dueNow)
	clock := newOffsetClock(base.Add(time.Minute))
	gw := newGateway(t, clock)
	d := dispatcher(t, db, clock, nil, deliver.ProviderConfig{Provider: gw.provider(t, "gateway")})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for statuses(t, db)["sent"] < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("not sent: %v", statuses(t, db))
		}
		time.Sleep(20 * time.Millisecond)
	}
	at := base.Add(2 * time.Minute)
	for _, tc := range []struct {
		name string
		ev   deliver.ReceiptEvent
		err  error
	}{
		{"delivered by our id", deliver.ReceiptEvent{Provider: "gateway", SendID: box.ids[0], Delivered: true, At: at}, nil},
		{"again", deliver.ReceiptEvent{Provider: "gateway", SendID: box.ids[0], Delivered: true, At: at}, nil},
		{"undelivered by the gateway's id", deliver.ReceiptEvent{Provider: "gateway", ProviderMessageID: fmt.Sprintf("gw-%d", box.ids[1]), Code: "30005", At: at}, nil},
		{"another provider", deliver.ReceiptEvent{Provider: "twilio", SendID: box.ids[2], Delivered: true}, deliver.ErrNoSuchMessage},
		{"another gateway id", deliver.ReceiptEvent{Provider: "gateway", SendID: box.ids[2], ProviderMessageID: "gw-forged", Delivered: true}, deliver.ErrNoSuchMessage},
		{"no such message", deliver.ReceiptEvent{Provider: "gateway", SendID: 999999, Delivered: true}, deliver.ErrNoSuchMessage},
	} {
		if err := d.Receipt(ctx, tc.ev); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, want := range []state{
		{status: "delivered", events: "claimed,sent,delivered"},
		{status: "undelivered", reason: "30005", events: "claimed,sent,undelivered:30005"},
		{status: "sent", events: "claimed,sent"},
	} {
		if s := stateOf(t, db, box.ids[i]); s != want {
			t.Errorf("message %d: %+v, want %+v", i, s, want)
		}
	}
	if got := metric(t, d, "loanremind_receipts_total", map[string]string{"provider": "gateway", "result": "duplicate"}); got != 1 {
		t.Errorf("duplicate receipts %v, want 1", got)
	}
	verifyOK(t, db)
}

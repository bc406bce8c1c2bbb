package deliver_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
	"github.com/loanremind/loanremind/queries/pgtest"
)

const childEnv = "LOANREMIND_DELIVER_TEST_CHILD"

// nonIdempotent is a gateway without idempotency, as a carrier's API is:
// a second call sends a second message.
type nonIdempotent struct {
	deliver.Provider
	name string
}

func (p nonIdempotent) Name() string     { return p.name }
func (p nonIdempotent) Idempotent() bool { return false }

// provider is the test's provider of a name: "gateway" is the http
// gateway, "carrier" the same gateway without idempotency.
func killTestProvider(name, url string, secret []byte) (deliver.Provider, error) {
	p, err := httpgw.New(httpgw.Options{Name: "gateway", URL: url, Secret: secret, Timeout: time.Minute})
	if err != nil || name == "gateway" {
		return p, err
	}
	return nonIdempotent{Provider: p, name: name}, nil
}

// childMain is a dispatcher in a process of its own, for the parent test
// to kill: one claimer, small batches, five calls in flight.
func childMain() int {
	db, err := sql.Open("postgres", os.Getenv("CHILD_DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := killTestProvider(os.Getenv("CHILD_PROVIDER"), os.Getenv("CHILD_GATEWAY_URL"), []byte(os.Getenv("CHILD_SECRET")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	at, err := time.Parse(time.RFC3339Nano, os.Getenv("CHILD_NOW"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	d, err := deliver.New(db, deliver.Config{
		Providers: []deliver.ProviderConfig{{Provider: p, MaxInFlight: 5}}, Routes: map[string]string{"sms": p.Name()},
		Claimers: 1, ClaimBatch: 20, Lease: 3 * time.Second, PollInterval: 50 * time.Millisecond,
		Host: "child", Version: "test", NormalizePhone: normalizePhone,
	}, nil, newOffsetClock(at), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := d.RunOnce(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// A dispatcher killed (SIGKILL) with calls in flight and its claims
// unrecorded: once the lease runs out, another dispatcher sends the http
// gateway's messages again under the same idempotency keys (each is
// delivered once), and turns the non-idempotent provider's claimed
// messages unknown, never calling the provider for them again.
func TestKilledDispatcher(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"gateway", "carrier"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url, sqlxDB := pgtest.New(t)
			db := sqlxDB.DB
			box := buildOutbox(t, db, 1, 60, dueNow)
			start := base.Add(time.Minute)
			gw := newGateway(t, newOffsetClock(start.Add(time.Second)))
			gw.mu.Lock() // the server goroutine reads them (the child's calls give the race detector no edge)
			gw.hold = make(chan struct{})
			gw.arrived = make(chan string, 100)
			gw.mu.Unlock()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_DATABASE_URL="+url, "CHILD_GATEWAY_URL="+gw.srv.URL,
				"CHILD_SECRET="+string(gw.secret), "CHILD_PROVIDER="+name, "CHILD_NOW="+start.Format(time.RFC3339Nano))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			inFlight := map[string]bool{}
			for len(inFlight) < 5 {
				select {
				case k := <-gw.arrived:
					inFlight[k] = true
				case <-time.After(30 * time.Second):
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the child called the gateway %d times: %s", len(inFlight), stderr.String())
				}
			}
			// Mid-batch: five calls accepted by the gateway, unanswered;
			// the rest of the claimed batch queued.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			gw.mu.Lock()
			gw.hold, gw.arrived = nil, nil
			gw.mu.Unlock()
			var claimedByChild int
			if err := db.QueryRow(`SELECT count(*) FROM reminder_sends WHERE status = 'sending'`).Scan(&claimedByChild); err != nil {
				t.Fatal(err)
			}
			if claimedByChild < 5 {
				t.Fatalf("%d messages claimed when the child died", claimedByChild)
			}

			// Ten minutes on, another dispatcher: the child's leases ran out.
			later := newOffsetClock(start.Add(10 * time.Minute))
			gw.clock = later
			p, err := killTestProvider(name, gw.srv.URL, gw.secret)
			if err != nil {
				t.Fatal(err)
			}
			d := dispatcher(t, db, later, nil, deliver.ProviderConfig{Provider: p, MaxInFlight: 8})
			if err := d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			gw.check(t)
			got := statuses(t, db)
			for _, id := range box.ids {
				k := key(id)
				s := stateOf(t, db, id)
				switch {
				case name == "gateway":
					if s.status != "sent" || gw.delivered[k] != 1 {
						t.Errorf("%s: %s (%s), delivered %d times; want sent, delivered once", k, s.status, s.events, gw.delivered[k])
					}
					if inFlight[k] && (gw.calls[k] != 2 || s.events != "claimed,claimed,sent") {
						t.Errorf("%s was in flight: %d calls, trail %s; want sent again once under its key", k, gw.calls[k], s.events)
					}
				case inFlight[k]:
					if s.status != "unknown" || gw.calls[k] != 1 {
						t.Errorf("%s was in flight: %s (%s), %d calls; want unknown, never called again", k, s.status, s.events, gw.calls[k])
					}
				default:
					if gw.calls[k] > 1 || (s.status != "unknown" && s.status != "sent") {
						t.Errorf("%s: %s (%s), %d calls", k, s.status, s.events, gw.calls[k])
					}
				}
			}
			if name == "carrier" {
				if got["unknown"] != claimedByChild || got["sent"] != len(box.ids)-claimedByChild {
					t.Errorf("statuses %v: want the %d the child held unknown, the rest sent", got, claimedByChild)
				}
				if m := metric(t, d, "loanremind_deliveries_total", map[string]string{"provider": "carrier", "outcome": "unknown"}); int(m) != claimedByChild {
					t.Errorf("unknown in the metrics: %v, want %d", m, claimedByChild)
				}
			}
			verifyOK(t, db)
		})
	}
}

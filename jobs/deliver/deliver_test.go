package deliver_test

import (
	"context"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/deliver"
)

const childEnv = "LOANREMIND_DELIVER_TEST_CHILD"

func childMain() int { return 0 }

// The happy path: every due message reaches the gateway once, signed,
// inside its window; each is sent, with its provider's id; the trail shows
// claimed then sent for each; and audit verify passes.
func TestDeliverOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	box := buildOutbox(t, db, 1, 200, dueNow)
	clock := newManualClock(base.Add(time.Minute))
	gw := newGateway(t, clock)
	d := dispatcher(t, db, clock, nil, deliver.ProviderConfig{Provider: gw.provider(t, "gateway"), MaxInFlight: 8})
	if err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	gw.check(t)
	if got := statuses(t, db); got["sent"] != len(box.ids) {
		t.Fatalf("statuses %v, want all %d sent", got, len(box.ids))
	}
	for key, n := range gw.calls {
		if n != 1 {
			t.Errorf("%s called %d times", key, n)
		}
	}
	if len(gw.calls) != len(box.ids) {
		t.Errorf("gateway got %d messages, want %d", len(gw.calls), len(box.ids))
	}
	var bad int
	if err := db.QueryRow(`SELECT count(*) FROM reminder_sends WHERE provider_message_id IS DISTINCT FROM 'gw-' || id OR sent_at IS NULL`).Scan(&bad); err != nil || bad != 0 {
		t.Errorf("%d messages without their gateway id or sent_at (%v)", bad, err)
	}
	var events string
	if err := db.QueryRow(`SELECT string_agg(event, ',' ORDER BY session_id, id) FROM reminder_deliveries WHERE send_id = $1`, box.ids[0]).Scan(&events); err != nil || events != "claimed,sent" {
		t.Errorf("trail of message %d: %q (%v), want claimed,sent", box.ids[0], events, err)
	}
	rep, err := audit.Verify(ctx, db, audit.VerifyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("verify: %v", rep.Problems)
	}
}

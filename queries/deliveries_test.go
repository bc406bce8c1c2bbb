package queries_test

import (
	"context"
	"testing"
	"time"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// Frequency caps count what may have reached the borrower: pending,
// sending, sent, delivered, undelivered and unknown messages; never one
// cancelled, refused, failed or expired, which did not leave.
func TestCapsCountWhatMayHaveBeenSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	at := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	statuses := []string{"pending", "sending", "sent", "delivered", "undelivered", "unknown", "cancelled", "refused", "failed", "expired"}
	for i, s := range statuses {
		if _, err := db.Exec(`INSERT INTO reminder_sends (run_id, borrower_id, channel, recipient, locale, template, template_sha256,
			body, stage, scheduled_for, valid_until, created_at, status)
			VALUES (1, 7, 'sms', '+1', 'en-US', 't', 't', 'b', 'due_today', $1, $2, $1, $3)`,
			at.Add(time.Duration(i)*time.Minute), at.Add(time.Hour), s); err != nil {
			t.Fatal(err)
		}
	}
	sends, err := queries.ExistingSends(ctx, db, []int64{7}, at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(sends) != 6 {
		t.Errorf("caps count %d messages, want the 6 that may have been sent", len(sends))
	}
	set, err := queries.OtherSends(ctx, db, []int64{7}, at.Add(-time.Hour), 99)
	if err != nil {
		t.Fatal(err)
	}
	if want := queries.SendSetOf(sends); set != want {
		t.Errorf("OtherSends %+v, ExistingSends %+v: the write's check counts other messages than the plan", set, want)
	}
}

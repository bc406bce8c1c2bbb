package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// The database's reminder_message_sha256, which verification runs on the
// outbox, and the job's audit.MessageDigest, which it writes into the
// audit, agree on every kind of message.
func TestMessageDigestMatchesDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	at := time.Date(2026, 11, 28, 8, 0, 0, 123456000, time.UTC)
	for _, tc := range []struct {
		name                              string
		channel, recipient, subject, body string
	}{
		{"sms", "sms", "+8613812345678", "", "【安心金融】您尾号2345借款第3期¥1,234.56已逾期7天，请尽快还款。回复TD退订"},
		{"email", "email", "zhang@example.com", "Payment reminder", "Dear Zhang,\n\nINR 3,637.05 is due.\n"},
		{"empty body", "sms", "+15555550100", "", ""},
		{"separators in text", "sms", "1:2", "3;4", "5:6;7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			until := at.Add(36*time.Hour + time.Microsecond)
			var subject any
			if tc.subject != "" {
				subject = tc.subject
			}
			var got string
			if err := db.QueryRowContext(context.Background(), `SELECT reminder_message_sha256($1, $2, $3, $4, $5, $6)`,
				tc.channel, tc.recipient, subject, tc.body, at, until).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := audit.MessageDigest(tc.channel, tc.recipient, tc.subject, tc.body, at, until); got != want {
				t.Errorf("database %s, Go %s", got, want)
			}
		})
	}
	a := audit.MessageDigest("sms", "+1", "", "body", at, at.Add(time.Hour))
	for name, b := range map[string]string{
		"recipient": audit.MessageDigest("sms", "+2", "", "body", at, at.Add(time.Hour)),
		"body":      audit.MessageDigest("sms", "+1", "", "body!", at, at.Add(time.Hour)),
		"window":    audit.MessageDigest("sms", "+1", "", "body", at.Add(time.Microsecond), at.Add(time.Hour)),
		"until":     audit.MessageDigest("sms", "+1", "", "body", at, at.Add(2*time.Hour)),
		"subject":   audit.MessageDigest("sms", "+1", "s", "body", at, at.Add(time.Hour)),
	} {
		if a == b {
			t.Errorf("a different %s gives the same digest", name)
		}
	}
}

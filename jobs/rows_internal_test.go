package jobs

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// The hand-written details text is exactly what the general jsonb writer
// produces, for any content.
func TestDetailsMatchesObject(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		it := policy.Item{
			Seq:             rapid.IntRange(0, 500).Draw(t, "seq"),
			DueDate:         civil.Date(rapid.Int32Range(-1000, 40000).Draw(t, "due")),
			AmountDueMinor:  rapid.Int64().Draw(t, "due_minor"),
			AmountPaidMinor: rapid.Int64().Draw(t, "paid_minor"),
			Currency:        rapid.String().Draw(t, "currency"),
		}
		businessDate := civil.Date(rapid.Int32Range(-1000, 40000).Draw(t, "business_date"))
		contact := rapid.SampledFrom([]string{"", "abc\"\\\n", "6090f4"}).Draw(t, "contact")
		exempt := rapid.Bool().Draw(t, "exempt")
		message := rapid.SampledFrom([]string{"", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}).Draw(t, "message")
		notes := rapid.SliceOfN(rapid.String(), 0, 3).Draw(t, "notes")
		status := rapid.SampledFrom([]string{"", "frozen by Zhang"}).Draw(t, "loan_status")
		var regions []policy.RegionUse
		for i := range rapid.IntRange(0, 4).Draw(t, "regions") {
			regions = append(regions, policy.RegionUse{
				Code:   rapid.SampledFrom([]string{"US-FL", "CN", "CA-NS", "x\"\u2028"}).Draw(t, fmt.Sprintf("region%d", i)),
				Source: rapid.SampledFrom([]string{policy.SourceRegion, policy.SourcePhone, policy.SourceTimeZone}).Draw(t, fmt.Sprintf("source%d", i)),
			})
		}
		got := details(&it, businessDate, contact, exempt, status, message, notes, appendRegionsJSON(nil, regions))
		want := detailsObject(&it, businessDate, contact, exempt, status, message, notes, regions)
		if got != want {
			t.Fatalf("details:\n got %s\nwant %s", got, want)
		}
	})
}

// detailsObject is details built the general way: the test reference.
func detailsObject(it *policy.Item, businessDate civil.Date, contact string, capExempt bool, loanStatus, message string, notes []string, regions []policy.RegionUse) string {
	o := &audit.Object{}
	o.Int("seq", int64(it.Seq)).
		String("due_date", it.DueDate.String()).
		Int("days_past_due", int64(businessDate-it.DueDate)).
		Int("amount_due_minor", it.AmountDueMinor).
		Int("amount_paid_minor", it.AmountPaidMinor).
		String("currency", clean.Text(it.Currency, 8))
	if contact != "" {
		o.String("contact_hmac", contact)
	}
	if message != "" {
		o.String("message_sha256", message)
	}
	if loanStatus != "" {
		o.String("loan_status", loanStatus)
	}
	if capExempt {
		o.Bool("cap_exempt", true)
	}
	if len(notes) > 0 {
		o.Strings("notes", notes)
	}
	if len(regions) > 0 {
		objs := make([]*audit.Object, len(regions))
		for i, r := range regions {
			objs[i] = (&audit.Object{}).String("region", r.Code).String("source", r.Source)
		}
		o.Objects("regions", objs)
	}
	return o.Text()
}

func TestAppendISO(t *testing.T) {
	for d := civil.DateOf(1899, 12, 25); d < civil.DateOf(2101, 1, 5); d += 7 {
		if got := string(d.AppendISO(nil)); got != d.String() {
			t.Fatalf("AppendISO(%s) = %s", d, got)
		}
	}
}

// A rebuild drops an item whose key another run decided meanwhile; an
// item selected again for a channel given back is dropped only when a
// channel other than those already decided at its selection is taken.
func TestClaimedKeepsChannelsDecidedBefore(t *testing.T) {
	var sms, both policy.ChannelSet
	sms.Add(policy.SMS)
	both.Add(policy.SMS)
	both.Add(policy.Email)
	key := queries.ClaimedKey{InstallmentID: 1, Stage: "overdue_7d"}
	taken := map[queries.ClaimedKey]policy.ChannelSet{key: sms}
	if !claimedKey(taken, key, 0) {
		t.Error("a key decided meanwhile is not claimed")
	}
	if claimedKey(taken, key, sms) {
		t.Error("a key whose sms was decided before the selection is claimed")
	}
	if claimedKey(taken, queries.ClaimedKey{InstallmentID: 2, Stage: "overdue_7d"}, 0) {
		t.Error("an untouched key is claimed")
	}
	taken[key] = both
	if !claimedKey(taken, key, sms) {
		t.Error("a released email planned meanwhile by another run is not claimed")
	}
}

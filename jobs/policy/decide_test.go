package policy

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// asOfThu() is Thursday 2026-01-15 10:00 EST, inside the Reg F window.
func asOfThu() time.Time { return utc(2026, 1, 15, 15, 0) }

type want struct {
	item    int
	ch      Channel
	dec     Decision
	reason  string
	message bool
}

func checkOutcomes(t *testing.T, plan *Plan, wants []want) {
	t.Helper()
	if len(plan.Outcomes) != len(wants) {
		t.Errorf("%d outcomes, want %d: %+v", len(plan.Outcomes), len(wants), plan.Outcomes)
	}
	for _, w := range wants {
		o := outcomeFor(t, plan, w.item, w.ch)
		if o.Decision != w.dec || o.Reason != w.reason || (o.Message >= 0) != w.message {
			t.Errorf("item %d %q: %s %q message %d; want %s %q in message %v", w.item, w.ch, o.Decision, o.Reason, o.Message, w.dec, w.reason, w.message)
		}
		if o.Message >= 0 {
			m := plan.Messages[o.Message]
			if m.Channel != w.ch || !slices.Contains(m.Items, w.item) || m.Decision != o.Decision || m.Reason != o.Reason {
				t.Errorf("item %d %q: outcome %+v does not match its message %+v", w.item, w.ch, o, m)
			}
		}
	}
}

// Every suppression and skip reason of the specification (rules 1-4), and
// the email fallback. Item 0 is in stage late_1 (sms and email), item 1 in
// stage "due" (sms, email fallback).
func TestDecideReasons(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	queuedBoth := []want{{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Queued, "", true}}
	tests := []struct {
		name  string
		setup func(b *Borrower, items []Item)
		want  []want
	}{
		{"all clear", func(*Borrower, []Item) {}, queuedBoth},
		// COMPLIANCE.md 10, Reg F 1006.14(h): "after opt-out, stop using that channel".
		{"do_not_contact", func(b *Borrower, _ []Item) { b.DoNotContact = true }, []want{
			{0, SMS, Suppressed, "do_not_contact", false}, {0, Email, Suppressed, "do_not_contact", false},
			{1, SMS, Suppressed, "do_not_contact", false}}},
		{"do_not_contact wins over loan status", func(b *Borrower, it []Item) { b.DoNotContact = true; it[1].LoanStatus = "disputed" }, []want{
			{0, SMS, Suppressed, "do_not_contact", false}, {0, Email, Suppressed, "do_not_contact", false},
			{1, SMS, Suppressed, "do_not_contact", false}}},
		{"loan_status:disputed", func(_ *Borrower, it []Item) { it[0].LoanStatus = "disputed" }, []want{
			{0, SMS, Suppressed, "loan_status:disputed", false}, {0, Email, Suppressed, "loan_status:disputed", false},
			{1, SMS, Queued, "", true}}},
		{"loan_status:unknown", func(_ *Borrower, it []Item) { it[1].LoanStatus = "" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Suppressed, "loan_status:unknown", false}}},
		{"an unknown loan status is loan_status:other", func(_ *Borrower, it []Item) { it[1].LoanStatus = "frozen" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Suppressed, "loan_status:other", false}}},
		{"invalid_amount (due)", func(_ *Borrower, it []Item) { it[1].AmountDueMinor = -1 }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Skipped, "invalid_amount", false}}},
		{"invalid_amount (paid)", func(_ *Borrower, it []Item) { it[1].AmountPaidMinor = -5 }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Skipped, "invalid_amount", false}}},
		{"unknown_currency", func(_ *Borrower, it []Item) { it[1].Currency = "ABC" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Skipped, "unknown_currency:ABC", false}}},
		{"unknown_currency: lower case", func(_ *Borrower, it []Item) { it[1].Currency = "usd" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Skipped, "unknown_currency:invalid", false}}},
		{"unknown_currency: XXX is no currency", func(_ *Borrower, it []Item) { it[1].Currency = "XXX" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Skipped, "unknown_currency:XXX", false}}},
		{"known currency CNY", func(_ *Borrower, it []Item) { it[1].Currency = "CNY" }, queuedBoth},
		{"nothing_due", func(_ *Borrower, it []Item) { it[1].AmountPaidMinor = it[1].AmountDueMinor }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, SMS, Suppressed, "nothing_due", false}}},
		{"invalid_time_zone", func(b *Borrower, _ []Item) { b.TimeZone = "Mars/Base" }, []want{
			{0, SMS, Skipped, "invalid_time_zone", false}, {0, Email, Skipped, "invalid_time_zone", false},
			{1, SMS, Skipped, "invalid_time_zone", false}}},
		{"missing_phone, fallback to email", func(b *Borrower, _ []Item) { b.Phone = Phone{} }, []want{
			{0, SMS, Skipped, "missing_phone", false}, {0, Email, Queued, "", true},
			{1, SMS, Skipped, "missing_phone", false}, {1, Email, Queued, "", true}}},
		{"invalid_phone, fallback to email", func(b *Borrower, _ []Item) { b.Phone = Phone{Raw: "12345"} }, []want{
			{0, SMS, Skipped, "invalid_phone", false}, {0, Email, Queued, "", true},
			{1, SMS, Skipped, "invalid_phone", false}, {1, Email, Queued, "", true}}},
		{"sms opted_out, fallback to email", func(b *Borrower, _ []Item) { b.SMSOptOut = true }, []want{
			{0, SMS, Suppressed, "opted_out", false}, {0, Email, Queued, "", true},
			{1, SMS, Suppressed, "opted_out", false}, {1, Email, Queued, "", true}}},
		{"both opted out: the fallback is tried and audited too", func(b *Borrower, _ []Item) { b.SMSOptOut, b.EmailOptOut = true, true }, []want{
			{0, SMS, Suppressed, "opted_out", false}, {0, Email, Suppressed, "opted_out", false},
			{1, SMS, Suppressed, "opted_out", false}, {1, Email, Suppressed, "opted_out", false}}},
		{"missing_email: no fallback needed for the sms stage", func(b *Borrower, _ []Item) { b.Email = "" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Skipped, "missing_email", false}, {1, SMS, Queued, "", true}}},
		{"invalid_email: no dot in the domain", func(b *Borrower, _ []Item) { b.Email = "ann@example" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Skipped, "invalid_email", false}, {1, SMS, Queued, "", true}}},
		{"invalid_email: space", func(b *Borrower, _ []Item) { b.Email = "ann smith@example.com" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Skipped, "invalid_email", false}, {1, SMS, Queued, "", true}}},
		{"invalid_email: two @", func(b *Borrower, _ []Item) { b.Email = "ann@x@example.com" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Skipped, "invalid_email", false}, {1, SMS, Queued, "", true}}},
		{"invalid_email: empty local part", func(b *Borrower, _ []Item) { b.Email = "@example.com" }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Skipped, "invalid_email", false}, {1, SMS, Queued, "", true}}},
		{"email opted_out", func(b *Borrower, _ []Item) { b.EmailOptOut = true }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Suppressed, "opted_out", false}, {1, SMS, Queued, "", true}}},
		{"no_stage", func(_ *Borrower, it []Item) { it[1].DueDate = date(2026, 3, 1) }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, "", Skipped, "no_stage", false}}},
		// An item whose sms an earlier run decided, back for its email
		// fallback (released): the sms gets no outcome, nor a place in the
		// sms message, and the fallback is used as before.
		{"sms decided earlier: the released email fallback alone", func(b *Borrower, it []Item) {
			b.Phone = Phone{Raw: "12345"}
			it[1].Decided.Add(SMS)
		}, []want{
			{0, SMS, Skipped, "invalid_phone", false}, {0, Email, Queued, "", true}, {1, Email, Queued, "", true}}},
		{"sms decided earlier, the phone valid now: still the email fallback alone", func(_ *Borrower, it []Item) { it[1].Decided.Add(SMS) }, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, Email, Queued, "", true}}},
		{"sms decided earlier, an item rule fails now: the email decided alone", func(_ *Borrower, it []Item) {
			it[1].Decided.Add(SMS)
			it[1].LoanStatus = "disputed"
		}, []want{
			{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}, {1, Email, Suppressed, "loan_status:disputed", false}}},
		{"sms decided earlier, email opted out now: the email decided alone", func(b *Borrower, it []Item) {
			b.EmailOptOut = true
			it[1].Decided.Add(SMS)
		}, []want{
			{0, SMS, Queued, "", true}, {0, Email, Suppressed, "opted_out", false}, {1, Email, Suppressed, "opted_out", false}}},
		{"sms decided earlier, bad time zone: the email decided alone", func(b *Borrower, it []Item) {
			b.TimeZone = "Mars/Base"
			it[1].Decided.Add(SMS)
			it[0].Decided.Add(Email)
		}, []want{
			{0, SMS, Skipped, "invalid_time_zone", false}, {1, Email, Skipped, "invalid_time_zone", false}}},
		{"email of a two-channel stage decided earlier: the sms alone", func(_ *Borrower, it []Item) { it[0].Decided.Add(Email) }, []want{
			{0, SMS, Queued, "", true}, {1, SMS, Queued, "", true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := borrower("America/New_York")
			items := []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 15))}
			tc.setup(b, items)
			plan := decide(p, &Request{AsOf: asOfThu(), Borrower: b, Items: items})
			checkOutcomes(t, plan, tc.want)
			for _, o := range plan.Outcomes {
				if o.Reason == ReasonNoStage && o.Stage != -1 {
					t.Errorf("no_stage outcome with stage %d", o.Stage)
				}
			}
			for _, m := range plan.Messages {
				if m.Decision != Queued || !m.At.Equal(asOfThu()) || !m.ValidUntil.Equal(utc(2026, 1, 16, 2, 0)) {
					t.Errorf("message %+v: want queued at as-of until 21:00 EST", m)
				}
				wantTo := b.Phone.E164
				if m.Channel == Email {
					wantTo = b.Email
				}
				if m.Recipient != wantTo {
					t.Errorf("recipient %q, want %q", m.Recipient, wantTo)
				}
			}
		})
	}
}

// COMPLIANCE.md 8-9: caps counted from the job's own send records across
// channels, per-channel caps, legally required notices exempt.
func TestDecideCaps(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		caps     []Cap
		existing []Contact
		items    []Item
		want     []want
		at       map[Channel]time.Time
	}{
		{
			name: "existing send defers sms and email; the due-day item cannot wait",
			caps: []Cap{{Max: 1, Per: day}}, existing: []Contact{{asOfThu().Add(-2 * time.Hour), SMS}},
			items: []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 15))},
			want: []want{{0, SMS, Deferred, "frequency_cap:1/24h", true}, {0, Email, Deferred, "frequency_cap:1/24h", true},
				{1, SMS, Suppressed, "frequency_cap:1/24h", false}},
			// sms: 13:00 UTC + 24h = 08:00 EST; email: the planned sms + 24h.
			at: map[Channel]time.Time{SMS: utc(2026, 1, 16, 13, 0), Email: utc(2026, 1, 17, 13, 0)},
		},
		{
			name:  "the planned sms counts for the email's cap",
			caps:  []Cap{{Max: 1, Per: day}},
			items: []Item{item(1, date(2026, 1, 14))},
			want:  []want{{0, SMS, Queued, "", true}, {0, Email, Deferred, "frequency_cap:1/24h", true}},
			at:    map[Channel]time.Time{SMS: asOfThu(), Email: asOfThu().Add(day)},
		},
		{
			name: "sms-only cap ignores email sends",
			caps: []Cap{{Max: 1, Per: day, Channels: []Channel{SMS}}}, existing: []Contact{{asOfThu().Add(-2 * time.Hour), Email}},
			items: []Item{item(1, date(2026, 1, 14))},
			want:  []want{{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}},
			at:    map[Channel]time.Time{SMS: asOfThu(), Email: asOfThu()},
		},
		{
			name: "sms-only cap does not apply to email",
			caps: []Cap{{Max: 1, Per: day, Channels: []Channel{SMS}}}, existing: []Contact{{asOfThu().Add(-2 * time.Hour), SMS}},
			items: []Item{item(1, date(2026, 1, 14))},
			want:  []want{{0, SMS, Deferred, "frequency_cap:1/24h:sms", true}, {0, Email, Queued, "", true}},
			at:    map[Channel]time.Time{SMS: utc(2026, 1, 16, 13, 0), Email: asOfThu()},
		},
		{
			name: "cap-exempt final notice is sent despite a full cap",
			caps: []Cap{{Max: 1, Per: day}}, existing: []Contact{{asOfThu().Add(-time.Hour), Email}},
			items: []Item{item(1, date(2025, 12, 16))}, // day 30: final_notice (email, cap exempt)
			want:  []want{{0, Email, Queued, "", true}},
			at:    map[Channel]time.Time{Email: asOfThu()},
		},
		{
			name: "an existing future send (deferred earlier) counts",
			caps: []Cap{{Max: 1, Per: day}}, existing: []Contact{{utc(2026, 1, 16, 1, 0), SMS}}, // 20:00 EST tonight
			items: []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 15))},
			want: []want{{0, SMS, Deferred, "frequency_cap:1/24h", true}, {0, Email, Deferred, "frequency_cap:1/24h", true},
				{1, SMS, Suppressed, "frequency_cap:1/24h", false}},
			// sms: 20:00 EST tomorrow; email: 24h after that planned sms, 20:00 EST on the 17th.
			at: map[Channel]time.Time{SMS: utc(2026, 1, 17, 1, 0), Email: utc(2026, 1, 18, 1, 0)},
		},
		{
			name: "2 per 24h with a past and a future send: free once the past one leaves every window",
			caps: []Cap{{Max: 2, Per: day, Channels: []Channel{SMS}}},
			// 23h30m apart: one 24h window can hold both and a send between them.
			existing: []Contact{{asOfThu().Add(-23 * time.Hour), SMS}, {asOfThu().Add(30 * time.Minute), SMS}},
			items:    []Item{item(1, date(2026, 1, 14))},
			want:     []want{{0, SMS, Deferred, "frequency_cap:2/24h:sms", true}, {0, Email, Queued, "", true}},
			at:       map[Channel]time.Time{SMS: asOfThu().Add(time.Hour), Email: asOfThu()},
		},
		{
			name:     "sends exactly 24h apart never share a 24h window",
			caps:     []Cap{{Max: 2, Per: day, Channels: []Channel{SMS}}},
			existing: []Contact{{asOfThu().Add(-23 * time.Hour), SMS}, {asOfThu().Add(time.Hour), SMS}},
			items:    []Item{item(1, date(2026, 1, 14))},
			want:     []want{{0, SMS, Queued, "", true}, {0, Email, Queued, "", true}},
			at:       map[Channel]time.Time{SMS: asOfThu(), Email: asOfThu()},
		},
		{
			name:     "two caps: the weekly one binds",
			caps:     []Cap{{Max: 3, Per: day}, {Max: 2, Per: 168 * time.Hour, Channels: []Channel{SMS}}},
			existing: []Contact{{asOfThu().Add(-100 * time.Hour), SMS}, {asOfThu().Add(-50 * time.Hour), SMS}},
			items:    []Item{item(1, date(2026, 1, 14))},
			// sms: the first send leaves the week 68h from now: 2026-01-18 11:00 UTC, 06:00 EST, so 08:00 EST.
			want: []want{{0, SMS, Deferred, "frequency_cap:2/168h:sms", true}, {0, Email, Queued, "", true}},
			at:   map[Channel]time.Time{SMS: utc(2026, 1, 18, 13, 0), Email: asOfThu()},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t)
			cfg.Caps = tc.caps
			p := mustNew(t, cfg)
			plan := decide(p, &Request{AsOf: asOfThu(), Borrower: borrower("America/New_York"), Items: tc.items, Existing: tc.existing})
			checkOutcomes(t, plan, tc.want)
			if len(plan.Messages) != len(tc.at) {
				t.Fatalf("messages %+v", plan.Messages)
			}
			for ch, at := range tc.at {
				m := messageFor(t, plan, ch)
				if !m.At.Equal(at) {
					t.Errorf("%s at %s, want %s", ch, m.At, at)
				}
				exempt := tc.items[0].DueDate == date(2025, 12, 16)
				if m.CapExempt != exempt {
					t.Errorf("%s CapExempt %v, want %v", ch, m.CapExempt, exempt)
				}
			}
		})
	}
}

// A backfill (DESIGN.md: "reminders whose validity has passed are expired
// unless --send-late").
func TestDecideBackfill(t *testing.T) {
	cfg := baseConfig(t)
	cfg.LateValidity = 6 * time.Hour
	p := mustNew(t, cfg)
	// The run of 2026-01-14 09:00 EST, replayed on 2026-01-16 at 10:00 EST:
	// the "due" stage of an installment due 2026-01-14 ended 2026-01-15 00:00 EST.
	req := &Request{AsOf: utc(2026, 1, 14, 14, 0), NotBefore: utc(2026, 1, 16, 15, 0), Borrower: borrower("America/New_York"),
		Items: []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 13))}}
	plan := decide(p, req)
	// Item 1 is in late_1 (valid until 2026-01-20): still sendable.
	checkOutcomes(t, plan, []want{{0, SMS, Expired, "valid_until_passed", false}, {1, SMS, Queued, "", true}, {1, Email, Queued, "", true}})

	req.Options.SendLate = true
	plan = decide(p, req)
	checkOutcomes(t, plan, []want{{0, SMS, Queued, "", true}, {1, SMS, Queued, "", true}, {1, Email, Queued, "", true}})
	m := messageFor(t, plan, SMS)
	if !m.At.Equal(req.NotBefore) || !m.ValidUntil.Equal(req.NotBefore.Add(6*time.Hour)) {
		t.Errorf("send-late message %+v: want at NotBefore, valid 6h", m)
	}
	if !slices.Equal(m.Items, []int{1, 0}) {
		t.Errorf("items %v, want the older installment first", m.Items)
	}
}

// Config.MinSendWindow: a send time needs a permissible stretch that long.
func TestDecideMinSendWindow(t *testing.T) {
	for _, tc := range []struct {
		minSendWindow time.Duration
		at            time.Time
		dec           Decision
		why           string
		till          time.Time
	}{
		{10 * time.Minute, utc(2026, 1, 16, 1, 45), Queued, "", utc(2026, 1, 16, 2, 0)},
		{15 * time.Minute, utc(2026, 1, 16, 1, 45), Queued, "", utc(2026, 1, 16, 2, 0)},
		{30 * time.Minute, utc(2026, 1, 16, 13, 0), Deferred, ReasonQuietHours, utc(2026, 1, 17, 2, 0)},
	} {
		t.Run(tc.minSendWindow.String(), func(t *testing.T) {
			cfg := baseConfig(t)
			cfg.MinSendWindow = tc.minSendWindow
			p := mustNew(t, cfg)
			// 20:45 EST: 15 minutes of the window left.
			plan := decide(p, &Request{AsOf: utc(2026, 1, 16, 1, 45), Borrower: borrower("America/New_York"), Items: []Item{item(1, date(2026, 1, 13))}})
			m := messageFor(t, plan, SMS)
			if !m.At.Equal(tc.at) || m.Decision != tc.dec || m.Reason != tc.why || !m.ValidUntil.Equal(tc.till) {
				t.Errorf("min send window %v: %+v; want %s %s %q until %s", tc.minSendWindow, m, tc.at, tc.dec, tc.why, tc.till)
			}
		})
	}
}

func TestZones(t *testing.T) {
	cfg := baseConfig(t)
	cfg.MaxPhoneZones = 2
	p := mustNew(t, cfg)
	tests := []struct {
		name  string
		b     Borrower
		zones []ZoneUse
		notes []string
	}{
		{"time zone, phone and region, deduplicated (first source kept)",
			Borrower{TimeZone: "America/New_York", Region: "US-FL", Phone: Phone{Raw: "x", E164: "+1", Valid: true, Zones: []string{"America/New_York", "America/Chicago"}}},
			[]ZoneUse{{"America/New_York", SourceTimeZone}, {"America/Chicago", SourcePhone}}, nil},
		{"region by country part",
			Borrower{Region: "CN-31"}, []ZoneUse{{"Asia/Shanghai", SourceRegion}}, nil},
		{"region in lower case",
			Borrower{Region: "us-fl"}, []ZoneUse{{"America/New_York", SourceRegion}, {"America/Chicago", SourceRegion}}, nil},
		{"too many phone zones: no location, default",
			Borrower{Phone: Phone{Raw: "x", E164: "+1", Valid: true, Zones: []string{"America/New_York", "America/Chicago", "America/Denver"}}},
			[]ZoneUse{{"America/New_York", SourceDefault}},
			[]string{"phone maps to 3 zones: ignored", "no zone known: used default America/New_York"}},
		{"Etc/Unknown is no zone",
			Borrower{Phone: Phone{Raw: "x", E164: "+1", Valid: true, Zones: []string{"Etc/Unknown"}}},
			[]ZoneUse{{"America/New_York", SourceDefault}}, []string{"no zone known: used default America/New_York"}},
		{"Etc/Unknown does not count against the limit",
			Borrower{Phone: Phone{Raw: "x", E164: "+1", Valid: true, Zones: []string{"Etc/Unknown", "Asia/Tokyo", "Asia/Seoul"}}},
			[]ZoneUse{{"Asia/Tokyo", SourcePhone}, {"Asia/Seoul", SourcePhone}}, nil},
		{"an invalid phone gives no zone",
			Borrower{Region: "CN", Phone: Phone{Raw: "x", Zones: []string{"America/Chicago"}}},
			[]ZoneUse{{"Asia/Shanghai", SourceRegion}}, nil},
		{"an unknown phone zone is noted",
			Borrower{TimeZone: "Asia/Kolkata", Phone: Phone{Raw: "x", E164: "+1", Valid: true, Zones: []string{"Mars/Base"}}},
			[]ZoneUse{{"Asia/Kolkata", SourceTimeZone}}, []string{`phone zone "Mars/Base" is not a known IANA time zone: ignored`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			zones, notes, err := p.Zones(&tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(zones, tc.zones) || !slices.Equal(notes, tc.notes) {
				t.Errorf("zones %v notes %q; want %v %q", zones, notes, tc.zones, tc.notes)
			}
			// Decide reports the same zones and notes.
			plan := decide(p, &Request{AsOf: asOfThu(), Borrower: &tc.b, Items: []Item{item(1, date(2026, 1, 14))}})
			if !slices.Equal(plan.Zones, tc.zones) || !slices.Equal(plan.Notes, tc.notes) {
				t.Errorf("Decide: zones %v notes %q", plan.Zones, plan.Notes)
			}
		})
	}
	for _, name := range []string{"Mars/Base", "Local", "../../etc/passwd"} {
		t.Run("invalid "+name, func(t *testing.T) {
			if _, _, err := p.Zones(&Borrower{TimeZone: name}); !errors.Is(err, ErrInvalidTimeZone) {
				t.Errorf("time_zone %q: err %v, want ErrInvalidTimeZone", name, err)
			}
		})
	}
}

func TestPermissibleZones(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	b := borrower("")
	at := utc(2026, 1, 15, 14, 0) // 09:00 EST, 06:00 PST
	if !p.Permissible(b, nil, at) {
		t.Error("no zones: the default zone (New York) is open at 09:00 EST")
	}
	if p.Permissible(b, []ZoneUse{{"America/New_York", SourceTimeZone}, {"Mars/Base", SourcePhone}}, at) {
		t.Error("an unknown zone must make the instant impermissible")
	}
	if p.Permissible(b, []ZoneUse{{"America/New_York", SourceTimeZone}, {"America/Los_Angeles", SourcePhone}}, at) {
		t.Error("06:00 PST is outside the window")
	}
}

// DESIGN.md "Group: one message per borrower and channel per run, listing
// every item, overdue first".
func TestDecideMessageOrder(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	items := []Item{
		{InstallmentID: 1, LoanID: 2, Seq: 1, DueDate: date(2026, 1, 14)},
		{InstallmentID: 2, LoanID: 9, Seq: 4, DueDate: date(2026, 1, 5)}, // 10 days past due: late_7
		{InstallmentID: 3, LoanID: 1, Seq: 2, DueDate: date(2026, 1, 14)},
		{InstallmentID: 4, LoanID: 1, Seq: 1, DueDate: date(2026, 1, 14)},
		{InstallmentID: 5, LoanID: 0, Seq: 1, DueDate: date(2026, 1, 15)}, // due today
		{InstallmentID: 6, LoanID: 3, Seq: 1, DueDate: date(2026, 1, 17)}, // due in 2 days
	}
	for i := range items {
		items[i].AmountDueMinor, items[i].Currency, items[i].LoanStatus = 500, "EUR", "active"
	}
	plan := decide(p, &Request{AsOf: asOfThu(), Borrower: borrower("America/New_York"), Items: items})
	m := messageFor(t, plan, SMS)
	if want := []int{1, 3, 2, 0, 4, 5}; !slices.Equal(m.Items, want) {
		t.Errorf("sms items %v, want %v", m.Items, want)
	}
	if m.Stage != 3 {
		t.Errorf("stage %d, want 3 (late_7, the most severe)", m.Stage)
	}
	e := messageFor(t, plan, Email)
	if want := []int{3, 2, 0}; !slices.Equal(e.Items, want) {
		t.Errorf("email items %v, want %v (late_1 only)", e.Items, want)
	}
	// The message's validity is its earliest item's: "due" ends at midnight EST.
	if !m.ValidUntil.Equal(utc(2026, 1, 16, 2, 0)) {
		t.Errorf("valid until %s", m.ValidUntil)
	}
}

// Decide reuses the Plan: a reused plan gives the same answer as a new one.
func TestPlanReuse(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Caps = []Cap{{Max: 1, Per: 24 * time.Hour}}
	p := mustNew(t, cfg)
	reqs := []*Request{
		{AsOf: asOfThu(), Borrower: borrower("America/Los_Angeles"), Items: []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 15)), item(3, date(2026, 1, 5))}},
		{AsOf: asOfThu(), Borrower: &Borrower{TimeZone: "Asia/Kolkata", Email: "b@example.org"}, Items: []Item{item(4, date(2026, 1, 14))}},
		{AsOf: asOfThu(), Borrower: borrower("Mars/Base"), Items: []Item{item(5, date(2026, 1, 14))}},
		{AsOf: asOfThu(), Borrower: borrower("America/New_York"), Items: []Item{item(6, date(2026, 1, 10))}, Existing: []Contact{{asOfThu(), SMS}}},
	}
	var reused Plan
	for round := 0; round < 3; round++ {
		for i, req := range reqs {
			p.Decide(req, &reused)
			fresh := decide(p, req)
			if !reflect.DeepEqual(exported(&reused), exported(fresh)) {
				t.Fatalf("round %d request %d: reused plan\n%+v\nfresh plan\n%+v", round, i, exported(&reused), exported(fresh))
			}
		}
	}
}

// exported copies the exported fields, normalizing empty slices.
func exported(p *Plan) Plan {
	norm := func(n int) bool { return n == 0 }
	out := Plan{Zones: p.Zones, Notes: p.Notes, Outcomes: p.Outcomes, Trace: p.Trace}
	for _, m := range p.Messages {
		m.Items = slices.Clone(m.Items)
		out.Messages = append(out.Messages, m)
	}
	if norm(len(out.Zones)) {
		out.Zones = nil
	}
	if norm(len(out.Notes)) {
		out.Notes = nil
	}
	if norm(len(out.Outcomes)) {
		out.Outcomes = nil
	}
	if norm(len(out.Trace)) {
		out.Trace = nil
	}
	return out
}

// The explain command reads the trace to compliance staff.
func TestDecideTrace(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Caps = []Cap{{Max: 2, Per: 24 * time.Hour}}
	p := mustNew(t, cfg)
	b := borrower("America/Los_Angeles")
	b.Phone.Zones = []string{"America/New_York"}
	b.Quiet = []QuietWindow{{Days: wd(time.Friday), From: 0, To: secondsPerDay}}
	req := &Request{AsOf: asOfThu(), Borrower: b, Items: []Item{item(1, date(2026, 1, 14)), item(2, date(2026, 1, 1))},
		Existing: []Contact{{asOfThu().Add(-time.Hour), SMS}}}
	req.Items[1].LoanStatus = "disputed"
	plan := decide(p, req)
	if len(plan.Trace) != 0 {
		t.Fatalf("trace without Options.Trace: %q", plan.Trace)
	}
	req.Options.Trace = true
	traced := decide(p, req)
	text := strings.Join(traced.Trace, "\n")
	for _, s := range []string{
		"business date is 2026-01-15",
		`1 day past due, so stage 2 "late_1" applies`,
		`loan is active (status "disputed"): no`,
		"suppressed (loan_status:disputed)",
		"Candidate time zone America/Los_Angeles (from the borrower's time_zone)",
		"Candidate time zone America/New_York (from the phone number)",
		"Borrower quiet window (Reg F comment 6(b)(1)-1): fri 00:00-24:00",
		"outside the allowed windows in America/Los_Angeles",
		"Frequency cap 2/24h: sends counted: 2026-01-15T14:00:00Z",
		"is deferred (quiet_hours): send at 2026-01-15T16:00:00Z",
		"+1 212****1234",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("trace lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, b.Phone.E164) || strings.Contains(text, b.Email) {
		t.Error("trace shows a full phone number or email address")
	}
	// Tracing changes nothing else.
	traced.Trace = nil
	if !reflect.DeepEqual(exported(plan), exported(traced)) {
		t.Error("the trace changed the decisions")
	}
}

// The Policy is shared by the goroutines of a run (go test -race).
func TestConcurrentDecide(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Caps = []Cap{{Max: 3, Per: 24 * time.Hour}}
	p := mustNew(t, cfg)
	zones := []string{"America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu", "Nope/Nope"}
	var wg sync.WaitGroup
	results := make([][]string, 4)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var plan Plan
			for i := 0; i < 200; i++ {
				b := borrower(zones[(i+g)%len(zones)])
				p.Decide(&Request{AsOf: asOfThu().Add(time.Duration(i) * time.Hour), Borrower: b, Items: []Item{item(int64(i), date(2026, 1, 14))}}, &plan)
				results[g] = append(results[g], fmt.Sprint(plan.Outcomes, plan.Messages))
			}
		}()
	}
	wg.Wait()
	var plan Plan
	for g := range results {
		for i := 0; i < 200; i++ {
			b := borrower(zones[(i+g)%len(zones)])
			p.Decide(&Request{AsOf: asOfThu().Add(time.Duration(i) * time.Hour), Borrower: b, Items: []Item{item(int64(i), date(2026, 1, 14))}}, &plan)
			if got := fmt.Sprint(plan.Outcomes, plan.Messages); got != results[g][i] {
				t.Fatalf("goroutine %d request %d differs from a sequential run", g, i)
			}
		}
	}
}

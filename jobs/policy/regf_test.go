package policy

import (
	"testing"
	"time"
)

// decide runs Decide with a fresh plan.
func decide(p *Policy, req *Request) *Plan {
	var plan Plan
	p.Decide(req, &plan)
	return &plan
}

// outcomeFor returns the outcome of (item, channel); it fails unless there is
// exactly one.
func outcomeFor(t *testing.T, plan *Plan, item int, ch Channel) Outcome {
	t.Helper()
	var found []Outcome
	for _, o := range plan.Outcomes {
		if o.Item == item && o.Channel == ch {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("item %d on %q: %d outcomes, want 1: %+v", item, ch, len(found), plan.Outcomes)
	}
	return found[0]
}

// messageFor returns the message on ch, failing if there is none.
func messageFor(t *testing.T, plan *Plan, ch Channel) Message {
	t.Helper()
	for _, m := range plan.Messages {
		if m.Channel == ch {
			return m
		}
	}
	t.Fatalf("no %s message; outcomes %+v", ch, plan.Outcomes)
	return Message{}
}

// TestRegFConflictingLocations encodes the two examples of Reg F official
// interpretation, comment 6(b)(1)(i)-2: "with conflicting location
// information the time must be convenient in all the locations".
func TestRegFConflictingLocations(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	tests := []struct {
		name       string
		home       string    // the borrower's time_zone (home address or landline)
		day        time.Time // a day, 00:00 UTC
		open, shut time.Time // expected common window, UTC
	}{
		// "mobile area code in Eastern time, home address in Pacific time →
		// allowed 11:00 a.m. to 9:00 p.m. Eastern".
		{"eastern mobile, pacific home, winter", "America/Los_Angeles", utc(2026, 1, 15, 0, 0),
			utc(2026, 1, 15, 16, 0), utc(2026, 1, 16, 2, 0)}, // 11:00-21:00 EST (UTC-5)
		{"eastern mobile, pacific home, summer", "America/Los_Angeles", utc(2026, 7, 15, 0, 0),
			utc(2026, 7, 15, 15, 0), utc(2026, 7, 16, 1, 0)}, // 11:00-21:00 EDT (UTC-4)
		// "Eastern mobile plus a Mountain-time landline → 10:00 a.m. to 9:00 p.m. Eastern".
		{"eastern mobile, mountain landline, winter", "America/Denver", utc(2026, 1, 15, 0, 0),
			utc(2026, 1, 15, 15, 0), utc(2026, 1, 16, 2, 0)}, // 10:00-21:00 EST
		{"eastern mobile, mountain landline, summer", "America/Denver", utc(2026, 7, 15, 0, 0),
			utc(2026, 7, 15, 14, 0), utc(2026, 7, 16, 1, 0)}, // 10:00-21:00 EDT
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := borrower(tc.home)
			b.Phone.Zones = []string{"America/New_York"} // the mobile's area code
			zones, _, err := p.Zones(b)
			if err != nil {
				t.Fatal(err)
			}
			want := []ZoneUse{{tc.home, SourceTimeZone}, {"America/New_York", SourcePhone}}
			if len(zones) != 2 || zones[0] != want[0] || zones[1] != want[1] {
				t.Fatalf("zones %v, want %v", zones, want)
			}
			for _, c := range []struct {
				at   time.Time
				want bool
			}{
				{tc.open.Add(-time.Second), false}, {tc.open, true},
				{tc.shut.Add(-time.Second), true}, {tc.shut, false},
			} {
				t.Run(c.at.Format(time.TimeOnly), func(t *testing.T) {
					if got := p.Permissible(b, zones, c.at); got != c.want {
						t.Errorf("Permissible(%s) = %v, want %v", c.at, got, c.want)
					}
				})
			}
			// A run at 07:00 Eastern is deferred to the opening of the common window.
			due := date(tc.day.Year(), tc.day.Month(), tc.day.Day()-1)
			req := &Request{AsOf: tc.open.Add(-3 * time.Hour), Borrower: b, Items: []Item{item(1, due)}}
			plan := decide(p, req)
			m := messageFor(t, plan, SMS)
			if !m.At.Equal(tc.open) || !m.ValidUntil.Equal(tc.shut) || m.Decision != Deferred || m.Reason != ReasonQuietHours {
				t.Errorf("message at %s until %s %s %q; want %s until %s deferred quiet_hours",
					m.At, m.ValidUntil, m.Decision, m.Reason, tc.open, tc.shut)
			}
		})
	}
}

// COMPLIANCE.md 2 and 6: a Shanghai borrower with a New York number.
//
// With 08:00-21:00 in both zones the windows DO meet: New York is 13 hours
// behind Shanghai in winter, so 19:00-21:00 EST is 08:00-10:00 CST
// (00:00-02:00 UTC); in summer (12 hours) 08:00-09:00 and 20:00-21:00 EDT.
// A lender whose China policy is stricter (09:00-20:00, 11 hours) has no
// common instant at all: no_common_window, in winter and in summer, for a
// borrower whose region is CN and for one with no region, whom the
// time_zone puts in China (issue 14: rules must not fail open).
func TestShanghaiWithNewYorkNumber(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	b := borrower("Asia/Shanghai")
	b.Phone.Zones = []string{"America/New_York"}

	t.Run("default windows meet 00:00-02:00 UTC in winter", func(t *testing.T) {
		plan := decide(p, &Request{AsOf: utc(2026, 1, 15, 14, 0), Borrower: b, Items: []Item{item(1, date(2026, 1, 14))}})
		m := messageFor(t, plan, SMS)
		if !m.At.Equal(utc(2026, 1, 16, 0, 0)) || !m.ValidUntil.Equal(utc(2026, 1, 16, 2, 0)) || m.Decision != Deferred {
			t.Errorf("%+v, want 2026-01-16 00:00-02:00 UTC deferred", m)
		}
	})
	t.Run("default windows meet 12:00-13:00 UTC in summer", func(t *testing.T) {
		plan := decide(p, &Request{AsOf: utc(2026, 7, 15, 2, 0), Borrower: b, Items: []Item{item(1, date(2026, 7, 13))}})
		m := messageFor(t, plan, SMS)
		if !m.At.Equal(utc(2026, 7, 15, 12, 0)) || !m.ValidUntil.Equal(utc(2026, 7, 15, 13, 0)) || m.Decision != Deferred {
			t.Errorf("%+v, want 12:00-13:00 UTC deferred", m)
		}
	})

	cfg := baseConfig(t)
	cfg.Regions["CN"] = Region{Allowed: []Window{{Days: AllDays, From: clk(t, "09:00"), To: clk(t, "20:00")}}}
	strict := mustNew(t, cfg)
	cn := *b
	cn.Region = "CN"
	for _, asOf := range []time.Time{utc(2026, 1, 15, 14, 0), utc(2026, 7, 15, 14, 0)} {
		for _, who := range []struct {
			name string
			b    *Borrower
		}{{"region CN", &cn}, {"no region, the time zone's country", b}} {
			t.Run("stricter China window: none in "+asOf.Month().String()+", "+who.name, func(t *testing.T) {
				y, mo, d := asOf.Date()
				req := &Request{AsOf: asOf, Borrower: who.b, Items: []Item{item(1, date(y, mo, d-1)), item(2, date(y, mo, d))}}
				plan := decide(strict, req)
				if len(plan.Messages) != 0 {
					t.Errorf("messages %+v, want none", plan.Messages)
				}
				for i := range req.Items {
					if o := outcomeFor(t, plan, i, SMS); o.Decision != Suppressed || o.Reason != ReasonNoCommonWindow || o.Message != -1 {
						t.Errorf("item %d: %+v, want suppressed no_common_window", i, o)
					}
				}
				// Item 0 (stage late_1) also goes by email: suppressed the same way.
				if o := outcomeFor(t, plan, 0, Email); o.Decision != Suppressed || o.Reason != ReasonNoCommonWindow {
					t.Errorf("item 0 email: %+v", o)
				}
			})
		}
	}
}

// Fla. Stat. 501.616(6) as the example US-FL override: 08:00-20:00 in both
// Florida zones (Eastern and Central), plus the country's holidays.
func TestFloridaOverride(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	fl := borrower("")
	fl.Region = "US-FL"
	fl.Phone.Zones = nil
	zones, notes, err := p.Zones(fl)
	if err != nil || len(notes) != 0 {
		t.Fatalf("zones: %v %v", err, notes)
	}
	if len(zones) != 2 || zones[0] != (ZoneUse{"America/New_York", SourceRegion}) || zones[1] != (ZoneUse{"America/Chicago", SourceRegion}) {
		t.Fatalf("zones %v", zones)
	}
	ny := borrower("America/New_York")
	ny.Region = "US-NY" // not configured: the country's rules (default windows)
	nyZones, _, _ := p.Zones(ny)

	// 2026-01-15: 08:00 CST = 14:00 UTC (09:00 EST); 20:00 EST = 01:00 UTC.
	for _, c := range []struct {
		at     time.Time
		fl, ny bool
	}{
		{utc(2026, 1, 15, 13, 59), false, true},
		{utc(2026, 1, 15, 14, 0), true, true},
		{utc(2026, 1, 16, 0, 59), true, true},
		{utc(2026, 1, 16, 1, 0), false, true}, // 20:00 EST: closed in Florida, open under Reg F
		{utc(2026, 1, 16, 2, 0), false, false},
	} {
		t.Run(c.at.Format(time.RFC3339), func(t *testing.T) {
			if got := p.Permissible(fl, zones, c.at); got != c.fl {
				t.Errorf("FL at %s: %v, want %v", c.at, got, c.fl)
			}
			if got := p.Permissible(ny, nyZones, c.at); got != c.ny {
				t.Errorf("NY at %s: %v, want %v", c.at, got, c.ny)
			}
		})
	}

	// 19:30 EST is 18:30 CST: queued, deliverable until 20:00 EST.
	plan := decide(p, &Request{AsOf: utc(2026, 1, 16, 0, 30), Borrower: fl, Items: []Item{item(1, date(2026, 1, 14))}})
	m := messageFor(t, plan, SMS)
	if m.Decision != Queued || m.Reason != "" || !m.At.Equal(utc(2026, 1, 16, 0, 30)) || !m.ValidUntil.Equal(utc(2026, 1, 16, 1, 0)) {
		t.Errorf("FL evening: %+v", m)
	}

	// 2026-07-03 is a US holiday, inherited by US-FL: a run at 10:00 EDT is
	// deferred to 2026-07-04 08:00 CDT (13:00 UTC), when both zones are open.
	plan = decide(p, &Request{AsOf: utc(2026, 7, 3, 14, 0), Borrower: fl, Items: []Item{item(1, date(2026, 7, 1))}})
	m = messageFor(t, plan, SMS)
	if m.Decision != Deferred || m.Reason != ReasonHoliday || !m.At.Equal(utc(2026, 7, 4, 13, 0)) || !m.ValidUntil.Equal(utc(2026, 7, 5, 0, 0)) {
		t.Errorf("FL holiday: %+v, want deferred holiday to 2026-07-04 13:00 UTC until 20:00 EDT", m)
	}
}

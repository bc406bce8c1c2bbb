package policy

import (
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// win builds a window from "HH:MM" strings.
func win(t testing.TB, days Weekdays, from, to string) Window {
	return Window{Days: days, From: clk(t, from), To: clk(t, to)}
}

func wd(ds ...time.Weekday) Weekdays {
	var w Weekdays
	for _, d := range ds {
		w |= 1 << uint(d)
	}
	return w
}

// TestScheduleWallClock checks send times against expectations computed by
// hand from the zone transitions (as printed by zdump) in UTC: DST change
// days in both directions, 30-minute DST, half- and quarter-hour offsets,
// windows across midnight, holidays, quiet windows and a leap day.
// STYLE.md: "Time-dependent logic is tested at DST changes, in half- and
// quarter-hour zones, across midnight, and on leap days."
func TestScheduleWallClock(t *testing.T) {
	tests := []struct {
		name      string
		zones     []string // the borrower's time_zone, then phone zones
		windows   []Window
		holidays  []civil.Date
		quiet     []QuietWindow
		notBefore time.Time
		at, until time.Time // want; zero at: nothing sendable
		reason    string    // "" queued
	}{
		// America/New_York springs forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC).
		{name: "NY spring forward: window opening in the gap opens at the transition",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "02:30", "05:00")},
			notBefore: utc(2026, 3, 8, 5, 0), at: utc(2026, 3, 8, 7, 0), until: utc(2026, 3, 8, 9, 0), reason: ReasonQuietHours},
		{name: "NY spring forward: Reg F window on the short day",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			notBefore: utc(2026, 3, 8, 6, 0), at: utc(2026, 3, 8, 12, 0), until: utc(2026, 3, 9, 1, 0), reason: ReasonQuietHours},
		{name: "NY spring forward: window across midnight closing in the gap",
			zones: []string{"America/New_York"}, windows: []Window{win(t, wd(time.Saturday), "23:00", "02:30")},
			notBefore: utc(2026, 3, 8, 6, 0), at: utc(2026, 3, 8, 6, 0), until: utc(2026, 3, 8, 7, 0)},
		// New York falls back 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC): 01:00-02:00 happens twice.
		{name: "NY fall back: first pass of the repeated hour",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "01:30", "02:00")},
			notBefore: utc(2026, 11, 1, 5, 0), at: utc(2026, 11, 1, 5, 30), until: utc(2026, 11, 1, 6, 0), reason: ReasonQuietHours},
		{name: "NY fall back: second pass of the repeated hour",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "01:30", "02:00")},
			notBefore: utc(2026, 11, 1, 6, 0), at: utc(2026, 11, 1, 6, 30), until: utc(2026, 11, 1, 7, 0), reason: ReasonQuietHours},
		{name: "NY fall back: the wall clock reads 01:00 again and the window reopens",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "00:00", "01:30")},
			notBefore: utc(2026, 11, 1, 5, 30), at: utc(2026, 11, 1, 6, 0), until: utc(2026, 11, 1, 6, 30), reason: ReasonQuietHours},
		// Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC); 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC).
		{name: "Berlin spring forward",
			zones: []string{"Europe/Berlin"}, windows: []Window{win(t, AllDays, "02:15", "03:30")},
			notBefore: utc(2026, 3, 28, 23, 0), at: utc(2026, 3, 29, 1, 0), until: utc(2026, 3, 29, 1, 30), reason: ReasonQuietHours},
		{name: "Berlin fall back: first 02:30",
			zones: []string{"Europe/Berlin"}, windows: []Window{win(t, AllDays, "02:30", "03:00")},
			notBefore: utc(2026, 10, 25, 0, 0), at: utc(2026, 10, 25, 0, 30), until: utc(2026, 10, 25, 1, 0), reason: ReasonQuietHours},
		{name: "Berlin fall back: second 02:30",
			zones: []string{"Europe/Berlin"}, windows: []Window{win(t, AllDays, "02:30", "03:00")},
			notBefore: utc(2026, 10, 25, 1, 0), at: utc(2026, 10, 25, 1, 30), until: utc(2026, 10, 25, 2, 0), reason: ReasonQuietHours},
		// Australia/Lord_Howe (30-minute DST): 2026-10-04 02:00 +1030 -> 02:30 +11 (2026-10-03 15:30 UTC);
		// 2026-04-05 02:00 +11 -> 01:30 +1030 (2026-04-04 15:00 UTC).
		{name: "Lord Howe spring forward by 30 minutes",
			zones: []string{"Australia/Lord_Howe"}, windows: []Window{win(t, AllDays, "02:10", "04:00")},
			notBefore: utc(2026, 10, 3, 13, 30), at: utc(2026, 10, 3, 15, 30), until: utc(2026, 10, 3, 17, 0), reason: ReasonQuietHours},
		{name: "Lord Howe fall back by 30 minutes",
			zones: []string{"Australia/Lord_Howe"}, windows: []Window{win(t, AllDays, "00:00", "01:45")},
			notBefore: utc(2026, 4, 4, 14, 45), at: utc(2026, 4, 4, 15, 0), until: utc(2026, 4, 4, 15, 15), reason: ReasonQuietHours},
		// Half- and quarter-hour zones.
		{name: "Asia/Kolkata +05:30",
			zones: []string{"Asia/Kolkata"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			notBefore: utc(2026, 1, 15, 0, 0), at: utc(2026, 1, 15, 2, 30), until: utc(2026, 1, 15, 15, 30), reason: ReasonQuietHours},
		{name: "Asia/Kathmandu +05:45",
			zones: []string{"Asia/Kathmandu"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			notBefore: utc(2026, 1, 15, 0, 0), at: utc(2026, 1, 15, 2, 15), until: utc(2026, 1, 15, 15, 15), reason: ReasonQuietHours},
		{name: "Kolkata and Kathmandu together",
			zones: []string{"Asia/Kolkata", "Asia/Kathmandu"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			notBefore: utc(2026, 1, 15, 0, 0), at: utc(2026, 1, 15, 2, 30), until: utc(2026, 1, 15, 15, 15), reason: ReasonQuietHours},
		// Pacific/Chatham: 2026-09-27 02:45 +1245 -> 03:45 +1345 (2026-09-26 14:00 UTC).
		{name: "Chatham +12:45 spring forward",
			zones: []string{"Pacific/Chatham"}, windows: []Window{win(t, AllDays, "03:00", "09:00")},
			notBefore: utc(2026, 9, 26, 12, 0), at: utc(2026, 9, 26, 14, 0), until: utc(2026, 9, 26, 19, 15), reason: ReasonQuietHours},
		// Windows across midnight.
		{name: "Friday-night window, Saturday 00:30 belongs to it",
			zones: []string{"America/New_York"}, windows: []Window{win(t, wd(time.Friday), "22:00", "02:00")},
			notBefore: utc(2026, 1, 17, 5, 30), at: utc(2026, 1, 17, 5, 30), until: utc(2026, 1, 17, 7, 0)},
		{name: "Friday and Saturday nights: from Saturday 03:00 to Saturday 22:00",
			zones: []string{"America/New_York"}, windows: []Window{win(t, wd(time.Friday, time.Saturday), "22:00", "02:00")},
			notBefore: utc(2026, 1, 17, 8, 0), at: utc(2026, 1, 18, 3, 0), until: utc(2026, 1, 18, 7, 0), reason: ReasonQuietHours},
		// Holidays.
		{name: "holiday on the day",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			holidays:  []civil.Date{date(2026, 1, 19)},
			notBefore: utc(2026, 1, 19, 14, 0), at: utc(2026, 1, 20, 13, 0), until: utc(2026, 1, 21, 2, 0), reason: ReasonHoliday},
		{name: "holiday in any zone: Tokyo's 2026-01-20 starts first, New York's ends last",
			zones: []string{"America/New_York", "Asia/Tokyo"}, windows: []Window{win(t, AllDays, "00:00", "24:00")},
			holidays:  []civil.Date{date(2026, 1, 20)},
			notBefore: utc(2026, 1, 19, 12, 0), at: utc(2026, 1, 19, 12, 0), until: utc(2026, 1, 19, 15, 0)},
		{name: "holiday in any zone: deferred past New York's end of the day",
			zones: []string{"America/New_York", "Asia/Tokyo"}, windows: []Window{win(t, AllDays, "00:00", "24:00")},
			holidays:  []civil.Date{date(2026, 1, 20)},
			notBefore: utc(2026, 1, 19, 16, 0), at: utc(2026, 1, 21, 5, 0), until: utc(2026, 1, 24, 5, 0), reason: ReasonHoliday}, // the item's validity
		// Leap day 2028-02-29 (a Tuesday).
		{name: "leap day holiday",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			holidays:  []civil.Date{date(2028, 2, 29)},
			notBefore: utc(2028, 2, 29, 15, 0), at: utc(2028, 3, 1, 13, 0), until: utc(2028, 3, 2, 2, 0), reason: ReasonHoliday},
		{name: "leap day: 'not on Tuesdays' (Reg F comment 6(b)(1)-1) before it",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			quiet:     []QuietWindow{{Days: wd(time.Tuesday), From: 0, To: secondsPerDay}},
			notBefore: utc(2028, 2, 29, 1, 30), at: utc(2028, 2, 29, 1, 30), until: utc(2028, 2, 29, 2, 0)},
		{name: "leap day: 'not on Tuesdays' on it",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			quiet:     []QuietWindow{{Days: wd(time.Tuesday), From: 0, To: secondsPerDay}},
			notBefore: utc(2028, 2, 29, 14, 0), at: utc(2028, 3, 1, 13, 0), until: utc(2028, 3, 2, 2, 0), reason: ReasonBorrowerQuietWindow},
		{name: "quiet window bounded by dates: only 2028-03-01 is quiet",
			zones: []string{"America/New_York"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			quiet:     []QuietWindow{{Days: AllDays, From: 0, To: secondsPerDay, NotBefore: date(2028, 3, 1), NotAfter: date(2028, 3, 1)}},
			notBefore: utc(2028, 3, 1, 14, 0), at: utc(2028, 3, 2, 13, 0), until: utc(2028, 3, 3, 2, 0), reason: ReasonBorrowerQuietWindow},
		{name: "quiet evening across midnight in two zones",
			zones: []string{"America/New_York", "America/Chicago"}, windows: []Window{win(t, AllDays, "08:00", "21:00")},
			quiet:     []QuietWindow{{Days: AllDays, From: clk(t, "17:00"), To: clk(t, "09:00")}},
			notBefore: utc(2026, 1, 15, 14, 0), at: utc(2026, 1, 15, 15, 0), until: utc(2026, 1, 15, 22, 0), reason: ReasonBorrowerQuietWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t)
			cfg.Allowed = tc.windows
			cfg.Regions = map[string]Region{"ZZ": {Holidays: tc.holidays}}
			p := mustNew(t, cfg)
			b := borrower(tc.zones[0])
			b.Region = "ZZ"
			b.Phone.Zones = tc.zones[1:]
			b.Quiet = tc.quiet
			businessDate := civil.DateIn(tc.notBefore, cfg.BusinessZone)
			req := &Request{AsOf: tc.notBefore, Borrower: b, Items: []Item{item(1, businessDate.AddDays(-2))}} // late_1: valid 5 days more
			plan := decide(p, req)
			if len(plan.Zones) != len(tc.zones) {
				t.Fatalf("zones %v", plan.Zones)
			}
			m := messageFor(t, plan, SMS)
			wantDec := Queued
			if tc.reason != "" {
				wantDec = Deferred
			}
			if !m.At.Equal(tc.at) || !m.ValidUntil.Equal(tc.until) || m.Decision != wantDec || m.Reason != tc.reason {
				t.Errorf("got at %s until %s %s %q\nwant at %s until %s %s %q",
					m.At, m.ValidUntil, m.Decision, m.Reason, tc.at, tc.until, wantDec, tc.reason)
			}
			zones := plan.Zones
			for _, x := range []time.Time{m.At, m.ValidUntil.Add(-time.Second)} {
				if !p.Permissible(b, zones, x) {
					t.Errorf("%s is not permissible", x)
				}
			}
			validity := p.Stages().ValidUntil(2, req.Items[0].DueDate, cfg.BusinessZone)
			if m.ValidUntil.Before(validity) && p.Permissible(b, zones, m.ValidUntil) {
				t.Errorf("ValidUntil %s is permissible: not the end of the window", m.ValidUntil)
			}
			if m.Decision == Deferred && p.Permissible(b, zones, m.At.Add(-time.Second)) {
				t.Errorf("a second before At is permissible: not the earliest")
			}
		})
	}
}

// A window Friday 22:00-02:00 with validity ending before the next Friday:
// the item expires, and the audit says the windows were the cause.
func TestExpiredNoPermissibleTime(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Allowed = []Window{win(t, wd(time.Friday), "22:00", "02:00")}
	p := mustNew(t, cfg)
	// Saturday 2026-01-17 03:00 EST: the item, due 2026-01-16, is in stage
	// late_1, valid until 2026-01-23 00:00 EST, before the next Friday 22:00.
	req := &Request{AsOf: utc(2026, 1, 17, 8, 0), Borrower: borrower("America/New_York"), Items: []Item{item(1, date(2026, 1, 16))}}
	plan := decide(p, req)
	if len(plan.Messages) != 0 {
		t.Fatalf("messages %+v", plan.Messages)
	}
	for _, ch := range []Channel{SMS, Email} {
		o := outcomeFor(t, plan, 0, ch)
		if o.Decision != Expired || o.Reason != ReasonNoPermissibleTimePrefix+ReasonQuietHours {
			t.Errorf("%s: %+v, want expired no_permissible_time:quiet_hours", ch, o)
		}
	}
}

package policy

import (
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// utc builds an instant from a UTC wall clock: expectations in tests are
// written in UTC (converted by hand, checked against zdump) so that they do
// not depend on the code under test.
func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func date(y int, m time.Month, d int) civil.Date { return civil.DateOf(y, m, d) }

func clk(t testing.TB, s string) Clock {
	t.Helper()
	c, err := ParseClock(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Reg F 12 CFR 1006.6(b)(1)(i): 8:00 a.m. to 9:00 p.m. local time.
func regF(t testing.TB) Window {
	return Window{Days: AllDays, From: clk(t, "08:00"), To: clk(t, "21:00")}
}

// testStages: a pre-due notice, the due day, overdue stages; the last expires.
func testStages() Stages {
	return Stages{
		{Name: "upcoming", DaysFromDue: -3, Channels: []Channel{SMS}},
		{Name: "due", DaysFromDue: 0, Channels: []Channel{SMS}, Fallback: Email},
		{Name: "late_1", DaysFromDue: 1, Channels: []Channel{SMS, Email}},
		{Name: "late_7", DaysFromDue: 7, Channels: []Channel{SMS}, Fallback: Email},
		{Name: "final_notice", DaysFromDue: 30, Channels: []Channel{Email}, ExpiresAfter: 72 * time.Hour, CapExempt: true},
	}
}

func baseConfig(t testing.TB) Config {
	return Config{
		Stages:       testStages(),
		BusinessZone: mustLoc(t, "America/New_York"),
		DefaultZone:  mustLoc(t, "America/New_York"),
		Allowed:      []Window{regF(t)},
		Regions: map[string]Region{
			// Fla. Stat. 501.616(6): 8:00 a.m. to 8:00 p.m. (example override).
			"US-FL": {Allowed: []Window{{Days: AllDays, From: clk(t, "08:00"), To: clk(t, "20:00")}},
				Zones: []string{"America/New_York", "America/Chicago"}},
			"US": {Holidays: []civil.Date{date(2026, time.July, 3), date(2026, time.December, 25)}},
			"CN": {Zones: []string{"Asia/Shanghai"}},
		},
	}
}

func mustNew(t testing.TB, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func item(id int64, due civil.Date) Item {
	return Item{InstallmentID: id, LoanID: 10 + id, Seq: 1, DueDate: due, AmountDueMinor: 10000,
		Currency: "USD", LoanStatus: "active"}
}

func borrower(tz string) *Borrower {
	return &Borrower{ID: 1, TimeZone: tz, Phone: Phone{Raw: "2125551234", E164: "+12125551234", Valid: true},
		Email: "ann@example.com"}
}

func mustDate(t testing.TB, s string) civil.Date {
	t.Helper()
	d, err := civil.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

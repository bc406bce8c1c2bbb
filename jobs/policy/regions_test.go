package policy

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/loanremind/loanremind/jobs/civil"
)

// The candidate regions: the borrower's region, the phone's state or
// province and country, the time_zone's country; each once, with the
// first source.
func TestCandidateRegions(t *testing.T) {
	p := mustNew(t, baseConfig(t))
	miami := Phone{Raw: "3055550100", E164: "+13055550100", Valid: true, Zones: []string{"America/New_York"}, Country: "US", Subdivisions: []string{"US-FL"}}
	for _, tc := range []struct {
		name    string
		b       Borrower
		regions []RegionUse
		notes   []string
	}{
		{"nothing known", Borrower{}, nil, nil},
		{"the borrower's region", Borrower{Region: "CN-31"}, []RegionUse{{"CN-31", SourceRegion}}, nil},
		{"a region in lower case", Borrower{Region: " us-fl"}, []RegionUse{{"US-FL", SourceRegion}}, nil},
		{"a region that is no code", Borrower{Region: "Florida"}, nil, []string{`region "Florida" is not an ISO 3166-2 code: ignored`}},
		{"the time zone's country", Borrower{TimeZone: "Asia/Shanghai"}, []RegionUse{{"CN", SourceTimeZone}}, nil},
		{"an old name of a zone", Borrower{TimeZone: "US/Eastern"}, []RegionUse{{"US", SourceTimeZone}}, nil},
		{"a zone of no country", Borrower{TimeZone: "UTC"}, nil, nil},
		{"the phone's state and country, then the zone's", Borrower{TimeZone: "America/New_York", Phone: miami},
			[]RegionUse{{"US-FL", SourcePhone}, {"US", SourcePhone}}, nil},
		{"all of them", Borrower{Region: "CN-31", TimeZone: "Asia/Shanghai", Phone: miami},
			[]RegionUse{{"CN-31", SourceRegion}, {"US-FL", SourcePhone}, {"US", SourcePhone}, {"CN", SourceTimeZone}}, nil},
		{"an invalid number gives none", Borrower{Phone: Phone{Raw: "305", Country: "US", Subdivisions: []string{"US-FL"}}}, nil, nil},
		{"provinces that share an area code", Borrower{Phone: Phone{Raw: "x", E164: "+19025550100", Valid: true, Country: "CA", Subdivisions: []string{"CA-NS", "CA-PE"}}},
			[]RegionUse{{"CA-NS", SourcePhone}, {"CA-PE", SourcePhone}, {"CA", SourcePhone}}, nil},
		{"codes that are no codes are dropped", Borrower{Phone: Phone{Raw: "x", E164: "+1", Valid: true, Country: "001", Subdivisions: []string{"", "us-fl"}}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, timeZoneCountry, _ := p.appendZones(&tc.b, nil, nil, nil)
			regions, notes := p.appendRegions(&tc.b, timeZoneCountry, nil, nil)
			if !slices.Equal(regions, tc.regions) || !slices.Equal(notes, tc.notes) {
				t.Errorf("regions %v notes %q, want %v %q", regions, notes, tc.regions, tc.notes)
			}
			plan := decide(p, &Request{AsOf: utc(2026, 1, 15, 15, 0), Borrower: &tc.b, Items: []Item{item(1, date(2026, 1, 14))}})
			if !slices.Equal(plan.Regions, tc.regions) {
				t.Errorf("Decide: regions %v, want %v", plan.Regions, tc.regions)
			}
		})
	}
}

// Issue 14, finding 10: a borrower without a region is held to the rules
// of the regions their phone number and time zone put them in; every
// region's rules apply at once.
func TestRegionsDoNotFailOpen(t *testing.T) {
	cfg := baseConfig(t)
	cfg.BusinessZone = mustLoc(t, "Asia/Shanghai")
	cfg.Regions["CN"] = Region{Zones: []string{"Asia/Shanghai"}, Holidays: []civil.Date{date(2026, 11, 27)}}
	cfg.Regions["CN-11"] = Region{Allowed: []Window{{Days: AllDays, From: clk(t, "09:00"), To: clk(t, "20:00")}}}
	p := mustNew(t, cfg)
	shanghaiNumber := Phone{Raw: "13812345678", E164: "+8613812345678", Valid: true, Zones: []string{"Asia/Shanghai"}, Country: "CN"}
	miamiNumber := Phone{Raw: "3055550100", E164: "+13055550100", Valid: true, Zones: []string{"America/New_York"}, Country: "US", Subdivisions: []string{"US-FL"}}
	newYorkNumber := Phone{Raw: "2125550100", E164: "+12125550100", Valid: true, Zones: []string{"America/New_York"}, Country: "US", Subdivisions: []string{"US-NY"}}
	holidayMorning := utc(2026, 11, 27, 2, 0) // 10:00 in Shanghai, on the CN holiday
	for _, tc := range []struct {
		name   string
		b      Borrower
		asOf   time.Time
		at     time.Time
		reason string
	}{
		{"region CN-31: the country's holiday", Borrower{Region: "CN-31", TimeZone: "Asia/Shanghai", Phone: shanghaiNumber},
			holidayMorning, utc(2026, 11, 28, 0, 0), ReasonHoliday},
		{"no region, a Chinese number and zone: the holiday of CN", Borrower{TimeZone: "Asia/Shanghai", Phone: shanghaiNumber},
			holidayMorning, utc(2026, 11, 28, 0, 0), ReasonHoliday},
		{"no region, a Chinese number alone", Borrower{Phone: shanghaiNumber},
			holidayMorning, utc(2026, 11, 28, 0, 0), ReasonHoliday},
		{"no region, a New York number", Borrower{TimeZone: "America/New_York", Phone: newYorkNumber},
			utc(2026, 11, 28, 1, 30), utc(2026, 11, 28, 1, 30), ""}, // 20:30 EST: 08:00-21:00 by default
		{"no region, a Miami number: Florida's 20:00", Borrower{TimeZone: "America/New_York", Phone: miamiNumber},
			utc(2026, 11, 28, 1, 30), utc(2026, 11, 28, 13, 0), ReasonQuietHours},
		{"a configured subdivision keeps its country's holidays", Borrower{Region: "CN-11", Phone: shanghaiNumber},
			holidayMorning, utc(2026, 11, 28, 1, 0), ReasonHoliday}, // and its own 09:00
		{"a Beijing region with a Miami number: no common window", Borrower{Region: "CN-11", TimeZone: "Asia/Shanghai", Phone: miamiNumber},
			utc(2026, 11, 25, 2, 0), time.Time{}, ReasonNoCommonWindow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			b.ID, b.Email = 1, "ann@example.com"
			due := civil.DateIn(tc.asOf, cfg.BusinessZone).AddDays(-1)
			plan := decide(p, &Request{AsOf: tc.asOf, Borrower: &b, Items: []Item{item(1, due)}})
			o := outcomeFor(t, plan, 0, SMS)
			if tc.at.IsZero() {
				if o.Decision != Suppressed || o.Reason != tc.reason {
					t.Fatalf("sms: %+v, want suppressed %s", o, tc.reason)
				}
				return
			}
			m := messageFor(t, plan, SMS)
			if !m.At.Equal(tc.at) || m.Reason != tc.reason {
				t.Errorf("sms at %s (%s %q), want %s %q; regions %v", m.At, m.Decision, m.Reason, tc.at, tc.reason, plan.Regions)
			}
		})
	}
}

// The combined rules of a set of regions are built once, whatever order
// the regions come in, and a borrower decided on them allocates nothing;
// regions whose rules allow the same times (a state configured for its
// zones alone, and its country) need no combination.
func TestCombinedRulesAreCached(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Regions["US-NY"] = Region{Zones: []string{"America/New_York"}}
	p := mustNew(t, cfg)
	if ny := p.regionRules([]RegionUse{{"US-NY", SourceRegion}, {"US", SourcePhone}}); ny != p.regions["US-NY"] {
		t.Errorf("US-NY (zones alone) and US: %s, want US-NY's own rules", ny.key)
	}
	a := p.regionRules([]RegionUse{{"US-FL", SourcePhone}, {"US", SourcePhone}, {"CN", SourceTimeZone}})
	b := p.regionRules([]RegionUse{{"CN", SourceRegion}, {"US-FL", SourcePhone}, {"US", SourceTimeZone}, {"CN-31", SourcePhone}})
	if a != b || a.parts == nil || len(a.parts) != 3 {
		t.Fatalf("two lookups of one combination: %p %p (%s, %d parts)", a, b, a.key, len(a.parts))
	}
	if one := p.regionRules([]RegionUse{{"CN-31", SourceRegion}, {"CN", SourcePhone}}); one != p.regions["CN"] {
		t.Errorf("regions that share one rule set: %s, want CN's own", one.key)
	}
	if p.regionRules(nil) != p.defaultRules || p.regionRules([]RegionUse{{"ZZ", SourceRegion}}) != p.defaultRules {
		t.Error("no region, or one without rules: want the defaults")
	}

	bw := borrower("America/New_York")
	bw.Phone.Country, bw.Phone.Subdivisions = "US", []string{"US-FL"}
	req := &Request{AsOf: utc(2026, 1, 15, 15, 0), Borrower: bw, Items: []Item{item(1, date(2026, 1, 14))}}
	var plan Plan
	p.Decide(req, &plan)
	if len(plan.Regions) != 2 {
		t.Fatalf("regions %v", plan.Regions)
	}
	if n := testing.AllocsPerRun(100, func() { p.Decide(req, &plan) }); n != 0 {
		t.Errorf("Decide allocates %v times for a borrower of two regions", n)
	}
}

func TestIntersectWindows(t *testing.T) {
	w := func(days Weekdays, from, to string) Window {
		return Window{Days: days, From: clk(t, from), To: clk(t, to)}
	}
	weekdays := Weekdays(0b0111110)
	for _, tc := range []struct {
		name   string
		groups [][]Window
		want   []Window
	}{
		{"Florida within Reg F", [][]Window{{w(AllDays, "08:00", "21:00")}, {w(AllDays, "08:00", "20:00")}}, []Window{w(AllDays, "08:00", "20:00")}},
		{"no time in common", [][]Window{{w(AllDays, "08:00", "12:00")}, {w(AllDays, "12:00", "20:00")}}, nil},
		{"weekdays of one, hours of the other", [][]Window{{w(weekdays, "08:00", "21:00")}, {w(AllDays, "09:00", "22:00")}}, []Window{w(weekdays, "09:00", "21:00")}},
		{"across midnight", [][]Window{{w(AllDays, "20:00", "02:00")}, {w(AllDays, "00:00", "24:00")}},
			[]Window{w(AllDays, "00:00", "02:00"), w(AllDays, "20:00", "24:00")}},
		{"two windows against one", [][]Window{{w(AllDays, "08:00", "11:00"), w(AllDays, "14:00", "21:00")}, {w(AllDays, "10:00", "20:00")}},
			[]Window{w(AllDays, "10:00", "11:00"), w(AllDays, "14:00", "20:00")}},
		{"a Saturday night crossing into Sunday", [][]Window{{w(wd(time.Saturday), "22:00", "03:00")}, {w(wd(time.Sunday), "01:00", "12:00")}},
			[]Window{w(wd(time.Sunday), "01:00", "03:00")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := intersectWindows(tc.groups); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The intersection allows exactly the wall clock readings that every group
// allows, minute by minute through the week (windows are minute-aligned).
func TestPropertyIntersectWindows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var groups [][]Window
		for g := range rapid.IntRange(1, 3).Draw(t, "groups") {
			var group []Window
			for i := range rapid.IntRange(1, 3).Draw(t, fmt.Sprintf("group%d", g)) {
				group = append(group, drawWindow(t, fmt.Sprintf("window%d_%d", g, i)))
			}
			groups = append(groups, group)
		}
		got := intersectWindows(groups)
		in := func(windows []Window, day int64, s int32) bool {
			for _, w := range windows {
				if ok, _ := inSpan(w.Days, int32(w.From), int32(w.To), day, s); ok {
					return true
				}
			}
			return false
		}
		for day := int64(0); day < 7; day++ {
			for s := int32(0); s < secondsPerDay; s += 60 {
				want := true
				for _, g := range groups {
					want = want && in(g, day, s)
				}
				if in(got, day, s) != want {
					t.Fatalf("%s %02d:%02d: intersection %v says %v, groups %v say %v",
						time.Weekday(weekdayOf(day)), s/3600, s%3600/60, got, !want, groups, want)
				}
			}
		}
	})
}

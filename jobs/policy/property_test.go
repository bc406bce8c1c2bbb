package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/loanremind/loanremind/jobs/civil"
)

// The zones the properties draw from: DST in both hemispheres, 30-minute
// DST, half- and quarter-hour offsets, a zone that skips midnight
// (Santiago), one that repeats it (Havana), and the extremes of the offsets.
func propZones() []string {
	return []string{
		"America/New_York", "America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago",
		"Europe/Berlin", "Europe/London", "Australia/Lord_Howe", "Australia/Adelaide", "Asia/Kolkata",
		"Asia/Kathmandu", "Pacific/Chatham", "Asia/Shanghai", "America/Santiago", "America/Havana",
		"UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago",
	}
}

// propBases are instants near the zone transitions of 2026-2028, where the
// properties are most likely to find a bug.
func propBases() []time.Time {
	return []time.Time{
		utc(2026, 3, 8, 7, 0), utc(2026, 11, 1, 6, 0), // New York
		utc(2026, 3, 29, 1, 0), utc(2026, 10, 25, 1, 0), // Europe
		utc(2026, 10, 3, 15, 30), utc(2026, 4, 4, 15, 0), // Lord Howe
		utc(2026, 9, 26, 14, 0), utc(2026, 4, 4, 14, 0), // Chatham
		utc(2026, 9, 6, 4, 0), utc(2026, 4, 5, 3, 0), // Santiago
		utc(2026, 3, 8, 5, 0), utc(2026, 11, 1, 5, 0), // Havana
		utc(2028, 2, 29, 12, 0), utc(2027, 1, 1, 0, 0), utc(2026, 6, 15, 12, 0),
	}
}

// propStages keep validities within a few days so that brute force is cheap.
func propStages(t *rapid.T) Stages {
	return Stages{
		{Name: "soon", DaysFromDue: -2, Channels: []Channel{SMS}},
		{Name: "due", DaysFromDue: 0, Channels: []Channel{SMS}, Fallback: Email, CapExempt: rapid.IntRange(0, 4).Draw(t, "exempt1") == 4},
		{Name: "late", DaysFromDue: 1, Channels: []Channel{SMS, Email}},
		{Name: "final", DaysFromDue: 3, Channels: []Channel{Email}, Fallback: SMS,
			ExpiresAfter: time.Duration(rapid.IntRange(1, 72).Draw(t, "expires")) * time.Hour,
			CapExempt:    rapid.Bool().Draw(t, "exempt3")},
	}
}

func drawMinuteClock(t *rapid.T, label string) Clock {
	return Clock(rapid.IntRange(0, 24*60).Draw(t, label) * 60)
}

func drawDays(t *rapid.T, label string) Weekdays {
	if rapid.Bool().Draw(t, label+"_all") {
		return AllDays
	}
	return Weekdays(rapid.IntRange(1, 127).Draw(t, label))
}

// drawWindow draws a minute-aligned window: usually a daytime one, else any
// (across midnight, ending at 24:00, a few minutes long...).
func drawWindow(t *rapid.T, label string) Window {
	var from, to Clock
	if rapid.IntRange(0, 2).Draw(t, label+"_kind") == 0 {
		from = Clock(rapid.IntRange(6*60, 11*60).Draw(t, label+"_from") * 60)
		to = Clock(rapid.IntRange(17*60, 24*60).Draw(t, label+"_to") * 60)
	} else {
		from = drawMinuteClock(t, label+"_from")
		to = drawMinuteClock(t, label+"_to")
	}
	if from == to || (from == secondsPerDay && to == 0) {
		to = (from + 3600) % secondsPerDay
	}
	return Window{Days: drawDays(t, label+"_days"), From: from, To: to}
}

// propCase is one generated scenario.
type propCase struct {
	cfg Config
	req Request
}

func drawCase(t *rapid.T) propCase {
	loc := func(name string) *time.Location {
		l, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		return l
	}
	zone := rapid.SampledFrom(propZones())
	var cfg Config
	cfg.Stages = propStages(t)
	cfg.BusinessZone = loc(zone.Draw(t, "business_zone"))
	cfg.DefaultZone = loc(zone.Draw(t, "default_zone"))
	for i := range rapid.IntRange(1, 3).Draw(t, "windows") {
		cfg.Allowed = append(cfg.Allowed, drawWindow(t, fmt.Sprintf("window%d", i)))
	}
	base := rapid.SampledFrom(propBases()).Draw(t, "base")
	asOf := base.Add(time.Duration(rapid.IntRange(-3*24*60, 3*24*60).Draw(t, "as_of_minutes")) * time.Minute)
	if rapid.Bool().Draw(t, "as_of_seconds") {
		asOf = asOf.Add(time.Duration(rapid.Int64Range(0, int64(time.Minute)-1).Draw(t, "as_of_ns")))
	}
	businessDate := civil.DateIn(asOf, cfg.BusinessZone)
	// Regions: ZZ always, the others sometimes (ZY-A a subdivision of ZY;
	// US, CN and NZ the countries of some zones), each with holidays,
	// zones and windows of its own or not.
	cfg.Regions = map[string]Region{}
	for _, code := range propRegions() {
		if code != "ZZ" && rapid.IntRange(0, 2).Draw(t, "has_"+code) == 0 {
			continue
		}
		var region Region
		for i := range rapid.IntRange(0, 3).Draw(t, code+"_holidays") {
			region.Holidays = append(region.Holidays, businessDate.AddDays(rapid.IntRange(-1, 6).Draw(t, fmt.Sprintf("%s_holiday%d", code, i))))
		}
		for i := range rapid.IntRange(0, 2).Draw(t, code+"_zones") {
			region.Zones = append(region.Zones, zone.Draw(t, fmt.Sprintf("%s_zone%d", code, i)))
		}
		if rapid.IntRange(0, 2).Draw(t, code+"_allowed") == 0 {
			for i := range rapid.IntRange(1, 2).Draw(t, code+"_windows") {
				region.Allowed = append(region.Allowed, drawWindow(t, fmt.Sprintf("%s_window%d", code, i)))
			}
		}
		cfg.Regions[code] = region
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "caps") {
		per := rapid.SampledFrom([]time.Duration{24 * time.Hour, 168 * time.Hour, 3 * time.Hour, 0}).Draw(t, fmt.Sprintf("cap%d_per", i))
		if per == 0 {
			per = time.Duration(rapid.IntRange(30, 48*60).Draw(t, fmt.Sprintf("cap%d_minutes", i))) * time.Minute
		}
		c := Cap{Max: rapid.IntRange(1, 3).Draw(t, fmt.Sprintf("cap%d_max", i)), Per: per}
		switch rapid.IntRange(0, 2).Draw(t, fmt.Sprintf("cap%d_channels", i)) {
		case 1:
			c.Channels = []Channel{SMS}
		case 2:
			c.Channels = []Channel{Email}
		}
		cfg.Caps = append(cfg.Caps, c)
	}
	if rapid.Bool().Draw(t, "msw_on") {
		cfg.MinSendWindow = time.Duration(rapid.IntRange(1, 60).Draw(t, "msw")) * time.Minute
	}
	cfg.MaxPhoneZones = rapid.IntRange(0, 3).Draw(t, "max_phone_zones")
	cfg.LateValidity = time.Duration(rapid.IntRange(0, 48).Draw(t, "late_validity")) * time.Hour

	b := &Borrower{ID: 7}
	switch rapid.IntRange(0, 19).Draw(t, "tz_kind") {
	case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11:
		b.TimeZone = zone.Draw(t, "time_zone")
	case 19:
		b.TimeZone = "Mars/Base"
	}
	b.Region = rapid.SampledFrom([]string{"", "", "ZZ", "ZZ", "ZY-A", "ZY-B", " zz", "US-FL", "Florida"}).Draw(t, "region")
	switch rapid.IntRange(0, 7).Draw(t, "phone") {
	case 6:
	case 7:
		b.Phone = Phone{Raw: "555", Country: "ZY"} // invalid: no region
	default:
		b.Phone = Phone{Raw: "2125551234", E164: "+12125551234", Valid: true}
		b.Phone.Country = rapid.SampledFrom([]string{"", "ZY", "US", "CN"}).Draw(t, "phone_country")
		b.Phone.Subdivisions = rapid.SampledFrom([][]string{nil, nil, {"ZY-A"}, {"ZY-B", "ZY-A"}, {"US-FL"}}).Draw(t, "phone_subdivisions")
		for i := range rapid.IntRange(0, 3).Draw(t, "phone_zones") {
			z := zone.Draw(t, fmt.Sprintf("phone_zone%d", i))
			if rapid.IntRange(0, 9).Draw(t, fmt.Sprintf("phone_unknown%d", i)) == 9 {
				z = unknownPhoneZone
			}
			b.Phone.Zones = append(b.Phone.Zones, z)
		}
	}
	b.Email = rapid.SampledFrom([]string{"ann@example.com", "ann@example.com", "ann@example.com", "", "ann@example", "a b@example.com"}).Draw(t, "email")
	b.SMSOptOut = rapid.IntRange(0, 6).Draw(t, "sms_opt_out") == 6
	b.EmailOptOut = rapid.IntRange(0, 6).Draw(t, "email_opt_out") == 6
	b.DoNotContact = rapid.IntRange(0, 29).Draw(t, "dnc") == 29
	for i := range rapid.IntRange(0, 2).Draw(t, "quiet") {
		w := drawWindow(t, fmt.Sprintf("quiet%d", i))
		q := QuietWindow{Days: w.Days, From: w.From, To: w.To}
		if rapid.Bool().Draw(t, fmt.Sprintf("quiet%d_bounded", i)) {
			q.NotBefore = businessDate.AddDays(rapid.IntRange(-2, 3).Draw(t, fmt.Sprintf("quiet%d_from", i)))
			q.NotAfter = q.NotBefore.AddDays(rapid.IntRange(0, 3).Draw(t, fmt.Sprintf("quiet%d_days", i)))
		}
		b.Quiet = append(b.Quiet, q)
	}

	req := Request{AsOf: asOf, NotBefore: asOf, Borrower: b}
	if rapid.Bool().Draw(t, "backfill") {
		req.NotBefore = asOf.Add(time.Duration(rapid.Int64Range(0, int64(72*time.Hour)).Draw(t, "not_before_delay")))
		req.Options.SendLate = rapid.Bool().Draw(t, "send_late")
	}
	for i := range rapid.IntRange(1, 4).Draw(t, "items") {
		it := Item{InstallmentID: int64(100 + i), LoanID: int64(rapid.IntRange(1, 3).Draw(t, fmt.Sprintf("loan%d", i))), Seq: i,
			DueDate:        businessDate.AddDays(2 - rapid.IntRange(0, 9).Draw(t, fmt.Sprintf("days%d", i))), // -2..7 days past due
			AmountDueMinor: 1000, Currency: "USD", LoanStatus: "active"}
		if rapid.IntRange(0, 9).Draw(t, fmt.Sprintf("paid_off%d", i)) == 9 {
			it.LoanStatus = "paid_off"
		}
		req.Items = append(req.Items, it)
	}
	for i := range rapid.IntRange(0, 4).Draw(t, "existing") {
		span := rapid.SampledFrom([]int{6 * 60, 48 * 60}).Draw(t, fmt.Sprintf("sent%d_span", i))
		at := asOf.Truncate(time.Minute).Add(time.Duration(rapid.IntRange(-span, span).Draw(t, fmt.Sprintf("sent%d", i))) * time.Minute)
		req.Existing = append(req.Existing, Contact{At: at, Channel: rapid.SampledFrom([]Channel{SMS, Email}).Draw(t, fmt.Sprintf("sent%d_ch", i))})
	}
	return propCase{cfg: cfg, req: req}
}

// ref is an independent, slow model of the rules: wall clocks from
// time.Time.In, every weekly rule written out, caps checked on every
// rolling window that can contain the send.
type ref struct {
	groups   [][]Window // an instant is open when some window of every group allows it
	holidays map[civil.Date]bool
	quiet    []QuietWindow
	locs     []*time.Location
}

func refIn(days Weekdays, from, to Clock, lt time.Time) (bool, civil.Date) {
	s := Clock(lt.Hour()*3600 + lt.Minute()*60 + lt.Second())
	d := civil.DateOf(lt.Date())
	today, yesterday := lt.Weekday(), (lt.Weekday()+6)%7
	switch {
	case from < to:
		return days.Has(today) && s >= from && s < to, d
	case s >= from:
		return days.Has(today), d
	case s < to:
		return days.Has(yesterday), d.AddDays(-1)
	}
	return false, d
}

// mask returns the rules that block x (blk* bits), over every zone.
func (r *ref) mask(x time.Time, windowsOnly bool) uint8 {
	var m uint8
	for _, loc := range r.locs {
		lt := x.In(loc)
		open := true
		for _, g := range r.groups {
			inGroup := false
			for _, w := range g {
				if in, _ := refIn(w.Days, w.From, w.To, lt); in {
					inGroup = true
				}
			}
			open = open && inGroup
		}
		if !open {
			m |= blockedByWindow
		}
		if windowsOnly {
			continue
		}
		if r.holidays[civil.DateOf(lt.Date())] {
			m |= blockedByHoliday
		}
		for _, q := range r.quiet {
			days := q.Days
			if days == 0 {
				continue // no day: never applies
			}
			if in, start := refIn(days, q.From, q.To, lt); in &&
				(q.NotBefore == 0 || start >= q.NotBefore) && (q.NotAfter == 0 || start <= q.NotAfter) {
				m |= blockedByQuiet
			}
		}
	}
	return m
}

// capOK checks one cap at x against sorted sends: every window [a, a+per)
// containing x, i.e. every a in (x-per, x], holds at most max-1 sends. The
// count only changes where a passes s-per or s, so those are the windows
// to check.
func capOK(c Cap, sends []time.Time, x time.Time) bool {
	starts := []time.Time{x.Add(-c.Per + 1), x}
	for _, s := range sends {
		starts = append(starts, s.Add(-c.Per+1), s.Add(1))
	}
	for _, a := range starts {
		if !a.After(x.Add(-c.Per)) || a.After(x) {
			continue
		}
		n := 0
		for _, s := range sends {
			if !s.Before(a) && s.Before(a.Add(c.Per)) {
				n++
			}
		}
		if n+1 > c.Max {
			return false
		}
	}
	return true
}

// refBlocker names the rule reported when several block: the most
// specific (a holiday explains a whole lost day, a quiet window is the
// borrower's own request), quiet hours otherwise.
func refBlocker(m uint8) string {
	if m&blockedByHoliday != 0 {
		return "holiday"
	}
	if m&blockedByQuiet != 0 {
		return "borrower_quiet_window"
	}
	if m&blockedByWindow != 0 {
		return "quiet_hours"
	}
	return "(nothing blocks)"
}

func refEmailOK(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && !strings.Contains(domain, "@") && !strings.ContainsAny(s, " \t") &&
		strings.Contains(strings.Trim(domain, "."), ".")
}

func refUsable(b *Borrower, ch Channel) bool {
	if ch == SMS {
		return b.Phone.Raw != "" && b.Phone.Valid && b.Phone.E164 != "" && !b.SMSOptOut
	}
	return refEmailOK(b.Email) && !b.EmailOptOut
}

// refZones resolves the candidate zones (rule 3) independently.
func refZones(cfg *Config, b *Borrower) (names []string, ok bool) {
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if b.TimeZone != "" {
		if _, err := time.LoadLocation(b.TimeZone); err != nil {
			return nil, false
		}
		add(b.TimeZone)
	}
	var phone []string
	if b.Phone.Valid {
		for _, z := range b.Phone.Zones {
			if z != unknownPhoneZone {
				phone = append(phone, z)
			}
		}
	}
	maxZones := cfg.MaxPhoneZones
	if maxZones == 0 {
		maxZones = 3
	}
	if len(phone) <= maxZones {
		for _, z := range phone {
			add(z)
		}
	}
	if code := refRegionCode(b.Region); code != "" {
		_, _, zones := refRules(cfg, code)
		for _, z := range zones {
			add(z)
		}
	}
	if len(names) == 0 {
		add(cfg.DefaultZone.String())
	}
	return names, true
}

// propRegions are the region keys drawCase may configure.
func propRegions() []string { return []string{"ZZ", "ZY", "ZY-A", "US", "CN", "NZ"} }

// refZoneCountry is the country of each of propZones, from zone.tab by
// hand.
func refZoneCountry(zone string) string {
	switch zone {
	case "America/New_York", "America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago", "Pacific/Pago_Pago":
		if zone == "Pacific/Pago_Pago" {
			return "AS"
		}
		return "US"
	case "Europe/Berlin":
		return "DE"
	case "Europe/London":
		return "GB"
	case "Australia/Lord_Howe", "Australia/Adelaide":
		return "AU"
	case "Asia/Kolkata":
		return "IN"
	case "Asia/Kathmandu":
		return "NP"
	case "Pacific/Chatham":
		return "NZ"
	case "Asia/Shanghai":
		return "CN"
	case "America/Santiago":
		return "CL"
	case "America/Havana":
		return "CU"
	case "Pacific/Kiritimati":
		return "KI"
	}
	return "" // UTC
}

// refRegionCode is a borrower's region as a code, or "".
func refRegionCode(region string) string {
	code := strings.ToUpper(strings.TrimSpace(region))
	country, sub, hasSub := strings.Cut(code, "-")
	letters := func(s string) bool { return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "" }
	if len(country) != 2 || !letters(country) || (hasSub && (len(sub) < 1 || len(sub) > 3 || strings.Trim(sub, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "")) {
		return ""
	}
	return code
}

// refRegions lists the candidate regions: the borrower's, the valid
// phone's subdivisions and country, the time zone's country; no repeats.
func refRegions(b *Borrower) []string {
	var codes []string
	add := func(c string) {
		if c != "" && !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	add(refRegionCode(b.Region))
	if b.Phone.Valid {
		for _, c := range b.Phone.Subdivisions {
			add(c)
		}
		add(b.Phone.Country)
	}
	if b.TimeZone != "" {
		add(refZoneCountry(b.TimeZone))
	}
	return codes
}

// refRules is what Config documents for a region code: the exact key's
// windows and zones, else its country's, else the default windows; the
// holidays of both.
func refRules(cfg *Config, code string) (windows []Window, holidays []civil.Date, zones []string) {
	exact, okExact := cfg.Regions[code]
	country, okCountry := Region{}, false
	if len(code) > 2 {
		country, okCountry = cfg.Regions[code[:2]]
	}
	windows = cfg.Allowed
	switch {
	case okExact && len(exact.Allowed) > 0:
		windows = exact.Allowed
	case okCountry && len(country.Allowed) > 0:
		windows = country.Allowed
	}
	switch {
	case okExact && len(exact.Zones) > 0:
		zones = exact.Zones
	case okCountry:
		zones = country.Zones
	}
	holidays = append(slices.Clone(exact.Holidays), country.Holidays...)
	return windows, holidays, zones
}

// TestPropertySchedule: for random zones, windows (across midnight too),
// holidays, quiet windows, caps with existing sends and start times around
// DST changes, Decide's answer equals a brute-force search at one-minute
// steps (every boundary is minute-aligned), and every (item, channel) is
// decided exactly once.
func TestPropertySchedule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawCase(t)
		checkCase(t, c)
	})
}

// fataler is what the checks need of *testing.T and *rapid.T.
type fataler interface {
	Fatalf(format string, args ...any)
}

// checkCase runs Decide on c and checks every property against the
// reference model; it is shared by the rapid property and the fuzz target.
func checkCase(t fataler, c propCase) {
	p, err := New(c.cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var plan Plan
	p.Decide(&c.req, &plan)
	req, b, cfg := &c.req, c.req.Borrower, &c.cfg

	// Zones.
	names, zonesOK := refZones(cfg, b)
	var got []string
	for _, z := range plan.Zones {
		got = append(got, z.Name)
	}
	if zonesOK && !slices.Equal(got, names) {
		t.Fatalf("zones %v, want %v", got, names)
	}

	// Coverage: the expected (item, channel) pairs and which are sendable.
	businessDate := civil.DateIn(req.AsOf, cfg.BusinessZone)
	type key struct {
		item int
		ch   Channel
	}
	expect := map[key]bool{} // value: sendable (goes to scheduling)
	noStage := map[int]bool{}
	for i, it := range req.Items {
		idx, ok := cfg.Stages.At(it.DueDate, businessDate)
		if !ok {
			noStage[i] = true
			continue
		}
		st := cfg.Stages[idx]
		eligible := !b.DoNotContact && it.LoanStatus == "active" && zonesOK
		usable := false
		for _, ch := range st.Channels {
			u := eligible && refUsable(b, ch)
			expect[key{i, ch}] = u
			usable = usable || u
		}
		if eligible && !usable && st.Fallback != "" {
			expect[key{i, st.Fallback}] = refUsable(b, st.Fallback)
		}
	}
	seen := map[key]Outcome{}
	for _, o := range plan.Outcomes {
		if o.Stage == -1 {
			if !noStage[o.Item] || o.Reason != ReasonNoStage || o.Channel != "" || o.Decision != Skipped {
				t.Fatalf("unexpected stage-less outcome %+v", o)
			}
			delete(noStage, o.Item)
			continue
		}
		k := key{o.Item, o.Channel}
		if _, dup := seen[k]; dup {
			t.Fatalf("two outcomes for %+v", k)
		}
		if _, ok := expect[k]; !ok {
			t.Fatalf("unexpected outcome %+v", o)
		}
		seen[k] = o
		inMsg := o.Decision == Queued || o.Decision == Deferred
		if inMsg != (o.Message >= 0) {
			t.Fatalf("outcome %+v: message index does not match the decision", o)
		}
		if o.Message >= 0 {
			m := plan.Messages[o.Message]
			if m.Channel != o.Channel || !slices.Contains(m.Items, o.Item) || m.Decision != o.Decision || m.Reason != o.Reason {
				t.Fatalf("outcome %+v does not match message %+v", o, m)
			}
		}
	}
	if len(noStage) != 0 || len(seen) != len(expect) {
		t.Fatalf("outcomes missing: no_stage %v, decided %d of %d", noStage, len(seen), len(expect))
	}
	for _, m := range plan.Messages {
		for _, i := range m.Items {
			if o := seen[key{i, m.Channel}]; o.Message < 0 || plan.Messages[o.Message].Channel != m.Channel {
				t.Fatalf("message %+v lists item %d without its outcome", m, i)
			}
		}
	}
	if !zonesOK {
		return
	}

	// Scheduling, channel by channel, against brute force.
	r := &ref{quiet: b.Quiet, holidays: map[civil.Date]bool{}}
	codes := refRegions(b)
	var gotRegions []string
	for _, ru := range plan.Regions {
		gotRegions = append(gotRegions, ru.Code)
	}
	if !slices.Equal(gotRegions, codes) {
		t.Fatalf("regions %v, want %v", gotRegions, codes)
	}
	if len(codes) == 0 {
		r.groups = [][]Window{cfg.Allowed}
	}
	for _, code := range codes {
		windows, holidays, _ := refRules(cfg, code)
		r.groups = append(r.groups, windows)
		for _, h := range holidays {
			r.holidays[h] = true
		}
	}
	for _, n := range names {
		l, _ := time.LoadLocation(n)
		r.locs = append(r.locs, l)
	}
	var smsAt *time.Time
	for _, ch := range []Channel{SMS, Email} {
		var members []int
		for k, sendable := range expect {
			if k.ch == ch && sendable {
				members = append(members, k.item)
			}
		}
		slices.Sort(members)
		var msg *Message
		for i := range plan.Messages {
			if plan.Messages[i].Channel == ch {
				msg = &plan.Messages[i]
			}
		}
		if len(members) == 0 {
			if msg != nil {
				t.Fatalf("%s message without members", ch)
			}
			continue
		}
		checkChannel(t, cfg, req, r, ch, members, byItem(seen, ch), msg, smsAt)
		if ch == SMS && msg != nil {
			at := msg.At
			smsAt = &at
		}
	}
}

// byItem returns the outcomes on ch by item.
func byItem[K comparable](m map[K]Outcome, ch Channel) map[int]Outcome {
	out := map[int]Outcome{}
	for _, o := range m {
		if o.Channel == ch {
			out[o.Item] = o
		}
	}
	return out
}

// grid holds the brute-force verdicts on every instant where anything can
// change: NotBefore, every minute boundary after it (window edges, zone
// transitions and existing sends are minute-aligned) and the given extra
// instants (cap events of a message planned at NotBefore).
type grid struct {
	pts  []time.Time
	perm []bool
}

func (g *grid) at(k int) time.Time { return g.pts[k] }

func newGrid(r *ref, notBefore, until time.Time, windowsOnly bool, extra ...time.Time) *grid {
	g := &grid{pts: []time.Time{notBefore}}
	for x := notBefore.Truncate(time.Minute).Add(time.Minute); x.Before(until); x = x.Add(time.Minute) {
		g.pts = append(g.pts, x)
	}
	for _, x := range extra {
		if x.After(notBefore) && x.Before(until) {
			g.pts = append(g.pts, x)
		}
	}
	slices.SortFunc(g.pts, time.Time.Compare)
	g.pts = slices.CompactFunc(g.pts, time.Time.Equal)
	for _, x := range g.pts {
		g.perm = append(g.perm, r.mask(x, windowsOnly) == 0)
	}
	return g
}

// stretchEnd returns the first grid instant after k that is not permissible
// (or the end of the grid).
func (g *grid) stretchEnd(k int) (time.Time, bool) {
	for j := k + 1; j < len(g.perm); j++ {
		if !g.perm[j] {
			return g.at(j), true
		}
	}
	return g.at(len(g.perm) - 1).Add(time.Minute), false
}

func checkChannel(t fataler, cfg *Config, req *Request, r *ref, ch Channel, members []int,
	outcomes map[int]Outcome, msg *Message, smsAt *time.Time) {
	notBefore := req.NotBefore
	businessDate := civil.DateIn(req.AsOf, cfg.BusinessZone)
	late := cfg.LateValidity
	if late == 0 {
		late = DefaultLateValidity
	}

	// Validity, exemption, the sends each cap counts.
	valid := map[int]time.Time{}
	var passed []int
	horizon := time.Time{}
	exempt := true
	for _, i := range members {
		idx, _ := cfg.Stages.At(req.Items[i].DueDate, businessDate)
		v := cfg.Stages.ValidUntil(idx, req.Items[i].DueDate, cfg.BusinessZone)
		if !v.After(notBefore) {
			if !req.Options.SendLate {
				passed = append(passed, i)
				continue
			}
			v = notBefore.Add(late)
		}
		exempt = exempt && cfg.Stages[idx].CapExempt // caps apply unless every item that may go is exempt
		valid[i] = v
		if v.After(horizon) {
			horizon = v
		}
	}
	type capSends struct {
		c     Cap
		sends []time.Time
	}
	var caps []capSends
	if !exempt {
		for _, c := range cfg.Caps {
			if len(c.Channels) > 0 && !slices.Contains(c.Channels, ch) {
				continue
			}
			cs := capSends{c: c}
			for _, e := range req.Existing {
				if len(c.Channels) == 0 || slices.Contains(c.Channels, e.Channel) {
					cs.sends = append(cs.sends, e.At)
				}
			}
			if smsAt != nil && (len(c.Channels) == 0 || slices.Contains(c.Channels, SMS)) {
				cs.sends = append(cs.sends, *smsAt)
			}
			caps = append(caps, cs)
		}
	}
	firstFullCap := func(x time.Time) string {
		for _, cs := range caps {
			if !capOK(cs.c, cs.sends, x) {
				return ReasonFrequencyCapPrefix + cs.c.Name()
			}
		}
		return ""
	}

	// Brute force: the earliest acceptable grid instant before the horizon.
	minSendWindow := cfg.MinSendWindow
	var events []time.Time
	for _, cs := range caps {
		for _, x := range cs.sends {
			events = append(events, x.Add(cs.c.Per))
		}
	}
	g := newGrid(r, notBefore, horizon.Add(minSendWindow+time.Minute), false, events...) // horizon is zero when every item passed
	acceptable := func(k int) bool {
		if !g.perm[k] {
			return false
		}
		end, _ := g.stretchEnd(k)
		return end.Sub(g.at(k)) >= minSendWindow
	}
	best := -1
	for k := 0; k < len(g.perm) && g.at(k).Before(horizon); k++ {
		if acceptable(k) && firstFullCap(g.at(k)) == "" {
			best = k
			break
		}
	}
	// Reg F comment 6(b)(1)(i)-2: no common window in 8 days → suppressed.
	// A permissible send time within 8 days proves a common window;
	// otherwise search the weekly windows alone.
	if best < 0 || !g.at(best).Before(notBefore.Add(commonLookahead)) {
		common := newGrid(r, notBefore, notBefore.Add(commonLookahead), true)
		if !slices.Contains(common.perm, true) {
			for _, i := range members {
				if o := outcomes[i]; o.Decision != Suppressed || o.Reason != ReasonNoCommonWindow {
					t.Fatalf("%s item %d: %+v, want no_common_window", ch, i, o)
				}
			}
			if msg != nil {
				t.Fatalf("message despite no common window")
			}
			return
		}
	}
	for _, i := range passed {
		if o := outcomes[i]; o.Decision != Expired || o.Reason != ReasonValidUntilPassed {
			t.Fatalf("%s item %d: %+v, want expired valid_until_passed", ch, i, o)
		}
	}
	if len(valid) == 0 {
		if msg != nil {
			t.Fatalf("message with every item passed")
		}
		return
	}
	blockerAt := func(x time.Time) uint8 {
		m := r.mask(x, false)
		if m == 0 && minSendWindow > 0 { // permissible, stretch too short: what closes it
			for y := x.Truncate(time.Minute).Add(time.Minute); y.Before(x.Add(minSendWindow + time.Minute)); y = y.Add(time.Minute) {
				if m = r.mask(y, false); m != 0 {
					break
				}
			}
		}
		return m
	}
	acceptableAt := func(x time.Time) bool {
		if r.mask(x, false) != 0 {
			return false
		}
		for y := x.Truncate(time.Minute).Add(time.Minute); y.Before(x.Add(minSendWindow)); y = y.Add(time.Minute) {
			if r.mask(y, false) != 0 {
				return false
			}
		}
		return true
	}

	var kept []int
	for _, i := range members {
		v, ok := valid[i]
		if !ok {
			continue
		}
		if best >= 0 && v.After(g.at(best)) {
			kept = append(kept, i)
			continue
		}
		o := outcomes[i]
		last := v.Add(-1)
		switch {
		case o.Decision == Suppressed && strings.HasPrefix(o.Reason, ReasonFrequencyCapPrefix):
			found := false
			for _, cs := range caps {
				if o.Reason == ReasonFrequencyCapPrefix+cs.c.Name() && !capOK(cs.c, cs.sends, last) {
					found = true
				}
			}
			if !found {
				t.Fatalf("%s item %d: %+v, but that cap is not full just before its validity ends (%s)", ch, i, o, v)
			}
		case o.Decision == Expired && strings.HasPrefix(o.Reason, ReasonNoPermissibleTimePrefix):
			if acceptableAt(last) {
				t.Fatalf("%s item %d: %+v, but %s is permissible", ch, i, o, last)
			}
			if want := ReasonNoPermissibleTimePrefix + refBlocker(blockerAt(last)); o.Reason != want {
				t.Fatalf("%s item %d: reason %q, want %q", ch, i, o.Reason, want)
			}
		default:
			t.Fatalf("%s item %d valid until %s (earliest time %d): %+v, want expired or frequency_cap", ch, i, v, best, o)
		}
	}
	if len(kept) == 0 {
		if msg != nil {
			t.Fatalf("%s message %+v, but brute force finds no send time before the validity of its items", ch, *msg)
		}
		return
	}
	if msg == nil {
		t.Fatalf("no %s message; brute force sends items %v at %s", ch, kept, g.at(best))
	}
	at := g.at(best)
	if !msg.At.Equal(at) {
		t.Fatalf("%s at %s, brute force %s", ch, msg.At, at)
	}
	got := slices.Clone(msg.Items)
	slices.Sort(got)
	if !slices.Equal(got, kept) {
		t.Fatalf("%s items %v, want %v", ch, msg.Items, kept)
	}
	minValid := horizon
	for _, i := range kept {
		if valid[i].Before(minValid) {
			minValid = valid[i]
		}
	}
	wantUntil := minValid
	if end, ok := g.stretchEnd(best); ok && end.Before(minValid) {
		wantUntil = end
	}
	if !msg.ValidUntil.Equal(wantUntil) {
		t.Fatalf("%s valid until %s, want %s", ch, msg.ValidUntil, wantUntil)
	}
	if msg.CapExempt != exempt {
		t.Fatalf("CapExempt %v, want %v", msg.CapExempt, exempt)
	}
	if at.Equal(notBefore) {
		if msg.Decision != Queued || msg.Reason != "" {
			t.Fatalf("%s at NotBefore: %s %q, want queued", ch, msg.Decision, msg.Reason)
		}
		return
	}
	wantReason := firstFullCap(notBefore)
	if !acceptable(0) {
		wantReason = refBlocker(blockerAt(notBefore))
	}
	if msg.Decision != Deferred || msg.Reason != wantReason {
		t.Fatalf("%s deferred: %s %q, want deferred %q", ch, msg.Decision, msg.Reason, wantReason)
	}
}

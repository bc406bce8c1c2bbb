package policy

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// parseSpec turns a one-line policy description into a Config and the
// borrower's quiet windows, holidays and existing sends. Statements are
// separated by ';':
//
//	allow 08:00-21:00 [days]        an allowed window (days: "mon-fri", "sat,sun")
//	quiet 17:00-09:00 [days]        a borrower quiet window
//	cap 3/24h[:sms]                 a frequency cap
//	holiday +N                      a holiday N days after the business date
//	sent +M[:email]                 an existing send M minutes after as-of
//	msw 15m                         Config.MinSendWindow
//
// It returns ok=false for text it cannot parse; it must never panic.
func parseSpec(spec string, businessDate civil.Date, asOf time.Time) (cfg Config, quiet []QuietWindow, sent []Contact, ok bool) {
	cfg.Regions = map[string]Region{}
	var holidays []civil.Date
	span := func(s string) (Clock, Clock, Weekdays, bool) {
		f := strings.Fields(s)
		if len(f) == 0 {
			return 0, 0, 0, false
		}
		from, to, found := strings.Cut(f[0], "-")
		a, errA := ParseClock(from)
		b, errB := ParseClock(to)
		days, errD := ParseWeekdays(f[1:])
		return a, b, days, found && errA == nil && errB == nil && errD == nil
	}
	for _, stmt := range strings.Split(spec, ";") {
		verb, arg, _ := strings.Cut(strings.TrimSpace(stmt), " ")
		arg = strings.TrimSpace(arg)
		switch verb {
		case "":
		case "allow":
			from, to, days, ok := span(arg)
			if !ok {
				return cfg, nil, nil, false
			}
			cfg.Allowed = append(cfg.Allowed, Window{Days: days, From: from, To: to})
		case "quiet":
			from, to, days, ok := span(arg)
			if !ok {
				return cfg, nil, nil, false
			}
			quiet = append(quiet, QuietWindow{Days: days, From: from, To: to})
		case "cap":
			spec, chans, _ := strings.Cut(arg, ":")
			n, per, found := strings.Cut(spec, "/")
			max, err1 := strconv.Atoi(n)
			d, err2 := time.ParseDuration(per)
			if !found || err1 != nil || err2 != nil {
				return cfg, nil, nil, false
			}
			c := Cap{Max: max, Per: d}
			if chans != "" {
				for _, ch := range strings.Split(chans, ",") {
					c.Channels = append(c.Channels, Channel(ch))
				}
			}
			cfg.Caps = append(cfg.Caps, c)
		case "holiday":
			n, err := strconv.Atoi(strings.TrimPrefix(arg, "+"))
			if err != nil || n < -30 || n > 30 {
				return cfg, nil, nil, false
			}
			holidays = append(holidays, businessDate.AddDays(n))
		case "sent":
			m, ch, _ := strings.Cut(arg, ":")
			n, err := strconv.Atoi(strings.TrimPrefix(m, "+"))
			if err != nil || n < -7*24*60 || n > 7*24*60 {
				return cfg, nil, nil, false
			}
			if ch == "" {
				ch = string(SMS)
			}
			sent = append(sent, Contact{At: asOf.Truncate(time.Minute).Add(time.Duration(n) * time.Minute), Channel: Channel(ch)})
		case "msw":
			d, err := time.ParseDuration(arg)
			if err != nil {
				return cfg, nil, nil, false
			}
			cfg.MinSendWindow = d
		default:
			return cfg, nil, nil, false
		}
	}
	cfg.Regions["ZZ"] = Region{Holidays: holidays}
	return cfg, quiet, sent, true
}

// FuzzConfig parses window, quiet-window and cap configurations from the
// fuzzer's text: the parsers and Validate must not panic, invalid configs
// must be rejected field by field, and every valid one must give Decide
// results with the same properties as TestPropertySchedule (brute force).
//
//	go test -run='^$' -fuzz=FuzzConfig -fuzztime=30s ./jobs/policy
func FuzzConfig(f *testing.F) {
	f.Add("allow 08:00-21:00", int32(0), uint16(0), uint16(0b11))
	f.Add("allow 08:00-20:00 mon-fri; allow 10:00-14:00 sat; cap 3/24h; cap 7/168h:sms; sent +30; sent -600:email", int32(900), uint16(30), uint16(0b101))
	f.Add("allow 22:00-06:00 fri,sat; quiet 00:00-24:00 tue; holiday +1; msw 15m", int32(-3000), uint16(600), uint16(0b1000001))
	f.Add("allow 02:30-05:00; quiet 17:00-09:00; cap 1/90m:email", int32(4000), uint16(1), uint16(0b10010000000))
	f.Add("allow 09:00-09:00", int32(0), uint16(0), uint16(1))
	f.Add("cap 0/0s:fax; allow 24:00-00:00 xyz", int32(0), uint16(0), uint16(1))
	f.Fuzz(func(t *testing.T, spec string, asOfMinutes int32, delayMinutes uint16, zonesPick uint16) {
		// Instants around the DST changes of 2026, as in the property test.
		bases := propBases()
		base := bases[int(uint32(asOfMinutes))%len(bases)]
		asOf := base.Add(time.Duration(asOfMinutes%(4*24*60)) * time.Minute)
		businessZone := mustLoc(t, "America/New_York")
		businessDate := civil.DateIn(asOf, businessZone)
		cfg, quiet, sent, ok := parseSpec(spec, businessDate, asOf)
		if !ok {
			return
		}
		cfg.Stages = Stages{
			{Name: "due", DaysFromDue: 0, Channels: []Channel{SMS}, Fallback: Email},
			{Name: "late", DaysFromDue: 1, Channels: []Channel{SMS, Email}, ExpiresAfter: 72 * time.Hour},
		}
		cfg.BusinessZone, cfg.DefaultZone = businessZone, businessZone
		err := cfg.Validate()
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				if !errors.As(e, &fe) || fe.Field == "" {
					t.Fatalf("%v: not a field error", e)
				}
			}
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted a config that Validate rejected")
			}
			return
		}
		if cfg.MinSendWindow > 2*time.Hour || len(cfg.Caps) > 4 || len(quiet) > 4 || len(sent) > 8 {
			return // keep the brute force small
		}
		for _, c := range cfg.Caps {
			if c.Per%time.Minute != 0 {
				return // the brute force steps by minutes
			}
		}
		for _, q := range quiet {
			if q.From%60 != 0 || q.To%60 != 0 {
				return
			}
		}
		for _, w := range cfg.Allowed {
			if w.From%60 != 0 || w.To%60 != 0 {
				return
			}
		}
		b := borrower("")
		b.Region, b.Quiet = "ZZ", quiet
		for i, z := range propZones() {
			if zonesPick&(1<<i) != 0 && len(b.Phone.Zones) < 3 {
				b.Phone.Zones = append(b.Phone.Zones, z)
			}
		}
		req := Request{AsOf: asOf, NotBefore: asOf.Add(time.Duration(delayMinutes) * time.Minute), Borrower: b,
			Items: []Item{item(1, businessDate), item(2, businessDate.AddDays(-1)), item(3, businessDate.AddDays(-2))}, Existing: sent}
		checkCase(t, propCase{cfg: cfg, req: req})
	})
}

// FuzzParseClock: any text either fails or round-trips through String.
func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"08:00", "24:00", "8:05", "23:59:59", "24:00:01", "", "::", "99:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClock(s)
		if err != nil {
			return
		}
		if c < 0 || c > secondsPerDay {
			t.Fatalf("ParseClock(%q) = %d out of range", s, c)
		}
		back, err := ParseClock(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseClock(%q) = %d; String %q parses back to %d, %v", s, c, c.String(), back, err)
		}
	})
}

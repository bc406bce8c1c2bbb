package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Region holds the rules of one region.
type Region struct {
	Allowed  []Window     // nil or empty: Config.Allowed (or the country's)
	Holidays []civil.Date // whole local days blocked
	Zones    []string     // IANA zones of the region, e.g. US-FL: America/New_York, America/Chicago
}

// Config is the contact policy. Validate it (New does) before use.
type Config struct {
	Stages       Stages
	BusinessZone *time.Location // business dates and stage validity are reckoned here
	DefaultZone  *time.Location // the candidate zone when nothing else is known
	Allowed      []Window       // default allowed windows

	// Regions is keyed by ISO 3166-2 code ("US-FL") or country ("US").
	// Lookup: the exact code, then the country part before '-'. Holidays of
	// both are merged. Allowed: the exact region's if set, else the
	// country's, else the default. Zones: the exact region's if set, else
	// the country's.
	Regions map[string]Region
	Caps    []Cap

	// MinSendWindow: a send time t is chosen only if [t, t+MinSendWindow) is
	// wholly permissible (windows, holidays, quiet windows); 0 = any instant.
	MinSendWindow time.Duration
	// MaxPhoneZones: a phone number mapping to more zones than this is
	// treated as giving no location (and noted); 0 means 3.
	MaxPhoneZones int
	// LateValidity is the validity given, from Request.NotBefore, to items
	// whose validity already passed when Options.SendLate is set;
	// 0 means DefaultLateValidity.
	LateValidity time.Duration
}

// Defaults for the zero values of Config fields.
const (
	DefaultMaxPhoneZones = 3
	DefaultLateValidity  = 24 * time.Hour
)

// FieldError is one problem in a Config. Field is spelled as in the YAML
// config (snake_case, with indexes and map keys): `caps[0].max`.
type FieldError struct {
	Field string
	Msg   string
}

// Error formats the problem as `field: message`.
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate reports every problem in the configuration, each as a
// *FieldError, joined with errors.Join; nil when there is none.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	if len(c.Stages) == 0 {
		add("stages", "at least one stage is required")
	}
	names := make(map[string]int, len(c.Stages))
	for i, st := range c.Stages {
		f := fmt.Sprintf("stages[%d]", i)
		switch j, dup := names[st.Name]; {
		case st.Name == "":
			add(f+".name", "must not be empty")
		case dup:
			add(f+".name", "%q duplicates stages[%d].name", st.Name, j)
		default:
			names[st.Name] = i
		}
		if i > 0 && st.DaysFromDue <= c.Stages[i-1].DaysFromDue {
			add(f+".days_from_due", "%d is not after stages[%d] (%d)", st.DaysFromDue, i-1, c.Stages[i-1].DaysFromDue)
		}
		if len(st.Channels) == 0 {
			add(f+".channels", "at least one channel is required")
		}
		for k, ch := range st.Channels {
			switch {
			case chanBit(ch) == 0:
				add(fmt.Sprintf("%s.channels[%d]", f, k), "unknown channel %q (want sms or email)", ch)
			case slices.Index(st.Channels, ch) < k:
				add(fmt.Sprintf("%s.channels[%d]", f, k), "%q is listed twice", ch)
			}
		}
		if st.Fallback != "" {
			switch {
			case chanBit(st.Fallback) == 0:
				add(f+".fallback", "unknown channel %q (want sms or email)", st.Fallback)
			case slices.Contains(st.Channels, st.Fallback):
				add(f+".fallback", "%q is already a primary channel", st.Fallback)
			}
		}
		switch {
		case st.ExpiresAfter < 0:
			add(f+".expires_after", "%v must not be negative", st.ExpiresAfter)
		case st.ExpiresAfter == 0 && i == len(c.Stages)-1:
			add(f+".expires_after", "the last stage must expire: set expires_after")
		}
	}

	if c.BusinessZone == nil {
		add("business_zone", "must be set")
	}
	if c.DefaultZone == nil {
		add("default_zone", "must be set")
	}
	if len(c.Allowed) == 0 {
		add("allowed", "at least one default window is required")
	}
	for i, w := range c.Allowed {
		validateWindow(fmt.Sprintf("allowed[%d]", i), w, add)
	}

	keys := make([]string, 0, len(c.Regions))
	for k := range c.Regions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := c.Regions[k]
		f := "regions[" + strconv.Quote(k) + "]"
		if !validRegionKey(k) {
			add(f, "key must be an ISO 3166 code such as \"US\" or \"US-FL\"")
		}
		for i, w := range r.Allowed {
			validateWindow(fmt.Sprintf("%s.allowed[%d]", f, i), w, add)
		}
		for i, z := range r.Zones {
			if loadLocation(z) == nil {
				add(fmt.Sprintf("%s.zones[%d]", f, i), "unknown time zone %q", z)
			}
		}
	}

	for i, cp := range c.Caps {
		f := fmt.Sprintf("caps[%d]", i)
		if cp.Max < 1 {
			add(f+".max", "%d must be at least 1", cp.Max)
		}
		if cp.Per <= 0 {
			add(f+".per", "%v must be positive", cp.Per)
		}
		for k, ch := range cp.Channels {
			if chanBit(ch) == 0 {
				add(fmt.Sprintf("%s.channels[%d]", f, k), "unknown channel %q (want sms or email)", ch)
			}
		}
	}
	if c.MinSendWindow < 0 {
		add("min_send_window", "%v must not be negative", c.MinSendWindow)
	}
	if c.MaxPhoneZones < 0 {
		add("max_phone_zones", "%d must not be negative", c.MaxPhoneZones)
	}
	if c.LateValidity < 0 {
		add("late_validity", "%v must not be negative", c.LateValidity)
	}
	return errors.Join(errs...)
}

// validateWindow checks one allowed window.
func validateWindow(f string, w Window, add func(field, format string, args ...any)) {
	okFrom, okTo := w.From.valid(), w.To.valid()
	if !okFrom {
		add(f+".from", "%d seconds is outside 00:00..24:00", int32(w.From))
	}
	if !okTo {
		add(f+".to", "%d seconds is outside 00:00..24:00", int32(w.To))
	}
	switch {
	case !okFrom || !okTo:
	case w.From == w.To:
		add(f, "from %v equals to %v: the window never opens", w.From, w.To)
	case w.From == secondsPerDay && w.To == 0:
		add(f, "from 24:00 to 00:00: the window never opens")
	}
	if w.Days&AllDays == 0 {
		add(f+".days", "no days: the window never opens")
	} else if w.Days&^AllDays != 0 {
		add(f+".days", "bit 0x80 is not a weekday")
	}
}

// validRegionKey accepts "US" and "US-FL" / "CN-31" style codes.
func validRegionKey(k string) bool {
	upper := func(b byte) bool { return b >= 'A' && b <= 'Z' }
	if len(k) < 2 || !upper(k[0]) || !upper(k[1]) {
		return false
	}
	if len(k) == 2 {
		return true
	}
	if k[2] != '-' || len(k) < 4 || len(k) > 6 {
		return false
	}
	for i := 3; i < len(k); i++ {
		if !upper(k[i]) && (k[i] < '0' || k[i] > '9') {
			return false
		}
	}
	return true
}

// loadLocation loads an IANA zone; nil when name is empty, "Local" or
// unknown.
func loadLocation(name string) *time.Location {
	if name == "" || name == "Local" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

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
	// the country's. A borrower has several candidate regions (regions.go);
	// the rules of all apply at once.
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

// problems collects the *FieldErrors of a validation.
type problems []error

// add records the problem of field.
func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Validate reports every problem in the configuration, each as a
// *FieldError, joined with errors.Join; nil when there is none.
func (c *Config) Validate() error {
	var ps problems
	c.Stages.validate(&ps)
	if c.BusinessZone == nil {
		ps.add("business_zone", "must be set")
	}
	if c.DefaultZone == nil {
		ps.add("default_zone", "must be set")
	}
	if len(c.Allowed) == 0 {
		ps.add("allowed", "at least one default window is required")
	}
	for i, w := range c.Allowed {
		validateWindow(fmt.Sprintf("allowed[%d]", i), w, &ps)
	}
	c.validateRegions(&ps)
	c.validateCaps(&ps)
	if c.MinSendWindow < 0 {
		ps.add("min_send_window", "%v must not be negative", c.MinSendWindow)
	}
	if c.MaxPhoneZones < 0 {
		ps.add("max_phone_zones", "%d must not be negative", c.MaxPhoneZones)
	}
	if c.LateValidity < 0 {
		ps.add("late_validity", "%v must not be negative", c.LateValidity)
	}
	return errors.Join(ps...)
}

// validateRegions checks the regions in key order.
func (c *Config) validateRegions(ps *problems) {
	keys := make([]string, 0, len(c.Regions))
	for k := range c.Regions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := c.Regions[k]
		f := "regions[" + strconv.Quote(k) + "]"
		if !validRegionKey(k) {
			ps.add(f, "key must be an ISO 3166 code such as \"US\" or \"US-FL\"")
		}
		for i, w := range r.Allowed {
			validateWindow(fmt.Sprintf("%s.allowed[%d]", f, i), w, ps)
		}
		for i, z := range r.Zones {
			if loadLocation(z) == nil {
				ps.add(fmt.Sprintf("%s.zones[%d]", f, i), "unknown time zone %q", z)
			}
		}
	}
}

// validateCaps checks the frequency caps.
func (c *Config) validateCaps(ps *problems) {
	for i, cp := range c.Caps {
		f := fmt.Sprintf("caps[%d]", i)
		if cp.Max < 1 {
			ps.add(f+".max", "%d must be at least 1", cp.Max)
		}
		if cp.Per <= 0 {
			ps.add(f+".per", "%v must be positive", cp.Per)
		}
		for k, ch := range cp.Channels {
			if chanBit(ch) == 0 {
				ps.add(fmt.Sprintf("%s.channels[%d]", f, k), "unknown channel %q (want sms or email)", ch)
			}
		}
	}
}

// validateWindow checks one allowed window.
func validateWindow(f string, w Window, ps *problems) {
	okFrom, okTo := w.From.valid(), w.To.valid()
	if !okFrom {
		ps.add(f+".from", "%d seconds is outside 00:00..24:00", int32(w.From))
	}
	if !okTo {
		ps.add(f+".to", "%d seconds is outside 00:00..24:00", int32(w.To))
	}
	switch {
	case !okFrom || !okTo:
	case w.From == w.To:
		ps.add(f, "from %v equals to %v: the window never opens", w.From, w.To)
	case w.From == secondsPerDay && w.To == 0:
		ps.add(f, "from 24:00 to 00:00: the window never opens")
	}
	if w.Days&AllDays == 0 {
		ps.add(f+".days", "no days: the window never opens")
	} else if w.Days&^AllDays != 0 {
		ps.add(f+".days", "bit 0x80 is not a weekday")
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

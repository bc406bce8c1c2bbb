package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as Go writes durations ("90s", "15m",
// "24h") or in whole days ("30d").
type Duration time.Duration

// ParseDuration parses a Go duration or a number of days ("30d"); "0" or
// "off" is none. A duration under a millisecond is an error: PostgreSQL
// reads a timeout in whole milliseconds, so "500us" would become 0, which
// switches the timeout off instead of making it short.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return 0, nil
	}
	d, err := parseDuration(s)
	if err == nil && d != 0 && d.Std().Abs() < time.Millisecond {
		return 0, fmt.Errorf("duration %q is under a millisecond, which a timeout would read as 0 (none): write 0 or off for none", s)
	}
	return d, err
}

func parseDuration(s string) (Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 90s, 15m, 24h or 30d", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 90s, 15m, 24h or 30d", s)
	}
	return Duration(d), nil
}

// String writes whole days as "30d", everything else as Go does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return strconv.Itoa(int(td/(24*time.Hour))) + "d"
	}
	return td.String()
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return lineError(n, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText implements encoding.TextMarshaler (JSON, for the config hash).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Clock is a wall-clock time of day in seconds since midnight, written
// "08:00" or "20:30"; "24:00" is the end of the day.
type Clock int

// ParseClock parses HH:MM or HH:MM:SS, 00:00 to 24:00.
func ParseClock(s string) (Clock, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("invalid time of day %q: want HH:MM", s)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) != 2 {
			return 0, fmt.Errorf("invalid time of day %q: want HH:MM", s)
		}
		v[i] = n
	}
	if v[1] > 59 || v[2] > 59 || v[0] > 24 || (v[0] == 24 && (v[1] != 0 || v[2] != 0)) {
		return 0, fmt.Errorf("invalid time of day %q: want 00:00 to 24:00", s)
	}
	return Clock(v[0]*3600 + v[1]*60 + v[2]), nil
}

func (c Clock) String() string {
	s := fmt.Sprintf("%02d:%02d", int(c)/3600, int(c)%3600/60)
	if sec := int(c) % 60; sec != 0 {
		s += fmt.Sprintf(":%02d", sec)
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *Clock) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseClock(n.Value)
	if err != nil {
		return lineError(n, err)
	}
	*c = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (c Clock) MarshalYAML() (any, error) { return c.String(), nil }

// MarshalText implements encoding.TextMarshaler.
func (c Clock) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Weekdays is a set of days of the week: bit i is time.Weekday(i).
type Weekdays uint8

// AllDays is every day of the week.
const AllDays Weekdays = 0x7f

// weekdayNames holds the short names, Sunday first, three letters each.
const weekdayNames = "sunmontuewedthufrisat"

func weekdayName(i int) string { return weekdayNames[3*i : 3*i+3] }

// ParseWeekdays parses day names ("mon", "monday") and ranges ("mon-fri",
// "fri-mon" wraps); no names means every day.
func ParseWeekdays(names []string) (Weekdays, error) {
	if len(names) == 0 {
		return AllDays, nil
	}
	var set Weekdays
	for _, name := range names {
		lo, hi, isRange := strings.Cut(name, "-")
		a, err := parseWeekday(lo)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = parseWeekday(hi); err != nil {
				return 0, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == b {
				break
			}
		}
	}
	return set, nil
}

func parseWeekday(s string) (int, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i := range 7 {
		if s == weekdayName(i) || s == strings.ToLower(time.Weekday(i).String()) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("invalid day %q: want mon, tue, wed, thu, fri, sat or sun", s)
}

// Names lists the days, Monday first, as the config writes them.
func (w Weekdays) Names() []string {
	var out []string
	for _, i := range []int{1, 2, 3, 4, 5, 6, 0} {
		if w&(1<<i) != 0 {
			out = append(out, weekdayName(i))
		}
	}
	return out
}

// Has reports whether day d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<d) != 0 }

// UnmarshalYAML accepts a list of names or ranges, or one string.
func (w *Weekdays) UnmarshalYAML(n *yaml.Node) error {
	var names []string
	switch n.Kind {
	case yaml.ScalarNode:
		names = strings.Split(n.Value, ",")
	case yaml.SequenceNode:
		if err := n.Decode(&names); err != nil {
			return err
		}
	default:
		return lineError(n, fmt.Errorf("days: want a list such as [mon, tue] or \"mon-fri\""))
	}
	v, err := ParseWeekdays(names)
	if err != nil {
		return lineError(n, err)
	}
	if len(names) > 0 && v == 0 {
		return lineError(n, fmt.Errorf("days: no day given"))
	}
	*w = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (w Weekdays) MarshalYAML() (any, error) { return w.Names(), nil }

// MarshalJSON writes the day names.
func (w Weekdays) MarshalText() ([]byte, error) { return []byte(strings.Join(w.Names(), ",")), nil }

// lineError is a problem with one YAML value, at its line. It is a
// *yaml.TypeError, which the decoder collects and goes on: a file's every
// bad value is reported, not only its first.
func lineError(n *yaml.Node, err error) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
}

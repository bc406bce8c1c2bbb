package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// secondsPerDay is the length of a civil day on the wall clock.
const secondsPerDay = 86400

// Clock is a wall-clock reading in seconds since local midnight, 0..86400.
// 86400 is written "24:00" and stands for the end of the day.
type Clock int32

// ParseClock parses "HH:MM" or "HH:MM:SS" between 00:00 and 24:00
// ("08:00", "20:30", "24:00", "08:00:30"). The hour may have one digit.
func ParseClock(s string) (Clock, error) {
	parts := strings.Split(s, ":")
	bad := func() (Clock, error) {
		return 0, fmt.Errorf("invalid clock %q: want HH:MM or HH:MM:SS between 00:00 and 24:00", s)
	}
	if len(parts) < 2 || len(parts) > 3 {
		return bad()
	}
	h, okH := digits(parts[0], 1, 2)
	m, okM := digits(parts[1], 2, 2)
	sec, okS := 0, true
	if len(parts) == 3 {
		sec, okS = digits(parts[2], 2, 2)
	}
	if !okH || !okM || !okS || h > 24 || m > 59 || sec > 59 || (h == 24 && (m != 0 || sec != 0)) {
		return bad()
	}
	return Clock(h*3600 + m*60 + sec), nil
}

// digits parses an unsigned decimal of minLen..maxLen ASCII digits.
func digits(s string, minLen, maxLen int) (int, bool) {
	if len(s) < minLen || len(s) > maxLen {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// valid reports whether c is within 00:00..24:00.
func (c Clock) valid() bool { return c >= 0 && c <= secondsPerDay }

// String formats c as "HH:MM", or "HH:MM:SS" when it has seconds.
func (c Clock) String() string {
	if !c.valid() {
		return fmt.Sprintf("Clock(%d)", int32(c))
	}
	h, m, s := c/3600, c%3600/60, c%60
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// Weekdays is a set of days of the week: bit i set means time.Weekday(i)
// (Sunday = 0) is included.
type Weekdays uint8

// AllDays is every day of the week.
const AllDays Weekdays = 0x7f

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<uint(d)) != 0 }

// dayByName maps an accepted lower-case name to its weekday.
func dayByName(s string) (time.Weekday, bool) {
	switch s {
	case "sun", "sunday":
		return time.Sunday, true
	case "mon", "monday":
		return time.Monday, true
	case "tue", "tues", "tuesday":
		return time.Tuesday, true
	case "wed", "wednesday":
		return time.Wednesday, true
	case "thu", "thur", "thurs", "thursday":
		return time.Thursday, true
	case "fri", "friday":
		return time.Friday, true
	case "sat", "saturday":
		return time.Saturday, true
	}
	return 0, false
}

// ParseWeekdays parses day names ("mon".."sun" or "monday".."sunday", any
// case) and ranges ("mon-fri"; "fri-mon" wraps over the weekend). An entry
// may also hold a comma-separated list ("mon,wed"). No names means AllDays.
func ParseWeekdays(names []string) (Weekdays, error) {
	if len(names) == 0 {
		return AllDays, nil
	}
	var w Weekdays
	for _, entry := range names {
		for _, name := range strings.Split(entry, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			from, to, isRange := strings.Cut(name, "-")
			a, okA := dayByName(strings.TrimSpace(from))
			b, okB := a, true
			if isRange {
				b, okB = dayByName(strings.TrimSpace(to))
			}
			if !okA || !okB {
				return 0, fmt.Errorf("invalid weekday %q: want mon..sun, monday..sunday or a range such as mon-fri", name)
			}
			for d := a; ; d = (d + 1) % 7 {
				w |= 1 << uint(d)
				if d == b {
					break
				}
			}
		}
	}
	return w, nil
}

// String formats the set Monday first, with runs as ranges: "mon-fri",
// "sat-sun", "mon,wed,fri", "mon-sun"; "none" for the empty set.
func (w Weekdays) String() string {
	if w&AllDays == 0 {
		return "none"
	}
	// Monday-first order of time.Weekday values.
	order := [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	var b strings.Builder
	for i := 0; i < 7; {
		if !w.Has(order[i]) {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.Has(order[j+1]) {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(shortDay(order[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(shortDay(order[j]))
		}
		i = j + 1
	}
	return b.String()
}

func shortDay(d time.Weekday) string { return strings.ToLower(d.String()[:3]) }

// Window is an allowed span of wall-clock time on the listed weekdays.
// From < To: the same day. From > To: it crosses midnight (it starts on a
// listed weekday at From and ends the next day at To). From == To is invalid
// (the window never opens).
type Window struct {
	Days     Weekdays
	From, To Clock
}

// String formats the window as "mon-fri 08:00-21:00".
func (w Window) String() string {
	return w.Days.String() + " " + w.From.String() + "-" + w.To.String()
}

// QuietWindow is a span the borrower asked not to be contacted in (Reg F
// comment 6(b)(1)-1, e.g. "not on Tuesdays" = Days: Tuesday, From 00:00,
// To 24:00). It is evaluated in the local time of every candidate zone.
//
// From > To crosses midnight, as for Window; From == To covers 24 hours
// starting at From (the job skips a borrower whose row says so, as bad
// data). Days == 0 is no day: the window never applies (a lender's row
// with an empty set of weekdays; NULL, every day, maps to AllDays).
// NotBefore and NotAfter bound it by
// local date, inclusive (0 means unbounded); an occurrence that crosses
// midnight belongs to the date on which it starts.
type QuietWindow struct {
	Days                Weekdays
	From, To            Clock
	NotBefore, NotAfter civil.Date
}

// Package civil holds the calendar date type that the pure stages share.
//
// A Date is a day in no particular time zone: a due date, a business date or
// a holiday. It counts days since 1970-01-01, so that stage arithmetic
// (business date minus due date) is a subtraction.
package civil

import (
	"fmt"
	"time"
)

// Date is a calendar date, counted in days since 1970-01-01.
type Date int32

// DateOf returns the date with the given year, month and day. Out-of-range
// values are normalized as time.Date does (February 30 becomes March 2).
func DateOf(year int, month time.Month, day int) Date {
	return Date(time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DateIn returns the calendar date of t in loc.
func DateIn(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return DateOf(y, m, d)
}

// FromTime returns the date of t's own wall clock, ignoring its location.
// Use it for values scanned from a SQL date column.
func FromTime(t time.Time) Date {
	y, m, d := t.Date()
	return DateOf(y, m, d)
}

// ParseDate parses a date in ISO 8601 form (2006-01-02).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return FromTime(t), nil
}

// Time returns midnight at the start of the date in loc. When midnight does
// not exist in loc (a DST change at 00:00), it returns the first instant of
// the day.
func (d Date) Time(loc *time.Location) time.Time {
	y, m, day := d.YMD()
	t := time.Date(y, m, day, 0, 0, 0, 0, loc)
	if t.Day() != day { // midnight fell into a gap and was normalized back
		t = time.Date(y, m, day, 1, 0, 0, 0, loc)
		for t.Add(-time.Minute).Day() == day {
			t = t.Add(-time.Minute)
		}
	}
	return t
}

// UTC returns midnight UTC at the start of the date.
func (d Date) UTC() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// YMD returns the year, month and day.
func (d Date) YMD() (int, time.Month, int) { return d.UTC().Date() }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday { return time.Weekday((int64(d)%7 + 11) % 7) }

// AddDays returns the date n days later (earlier when n is negative).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// String formats the date as YYYY-MM-DD.
func (d Date) String() string { return d.UTC().Format(time.DateOnly) }

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// AppendISO appends the date as YYYY-MM-DD without allocating.
func (d Date) AppendISO(b []byte) []byte {
	y, m, day := d.YMD()
	if y < 0 || y > 9999 {
		return append(b, d.String()...)
	}
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-', byte('0'+day/10), byte('0'+day%10))
}

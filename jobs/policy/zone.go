package policy

import (
	"math"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Instants are handled as int64 nanoseconds since the Unix epoch, clamped to
// [minNS, maxNS] (about 1684..2255) so that adding a duration saturates
// instead of overflowing.
const (
	nsPerSec = int64(time.Second)
	minNS    = -9_000_000_000 * nsPerSec
	maxNS    = 9_000_000_000 * nsPerSec
)

// toNS converts t to clamped nanoseconds since the epoch.
func toNS(t time.Time) int64 {
	s := t.Unix()
	if s <= minNS/nsPerSec {
		return minNS
	}
	if s >= maxNS/nsPerSec {
		return maxNS
	}
	return s*nsPerSec + int64(t.Nanosecond())
}

// fromNS converts nanoseconds since the epoch to a UTC time.
func fromNS(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// addNS adds d to the instant a, saturating at [minNS, maxNS].
func addNS(a int64, d time.Duration) int64 {
	b := int64(d)
	if b > 0 && a > maxNS-b {
		return maxNS
	}
	if b < 0 && a < minNS-b {
		return minNS
	}
	return a + b
}

// floorDiv returns a/b rounded towards negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ceilDiv returns a/b rounded towards positive infinity (b > 0).
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// weekdayOf returns the weekday (Sunday = 0) of a day count since 1970-01-01.
func weekdayOf(day int64) uint {
	return uint((day%7 + 11) % 7)
}

// zoneCursor reads the wall clock of one time zone. It caches the offset period
// around the last instant asked for, so a scan that stays within one period
// costs no call into package time. Times are in seconds.
type zoneCursor struct {
	loc        *time.Location
	start, end int64 // the cached offset period [start, end)
	offset     int64 // its UTC offset, seconds east
}

// setLoc points the cursor at loc, keeping the cache when loc is unchanged.
func (z *zoneCursor) setLoc(loc *time.Location) {
	if z.loc != loc {
		*z = zoneCursor{loc: loc, start: 1, end: 0} // empty period: forces a load
	}
}

// offsetAt returns the UTC offset at instant sec and makes [z.start, z.end)
// the offset period that contains it.
func (z *zoneCursor) offsetAt(sec int64) int64 {
	if sec >= z.start && sec < z.end {
		return z.offset
	}
	t := time.Unix(sec, 0).In(z.loc)
	_, off := t.Zone()
	s, e := t.ZoneBounds()
	z.offset = int64(off)
	z.start, z.end = math.MinInt64, math.MaxInt64
	if !s.IsZero() {
		z.start = s.Unix()
	}
	if !e.IsZero() {
		z.end = e.Unix()
	}
	return z.offset
}

// wallStart returns the earliest instant (seconds) whose wall clock reads at
// least local (seconds since 1970-01-01 on the local wall clock). When that
// wall time does not exist (a spring-forward gap) that is the transition
// instant; when it occurs twice (fall back) it is the first occurrence. It
// walks offset periods forward and never relies on time.Date normalization.
func (z *zoneCursor) wallStart(local int64) int64 {
	t := local - 30*3600 // every UTC offset is well under 30 hours: local(t) < local
	for range 64 {
		off := z.offsetAt(t)
		c := local - off // where this period's wall clock reads local
		if c < t {
			c = t // the period begins past local: its first instant
		}
		if c < z.end {
			return c
		}
		t = z.end
	}
	return t
}

// dayStartNS returns the first instant of date d in the cursor's zone, in
// nanoseconds (midnight, or the transition instant when midnight is skipped).
func (z *zoneCursor) dayStartNS(d civil.Date) int64 {
	s := z.wallStart(int64(d) * secondsPerDay)
	if s <= minNS/nsPerSec {
		return minNS
	}
	if s >= maxNS/nsPerSec {
		return maxNS
	}
	return s * nsPerSec
}

// localDay returns the local date at instant ns.
func (z *zoneCursor) localDay(ns int64) civil.Date {
	sec := floorDiv(ns, nsPerSec)
	return civil.Date(floorDiv(sec+z.offsetAt(sec), secondsPerDay))
}

package policy

import (
	"math"
	"slices"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Blockers: why an instant is not permissible in a zone.
const (
	blockedByWindow  uint8 = 1 << iota // outside every allowed window
	blockedByHoliday                   // the local date is a holiday
	blockedByQuiet                     // inside a borrower quiet window
)

// quietRule is a normalized QuietWindow.
type quietRule struct {
	days      Weekdays
	from, to  int32
	notBefore int64 // day number, math.MinInt64 when unbounded
	notAfter  int64 // day number, math.MaxInt64 when unbounded
}

// evaluator judges instants for one borrower: the rule set of their region,
// their quiet windows, in every candidate zone. Times are Unix seconds
// unless a name says ns.
type evaluator struct {
	rules    *ruleSet
	quiet    []quietRule
	clocks   []int32 // critical wall clocks: where some rule can change, sorted, in [0, 86400)
	clockBuf []int32
	zones    []zoneCursor
}

// init prepares the evaluator, reusing its buffers (and the offset caches
// of zones that stay at the same position).
func (e *evaluator) init(rules *ruleSet, quiet []QuietWindow, locs []*time.Location) {
	e.rules = rules
	e.quiet = e.quiet[:0]
	for _, q := range quiet {
		r := quietRule{days: q.Days & AllDays, from: clampClock(q.From), to: clampClock(q.To),
			notBefore: math.MinInt64, notAfter: math.MaxInt64}
		if r.days == 0 {
			continue // no day: it never applies
		}
		if q.NotBefore != 0 {
			r.notBefore = int64(q.NotBefore)
		}
		if q.NotAfter != 0 {
			r.notAfter = int64(q.NotAfter)
		}
		e.quiet = append(e.quiet, r)
	}
	e.clocks = rules.clocks
	if len(e.quiet) > 0 {
		e.clockBuf = append(e.clockBuf[:0], rules.clocks...)
		for _, q := range e.quiet {
			e.clockBuf = append(e.clockBuf, q.from%secondsPerDay, q.to%secondsPerDay)
		}
		slices.Sort(e.clockBuf)
		e.clockBuf = slices.Compact(e.clockBuf)
		e.clocks = e.clockBuf
	}
	if cap(e.zones) < len(locs) {
		e.zones = append(e.zones[:cap(e.zones)], make([]zoneCursor, len(locs)-cap(e.zones))...)
	}
	e.zones = e.zones[:len(locs)]
	for i, loc := range locs {
		e.zones[i].setLoc(loc)
	}
}

func clampClock(c Clock) int32 { return int32(min(max(c, 0), secondsPerDay)) }

// inSpan reports whether the wall reading (day, s) lies in the weekly span
// days/from/to, and the day on which that occurrence starts. from >= to
// crosses midnight (from == to: 24 hours from `from`).
func inSpan(days Weekdays, from, to int32, day int64, s int32) (bool, int64) {
	wd := weekdayOf(day)
	if from < to {
		return s >= from && s < to && days&(1<<wd) != 0, day
	}
	if s >= from {
		return days&(1<<wd) != 0, day
	}
	if s < to {
		return days&(1<<((wd+6)%7)) != 0, day - 1
	}
	return false, day
}

// wall returns the local day number and seconds since local midnight in
// zone z at instant sec.
func wall(z *zoneCursor, sec int64) (day int64, s int32) {
	local := sec + z.offsetAt(sec)
	day = floorDiv(local, secondsPerDay)
	return day, int32(local - day*secondsPerDay)
}

func (e *evaluator) allowed(day int64, s int32) bool {
	for _, w := range e.rules.windows {
		if in, _ := inSpan(w.Days, int32(w.From), int32(w.To), day, s); in {
			return true
		}
	}
	return false
}

func (e *evaluator) holiday(day int64) bool {
	if len(e.rules.holidays) == 0 || day < math.MinInt32 || day > math.MaxInt32 {
		return false
	}
	_, found := slices.BinarySearch(e.rules.holidays, civil.Date(day))
	return found
}

func (e *evaluator) quietAt(day int64, s int32) bool {
	for i := range e.quiet {
		q := &e.quiet[i]
		if in, start := inSpan(q.days, q.from, q.to, day, s); in && start >= q.notBefore && start <= q.notAfter {
			return true
		}
	}
	return false
}

// zoneOK reports whether instant sec is permissible in zone z (windowsOnly:
// judged by the allowed windows alone).
func (e *evaluator) zoneOK(z *zoneCursor, sec int64, windowsOnly bool) bool {
	day, s := wall(z, sec)
	if !e.allowed(day, s) {
		return false
	}
	return windowsOnly || (!e.holiday(day) && !e.quietAt(day, s))
}

// blockMask returns every rule that blocks instant sec in zone z.
func (e *evaluator) blockMask(z *zoneCursor, sec int64) uint8 {
	day, s := wall(z, sec)
	var m uint8
	if !e.allowed(day, s) {
		m |= blockedByWindow
	}
	if e.holiday(day) {
		m |= blockedByHoliday
	}
	if e.quietAt(day, s) {
		m |= blockedByQuiet
	}
	return m
}

// nextBreak returns the first instant after sec at which zone z's verdict
// may change: its wall clock reaching a critical clock (midnight included),
// or its next offset transition. Before it, the wall clock advances
// steadily within one day, so every rule keeps its verdict.
func (e *evaluator) nextBreak(z *zoneCursor, sec int64) int64 {
	_, s := wall(z, sec) // also loads the offset period around sec
	next := int64(secondsPerDay)
	for _, c := range e.clocks {
		if c > s {
			next = int64(c)
			break
		}
	}
	b := sec + next - int64(s)
	return min(b, z.end)
}

// run returns the first instant after sec at which zone z's verdict is no
// longer ok (its verdict at sec), or limit when it holds until then.
func (e *evaluator) run(z *zoneCursor, sec int64, ok bool, limit int64, windowsOnly bool) int64 {
	x := sec
	for {
		b := e.nextBreak(z, x)
		if b >= limit {
			return limit
		}
		if e.zoneOK(z, b, windowsOnly) != ok {
			return b
		}
		x = b
	}
}

// permissibleAt reports whether instant sec is permissible in every zone.
func (e *evaluator) permissibleAt(sec int64, windowsOnly bool) bool {
	for i := range e.zones {
		if !e.zoneOK(&e.zones[i], sec, windowsOnly) {
			return false
		}
	}
	return true
}

// stretchEnd returns the first instant after sec (permissible in every zone)
// that is not permissible in some zone, or limit.
func (e *evaluator) stretchEnd(sec, limit int64, windowsOnly bool) int64 {
	end := limit
	for i := range e.zones {
		end = min(end, e.run(&e.zones[i], sec, true, end, windowsOnly))
	}
	return end
}

// next returns the earliest instant at >= t (ns), before limit (ns), that
// is permissible in every zone and begins a permissible stretch of at least
// minStretch; end is where that stretch ends, or some instant at or after
// max(at+minStretch, endLimit) when it lasts at least that long. found is false
// when there is no such instant before limit.
func (e *evaluator) next(t, limit, endLimit int64, minStretch time.Duration, windowsOnly bool) (at, end int64, found bool) {
	limitSec := ceilDiv(limit, nsPerSec)
	cur := t
	for cur < limit {
		sec := floorDiv(cur, nsPerSec)
		blockedUntil := int64(math.MinInt64)
		for i := range e.zones {
			z := &e.zones[i]
			if !e.zoneOK(z, sec, windowsOnly) {
				// Not before this zone opens: the latest opening of the closed zones.
				blockedUntil = max(blockedUntil, e.run(z, sec, false, limitSec, windowsOnly))
			}
		}
		if blockedUntil != math.MinInt64 {
			cur = blockedUntil * nsPerSec
			continue
		}
		needSec := ceilDiv(max(addNS(cur, minStretch), endLimit), nsPerSec)
		end = e.stretchEnd(sec, needSec, windowsOnly) * nsPerSec
		if end-cur >= int64(minStretch) {
			return cur, end, true
		}
		cur = end // every instant up to end has the same too-short stretch
	}
	return 0, 0, false
}

// blockers returns the rules that make instant x (ns) unusable: those that
// block it in some zone, or, when x is permissible but its stretch is
// shorter than minStretch, those that close the stretch.
func (e *evaluator) blockers(x int64, minStretch time.Duration) uint8 {
	sec := floorDiv(x, nsPerSec)
	var m uint8
	for i := range e.zones {
		m |= e.blockMask(&e.zones[i], sec)
	}
	if m == 0 && minStretch > 0 {
		limit := ceilDiv(addNS(x, minStretch), nsPerSec) + 1
		if end := e.stretchEnd(sec, limit, false); end < limit {
			for i := range e.zones {
				m |= e.blockMask(&e.zones[i], end)
			}
		}
	}
	return m
}

// blockerReason names the most specific rule in a blocker mask: a holiday
// explains a whole lost day, a borrower's quiet window their own request,
// quiet hours the rest.
func blockerReason(m uint8) string {
	switch {
	case m&blockedByHoliday != 0:
		return ReasonHoliday
	case m&blockedByQuiet != 0:
		return ReasonBorrowerQuietWindow
	}
	return ReasonQuietHours
}

// noPermissibleTime is blockerReason with the no_permissible_time: prefix,
// built at compile time.
func noPermissibleTime(m uint8) string {
	switch {
	case m&blockedByHoliday != 0:
		return ReasonNoPermissibleTimePrefix + ReasonHoliday
	case m&blockedByQuiet != 0:
		return ReasonNoPermissibleTimePrefix + ReasonBorrowerQuietWindow
	}
	return ReasonNoPermissibleTimePrefix + ReasonQuietHours
}

package policy

import (
	"math"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Stage is a reminder stage. A stage is a window, not an exact day: for an
// installment due on D it applies from midnight (business zone) of
// D+DaysFromDue until the next stage starts, or until start+ExpiresAfter if
// set (the earlier of the two). The last stage must have ExpiresAfter.
type Stage struct {
	Name        string
	DaysFromDue int       // negative: before the due date
	Channels    []Channel // primary channels, each gets its own message (usually [sms])
	// Fallback is "" or a channel used for an item when none of Channels is
	// usable for the borrower (missing or invalid contact, or opted out).
	Fallback     Channel
	ExpiresAfter time.Duration // 0: until the next stage starts
	CapExempt    bool          // legally required notice: frequency caps do not apply (audited)
}

// Stages is the ordered list of stages: ascending DaysFromDue, validated by
// Config.Validate.
type Stages []Stage

const day = 24 * time.Hour

// expiryDays returns ExpiresAfter in whole days, rounded up.
func expiryDays(d time.Duration) int64 {
	q := int64(d / day)
	if d%day != 0 {
		q++
	}
	return q
}

// At returns the index of the current stage on business date bd for an
// installment due on due: the last stage whose start (due+DaysFromDue) is on
// or before bd, provided its expiry (ExpiresAfter in whole days, rounded up)
// has not passed on bd. ok is false (and idx -1) when no stage applies.
func (s Stages) At(due, bd civil.Date) (idx int, ok bool) {
	d := int64(bd) - int64(due)
	idx = -1
	for i := range s {
		if int64(s[i].DaysFromDue) <= d {
			idx = i
		}
	}
	if idx < 0 {
		return -1, false
	}
	if ea := s[idx].ExpiresAfter; ea > 0 && d-int64(s[idx].DaysFromDue) >= expiryDays(ea) {
		return -1, false
	}
	return idx, true
}

// Span returns the inclusive range of (bd - due) day differences for which
// At returns ok; the caller turns it into a due-date range for the SQL
// selection. Between the two there may be days on which no stage applies
// (a stage that expires before the next one starts). For empty Stages it
// returns minDays > maxDays; when the last stage never expires (Stages that
// were not validated) maxDays is math.MaxInt32.
func (s Stages) Span() (minDays, maxDays int) {
	if len(s) == 0 {
		return 0, -1
	}
	minDays = s[0].DaysFromDue
	for _, st := range s {
		minDays = min(minDays, st.DaysFromDue)
	}
	last := s[len(s)-1]
	if last.ExpiresAfter <= 0 {
		return minDays, math.MaxInt32
	}
	return minDays, int(min(int64(last.DaysFromDue)+expiryDays(last.ExpiresAfter)-1, math.MaxInt32))
}

// ValidUntil returns the instant stage idx stops applying to an installment
// due on due: midnight in bz of the next stage's start, or the stage's start
// plus ExpiresAfter, whichever is earlier. Midnight that does not exist in bz
// (a DST change at 00:00) is the first instant of that day. It returns the
// zero Time when idx is out of range, bz is nil, or the stage never ends
// (possible only for Stages that were not validated).
func (s Stages) ValidUntil(idx int, due civil.Date, bz *time.Location) time.Time {
	if idx < 0 || idx >= len(s) || bz == nil {
		return time.Time{}
	}
	z := zcur{loc: bz, start: 1}
	ns, ok := s.validUntilNS(idx, due, &z)
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, ns).In(bz)
}

// validUntilNS is ValidUntil in nanoseconds, with the business zone cursor.
func (s Stages) validUntilNS(idx int, due civil.Date, bz *zcur) (int64, bool) {
	st := &s[idx]
	end, bounded := int64(maxNS), false
	if idx+1 < len(s) {
		end, bounded = bz.dayStartNS(due.AddDays(s[idx+1].DaysFromDue)), true
	}
	if st.ExpiresAfter > 0 {
		start := bz.dayStartNS(due.AddDays(st.DaysFromDue))
		end, bounded = min(end, addNS(start, st.ExpiresAfter)), true
	}
	return end, bounded
}

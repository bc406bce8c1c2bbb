package policy

import (
	"errors"
	"fmt"
	"math"
	"slices"
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
// Stages.Validate (which Config.Validate applies).
type Stages []Stage

// Validate reports every broken stage rule, each as a *FieldError, joined
// with errors.Join; nil when there is none. These are the only stage rules:
// the config package reports the same errors under its own field paths.
// Each Field names the list or one stage's field as the YAML config does
// ("stages", "stages[2].days_from_due", "stages[1].channels[0]"), and so do
// messages that refer to another stage.
func (s Stages) Validate() error {
	var ps problems
	s.validate(&ps)
	return errors.Join(ps...)
}

// validate adds the problems of the stages to ps.
func (s Stages) validate(ps *problems) {
	if len(s) == 0 {
		ps.add("stages", "at least one stage is required")
	}
	firstByName := make(map[string]int, len(s))
	for i := range s {
		st, f := &s[i], fmt.Sprintf("stages[%d]", i)
		switch first, dup := firstByName[st.Name]; {
		case st.Name == "":
			ps.add(f+".name", "must not be empty")
		case dup:
			ps.add(f+".name", "%q duplicates stages[%d].name", st.Name, first)
		default:
			firstByName[st.Name] = i
			if !validStageName(st.Name) {
				ps.add(f+".name", "%q must be lower-case letters, digits and _, starting with a letter (it names template files)", st.Name)
			}
		}
		if i > 0 && st.DaysFromDue <= s[i-1].DaysFromDue {
			ps.add(f+".days_from_due", "%d must be after stages[%d].days_from_due (%d): stages are ordered and do not overlap",
				st.DaysFromDue, i-1, s[i-1].DaysFromDue)
		}
		st.validateChannels(f, ps)
		switch {
		case st.ExpiresAfter < 0:
			ps.add(f+".expires_after", "%v must not be negative", st.ExpiresAfter)
		case st.ExpiresAfter == 0 && i == len(s)-1:
			ps.add(f+".expires_after", "the last stage must expire: set expires_after")
		}
	}
}

// validateChannels checks the stage's channels and fallback; f is the
// stage's field path.
func (st *Stage) validateChannels(f string, ps *problems) {
	if len(st.Channels) == 0 {
		ps.add(f+".channels", "at least one channel is required")
	}
	for k, ch := range st.Channels {
		switch {
		case chanBit(ch) == 0:
			ps.add(fmt.Sprintf("%s.channels[%d]", f, k), "unknown channel %q (want sms or email)", ch)
		case slices.Index(st.Channels, ch) < k:
			ps.add(fmt.Sprintf("%s.channels[%d]", f, k), "%q is listed twice", ch)
		}
	}
	if st.Fallback != "" {
		switch {
		case chanBit(st.Fallback) == 0:
			ps.add(f+".fallback", "unknown channel %q (want sms or email)", st.Fallback)
		case slices.Contains(st.Channels, st.Fallback):
			ps.add(f+".fallback", "%q is already a primary channel", st.Fallback)
		}
	}
}

// validStageName accepts lower-case letters, digits and _, starting with a
// letter: the name is part of template file names and audit rows.
func validStageName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z') && (i == 0 || !(c >= '0' && c <= '9') && c != '_') {
			return false
		}
	}
	return name != ""
}

const day = 24 * time.Hour

// expiryDays returns ExpiresAfter in whole days, rounded up.
func expiryDays(d time.Duration) int64 {
	q := int64(d / day)
	if d%day != 0 {
		q++
	}
	return q
}

// At returns the index of the current stage on businessDate for an
// installment due on due: the last stage whose start (due+DaysFromDue) is on
// or before businessDate, provided its expiry (ExpiresAfter in whole days,
// rounded up) has not passed on businessDate. ok is false (and idx -1) when
// no stage applies.
func (s Stages) At(due, businessDate civil.Date) (idx int, ok bool) {
	daysFromDue := int64(businessDate) - int64(due)
	idx = -1
	for i := range s {
		if int64(s[i].DaysFromDue) <= daysFromDue {
			idx = i
		}
	}
	if idx < 0 {
		return -1, false
	}
	if expiry := s[idx].ExpiresAfter; expiry > 0 && daysFromDue-int64(s[idx].DaysFromDue) >= expiryDays(expiry) {
		return -1, false
	}
	return idx, true
}

// Span returns the inclusive range of (businessDate - due) day differences
// for which At returns ok; the caller turns it into a due-date range for the SQL
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
// due on due: midnight in businessZone of the next stage's start, or the
// stage's start plus ExpiresAfter, whichever is earlier. Midnight that does
// not exist in businessZone
// (a DST change at 00:00) is the first instant of that day. It returns the
// zero Time when idx is out of range, businessZone is nil, or the stage never ends
// (possible only for Stages that were not validated).
func (s Stages) ValidUntil(idx int, due civil.Date, businessZone *time.Location) time.Time {
	if idx < 0 || idx >= len(s) || businessZone == nil {
		return time.Time{}
	}
	z := zoneCursor{loc: businessZone, start: 1}
	ns, ok := s.validUntilNS(idx, due, &z)
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, ns).In(businessZone)
}

// validUntilNS is ValidUntil in nanoseconds, with the business zone cursor.
func (s Stages) validUntilNS(idx int, due civil.Date, businessZone *zoneCursor) (int64, bool) {
	st := &s[idx]
	end, bounded := int64(maxNS), false
	if idx+1 < len(s) {
		end, bounded = businessZone.dayStartNS(due.AddDays(s[idx+1].DaysFromDue)), true
	}
	if st.ExpiresAfter > 0 {
		start := businessZone.dayStartNS(due.AddDays(st.DaysFromDue))
		end, bounded = min(end, addNS(start, st.ExpiresAfter)), true
	}
	return end, bounded
}

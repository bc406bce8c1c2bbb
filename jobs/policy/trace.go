package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/pii"
)

// The trace is read aloud by support staff to borrowers and regulators:
// whole sentences, times in UTC and in local time, rule names as audited.

func (d *decider) tracef(format string, args ...any) {
	d.plan.Trace = append(d.plan.Trace, fmt.Sprintf(format, args...))
}

func fmtUTC(ns int64) string { return fromNS(ns).Format(time.RFC3339Nano) }

func fmtIn(ns int64, loc *time.Location) string {
	return time.Unix(0, ns).In(loc).Format("Mon 2006-01-02 15:04:05 MST")
}

func plural(n int, one, many string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (d *decider) traceStart() {
	d.tracef("As of %s the business date is %s (business time zone %s). Earliest send time: %s.",
		fmtUTC(toNS(d.req.AsOf)), d.bd, d.p.bz, fmtUTC(d.nb))
}

func (d *decider) itemName(i int) string {
	it := &d.req.Items[i]
	return fmt.Sprintf("Item %d (installment %d, loan %d, #%d, due %s)", i, it.InstallmentID, it.LoanID, it.Seq, it.DueDate)
}

func (d *decider) traceNoStage(i int) {
	lo, hi := d.p.stages.Span()
	d.tracef("%s: %s; no stage applies on business date %s (stages cover %d to %d days from the due date) → %s (%s).",
		d.itemName(i), dueText(int(d.bd-d.req.Items[i].DueDate)), d.bd, lo, hi, Skipped, ReasonNoStage)
}

func dueText(days int) string {
	switch {
	case days < 0:
		return "due in " + plural(-days, "day", "days")
	case days == 0:
		return "due today"
	}
	return plural(days, "day", "days") + " past due"
}

func (d *decider) traceItem(i int, st *itemState, reason string, dec Decision) {
	it := &d.req.Items[i]
	stg := &d.p.stages[st.stage]
	start := "on the due date"
	switch {
	case stg.DaysFromDue < 0:
		start = plural(-stg.DaysFromDue, "day", "days") + " before the due date"
	case stg.DaysFromDue > 0:
		start = plural(stg.DaysFromDue, "day", "days") + " after the due date"
	}
	d.tracef("%s: %s, so stage %d %q applies (it starts %s); the stage is valid until %s (%s).",
		d.itemName(i), dueText(int(d.bd-it.DueDate)), st.stage, stg.Name, start, fmtIn(st.valid, d.p.bz), fmtUTC(st.valid))
	verdict := "eligible"
	if reason != "" {
		verdict = fmt.Sprintf("%s (%s) on %s", dec, reason, channelList(stg.Channels))
	}
	d.tracef("Item %d checks: borrower asked for no contact at all: %s; loan is active (status %q): %s; amounts not negative: %s; currency %q is a known ISO 4217 code: %s; amount still due (minor units) %d > 0: %s → %s.",
		i, yesNo(d.b.DoNotContact), it.LoanStatus, yesNo(it.LoanStatus == "active"),
		yesNo(it.AmountDueMinor >= 0 && it.AmountPaidMinor >= 0), it.Currency, yesNo(d.p.currencies.known(it.Currency)),
		it.AmountDueMinor-it.AmountPaidMinor, yesNo(it.AmountDueMinor-it.AmountPaidMinor > 0), verdict)
}

func channelList(chs []Channel) string {
	s := make([]string, len(chs))
	for i, c := range chs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func sourceText(z ZoneUse, region string) string {
	switch z.Source {
	case SourceTimeZone:
		return "the borrower's time_zone"
	case SourcePhone:
		return "the phone number"
	case SourceRegion:
		return "region " + region
	case SourceDefault:
		return "the default zone, as nothing else was known"
	}
	return z.Source
}

func (d *decider) traceZones(rs *ruleSet, ok bool) {
	for _, n := range d.plan.Notes {
		d.tracef("Note: %s.", n)
	}
	if !ok {
		d.tracef("The borrower's time_zone %q is not a known IANA time zone, so the local time cannot be known: every remaining item → %s (%s).",
			d.b.TimeZone, Skipped, ReasonInvalidTimeZone)
		return
	}
	windows := make([]string, len(rs.windows))
	for i, w := range rs.windows {
		windows[i] = w.String()
	}
	rules := "the default rules"
	if rs.key != "" {
		rules = "the rules of region " + rs.key
	}
	for i, z := range d.plan.Zones {
		d.tracef("Candidate time zone %s (from %s): allowed %s local time (%s); at the earliest send time it is %s there.",
			z.Name, sourceText(z, d.b.Region), strings.Join(windows, " and "), rules, fmtIn(d.nb, d.sc.locs[i]))
	}
	if len(rs.holidays) > 0 {
		hs := make([]string, 0, len(rs.holidays))
		for _, h := range rs.holidays {
			if h.AddDays(366) >= d.bd && h <= d.bd.AddDays(366) {
				hs = append(hs, h.String())
			}
		}
		if len(hs) > 0 {
			d.tracef("Holidays (no contact on these local dates in any candidate zone): %s.", strings.Join(hs, ", "))
		}
	}
	for _, q := range d.b.Quiet {
		bounds := ""
		if q.NotBefore != 0 || q.NotAfter != 0 {
			bounds = fmt.Sprintf(" (dates %v to %v)", dateOrOpen(q.NotBefore), dateOrOpen(q.NotAfter))
		}
		d.tracef("Borrower quiet window (Reg F comment 6(b)(1)-1): %s %s-%s%s, in every candidate zone.", q.Days.String(), q.From, q.To, bounds)
	}
}

func dateOrOpen(d civil.Date) string {
	if d == 0 {
		return "open"
	}
	return d.String()
}

func (d *decider) traceChannel(i int, ch Channel, reason string, dec Decision) {
	verdict := "usable"
	if reason != "" {
		verdict = fmt.Sprintf("%s (%s)", dec, reason)
	}
	b := d.b
	switch ch {
	case SMS:
		d.tracef("Item %d on sms: phone on file: %s; phone valid: %s; opted out of texts: %s → %s.", i, yesNo(b.Phone.Raw != ""), yesNo(b.Phone.Valid && b.Phone.E164 != ""), yesNo(b.SMSOptOut), verdict)
	case Email:
		d.tracef("Item %d on email: email on file: %s; address well formed: %s; opted out of email: %s → %s.", i, yesNo(b.Email != ""), yesNo(validEmail(b.Email)), yesNo(b.EmailOptOut), verdict)
	default:
		d.tracef("Item %d on %s: %s.", i, ch, verdict)
	}
}

// blockText explains why instant x is not usable, zone by zone.
func (d *decider) blockText(x int64) string {
	sec := floorDiv(x, nsPerSec)
	var parts []string
	for i := range d.sc.ev.zones {
		z := &d.sc.ev.zones[i]
		m := d.sc.ev.blockMask(z, sec)
		local := fmtIn(x, z.loc)
		if m&blkWindow != 0 {
			parts = append(parts, fmt.Sprintf("outside the allowed windows in %s (%s)", z.loc, local))
		}
		if m&blkHoliday != 0 {
			parts = append(parts, fmt.Sprintf("a holiday in %s (%s)", z.loc, local))
		}
		if m&blkQuiet != 0 {
			parts = append(parts, fmt.Sprintf("inside a borrower quiet window in %s (%s)", z.loc, local))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("permissible, but not for the minimum send window of %v", d.p.msw)
	}
	return strings.Join(parts, "; ")
}

func (d *decider) traceMoves() {
	for _, m := range d.sc.moves {
		to := "no permissible time before the last validity"
		if m.to < maxNS {
			to = "next candidate " + fmtUTC(m.to)
		}
		if m.cap >= 0 {
			c := &d.p.caps[m.cap]
			d.tracef("At %s frequency cap %s is full (%d send(s) counted: %s): %s (%s%s).",
				fmtUTC(m.from), c.name, len(d.sc.capS[m.cap]), sendList(d.sc.capS[m.cap]), to, ReasonFrequencyCapPrefix, c.name)
			continue
		}
		d.tracef("At %s sending is not permissible: %s; %s (%s).", fmtUTC(m.from), d.blockText(m.from), to, blockerReason(d.sc.ev.blockers(m.from, d.p.msw)))
	}
}

func sendList(s []int64) string {
	if len(s) == 0 {
		return "none"
	}
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = fmtUTC(x)
	}
	return strings.Join(parts, ", ")
}

func (d *decider) traceMessage(msg *Message, exempt bool) {
	t := toNS(msg.At)
	if exempt {
		d.tracef("Frequency caps not applied: every item's stage is cap-exempt (legally required notice).")
	} else {
		if len(d.sc.caps) == 0 {
			d.tracef("No frequency cap applies to %s.", msg.Channel)
		}
		for _, k := range d.sc.caps {
			c := &d.p.caps[k]
			s := d.sc.capS[k]
			fullest := capWindow(s, t, t+c.per)
			for _, x := range s {
				if x > t-c.per && x <= t {
					fullest = max(fullest, capWindow(s, x, x+c.per))
				}
			}
			d.tracef("Frequency cap %s: sends counted: %s; the fullest %s window containing %s holds %d, so this message makes %d of at most %d: within the cap.",
				c.name, sendList(s), durationText(time.Duration(c.per)), fmtUTC(t), fullest, fullest+1, c.max)
		}
	}
	when := "queued now"
	if msg.Decision == Deferred {
		when = fmt.Sprintf("deferred (%s)", msg.Reason)
	}
	locals := make([]string, len(d.sc.locs))
	for i, loc := range d.sc.locs {
		locals[i] = fmtIn(t, loc)
	}
	d.tracef("The %s message to %s with items %v (most severe stage %d %q) is %s: send at %s (%s), deliver before %s.",
		msg.Channel, pii.MaskContact(string(msg.Channel), msg.Recipient), msg.Items, msg.Stage, d.p.stages[msg.Stage].Name, when, fmtUTC(t), strings.Join(locals, "; "), fmtUTC(toNS(msg.ValidUntil)))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

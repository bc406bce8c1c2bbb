package policy

import (
	"fmt"
	"github.com/loanremind/loanremind/jobs/clean"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/pii"
)

// The trace is read aloud by support staff to borrowers and regulators:
// whole sentences, times in UTC and in local time, rule names as audited.

// tracef adds a line. It is not inlined, so that the write methods that
// are one tracef are not inlined into the step methods either.
//
//go:noinline
func (t *tracer) tracef(format string, args ...any) {
	t.d.plan.Trace = append(t.d.plan.Trace, fmt.Sprintf(format, args...))
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

func (t *tracer) writeStarted() {
	d := t.d
	t.tracef("As of %s the business date is %s (business time zone %s). Earliest send time: %s.",
		fmtUTC(toNS(d.req.AsOf)), d.businessDate, d.p.businessZone, fmtUTC(d.notBefore))
}

func (t *tracer) itemName(i int) string {
	it := &t.d.req.Items[i]
	return fmt.Sprintf("Item %d (installment %d, loan %d, #%d, due %s)", i, it.InstallmentID, it.LoanID, it.Seq, it.DueDate)
}

func (t *tracer) writeNoStage(i int) {
	d := t.d
	lo, hi := d.p.stages.Span()
	t.tracef("%s: %s; no stage applies on business date %s (stages cover %d to %d days from the due date) → %s (%s).",
		t.itemName(i), dueText(int(d.businessDate-d.req.Items[i].DueDate)), d.businessDate, lo, hi, Skipped, ReasonNoStage)
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

func (t *tracer) writeItemChecked(i int, reason string, dec Decision) {
	d := t.d
	it, st := &d.req.Items[i], &d.items[i]
	stage := &d.p.stages[st.stage]
	start := "on the due date"
	switch {
	case stage.DaysFromDue < 0:
		start = plural(-stage.DaysFromDue, "day", "days") + " before the due date"
	case stage.DaysFromDue > 0:
		start = plural(stage.DaysFromDue, "day", "days") + " after the due date"
	}
	t.tracef("%s: %s, so stage %d %q applies (it starts %s); the stage is valid until %s (%s).",
		t.itemName(i), dueText(int(d.businessDate-it.DueDate)), st.stage, stage.Name, start, fmtIn(st.validUntil, d.p.businessZone), fmtUTC(st.validUntil))
	verdict := "eligible"
	if reason != "" {
		verdict = fmt.Sprintf("%s (%s) on %s", dec, reason, channelList(stage.Channels))
	}
	t.tracef("Item %d checks: borrower asked for no contact at all: %s; loan is active (status %q): %s; amounts not negative: %s; currency %q is a known ISO 4217 code: %s; amount still due (minor units) %d > 0: %s → %s.",
		i, yesNo(d.req.Borrower.DoNotContact), clean.Text(it.LoanStatus, 64), yesNo(it.LoanStatus == "active"),
		yesNo(it.AmountDueMinor >= 0 && it.AmountPaidMinor >= 0), clean.Text(it.Currency, 16), yesNo(d.p.currencies.known(it.Currency)),
		it.AmountDueMinor-it.AmountPaidMinor, yesNo(it.AmountDueMinor-it.AmountPaidMinor > 0), verdict)
}

func channelList(chs []Channel) string {
	s := make([]string, len(chs))
	for i, c := range chs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func (t *tracer) writeBadData(reason string) {
	t.tracef("The borrower's rows cannot be used (%s): every remaining item → %s (%s).", reason, Skipped, reason)
}

func sourceText(z ZoneUse, region string) string {
	switch z.Source {
	case SourceTimeZone:
		return "the borrower's time_zone"
	case SourcePhone:
		return "the phone number"
	case SourceRegion:
		return "region " + clean.Text(region, 16)
	case SourceDefault:
		return "the default zone, as nothing else was known"
	}
	return z.Source
}

func (t *tracer) writeZonesResolved(rules *ruleSet, ok bool) {
	d, b := t.d, t.d.req.Borrower
	for _, n := range d.plan.Notes {
		t.tracef("Note: %s.", n)
	}
	if !ok {
		t.tracef("The borrower's time_zone %q is not a known IANA time zone, so the local time cannot be known: every remaining item → %s (%s).",
			clean.Text(b.TimeZone, 64), Skipped, ReasonInvalidTimeZone)
		return
	}
	t.writeRegions(rules)
	whose := "the default rules"
	switch {
	case len(d.plan.Regions) > 1:
		whose = "the rules of every candidate region"
	case rules.key != "":
		whose = "the rules of region " + rules.key
	}
	for i, z := range d.plan.Zones {
		t.tracef("Candidate time zone %s (from %s): allowed %s local time (%s); at the earliest send time it is %s there.",
			z.Name, sourceText(z, b.Region), windowsText(rules.windows), whose, fmtIn(d.notBefore, d.zoneLocs[i]))
	}
	if near := t.nearHolidays(rules.holidays); len(near) > 0 {
		t.tracef("Holidays (no contact on these local dates in any candidate zone): %s.", strings.Join(near, ", "))
	}
	for _, q := range b.Quiet {
		bounds := ""
		if q.NotBefore != 0 || q.NotAfter != 0 {
			bounds = fmt.Sprintf(" (dates %v to %v)", dateOrOpen(q.NotBefore), dateOrOpen(q.NotAfter))
		}
		t.tracef("Borrower quiet window (Reg F comment 6(b)(1)-1): %s %s-%s%s, in every candidate zone.", q.Days.String(), q.From, q.To, bounds)
	}
}

// writeRegions says which regions' rules apply, why, what each brings,
// and what they make together.
func (t *tracer) writeRegions(rules *ruleSet) {
	d := t.d
	if len(d.plan.Regions) == 0 {
		t.tracef("No region is known for the borrower (no valid region, no valid phone number with a country, no time_zone in a country): the default rules apply.")
		return
	}
	for _, r := range d.plan.Regions {
		rs := d.p.rules(r.Code)
		var what string
		switch {
		case rs == d.p.defaultRules:
			what = "no rules are configured for it, so the default rules apply to it: allowed " + windowsText(rs.windows)
		case rs.key == r.Code:
			what = "its rules allow " + windowsText(rs.windows)
		default:
			what = "the rules of " + rs.key + " apply to it: allowed " + windowsText(rs.windows)
		}
		if near := t.nearHolidays(rs.holidays); len(near) > 0 {
			what += "; holidays " + strings.Join(near, ", ")
		}
		t.tracef("Candidate region %s (from %s): %s.", r.Code, regionSourceText(r.Source), what)
	}
	if len(d.plan.Regions) > 1 {
		t.tracef("The rules of every candidate region apply at once, the strictest winning: allowed only when every one allows, that is %s; the holidays of every one.",
			windowsText(rules.windows))
	}
}

// regionSourceText says where a candidate region came from.
func regionSourceText(source string) string {
	switch source {
	case SourceRegion:
		return "the borrower's region"
	case SourcePhone:
		return "the phone number"
	case SourceTimeZone:
		return "the country of the borrower's time_zone"
	}
	return source
}

// windowsText lists allowed windows.
func windowsText(windows []Window) string {
	if len(windows) == 0 {
		return "no time at all (the windows share none)"
	}
	parts := make([]string, len(windows))
	for i, w := range windows {
		parts[i] = w.String()
	}
	return strings.Join(parts, " and ")
}

// nearHolidays lists the holidays within a year of the business date.
func (t *tracer) nearHolidays(holidays []civil.Date) []string {
	businessDate := t.d.businessDate
	var near []string
	for _, h := range holidays {
		if h.AddDays(366) >= businessDate && h <= businessDate.AddDays(366) {
			near = append(near, h.String())
		}
	}
	return near
}

func dateOrOpen(d civil.Date) string {
	if d == 0 {
		return "open"
	}
	return d.String()
}

func (t *tracer) writeChannelChecked(i int, ch Channel, reason string, dec Decision) {
	verdict := "usable"
	if reason != "" {
		verdict = fmt.Sprintf("%s (%s)", dec, reason)
	}
	b := t.d.req.Borrower
	switch ch {
	case SMS:
		t.tracef("Item %d on sms: phone on file: %s; phone valid: %s; opted out of texts: %s → %s.", i, yesNo(b.Phone.Raw != ""), yesNo(b.Phone.Valid && b.Phone.E164 != ""), yesNo(b.SMSOptOut), verdict)
	case Email:
		t.tracef("Item %d on email: email on file: %s; address well formed: %s; opted out of email: %s → %s.", i, yesNo(b.Email != ""), yesNo(validEmail(b.Email)), yesNo(b.EmailOptOut), verdict)
	default:
		t.tracef("Item %d on %s: %s.", i, ch, verdict)
	}
}

func (t *tracer) writeFallbackTried(i int, ch Channel) {
	t.tracef("Item %d: no primary channel is usable, so the stage's fallback channel %s is tried.", i, ch)
}

func (t *tracer) writeScheduling(ch Channel, members int) {
	t.tracef("Scheduling the %s message (%d item(s)).", ch, members)
}

func (t *tracer) writeNoCommonWindow(members int) {
	t.tracef("The allowed windows of the candidate zones have no instant in common in the %d days from %s (Reg F comment 6(b)(1)(i)-2: the time must be convenient in every location): all %d item(s) suppressed (%s).",
		commonLookahead/day, fmtUTC(t.d.notBefore), members, ReasonNoCommonWindow)
}

func (t *tracer) writeValidityPassed(ch Channel, m member) {
	t.tracef("Item %d on %s: its stage was valid until %s, before the earliest send time → %s (%s).", m.item, ch, fmtUTC(m.validUntil), Expired, ReasonValidUntilPassed)
}

func (t *tracer) writeNoSendTime(ch Channel, m member, dec Decision, reason string) {
	t.tracef("Item %d on %s: no permissible send time within the caps before its validity ended at %s → %s (%s).", m.item, ch, fmtUTC(m.validUntil), dec, reason)
}

func (t *tracer) writeSentLate(ch Channel, m member) {
	t.tracef("Item %d on %s: its validity had passed; sent late (SendLate) with validity until %s.", m.item, ch, fmtUTC(m.validUntil))
}

func (t *tracer) writeNoMessage(ch Channel) {
	t.tracef("No %s message: none of its items can be sent.", ch)
}

// blockText explains why instant x is not usable, zone by zone.
func (t *tracer) blockText(x int64) string {
	d := t.d
	sec := floorDiv(x, nsPerSec)
	var parts []string
	for i := range d.evaluator.zones {
		z := &d.evaluator.zones[i]
		m := d.evaluator.blockMask(z, sec)
		local := fmtIn(x, z.loc)
		if m&blockedByWindow != 0 {
			parts = append(parts, fmt.Sprintf("outside the allowed windows in %s (%s)", z.loc, local))
		}
		if m&blockedByHoliday != 0 {
			parts = append(parts, fmt.Sprintf("a holiday in %s (%s)", z.loc, local))
		}
		if m&blockedByQuiet != 0 {
			parts = append(parts, fmt.Sprintf("inside a borrower quiet window in %s (%s)", z.loc, local))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("permissible, but not for the minimum send window of %v", d.p.minSendWindow)
	}
	return strings.Join(parts, "; ")
}

// searched explains each stretch the search skipped.
func (t *tracer) writeSearched() {
	d := t.d
	for _, s := range d.skipped {
		to := "no permissible time before the last validity"
		if s.to < maxNS {
			to = "next candidate " + fmtUTC(s.to)
		}
		if s.fullCap >= 0 {
			c := &d.p.caps[s.fullCap]
			t.tracef("At %s frequency cap %s is full (%d send(s) counted: %s): %s (%s%s).",
				fmtUTC(s.from), c.name, len(d.capSends[s.fullCap]), sendList(d.capSends[s.fullCap]), to, ReasonFrequencyCapPrefix, c.name)
			continue
		}
		t.tracef("At %s sending is not permissible: %s; %s (%s).", fmtUTC(s.from), t.blockText(s.from), to, blockerReason(d.evaluator.blockers(s.from, d.p.minSendWindow)))
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

func (t *tracer) writePlanned(msg *Message) {
	d := t.d
	at := toNS(msg.At)
	if msg.CapExempt {
		t.tracef("Frequency caps not applied: every item's stage is cap-exempt (legally required notice).")
	} else {
		if len(d.appliedCaps) == 0 {
			t.tracef("No frequency cap applies to %s.", msg.Channel)
		}
		for _, k := range d.appliedCaps {
			c := &d.p.caps[k]
			counted := d.capSends[k]
			fullest := countSends(counted, at, at+c.per)
			for _, x := range counted {
				if x > at-c.per && x <= at {
					fullest = max(fullest, countSends(counted, x, x+c.per))
				}
			}
			t.tracef("Frequency cap %s: sends counted: %s; the fullest %s window containing %s holds %d, so this message makes %d of at most %d: within the cap.",
				c.name, sendList(counted), durationText(time.Duration(c.per)), fmtUTC(at), fullest, fullest+1, c.max)
		}
	}
	when := "queued now"
	if msg.Decision == Deferred {
		when = fmt.Sprintf("deferred (%s)", msg.Reason)
	}
	locals := make([]string, len(d.zoneLocs))
	for i, loc := range d.zoneLocs {
		locals[i] = fmtIn(at, loc)
	}
	t.tracef("The %s message to %s with items %v (most severe stage %d %q) is %s: send at %s (%s), deliver before %s.",
		msg.Channel, pii.MaskContact(string(msg.Channel), msg.Recipient), msg.Items, msg.Stage, d.p.stages[msg.Stage].Name, when, fmtUTC(at), strings.Join(locals, "; "), fmtUTC(toNS(msg.ValidUntil)))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

package policy

import (
	"cmp"
	"slices"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// decider is the state of one Decide call and its working memory. It is
// kept in the Plan, so that the next call reuses its buffers.
type decider struct {
	p     *Policy
	req   *Request
	plan  *Plan
	trace *tracer // nil unless Options.Trace is set

	notBefore    int64 // Request.NotBefore (ns)
	businessDate civil.Date
	businessZone zoneCursor

	items       []itemState      // per Request.Items
	sendable    [2][]member      // per channel (channelIndex): the items a message may carry
	zoneLocs    []*time.Location // the locations of Plan.Zones
	evaluator   evaluator        // the borrower's rules in the candidate zones
	sends       []sendRec        // existing and planned sends, by time
	capSends    [][]int64        // per cap: the sends it counts, sorted
	appliedCaps []int            // the caps applied to the message being scheduled
	skipped     []skip           // the stretches the last search skipped
	common      commonWindow
	memo        nextMemo
}

type itemState struct {
	stage      int
	validUntil int64 // the stage's validity (ns)
	live       bool  // passed the item-level rules
}

// member is an item in a message being scheduled.
type member struct {
	item, outcome int
	validUntil    int64 // its validity (ns), after SendLate
	late, passed  bool
}

// sendRec is a send counted by the frequency caps.
type sendRec struct {
	at      int64 // ns
	channel uint8 // chanBit
}

// skip is a stretch [from, to) the search skipped: no permissible time
// (fullCap < 0), or the cap Policy.caps[fullCap] was full.
type skip struct {
	from, to int64
	fullCap  int
}

// commonWindow is whether the candidate zones' allowed windows share an
// instant; it is looked up at most once per Decide.
type commonWindow uint8

const (
	commonUnknown commonWindow = iota
	commonFound
	commonNone
)

// nextMemo remembers the last permissible-time search of a Decide call: the
// email message usually starts where the sms one did.
type nextMemo struct {
	ok                    bool
	from, limit, endLimit int64
	at, end               int64
	found                 bool
}

// commonLookahead is how far ahead the weekly windows are searched for an
// instant common to every candidate zone.
const commonLookahead = 8 * day

// Decide fills plan (after plan.Reset) with the decisions for one borrower:
// the candidate zones, notes, messages and one outcome per (item, channel),
// applying the rules in the order the package documentation gives.
func (p *Policy) Decide(req *Request, plan *Plan) {
	plan.Reset()
	if plan.work == nil {
		plan.work = new(decider)
	}
	d := plan.work
	d.start(p, req, plan)
	d.decide()
	d.p, d.req, d.plan, d.trace = nil, nil, nil, nil // the Plan keeps buffers, not the request
}

// decide takes the steps of the rules in order.
func (d *decider) decide() {
	live := d.stageItems()
	if reason := d.req.Borrower.BadData; reason != "" {
		d.trace.badData(reason)
		d.skipLiveItems(reason)
		return
	}
	rules, ok := d.resolveZones()
	if !ok {
		d.skipLiveItems(ReasonInvalidTimeZone)
		return
	}
	if live == 0 {
		return
	}
	d.pickChannels()
	if len(d.sendable[0])+len(d.sendable[1]) == 0 {
		return
	}
	d.loadSchedule(rules)
	d.schedule(SMS) // first, so that email's caps count it
	d.schedule(Email)
}

// start points the decider at a request; its buffers keep their capacity.
func (d *decider) start(p *Policy, req *Request, plan *Plan) {
	d.p, d.req, d.plan = p, req, plan
	if req.Options.Trace {
		d.trace = &tracer{d}
	}
	notBefore := req.NotBefore
	if notBefore.IsZero() {
		notBefore = req.AsOf
	}
	d.notBefore = toNS(notBefore)
	d.businessZone.setLoc(p.businessZone)
	d.businessDate = d.businessZone.localDay(toNS(req.AsOf))
	d.common = commonUnknown
	d.memo.ok = false
	d.sendable[0], d.sendable[1] = d.sendable[0][:0], d.sendable[1][:0]
	d.trace.started()
}

// stageItems finds each item's stage and applies the item-level rules.
// Items without a stage or that fail a rule are decided now; it returns how
// many are left (live).
func (d *decider) stageItems() (live int) {
	items := d.req.Items
	if cap(d.items) < len(items) {
		d.items = make([]itemState, len(items))
	}
	d.items = d.items[:len(items)]
	for i := range items {
		it, st := &items[i], &d.items[i]
		idx, ok := d.p.stages.At(it.DueDate, d.businessDate)
		*st = itemState{stage: idx}
		if !ok {
			d.outcome(i, -1, "", Skipped, ReasonNoStage)
			d.trace.noStage(i)
			continue
		}
		st.validUntil, _ = d.p.stages.validUntilNS(idx, it.DueDate, &d.businessZone)
		reason, dec := itemRule(d.req.Borrower, it, &d.p.currencies)
		d.trace.itemChecked(i, reason, dec)
		if reason != "" {
			d.decideStageChannels(i, dec, reason)
			continue
		}
		st.live = true
		live++
	}
	return live
}

// resolveZones finds the borrower's candidate zones, their candidate
// regions and the rules of those; ok is false when their time_zone is
// invalid.
func (d *decider) resolveZones() (rules *ruleSet, ok bool) {
	b, plan := d.req.Borrower, d.plan
	var timeZoneCountry string
	plan.Zones, d.zoneLocs, plan.Notes, timeZoneCountry, ok = d.p.appendZones(b, plan.Zones, d.zoneLocs[:0], plan.Notes)
	plan.Regions, plan.Notes = d.p.appendRegions(b, timeZoneCountry, plan.Regions, plan.Notes)
	rules = d.p.regionRules(plan.Regions)
	d.trace.zonesResolved(rules, ok)
	return rules, ok
}

// skipLiveItems decides every live item on its stage's channels.
func (d *decider) skipLiveItems(reason string) {
	for i := range d.items {
		if st := &d.items[i]; st.live {
			st.live = false
			d.decideStageChannels(i, Skipped, reason)
		}
	}
}

// decideStageChannels gives item i one outcome per channel of its stage;
// an item with channels already decided (Item.Decided), one per other
// channel of the stage, its fallback included: the channels given back.
func (d *decider) decideStageChannels(i int, dec Decision, reason string) {
	st := &d.items[i]
	stage := &d.p.stages[st.stage]
	decided := d.req.Items[i].Decided
	if decided == 0 {
		for _, ch := range stage.Channels {
			d.outcome(i, st.stage, ch, dec, reason)
		}
		return
	}
	for _, ch := range stage.Channels {
		if !decided.Has(ch) {
			d.outcome(i, st.stage, ch, dec, reason)
		}
	}
	if stage.Fallback != "" && !decided.Has(stage.Fallback) {
		d.outcome(i, st.stage, stage.Fallback, dec, reason)
	}
}

// pickChannels tries every live item on its stage's channels, and on the
// stage's fallback when none of them is usable. A channel an earlier run
// decided for the item (Item.Decided) is not tried, and is not usable.
func (d *decider) pickChannels() {
	for i := range d.items {
		st := &d.items[i]
		if !st.live {
			continue
		}
		stage := &d.p.stages[st.stage]
		decided := d.req.Items[i].Decided
		usable := false
		for _, ch := range stage.Channels {
			if decided.Has(ch) {
				continue // decided by an earlier run: not usable, not decided again
			}
			usable = d.attempt(i, ch) || usable
		}
		if !usable && stage.Fallback != "" && !decided.Has(stage.Fallback) {
			d.trace.fallbackTried(i, stage.Fallback)
			d.attempt(i, stage.Fallback)
		}
	}
}

// attempt decides whether item i can go out on ch: an outcome now when it
// cannot, else a placeholder outcome that scheduling fills in.
func (d *decider) attempt(i int, ch Channel) bool {
	stage := d.items[i].stage
	reason, dec := channelStatus(d.req.Borrower, ch)
	d.trace.channelChecked(i, ch, reason, dec)
	if reason != "" {
		d.outcome(i, stage, ch, dec, reason)
		return false
	}
	o := d.outcome(i, stage, ch, "", "")
	g := channelIndex(ch)
	d.sendable[g] = append(d.sendable[g], member{item: i, outcome: o})
	return true
}

// channelIndex is the index of a channel in decider.sendable.
func channelIndex(ch Channel) int {
	if ch == Email {
		return 1
	}
	return 0
}

// outcome appends an outcome and returns its index.
func (d *decider) outcome(item, stage int, ch Channel, dec Decision, reason string) int {
	d.plan.Outcomes = append(d.plan.Outcomes, Outcome{Item: item, Stage: stage, Channel: ch, Decision: dec, Reason: reason, Message: -1})
	return len(d.plan.Outcomes) - 1
}

func (d *decider) setOutcome(o int, dec Decision, reason string, msg int) {
	oc := &d.plan.Outcomes[o]
	oc.Decision, oc.Reason, oc.Message = dec, reason, msg
}

// loadSchedule prepares the scheduling of the messages: the evaluator for
// the borrower's rules, quiet windows and zones, and their existing sends.
func (d *decider) loadSchedule(rules *ruleSet) {
	d.evaluator.init(rules, d.req.Borrower.Quiet, d.zoneLocs)
	d.sends = d.sends[:0]
	for _, c := range d.req.Existing {
		d.sends = append(d.sends, sendRec{at: toNS(c.At), channel: chanBit(c.Channel)})
	}
	slices.SortFunc(d.sends, func(a, b sendRec) int { return cmp.Compare(a.at, b.at) })
}

// schedule decides the message on channel ch: the earliest permissible send
// time within the caps, the items still valid then, and every item's
// outcome.
func (d *decider) schedule(ch Channel) {
	members := d.sendable[channelIndex(ch)]
	if len(members) == 0 {
		return
	}
	d.trace.scheduling(ch, len(members))
	horizon, sendable, exempt := d.settleValidity(members)
	d.applyCaps(chanBit(ch), exempt)
	d.skipped = d.skipped[:0]
	var at, end int64
	found := false
	if sendable > 0 {
		at, end, found = d.search(horizon)
	}
	if (!found || at-d.notBefore >= int64(commonLookahead)) && !d.hasCommonWindow() {
		for _, m := range members {
			d.setOutcome(m.outcome, Suppressed, ReasonNoCommonWindow, -1)
		}
		d.trace.noCommonWindow(len(members))
		return
	}
	d.trace.searched()
	kept, earliestValidUntil := d.dropUnsendable(ch, members, at, found)
	if len(kept) == 0 {
		d.trace.noMessage(ch)
		return
	}
	d.planMessage(ch, kept, at, min(earliestValidUntil, end), exempt)
}

// settleValidity sets each member's validity: its stage's, or with SendLate
// a new one for an item whose validity passed before NotBefore (without
// SendLate such an item is marked passed). It returns the latest validity,
// how many members may still be sent, and whether all of those are
// cap-exempt.
func (d *decider) settleValidity(members []member) (horizon int64, sendable int, exempt bool) {
	horizon, exempt = minNS, true
	for k := range members {
		m := &members[k]
		st := &d.items[m.item]
		m.validUntil, m.late, m.passed = st.validUntil, false, false
		if m.validUntil <= d.notBefore {
			if !d.req.Options.SendLate {
				m.passed = true
				continue
			}
			m.validUntil, m.late = addNS(d.notBefore, d.p.lateValidity), true
		}
		exempt = exempt && d.p.stages[st.stage].CapExempt
		sendable++
		horizon = max(horizon, m.validUntil)
	}
	return horizon, sendable, exempt
}

// applyCaps selects the caps that apply to a message on the channel with
// bit channel (none when it is exempt), each with the sends it counts.
func (d *decider) applyCaps(channel uint8, exempt bool) {
	d.appliedCaps = d.appliedCaps[:0]
	for len(d.capSends) < len(d.p.caps) {
		d.capSends = append(d.capSends, nil)
	}
	if exempt {
		return
	}
	for k := range d.p.caps {
		c := &d.p.caps[k]
		if c.channelMask&channel == 0 {
			continue
		}
		counted := d.capSends[k][:0]
		for _, r := range d.sends {
			if c.channelMask == allChannels || c.channelMask&r.channel != 0 {
				counted = append(counted, r.at)
			}
		}
		d.capSends[k] = counted
		d.appliedCaps = append(d.appliedCaps, k)
	}
}

// dropUnsendable decides the members that cannot be in the message, sent at
// at (found false: no send time): those whose validity passed, or ended
// before at. It returns the others, in members' memory, and the earliest of
// their validities.
func (d *decider) dropUnsendable(ch Channel, members []member, at int64, found bool) (kept []member, earliestValidUntil int64) {
	kept, earliestValidUntil = members[:0], maxNS
	for _, m := range members {
		switch {
		case m.passed:
			d.setOutcome(m.outcome, Expired, ReasonValidUntilPassed, -1)
			d.trace.validityPassed(ch, m)
		case !found || m.validUntil <= at:
			dec, reason := d.expiry(m.validUntil)
			d.setOutcome(m.outcome, dec, reason, -1)
			d.trace.noSendTime(ch, m, dec, reason)
		default:
			if m.late {
				d.trace.sentLate(ch, m)
			}
			earliestValidUntil = min(earliestValidUntil, m.validUntil)
			kept = append(kept, m)
		}
	}
	return kept, earliestValidUntil
}

// planMessage adds the message on ch with the kept members, to be sent at
// at and delivered before validUntil, decides their outcomes, and counts the
// message for the caps of later ones.
func (d *decider) planMessage(ch Channel, kept []member, at, validUntil int64, exempt bool) {
	sortMembers(kept, d.req.Items)
	index := len(d.plan.Messages)
	msg := d.plan.newMessage()
	msg.Channel = ch
	msg.Recipient = d.req.Borrower.Email
	if ch == SMS {
		msg.Recipient = d.req.Borrower.Phone.E164
	}
	msg.Stage = -1
	for _, m := range kept {
		msg.Items = append(msg.Items, m.item)
		msg.Stage = max(msg.Stage, d.items[m.item].stage)
	}
	msg.At = fromNS(at)
	msg.ValidUntil = fromNS(validUntil)
	msg.CapExempt = exempt
	msg.Decision = Queued
	if at != d.notBefore {
		msg.Decision = Deferred
		msg.Reason = d.skipReason(d.skipped[0])
	}
	for _, m := range kept {
		d.setOutcome(m.outcome, msg.Decision, msg.Reason, index)
	}
	d.trace.planned(msg)

	k, _ := slices.BinarySearchFunc(d.sends, at, func(r sendRec, t int64) int { return cmp.Compare(r.at, t) })
	d.sends = slices.Insert(d.sends, k, sendRec{at: at, channel: chanBit(ch)})
}

// sortMembers orders a message's items: overdue first (most days past due
// first), then by due date, loan id, seq, installment id and index.
func sortMembers(members []member, items []Item) {
	slices.SortFunc(members, func(a, b member) int {
		x, y := &items[a.item], &items[b.item]
		if c := cmp.Compare(x.DueDate, y.DueDate); c != 0 {
			return c
		}
		if c := cmp.Compare(x.LoanID, y.LoanID); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Seq, y.Seq); c != 0 {
			return c
		}
		if c := cmp.Compare(x.InstallmentID, y.InstallmentID); c != 0 {
			return c
		}
		return cmp.Compare(a.item, b.item)
	})
}

// search finds the earliest instant >= NotBefore, before horizon, that is
// permissible (with MinSendWindow) and within every applied cap,
// alternating between the next permissible instant and the next cap event.
// It records the stretches it skipped in d.skipped.
func (d *decider) search(horizon int64) (t, end int64, found bool) {
	cur := d.notBefore
	for {
		at, e, ok := d.next(cur, horizon)
		if !ok {
			d.skipped = append(d.skipped, skip{from: cur, to: maxNS, fullCap: -1})
			return 0, 0, false
		}
		if at > cur {
			d.skipped = append(d.skipped, skip{from: cur, to: at, fullCap: -1})
		}
		full := d.fullCap(at)
		if full < 0 {
			return at, e, true
		}
		next := d.p.caps[full].nextEvent(d.capSends[full], at)
		d.skipped = append(d.skipped, skip{from: at, to: next, fullCap: full})
		if next >= horizon {
			return 0, 0, false
		}
		cur = next
	}
}

// fullCap returns the first applied cap that one more send at t would
// exceed, or -1.
func (d *decider) fullCap(t int64) int {
	for _, k := range d.appliedCaps {
		if !d.p.caps[k].feasible(d.capSends[k], t) {
			return k
		}
	}
	return -1
}

// next is evaluator.next(from, horizon, horizon) for the search, reusing the
// last answer when it holds: the earliest acceptable instant does not depend
// on the horizon as long as it lies before it, and a stretch end found for a
// later horizon is good for an earlier one.
func (d *decider) next(from, horizon int64) (at, end int64, found bool) {
	m := &d.memo
	if m.ok && m.from == from {
		if m.found && m.at < horizon && horizon <= m.endLimit {
			return m.at, m.end, true
		}
		if !m.found && horizon <= m.limit {
			return 0, 0, false
		}
	}
	at, end, found = d.evaluator.next(from, horizon, horizon, d.p.minSendWindow, false)
	*m = nextMemo{ok: true, from: from, limit: horizon, endLimit: horizon, at: at, end: end, found: found}
	return at, end, found
}

// hasCommonWindow reports whether the allowed windows of the candidate zones
// (ignoring holidays, quiet windows and caps) share an instant within
// commonLookahead of NotBefore. It is computed once per Decide.
func (d *decider) hasCommonWindow() bool {
	if d.common == commonUnknown {
		_, _, ok := d.evaluator.next(d.notBefore, addNS(d.notBefore, commonLookahead), d.notBefore, 0, true)
		d.common = commonNone
		if ok {
			d.common = commonFound
		}
	}
	return d.common == commonFound
}

// skipReason names the rule behind a skipped stretch.
func (d *decider) skipReason(s skip) string {
	if s.fullCap >= 0 {
		return d.p.caps[s.fullCap].reason
	}
	return blockerReason(d.evaluator.blockers(s.from, d.p.minSendWindow))
}

// expiry decides an item whose validity v ended before a send time was
// found: the skipped stretch that covers v says what pushed the send past it.
func (d *decider) expiry(v int64) (Decision, string) {
	for _, s := range d.skipped {
		if s.from < v && v <= s.to {
			if s.fullCap >= 0 {
				return Suppressed, d.p.caps[s.fullCap].reason
			}
			return Expired, noPermissibleTime(d.evaluator.blockers(v-1, d.p.minSendWindow))
		}
	}
	return Expired, ReasonNoPermissibleTimePrefix + ReasonQuietHours // not reached: the stretches cover [NotBefore, t)
}

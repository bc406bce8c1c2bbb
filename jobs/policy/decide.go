package policy

import (
	"cmp"
	"slices"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// scratch is the working memory of Decide, kept in the Plan.
type scratch struct {
	items  []itemState
	groups [2][]member // sendable items per channel: sms, email
	locs   []*time.Location
	ev     evaluator
	bz     zcur
	sends  []sendRec // existing and planned sends, by time
	capS   [][]int64 // per cap: the sends it counts, sorted
	caps   []int     // caps applied to the message being scheduled
	moves  []move
	common int8 // no-common-window check: 0 not done, 1 common, 2 none
	memo   nextMemo
}

// nextMemo remembers the last permissible-time search of a Decide call: the
// email message usually starts where the sms one did.
type nextMemo struct {
	ok                    bool
	from, limit, endLimit int64
	at, end               int64
	found                 bool
}

type itemState struct {
	stage int
	valid int64 // stage validity (ns)
	live  bool  // passed the item-level rules
}

// member is an item in a message being scheduled.
type member struct {
	item, outcome int
	valid         int64 // validity (ns), after SendLate
	late, passed  bool
}

type sendRec struct {
	at int64
	ch uint8
}

// move is a stretch [from, to) the search skipped: no permissible time
// (cap < 0) or cap p.caps[cap] full.
type move struct {
	from, to int64
	cap      int
}

// commonLookahead is how far ahead the weekly windows are searched for an
// instant common to every candidate zone.
const commonLookahead = 8 * day

// decider holds the state of one Decide call.
type decider struct {
	p    *Policy
	req  *Request
	plan *Plan
	sc   *scratch
	b    *Borrower
	tr   bool
	nb   int64 // NotBefore (ns)
	bd   civil.Date
}

// Decide fills plan (after plan.Reset) with the decisions for one borrower:
// the candidate zones, notes, messages and one outcome per (item, channel),
// applying the rules in the order the package documentation gives.
func (p *Policy) Decide(req *Request, plan *Plan) {
	plan.Reset()
	if plan.sc == nil {
		plan.sc = new(scratch)
	}
	d := decider{p: p, req: req, plan: plan, sc: plan.sc, b: req.Borrower, tr: req.Options.Trace}
	d.run()
}

func (d *decider) run() {
	p, sc, b, req := d.p, d.sc, d.b, d.req
	notBefore := req.NotBefore
	if notBefore.IsZero() {
		notBefore = req.AsOf
	}
	d.nb = toNS(notBefore)
	sc.bz.setLoc(p.bz)
	d.bd = sc.bz.localDay(toNS(req.AsOf))
	sc.common = 0
	sc.memo.ok = false
	sc.groups[0], sc.groups[1] = sc.groups[0][:0], sc.groups[1][:0]
	if d.tr {
		d.traceStart()
	}

	// 1-2. Stage, then the item-level rules.
	if cap(sc.items) < len(req.Items) {
		sc.items = make([]itemState, len(req.Items))
	}
	sc.items = sc.items[:len(req.Items)]
	live := 0
	for i := range req.Items {
		it, st := &req.Items[i], &sc.items[i]
		idx, ok := p.stages.At(it.DueDate, d.bd)
		*st = itemState{stage: idx}
		if !ok {
			d.outcome(i, -1, "", Skipped, ReasonNoStage)
			if d.tr {
				d.traceNoStage(i)
			}
			continue
		}
		st.valid, _ = p.stages.validUntilNS(idx, it.DueDate, &sc.bz)
		reason, dec := itemRule(b, it, &p.currencies)
		if d.tr {
			d.traceItem(i, st, reason, dec)
		}
		if reason != "" {
			for _, ch := range p.stages[idx].Channels {
				d.outcome(i, idx, ch, dec, reason)
			}
			continue
		}
		st.live = true
		live++
	}

	// 3. Candidate zones.
	var ok bool
	plan := d.plan
	plan.Zones, sc.locs, plan.Notes, ok = p.appendZones(b, plan.Zones, sc.locs[:0], plan.Notes)
	rs := p.rules(b.Region)
	if d.tr {
		d.traceZones(rs, ok)
	}
	if !ok {
		for i := range sc.items {
			if st := &sc.items[i]; st.live {
				st.live = false
				for _, ch := range p.stages[st.stage].Channels {
					d.outcome(i, st.stage, ch, Skipped, ReasonInvalidTimeZone)
				}
			}
		}
		return
	}
	if live == 0 {
		return
	}

	// 4-5. Channels, grouped per channel.
	for i := range sc.items {
		st := &sc.items[i]
		if !st.live {
			continue
		}
		stg := &p.stages[st.stage]
		usable := false
		for _, ch := range stg.Channels {
			usable = d.attempt(i, st, ch) || usable
		}
		if !usable && stg.Fallback != "" {
			if d.tr {
				d.tracef("Item %d: no primary channel is usable, so the stage's fallback channel %s is tried.", i, stg.Fallback)
			}
			d.attempt(i, st, stg.Fallback)
		}
	}
	if len(sc.groups[0])+len(sc.groups[1]) == 0 {
		return
	}

	// 6. Schedule: sms first, so that email's caps count it.
	sc.ev.init(rs, b.Quiet, sc.locs)
	sc.sends = sc.sends[:0]
	for _, c := range req.Existing {
		sc.sends = append(sc.sends, sendRec{at: toNS(c.At), ch: chanBit(c.Channel)})
	}
	slices.SortFunc(sc.sends, func(a, b sendRec) int { return cmp.Compare(a.at, b.at) })
	d.schedule(SMS, 0)
	d.schedule(Email, 1)
}

// outcome appends an outcome and returns its index.
func (d *decider) outcome(item, stage int, ch Channel, dec Decision, reason string) int {
	d.plan.Outcomes = append(d.plan.Outcomes, Outcome{Item: item, Stage: stage, Channel: ch, Decision: dec, Reason: reason, Message: -1})
	return len(d.plan.Outcomes) - 1
}

// attempt decides whether item i can go out on ch: an outcome now when it
// cannot, else a placeholder outcome that scheduling fills in.
func (d *decider) attempt(i int, st *itemState, ch Channel) bool {
	reason, dec := channelStatus(d.b, ch)
	if d.tr {
		d.traceChannel(i, ch, reason, dec)
	}
	if reason != "" {
		d.outcome(i, st.stage, ch, dec, reason)
		return false
	}
	o := d.outcome(i, st.stage, ch, "", "")
	g := 0
	if ch == Email {
		g = 1
	}
	d.sc.groups[g] = append(d.sc.groups[g], member{item: i, outcome: o})
	return true
}

// schedule decides the message on channel ch (group g).
func (d *decider) schedule(ch Channel, g int) {
	p, sc, nb := d.p, d.sc, d.nb
	ms := sc.groups[g]
	if len(ms) == 0 {
		return
	}
	if d.tr {
		d.tracef("Scheduling the %s message (%d item(s)).", ch, len(ms))
	}
	horizon, alive, exempt := int64(minNS), 0, true
	for k := range ms {
		m := &ms[k]
		st := &sc.items[m.item]
		m.valid, m.late, m.passed = st.valid, false, false
		if m.valid <= nb {
			if !d.req.Options.SendLate {
				m.passed = true
				continue
			}
			m.valid, m.late = addNS(nb, p.late), true
		}
		exempt = exempt && p.stages[st.stage].CapExempt // over the items that may be sent
		alive++
		horizon = max(horizon, m.valid)
	}

	// The caps that apply, each with the sends it counts.
	bit := chanBit(ch)
	sc.caps = sc.caps[:0]
	for len(sc.capS) < len(p.caps) {
		sc.capS = append(sc.capS, nil)
	}
	if !exempt {
		for k := range p.caps {
			c := &p.caps[k]
			if c.mask&bit == 0 {
				continue
			}
			s := sc.capS[k][:0]
			for _, r := range sc.sends {
				if c.mask == allChannels || c.mask&r.ch != 0 {
					s = append(s, r.at)
				}
			}
			sc.capS[k] = s
			sc.caps = append(sc.caps, k)
		}
	}

	sc.moves = sc.moves[:0]
	var t, end int64
	found := false
	if alive > 0 {
		t, end, found = d.search(horizon)
	}
	if (!found || t-nb >= int64(commonLookahead)) && !d.commonWindow() {
		for _, m := range ms {
			d.setOutcome(m.outcome, Suppressed, ReasonNoCommonWindow, -1)
		}
		if d.tr {
			d.tracef("The allowed windows of the candidate zones have no instant in common in the %d days from %s (Reg F comment 6(b)(1)(i)-2: the time must be convenient in every location): all %d item(s) suppressed (%s).",
				commonLookahead/day, fmtUTC(nb), len(ms), ReasonNoCommonWindow)
		}
		return
	}
	if d.tr && len(sc.moves) > 0 {
		d.traceMoves()
	}

	// Items whose validity is over: out of the message.
	n := 0
	minValid := int64(maxNS)
	for _, m := range ms {
		switch {
		case m.passed:
			d.setOutcome(m.outcome, Expired, ReasonValidUntilPassed, -1)
			if d.tr {
				d.tracef("Item %d on %s: its stage was valid until %s, before the earliest send time → %s (%s).", m.item, ch, fmtUTC(m.valid), Expired, ReasonValidUntilPassed)
			}
		case !found || m.valid <= t:
			dec, reason := d.expiry(m.valid)
			d.setOutcome(m.outcome, dec, reason, -1)
			if d.tr {
				d.tracef("Item %d on %s: no permissible send time within the caps before its validity ended at %s → %s (%s).", m.item, ch, fmtUTC(m.valid), dec, reason)
			}
		default:
			if d.tr && m.late {
				d.tracef("Item %d on %s: its validity had passed; sent late (SendLate) with validity until %s.", m.item, ch, fmtUTC(m.valid))
			}
			minValid = min(minValid, m.valid)
			ms[n] = m
			n++
		}
	}
	if n == 0 {
		if d.tr {
			d.tracef("No %s message: none of its items can be sent.", ch)
		}
		return
	}
	kept := ms[:n]
	items := d.req.Items
	slices.SortFunc(kept, func(a, b member) int {
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

	mi := len(d.plan.Messages)
	msg := d.plan.newMessage()
	msg.Channel = ch
	msg.Recipient = d.b.Email
	if ch == SMS {
		msg.Recipient = d.b.Phone.E164
	}
	msg.Stage = -1
	for _, m := range kept {
		msg.Items = append(msg.Items, m.item)
		msg.Stage = max(msg.Stage, sc.items[m.item].stage)
	}
	msg.At = fromNS(t)
	msg.ValidUntil = fromNS(min(minValid, end))
	msg.CapExempt = exempt
	msg.Decision = Queued
	if t != nb {
		msg.Decision = Deferred
		msg.Reason = d.moveReason(sc.moves[0])
	}
	for _, m := range kept {
		d.setOutcome(m.outcome, msg.Decision, msg.Reason, mi)
	}
	if d.tr {
		d.traceMessage(msg, exempt)
	}

	// The planned message counts for the caps of later messages.
	k, _ := slices.BinarySearchFunc(sc.sends, t, func(r sendRec, t int64) int { return cmp.Compare(r.at, t) })
	sc.sends = slices.Insert(sc.sends, k, sendRec{at: t, ch: bit})
}

func (d *decider) setOutcome(o int, dec Decision, reason string, msg int) {
	oc := &d.plan.Outcomes[o]
	oc.Decision, oc.Reason, oc.Message = dec, reason, msg
}

// search finds the earliest instant >= NotBefore, before horizon, that is
// permissible (with MinSendWindow) and within every applied cap,
// alternating between the next permissible instant and the next cap event.
// It records the stretches it skipped in sc.moves.
func (d *decider) search(horizon int64) (t, end int64, found bool) {
	sc, p := d.sc, d.p
	cur := d.nb
	for {
		at, e, ok := d.next(cur, horizon)
		if !ok {
			sc.moves = append(sc.moves, move{from: cur, to: maxNS, cap: -1})
			return 0, 0, false
		}
		if at > cur {
			sc.moves = append(sc.moves, move{from: cur, to: at, cap: -1})
		}
		full := -1
		for _, k := range sc.caps {
			if !p.caps[k].feasible(sc.capS[k], at) {
				full = k
				break
			}
		}
		if full < 0 {
			return at, e, true
		}
		next := p.caps[full].nextEvent(sc.capS[full], at)
		sc.moves = append(sc.moves, move{from: at, to: next, cap: full})
		if next >= horizon {
			return 0, 0, false
		}
		cur = next
	}
}

// next is evaluator.next(from, horizon, horizon) for the search, reusing the
// last answer when it holds: the earliest acceptable instant does not depend
// on the horizon as long as it lies before it, and a stretch end found for a
// later horizon is good for an earlier one.
func (d *decider) next(from, horizon int64) (at, end int64, found bool) {
	m := &d.sc.memo
	if m.ok && m.from == from {
		if m.found && m.at < horizon && horizon <= m.endLimit {
			return m.at, m.end, true
		}
		if !m.found && horizon <= m.limit {
			return 0, 0, false
		}
	}
	at, end, found = d.sc.ev.next(from, horizon, horizon, d.p.msw, false)
	*m = nextMemo{ok: true, from: from, limit: horizon, endLimit: horizon, at: at, end: end, found: found}
	return at, end, found
}

// commonWindow reports whether the allowed windows of the candidate zones
// (ignoring holidays, quiet windows and caps) share an instant within
// commonLookahead of NotBefore. It is computed once per Decide.
func (d *decider) commonWindow() bool {
	if d.sc.common == 0 {
		_, _, ok := d.sc.ev.next(d.nb, addNS(d.nb, commonLookahead), d.nb, 0, true)
		d.sc.common = 2
		if ok {
			d.sc.common = 1
		}
	}
	return d.sc.common == 1
}

// moveReason names the rule behind a skipped stretch.
func (d *decider) moveReason(m move) string {
	if m.cap >= 0 {
		return d.p.caps[m.cap].reason
	}
	return blockerReason(d.sc.ev.blockers(m.from, d.p.msw))
}

// expiry decides an item whose validity v ended before a send time was
// found: the skipped stretch that covers v says what pushed the send past it.
func (d *decider) expiry(v int64) (Decision, string) {
	for _, m := range d.sc.moves {
		if m.from < v && v <= m.to {
			if m.cap >= 0 {
				return Suppressed, d.p.caps[m.cap].reason
			}
			return Expired, noPermissibleTime(d.sc.ev.blockers(v-1, d.p.msw))
		}
	}
	return Expired, ReasonNoPermissibleTimePrefix + ReasonQuietHours // not reached: the moves cover [NotBefore, t)
}

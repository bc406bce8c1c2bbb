package policy

// tracer records the steps of the decider d as sentences in Plan.Trace,
// when Options.Trace is set (explain). The decider tells it each step
// through the methods in this file; trace.go words each step in the write
// method of the same name.
//
// A run has no tracer: the decider's is nil, and each step method is a nil
// check that the compiler inlines at the call, so a run pays a compare per
// step, not a call. (A recorder interface with a no-op implementation for
// the run cost 3-4% more instructions per Decide in BenchmarkDecide: a call
// spills the decider's registers, and the item loops make several.)
type tracer struct{ d *decider }

// started: the request is set up (business date, NotBefore).
func (t *tracer) started() {
	if t != nil {
		t.writeStarted()
	}
}

// noStage: item i has no stage on the business date.
func (t *tracer) noStage(i int) {
	if t != nil {
		t.writeNoStage(i)
	}
}

// itemChecked: item i has a stage and was checked by the item-level
// rules (reason "": it passed them).
func (t *tracer) itemChecked(i int, reason string, dec Decision) {
	if t != nil {
		t.writeItemChecked(i, reason, dec)
	}
}

// badData: the borrower's rows cannot be used, for reason.
func (t *tracer) badData(reason string) {
	if t != nil {
		t.writeBadData(reason)
	}
}

// zonesResolved: the candidate zones are known (ok false: the borrower's
// time_zone is invalid).
func (t *tracer) zonesResolved(rules *ruleSet, ok bool) {
	if t != nil {
		t.writeZonesResolved(rules, ok)
	}
}

// channelChecked: item i was checked on ch (reason "": usable).
func (t *tracer) channelChecked(i int, ch Channel, reason string, dec Decision) {
	if t != nil {
		t.writeChannelChecked(i, ch, reason, dec)
	}
}

// fallbackTried: no primary channel of item i was usable; ch, the
// stage's fallback, is tried next.
func (t *tracer) fallbackTried(i int, ch Channel) {
	if t != nil {
		t.writeFallbackTried(i, ch)
	}
}

// scheduling: the message on ch is being scheduled for its members.
func (t *tracer) scheduling(ch Channel, members int) {
	if t != nil {
		t.writeScheduling(ch, members)
	}
}

// noCommonWindow: the candidate zones share no allowed instant; every
// member is suppressed.
func (t *tracer) noCommonWindow(members int) {
	if t != nil {
		t.writeNoCommonWindow(members)
	}
}

// searched: the search for a send time ended; decider.skipped holds the
// stretches it skipped.
func (t *tracer) searched() {
	if t != nil {
		t.writeSearched()
	}
}

// validityPassed: m's validity ended before NotBefore: it expired.
func (t *tracer) validityPassed(ch Channel, m member) {
	if t != nil {
		t.writeValidityPassed(ch, m)
	}
}

// noSendTime: no permissible send time came before m's validity ended.
func (t *tracer) noSendTime(ch Channel, m member, dec Decision, reason string) {
	if t != nil {
		t.writeNoSendTime(ch, m, dec, reason)
	}
}

// sentLate: m's validity had passed; SendLate gave it a new one.
func (t *tracer) sentLate(ch Channel, m member) {
	if t != nil {
		t.writeSentLate(ch, m)
	}
}

// noMessage: no member of the message on ch can be sent.
func (t *tracer) noMessage(ch Channel) {
	if t != nil {
		t.writeNoMessage(ch)
	}
}

// planned: msg is planned and its members decided.
func (t *tracer) planned(msg *Message) {
	if t != nil {
		t.writePlanned(msg)
	}
}

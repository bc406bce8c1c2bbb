package jobs

import (
	"slices"
	"strconv"
	"strings"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/phone"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/jobs/render"
	"github.com/loanremind/loanremind/queries"
)

// batchPlan is what a batch will write. Send ids are not known until the
// write: SendItem.SendID and AuditRow.SendID hold a message index + 1.
//
// Its rows are encoded for COPY as they are planned, but for the columns
// known only when the batch is sequenced for writing: the ids of messages
// and audit rows, the write's time, and the audit chain's links.
type batchPlan struct {
	sends     queries.CopyRows
	items     queries.CopyRows
	itemSend  []int32 // the message of each ledger item (index + 1)
	decisions queries.CopyRows
	audit     queries.CopyRows
	auditRows []auditPlan
	hashed    []byte // the planned parts of the audit rows' hashed content
	counts    queries.BatchCounts
	samples   []Sample
	longSMS   int64
}

// parsePhones parses the numbers of the batch's borrowers that the cache
// did not know (or knew for another number), once per distinct number.
func (p *pipeline) parsePhones(b *batch) {
	var numbers phone.Batch
	for i := range b.borrowers {
		if in := &b.borrowers[i]; !in.phone.Known {
			numbers.Add(in.b.Phone.Raw, in.phone.Region)
		}
	}
	if numbers.Len() == 0 {
		return
	}
	numbers.Parse()
	b.newPhones = make([]queries.PhoneParse, 0, numbers.Len())
	for i := range b.borrowers {
		in := &b.borrowers[i]
		if in.phone.Known {
			continue
		}
		parsed := numbers.Get(in.b.Phone.Raw, in.phone.Region)
		in.b.Phone = phone.ForPolicy(parsed)
		in.phone.Known = true
		parsed.BorrowerID, parsed.Replace = in.b.ID, in.phone.Stale
		b.newPhones = append(b.newPhones, parsed)
	}
}

// planBatch decides and renders every borrower of the batch, in order.
// (Batches are planned two at a time, on all cores.)
func (p *pipeline) planBatch(b *batch, sends []queries.ExistingSend, quiet []queries.QuietWindow) {
	contacts := map[int64][]policy.Contact{}
	for _, s := range sends {
		contacts[s.BorrowerID] = append(contacts[s.BorrowerID], policy.Contact{At: s.ScheduledFor, Channel: policy.Channel(s.Channel)})
	}
	quietOf := map[int64][]policy.QuietWindow{}
	for _, q := range quiet {
		quietOf[q.BorrowerID] = append(quietOf[q.BorrowerID], quietWindow(q))
	}
	// The buffers of a written batch, sized up front (from the seeded
	// data's averages): allocating and growing them cost more than planning
	// itself.
	pl := &b.plan
	if pl.hashed == nil {
		select {
		case v := <-p.plans:
			*pl = *v
		default:
		}
	}
	pl.reset()
	n := int(b.items)
	pl.itemSend = slices.Grow(pl.itemSend, n)
	pl.auditRows = slices.Grow(pl.auditRows, n+n/4)
	pl.hashed = slices.Grow(pl.hashed, (n+n/4)*420)
	pl.sends.Grow(len(b.borrowers)+len(b.borrowers)/4, 520)
	pl.items.Grow(n, 48)
	pl.decisions.Grow(n/2+16, 64)
	pl.audit.Grow(n+n/4, 520)
	planner := planner{p: p, out: pl}
	for i := range b.borrowers {
		in := &b.borrowers[i]
		in.b.Quiet = quietOf[in.b.ID]
		planner.borrower(in, contacts[in.b.ID])
	}
	b.plan.counts.Candidates = b.items
}

// quietWindow converts a borrower_quiet_windows row.
func quietWindow(q queries.QuietWindow) policy.QuietWindow {
	w := policy.QuietWindow{From: policy.Clock(q.StartsAt), To: policy.Clock(q.EndsAt),
		NotBefore: civil.Date(q.ValidFrom), NotAfter: civil.Date(q.ValidTo), Days: policy.AllDays}
	if q.EndsAt == 0 {
		w.To = 24 * 3600 // 00:00 as an end is midnight at the end of the day
	}
	if q.Weekdays != "" {
		w.Days = 0
		for _, d := range strings.Split(q.Weekdays, ",") {
			if n, err := strconv.Atoi(d); err == nil && n >= 0 && n < 7 {
				w.Days |= 1 << n
			}
		}
	}
	return w
}

// planner plans borrowers into one batchPlan; each goroutine has its own.
type planner struct {
	p    *pipeline
	out  *batchPlan
	plan policy.Plan
	req  policy.Request
	msg  render.Message
}

// borrower decides, groups, schedules and renders one borrower's items.
func (pl *planner) borrower(in *borrowerInput, existing []policy.Contact) {
	p, out := pl.p, pl.out
	cfg := &p.runner.Config
	stages := cfg.Policy.Stages
	pl.req = policy.Request{
		AsOf: p.req.AsOf, NotBefore: p.notBefore, Borrower: &in.b, Items: in.items, Existing: existing,
		Options: policy.Options{SendLate: p.req.SendLate},
	}
	p.policy.Decide(&pl.req, &pl.plan)
	plan := &pl.plan
	zones := zonesJSON(plan.Zones)

	// Messages first: their indexes become send ids at write time.
	firstSend := out.sends.Len()
	msgDecision := make([]string, len(plan.Messages))
	for mi := range plan.Messages {
		m := &plan.Messages[mi]
		rendered, err := pl.render(in, m)
		if err != nil {
			// A message that cannot be rendered is not sent: its items
			// are skipped with the reason, below.
			msgDecision[mi] = "render_error"
			continue
		}
		s := queries.Send{
			RunID: p.res.RunID, BorrowerID: in.b.ID, Channel: string(m.Channel), Recipient: m.Recipient, Locale: rendered.Locale,
			Template: rendered.Template, TemplateSHA256: rendered.TemplateSHA256, Subject: rendered.Subject,
			Body: rendered.Body, Segments: rendered.Segments, Stage: stages[m.Stage].Name,
			ScheduledFor: m.At, ValidUntil: m.ValidUntil,
		}
		s.Currency, s.TotalDueMinor = total(in.items, m.Items)
		out.sends.AddSend(&s)
		out.counts.Messages++
		if m.Channel == policy.SMS && cfg.MaxSMSSegments > 0 && rendered.Segments > cfg.MaxSMSSegments {
			out.longSMS++
		}
		if len(out.samples) < cfg.Samples && p.req.DryRun {
			out.samples = append(out.samples, pl.sample(in, m, &rendered, stages[m.Stage].Name))
		}
	}
	// Which send each message became: index + 1 (messages that failed to
	// render have none).
	sendOf := make([]int32, len(plan.Messages))
	next := int32(firstSend)
	for mi := range plan.Messages {
		if msgDecision[mi] == "" {
			next++
			sendOf[mi] = next
		}
	}

	// The keyed hash of each channel's address, computed once per borrower
	// (sms, email).
	var contacts [2]string
	var hashed [2]bool
	for _, o := range plan.Outcomes {
		it := &in.items[o.Item]
		stage := ""
		if o.Stage >= 0 {
			stage = stages[o.Stage].Name
		}
		row := audit.Row{
			RunID: p.res.RunID, BorrowerID: in.b.ID, LoanID: it.LoanID, InstallmentID: it.InstallmentID, Stage: stage,
			Channel: string(o.Channel), Decision: string(o.Decision), Reason: o.Reason,
			TimeZones: zones, PolicySHA256: cfg.PolicySHA256,
		}
		var capExempt bool
		send := int32(0)
		if o.Message >= 0 {
			m := &plan.Messages[o.Message]
			if msgDecision[o.Message] != "" {
				row.Decision, row.Reason = string(policy.Skipped), msgDecision[o.Message]
			} else {
				send = sendOf[o.Message]
				row.ScheduledFor, row.ValidUntil = m.At, m.ValidUntil
				capExempt = m.CapExempt
			}
		}
		ci := 0
		if o.Channel == policy.Email {
			ci = 1
		}
		if !hashed[ci] {
			contacts[ci], hashed[ci] = contactHash(cfg.Hasher, o.Channel, &in.b), true
		}
		row.Details = details(it, p.bd, contacts[ci], capExempt, plan.Notes)
		out.addAudit(&row, send)
		out.counts.AuditRows++
		switch policy.Decision(row.Decision) {
		case policy.Queued:
			out.counts.Queued++
		case policy.Deferred:
			out.counts.Deferred++
		case policy.Suppressed:
			out.counts.Suppressed++
		case policy.Skipped:
			out.counts.Skipped++
		case policy.Expired:
			out.counts.Expired++
		}
		if send != 0 {
			out.items.AddItem(&queries.SendItem{
				InstallmentID: it.InstallmentID, LoanID: it.LoanID, Stage: stage,
				Channel: row.Channel, AmountMinor: it.AmountDueMinor - it.AmountPaidMinor,
			})
			out.itemSend = append(out.itemSend, send)
		} else if stage != "" {
			out.decisions.AddDecision(p.res.RunID, &queries.Decision{
				InstallmentID: it.InstallmentID, Stage: stage, Channel: row.Channel, Decision: row.Decision, Reason: row.Reason,
			})
		}
	}
}

// reset empties the plan, keeping its buffers.
func (pl *batchPlan) reset() {
	*pl = batchPlan{
		sends: pl.sends, items: pl.items, itemSend: pl.itemSend[:0], decisions: pl.decisions,
		audit: pl.audit, auditRows: pl.auditRows[:0], hashed: pl.hashed[:0],
	}
	pl.sends.Reset()
	pl.items.Reset()
	pl.decisions.Reset()
	pl.audit.Reset()
}

// recycle hands the buffers of a written plan to the next one.
func (pl *batchPlan) recycle(to chan<- *batchPlan) {
	kept := *pl
	kept.reset()
	select {
	case to <- &kept:
	default:
	}
}

// auditPlan is a planned audit row: what the run's totals count, its
// message, and the planned part of its hashed content.
type auditPlan struct {
	stage, channel, decision, reason string
	send                             int32 // the message (index + 1), or 0
	planned                          audit.Planned
}

// addAudit encodes an audit row (but for its run-time columns) for COPY
// and for its hash.
func (pl *batchPlan) addAudit(row *audit.Row, send int32) {
	pl.audit.AddAudit(&queries.AuditRow{
		RunID: row.RunID, BorrowerID: row.BorrowerID, LoanID: row.LoanID, InstallmentID: row.InstallmentID,
		Stage: row.Stage, Channel: row.Channel, Decision: row.Decision, Reason: row.Reason,
		ScheduledFor: row.ScheduledFor, ValidUntil: row.ValidUntil, TimeZones: row.TimeZones,
		PolicySHA256: row.PolicySHA256, Details: row.Details,
	})
	var planned audit.Planned
	planned, pl.hashed = row.Plan(pl.hashed)
	pl.auditRows = append(pl.auditRows, auditPlan{
		stage: row.Stage, channel: row.Channel, decision: row.Decision, reason: row.Reason, send: send, planned: planned,
	})
}

// render renders one message.
func (pl *planner) render(in *borrowerInput, m *policy.Message) (render.Rendered, error) {
	p := pl.p
	stages := p.runner.Config.Policy.Stages
	msg := &pl.msg
	*msg = render.Message{
		Channel: string(m.Channel), Stage: stages[m.Stage].Name, Locale: in.locale, Name: in.name,
		BusinessDate: p.bd, Items: msg.Items[:0],
	}
	for _, ii := range m.Items {
		it := &in.items[ii]
		msg.Items = append(msg.Items, render.Item{
			AccountRef: in.refs[ii], Seq: it.Seq, DueDate: it.DueDate,
			AmountMinor: it.AmountDueMinor - it.AmountPaidMinor, Currency: it.Currency,
			Stage: in.stages[ii], DaysPastDue: int(p.bd - it.DueDate),
		})
	}
	return p.runner.Config.Renderer.Render(msg)
}

// total is the message's total due when its items share one currency; ""
// when they do not (the body then gives a total per currency).
func total(items []policy.Item, in []int) (string, int64) {
	cur := items[in[0]].Currency
	var sum int64
	for _, i := range in {
		if items[i].Currency != cur {
			return "", 0
		}
		sum += items[i].AmountDueMinor - items[i].AmountPaidMinor
	}
	return cur, sum
}

// zonesJSON is the audit's time_zones: each zone the window was evaluated
// in, and where it came from.
func zonesJSON(zones []policy.ZoneUse) string {
	objs := make([]*audit.Object, len(zones))
	for i, z := range zones {
		objs[i] = (&audit.Object{}).String("zone", z.Name).String("source", z.Source)
	}
	return string(audit.AppendArray(nil, objs))
}

// details is the audit row's details: the amounts and dates decided on, and
// a keyed hash of the contact address instead of the address. It runs for
// every audit row, so it writes jsonb's text directly: keys shorter first,
// then bytewise, as audit.Object would order them (a test holds the two
// equal).
func details(it *policy.Item, bd civil.Date, contact string, capExempt bool, notes []string) string {
	b := make([]byte, 0, 256)
	b = append(b, `{"seq": `...)
	b = strconv.AppendInt(b, int64(it.Seq), 10)
	if len(notes) > 0 {
		b = append(b, `, "notes": [`...)
		for i, n := range notes {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = audit.AppendString(b, n)
		}
		b = append(b, ']')
	}
	b = append(b, `, "currency": `...)
	b = audit.AppendString(b, it.Currency)
	b = append(b, `, "due_date": "`...)
	b = it.DueDate.AppendISO(b)
	b = append(b, '"')
	if capExempt {
		b = append(b, `, "cap_exempt": true`...)
	}
	if contact != "" {
		b = append(b, `, "contact_hmac": `...)
		b = audit.AppendString(b, contact)
	}
	b = append(b, `, "days_past_due": `...)
	b = strconv.AppendInt(b, int64(bd-it.DueDate), 10)
	b = append(b, `, "amount_due_minor": `...)
	b = strconv.AppendInt(b, it.AmountDueMinor, 10)
	b = append(b, `, "amount_paid_minor": `...)
	b = strconv.AppendInt(b, it.AmountPaidMinor, 10)
	b = append(b, '}')
	return string(b)
}

// contactHash is the keyed hash of the address a channel would use.
func contactHash(h *pii.Hasher, ch policy.Channel, b *policy.Borrower) string {
	switch ch {
	case policy.SMS:
		addr := b.Phone.E164
		if addr == "" {
			addr = b.Phone.Raw
		}
		if addr == "" {
			return ""
		}
		return h.Contact("sms", addr)
	case policy.Email:
		if b.Email == "" {
			return ""
		}
		return h.Contact("email", b.Email)
	}
	return ""
}

// sample is a dry run's view of a message: personal data masked. The
// message is rendered again with the name masked: the template may write
// the name in any form (cleaned, folded into a subject), so replacing it in
// the text could miss it.
func (pl *planner) sample(in *borrowerInput, m *policy.Message, r *render.Rendered, stage string) Sample {
	recipient := pii.MaskContact(string(m.Channel), m.Recipient)
	body, subject := r.Body, r.Subject
	if in.name != "" {
		masked := *in
		masked.name = maskName(strings.TrimSpace(in.name))
		again, err := pl.render(&masked, m)
		if err != nil {
			again.Body, again.Subject = "(the message could not be rendered with the name masked)", ""
		}
		body, subject = again.Body, again.Subject
	}
	return Sample{
		BorrowerID: in.b.ID, Channel: string(m.Channel), Recipient: recipient, Stage: stage, Locale: r.Locale,
		Template: r.Template, ScheduledFor: m.At, ValidUntil: m.ValidUntil, Decision: string(m.Decision),
		Segments: r.Segments, Subject: subject, Body: body,
	}
}

// maskName keeps a name's first letter.
func maskName(name string) string {
	r := []rune(name)
	if len(r) == 0 {
		return ""
	}
	return string(r[:1]) + "**"
}

package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/jobs/render"
	"github.com/loanremind/loanremind/queries"
)

// batchRows are the rows a batch will write. Send ids are not known until
// the write: SendItem.SendID and AuditRow.SendID hold a message index + 1.
//
// They are encoded for COPY as they are built, but for the columns known
// only when the batch is sequenced for writing: the ids of messages and
// audit rows, the write's time, and the audit chain's links.
type batchRows struct {
	sends     queries.CopyRows
	items     queries.CopyRows
	itemSend  []int32 // the message of each ledger item (index + 1)
	decisions queries.CopyRows
	audit     queries.CopyRows
	auditRows []auditEntry
	hashed    []byte // the parts of the audit rows' hashed content known when built
	counts    queries.BatchCounts
	samples   []Sample
	longSMS   int64
}

// buildRows decides, renders and encodes every borrower of the batch, in
// order. (Batches are built buildWorkers at a time.)
func (p *pipeline) buildRows(b *batch, sends []queries.ExistingSend, quiet []queries.QuietWindow) {
	contacts := map[int64][]policy.Contact{}
	for _, s := range sends {
		contacts[s.BorrowerID] = append(contacts[s.BorrowerID], contactOf(s.Channel, s.ScheduledFor))
	}
	quietOf, badQuiet := quietWindowsByBorrower(quiet)
	rows := &b.rows
	p.reuseRows(rows, b)
	builder := rowBuilder{p: p, rows: rows}
	for i := range b.borrowers {
		in := &b.borrowers[i]
		in.borrower.Quiet = quietOf[in.borrower.ID]
		if badQuiet[in.borrower.ID] && in.borrower.BadData == "" {
			in.borrower.BadData = policy.ReasonInvalidQuietWindow
		}
		builder.addBorrower(in, contacts[in.borrower.ID])
	}
	rows.counts.Candidates = b.itemCount
}

// reuseRows empties rows for batch b, on the buffers of a written batch if
// one is spare, sized up front (from the seeded data's averages):
// allocating and growing them cost more than building the rows.
func (p *pipeline) reuseRows(rows *batchRows, b *batch) {
	if rows.hashed == nil {
		select {
		case spare := <-p.spareRows:
			*rows = *spare
		default:
		}
	}
	rows.reset()
	n := int(b.itemCount)
	rows.itemSend = slices.Grow(rows.itemSend, n)
	rows.auditRows = slices.Grow(rows.auditRows, n+n/4)
	rows.hashed = slices.Grow(rows.hashed, (n+n/4)*420)
	rows.sends.Grow(len(b.borrowers)+len(b.borrowers)/4, 520)
	rows.items.Grow(n, 48)
	rows.decisions.Grow(n/2+16, 64)
	rows.audit.Grow(n+n/4, 520)
}

// rowBuilder builds borrowers' rows into one batchRows; each builder
// goroutine has its own, and its buffers.
type rowBuilder struct {
	p        *pipeline
	rows     *batchRows
	plan     policy.Plan    // the policy's decisions for the borrower at hand
	req      policy.Request // what the policy decides on
	msg      render.Message // the message being rendered
	sendOf   []int32        // of each message of the plan: its send (index + 1), 0 if it could not be rendered
	digestOf []string       // of each message of the plan: its audit.MessageDigest
	// itemFault is, for each of the borrower's items, why it was left out
	// of its message ("" when it was not): one bad item does not keep the
	// rest of a message from being sent.
	itemFault []string
	regions   []byte // the borrower's candidate regions as the audit's details hold them
}

// addBorrower decides, groups, schedules and renders one borrower's items.
func (rb *rowBuilder) addBorrower(in *borrowerInput, existing []policy.Contact) {
	p := rb.p
	rb.req = in.request(p.req.AsOf, p.notBefore, existing, policy.Options{SendLate: p.req.SendLate})
	p.policy.Decide(&rb.req, &rb.plan)
	rb.addMessages(in)
	rb.addOutcomes(in)
}

// addMessages renders the plan's messages and adds them as sends, first:
// their indexes become send ids at write time.
func (rb *rowBuilder) addMessages(in *borrowerInput) {
	p, rows, plan := rb.p, rb.rows, &rb.plan
	cfg := &p.runner.Config
	stages := cfg.Policy.Stages
	rb.sendOf = slices.Grow(rb.sendOf[:0], len(plan.Messages))[:len(plan.Messages)]
	rb.itemFault = slices.Grow(rb.itemFault[:0], len(in.items))[:len(in.items)]
	clear(rb.itemFault)
	rb.digestOf = slices.Grow(rb.digestOf[:0], len(plan.Messages))[:len(plan.Messages)]
	for mi := range plan.Messages {
		m := &plan.Messages[mi]
		rendered, err := rb.render(in, m)
		if err != nil && len(m.Items) > 1 && errors.Is(err, render.ErrBadMessage) {
			rendered, err = rb.renderWithoutBadItems(in, m)
		}
		if err != nil {
			// A message that cannot be rendered is not sent: its items
			// are skipped with the reason (addOutcomes).
			rb.sendOf[mi] = 0
			p.log.WithFields(logrus.Fields{FieldBorrowerID: in.borrower.ID, FieldChannel: m.Channel, "cause": renderCause(err)}).
				Warn("a message could not be rendered: its items are skipped (render_error)")
			continue
		}
		s := queries.Send{
			RunID: p.res.RunID, BorrowerID: in.borrower.ID, Channel: string(m.Channel), Recipient: m.Recipient, Locale: rendered.Locale,
			Template: rendered.Template, TemplateSHA256: rendered.TemplateSHA256, Subject: rendered.Subject,
			Body: rendered.Body, Segments: rendered.Segments, Stage: stages[m.Stage].Name,
			ScheduledFor: m.At, ValidUntil: m.ValidUntil,
		}
		s.Currency, s.TotalDueMinor = total(in.items, m.Items)
		rb.digestOf[mi] = audit.MessageDigest(s.Channel, s.Recipient, s.Subject, s.Body, s.ScheduledFor, s.ValidUntil)
		rows.sends.AddSend(&s)
		rb.sendOf[mi] = int32(rows.sends.Len())
		rows.counts.Messages++
		if m.Channel == policy.SMS && cfg.MaxSMSSegments > 0 && rendered.Segments > cfg.MaxSMSSegments {
			rows.longSMS++
		}
		if len(rows.samples) < cfg.Samples && p.req.DryRun {
			rows.samples = append(rows.samples, rb.sample(in, m, &rendered, stages[m.Stage].Name))
		}
	}
}

// addOutcomes adds each of the plan's outcomes: its audit row, and its
// ledger item (one of a message's) or its decision (a final one).
func (rb *rowBuilder) addOutcomes(in *borrowerInput) {
	p, rows, plan := rb.p, rb.rows, &rb.plan
	cfg := &p.runner.Config
	stages := cfg.Policy.Stages
	zones := zonesJSON(plan.Zones)
	rb.regions = appendRegionsJSON(rb.regions[:0], plan.Regions)
	var contacts contactHashes
	for _, o := range plan.Outcomes {
		it := &in.items[o.Item]
		stage := ""
		if o.Stage >= 0 {
			stage = stages[o.Stage].Name
		}
		row := audit.Row{
			RunID: p.res.RunID, BorrowerID: in.borrower.ID, LoanID: it.LoanID, InstallmentID: it.InstallmentID, Stage: stage,
			Channel: string(o.Channel), Decision: string(o.Decision), Reason: o.Reason,
			TimeZones: zones, PolicySHA256: cfg.PolicySHA256,
		}
		var capExempt bool
		var digest string
		send := int32(0)
		if o.Message >= 0 {
			m := &plan.Messages[o.Message]
			if fault := rb.itemFault[o.Item]; fault != "" {
				row.Decision, row.Reason = string(policy.Skipped), fault
			} else if send = rb.sendOf[o.Message]; send == 0 {
				row.Decision, row.Reason = string(policy.Skipped), "render_error"
			} else {
				row.ScheduledFor, row.ValidUntil = m.At, m.ValidUntil
				capExempt = m.CapExempt
				digest = rb.digestOf[o.Message]
			}
		}
		var status string // the lender's own word, when the reason cannot name it
		if row.Reason == policy.ReasonLoanStatusOther {
			status = clean.Text(it.LoanStatus, 40)
		}
		row.Details = details(it, p.businessDate, contacts.of(cfg.Hasher, o.Channel, &in.borrower), capExempt, status, digest, plan.Notes, rb.regions)
		rows.addAudit(&row, send)
		rows.count(policy.Decision(row.Decision))
		if send != 0 {
			rows.items.AddItem(&queries.SendItem{
				InstallmentID: it.InstallmentID, LoanID: it.LoanID, Stage: stage,
				Channel: row.Channel, AmountMinor: it.AmountDueMinor - it.AmountPaidMinor,
			})
			rows.itemSend = append(rows.itemSend, send)
		} else if stage != "" {
			rows.decisions.AddDecision(p.res.RunID, &queries.Decision{
				InstallmentID: it.InstallmentID, Stage: stage, Channel: row.Channel, Decision: row.Decision, Reason: row.Reason,
			})
		}
	}
}

// count counts an audit row and its decision.
func (rows *batchRows) count(d policy.Decision) {
	c := &rows.counts
	c.AuditRows++
	switch d {
	case policy.Queued:
		c.Queued++
	case policy.Deferred:
		c.Deferred++
	case policy.Suppressed:
		c.Suppressed++
	case policy.Skipped:
		c.Skipped++
	case policy.Expired:
		c.Expired++
	}
}

// contactHashes are a borrower's keyed contact hashes, for sms and email,
// each computed once.
type contactHashes struct {
	hash [2]string
	done [2]bool
}

func (c *contactHashes) of(h *pii.Hasher, ch policy.Channel, b *policy.Borrower) string {
	i := 0
	if ch == policy.Email {
		i = 1
	}
	if !c.done[i] {
		c.hash[i], c.done[i] = contactHash(h, ch, b), true
	}
	return c.hash[i]
}

// reset empties the rows, keeping their buffers.
func (rows *batchRows) reset() {
	*rows = batchRows{
		sends: rows.sends, items: rows.items, itemSend: rows.itemSend[:0], decisions: rows.decisions,
		audit: rows.audit, auditRows: rows.auditRows[:0], hashed: rows.hashed[:0],
	}
	rows.sends.Reset()
	rows.items.Reset()
	rows.decisions.Reset()
	rows.audit.Reset()
}

// recycle hands the buffers of written rows to the next batch.
func (rows *batchRows) recycle(to chan<- *batchRows) {
	kept := *rows
	kept.reset()
	select {
	case to <- &kept:
	default:
	}
}

// auditEntry is an audit row as built: what the run's totals count, its
// message, and the part of its hashed content known before the write.
type auditEntry struct {
	stage, channel, decision, reason string
	send                             int32 // the message (index + 1), or 0
	planned                          audit.Planned
}

// addAudit encodes an audit row (but for its write-time columns) for COPY
// and for its hash.
func (rows *batchRows) addAudit(row *audit.Row, send int32) {
	rows.audit.AddAudit(&queries.AuditRow{
		RunID: row.RunID, BorrowerID: row.BorrowerID, LoanID: row.LoanID, InstallmentID: row.InstallmentID,
		Stage: row.Stage, Channel: row.Channel, Decision: row.Decision, Reason: row.Reason,
		ScheduledFor: row.ScheduledFor, ValidUntil: row.ValidUntil, TimeZones: row.TimeZones,
		PolicySHA256: row.PolicySHA256, Details: row.Details,
	})
	var planned audit.Planned
	planned, rows.hashed = row.Plan(rows.hashed)
	rows.auditRows = append(rows.auditRows, auditEntry{
		stage: row.Stage, channel: row.Channel, decision: row.Decision, reason: row.Reason, send: send, planned: planned,
	})
}

// render renders one message.
func (rb *rowBuilder) render(in *borrowerInput, m *policy.Message) (render.Rendered, error) {
	p := rb.p
	stages := p.runner.Config.Policy.Stages
	msg := &rb.msg
	*msg = render.Message{
		Channel: string(m.Channel), Stage: stages[m.Stage].Name, Locale: in.locale, Name: in.name,
		BusinessDate: p.businessDate, Items: msg.Items[:0],
	}
	for _, ii := range m.Items {
		it := &in.items[ii]
		msg.Items = append(msg.Items, render.Item{
			AccountRef: in.refs[ii], Seq: it.Seq, DueDate: it.DueDate,
			AmountMinor: it.AmountDueMinor - it.AmountPaidMinor, Currency: it.Currency,
			Stage: in.stages[ii], DaysPastDue: int(p.businessDate - it.DueDate),
		})
	}
	return p.runner.Config.Renderer.Render(msg)
}

// renderWithoutBadItems renders message m without the items that keep it
// from rendering, which are skipped with their own reason and logged; m
// keeps the rest, and its stage becomes theirs. An item that cannot be
// rendered on its own is bad; of a message of up to maxItemsToPair items
// whose good items still fail together (their total overflows, say), each
// item that makes the message fail when added is.
func (rb *rowBuilder) renderWithoutBadItems(in *borrowerInput, m *policy.Message) (render.Rendered, error) {
	const maxItemsToPair = 50
	all := m.Items
	bad := func(ii int, err error) {
		rb.itemFault[ii] = "render_error"
		rb.p.log.WithFields(logrus.Fields{FieldBorrowerID: in.borrower.ID, FieldInstallmentID: in.items[ii].InstallmentID,
			"cause": renderCause(err)}).Warn("an item could not be rendered: it is skipped (render_error), its message goes without it")
	}
	kept := make([]int, 0, len(all))
	for _, ii := range all {
		m.Items = []int{ii}
		if _, err := rb.render(in, m); err != nil && errors.Is(err, render.ErrBadMessage) {
			bad(ii, err)
			continue
		}
		kept = append(kept, ii)
	}
	m.Items = kept
	rendered, err := rb.render(in, m)
	if err != nil && errors.Is(err, render.ErrBadMessage) && len(kept) > 1 && len(kept) <= maxItemsToPair {
		together := make([]int, 0, len(kept))
		for _, ii := range kept {
			m.Items = append(together, ii)
			if _, err := rb.render(in, m); err != nil && errors.Is(err, render.ErrBadMessage) {
				bad(ii, err)
				continue
			}
			together = append(together, ii)
		}
		m.Items = together
		rendered, err = rb.render(in, m)
	}
	if len(m.Items) == 0 {
		m.Items = all
		return render.Rendered{}, fmt.Errorf("%w: no item of the message renders", render.ErrBadMessage)
	}
	m.Stage = rb.mostSevereStage(in, m.Items)
	if err != nil {
		return rendered, err
	}
	return rb.render(in, m) // with its stage's template
}

// mostSevereStage is the index of the most severe stage of items.
func (rb *rowBuilder) mostSevereStage(in *borrowerInput, items []int) int {
	stages := rb.p.runner.Config.Policy.Stages
	most := 0
	for _, ii := range items {
		for si := range stages {
			if stages[si].Name == in.stages[ii] {
				most = max(most, si)
			}
		}
	}
	return most
}

// renderCause says why a message could not be rendered, without the
// message's data (a log line carries no personal data).
func renderCause(err error) string {
	switch {
	case errors.Is(err, render.ErrTooLarge):
		return "too large for the channel's max_bytes"
	case errors.Is(err, render.ErrBadMessage):
		return "invalid data (a currency, an amount, a date, or a link)"
	case errors.Is(err, render.ErrNoTemplate):
		return "no template"
	}
	return "the template failed"
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

// appendRegionsJSON appends the candidate regions whose rules applied,
// and where each came from, as the details' "regions" array holds them:
// [{"region": "US-FL", "source": "phone"}]; nothing when there are none.
// It is built once per borrower.
func appendRegionsJSON(b []byte, regions []policy.RegionUse) []byte {
	if len(regions) == 0 {
		return b
	}
	b = append(b, '[')
	for i, r := range regions {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `{"region": `...)
		b = audit.AppendString(b, r.Code)
		b = append(b, `, "source": `...)
		b = audit.AppendString(b, r.Source)
		b = append(b, '}')
	}
	return append(b, ']')
}

// details is the audit row's details: the amounts and dates decided on, a
// keyed hash of the contact address instead of the address, the hash of
// the message that queued the item (audit.MessageDigest), by which the
// audit vouches for the outbox, and the candidate regions whose rules
// applied (regions: appendRegionsJSON's text). It runs for every audit
// row, so it writes jsonb's text directly: keys shorter first, then
// bytewise, as audit.Object would order them (a test holds the two equal).
func details(it *policy.Item, businessDate civil.Date, contact string, capExempt bool, loanStatus, message string, notes []string, regions []byte) string {
	b := make([]byte, 0, 256+len(regions))
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
	if len(regions) > 0 {
		b = append(b, `, "regions": `...)
		b = append(b, regions...)
	}
	b = append(b, `, "currency": `...)
	b = audit.AppendString(b, clean.Text(it.Currency, 8))
	b = append(b, `, "due_date": "`...)
	b = it.DueDate.AppendISO(b)
	b = append(b, '"')
	if capExempt {
		b = append(b, `, "cap_exempt": true`...)
	}
	if loanStatus != "" {
		b = append(b, `, "loan_status": `...)
		b = audit.AppendString(b, loanStatus)
	}
	if contact != "" {
		b = append(b, `, "contact_hmac": `...)
		b = audit.AppendString(b, contact)
	}
	b = append(b, `, "days_past_due": `...)
	b = strconv.AppendInt(b, int64(businessDate-it.DueDate), 10)
	if message != "" {
		b = append(b, `, "message_sha256": `...)
		b = audit.AppendString(b, message)
	}
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
func (rb *rowBuilder) sample(in *borrowerInput, m *policy.Message, r *render.Rendered, stage string) Sample {
	recipient := pii.MaskContact(string(m.Channel), m.Recipient)
	body, subject := r.Body, r.Subject
	if in.name != "" {
		masked := *in
		masked.name = maskName(strings.TrimSpace(in.name))
		again, err := rb.render(&masked, m)
		if err != nil {
			again.Body, again.Subject = "(the message could not be rendered with the name masked)", ""
		}
		body, subject = again.Body, again.Subject
	}
	return Sample{
		BorrowerID: in.borrower.ID, Channel: string(m.Channel), Recipient: recipient, Stage: stage, Locale: r.Locale,
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

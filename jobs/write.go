package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/queries"
)

// errReplan means the batch must be planned again: a concurrent run wrote
// sends or decisions for its borrowers after it was planned.
var errReplan = errors.New("batch changed under a concurrent run")

// write commits one batch (or, in a dry run, only counts it).
func (p *pipeline) write(ctx context.Context, b *batch) error {
	if p.req.DryRun {
		p.tally(b)
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := p.tryWrite(ctx, b)
		if err == nil {
			p.tally(b)
			return nil
		}
		if attempt >= 5 || !(errors.Is(err, errReplan) || retryable(err)) {
			return fmt.Errorf("write batch %d: %w", b.seq, err)
		}
		p.log.WithField(FieldBatch, b.seq).WithError(err).Warn("batch changed under a concurrent run: planning it again")
		if err := p.replan(ctx, b); err != nil {
			return fmt.Errorf("replan batch %d: %w", b.seq, err)
		}
	}
}

// tryWrite writes the batch in one transaction: under the stripe locks of
// its borrowers, it checks that nobody else wrote sends for them since it
// was planned, then inserts the ledger (which refuses anything already
// decided), the sends, the audit rows chained onto the run's head, and the
// run's counters.
func (p *pipeline) tryWrite(ctx context.Context, b *batch) error {
	cfg := &p.runner.Config
	pl := &b.plan
	steps := stepTimer{last: time.Now()}
	defer func() { b.steps = steps.String() }()
	tx, err := p.runner.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := setTimeouts(ctx, tx, cfg); err != nil {
		return err
	}
	if err := queries.LockStripes(ctx, tx, distinct(b.stripes)); err != nil {
		return err
	}
	steps.mark("lock")
	n, err := queries.CountExistingSends(ctx, tx, b.ids, p.capsSince)
	if err != nil {
		return fmt.Errorf("count existing sends: %w", err)
	}
	if n != b.existing {
		return errReplan
	}
	steps.mark("count")
	ids, err := queries.ReserveSendIDs(ctx, tx, len(pl.sends))
	if err != nil {
		return err
	}
	steps.mark("ids")
	now := p.runner.Now().Truncate(time.Microsecond).Round(0)
	for i := range pl.sends {
		pl.sends[i].ID, pl.sends[i].RunID, pl.sends[i].CreatedAt = ids[i], p.res.RunID, now
	}
	items := make([]queries.SendItem, len(pl.items))
	for i, it := range pl.items {
		it.SendID = ids[it.SendID-1]
		items[i] = it
	}
	if n, err := queries.InsertSendItems(ctx, tx, items); err != nil {
		return err
	} else if n != int64(len(items)) {
		return errReplan
	}
	steps.mark("items")
	if n, err := queries.InsertDecisions(ctx, tx, p.res.RunID, now, pl.decisions); err != nil {
		return err
	} else if n != int64(len(pl.decisions)) {
		return errReplan
	}
	steps.mark("decisions")
	if err := queries.CachePhones(ctx, tx, b.newPhones); err != nil {
		return err
	}
	steps.mark("phones")
	if err := queries.CopySends(ctx, tx, pl.sends); err != nil {
		return err
	}
	steps.mark("sends")
	rows := make([]queries.AuditRow, len(pl.audit))
	head := p.head
	for i, a := range pl.audit {
		a.RunID, a.At = p.res.RunID, now
		if a.SendID != 0 {
			a.SendID = ids[a.SendID-1]
		}
		a.PrevHash = head
		a.Hash = auditHash(&a)
		head = a.Hash
		rows[i] = a
	}
	steps.mark("hash")
	if err := queries.CopyAudit(ctx, tx, rows); err != nil {
		return err
	}
	steps.mark("audit")
	if err := queries.AddBatchToRun(ctx, tx, p.res.RunID, pl.counts, p.head, head); err != nil {
		return err
	}
	steps.mark("run")
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	steps.mark("commit")
	p.head = head
	return nil
}

// stepTimer measures the steps of a batch write, for debug logs.
type stepTimer struct {
	last  time.Time
	parts []string
}

func (t *stepTimer) mark(step string) {
	now := time.Now()
	if !t.last.IsZero() {
		t.parts = append(t.parts, fmt.Sprintf("%s=%dms", step, now.Sub(t.last).Milliseconds()))
	}
	t.last = now
}

func (t *stepTimer) String() string { return strings.Join(t.parts, " ") }

// auditHash hashes a row as audit verification will.
func auditHash(a *queries.AuditRow) string {
	r := audit.Row{
		RunID: a.RunID, At: a.At, BorrowerID: a.BorrowerID, LoanID: a.LoanID, InstallmentID: a.InstallmentID,
		Stage: a.Stage, Channel: a.Channel, Decision: a.Decision, Reason: a.Reason, SendID: a.SendID,
		ScheduledFor: a.ScheduledFor, ValidUntil: a.ValidUntil, TimeZones: a.TimeZones,
		PolicySHA256: a.PolicySHA256, Details: a.Details, PrevHash: a.PrevHash,
	}
	return r.Hash()
}

// replan drops what concurrent runs decided meanwhile and plans the batch
// again against the sends as they are now.
func (p *pipeline) replan(ctx context.Context, b *batch) error {
	var inst []int64
	for i := range b.borrowers {
		for _, it := range b.borrowers[i].items {
			inst = append(inst, it.InstallmentID)
		}
	}
	claimed, err := queries.ClaimedKeys(ctx, p.runner.DB, inst)
	if err != nil {
		return err
	}
	taken := make(map[queries.ClaimedKey]bool, len(claimed))
	for _, k := range claimed {
		taken[k] = true
	}
	kept := b.borrowers[:0]
	ids := b.ids[:0]
	stripes := b.stripes[:0]
	b.items = 0
	for _, in := range b.borrowers {
		n := 0
		for i, it := range in.items {
			if taken[queries.ClaimedKey{InstallmentID: it.InstallmentID, Stage: in.stages[i]}] {
				continue
			}
			in.items[n], in.refs[n], in.stages[n] = it, in.refs[i], in.stages[i]
			n++
		}
		in.items, in.refs, in.stages = in.items[:n], in.refs[:n], in.stages[:n]
		if n > 0 {
			kept = append(kept, in)
			ids = append(ids, in.b.ID)
			stripes = append(stripes, stripeOf(in.b.ID))
			b.items += int64(n)
		}
	}
	b.borrowers, b.ids, b.stripes = kept, ids, stripes
	return p.load(ctx, b)
}

// tally adds a written batch to the run's totals.
func (p *pipeline) tally(b *batch) {
	pl := &b.plan
	p.counts.Add(pl.counts)
	p.batches++
	res := p.res
	res.Candidates += pl.counts.Candidates
	res.LongSMS += pl.longSMS
	res.Messages += pl.counts.Messages
	for _, a := range pl.audit {
		res.Decisions[a.Decision]++
		p.reasons[reasonKey{a.Stage, a.Channel, a.Decision, a.Reason}]++
	}
	if room := p.runner.Config.Samples - len(res.Samples); room > 0 {
		res.Samples = append(res.Samples, pl.samples[:min(room, len(pl.samples))]...)
	}
	// The plan is written: free it before the next batch arrives.
	b.plan = batchPlan{}
	b.borrowers = nil
}

// retryable reports errors a fresh attempt may not meet: deadlocks and
// serialization failures between concurrent runs.
func retryable(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "40P01", "40001":
			return true
		}
	}
	return false
}

func distinct(s []int32) []int32 {
	var seen [stripes]bool
	out := make([]int32, 0, stripes)
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

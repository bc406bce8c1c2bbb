package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// errBatchChanged means the batch must be built again: a concurrent run
// wrote sends or decisions for its borrowers after it was built.
var errBatchChanged = errors.New("batch changed under a concurrent run")

// maxRebuilds bounds how often one batch is built again and retried.
const maxRebuilds = 5

// writeAll writes the built batches one after the other, each in its own
// transaction (on two cores one writer is fastest: two overlapping ones
// cost the server a third more CPU in contention, measured with make bench,
// for no gain in time). A dry run only counts them.
func (p *pipeline) writeAll(ctx context.Context, built <-chan *batch) error {
	progress := newProgress(p)
	for {
		var b *batch
		select {
		case next, ok := <-built:
			if !ok {
				return nil
			}
			b = next
		case <-ctx.Done():
			return ctx.Err()
		}
		if !p.req.DryRun {
			if err := p.write(ctx, b); err != nil {
				return err
			}
			p.log.WithFields(logrus.Fields{FieldBatch: b.seq, "borrowers": len(b.ids), "items": b.itemCount,
				"build_ms": b.buildTime.Milliseconds(), "steps": b.steps}).Debug("batch written")
		}
		p.tally(b)
		progress.batch(b)
	}
}

// write sequences a batch after the last one written and writes it. When a
// concurrent run changed its borrowers meanwhile, or the write fails
// transiently, it builds the batch again and retries, at most maxRebuilds
// times.
func (p *pipeline) write(ctx context.Context, b *batch) error {
	for rebuilds := 0; ; rebuilds++ {
		if err := p.sequence(ctx, b, p.head); err != nil {
			return err
		}
		err := p.writeBatch(ctx, b)
		if err == nil {
			p.head = b.head
			return nil
		}
		if rebuilds >= maxRebuilds || !retryable(err) {
			return fmt.Errorf("write batch %d: %w", b.seq, err)
		}
		// The policy plans its borrowers again (operators and tests know
		// the message), and its ids were spent: it is sequenced again, too.
		p.log.WithField(FieldBatch, b.seq).WithError(err).Warn("batch changed under a concurrent run: planning it again")
		if err := p.rebuild(ctx, b); err != nil {
			return fmt.Errorf("rebuild batch %d: %w", b.seq, err)
		}
	}
}

// sequence reserves the batch's send and audit ids and chains its audit
// rows onto head, in the order the batches commit.
func (p *pipeline) sequence(ctx context.Context, b *batch, head string) error {
	rows := &b.rows
	sendIDs, err := queries.ReserveIDs(ctx, p.runner.DB, "reminder_sends_id_seq", rows.sends.Len())
	if err != nil {
		return err
	}
	auditIDs, err := queries.ReserveIDs(ctx, p.runner.DB, "reminder_audit_id_seq", len(rows.auditRows))
	if err != nil {
		return err
	}
	b.at = p.runner.Now().Truncate(time.Microsecond).Round(0)
	b.sendIDs = sendIDs
	b.itemSendIDs = make([]int64, len(rows.itemSend))
	for i, s := range rows.itemSend {
		b.itemSendIDs[i] = sendIDs[s-1]
	}
	b.prevHead = head
	b.links = make([]queries.AuditLink, len(rows.auditRows))
	prev := []byte(head)
	for i := range rows.auditRows {
		a, l := &rows.auditRows[i], &b.links[i]
		l.ID = auditIDs[i]
		if a.send != 0 {
			l.SendID = sendIDs[a.send-1]
		}
		a.planned.Hash(rows.hashed, p.res.RunID, b.at, l.SendID, prev, &l.Hash)
		prev = l.Hash[:]
	}
	b.head = string(prev)
	return nil
}

// writeBatch writes one sequenced batch in one transaction: the ledger
// (which refuses anything already decided), the sends and the audit rows in
// bulk; then, under the lock stripes of its borrowers, it checks that no
// other run wrote sends for them since it was built, moves the run's
// counters and chain head, and commits.
func (p *pipeline) writeBatch(ctx context.Context, b *batch) error {
	cfg := &p.runner.Config
	steps := stepTimer{last: time.Now()}
	defer func() { b.steps = steps.String() }()
	// The bulk writes stream COPY text on the connection itself, inside
	// the transaction open on it.
	conn, err := p.runner.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := setTimeouts(ctx, tx, cfg); err != nil {
		return err
	}
	rows := &b.rows
	if err := queries.CopySendItems(ctx, conn, &rows.items, b.itemSendIDs); err != nil {
		return err
	}
	steps.mark("items")
	if err := queries.CopyDecisions(ctx, conn, &rows.decisions, b.at); err != nil {
		return err
	}
	steps.mark("decisions")
	if err := queries.CopySends(ctx, conn, &rows.sends, b.sendIDs, b.at); err != nil {
		return err
	}
	steps.mark("sends")
	if err := queries.CopyAudit(ctx, conn, &rows.audit, b.links, b.at, b.prevHead); err != nil {
		return err
	}
	steps.mark("audit")
	if err := p.checkUnchanged(ctx, tx, b); err != nil {
		return err
	}
	steps.mark("check")
	if err := queries.AddBatchToRun(ctx, tx, p.res.RunID, b.rows.counts, b.prevHead, b.head); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	steps.mark("commit")
	return nil
}

// checkUnchanged checks, under the lock stripes of the batch's borrowers,
// that no other run wrote sends for them since the batch was built, nor
// decided its keys: errBatchChanged if one did.
func (p *pipeline) checkUnchanged(ctx context.Context, tx *sql.Tx, b *batch) error {
	if err := queries.LockStripes(ctx, tx, distinct(b.stripes)); err != nil {
		return err
	}
	others, err := queries.OtherSends(ctx, tx, b.ids, p.capsSince, p.res.RunID)
	if err != nil {
		return fmt.Errorf("existing sends: %w", err)
	}
	if others != b.existing {
		return errBatchChanged
	}
	// A run of another lane (a backfill beside the hourly run) may have
	// decided some of these keys the other way since the selection: a
	// suppression where this batch sends, or the reverse. Only then is the
	// check worth its cost.
	other, err := queries.OtherRunsSince(ctx, tx, p.res.RunID, p.selected)
	if err != nil {
		return fmt.Errorf("other runs: %w", err)
	}
	if !other {
		return nil
	}
	twice, err := queries.KeysDecidedTwice(ctx, tx, b.installmentIDs(), p.res.RunID, b.sendIDs)
	if err != nil {
		return fmt.Errorf("keys decided twice: %w", err)
	}
	if twice > 0 {
		return errBatchChanged
	}
	return nil
}

// rebuild drops what concurrent runs decided meanwhile and builds the
// batch again against the sends as they are now.
func (p *pipeline) rebuild(ctx context.Context, b *batch) error {
	claimed, err := queries.ClaimedKeys(ctx, p.runner.DB, b.installmentIDs())
	if err != nil {
		return err
	}
	// The channels decided of each key; an item selected again for a
	// channel given back is taken only when a channel other than those it
	// was selected with (its Decided) is.
	taken := make(map[queries.ClaimedKey]policy.ChannelSet, len(claimed))
	for _, k := range claimed {
		set := taken[k.ClaimedKey]
		set.Add(policy.Channel(k.Channel))
		taken[k.ClaimedKey] = set
	}
	kept := b.borrowers[:0]
	ids := b.ids[:0]
	stripes := b.stripes[:0]
	b.itemCount = 0
	for _, in := range b.borrowers {
		n := 0
		for i, it := range in.items {
			if claimedKey(taken, queries.ClaimedKey{InstallmentID: it.InstallmentID, Stage: in.stages[i]}, it.Decided) {
				continue
			}
			in.items[n], in.refs[n], in.stages[n] = it, in.refs[i], in.stages[i]
			n++
		}
		in.items, in.refs, in.stages = in.items[:n], in.refs[:n], in.stages[:n]
		if n > 0 {
			kept = append(kept, in)
			ids = append(ids, in.borrower.ID)
			stripes = append(stripes, stripeOf(in.borrower.ID))
			b.itemCount += int64(n)
		}
	}
	b.borrowers, b.ids, b.stripes = kept, ids, stripes
	return p.load(ctx, b)
}

// claimedKey reports whether a channel of key other than those decided (the
// channels the item was selected with as decided) is taken.
func claimedKey(taken map[queries.ClaimedKey]policy.ChannelSet, key queries.ClaimedKey, decided policy.ChannelSet) bool {
	set, ok := taken[key]
	return ok && set&^decided != 0
}

// installmentIDs lists the batch's installments.
func (b *batch) installmentIDs() []int64 {
	inst := make([]int64, 0, b.itemCount)
	for i := range b.borrowers {
		for _, it := range b.borrowers[i].items {
			inst = append(inst, it.InstallmentID)
		}
	}
	return inst
}

// tally adds a written batch to the run's totals.
func (p *pipeline) tally(b *batch) {
	rows := &b.rows
	p.counts.Add(rows.counts)
	p.batches++
	res := p.res
	res.Candidates += rows.counts.Candidates
	res.LongSMS += rows.longSMS
	res.Messages += rows.counts.Messages
	for _, a := range rows.auditRows {
		res.Decisions[a.decision]++
		p.reasons[reasonKey{a.stage, a.channel, a.decision, a.reason}]++
	}
	if room := p.runner.Config.Samples - len(res.Samples); room > 0 {
		res.Samples = append(res.Samples, rows.samples[:min(room, len(rows.samples))]...)
	}
	// The batch is written: free it.
	rows.recycle(p.spareRows)
	*b = batch{seq: b.seq}
}

// retryable reports errors a batch built again may not meet: a concurrent
// run's sends or decisions (errBatchChanged, or the ledger's unique key),
// deadlocks and serialization failures between concurrent runs, and a run
// chain head moved under the batch.
func retryable(err error) bool {
	if errors.Is(err, errBatchChanged) || errors.Is(err, queries.ErrDuplicate) || errors.Is(err, queries.ErrChainMoved) {
		return true
	}
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

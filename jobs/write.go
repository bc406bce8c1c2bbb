package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/queries"
)

// writers is how many batch transactions may overlap, each on a connection
// of its own; they commit one after the other, in order. On two cores one
// is fastest: two overlapping writers cost the server a third more CPU in
// contention (measured with make bench) for no gain in time.
const writers = 1

var (
	// errBatchChanged means the batch must be built again: a concurrent
	// run wrote sends or decisions for its borrowers after it was built.
	errBatchChanged = errors.New("batch changed under a concurrent run")
	// errPrevious means the batch before this one did not commit, so this
	// one, chained onto it, must not either.
	errPrevious = errors.New("the previous batch did not commit")
)

// inflight is a batch being written, and the outcome of its commit.
type inflight struct {
	b        *batch
	prev     *inflight // the batch that commits before it, or nil
	err      error     // set before finished is closed
	finished chan struct{}
}

// writeAll writes the built batches in order. Each batch is sequenced
// (its send and audit ids reserved and its audit rows chained onto the one
// before) and then written in a transaction that overlaps the next batch's;
// a transaction commits only after the one before it did. When a batch must
// be planned again, or fails transiently, it and the batches sequenced after
// it are redone in order.
func (p *pipeline) writeAll(ctx context.Context, built <-chan *batch) error {
	progress := newProgress(p)
	if p.req.DryRun {
		for b := range built {
			p.tally(b)
			progress.batch(b)
		}
		return nil
	}
	var (
		window  []*inflight
		queue   []*batch // batches to (re)sequence before taking new ones
		seqHead = p.head // the chain head after the last sequenced batch
		last    *inflight
		input   = built
	)
	for {
		// Take the next batch: a redo first, else a new one.
		var b *batch
		switch {
		case len(queue) > 0:
			b, queue = queue[0], queue[1:]
		case input != nil && len(window) < writers:
			var ok bool
			select {
			case b, ok = <-input:
				if !ok {
					input = nil
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if b != nil {
			if err := p.sequence(ctx, b, seqHead); err != nil {
				return err
			}
			seqHead = b.head
			f := &inflight{b: b, prev: last, finished: make(chan struct{})}
			last = f
			window = append(window, f)
			go func() {
				f.err = p.writeBatch(ctx, f)
				close(f.finished)
			}()
			continue
		}
		if len(window) == 0 {
			return nil
		}
		// Wait for the oldest batch.
		f := window[0]
		<-f.finished
		err := f.err
		if err == nil {
			window = window[1:]
			p.head = f.b.head
			p.log.WithFields(logrus.Fields{FieldBatch: f.b.seq, "borrowers": len(f.b.ids), "items": f.b.itemCount,
				"build_ms": f.b.buildTime.Milliseconds(), "steps": f.b.steps}).Debug("batch written")
			progress.batch(f.b)
			p.tally(f.b)
			continue
		}
		// Every batch after it fails too (its predecessor did not
		// commit): collect them, then redo them all in order.
		for _, g := range window[1:] {
			<-g.finished
		}
		if f.b.attempts >= 5 || !(errors.Is(err, errBatchChanged) || errors.Is(err, queries.ErrDuplicate) || retryable(err)) {
			return fmt.Errorf("write batch %d: %w", f.b.seq, err)
		}
		f.b.attempts++
		p.log.WithField(FieldBatch, f.b.seq).WithError(err).Warn("batch changed under a concurrent run: planning it again")
		// Every batch of the window is built again (their ids were
		// spent) and written again in order.
		redo := make([]*batch, 0, len(window)+len(queue))
		for _, g := range window {
			if err := p.rebuild(ctx, g.b); err != nil {
				return fmt.Errorf("rebuild batch %d: %w", g.b.seq, err)
			}
			redo = append(redo, g.b)
		}
		queue = append(redo, queue...)
		window = window[:0]
		seqHead = p.head
		last = nil
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
// bulk; then, once the batch before it has committed, under the lock stripes
// of its borrowers, it checks that no other run wrote sends for them since
// it was built, moves the run's counters and chain head, and commits.
func (p *pipeline) writeBatch(ctx context.Context, f *inflight) error {
	b := f.b
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
	if f.prev != nil {
		select {
		case <-f.prev.finished:
			if f.prev.err != nil {
				return errPrevious
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	steps.mark("wait")
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
	if other {
		twice, err := queries.KeysDecidedTwice(ctx, tx, b.installmentIDs(), p.res.RunID, b.sendIDs)
		if err != nil {
			return fmt.Errorf("keys decided twice: %w", err)
		}
		if twice > 0 {
			return errBatchChanged
		}
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

// rebuild drops what concurrent runs decided meanwhile and builds the
// batch again against the sends as they are now.
func (p *pipeline) rebuild(ctx context.Context, b *batch) error {
	claimed, err := queries.ClaimedKeys(ctx, p.runner.DB, b.installmentIDs())
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
	b.itemCount = 0
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
			ids = append(ids, in.borrower.ID)
			stripes = append(stripes, stripeOf(in.borrower.ID))
			b.itemCount += int64(n)
		}
	}
	b.borrowers, b.ids, b.stripes = kept, ids, stripes
	return p.load(ctx, b)
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
	return errors.Is(err, errPrevious) || errors.Is(err, queries.ErrChainMoved)
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

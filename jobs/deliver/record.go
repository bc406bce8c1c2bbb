package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

// outcome is what became of one claimed message, to record over its claim.
type outcome struct {
	job     *job
	status  string // sent, pending (to retry), failed, expired
	event   string
	reason  string
	retryAt time.Time
	pmID    string
	at      time.Time
	details *audit.Object
}

// receiptReq is a receipt waiting for its record.
type receiptReq struct {
	ev   ReceiptEvent
	done chan error
}

// recorder writes outcomes and receipts in batches, one transaction each,
// onto the outcomes session's chain. It is the only writer of that chain.
type recorder struct {
	d      *Dispatcher
	chain  *chain
	in     chan any // *outcome or *receiptReq
	closed chan struct{}
	dead   chan struct{} // closed when the recorder stopped for good
}

func newRecorder(d *Dispatcher, c *chain) *recorder {
	return &recorder{d: d, chain: c, in: make(chan any, 4*d.cfg.RecordBatch), closed: make(chan struct{}),
		dead: make(chan struct{})}
}

// submit hands an outcome to the recorder.
func (r *recorder) submit(o *outcome) {
	select {
	case r.in <- o:
	case <-r.dead:
		// The database is gone: the claim lapses, and the next
		// dispatcher settles the message.
		r.release(o)
	}
}

// release frees the room an outcome's message held.
func (r *recorder) release(o *outcome) {
	p := o.job.p
	p.held.Add(-1)
	r.d.metrics.inFlight.WithLabelValues(r.d.metrics.provider(p.Name())).Set(float64(p.held.Load()))
	r.d.signal()
}

// close ends the input once every outcome has been submitted.
func (r *recorder) close() { close(r.closed) }

// run records until closed and drained; an error means the database
// failed for good, and the dispatcher stops.
func (r *recorder) run(ctx context.Context) error {
	defer close(r.dead)
	batch := make([]any, 0, r.d.cfg.RecordBatch)
	for {
		batch = batch[:0]
		select {
		case x := <-r.in:
			batch = append(batch, x)
		case <-r.closed:
			// Everything submitted before close is in the buffer.
			for {
				select {
				case x := <-r.in:
					batch = append(batch, x)
					if len(batch) == cap(batch) {
						if err := r.flushRetrying(ctx, batch); err != nil {
							return err
						}
						batch = batch[:0]
					}
					continue
				default:
				}
				break
			}
			return r.flushRetrying(ctx, batch)
		}
		// Gather what comes within the delay, up to a batch.
		timer := time.NewTimer(r.d.cfg.RecordDelay)
	gather:
		for len(batch) < cap(batch) {
			select {
			case x := <-r.in:
				batch = append(batch, x)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		if err := r.flushRetrying(ctx, batch); err != nil {
			return err
		}
	}
}

// flushRetrying writes a batch, trying again after a transient failure;
// when the database stays down, it fails the batch's receipts and returns
// the error.
func (r *recorder) flushRetrying(ctx context.Context, batch []any) error {
	if len(batch) == 0 {
		return nil
	}
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt*attempt) * 250 * time.Millisecond):
			}
		}
		if err = r.flush(ctx, batch); err == nil || ctx.Err() != nil {
			break
		}
		r.d.log.WithError(err).Warn("recording outcomes failed; trying again")
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("record outcomes: %w", err)
	r.d.fatal.CompareAndSwap(nil, &err)
	for _, x := range batch {
		switch x := x.(type) {
		case *outcome:
			r.release(x)
		case *receiptReq:
			x.done <- err
		}
	}
	return err
}

// flush records a batch in one transaction: the outcomes over their
// claims (a claim taken over since records nothing), the expired
// messages' ledger items given back, the receipts, and their events.
func (r *recorder) flush(ctx context.Context, batch []any) error {
	d := r.d
	now := stamp(d.clock.Now())
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var outs []*outcome
	var receipts []*receiptReq
	for _, x := range batch {
		switch x := x.(type) {
		case *outcome:
			outs = append(outs, x)
		case *receiptReq:
			receipts = append(receipts, x)
		}
	}
	evs := make([]event, 0, len(batch))
	recorded := map[int64]bool{}
	if len(outs) > 0 {
		qs := make([]queries.Outcome, len(outs))
		var expired []int64
		for i, o := range outs {
			m := &o.job.msg
			qs[i] = queries.Outcome{ID: m.SendID, Attempt: m.Attempt, Status: o.status, Reason: o.reason,
				RetryAt: stamp(o.retryAt), ProviderMessageID: o.pmID, At: stamp(o.at)}
			if o.status == StatusSent {
				qs[i].SentAt = stamp(o.at)
			}
		}
		ids, err := queries.RecordOutcomes(ctx, tx, d.claims.id, qs)
		if err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
		for _, id := range ids {
			recorded[id] = true
		}
		for _, o := range outs {
			if o.status == StatusExpired && recorded[o.job.msg.SendID] {
				expired = append(expired, o.job.msg.SendID)
			}
		}
		released := map[int64]int64{}
		if len(expired) > 0 {
			items, err := queries.ReleaseExpired(ctx, tx, expired, now)
			if err != nil {
				return err
			}
			for _, it := range items {
				released[it.SendID]++
			}
		}
		for _, o := range outs {
			m := &o.job.msg
			if !recorded[m.SendID] {
				continue
			}
			details := o.details
			if o.status == StatusExpired {
				if details == nil {
					details = &audit.Object{}
				}
				details.Int("released_items", released[m.SendID])
			}
			evs = append(evs, event{sendID: m.SendID, at: o.at, event: o.event, reason: o.reason,
				provider: o.job.p.Name(), pmID: clean.Text(o.pmID, 200), attempt: m.Attempt, details: details})
		}
	}
	receiptResults := make([]string, len(receipts))
	receiptErrs := make([]error, len(receipts))
	receiptChannels := make([]string, len(receipts))
	for i, rq := range receipts {
		e, channel, result, err := r.receipt(ctx, tx, rq.ev, now)
		if err != nil {
			return err
		}
		receiptResults[i], receiptChannels[i] = result, channel
		if result == ReceiptNoSuchSend {
			receiptErrs[i] = ErrNoSuchMessage
		}
		if e != nil {
			evs = append(evs, *e)
		}
	}
	a, err := r.chain.append(ctx, tx, evs)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit outcomes: %w", err)
	}
	r.chain.commit(a)

	// Committed: count, free the room, answer the receipts.
	for _, o := range outs {
		m := &o.job.msg
		name := o.job.p.Name()
		switch {
		case !recorded[m.SendID]:
			d.metrics.fenced.Inc()
			d.log.WithField("send_id", m.SendID).Warn("an outcome came after another dispatcher took the message over: not recorded")
		case o.status == StatusSent:
			d.outcome(name, m.Channel, OutcomeSent)
			d.metrics.sentLag(o.at.Sub(m.ScheduledFor))
		default:
			d.outcome(name, m.Channel, o.event)
		}
		r.release(o)
	}
	for i, rq := range receipts {
		d.metrics.Receipt(rq.ev.Provider, receiptResults[i])
		if receiptResults[i] == ReceiptRecorded {
			o := OutcomeUndelivered
			if rq.ev.Delivered {
				o = OutcomeDelivered
			}
			d.outcome(rq.ev.Provider, receiptChannels[i], o)
		}
		rq.done <- receiptErrs[i]
	}
	return nil
}

// receipt records one receipt in tx: the message it names moves to
// delivered or undelivered, once. It returns the event to append (nil
// when there is nothing new) and the receipt's result.
func (r *recorder) receipt(ctx context.Context, tx *sql.Tx, ev ReceiptEvent, now time.Time) (*event, string, string, error) {
	t, err := queries.LockReceiptTarget(ctx, tx, ev.SendID, ev.ProviderMessageID, ev.Provider)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, "", ReceiptNoSuchSend, nil
	case err != nil:
		return nil, "", "", fmt.Errorf("find the message of a receipt: %w", err)
	case t.Provider != ev.Provider:
		// Another provider's message: a gateway reports only on what it
		// was given.
		return nil, "", ReceiptNoSuchSend, nil
	case ev.ProviderMessageID != "" && t.ProviderMessageID != "" && t.ProviderMessageID != ev.ProviderMessageID:
		return nil, "", ReceiptNoSuchSend, nil
	}
	status, name := StatusUndelivered, EventUndelivered
	if ev.Delivered {
		status, name = StatusDelivered, EventDelivered
	}
	code := clean.Text(ev.Code, 40)
	moved, err := queries.SetReceipt(ctx, tx, t.ID, status, code, now, clean.Text(ev.ProviderMessageID, 200))
	if err != nil {
		return nil, "", "", fmt.Errorf("record a receipt: %w", err)
	}
	if !moved {
		return nil, t.Channel, ReceiptDuplicate, nil
	}
	details := &audit.Object{}
	if !ev.At.IsZero() {
		details.String("reported_at", stamp(ev.At).UTC().Format(time.RFC3339Nano))
	}
	pmID := ev.ProviderMessageID
	if pmID == "" {
		pmID = t.ProviderMessageID
	}
	return &event{sendID: t.ID, at: now, event: name, reason: code, provider: t.Provider, pmID: clean.Text(pmID, 200),
		attempt: t.Attempts, details: details}, t.Channel, ReceiptRecorded, nil
}

// Receipt records a provider's receipt (the receipt endpoints call it,
// after checking the signature): the message moves to delivered or
// undelivered, idempotently, and the event is appended to the trail. It
// returns ErrNoSuchMessage when the receipt names no message of that
// provider.
func (d *Dispatcher) Receipt(ctx context.Context, ev ReceiptEvent) error {
	r := d.rec.Load()
	if r == nil || d.draining.Load() {
		return errors.New("the dispatcher is not running")
	}
	rq := &receiptReq{ev: ev, done: make(chan error, 1)}
	select {
	case r.in <- rq:
	case <-r.dead:
		return errors.New("the dispatcher stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-rq.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

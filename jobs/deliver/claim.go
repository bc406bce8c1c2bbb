package deliver

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

// Statuses of reminder_sends.
const (
	StatusPending     = "pending"
	StatusSending     = "sending"
	StatusSent        = "sent"
	StatusDelivered   = "delivered"
	StatusUndelivered = "undelivered"
	StatusFailed      = "failed"
	StatusExpired     = "expired"
	StatusCancelled   = "cancelled"
	StatusRefused     = "refused"
	StatusUnknown     = "unknown"
)

// ReasonNotVouched is a refusal's reason: the audit chain does not vouch
// for the message as it stands (the details say why).
const ReasonNotVouched = "not_vouched"

// claimRound claims for every route with room, and returns how many
// messages it took (claimed, cancelled or refused).
func (d *Dispatcher) claimRound(ctx context.Context) (int, error) {
	total := 0
	for _, rt := range d.routes {
		p := rt.p
		st, _ := p.breaker.state(d.clock.Now())
		if st == breakerOpen {
			continue
		}
		held := int(p.held.Load())
		limit := min(p.capacity-held, d.cfg.ClaimBatch)
		if st == breakerHalfOpen {
			// One trial call: no batch is claimed for a provider that may
			// still be down.
			limit = min(limit, 1)
		} else if held > 0 && limit < min(d.cfg.ClaimBatch, p.capacity)/2 {
			// Claim in batches: wait for room for half of one.
			continue
		}
		if limit <= 0 {
			continue
		}
		n, err := d.claim(ctx, rt, limit)
		if err != nil {
			return total, fmt.Errorf("claim %s messages: %w", rt.channel, err)
		}
		total += n
	}
	return total, nil
}

// claim takes up to limit due messages of a route in one transaction:
// lapsed claims an idempotent provider may send again, then pending ones;
// it asks the audit whether it vouches for each as it stands (refused if
// not), re-checks the facts each was written on (cancelled if they
// changed), claims the rest with a lease, and appends all of it to the
// claims session's chain. Then it queues the claimed ones for the
// provider.
func (d *Dispatcher) claim(ctx context.Context, rt *route, limit int) (int, error) {
	now := stamp(d.clock.Now())
	p := rt.p
	tx, err := d.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var ids []int64
	if p.Idempotent() {
		if ids, err = queries.LockLapsedClaims(ctx, tx, now, rt.channel, limit, d.shard, []string{p.Name()}); err != nil {
			return 0, fmt.Errorf("lock lapsed claims: %w", err)
		}
	}
	if len(ids) < limit {
		due, err := queries.LockDueSends(ctx, tx, now, rt.channel, limit-len(ids), d.shard)
		if err != nil {
			return 0, fmt.Errorf("lock due messages: %w", err)
		}
		ids = append(ids, due...)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	refused, err := audit.Vouch(ctx, tx, ids)
	if err != nil {
		return 0, err
	}
	facts, err := queries.SendFacts(ctx, tx, ids)
	if err != nil {
		return 0, err
	}
	verdicts := make([]queries.ClaimVerdict, 0, len(ids))
	reasons := make(map[int64]string, len(ids))
	factsOf := make(map[int64][]queries.SendFact, len(ids))
	for i := 0; i < len(facts); {
		j := i
		for j < len(facts) && facts[j].SendID == facts[i].SendID {
			j++
		}
		id := facts[i].SendID
		factsOf[id] = facts[i:j:j]
		v := queries.ClaimVerdict{ID: id, Status: StatusSending}
		if _, ok := refused[id]; ok {
			v.Status, v.Reason = StatusRefused, ReasonNotVouched
		} else if reason := checkFacts(facts[i:j], d.cfg.NormalizePhone); reason != "" {
			v.Status, v.Reason = StatusCancelled, reason
		}
		verdicts = append(verdicts, v)
		reasons[id] = v.Reason
		i = j
	}
	leaseUntil := now.Add(d.cfg.Lease)
	claimed, err := queries.ApplyClaims(ctx, tx, verdicts, d.claims.id, leaseUntil, p.Name(), now)
	if err != nil {
		return 0, err
	}
	evs := make([]event, 0, len(claimed))
	jobs := make([]*job, 0, len(claimed))
	for i := range claimed {
		c := &claimed[i]
		e := event{sendID: c.ID, at: now, attempt: c.Attempt, provider: p.Name()}
		switch c.Status {
		case StatusSending:
			e.event = EventClaimed
			e.details = (&audit.Object{}).String("lease_until", leaseUntil.UTC().Format(time.RFC3339Nano))
			jobs = append(jobs, d.jobOf(c, factsOf[c.ID], p))
		case StatusRefused:
			e.event, e.reason, e.provider = EventRefused, ReasonNotVouched, ""
			e.details = (&audit.Object{}).String("why", clean.Text(refused[c.ID], 300))
		case StatusCancelled:
			e.event, e.provider = EventCancelled, ""
			e.reason = reasons[c.ID]
		}
		evs = append(evs, e)
	}
	a, err := d.claims.append(ctx, tx, evs)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit claims: %w", err)
	}
	d.claims.commit(a)
	for _, e := range evs {
		switch e.event {
		case EventRefused:
			d.outcome(p.Name(), rt.channel, OutcomeRefused)
			d.log.WithFields(logrus.Fields{"send_id": e.sendID, FieldChannel: rt.channel}).
				Error("refused a message the audit does not vouch for: it was written or changed behind the job's back")
		case EventCancelled:
			d.outcome(p.Name(), rt.channel, OutcomeCancelled)
		}
	}
	p.held.Add(int64(len(jobs)))
	d.metrics.inFlight.WithLabelValues(d.metrics.provider(p.Name())).Set(float64(p.held.Load()))
	for _, j := range jobs {
		p.queue <- j // room was counted before the claim: never blocks
	}
	d.log.WithFields(logrus.Fields{FieldChannel: rt.channel, "claimed": len(jobs), "cancelled_or_refused": len(evs) - len(jobs)}).
		Debug("claimed")
	return len(claimed), nil
}

// jobOf is a claimed message as its provider gets it.
func (d *Dispatcher) jobOf(c *queries.ClaimedSend, facts []queries.SendFact, p *provider) *job {
	m := Message{
		SendID: c.ID, Channel: c.Channel, To: c.Recipient, Subject: c.Subject, Body: c.Body, Locale: c.Locale,
		Stage: c.Stage, Template: c.Template, ScheduledFor: c.ScheduledFor, ValidUntil: c.ValidUntil, Attempt: c.Attempt,
		Items: itemsOf(facts),
	}
	if len(facts) > 0 {
		m.BusinessDate = civil.Date(facts[0].BusinessDay)
	}
	return &job{msg: m, p: p, lastErr: c.LastError}
}

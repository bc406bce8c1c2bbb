package deliver

import (
	"context"
	"fmt"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/queries"
)

// sweep settles, in one transaction on the claims session's chain, the
// messages nobody will send: pending ones whose window passed (the
// dispatcher or the provider was down, or retries ran out) become
// expired and give back their ledger items for one more plan; claims
// whose lease ran out and that no provider may repeat become unknown.
// It returns how many it settled.
func (d *Dispatcher) sweep(ctx context.Context) (int, error) {
	now := stamp(d.clock.Now())
	tx, err := d.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	expired, err := queries.LockExpiredPending(ctx, tx, now, d.cfg.ClaimBatch, d.shard)
	if err != nil {
		return 0, fmt.Errorf("lock expired messages: %w", err)
	}
	unknown, err := queries.LockLapsedUnknown(ctx, tx, now, d.cfg.ClaimBatch, d.shard, d.idempotent)
	if err != nil {
		return 0, fmt.Errorf("lock lapsed claims: %w", err)
	}
	if len(expired)+len(unknown) == 0 {
		return 0, nil
	}
	n := len(expired) + len(unknown)
	ids, statuses, reasons := make([]int64, 0, n), make([]string, 0, n), make([]string, 0, n)
	expiredIDs := make([]int64, 0, len(expired))
	for _, s := range expired {
		ids, statuses, reasons = append(ids, s.ID), append(statuses, StatusExpired), append(reasons, ReasonWindowPassed)
		expiredIDs = append(expiredIDs, s.ID)
	}
	for _, s := range unknown {
		ids, statuses, reasons = append(ids, s.ID), append(statuses, StatusUnknown), append(reasons, ReasonClaimLapsed)
	}
	if err := queries.MarkSends(ctx, tx, ids, statuses, reasons, now); err != nil {
		return 0, fmt.Errorf("settle messages: %w", err)
	}
	released := map[int64]int64{}
	if len(expiredIDs) > 0 {
		items, err := queries.ReleaseExpired(ctx, tx, expiredIDs, now)
		if err != nil {
			return 0, err
		}
		for _, it := range items {
			released[it.SendID]++
		}
	}
	evs := make([]event, 0, n)
	for _, s := range expired {
		details := (&audit.Object{}).Int("released_items", released[s.ID])
		if s.Reason != "" {
			details.String("last_error", s.Reason)
		}
		evs = append(evs, event{sendID: s.ID, at: now, event: EventExpired, reason: ReasonWindowPassed,
			provider: s.Provider, attempt: s.Attempts, details: details})
	}
	for _, s := range unknown {
		evs = append(evs, event{sendID: s.ID, at: now, event: EventUnknown, reason: ReasonClaimLapsed,
			provider: s.Provider, attempt: s.Attempts,
			details: (&audit.Object{}).Bool("provider_idempotent", contains(d.idempotent, s.Provider))})
	}
	a, err := d.claims.append(ctx, tx, evs)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit settled messages: %w", err)
	}
	d.claims.commit(a)
	for _, s := range expired {
		d.outcome(d.providerOf(s.Provider, s.Channel), s.Channel, OutcomeExpired)
	}
	for _, s := range unknown {
		d.outcome(s.Provider, s.Channel, OutcomeUnknown)
	}
	if len(unknown) > 0 {
		d.log.WithField("messages", len(unknown)).Warn("claims lapsed while their provider may have sent them: marked unknown, never resent automatically")
	}
	return n, nil
}

// providerOf names a message's provider for the metrics: the one that
// claimed it, or its channel's.
func (d *Dispatcher) providerOf(provider, channel string) string {
	if provider != "" {
		return provider
	}
	for _, rt := range d.routes {
		if rt.channel == channel {
			return rt.p.Name()
		}
	}
	return ""
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

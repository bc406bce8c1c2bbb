package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/loanremind/loanremind/jobs/civil"
)

// BackfillRequest is a backfill: one run per business day, oldest first.
type BackfillRequest struct {
	From, To civil.Date
	DryRun   bool
	SendLate bool
	Shard    Shard
	Actor    string
	Reason   string
	// Schedule gives each day's run its as-of instant: the day's first
	// scheduled time (midnight in the business zone if it has none).
	Schedule cron.Schedule
}

// DayAsOf returns the instant a backfill runs the given business day as of.
func DayAsOf(s cron.Schedule, day civil.Date, businessZone *time.Location) time.Time {
	start := day.Time(businessZone)
	if s == nil {
		return start
	}
	t := s.Next(start.Add(-time.Second))
	if t.Before(start) || !t.Before(day.AddDays(1).Time(businessZone)) {
		return start
	}
	return t
}

// Backfill runs each day from From to To as of that day's scheduled time,
// each with its own run record (mode backfill). Reminders whose validity has
// passed are recorded expired unless SendLate. It stops at the first failed
// day, or when another backfill of the same shard holds the lock, and
// returns the days it ran.
func (r *Runner) Backfill(ctx context.Context, req BackfillRequest) ([]*Result, error) {
	if req.To < req.From {
		return nil, fmt.Errorf("backfill: --to %s is before --from %s", req.To, req.From)
	}
	businessZone := r.Config.Policy.BusinessZone
	var out []*Result
	for day := req.From; day <= req.To; day++ {
		if ctx.Err() != nil {
			return out, ErrInterrupted
		}
		res, err := r.Run(ctx, Request{
			Mode: ModeBackfill, AsOf: DayAsOf(req.Schedule, day, businessZone), DryRun: req.DryRun, Shard: req.Shard,
			Actor: req.Actor, Reason: req.Reason, SendLate: req.SendLate,
		})
		out = append(out, res)
		if err != nil {
			return out, fmt.Errorf("backfill %s: %w", day, err)
		}
		if res.Status == StatusSkipped {
			return out, nil
		}
	}
	return out, nil
}

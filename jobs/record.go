package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

// runRecorded performs a real run: the lane lock, the run record from start
// to end, and the pipeline between.
func (p *pipeline) runRecorded(ctx context.Context, started time.Time) (*Result, error) {
	r, req, res := p.runner, p.req, p.res
	backfill := req.Mode == ModeBackfill
	// The lock is session-level: it needs a connection of its own, held
	// for the whole run.
	conn, err := r.DB.Connx(ctx)
	if err != nil {
		return p.failEarly(fmt.Errorf("connect: %w", err))
	}
	defer conn.Close()
	key := queries.LaneOf(r.Config.LockKey, backfill, req.Shard.Index, req.Shard.Count)
	ok, err := queries.TryLaneLock(ctx, conn, key)
	if err != nil {
		return p.failEarly(fmt.Errorf("take run lock: %w", err))
	}
	if !ok {
		if err := p.checkLockHolder(ctx, key); err != nil {
			return p.failEarly(err)
		}
		return p.recordSkipped(ctx, started)
	}
	defer queries.LaneUnlock(context.WithoutCancel(ctx), conn, key)

	if err := p.closeAbandoned(ctx); err != nil {
		return p.failEarly(err)
	}
	runID, err := queries.NextRunID(ctx, r.DB)
	if err != nil {
		return p.failEarly(fmt.Errorf("reserve run id: %w", err))
	}
	prevID, prevHead, err := queries.PreviousRun(ctx, r.DB, req.Shard.Index, req.Shard.Count, backfill, runID)
	if err != nil {
		return p.failEarly(fmt.Errorf("previous run: %w", err))
	}
	p.header = p.newHeader(runID, started, prevID, prevHead)
	p.head = p.header.Hash()
	rec := p.header.Record()
	rec.Status = string(StatusRunning)
	if err := queries.InsertRun(ctx, r.DB, rec); err != nil {
		return p.failEarly(fmt.Errorf("record run: %w", err))
	}
	res.RunID = runID
	p.log = p.log.WithField(FieldRunID, runID)
	p.log.Info("run started")

	runErr := p.execute(ctx)
	if runErr == nil {
		runErr = lockStillHeld(ctx, conn)
	}
	p.finishResult()
	status := StatusSucceeded
	if runErr != nil {
		status = StatusFailed
		res.Error = runErr.Error()
	}
	res.Status = status
	if err := p.finish(ctx, status, res.Error); err != nil {
		p.log.WithError(err).Error("could not record the end of the run: the next run of this shard marks it failed")
		if runErr == nil {
			runErr = err
			res.Status = StatusFailed
		}
	}
	p.logEnd(started, runErr)
	return res, runErr
}

// logEnd logs the end of a recorded run. The chain head in the logs anchors
// the audit trail outside the database: a run deleted whole leaves it
// behind. Only a run whose end is recorded has a final head to anchor.
func (p *pipeline) logEnd(started time.Time, runErr error) {
	r, res := p.runner, p.res
	fields := logrus.Fields{FieldStatus: res.Status, "candidates": res.Candidates, "messages": res.Messages,
		"duration_ms": r.Now().Sub(started).Milliseconds(), "audit_rows": p.counts.AuditRows}
	if res.AuditHead != "" {
		fields["audit_rows"], fields["audit_head"] = res.AuditRows, res.AuditHead
	}
	for d, n := range res.Decisions {
		fields[d] = n
	}
	if res.LongSMS > 0 {
		p.log.WithField("messages", res.LongSMS).Warnf("SMS messages longer than %d parts: shorten the templates or raise channels.sms.max_segments", r.Config.MaxSMSSegments)
	}
	if runErr != nil {
		p.log.WithFields(fields).WithError(runErr).Error("run failed")
	} else {
		p.log.WithFields(fields).Info("run finished")
	}
}

// lockStillHeld checks the lane lock's session at the end of a run. The
// lock lives as long as that session: if its connection was cut (the
// backend terminated, the server restarted), the lock was released and
// another run of the lane may have run beside this one, although the rest
// of the run carried on over fresh connections of the pool.
func lockStillHeld(ctx context.Context, conn *sqlx.Conn) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := conn.PingContext(ctx); err != nil {
		return fmt.Errorf("lost the run lock: its database connection ended during the run: %w", err)
	}
	return nil
}

func (p *pipeline) newHeader(runID int64, started time.Time, prevID int64, prevHead string) *audit.RunHeader {
	r, req := p.runner, p.req
	return &audit.RunHeader{
		ID: runID, Mode: string(req.Mode), AsOf: req.AsOf, BusinessDate: p.businessDate.String(),
		ShardIndex: req.Shard.Index, ShardCount: req.Shard.Count, Actor: req.Actor, Reason: req.Reason,
		Host: r.Config.Host, StartedAt: started.Truncate(time.Microsecond).Round(0), SendLate: req.SendLate,
		ConfigSHA256: r.Config.ConfigSHA256, PolicySHA256: r.Config.PolicySHA256,
		TemplatesSHA256: r.Config.TemplatesSHA256, Version: r.Config.Version,
		PrevRunID: prevID, PrevRunHead: prevHead,
	}
}

// finish records the run's end with its seal. The database may have gone
// away: it tries a few times on fresh connections.
func (p *pipeline) finish(ctx context.Context, status Status, errText string) error {
	res := p.res
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var ended Status
		var run *queries.Run
		ended, run, err = p.endRun(fctx, res.RunID, status, errText)
		cancel()
		switch {
		case err != nil:
			continue
		case ended == "" || ended == status:
			// Ended now, or by an earlier attempt whose reply was lost.
			// The head the record keeps is the one to anchor: a batch
			// whose commit reply was lost is in it, not in p.head.
			res.AuditHead, res.AuditRows = run.AuditHead, run.AuditRows
			return nil
		default:
			return fmt.Errorf("run record was no longer running: it ended %s", ended)
		}
	}
	return err
}

// ErrLockHeldByOther is a lane lock held by a session that is not a
// loanremind run: anyone who can connect could otherwise stop every run,
// each skipped with exit 0 and nobody paged.
var ErrLockHeldByOther = errors.New("the run lock is held by a session that is not a loanremind run")

// checkLockHolder returns an error naming the holder of the lane lock when
// it is not another loanremind run of our role, whose lock a skipped run
// waits out.
func (p *pipeline) checkLockHolder(ctx context.Context, key queries.LaneKey) error {
	holder, found, err := queries.LaneHolder(ctx, p.runner.DB, key)
	if err != nil {
		return fmt.Errorf("who holds the run lock: %w", err)
	}
	if !found || holder.Loanremind() {
		return nil // a loanremind run, or one that has just ended
	}
	app := holder.ApplicationName
	if app == "" && !holder.SameRole {
		app = "not shown to this role"
	}
	return fmt.Errorf("%w (advisory lock %d, %d): pid %d, role %q, application_name %q",
		ErrLockHeldByOther, key.Class, key.Key, holder.PID, clean.Text(holder.Role, 64), clean.Text(app, 64))
}

// recordSkipped records a run that found another run of its lane and shard
// holding the lock: it does nothing and exits 0.
func (p *pipeline) recordSkipped(ctx context.Context, started time.Time) (*Result, error) {
	r, res := p.runner, p.res
	runID, err := queries.NextRunID(ctx, r.DB)
	if err != nil {
		return p.failEarly(fmt.Errorf("reserve run id: %w", err))
	}
	p.header = p.newHeader(runID, started, 0, "")
	p.head = p.header.Hash()
	const why = "another run of this lane and shard holds the lock"
	finished := r.Now().Truncate(time.Microsecond).Round(0)
	totals := audit.RunTotals{Status: string(StatusSkipped), FinishedAt: finished, Error: why, AuditHead: p.head}
	rec := p.header.Record()
	rec.Status, rec.FinishedAt, rec.Error, rec.Seal = string(StatusSkipped), sql.NullTime{Time: finished, Valid: true}, why, totals.Seal(p.head)
	if err := queries.InsertRun(ctx, r.DB, rec); err != nil {
		return p.failEarly(fmt.Errorf("record skipped run: %w", err))
	}
	res.RunID = runID
	res.Status = StatusSkipped
	res.Error = why
	backfill := p.req.Mode == ModeBackfill
	if res.ConsecutiveSkipped, err = queries.ConsecutiveSkipped(ctx, r.DB, p.req.Shard.Index, p.req.Shard.Count, backfill); err != nil {
		p.log.WithError(err).Warn("could not count the consecutive skipped runs")
	}
	p.log.WithField(FieldRunID, runID).Warn("run skipped: " + why)
	return res, nil
}

// closeAbandoned marks failed the runs of this lane and shard that are
// still marked running: holding the lock proves they are dead.
func (p *pipeline) closeAbandoned(ctx context.Context) error {
	db := p.runner.DB
	ids, err := queries.RunningRuns(ctx, db, p.req.Shard.Index, p.req.Shard.Count, p.req.Mode == ModeBackfill)
	if err != nil {
		return fmt.Errorf("abandoned runs: %w", err)
	}
	for _, id := range ids {
		const why = "abandoned: the process stopped or lost its database connection before the end; a later run completed its work"
		if _, _, err := p.endRun(ctx, id, StatusFailed, why); err != nil {
			return fmt.Errorf("close abandoned run %d: %w", id, err)
		}
		p.log.WithField(FieldRunID, id).Warn("marked an abandoned run failed")
	}
	return nil
}

// endRun ends a running run with its status and seal, computed from its
// record as it stands, under the record's lock: what the database holds is
// what the seal vouches for, even when a batch's commit reply was lost,
// and a run that lost its lane lock cannot slip a batch between the
// reading and the sealing (its next batch is refused: an ended run's record
// is final). It returns "" when it ended the run, or the status the run
// had already ended with, and the run's record (its rows and chain head are
// final).
func (p *pipeline) endRun(ctx context.Context, id int64, status Status, errText string) (ended Status, run *queries.Run, err error) {
	tx, err := p.runner.DB.BeginTx(ctx, nil)
	if err != nil {
		return "", nil, err
	}
	defer tx.Rollback()
	if err := queries.LockRun(ctx, tx, id); err != nil {
		return "", nil, err
	}
	run, err = queries.SelectRun(ctx, tx, id)
	if err != nil {
		return "", nil, err
	}
	if Status(run.Status) != StatusRunning {
		return Status(run.Status), run, nil
	}
	totals := audit.TotalsOf(run)
	totals.Status, totals.FinishedAt, totals.Error = string(status), p.runner.Now().Truncate(time.Microsecond).Round(0), errText
	seal := totals.Seal(audit.HeaderOf(run).Hash())
	if _, err := queries.FinishRun(ctx, tx, id, string(status), totals.FinishedAt, errText, seal); err != nil {
		return "", nil, err
	}
	return "", run, tx.Commit()
}

// failEarly ends a run that could not start.
func (p *pipeline) failEarly(err error) (*Result, error) {
	p.res.Status = StatusFailed
	p.res.Error = err.Error()
	p.log.WithError(err).Error("run failed")
	return p.res, err
}

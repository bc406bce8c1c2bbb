// Package jobs is the reminder pipeline and its drivers: one run (select →
// evaluate → group → schedule → render → write), a backfill, and explain,
// which evaluates one installment as a run would. The pure stages live in
// subpackages (policy, render, audit encoding), as do phone parsing and its
// cache (phone) and the long-running server with its metrics (serve, which
// uses only the Runner); this package wires the stages to the database
// through queries.
//
// jobs never imports config or cmd: it declares what it needs in Config,
// which cmd fills in.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/jobs/render"
)

// Log field names.
const (
	FieldRunID    = "run_id"
	FieldShard    = "shard"
	FieldMode     = "mode"
	FieldBatch    = "batch"
	FieldAsOf     = "as_of"
	FieldBusiness = "business_date"
	FieldStatus   = "status"
	// FieldBorrowerID and FieldInstallmentID name a row a log line is
	// about (ids, never contact data).
	FieldBorrowerID    = "borrower_id"
	FieldInstallmentID = "installment_id"
	FieldChannel       = "channel"
)

// Mode is how a run was started: reminder_runs.mode. The queries package
// reads and writes it as the column's text.
type Mode string

// Run modes.
const (
	ModeScheduled Mode = "scheduled" // by the schedule: a CronJob or serve
	ModeManual    Mode = "manual"    // by hand, with an actor and a reason
	ModeBackfill  Mode = "backfill"  // one day of a backfill
)

// Status is the state of a run: reminder_runs.status, or, for a dry run's
// result only, StatusDryRun. The queries package reads and writes it as the
// column's text.
type Status string

// Run statuses.
const (
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusDryRun    Status = "dry-run" // a result only: a dry run records nothing
)

// Config is what the pipeline needs; cmd/loanremind fills it from the
// configuration file.
type Config struct {
	Policy             policy.Config // holidays from the database are added per run
	Renderer           *render.Engine
	Hasher             *pii.Hasher // keyed hashes of contact addresses in the audit
	BatchSize          int
	DefaultPhoneRegion string
	LockTimeout        time.Duration
	StatementTimeout   time.Duration
	GracePeriod        time.Duration // after a stop request, how long the open batch may take
	ConfigSHA256       string
	PolicySHA256       string
	TemplatesSHA256    string
	Version            string
	Host               string
	Samples            int // sample messages a dry run prints
	MaxSMSSegments     int // an SMS longer than this many parts is counted and warned about (0: no limit)
	// LockKey is the first key of the lane locks (0: the default), so that
	// two deployments in one database do not block each other.
	LockKey int32
}

// Request is one run.
type Request struct {
	Mode     Mode
	AsOf     time.Time // the run's instant; stages and business date follow from it
	DryRun   bool
	Shard    Shard
	Actor    string
	Reason   string
	SendLate bool // backfill: send reminders whose validity passed, instead of expiring them
}

// Result is what a run did.
type Result struct {
	RunID        int64
	Status       Status
	Error        string
	BusinessDate civil.Date
	AsOf         time.Time
	Shard        Shard
	Candidates   int64
	Messages     int64
	Decisions    map[string]int64 // by decision
	Reasons      []ReasonCount    // by stage, decision and reason
	Samples      []Sample         // dry run: a few messages, personal data masked
	LongSMS      int64            // SMS messages over the configured maximum of parts
	Duration     time.Duration
	// AuditHead is the run's final chain head and AuditRows its length, as
	// its record keeps them (both unset until the run's end is recorded):
	// kept outside the database (the last log line carries them), the head
	// anchors the audit trail (audit verify --anchor).
	AuditHead string
	AuditRows int64
	// ConsecutiveSkipped counts a skipped run's lane's newest runs that
	// were skipped in a row, itself included: a stuck lock shows here.
	ConsecutiveSkipped int64
}

// ReasonCount counts the decisions of one stage, decision and reason.
type ReasonCount struct {
	Stage, Channel, Decision, Reason string
	Count                            int64
}

// Sample is a message shown by a dry run, with personal data masked.
type Sample struct {
	BorrowerID    int64
	Channel       string
	Recipient     string // masked
	Stage         string
	Locale        string
	Template      string
	ScheduledFor  time.Time
	ValidUntil    time.Time
	Decision      string
	Segments      int
	Subject, Body string
}

// ErrInterrupted means a stop was requested before the run finished; the
// run is recorded failed and the next run completes its work.
var ErrInterrupted = errors.New("interrupted before the run finished: the next run completes it")

// Runner runs the pipeline.
type Runner struct {
	DB     *sqlx.DB
	Log    *logrus.Entry
	Config Config
	// Now is the clock. Pure logic never reads it; the drivers pass its
	// readings down.
	Now func() time.Time
	// Observe, if set, is called with every finished run's result.
	Observe func(*Result)
}

// Run performs one run. The error is nil for succeeded, skipped and dry
// runs; otherwise the run is recorded failed (when the database allows) and
// the error says why.
func (r *Runner) Run(ctx context.Context, req Request) (*Result, error) {
	started := r.Now()
	if req.Shard.Count == 0 {
		req.Shard = Shard{Index: 0, Count: 1}
	}
	if req.AsOf.IsZero() {
		req.AsOf = started
	}
	// timestamptz keeps microseconds: truncate once, so that every hash of
	// a stored time sees the value the database returns.
	req.AsOf = req.AsOf.Truncate(time.Microsecond).Round(0)
	res, err := r.run(ctx, req, started)
	res.Duration = r.Now().Sub(started)
	if r.Observe != nil {
		r.Observe(res)
	}
	return res, err
}

func (r *Runner) run(ctx context.Context, req Request, started time.Time) (*Result, error) {
	cfg := &r.Config
	businessDate := civil.DateIn(req.AsOf, cfg.Policy.BusinessZone)
	res := &Result{BusinessDate: businessDate, AsOf: req.AsOf, Shard: req.Shard, Decisions: map[string]int64{}}
	log := r.Log.WithFields(logrus.Fields{FieldMode: req.Mode, FieldShard: req.Shard.String(),
		FieldAsOf: req.AsOf.Format(time.RFC3339), FieldBusiness: businessDate.String()})

	pol, err := r.policyFor(ctx, businessDate)
	if err != nil {
		res.Status = StatusFailed
		res.Error = err.Error()
		return res, err
	}
	p := &pipeline{
		runner:       r,
		req:          req,
		policy:       pol,
		businessDate: businessDate,
		notBefore:    maxTime(req.AsOf, started.Truncate(time.Microsecond).Round(0)),
		log:          log,
		reasons:      map[reasonKey]int64{},
		res:          res,
		spareRows:    make(chan *batchRows, buildWorkers()+2),
	}
	if req.Mode != ModeBackfill {
		// A scheduled or manual run sends as of its own instant.
		p.notBefore = req.AsOf
	}
	if req.DryRun {
		res.Status = StatusDryRun
		err := p.execute(ctx)
		p.finishResult()
		if err != nil {
			res.Status = StatusFailed
			res.Error = err.Error()
		}
		return res, err
	}
	return p.runRecorded(ctx, started)
}

// policyFor builds the run's policy: the configured one plus the holidays
// the database holds around the business date.
func (r *Runner) policyFor(ctx context.Context, businessDate civil.Date) (*policy.Policy, error) {
	cfg := r.Config.Policy
	holidays, err := loadHolidays(ctx, r.DB, businessDate)
	if err != nil {
		return nil, err
	}
	if len(holidays) > 0 {
		regions := make(map[string]policy.Region, len(cfg.Regions)+len(holidays))
		for code, region := range cfg.Regions {
			regions[code] = region
		}
		for code, days := range holidays {
			region := regions[code]
			region.Holidays = append(append([]civil.Date(nil), region.Holidays...), days...)
			regions[code] = region
		}
		cfg.Regions = regions
	}
	pol, err := policy.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return pol, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

type reasonKey struct{ stage, channel, decision, reason string }

// finishResult sorts the reason counts into the result.
func (p *pipeline) finishResult() {
	res := p.res
	res.Reasons = res.Reasons[:0]
	for k, n := range p.reasons {
		res.Reasons = append(res.Reasons, ReasonCount{k.stage, k.channel, k.decision, k.reason, n})
	}
	order := map[string]int{}
	for i, s := range p.policy.Stages() {
		order[s.Name] = i
	}
	sort.Slice(res.Reasons, func(i, j int) bool {
		a, b := res.Reasons[i], res.Reasons[j]
		if a.Stage != b.Stage {
			return order[a.Stage] < order[b.Stage]
		}
		if a.Decision != b.Decision {
			return a.Decision < b.Decision
		}
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		return a.Reason < b.Reason
	})
}

// Summary is a one-line summary of the decisions.
func (res *Result) Summary() string {
	var parts []string
	for _, d := range []string{"queued", "deferred", "suppressed", "skipped", "expired"} {
		parts = append(parts, fmt.Sprintf("%s=%d", d, res.Decisions[d]))
	}
	return fmt.Sprintf("candidates=%d messages=%d %s", res.Candidates, res.Messages, strings.Join(parts, " "))
}

package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/loanremind/loanremind/queries"
)

// Log field names.
const (
	FieldSession  = "delivery_session"
	FieldProvider = "provider"
	FieldChannel  = "channel"
	FieldShard    = "shard"
)

// Dispatcher delivers the outbox: it claims due messages in batches
// (FOR UPDATE SKIP LOCKED, with a lease), re-checks their facts and the
// audit's word for them in the claiming transaction, hands them to the
// channel's provider within its rate and in-flight limits, calls it only
// inside the message's window, and records every outcome in batches,
// fenced by the claim. Several dispatchers share one outbox safely.
type Dispatcher struct {
	db      *sql.DB
	cfg     Config
	log     *logrus.Entry
	clock   Clock
	metrics *Metrics

	routes     []*route
	providers  []*provider
	idempotent []string // names of the idempotent providers
	shard      queries.ShardFilter

	claims   *chain                   // the claims session, owned by the run loop
	rec      atomic.Pointer[recorder] // set while running
	wake     chan struct{}
	draining atomic.Bool
	fatal    atomic.Pointer[error]
	running  atomic.Bool
	lastErr  atomic.Pointer[string]

	countsMu sync.Mutex
	counts   map[string]int64 // outcomes of this process, by outcome
}

// route is a channel and its provider.
type route struct {
	channel string
	p       *provider
}

// provider is a provider with its limits and the messages it holds.
type provider struct {
	Provider
	limiter     *rate.Limiter // nil: no limit
	breaker     *breaker
	maxInFlight int
	capacity    int // messages held at most: queued, in flight or awaiting their record
	queue       chan *job
	held        atomic.Int64
}

// job is a claimed message on its way to its provider.
type job struct {
	msg     Message
	p       *provider
	lastErr string // the previous attempt's error, if any
}

// ErrNoSuchMessage means a receipt names a message the outbox does not
// hold (or one its provider did not send).
var ErrNoSuchMessage = errors.New("no such message")

// New checks the configuration and builds a dispatcher on db. A nil clock
// is the wall clock; nil metrics get a registry of their own.
func New(db *sql.DB, cfg Config, log *logrus.Entry, clock Clock, metrics *Metrics) (*Dispatcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("delivery configuration: %w", err)
	}
	if clock == nil {
		clock = RealClock{}
	}
	d := &Dispatcher{db: db, cfg: cfg, clock: clock, wake: make(chan struct{}, 1), counts: map[string]int64{},
		shard: queries.ShardFilter{Index: cfg.ShardIndex, Count: cfg.ShardCount}}
	byName := map[string]*provider{}
	var names []string
	for _, pc := range cfg.Providers {
		p := &provider{Provider: pc.Provider, maxInFlight: pc.MaxInFlight}
		if p.maxInFlight == 0 {
			p.maxInFlight = DefaultMaxInFlight
		}
		// Hold what the workers can take in about two claim batches; a
		// rate limit holds no more than can go out in half a lease, so
		// that a claim never lapses waiting for its turn.
		p.capacity = p.maxInFlight + cfg.ClaimBatch
		if pc.Rate > 0 {
			p.limiter = rate.NewLimiter(rate.Limit(pc.Rate), max(1, int(pc.Rate/10)))
			p.capacity = max(1, min(p.capacity, int(pc.Rate*cfg.Lease.Seconds()/2)))
		}
		p.queue = make(chan *job, p.capacity)
		byName[p.Name()] = p
		d.providers = append(d.providers, p)
		names = append(names, p.Name())
		if p.Idempotent() {
			d.idempotent = append(d.idempotent, p.Name())
		}
	}
	sort.Strings(d.idempotent)
	if metrics == nil {
		metrics = NewMetrics(cfg.Version, names, sortedKeys(cfg.Routes))
	}
	d.metrics = metrics
	for _, p := range d.providers {
		name := p.Name()
		p.breaker = newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, func(open bool) { d.circuit(name, open) })
	}
	for _, ch := range sortedKeys(cfg.Routes) {
		d.routes = append(d.routes, &route{channel: ch, p: byName[cfg.Routes[ch]]})
	}
	if log == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		log = logrus.NewEntry(l)
	}
	d.log = log.WithField(FieldShard, fmt.Sprintf("%d/%d", cfg.ShardIndex, cfg.ShardCount))
	return d, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Totals counts what this dispatcher did, by outcome (sent, retry,
// failed, expired, cancelled, refused, unknown, delivered, undelivered).
func (d *Dispatcher) Totals() map[string]int64 {
	d.countsMu.Lock()
	defer d.countsMu.Unlock()
	out := make(map[string]int64, len(d.counts))
	for k, v := range d.counts {
		out[k] = v
	}
	return out
}

// outcome counts an outcome in the metrics and the totals.
func (d *Dispatcher) outcome(provider, channel, outcome string) {
	d.metrics.outcome(provider, channel, outcome)
	d.countsMu.Lock()
	d.counts[outcome]++
	d.countsMu.Unlock()
}

// Metrics returns the dispatcher's metrics.
func (d *Dispatcher) Metrics() *Metrics { return d.metrics }

func (d *Dispatcher) circuit(provider string, open bool) {
	d.metrics.circuit(provider, open)
	entry := d.log.WithField(FieldProvider, provider)
	if open {
		entry.Warn("circuit open: the provider keeps failing; nothing is sent through it for a while")
	} else {
		entry.Info("circuit closed: the provider answers again")
	}
}

// Run delivers until ctx is done (SIGTERM), then stops claiming, lets the
// calls in flight finish within the grace period, records their outcomes
// and gives back what it held but had not sent. It returns nil after a
// stop, or the error that stopped it (the database failing for good).
func (d *Dispatcher) Run(ctx context.Context) error { return d.run(ctx, false) }

// RunOnce delivers everything due now and waits for the outcomes, retries
// included, then returns: nil when done, an error when the database failed.
// A provider's failures are recorded, not returned.
func (d *Dispatcher) RunOnce(ctx context.Context) error { return d.run(ctx, true) }

func (d *Dispatcher) run(ctx context.Context, once bool) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("the dispatcher is already running")
	}
	defer d.running.Store(false)
	now := d.clock.Now()
	var err error
	if d.claims, err = openChain(ctx, d.db, "claims", &d.cfg, now); err != nil {
		return err
	}
	outcomes, err := openChain(ctx, d.db, "outcomes", &d.cfg, now)
	if err != nil {
		return err
	}
	d.log = d.log.WithField(FieldSession, fmt.Sprintf("%d,%d", d.claims.id, outcomes.id))
	for _, ch := range []string{"sms", "email"} {
		if _, ok := d.cfg.Routes[ch]; !ok {
			d.log.WithField(FieldChannel, ch).Warn("no route for this channel: its messages stay pending")
		}
	}
	d.log.Info("delivering")
	// Calls in flight and their records outlive a stop request by the
	// grace period.
	work, cancelWork := detached(ctx, d.cfg.GracePeriod)
	defer cancelWork()
	rec := newRecorder(d, outcomes)
	d.draining.Store(false)
	d.rec.Store(rec)
	defer d.rec.Store(nil)
	recDone := make(chan error, 1)
	go func() { recDone <- rec.run(work) }()
	var workers sync.WaitGroup
	for _, p := range d.providers {
		for range p.maxInFlight {
			workers.Add(1)
			go func() {
				defer workers.Done()
				for j := range p.queue {
					d.handle(ctx, work, p, j)
				}
			}()
		}
	}

	loopErr := d.loop(ctx, once)

	// Stop: nothing more is claimed; what is queued is given back, the
	// calls in flight finish and their outcomes are recorded.
	d.draining.Store(true)
	for _, p := range d.providers {
		close(p.queue)
	}
	workers.Wait()
	rec.close()
	recErr := <-recDone
	end := d.clock.Now()
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, c := range []*chain{d.claims, outcomes} {
		if err := c.end(endCtx, d.db, end); err != nil && recErr == nil {
			recErr = fmt.Errorf("end delivery session %d: %w", c.id, err)
		}
	}
	if err := d.updateGauges(endCtx); err != nil {
		d.log.WithError(err).Debug("outbox gauges")
	}
	d.log.WithFields(logrus.Fields{"claim_events": d.claims.rows, "outcome_events": outcomes.rows}).Info("stopped delivering")
	return errors.Join(loopErr, recErr)
}

// loop claims while there is room and work, sweeps expired and lapsed
// messages, and waits for room or for the next due message.
func (d *Dispatcher) loop(ctx context.Context, once bool) error {
	var lastSweep time.Time
	swept := 0
	lastGauges := time.Time{}
	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		if err := d.fatal.Load(); err != nil {
			return *err
		}
		now := d.clock.Now()
		if time.Since(lastGauges) >= 15*time.Second {
			if err := d.updateGauges(ctx); err != nil {
				d.log.WithError(err).Warn("could not count the due messages")
			}
			lastGauges = time.Now()
		}
		var claimed int
		err := func() error {
			// Sweep every poll, and at once again while a sweep finds
			// work.
			if swept > 0 || lastSweep.IsZero() || now.Sub(lastSweep) >= d.cfg.PollInterval || now.Before(lastSweep) {
				n, err := d.sweep(ctx)
				if err != nil {
					return err
				}
				swept, lastSweep = n, now
			}
			n, err := d.claimRound(ctx)
			claimed = n
			return err
		}()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if once {
				return err
			}
			failures++
			msg := err.Error()
			d.lastErr.Store(&msg)
			d.log.WithError(err).Error("claiming failed; trying again")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(time.Duration(failures)*d.cfg.PollInterval, time.Minute)):
			}
			continue
		}
		if failures > 0 {
			failures = 0
			d.lastErr.Store(nil)
		}
		if claimed > 0 || swept > 0 {
			continue
		}
		held := d.held()
		idle := d.cfg.PollInterval
		if once && held == 0 {
			wait, done, err := d.onceRemaining(ctx, now)
			if err != nil {
				return err
			}
			if done {
				return nil
			}
			idle = wait
		}
		if held > 0 {
			// Messages are on their way: wait for room on the wall
			// clock, which an injected clock must not jump past.
			select {
			case <-ctx.Done():
			case <-d.wake:
			case <-time.After(d.cfg.PollInterval):
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-d.clock.After(idle):
		}
	}
}

// held counts the messages this dispatcher holds.
func (d *Dispatcher) held() int64 {
	var n int64
	for _, p := range d.providers {
		n += p.held.Load()
	}
	return n
}

// signal wakes the loop: room was made.
func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// onceRemaining says whether a one-shot delivery is done: nothing it may
// claim is waiting for a retry, and no circuit is open. Otherwise it says
// how long to wait.
func (d *Dispatcher) onceRemaining(ctx context.Context, now time.Time) (time.Duration, bool, error) {
	channels := make([]string, 0, len(d.routes))
	var next time.Time
	for _, rt := range d.routes {
		channels = append(channels, rt.channel)
		if st, until := rt.p.breaker.state(now); st == breakerOpen && (next.IsZero() || until.Before(next)) {
			next = until
		}
	}
	retry, ok, err := queries.NextRetry(ctx, d.db, now, channels, now, d.shard)
	if err != nil {
		return 0, false, fmt.Errorf("next retry: %w", err)
	}
	if ok && (next.IsZero() || retry.Before(next)) {
		next = retry
	}
	if next.IsZero() {
		return 0, true, nil
	}
	return max(next.Sub(now), time.Millisecond), false, nil
}

// updateGauges counts the due, unsent messages.
func (d *Dispatcher) updateGauges(ctx context.Context) error {
	now := d.clock.Now()
	n, oldest, err := queries.OutboxDue(ctx, d.db, now)
	if err != nil {
		return err
	}
	d.metrics.outbox(n, oldest, now)
	return nil
}

// setTimeouts applies the lock and statement timeouts to a transaction.
func (d *Dispatcher) begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := queries.SetLocalSettings(ctx, tx, d.cfg.LockTimeout, d.cfg.StatementTimeout); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

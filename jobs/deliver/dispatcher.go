package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
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

	claimers []*claimer               // set when it runs
	rec      atomic.Pointer[recorder] // set while running
	draining atomic.Bool
	fatal    atomic.Pointer[error]
	running  atomic.Bool
	started  atomic.Bool // its sessions are open: it claims
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
	session int64  // the claims session that claimed it: the fence with its attempt
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
	d := &Dispatcher{db: db, cfg: cfg, clock: clock, counts: map[string]int64{},
		shard: queries.ShardFilter{Index: cfg.ShardIndex, Count: cfg.ShardCount}}
	byName := map[string]*provider{}
	var names []string
	for _, pc := range cfg.Providers {
		p := &provider{Provider: pc.Provider, maxInFlight: pc.MaxInFlight}
		if p.maxInFlight == 0 {
			p.maxInFlight = DefaultMaxInFlight
		}
		// Hold twice what is in flight and two claim batches: the calls
		// in flight, the batch waiting for them, the outcomes waiting to
		// be recorded, and room for the next claim. A rate limit holds no
		// more than can go out in half a lease, so that a claim never
		// lapses waiting for its turn.
		p.capacity = 2*p.maxInFlight + 2*cfg.ClaimBatch
		if pc.Rate > 0 {
			p.limiter = rate.NewLimiter(rate.Limit(pc.Rate), max(1, int(pc.Rate/10)))
			p.capacity = max(1, min(p.capacity, int(pc.Rate*cfg.Lease.Seconds()/2)))
		}
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
	d.claimers = d.claimers[:0]
	sessions := make([]string, 0, d.cfg.Claimers+1)
	for i := range d.cfg.Claimers {
		c, err := openChain(ctx, d.db, "claims", &d.cfg, now)
		if err != nil {
			return stoppedOr(ctx, err)
		}
		d.claimers = append(d.claimers, &claimer{n: i, chain: c, wake: make(chan struct{}, 1)})
		sessions = append(sessions, fmt.Sprint(c.id))
	}
	outcomes, err := openChain(ctx, d.db, "outcomes", &d.cfg, now)
	if err != nil {
		return stoppedOr(ctx, err)
	}
	sessions = append(sessions, fmt.Sprint(outcomes.id))
	d.log = d.log.WithField(FieldSession, strings.Join(sessions, ","))
	for _, ch := range []string{"sms", "email"} {
		if _, ok := d.cfg.Routes[ch]; !ok {
			d.log.WithField(FieldChannel, ch).Warn("no route for this channel: its messages stay pending")
		}
	}
	d.log.Info("delivering")
	d.started.Store(true)
	defer d.started.Store(false)
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
		p.queue = make(chan *job, p.capacity)
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

	// The claimers: each claims in transactions of its own, on a chain of
	// its own, so that one waits for the database while another claims.
	loopCtx, stopLoops := context.WithCancel(ctx)
	var loops sync.WaitGroup
	var done atomic.Bool
	loopErrs := make([]error, len(d.claimers))
	for i, c := range d.claimers {
		loops.Add(1)
		go func() {
			defer loops.Done()
			if loopErrs[i] = d.loop(loopCtx, c, once, &done); loopErrs[i] != nil {
				stopLoops()
			}
		}()
	}
	loops.Wait()
	stopLoops()

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
	claimEvents := int64(0)
	for _, c := range append(d.chains(), outcomes) {
		if err := c.end(endCtx, d.db, end); err != nil && recErr == nil {
			recErr = fmt.Errorf("end delivery session %d: %w", c.id, err)
		}
	}
	for _, c := range d.claimers {
		claimEvents += c.chain.rows
	}
	if err := d.updateGauges(endCtx); err != nil {
		d.log.WithError(err).Debug("outbox gauges")
	}
	d.log.WithFields(logrus.Fields{"claim_events": claimEvents, "outcome_events": outcomes.rows}).Info("stopped delivering")
	return errors.Join(errors.Join(loopErrs...), recErr)
}

// stoppedOr is nil when ctx was stopped (a stop request while starting),
// else err.
func stoppedOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// claimer is one claiming loop and its chain.
type claimer struct {
	n     int // 0 sweeps, keeps the gauges, and ends a one-shot delivery
	chain *chain
	wake  chan struct{}
}

func (d *Dispatcher) chains() []*chain {
	out := make([]*chain, len(d.claimers))
	for i, c := range d.claimers {
		out[i] = c.chain
	}
	return out
}

// loop claims while there is room and work, and waits for room or for
// the next due message. The first claimer also sweeps expired and lapsed
// messages, and decides when a one-shot delivery is done (done).
func (d *Dispatcher) loop(ctx context.Context, c *claimer, once bool, done *atomic.Bool) error {
	var lastSweep time.Time
	swept := 0
	lastGauges := time.Time{}
	failures := 0
	first := c.n == 0
	for {
		if ctx.Err() != nil || done.Load() {
			return nil
		}
		if err := d.fatal.Load(); err != nil {
			return *err
		}
		now := d.clock.Now()
		if first && time.Since(lastGauges) >= 15*time.Second {
			if err := d.updateGauges(ctx); err != nil {
				d.log.WithError(err).Warn("could not count the due messages")
			}
			lastGauges = time.Now()
		}
		var claimed int
		err := func() error {
			// Sweep every poll, and at once again while a sweep finds
			// work.
			if first && (swept > 0 || lastSweep.IsZero() || now.Sub(lastSweep) >= d.cfg.PollInterval || now.Before(lastSweep)) {
				n, err := d.sweep(ctx, c)
				if err != nil {
					return err
				}
				swept, lastSweep = n, now
			}
			n, err := d.claimRound(ctx, c)
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
		if once && first && held == 0 {
			wait, finished, err := d.onceRemaining(ctx, now)
			if err != nil {
				return err
			}
			if finished {
				done.Store(true)
				d.signal()
				return nil
			}
			idle = wait
		}
		if held > 0 || !first {
			// Messages are on their way, or another claimer keeps the
			// time: wait for room on the wall clock, which an injected
			// clock must not jump past.
			select {
			case <-ctx.Done():
			case <-c.wake:
			case <-time.After(d.cfg.PollInterval):
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-c.wake:
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

// signal wakes the claimers: room was made.
func (d *Dispatcher) signal() {
	for _, c := range d.claimers {
		select {
		case c.wake <- struct{}{}:
		default:
		}
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

// begin starts a transaction with the lock and statement timeouts.
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

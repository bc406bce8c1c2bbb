package deliver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Config is what the dispatcher needs; cmd/loanremind fills it from the
// configuration file (jobs never import config).
type Config struct {
	Providers []ProviderConfig
	// Routes maps a channel (sms, email) to a provider's name.
	Routes map[string]string
	// ShardIndex and ShardCount select this dispatcher's part of the
	// borrowers, as the job's shards do (count 0 or 1: all).
	ShardIndex, ShardCount int

	// Lease is how long a claim holds a message for one provider call,
	// waiting for the rate limit included. A claim past it is taken over
	// (an idempotent provider) or becomes unknown.
	Lease time.Duration
	// ClaimBatch is how many messages one claiming transaction takes.
	ClaimBatch int
	// PollInterval is how often an idle dispatcher looks for due messages.
	PollInterval time.Duration
	// RecordBatch and RecordDelay bound a batch of recorded outcomes: at
	// most this many, and no outcome waits longer than the delay.
	RecordBatch int
	RecordDelay time.Duration
	// RetryInitial and RetryMax bound the backoff after a transient error
	// (doubling from the initial delay, with jitter).
	RetryInitial, RetryMax time.Duration
	// BreakerFailures consecutive transient failures of a provider open
	// its circuit for BreakerCooldown.
	BreakerFailures int
	BreakerCooldown time.Duration
	// GracePeriod bounds how long a stop waits for calls in flight.
	GracePeriod time.Duration
	// LockTimeout and StatementTimeout apply to the dispatcher's
	// transactions (0: none).
	LockTimeout, StatementTimeout time.Duration

	Host, Version string
	// NormalizePhone returns a borrower's number as the job writes it into
	// a message (E.164), or "" when it does not parse; region is the
	// borrower's region column. The claim compares it with the message's
	// recipient.
	NormalizePhone func(raw, region string) string
}

// ProviderConfig is one provider with its limits.
type ProviderConfig struct {
	Provider Provider
	// Rate is messages per second (0: no limit).
	Rate float64
	// MaxInFlight is how many calls may be in flight at once (0: 16).
	MaxInFlight int
}

// Defaults.
const (
	DefaultLease           = 2 * time.Minute
	DefaultClaimBatch      = 500
	DefaultPollInterval    = time.Second
	DefaultRecordBatch     = 1000
	DefaultRecordDelay     = 20 * time.Millisecond
	DefaultRetryInitial    = 5 * time.Second
	DefaultRetryMax        = 10 * time.Minute
	DefaultBreakerFailures = 10
	DefaultBreakerCooldown = 30 * time.Second
	DefaultGracePeriod     = 30 * time.Second
	DefaultMaxInFlight     = 16
)

// CheckConfig reports what is wrong with a configuration, without
// building anything: a command calls it before it opens the database.
func CheckConfig(c Config) error {
	_, err := c.withDefaults()
	return err
}

// withDefaults fills the zero values and checks what is left.
func (c Config) withDefaults() (Config, error) {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.Lease, DefaultLease)
	set(&c.PollInterval, DefaultPollInterval)
	set(&c.RecordDelay, DefaultRecordDelay)
	set(&c.RetryInitial, DefaultRetryInitial)
	set(&c.RetryMax, DefaultRetryMax)
	set(&c.BreakerCooldown, DefaultBreakerCooldown)
	set(&c.GracePeriod, DefaultGracePeriod)
	if c.ClaimBatch <= 0 {
		c.ClaimBatch = DefaultClaimBatch
	}
	if c.RecordBatch <= 0 {
		c.RecordBatch = DefaultRecordBatch
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = DefaultBreakerFailures
	}
	if c.ShardCount <= 0 {
		c.ShardCount = 1
	}
	var problems []error
	if c.ShardIndex < 0 || c.ShardIndex >= c.ShardCount {
		problems = append(problems, fmt.Errorf("shard %d/%d: want 0 <= I < N", c.ShardIndex, c.ShardCount))
	}
	names := map[string]bool{}
	for i, p := range c.Providers {
		if p.Provider == nil {
			problems = append(problems, fmt.Errorf("provider %d: none built", i))
			continue
		}
		if names[p.Provider.Name()] {
			problems = append(problems, fmt.Errorf("provider %q: named twice", p.Provider.Name()))
		}
		names[p.Provider.Name()] = true
		if p.Rate < 0 || p.MaxInFlight < 0 {
			problems = append(problems, fmt.Errorf("provider %q: rate and max_in_flight must not be negative", p.Provider.Name()))
		}
	}
	for _, ch := range sortedKeys(c.Routes) {
		if ch != "sms" && ch != "email" {
			problems = append(problems, fmt.Errorf("route %q: unknown channel (sms or email)", ch))
		}
		if !names[c.Routes[ch]] {
			problems = append(problems, fmt.Errorf("route %s: no provider named %q", ch, c.Routes[ch]))
		}
	}
	if len(c.Routes) == 0 {
		problems = append(problems, errors.New("no route: nothing would be delivered"))
	}
	if c.NormalizePhone == nil {
		problems = append(problems, errors.New("no phone normalizer: the claim could not compare addresses"))
	}
	return c, errors.Join(problems...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Clock is the dispatcher's time: when it claims, whether a message is in
// its window when its provider is called, when a retry is due. Tests
// inject their own.
type Clock interface {
	Now() time.Time
	// After fires once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// After waits on the wall clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// stamp is a time as the database keeps it: microseconds, no monotonic
// reading, so that what is hashed is what is read back.
func stamp(t time.Time) time.Time { return t.Truncate(time.Microsecond).Round(0) }

// detached returns a context that outlives ctx by grace: calls in flight
// and the records of their outcomes finish after a stop request.
func detached(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-work.Done():
			}
		case <-work.Done():
		}
	}()
	return work, cancel
}

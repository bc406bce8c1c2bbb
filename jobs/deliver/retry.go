package deliver

import (
	"math/rand/v2"
	"sync"
	"time"
)

// backoff is the delay before attempt+1 after a transient error of
// attempt (1 for the first call): initial doubled per attempt, capped at
// most, with jitter of ±50% (so that a provider's recovery is not met by
// every message at once), and never shorter than the provider's
// Retry-After. jitter is a number in [0, 1).
func backoff(attempt int, initial, most, retryAfter time.Duration, jitter float64) time.Duration {
	d := initial
	for i := 1; i < attempt && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	d = time.Duration(float64(d) * (0.5 + jitter))
	return max(d, retryAfter)
}

func randomJitter() float64 { return rand.Float64() }

// breaker is a provider's circuit breaker: after threshold consecutive
// transient failures it opens for cooldown, during which nothing is sent
// through the provider; then one trial call (half-open) closes it again or
// opens it for another cooldown. Permanent errors are answers, not
// failures: a provider that refuses a bad number is working.
type breaker struct {
	threshold int
	cooldown  time.Duration
	onChange  func(open bool)

	mu        sync.Mutex
	failures  int
	openUntil time.Time // zero: closed
	trial     bool      // half-open: the trial call is out
}

// breakerState is what a claim needs to know.
type breakerState int

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerHalfOpen
)

func newBreaker(threshold int, cooldown time.Duration, onChange func(bool)) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, onChange: onChange}
}

// state reports the breaker's state at now, and until when it stays open.
func (b *breaker) state(now time.Time) (breakerState, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return breakerClosed, time.Time{}
	case now.Before(b.openUntil):
		return breakerOpen, b.openUntil
	case b.trial:
		return breakerOpen, now.Add(b.cooldown / 4)
	}
	return breakerHalfOpen, time.Time{}
}

// allow says whether a call may go out now; if not, when to try again.
func (b *breaker) allow(now time.Time) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true, time.Time{}
	case now.Before(b.openUntil):
		return false, b.openUntil
	case b.trial:
		return false, now.Add(b.cooldown / 4)
	}
	b.trial = true
	return true, time.Time{}
}

// success records an answer from the provider.
func (b *breaker) success() {
	b.mu.Lock()
	wasOpen := !b.openUntil.IsZero()
	b.failures, b.openUntil, b.trial = 0, time.Time{}, false
	b.mu.Unlock()
	if wasOpen && b.onChange != nil {
		b.onChange(false)
	}
}

// failure records a transient failure at now.
func (b *breaker) failure(now time.Time) {
	b.mu.Lock()
	b.failures++
	opened := false
	if b.trial || (b.openUntil.IsZero() && b.failures >= b.threshold) {
		b.openUntil, b.trial, opened = now.Add(b.cooldown), false, true
	}
	b.mu.Unlock()
	if opened && b.onChange != nil {
		b.onChange(true)
	}
}

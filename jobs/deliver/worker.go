package deliver

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/clean"
)

// Reasons of retries, expiries and releases.
const (
	ReasonWindowPassed = "window_passed" // valid_until came before the message could be sent
	ReasonNotYetDue    = "not_yet_due"
	ReasonCircuitOpen  = "circuit_open"
	ReasonReleased     = "released" // the dispatcher stopped before calling its provider
	ReasonClaimLapsed  = "claim_lapsed"
	ReasonTimeout      = "timeout"
	ReasonNetwork      = "network_error"
)

// handle sends one claimed message: it waits for the provider's rate,
// checks the message's window and the provider's circuit right before the
// call, calls, and hands the outcome to the recorder. stop is the
// dispatcher's context (a stop request gives back what has not been
// called yet); work outlives it for the call itself.
func (d *Dispatcher) handle(stop, work context.Context, p *provider, j *job) {
	if d.draining.Load() || stop.Err() != nil {
		d.retryAt(j, time.Time{}, ReasonReleased, nil)
		return
	}
	if p.limiter != nil {
		if err := p.limiter.Wait(stop); err != nil {
			d.retryAt(j, time.Time{}, ReasonReleased, nil)
			return
		}
	}
	m := &j.msg
	now := d.clock.Now()
	switch {
	case now.Before(m.ScheduledFor):
		d.retryAt(j, m.ScheduledFor, ReasonNotYetDue, nil)
		return
	case !now.Before(m.ValidUntil):
		d.expire(j, now, j.lastErr)
		return
	}
	if ok, until := p.breaker.allow(now); !ok {
		d.retryOrExpire(j, now, until, ReasonCircuitOpen, nil)
		return
	}
	call, cancel := context.WithTimeout(work, d.cfg.Lease)
	receipt, err := p.Send(call, m)
	cancel()
	after := d.clock.Now()
	var pe *Error
	switch {
	case err == nil:
		p.breaker.success()
		d.rec.Load().submit(&outcome{job: j, status: StatusSent, event: EventSent, pmID: receipt.ProviderMessageID, at: after})
	case errors.As(err, &pe) && pe.Permanent:
		p.breaker.success()
		d.rec.Load().submit(&outcome{job: j, status: StatusFailed, event: EventFailed, reason: clean.Text(pe.Code, 40), at: after,
			details: errorDetails(pe)})
	default:
		p.breaker.failure(after)
		code := errorCode(err)
		var retryAfter time.Duration
		if pe != nil {
			retryAfter = pe.RetryAfter
		}
		delay := backoff(m.Attempt, d.cfg.RetryInitial, d.cfg.RetryMax, retryAfter, randomJitter())
		j.lastErr = code
		d.retryOrExpire(j, after, after.Add(delay), code, errorDetails(pe))
	}
}

// retryOrExpire gives a message back for another attempt at retryAt, or
// expires it when that is not before its validity ends.
func (d *Dispatcher) retryOrExpire(j *job, now, retryAt time.Time, reason string, details *audit.Object) {
	if !retryAt.Before(j.msg.ValidUntil) {
		if reason != ReasonCircuitOpen {
			j.lastErr = reason
		}
		d.expire(j, now, j.lastErr)
		return
	}
	d.retryAt(j, retryAt, reason, details)
}

// retryAt gives a message back, pending, to be claimed again from
// retryAt (zero: at once).
func (d *Dispatcher) retryAt(j *job, retryAt time.Time, reason string, details *audit.Object) {
	if details == nil {
		details = &audit.Object{}
	}
	if !retryAt.IsZero() {
		details.String("retry_at", stamp(retryAt).UTC().Format(time.RFC3339Nano))
	}
	d.rec.Load().submit(&outcome{job: j, status: StatusPending, event: EventRetry, reason: reason, retryAt: retryAt,
		at: d.clock.Now(), details: details})
}

// expire records that a message's window passed unsent, with the last
// error if it was tried; its ledger items are given back for one more
// plan.
func (d *Dispatcher) expire(j *job, now time.Time, lastErr string) {
	details := &audit.Object{}
	if lastErr != "" {
		details.String("last_error", lastErr)
	}
	d.rec.Load().submit(&outcome{job: j, status: StatusExpired, event: EventExpired, reason: ReasonWindowPassed, at: now,
		details: details})
}

// errorCode names a transient error: the provider's code, or what failed
// underneath.
func errorCode(err error) string {
	var pe *Error
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		return clean.Text(pe.Code, 40)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	}
	return ReasonNetwork
}

// errorDetails keeps the provider's words, which the Provider contract
// says are cleaned and free of personal data; the text of any other error
// (a mail server's may quote the address) is never kept.
func errorDetails(pe *Error) *audit.Object {
	o := &audit.Object{}
	if pe != nil {
		o.String("code", clean.Text(pe.Code, 40))
		if pe.Message != "" {
			o.String("message", clean.Text(pe.Message, 200))
		}
		if pe.RetryAfter > 0 {
			o.String("retry_after", pe.RetryAfter.String())
		}
	}
	return o
}

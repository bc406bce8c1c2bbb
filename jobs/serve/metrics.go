package serve

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/policy"
)

// Metrics are the loanremind_* Prometheus series: scraped from `serve`, or
// pushed to a Pushgateway by `run` and `backfill`.
type Metrics struct {
	Registry *prometheus.Registry

	buildInfo     *prometheus.GaugeVec
	lastRun       prometheus.Gauge
	lastSuccess   prometheus.Gauge
	lastDuration  prometheus.Gauge
	lastCandidate prometheus.Gauge
	lastMessages  prometheus.Gauge
	lastDecisions *prometheus.GaugeVec
	decisions     *prometheus.CounterVec
	runs          *prometheus.CounterVec
	running       prometheus.Gauge
	skippedTicks  prometheus.Counter
	skippedInRow  prometheus.Gauge
}

// NewMetrics registers the series; build information is set at once, so
// /metrics shows loanremind_* series from the start.
func NewMetrics(version string, withProcess bool) *Metrics {
	reg := prometheus.NewRegistry()
	if withProcess {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		Registry: reg,
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loanremind_build_info",
			Help: "Always 1; the version label says which build runs."}, []string{"version"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_last_run_timestamp_seconds",
			Help: "When the last run ended (any status)."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_last_success_timestamp_seconds",
			Help: "When the last successful run ended: alert when it is too old."}),
		lastDuration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_last_run_duration_seconds",
			Help: "How long the last run took."}),
		lastCandidate: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_last_run_candidates",
			Help: "Candidate installments the last run considered."}),
		lastMessages: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_last_run_messages",
			Help: "Messages the last run wrote to the outbox."}),
		lastDecisions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loanremind_last_run_decisions",
			Help: "Decisions of the last run, by decision and reason."}, []string{"decision", "reason"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loanremind_decisions_total",
			Help: "Decisions made, by decision and reason."}, []string{"decision", "reason"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loanremind_runs_total",
			Help: "Runs, by status."}, []string{"status"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_run_in_progress",
			Help: "1 while a run is in progress."}),
		skippedTicks: prometheus.NewCounter(prometheus.CounterOpts{Name: "loanremind_skipped_ticks_total",
			Help: "Schedule ticks skipped because the previous run was still going."}),
		skippedInRow: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_consecutive_skipped_runs",
			Help: "The lane's newest runs skipped in a row because another run held its lock (from the run records): alert at 3 or more."}),
	}
	reg.MustRegister(m.buildInfo, m.lastRun, m.lastSuccess, m.lastDuration, m.lastCandidate, m.lastMessages,
		m.lastDecisions, m.decisions, m.runs, m.running, m.skippedTicks, m.skippedInRow)
	m.buildInfo.WithLabelValues(version).Set(1)
	for _, s := range []jobs.Status{jobs.StatusSucceeded, jobs.StatusFailed, jobs.StatusSkipped} {
		m.runs.WithLabelValues(string(s))
	}
	for _, d := range []string{"queued", "deferred", "suppressed", "skipped", "expired"} {
		m.decisions.WithLabelValues(d, "")
	}
	return m
}

// Observe records a finished run.
func (m *Metrics) Observe(res *jobs.Result, now time.Time) {
	if res.Status == jobs.StatusDryRun {
		return
	}
	m.runs.WithLabelValues(string(res.Status)).Inc()
	m.lastRun.Set(float64(now.Unix()))
	if res.Status == jobs.StatusSucceeded || res.Status == jobs.StatusSkipped {
		m.lastSuccess.Set(float64(now.Unix()))
	}
	if res.Status == jobs.StatusSkipped {
		m.skippedInRow.Set(float64(res.ConsecutiveSkipped))
		return
	}
	m.skippedInRow.Set(0)
	m.lastDuration.Set(res.Duration.Seconds())
	m.lastCandidate.Set(float64(res.Candidates))
	m.lastMessages.Set(float64(res.Messages))
	m.lastDecisions.Reset()
	for _, r := range res.Reasons {
		reason := labelOf(r.Reason)
		m.lastDecisions.WithLabelValues(r.Decision, reason).Add(float64(r.Count))
		m.decisions.WithLabelValues(r.Decision, reason).Add(float64(r.Count))
	}
}

// Running marks a run in progress or not.
func (m *Metrics) Running(on bool) {
	if on {
		m.running.Set(1)
	} else {
		m.running.Set(0)
	}
}

// SkippedTick counts a schedule tick skipped because a run was in progress.
func (m *Metrics) SkippedTick() { m.skippedTicks.Inc() }

// labelOf is a reason as a metric label: reasons come from a closed set,
// but an unknown currency's names a code of the lender's (17,576 of them
// could each make a series), so its label is the reason's kind alone.
func labelOf(reason string) string {
	if strings.HasPrefix(reason, policy.ReasonUnknownCurrencyPrefix) {
		return strings.TrimSuffix(policy.ReasonUnknownCurrencyPrefix, ":")
	}
	return reason
}

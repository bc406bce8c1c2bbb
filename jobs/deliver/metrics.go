package deliver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcomes of a message, as the metrics count them: its events but
// claimed, and "fenced" for an outcome that came after another dispatcher
// had taken the message over.
const (
	OutcomeSent        = "sent"
	OutcomeRetry       = "retry"
	OutcomeFailed      = "failed"
	OutcomeExpired     = "expired"
	OutcomeCancelled   = "cancelled"
	OutcomeRefused     = "refused"
	OutcomeUnknown     = "unknown"
	OutcomeDelivered   = "delivered"
	OutcomeUndelivered = "undelivered"
)

// Outcomes lists every outcome.
func Outcomes() []string {
	return []string{OutcomeSent, OutcomeRetry, OutcomeFailed, OutcomeExpired, OutcomeCancelled, OutcomeRefused,
		OutcomeUnknown, OutcomeDelivered, OutcomeUndelivered}
}

// Receipt results.
const (
	ReceiptRecorded     = "recorded"
	ReceiptDuplicate    = "duplicate"
	ReceiptNoSuchSend   = "unknown_message"
	ReceiptBadSignature = "bad_signature"
	ReceiptMalformed    = "malformed"
)

// Metrics are the sender's Prometheus series. Every label comes from a
// closed set: the configured providers' names (a provider the
// configuration does not name is "other"), the two channels, the outcomes.
type Metrics struct {
	Registry *prometheus.Registry

	providers   map[string]bool
	deliveries  *prometheus.CounterVec
	lag         prometheus.Histogram
	due         prometheus.Gauge
	oldestDue   prometheus.Gauge
	circuitOpen *prometheus.GaugeVec
	refused     prometheus.Counter
	fenced      prometheus.Counter
	receipts    *prometheus.CounterVec
	inFlight    *prometheus.GaugeVec
}

// NewMetrics registers the series for these providers and channels.
func NewMetrics(version string, providers []string, channels []string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loanremind_build_info",
		Help: "Always 1; the version label says which build runs."}, []string{"version"})
	m := &Metrics{
		Registry:  reg,
		providers: map[string]bool{},
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loanremind_deliveries_total",
			Help: "Delivery outcomes, by provider, channel and outcome (sent, retry, failed, expired, cancelled, refused, unknown, delivered, undelivered)."},
			[]string{"provider", "channel", "outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "loanremind_delivery_lag_seconds",
			Help:    "When a message was sent, after its scheduled_for.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}}),
		due: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_outbox_due",
			Help: "Messages due (scheduled_for passed, valid_until not) and not yet sent."}),
		oldestDue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loanremind_outbox_oldest_due_seconds",
			Help: "How long the oldest due, unsent message has been due (0: none)."}),
		circuitOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loanremind_provider_circuit_open",
			Help: "1 while a provider's circuit breaker is open: nothing is sent through it."}, []string{"provider"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "loanremind_delivery_refused_total",
			Help: "Messages refused because the audit chain does not vouch for them as they stand: someone wrote to the outbox behind the job's back."}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "loanremind_delivery_fenced_total",
			Help: "Outcomes not recorded because another dispatcher had taken the message over after this one's lease ran out."}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loanremind_receipts_total",
			Help: "Delivery receipts, by provider and result (recorded, duplicate, unknown_message, bad_signature, malformed)."},
			[]string{"provider", "result"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loanremind_delivery_claimed",
			Help: "Messages this dispatcher holds for a provider: claimed, in flight, or awaiting their record."}, []string{"provider"}),
	}
	reg.MustRegister(build, m.deliveries, m.lag, m.due, m.oldestDue, m.circuitOpen, m.refused, m.fenced, m.receipts, m.inFlight)
	build.WithLabelValues(version).Set(1)
	for _, p := range providers {
		m.providers[p] = true
		m.circuitOpen.WithLabelValues(p).Set(0)
		m.inFlight.WithLabelValues(p).Set(0)
		for _, ch := range channels {
			for _, o := range Outcomes() {
				m.deliveries.WithLabelValues(p, ch, o)
			}
		}
		for _, r := range []string{ReceiptRecorded, ReceiptDuplicate, ReceiptNoSuchSend, ReceiptBadSignature, ReceiptMalformed} {
			m.receipts.WithLabelValues(p, r)
		}
	}
	return m
}

// provider is a provider's label: its configured name, or "other".
func (m *Metrics) provider(name string) string {
	if m.providers[name] {
		return name
	}
	return "other"
}

func channelLabel(ch string) string {
	if ch == "sms" || ch == "email" {
		return ch
	}
	return "other"
}

func (m *Metrics) outcome(provider, channel, outcome string) {
	m.deliveries.WithLabelValues(m.provider(provider), channelLabel(channel), outcome).Inc()
	if outcome == OutcomeRefused {
		m.refused.Inc()
	}
}

// Receipt counts a receipt by its result; the receipt endpoints count
// what they reject (a bad signature, a body that does not parse) here.
func (m *Metrics) Receipt(provider, result string) {
	m.receipts.WithLabelValues(m.provider(provider), result).Inc()
}

func (m *Metrics) sentLag(lag time.Duration) { m.lag.Observe(max(lag, 0).Seconds()) }

func (m *Metrics) outbox(due int64, oldest time.Time, now time.Time) {
	m.due.Set(float64(due))
	if oldest.IsZero() {
		m.oldestDue.Set(0)
	} else {
		m.oldestDue.Set(max(now.Sub(oldest), 0).Seconds())
	}
}

func (m *Metrics) circuit(provider string, open bool) {
	v := 0.0
	if open {
		v = 1
	}
	m.circuitOpen.WithLabelValues(m.provider(provider)).Set(v)
}

package serve

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/loanremind/loanremind/jobs"
)

// A finished run moves the series of its status; a dry run moves none.
func TestMetricsObserve(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		status      jobs.Status
		runs        float64 // loanremind_runs_total{status}
		lastRun     float64
		lastSuccess float64
		candidates  float64 // loanremind_last_run_candidates
	}{
		{jobs.StatusSucceeded, 1, 1_800_000_000, 1_800_000_000, 7},
		{jobs.StatusFailed, 1, 1_800_000_000, 0, 7},
		{jobs.StatusSkipped, 1, 1_800_000_000, 1_800_000_000, 0},
		{jobs.StatusDryRun, 0, 0, 0, 0},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			m := NewMetrics("test", false)
			m.Observe(&jobs.Result{Status: tc.status, Candidates: 7, Reasons: []jobs.ReasonCount{
				{Decision: "queued", Count: 5}, {Decision: "suppressed", Reason: "opted_out", Count: 2}}}, now)
			if tc.status != jobs.StatusDryRun {
				if got := value(t, m.runs.WithLabelValues(string(tc.status))); got != tc.runs {
					t.Errorf("runs{%s} = %v, want %v", tc.status, got, tc.runs)
				}
			}
			for name, c := range map[string]struct{ got, want float64 }{
				"last run":        {value(t, m.lastRun), tc.lastRun},
				"last success":    {value(t, m.lastSuccess), tc.lastSuccess},
				"last candidates": {value(t, m.lastCandidate), tc.candidates},
			} {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", name, c.got, c.want)
				}
			}
		})
	}
}

// /healthz answers ok with the last run's id and status.
func TestHealthz(t *testing.T) {
	t.Parallel()
	s := &Server{Metrics: NewMetrics("test", false), last: &jobs.Result{RunID: 42, Status: jobs.StatusSucceeded},
		lastTime: time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)}
	rec := httptest.NewRecorder()
	s.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	var body struct {
		Status  string
		Running bool
		LastRun struct {
			ID      int64
			Status  string
			EndedAt string `json:"ended_at"`
		} `json:"last_run"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if body.Status != "ok" || body.Running || body.LastRun.ID != 42 || body.LastRun.Status != "succeeded" || body.LastRun.EndedAt != "2026-11-28T02:00:00Z" {
		t.Errorf("/healthz: %s", rec.Body)
	}
}

// value reads a gauge's or a counter's value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if g := d.GetGauge(); g != nil {
		return g.GetValue()
	}
	return d.GetCounter().GetValue()
}

// The skipped runs in a row show as a gauge, which a run that was not
// skipped sets back to 0.
func TestConsecutiveSkippedRuns(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test", false)
	now := time.Unix(1_800_000_000, 0)
	m.Observe(&jobs.Result{Status: jobs.StatusSkipped, ConsecutiveSkipped: 3}, now)
	if got := value(t, m.skippedInRow); got != 3 {
		t.Errorf("loanremind_consecutive_skipped_runs = %v after the third skipped run, want 3", got)
	}
	m.Observe(&jobs.Result{Status: jobs.StatusSucceeded}, now)
	if got := value(t, m.skippedInRow); got != 0 {
		t.Errorf("loanremind_consecutive_skipped_runs = %v after a run, want 0", got)
	}
}

// A reason that names a lender's value makes no series of its own.
func TestReasonLabelsAreBounded(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test", false)
	m.Observe(&jobs.Result{Status: jobs.StatusSucceeded, Reasons: []jobs.ReasonCount{
		{Decision: "skipped", Reason: "unknown_currency:ABC", Count: 1}, {Decision: "skipped", Reason: "unknown_currency:ABD", Count: 2},
		{Decision: "suppressed", Reason: "loan_status:other", Count: 3}}}, time.Unix(1_800_000_000, 0))
	if got := value(t, m.decisions.WithLabelValues("skipped", "unknown_currency")); got != 3 {
		t.Errorf("decisions{skipped, unknown_currency} = %v, want 3", got)
	}
	if n := testutil.CollectAndCount(m.decisions); n != 5+2 {
		t.Errorf("%d decision series, want the 5 decisions' own and 2", n)
	}
}

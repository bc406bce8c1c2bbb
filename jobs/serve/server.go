// Package serve runs the job as a long-running process: an in-process cron
// schedule that starts one run at a time through the jobs.Runner, a graceful
// stop on SIGTERM, and /healthz and /metrics over HTTP. Metrics are the
// loanremind_* Prometheus series, which one-shot commands push to a
// Pushgateway instead.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs"
)

// Server runs the job on a cron schedule in-process, one run at a time, and
// serves /healthz and /metrics.
type Server struct {
	Runner   *jobs.Runner
	Schedule cron.Schedule
	Listen   string
	Metrics  *Metrics
	Log      *logrus.Entry
	// Request makes the request of a scheduled run.
	Request func() jobs.Request
	// GracePeriod bounds how long a stop waits for the running batch.
	GracePeriod time.Duration
	// Ready, if set, is called with the address once it listens.
	Ready func(addr string)

	running  atomic.Bool
	mu       sync.Mutex
	last     *jobs.Result
	lastTime time.Time
}

// Serve runs until ctx is done (SIGTERM or SIGINT), then lets the running
// batch commit or roll back within the grace period and returns nil.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Listen, err)
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	s.Log.WithField("addr", ln.Addr().String()).Info("serving /healthz and /metrics")
	if s.Ready != nil {
		s.Ready(ln.Addr().String())
	}

	logger := cronLogger{s.Log}
	c := cron.New(cron.WithLogger(logger), cron.WithChain(cron.Recover(logger)))
	c.Schedule(s.Schedule, cron.FuncJob(func() { s.tick(ctx) }))
	c.Start()
	s.Log.WithField("next", c.Entries()[0].Next.Format(time.RFC3339)).Info("scheduler started")

	<-ctx.Done()
	s.Log.Info("stop requested: waiting for the running batch")
	stopped := c.Stop()
	select {
	case <-stopped.Done():
	case <-time.After(s.GracePeriod + 5*time.Second):
		s.Log.Warn("the running batch did not end within the grace period")
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.Log.Info("stopped")
	return nil
}

// tick runs the job unless a run is still in progress: a late tick is
// skipped and logged, never queued up.
func (s *Server) tick(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if !s.running.CompareAndSwap(false, true) {
		s.Metrics.SkippedTick()
		s.Log.Warn("schedule tick skipped: the previous run is still in progress")
		return
	}
	defer s.running.Store(false)
	s.Metrics.Running(true)
	defer s.Metrics.Running(false)
	res, err := s.Runner.Run(ctx, s.Request())
	s.mu.Lock()
	s.last, s.lastTime = res, s.Runner.Now()
	s.mu.Unlock()
	if err != nil && !errors.Is(err, jobs.ErrInterrupted) {
		s.Log.WithError(err).Error("scheduled run failed; the next tick tries again")
	}
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body := map[string]any{"status": "ok", "running": s.running.Load()}
		if s.last != nil {
			body["last_run"] = map[string]any{"id": s.last.RunID, "status": s.last.Status, "ended_at": s.lastTime.UTC().Format(time.RFC3339)}
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	})
	return mux
}

// cronLogger adapts robfig/cron's logger to logrus.
type cronLogger struct{ log *logrus.Entry }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.WithFields(fields(kv)).Debug("cron: " + msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.WithFields(fields(kv)).WithError(err).Error("cron: " + msg)
}

func fields(kv []any) logrus.Fields {
	f := logrus.Fields{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return f
}

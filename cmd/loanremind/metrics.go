package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/serve"
)

// runMetrics collects a one-shot command's metrics and pushes them to the
// Pushgateway, if one is configured, under job "loanremind".
type runMetrics struct {
	s       *setup
	m       *serve.Metrics
	command string
	shard   string
}

func newRunMetrics(s *setup, command string) *runMetrics {
	return &runMetrics{s: s, m: serve.NewMetrics(buildVersion(), false), command: command}
}

func (r *runMetrics) observe(res *jobs.Result) {
	r.m.Observe(res, time.Now())
	r.shard = res.Shard.String()
}

// push sends the metrics; a failed push is logged and does not fail the run.
func (r *runMetrics) push(ctx context.Context) {
	url := r.s.cfg.Metrics.Pushgateway
	if url == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	p := push.New(url, "loanremind").Gatherer(r.m.Registry).Grouping("command", r.command)
	if r.shard != "" {
		p = p.Grouping("shard", r.shard)
	}
	if err := p.PushContext(ctx); err != nil {
		r.s.log.WithError(err).Warn("could not push metrics to the Pushgateway; the run itself is unaffected")
	}
}

package main

import (
	"context"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/serve"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [--listen ADDR] [--shard I/N]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	listen := fs.String("listen", "", "`address` of /healthz and /metrics (default: serve.listen, :9090)")
	shardFlag := fs.String("shard", "", "this process's part of the borrowers, `I/N`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	shard, err := shardFrom(*shardFlag, e.getenv)
	if err != nil {
		return err
	}
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	if *listen != "" {
		s.cfg.Serve.Listen = *listen
	}
	schedule, err := config.ParseSchedule(s.cfg.Schedule)
	if err != nil {
		return configErrorf("schedule: %v", err)
	}
	runner, closeDB, err := s.newRunner(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer closeDB()
	metrics := serve.NewMetrics(buildVersion(), true)
	runner.Observe = func(res *jobs.Result) { metrics.Observe(res, runner.Now()) }
	actor := systemActor(e.getenv)
	srv := &serve.Server{
		Runner:      runner,
		Schedule:    schedule,
		Listen:      s.cfg.Serve.Listen,
		Metrics:     metrics,
		Log:         logrus.NewEntry(s.log).WithField("schedule", s.cfg.Schedule),
		GracePeriod: s.cfg.Serve.GracePeriod.Std(),
		Request: func() jobs.Request {
			return jobs.Request{Mode: jobs.ModeScheduled, Shard: shard, Actor: actor}
		},
	}
	return srv.Serve(ctx)
}

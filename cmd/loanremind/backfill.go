package main

import (
	"context"
	"fmt"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/civil"
)

func runBackfill(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "backfill", "backfill --from DATE --to DATE --actor NAME --reason TEXT [--dry-run] [--send-late] [--shard I/N]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	from := fs.String("from", "", "first business `date` (YYYY-MM-DD)")
	to := fs.String("to", "", "last business `date` (YYYY-MM-DD), inclusive")
	dryRun := fs.Bool("dry-run", false, "compute everything, write nothing")
	sendLate := fs.Bool("send-late", false, "send reminders whose validity has passed, instead of recording them expired")
	shardFlag := fs.String("shard", "", "this run's part of the borrowers, `I/N` (default from JOB_COMPLETION_INDEX and LOANREMIND_SHARD_COUNT)")
	actor := fs.String("actor", "", "who runs the backfill (required)")
	reason := fs.String("reason", "", "why (required), e.g. the incident it repairs")
	push := fs.String("pushgateway", "", "Prometheus Pushgateway `URL` (env LOANREMIND_PUSHGATEWAY)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageErrorf("backfill needs --from and --to")
	}
	if *actor == "" || *reason == "" {
		return usageErrorf("backfill needs --actor and --reason: the run records say who backfilled and why")
	}
	req := jobs.BackfillRequest{DryRun: *dryRun, SendLate: *sendLate, Actor: *actor, Reason: *reason}
	var err error
	if req.From, err = civil.ParseDate(*from); err != nil {
		return usageErrorf("--from: %v", err)
	}
	if req.To, err = civil.ParseDate(*to); err != nil {
		return usageErrorf("--to: %v", err)
	}
	if req.To < req.From {
		return usageErrorf("--to %s is before --from %s", req.To, req.From)
	}
	if req.Shard, err = shardFrom(*shardFlag, e.getenv); err != nil {
		return err
	}
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	if *push != "" {
		s.cfg.Metrics.Pushgateway = *push
	}
	if req.Schedule, err = config.ParseSchedule(s.cfg.Schedule); err != nil {
		return configErrorf("schedule: %v", err)
	}
	runner, closeDB, err := s.newRunner(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer closeDB()
	m := newRunMetrics(s, "backfill")
	runner.Observe = m.observe
	results, err := runner.Backfill(ctx, req)
	m.push(ctx)
	for _, res := range results {
		printResult(e.stdout, res)
		fmt.Fprintln(e.stdout)
	}
	if n := len(results); n > 0 && results[n-1].Status == jobs.StatusSkipped {
		fmt.Fprintln(e.stdout, "backfill stopped: another backfill of this shard is running")
	}
	return err
}

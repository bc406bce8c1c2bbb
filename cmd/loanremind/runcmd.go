package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs"
)

func runRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", "run [--as-of RFC3339] [--dry-run] [--shard I/N] [--actor NAME --reason TEXT]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	asOf := fs.String("as-of", "", "run as if at this `instant` (RFC 3339; default: now)")
	dryRun := fs.Bool("dry-run", false, "compute everything, write nothing, print what would happen")
	shardFlag := fs.String("shard", "", "this run's part of the borrowers, `I/N` (default from JOB_COMPLETION_INDEX and LOANREMIND_SHARD_COUNT)")
	actor := fs.String("actor", "", "who runs it by hand (a manual run; needs --reason)")
	reason := fs.String("reason", "", "why it is run by hand")
	push := fs.String("pushgateway", "", "Prometheus Pushgateway `URL` for this run's metrics (env LOANREMIND_PUSHGATEWAY)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	req := jobs.Request{Mode: jobs.ModeScheduled, DryRun: *dryRun}
	if *asOf != "" {
		t, err := time.Parse(time.RFC3339Nano, *asOf)
		if err != nil {
			return usageErrorf("--as-of %q: want RFC 3339, e.g. 2026-11-28T09:00:00+08:00", *asOf)
		}
		req.AsOf = t
	}
	shard, err := shardFrom(*shardFlag, e.getenv)
	if err != nil {
		return err
	}
	req.Shard = shard
	if *actor != "" || *reason != "" {
		if *actor == "" || *reason == "" {
			return usageErrorf("--actor and --reason go together: a manual run records who ran it and why")
		}
		req.Mode, req.Actor, req.Reason = jobs.ModeManual, *actor, *reason
	} else {
		req.Actor = systemActor(e.getenv)
	}
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	if *push != "" {
		s.cfg.Metrics.Pushgateway = *push
	}
	runner, closeDB, err := s.newRunner(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer closeDB()
	m := newRunMetrics(s, "run")
	runner.Observe = m.observe
	res, err := runner.Run(ctx, req)
	m.push(ctx)
	printResult(e.stdout, res)
	return err
}

// shardFrom reads --shard, or JOB_COMPLETION_INDEX with
// LOANREMIND_SHARD_COUNT (a Kubernetes Indexed Job), or 0/1.
func shardFrom(flagValue string, getenv func(string) string) (jobs.Shard, error) {
	if flagValue != "" {
		s, err := jobs.ParseShard(flagValue)
		if err != nil {
			return s, usageErrorf("--shard: %v", err)
		}
		return s, nil
	}
	countText := getenv("LOANREMIND_SHARD_COUNT")
	if countText == "" {
		return jobs.Shard{Index: 0, Count: 1}, nil
	}
	count, err := strconv.Atoi(countText)
	if err != nil || count < 1 {
		return jobs.Shard{}, usageErrorf("LOANREMIND_SHARD_COUNT %q: want a positive number", countText)
	}
	index := 0
	if v := getenv("JOB_COMPLETION_INDEX"); v != "" {
		if index, err = strconv.Atoi(v); err != nil {
			return jobs.Shard{}, usageErrorf("JOB_COMPLETION_INDEX %q: want a number", v)
		}
	}
	s, err := jobs.ParseShard(strconv.Itoa(index) + "/" + strconv.Itoa(count))
	if err != nil {
		return s, usageErrorf("JOB_COMPLETION_INDEX/LOANREMIND_SHARD_COUNT: %v", err)
	}
	return s, nil
}

// systemActor names the scheduler that started a scheduled run.
func systemActor(getenv func(string) string) string {
	for _, k := range []string{"LOANREMIND_ACTOR", "POD_NAME", "HOSTNAME"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return "system:" + v
		}
	}
	if h, err := os.Hostname(); err == nil {
		return "system:" + h
	}
	return "system"
}

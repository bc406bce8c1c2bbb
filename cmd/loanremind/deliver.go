package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/deliver"
)

func runDeliver(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "deliver", "deliver [--once] [--shard I/N] [--listen ADDR]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	once := fs.Bool("once", false, "deliver what is due now, wait for the outcomes (retries included), then exit")
	shardFlag := fs.String("shard", "", "this dispatcher's part of the borrowers, `I/N` (default from JOB_COMPLETION_INDEX and LOANREMIND_SHARD_COUNT)")
	listen := fs.String("listen", "", "`address` of /metrics, /healthz and the receipt endpoints (default: delivery.listen)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	shard, err := shardFrom(*shardFlag, e.getenv)
	if err != nil {
		return err
	}
	// Everything that can be wrong with the configuration is found here,
	// before the database is opened: exit 2, nothing written.
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	if len(s.cfg.Delivery.Routes) == 0 {
		return configErrorf("delivery.routes: no route: configure a provider for sms or email (see config/loanremind.example.yaml)")
	}
	if *listen != "" {
		s.cfg.Delivery.Listen = *listen
	}
	providers, err := buildProviders(s.cfg, e.getenv)
	if err != nil {
		return err
	}
	defer providers.close()
	dcfg := deliveryConfig(s, providers, shard)
	names := make([]string, 0, len(providers.list))
	for _, p := range providers.list {
		names = append(names, p.Provider.Name())
	}
	if err := deliver.CheckConfig(dcfg); err != nil {
		return configErrorf("%v", err)
	}
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	metrics := deliver.NewMetrics(buildVersion(), names, []string{"sms", "email"})
	d, err := deliver.New(db.DB, dcfg, logrus.NewEntry(s.log), nil, metrics)
	if err != nil {
		return configErrorf("%v", err)
	}
	// The receipt endpoints check their own keys: still before any write.
	mount, err := receiptRoutes(s.cfg, providers, d, metrics, e.getenv)
	if err != nil {
		return err
	}
	if *once {
		err := d.RunOnce(ctx)
		printDeliveryTotals(e.stdout, d.Totals())
		return err
	}
	return d.Serve(ctx, s.cfg.Delivery.Listen, d.Handler(mount), nil)
}

// deliveryConfig turns the configuration into the dispatcher's own.
func deliveryConfig(s *setup, providers *builtProviders, shard jobs.Shard) deliver.Config {
	dc := &s.cfg.Delivery
	host, _ := os.Hostname()
	region := s.cfg.DefaultPhoneRegion
	return deliver.Config{
		Providers:        providers.list,
		Routes:           dc.Routes,
		ShardIndex:       shard.Index,
		ShardCount:       shard.Count,
		Lease:            dc.Lease.Std(),
		ClaimBatch:       dc.ClaimBatch,
		PollInterval:     dc.PollInterval.Std(),
		RetryInitial:     dc.Retry.Initial.Std(),
		RetryMax:         dc.Retry.Max.Std(),
		BreakerFailures:  dc.CircuitBreaker.Failures,
		BreakerCooldown:  dc.CircuitBreaker.Cooldown.Std(),
		GracePeriod:      dc.GracePeriod.Std(),
		LockTimeout:      s.cfg.LockTimeout.Std(),
		StatementTimeout: s.cfg.StatementTimeout.Std(),
		Host:             host,
		Version:          buildVersion(),
		NormalizePhone:   func(raw, borrowerRegion string) string { return jobs.NormalizePhone(raw, borrowerRegion, region) },
	}
}

// printDeliveryTotals reports what a one-shot delivery did.
func printDeliveryTotals(w io.Writer, t map[string]int64) {
	fmt.Fprintf(w, "delivered at %s: sent %d, retried %d, failed %d, expired %d, cancelled %d, refused %d, unknown %d\n",
		time.Now().UTC().Format(time.RFC3339), t[deliver.OutcomeSent], t[deliver.OutcomeRetry], t[deliver.OutcomeFailed],
		t[deliver.OutcomeExpired], t[deliver.OutcomeCancelled], t[deliver.OutcomeRefused], t[deliver.OutcomeUnknown])
}

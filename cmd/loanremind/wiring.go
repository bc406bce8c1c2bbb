package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/jobs/render"
)

// devHMACKey keys contact hashes when no key is configured: fine for demos
// and tests, useless as protection, and the job says so at start.
const devHMACKey = "loanremind-development-key-do-not-use-in-production"

// contactHasher keys the hashes of contact addresses in audit details.
func contactHasher(cfg *config.Config) *pii.Hasher {
	key := cfg.Audit.HMACKey
	if key == "" {
		key = devHMACKey
	}
	return pii.NewHasher([]byte(key))
}

// setup is what most commands need: the configuration, the jobs config
// built from it, the logger and the database.
type setup struct {
	cfg  *config.Config
	jobs jobs.Config
	log  *logrus.Logger
}

// loadSetup loads and validates the configuration and everything derived
// from it (policy, templates) before any database write: every error here
// is a configuration error (exit 2).
func loadSetup(e *env, configPath string) (*setup, error) {
	cfg, err := config.Load(configPath, e.getenv)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(e.stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return nil, err
	}
	jc, err := jobsConfig(cfg, configPath)
	if err != nil {
		return nil, err
	}
	for _, w := range jc.Renderer.Warnings() {
		log.Warn("template: " + w)
	}
	setMemoryLimit(e, cfg.BatchSize)
	if cfg.Audit.HMACKey == "" {
		log.Warn("no audit HMAC key configured (LOANREMIND_AUDIT_HMAC_KEY or audit.hmac_key_file): contact hashes use the built-in development key")
	}
	return &setup{cfg: cfg, jobs: jc, log: log}, nil
}

// setMemoryLimit sets a soft memory limit sized to the batch: the job
// holds a few batches at a time (about 45 MiB live at the default 5,000
// borrowers), and the limit keeps the heap from doubling past that between
// collections, so the process fits a small container. A lower limit makes
// the runtime collect and return memory to the system more often: at 96
// MiB that cost a 1,000,000-borrower run about a second of CPU more than at
// 120 MiB (measured with make bench). GOMEMLIMIT overrides it.
func setMemoryLimit(e *env, batchSize int) {
	if e.getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(120<<20) * int64(batchSize) / 5000
	debug.SetMemoryLimit(max(limit, 64<<20))
}

// streamingMemoryLimit is the heap a streaming command (audit verify,
// audit export) lets grow before collecting.
const streamingMemoryLimit = 64 << 20

// collectAtLimit makes the garbage collector run only as the heap nears
// limit, unless GOGC or GOMEMLIMIT say otherwise. A streaming command keeps
// a few MiB live and allocates a little for every row: collecting at each
// doubling of so small a heap cost audit verify a fifth of its CPU
// (measured on 296,440 rows).
func collectAtLimit(e *env, limit int64) {
	if e.getenv("GOGC") != "" || e.getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(limit)
}

// jobsConfig turns the configuration into the pipeline's own config.
func jobsConfig(cfg *config.Config, configPath string) (jobs.Config, error) {
	pc, err := policyConfig(cfg)
	if err != nil {
		return jobs.Config{}, err
	}
	engine, err := newRenderer(cfg, pc.Stages)
	if err != nil {
		return jobs.Config{}, err
	}
	host, _ := os.Hostname()
	return jobs.Config{
		Policy:             pc,
		Renderer:           engine,
		Hasher:             contactHasher(cfg),
		BatchSize:          cfg.BatchSize,
		DefaultPhoneRegion: cfg.DefaultPhoneRegion,
		LockTimeout:        cfg.LockTimeout.Std(),
		LockKey:            int32(cfg.LockKey),
		StatementTimeout:   cfg.StatementTimeout.Std(),
		GracePeriod:        cfg.Serve.GracePeriod.Std(),
		ConfigSHA256:       cfg.SHA256(),
		PolicySHA256:       cfg.PolicySHA256(engine.SHA256()),
		TemplatesSHA256:    engine.SHA256(),
		Version:            buildVersion(),
		Host:               host,
		Samples:            5,
		MaxSMSSegments:     cfg.Channels.SMS.MaxSegments,
	}, nil
}

// policyConfig converts the policy keys. The configuration was validated;
// the policy validates its own invariants once more.
func policyConfig(cfg *config.Config) (policy.Config, error) {
	bz, err := time.LoadLocation(cfg.BusinessTimeZone)
	if err != nil {
		return policy.Config{}, configErrorf("business_time_zone: %v", err)
	}
	dz, err := time.LoadLocation(cfg.DefaultTimeZone)
	if err != nil {
		return policy.Config{}, configErrorf("default_time_zone: %v", err)
	}
	pc := policy.Config{
		Stages:        cfg.PolicyStages(),
		BusinessZone:  bz,
		DefaultZone:   dz,
		Allowed:       windows(cfg.ContactWindows),
		Regions:       map[string]policy.Region{},
		MinSendWindow: cfg.MinSendWindow.Std(),
		MaxPhoneZones: cfg.MaxPhoneZones,
		LateValidity:  cfg.LateValidity.Std(),
	}
	for code, r := range cfg.Regions {
		rg := policy.Region{Zones: r.TimeZones, Allowed: windows(r.ContactWindows)}
		for _, h := range r.Holidays {
			d, err := civil.ParseDate(h)
			if err != nil {
				return policy.Config{}, configErrorf("regions[%q].holidays: %v", code, err)
			}
			rg.Holidays = append(rg.Holidays, d)
		}
		pc.Regions[code] = rg
	}
	for _, c := range cfg.FrequencyCaps {
		cp := policy.Cap{Max: c.Max, Per: c.Per.Std()}
		for _, ch := range c.Channels {
			cp.Channels = append(cp.Channels, policy.Channel(ch))
		}
		pc.Caps = append(pc.Caps, cp)
	}
	if err := pc.Validate(); err != nil {
		return policy.Config{}, configErrorf("%v", err)
	}
	return pc, nil
}

func windows(ws []config.Window) []policy.Window {
	if ws == nil {
		return nil
	}
	out := make([]policy.Window, len(ws))
	for i, w := range ws {
		out[i] = policy.Window{Days: policy.Weekdays(w.Days), From: policy.Clock(w.From), To: policy.Clock(w.To)}
	}
	return out
}

// newRenderer loads and checks the templates: every stage, channel and
// locale renders once against sample data, so a broken template fails here.
func newRenderer(cfg *config.Config, stages policy.Stages) (*render.Engine, error) {
	var fsys fs.FS = config.DefaultTemplates()
	if cfg.Templates.Dir != "" {
		fsys = os.DirFS(cfg.Templates.Dir)
	}
	opts := render.Options{
		DefaultLocale:  cfg.Templates.DefaultLocale,
		Signature:      cfg.Signature,
		OptOut:         map[string]map[string]string{"sms": cfg.Channels.SMS.OptOut, "email": cfg.Channels.Email.OptOut},
		MaxSMSSegments: cfg.Channels.SMS.MaxSegments,
		MaxBytes:       map[string]int{"sms": cfg.Channels.SMS.MaxBytes, "email": cfg.Channels.Email.MaxBytes},
		AllowLinks:     cfg.Templates.AllowLinks,
		Approved:       cfg.Templates.Approved,
	}
	used := map[string]bool{}
	for _, s := range stages {
		opts.Stages = append(opts.Stages, s.Name)
		for _, ch := range append(append([]policy.Channel(nil), s.Channels...), s.Fallback) {
			if ch != "" && !used[string(ch)] {
				used[string(ch)] = true
				opts.Channels = append(opts.Channels, string(ch))
			}
		}
	}
	for loc := range cfg.Signature {
		opts.Locales = append(opts.Locales, loc)
	}
	engine, err := render.New(fsys, opts)
	if err != nil {
		problems := []string{fmt.Sprintf("templates: %v", err)}
		if errors.Is(err, render.ErrSMSBudget) {
			problems = append(problems, fmt.Sprintf("channels.sms.max_segments: %d: the SMS templates named above can exceed it; shorten them or raise it",
				cfg.Channels.SMS.MaxSegments))
		}
		return nil, &config.Error{Problems: problems}
	}
	return engine, nil
}

func configErrorf(format string, args ...any) error {
	return &config.Error{Problems: []string{fmt.Sprintf(format, args...)}}
}

// newRunner connects the pipeline to the database.
func (s *setup) newRunner(ctx context.Context, dbURL string) (*jobs.Runner, func(), error) {
	db, err := openDB(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	r := &jobs.Runner{DB: db, Log: logrus.NewEntry(s.log), Config: s.jobs, Now: time.Now}
	return r, func() { db.Close() }, nil
}

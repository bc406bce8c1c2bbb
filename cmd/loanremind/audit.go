package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/queries"
)

func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageErrorf("audit: want a subcommand: export, verify or prune")
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, e, args[1:])
	case "export":
		return runAuditExport(ctx, e, args[1:])
	case "prune":
		return runAuditPrune(ctx, e, args[1:])
	}
	return usageErrorf("audit: unknown subcommand %q: want export, verify or prune", args[0])
}

// anchorsFlag collects repeated ID:HASH values (see parseAnchor) as
// anchors of one kind.
type anchorsFlag[T any] struct {
	list *[]T
	want string // what a value is, for the error
	make func(id int64, hash string) T
}

func (a anchorsFlag[T]) String() string {
	if a.list == nil || len(*a.list) == 0 {
		return ""
	}
	return fmt.Sprintf("%d anchor(s)", len(*a.list))
}

func (a anchorsFlag[T]) Set(v string) error {
	id, hash, err := parseAnchor(v, a.want)
	if err != nil {
		return err
	}
	*a.list = append(*a.list, a.make(id, hash))
	return nil
}

// parseAnchor reads ID:HASH: a positive id and a SHA-256 in hex.
func parseAnchor(v, want string) (int64, string, error) {
	idText, hash, ok := strings.Cut(v, ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id <= 0 {
		return 0, "", fmt.Errorf("%q is not %s", v, want)
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return 0, "", fmt.Errorf("%q: the hash is not a SHA-256 in hex (64 characters)", v)
	}
	return id, strings.ToLower(hash), nil
}

// errAuditBroken makes verify exit 1.
type errAuditBroken struct{ n int }

func (e errAuditBroken) Error() string {
	return fmt.Sprintf("audit trail verification failed: %d problem(s)", e.n)
}

func runAuditVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit verify", "audit verify [--from DATE --to DATE] [--run ID] [--anchor RUN:HEAD ...] [--event-anchor EVENT:HASH ...] [--workers N]")
	dbURL := addDatabaseFlag(fs, e)
	from := fs.String("from", "", "first business `date` of the runs to verify")
	to := fs.String("to", "", "last business `date` of the runs to verify")
	runID := fs.Int64("run", 0, "verify only this run `id`")
	workers := fs.Int("workers", 0, "chains walked at once, each on its own connection (0: one for every two cores, for a server on this machine)")
	var anchors []audit.Anchor
	fs.Var(anchorsFlag[audit.Anchor]{&anchors, "RUN:HEAD (a run id, a colon and the run's audit_head)",
		func(id int64, head string) audit.Anchor { return audit.Anchor{RunID: id, Head: head} }}, "anchor", "a run's chain head kept outside the database, from its last log line or report (`RUN:HEAD`, repeatable): the run must still be there with that head")
	var eventAnchors []audit.EventAnchor
	fs.Var(anchorsFlag[audit.EventAnchor]{&eventAnchors, "EVENT:HASH (an event id, a colon and the event's hash)",
		func(id int64, hash string) audit.EventAnchor { return audit.EventAnchor{EventID: id, Hash: hash} }}, "event-anchor", "an administrative event's hash kept outside the database, as audit prune and audit export --unmasked print it (`EVENT:HASH`, repeatable): the event must still be there with that hash")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *workers < 0 {
		return usageErrorf("audit verify: --workers %d: want 0 (automatic) or more", *workers)
	}
	for _, d := range []*string{from, to} {
		if *d != "" {
			if _, err := civil.ParseDate(*d); err != nil {
				return usageErrorf("audit verify: %v", err)
			}
		}
	}
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	collectAtLimit(e, streamingMemoryLimit)
	start := time.Now()
	rep, err := audit.Verify(ctx, db, audit.VerifyFilter{RunID: *runID, From: *from, To: *to, Anchors: anchors, EventAnchors: eventAnchors, Workers: *workers})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	rate := float64(rep.Rows) / max(elapsed.Seconds(), 1e-9)
	if rep.OK() {
		fmt.Fprintf(e.stdout, "audit trail intact: %d runs, %d audit rows, %d events verified in %s (%.0f rows/s)\n",
			rep.Runs, rep.Rows, rep.Events, elapsed.Round(time.Millisecond), rate)
		if rep.DeliverySessions > 0 {
			fmt.Fprintf(e.stdout, "delivery trail intact: %d sessions, %d delivery events\n", rep.DeliverySessions, rep.Deliveries)
		}
		if rep.Anchors+rep.EventAnchors > 0 {
			fmt.Fprintf(e.stdout, "anchored: %d run(s) and %d event(s) still there with the hashes kept outside the database\n", rep.Anchors, rep.EventAnchors)
		}
		return nil
	}
	fmt.Fprintf(e.stdout, "AUDIT TRAIL BROKEN: %d problem(s) in %d runs, %d audit rows, %d events\n", len(rep.Problems), rep.Runs, rep.Rows, rep.Events)
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "  %s\n", p)
	}
	return errAuditBroken{len(rep.Problems)}
}

func runAuditExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit export", "audit export --from DATE --to DATE [--borrower ID] [--loan ID] [--installment ID] [--run ID] [--decision D] [--contact ADDRESS] --format csv|json [--unmasked --actor NAME]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	from := fs.String("from", "", "first `date` of the decisions (business time zone)")
	to := fs.String("to", "", "last `date` of the decisions, inclusive")
	var f queries.ExportFilter
	fs.Int64Var(&f.BorrowerID, "borrower", 0, "only this borrower `id`")
	fs.Int64Var(&f.LoanID, "loan", 0, "only this loan `id`")
	fs.Int64Var(&f.InstallmentID, "installment", 0, "only this installment `id`")
	fs.Int64Var(&f.RunID, "run", 0, "only this run `id`")
	fs.StringVar(&f.Decision, "decision", "", "only this decision (queued, deferred, suppressed, skipped, expired)")
	contact := fs.String("contact", "", "only the decisions about this phone number (international, or national for default_phone_region) or email `address`, found by its keyed hash: the audit does not store it")
	format := fs.String("format", "csv", "csv or json (one object per line)")
	unmasked := fs.Bool("unmasked", false, "full phone numbers, emails and account references (recorded as an audit event)")
	actor := fs.String("actor", "", "who exports (required with --unmasked)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageErrorf("audit export needs --from and --to")
	}
	if *format != "csv" && *format != "json" {
		return usageErrorf("--format %q: want csv or json", *format)
	}
	switch f.Decision {
	case "", "queued", "deferred", "suppressed", "skipped", "expired":
	default:
		return usageErrorf("--decision %q: want queued, deferred, suppressed, skipped or expired", f.Decision)
	}
	if *unmasked && *actor == "" {
		return usageErrorf("--unmasked needs --actor: an unmasked export is recorded with who made it")
	}
	cfg, err := config.Load(*cf, e.getenv)
	if err != nil {
		return err
	}
	bz, _ := time.LoadLocation(cfg.BusinessTimeZone)
	fd, err := civil.ParseDate(*from)
	if err != nil {
		return usageErrorf("--from: %v", err)
	}
	td, err := civil.ParseDate(*to)
	if err != nil {
		return usageErrorf("--to: %v", err)
	}
	if td < fd {
		return usageErrorf("--to %s is before --from %s", *to, *from)
	}
	f.From, f.To = fd.Time(bz), td.AddDays(1).Time(bz)
	if *contact != "" {
		if strings.TrimSpace(*contact) == "" {
			return usageErrorf("--contact: the address is blank")
		}
		if cfg.Audit.HMACKey == "" {
			fmt.Fprintln(e.stderr, "warning: no audit HMAC key configured: looking the contact up under the built-in development key, which only runs without a key used")
		}
		f.ContactHashes = jobs.ContactHashes(contactHasher(cfg), *contact, cfg.DefaultPhoneRegion)
	}
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	collectAtLimit(e, streamingMemoryLimit)
	if *unmasked {
		// Where it was made from, too (PCI DSS 10.2.2: origination).
		host, _ := os.Hostname()
		details := (&audit.Object{}).String("host", host).String("from", *from).String("to", *to).String("format", *format).
			Int("borrower", f.BorrowerID).Int("loan", f.LoanID).Int("installment", f.InstallmentID).
			Int("run", f.RunID).String("decision", f.Decision).Strings("contact_hmac", f.ContactHashes)
		anchor, err := audit.RecordEvent(ctx, db.DB, time.Now(), *actor, audit.EventUnmaskedExport, details)
		if err != nil {
			return fmt.Errorf("record the unmasked export: %w", err)
		}
		// Not on standard output, which carries the export.
		fmt.Fprintf(e.stderr, "recorded the unmasked export as audit event %d: event anchor %s (keep it outside the database: audit verify --event-anchor checks it)\n", anchor.EventID, anchor)
	}
	_, err = audit.Export(ctx, db, f, *format, *unmasked, e.stdout)
	return err
}

func runAuditPrune(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit prune", "audit prune --before DATE --actor NAME --reason TEXT")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	before := fs.String("before", "", "delete whole runs with a business `date` before this one")
	actor := fs.String("actor", "", "who prunes (required)")
	reason := fs.String("reason", "", "why (required), e.g. the retention policy")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *before == "" || *actor == "" || *reason == "" {
		return usageErrorf("audit prune needs --before, --actor and --reason")
	}
	cutoff, err := civil.ParseDate(*before)
	if err != nil {
		return usageErrorf("--before: %v", err)
	}
	cfg, err := config.Load(*cf, e.getenv)
	if err != nil {
		return err
	}
	bz, _ := time.LoadLocation(cfg.BusinessTimeZone)
	now := time.Now()
	latest := civil.DateIn(now.Add(-cfg.Audit.Retention.Std()), bz)
	if cutoff > latest {
		return usageErrorf("--before %s would delete runs younger than the retention of %s: the latest allowed is %s", cutoff, cfg.Audit.Retention, latest)
	}
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := audit.Prune(ctx, db.DB, cutoff.UTC(), now, *actor, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "pruned %d runs and %d audit rows before %s; recorded as audit event %d\n", res.Runs, res.AuditRows, cutoff, res.Event.EventID)
	fmt.Fprintf(e.stdout, "event anchor %s (keep it outside the database: audit verify --event-anchor checks it)\n", res.Event)
	return nil
}

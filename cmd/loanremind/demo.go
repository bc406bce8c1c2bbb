package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/render"
	"github.com/loanremind/loanremind/jobs/seed"
	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/localpg"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "demo [--keep] [--console [--console-listen ADDR]] [--borrowers N] [--seed S]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	keep := fs.Bool("keep", false, "leave the throwaway database running and print its URL")
	withConsole := fs.Bool("console", false, "then serve the compliance console on --console-listen, signed in through proxy mode (implies --keep)")
	consoleListen := fs.String("console-listen", "127.0.0.1:8080", "`address` of the demo's console (a loopback address)")
	n := fs.Int("borrowers", 10000, "borrowers to seed")
	seedValue := fs.Uint64("seed", 1, "random seed of the synthetic data")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *withConsole {
		if err := checkLoopback(*consoleListen); err != nil {
			return err
		}
	}
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	*keep = *keep || *withConsole
	w := e.stdout
	url := *dbURL
	if url == "" {
		fmt.Fprintln(w, "Starting a throwaway PostgreSQL cluster (no DATABASE_URL given)...")
		cluster, err := localpg.Start(ctx, localpg.Options{})
		if err != nil {
			return err
		}
		if *keep {
			cluster.Keep()
		}
		defer cluster.Stop()
		admin, err := sql.Open("postgres", cluster.URL("postgres"))
		if err != nil {
			return err
		}
		err = queries.CreateDatabase(ctx, admin, "loanremind")
		admin.Close()
		if err != nil {
			return err
		}
		url = cluster.URL("loanremind")
		defer func() {
			if *keep {
				fmt.Fprintf(w, "\nThe demo database is still running:\n  export DATABASE_URL='%s'\nStop it with:\n  %s\n", url, cluster.StopCommand())
			}
		}()
	}
	runner, closeDB, err := s.newRunner(ctx, url)
	if err != nil {
		return err
	}
	defer closeDB()
	db := runner.DB

	applied, err := queries.Migrate(ctx, db.DB)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Migrated: %d migration(s) applied.\n", len(applied))
	now := time.Now()
	today := civil.DateIn(now, s.jobs.Policy.BusinessZone)
	stats, err := seedDB(ctx, db, seed.Options{Borrowers: *n, Seed: *seedValue, AsOf: today}, io.Discard)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Seeded %d borrowers, %d loans, %d installments (due dates spread around %s).\n\n",
		stats.Borrowers, stats.Loans, stats.Installments, today)

	res, err := runner.Run(ctx, jobs.Request{Mode: jobs.ModeManual, AsOf: now, Actor: "demo", Reason: "loanremind demo"})
	printResult(w, res)
	if err != nil {
		return err
	}
	if err := printSMSFigures(ctx, w, db.DB, res.RunID, res.Messages); err != nil {
		return err
	}
	if err := demoSamples(ctx, w, db.DB, res.RunID); err != nil {
		return err
	}
	// Delivery: through the file provider.
	dir, err := demoDir(e)
	if err != nil {
		return err
	}
	if err := demoDeliver(ctx, w, s, db.DB, dir); err != nil {
		return err
	}
	again, err := runner.Run(ctx, jobs.Request{Mode: jobs.ModeManual, AsOf: now, Actor: "demo", Reason: "loanremind demo: re-run"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nRe-running as of the same instant (run %d): %d candidates, %d messages: nothing is sent twice.\n",
		again.RunID, again.Candidates, again.Messages)
	rep, err := audit.Verify(ctx, db, audit.VerifyFilter{})
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("the demo's audit trail did not verify")
	}
	fmt.Fprintf(w, "Audit trail verified: %d runs, %d hash-chained audit rows intact.\n", rep.Runs, rep.Rows)
	fmt.Fprintln(w, "\nNext: `loanremind explain --installment ID` says why an installment was or was not reminded;")
	fmt.Fprintln(w, "`loanremind audit export --from DATE --to DATE` exports every decision (masked).")
	if *withConsole {
		return demoConsole(ctx, e, s, runner, url, *consoleListen)
	}
	return nil
}

// printSMSFigures prints how the run's SMS are billed: parts per message,
// and the encodings.
func printSMSFigures(ctx context.Context, w io.Writer, db *sql.DB, runID, messages int64) error {
	var figures render.SMSFigures
	err := queries.SMSOfRun(ctx, db, runID, func(locale, body string) error {
		figures.Add(locale, body)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sms figures: %w", err)
	}
	fmt.Fprintln(w)
	figures.Report(w, messages)
	return nil
}

// demoSamples prints a few of the run's messages, contacts masked.
func demoSamples(ctx context.Context, w io.Writer, db *sql.DB, runID int64) error {
	samples, err := queries.SampleSends(ctx, db, runID)
	if err != nil {
		return err
	}
	for _, m := range samples {
		to := pii.MaskContact(m.Channel, m.Recipient)
		fmt.Fprintf(w, "\nMessage %d (%s to %s, borrower %d, stage %s, %s): scheduled %s, valid until %s",
			m.ID, m.Channel, to, m.BorrowerID, m.Stage, m.Template, m.ScheduledFor.UTC().Format(time.RFC3339),
			m.ValidUntil.UTC().Format(time.RFC3339))
		printMessage(w, m.Segments, m.Subject, m.Body)
	}
	return nil
}

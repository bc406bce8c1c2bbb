package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/queries"
)

func runExplain(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "explain", "explain --installment ID [--as-of RFC3339]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	id := fs.Int64("installment", 0, "the installment `id`")
	asOfFlag := fs.String("as-of", "", "evaluate as of this `instant` (RFC 3339; default: as its latest recorded decision saw it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == 0 {
		return usageErrorf("explain needs --installment ID")
	}
	var asOf time.Time
	if *asOfFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, *asOfFlag)
		if err != nil {
			return usageErrorf("--as-of %q: want RFC 3339", *asOfFlag)
		}
		asOf = t
	}
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	runner, closeDB, err := s.newRunner(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer closeDB()
	ex, err := runner.Explain(ctx, *id, asOf)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "Why installment %d was or was not reminded\n", ex.InstallmentID)
	fmt.Fprintf(w, "Evaluated %s.\n\n", ex.Basis)
	fmt.Fprintln(w, "The facts:")
	for _, f := range ex.Facts {
		fmt.Fprintf(w, "  - %s\n", f)
	}
	fmt.Fprintln(w, "\nThe policy, step by step:")
	for _, t := range ex.Trace {
		fmt.Fprintf(w, "  - %s\n", t)
	}
	fmt.Fprintln(w, "\nThe outcome:")
	for _, o := range ex.Outcomes {
		reason := ""
		if o.Reason != "" {
			reason = " (" + o.Reason + ")"
		}
		fmt.Fprintf(w, "  - stage %s, %s: %s%s", orDash(o.Stage), o.Channel, o.Decision, reason)
		if !o.ScheduledFor.IsZero() {
			fmt.Fprintf(w, ", to be sent from %s until %s", o.ScheduledFor.UTC().Format(time.RFC3339), o.ValidUntil.UTC().Format(time.RFC3339))
			for _, l := range o.Local {
				fmt.Fprintf(w, "\n      local time: %s", l)
			}
		}
		fmt.Fprintln(w)
	}
	if len(ex.Differences) > 0 {
		fmt.Fprintln(w, "\nDifferences from what the run recorded (the borrower's facts above are as they are now; they, or the policy, changed since):")
		for _, d := range ex.Differences {
			fmt.Fprintf(w, "  - %s\n", d)
		}
	}
	fmt.Fprintln(w, "\nAudit history (every recorded decision about this installment):")
	if len(ex.History) == 0 {
		fmt.Fprintln(w, "  none: no run has decided it yet")
	}
	for _, h := range ex.History {
		fmt.Fprintf(w, "  - %s audit row %d, run %d (%s by %s, as of %s): stage %s, %s: %s",
			h.At.UTC().Format(time.RFC3339), h.ID, h.RunID, h.Mode, h.Actor, h.AsOf.UTC().Format(time.RFC3339), h.Stage, h.Channel, h.Decision)
		if h.Reason != "" {
			fmt.Fprintf(w, " (%s)", h.Reason)
		}
		if h.ScheduledFor.Valid {
			fmt.Fprintf(w, ", message %d scheduled for %s, valid until %s", h.SendID,
				h.ScheduledFor.Time.UTC().Format(time.RFC3339), h.ValidUntil.Time.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "; zones %s; regions %s\n", h.TimeZones, h.Regions)
	}
	printDeliveries(w, ex.Deliveries)
	return nil
}

// printDeliveries says what became of each message: its delivery trail.
func printDeliveries(w io.Writer, events []queries.DeliveryEvent) {
	if len(events) == 0 {
		return
	}
	fmt.Fprintln(w, "\nWhat became of the messages (the delivery trail):")
	for i := 0; i < len(events); {
		j := i
		parts := []string{}
		for j < len(events) && events[j].SendID == events[i].SendID {
			parts = append(parts, deliver.Describe(&events[j]))
			j++
		}
		fmt.Fprintf(w, "  - message %d: %s\n", events[i].SendID, strings.Join(parts, "; "))
		i = j
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loanremind/loanremind/jobs"
)

// printResult writes a run's report for people: what was decided, by stage
// and reason, and for a dry run a few sample messages (personal data masked).
func printResult(w io.Writer, res *jobs.Result) {
	if res == nil {
		return
	}
	title := fmt.Sprintf("Run %d", res.RunID)
	if res.Status == jobs.StatusDryRun {
		title = "Dry run (nothing written)"
	}
	fmt.Fprintf(w, "%s: %s\n", title, res.Status)
	fmt.Fprintf(w, "  as of %s, business date %s, shard %s, %s\n", res.AsOf.Format(time.RFC3339), res.BusinessDate, res.Shard, res.Duration.Round(time.Millisecond))
	if res.Error != "" {
		fmt.Fprintf(w, "  %s\n", res.Error)
	}
	if res.AuditHead != "" {
		fmt.Fprintf(w, "  anchor %d:%s (keep it outside the database: audit verify --anchor checks it)\n", res.RunID, res.AuditHead)
	}
	if res.Status == jobs.StatusSkipped {
		return
	}
	fmt.Fprintf(w, "  %s\n", res.Summary())
	if res.LongSMS > 0 {
		fmt.Fprintf(w, "  warning: %d SMS messages are longer than the configured maximum of parts\n", res.LongSMS)
	}
	if len(res.Reasons) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "STAGE\tCHANNEL\tDECISION\tREASON\tCOUNT\t")
		for _, r := range res.Reasons {
			reason := r.Reason
			if reason == "" {
				reason = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", r.Stage, r.Channel, r.Decision, reason, r.Count)
		}
		tw.Flush()
	}
	for i, s := range res.Samples {
		fmt.Fprintf(w, "\nSample %d: %s to %s, stage %s, %s %s (valid until %s), template %s",
			i+1, s.Channel, s.Recipient, s.Stage, s.Decision, s.ScheduledFor.Format(time.RFC3339),
			s.ValidUntil.Format(time.RFC3339), s.Template)
		printMessage(w, s.Segments, s.Subject, s.Body)
	}
}

// printMessage ends a message's heading with its SMS parts, then prints its
// subject and body, indented.
func printMessage(w io.Writer, segments int, subject, body string) {
	if segments > 0 {
		fmt.Fprintf(w, ", %d SMS part(s)", segments)
	}
	fmt.Fprintln(w)
	if subject != "" {
		fmt.Fprintf(w, "  Subject: %s\n", subject)
	}
	for _, line := range strings.Split(body, "\n") {
		fmt.Fprintf(w, "  | %s\n", line)
	}
}

package jobs_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/jobs/render"
	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// benchAsOf is when the benchmark runs the job: Saturday 10:00 in Shanghai.
const (
	benchDay  = "2026-11-28"
	benchAsOf = "2026-11-28T10:00:00+08:00"
)

// BenchmarkFullRun is `make bench`: it seeds 1,000,000 borrowers, runs the
// built binary as of the seed date, times a server-side reference that writes
// the same grouped messages and audit rows with INSERT ... SELECT, and prints
// the figures; it also runs 250,000 borrowers to show that peak memory does
// not grow with the number of candidates. It needs LOANREMIND_BIN.
func BenchmarkFullRun(b *testing.B) {
	bin := os.Getenv("LOANREMIND_BIN")
	if bin == "" {
		b.Skip("set LOANREMIND_BIN to a built loanremind binary (make bench does)")
	}
	for range b.N {
		small := benchRun(b, bin, 250_000, false)
		large := benchRun(b, bin, 1_000_000, true)
		fmt.Printf("\nloanremind benchmark (this machine: %d cores)\n", coreCount())
		fmt.Printf("%-12s %10s %10s %10s %9s %11s %9s %9s %10s %7s\n",
			"borrowers", "candidates", "messages", "audit", "job", "items/s", "peak RSS", "seed", "reference", "ratio")
		for _, m := range []benchFigures{small, large} {
			ref, ratio := "-", "-"
			if m.reference > 0 {
				ref = m.reference.Round(10 * time.Millisecond).String()
				ratio = fmt.Sprintf("%.2f", m.wall.Seconds()/m.reference.Seconds())
			}
			fmt.Printf("%-12d %10d %10d %10d %9s %11.0f %8.1fM %9s %10s %7s\n",
				m.borrowers, m.candidates, m.messages, m.audit, m.wall.Round(10*time.Millisecond),
				float64(m.candidates)/m.wall.Seconds(), m.peakMiB, m.seed.Round(time.Second), ref, ratio)
		}
		fmt.Printf("reference wrote %d messages and %d audit rows (the job: %d and %d)\n",
			large.refSends, large.refAudit, large.messages, large.audit)
		large.sms.Report(os.Stdout, large.messages)
		fmt.Printf("audit verify of the run (after VACUUM ANALYZE), median of %d: %d rows in %s = %.0f rows/s (each: %s)\n",
			len(large.verifies), large.audit, large.verify.Round(time.Millisecond), float64(large.audit)/large.verify.Seconds(),
			durations(large.verifies))
		if large.verifyRefErr != nil {
			fmt.Printf("PostgreSQL alone writing those rows out: not measured (%v)\n", large.verifyRefErr)
		} else {
			fmt.Printf("PostgreSQL alone writing those rows out with no client, after each verify, median: %s (each: %s); verify / that: %.2f\n",
				large.verifyRef.Round(time.Millisecond), durations(large.verifyRefs), large.verify.Seconds()/large.verifyRef.Seconds())
		}
		fmt.Printf("peak RSS with %.1fx the candidates: %+.1f%%\n",
			float64(large.candidates)/float64(small.candidates), 100*(large.peakMiB/small.peakMiB-1))
		fmt.Printf("targets: >= 40000 items/s: %v; job <= 1.5x reference: %v; peak < 150 MiB: %v; growth <= 10%%: %v; verify >= 200000 rows/s: %v\n",
			float64(large.candidates)/large.wall.Seconds() >= 40000, large.wall.Seconds() <= 1.5*large.reference.Seconds(),
			large.peakMiB < 150, large.peakMiB <= 1.1*small.peakMiB, float64(large.audit)/large.verify.Seconds() >= 200000)
		fmt.Printf("SMS targets: mean <= 1.10: %v; max <= 2: %v; no en-US SMS in UCS-2: %v\n",
			large.sms.Mean() <= 1.10, large.sms.Max <= 2, large.sms.ByLocale["en-US"][render.EncodingUCS2] == 0)
		b.ReportMetric(float64(large.candidates)/large.wall.Seconds(), "items/s")
		b.ReportMetric(large.peakMiB, "peakMiB")
		b.ReportMetric(large.wall.Seconds()/large.reference.Seconds(), "job/ref")
		b.ReportMetric(float64(large.audit)/large.verify.Seconds(), "verify-rows/s")
		b.ReportMetric(large.sms.Mean(), "sms-segments")
	}
}

type benchFigures struct {
	borrowers             int
	candidates, messages  int64
	audit                 int64
	wall, seed, reference time.Duration
	verify                time.Duration   // audit verify of the run: the median of verifies
	verifies              []time.Duration // each audit verify, in the order run
	verifyRef             time.Duration   // PostgreSQL alone writing the run's audit rows out: the median of verifyRefs
	verifyRefs            []time.Duration
	verifyRefErr          error
	peakMiB               float64
	refSends, refAudit    int64
	sms                   render.SMSFigures // the run's SMS: parts and encodings
}

func benchRun(b *testing.B, bin string, borrowers int, reference bool) benchFigures {
	b.Helper()
	ctx := context.Background()
	url, db := pgtest.New(b)
	env := append(os.Environ(), "DATABASE_URL="+url, "LOANREMIND_LOG_FORMAT=json", "LOANREMIND_AUDIT_HMAC_KEY=bench")
	f := benchFigures{borrowers: borrowers}

	start := time.Now()
	if out, err := command(env, bin, "seed", "--borrowers", fmt.Sprint(borrowers), "--seed", "1", "--as-of", benchDay); err != nil {
		b.Fatalf("seed: %v\n%s", err, out)
	}
	f.seed = time.Since(start)
	for _, q := range []string{`VACUUM ANALYZE`, `CHECKPOINT`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}

	cmd := exec.Command(bin, "run", "--as-of", benchAsOf)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start = time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("run: %v\n%s", err, out.String())
	}
	f.wall = time.Since(start)
	f.peakMiB = float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
	var runID int64
	err := db.QueryRowContext(ctx, `SELECT id, candidates, messages, audit_rows FROM reminder_runs WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1`).
		Scan(&runID, &f.candidates, &f.messages, &f.audit)
	if err != nil {
		b.Fatal(err)
	}
	if reference {
		// The compliance check of the run just written, as staff run it:
		// the whole command, from start to exit, on a settled database
		// (vacuumed, as autovacuum leaves the tables between an hourly
		// run and an audit, so that no autovacuum worker competes for the
		// cores, and checkpointed), as the job runs on the seed.
		for _, q := range []string{`VACUUM ANALYZE`, `CHECKPOINT`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		// Three times in turn with its reference, each on a new server
		// process: the machine's speed swings from one minute to the
		// next, so both are judged by their medians. The first
		// verification finds the buffer pool as the job left it, the
		// others as the reference left it.
		var verifies, refs []time.Duration
		for range 3 {
			start = time.Now()
			if out, err := command(env, bin, "audit", "verify", "--run", fmt.Sprint(runID)); err != nil {
				b.Fatalf("audit verify: %v\n%s", err, out)
			}
			verifies = append(verifies, time.Since(start))
			if f.verifyRefErr == nil {
				var ref time.Duration
				ref, f.verifyRefErr = verifyReference(url, runID, f.audit)
				refs = append(refs, ref)
			}
		}
		f.verify, f.verifies = median(verifies), verifies
		if f.verifyRefErr == nil {
			f.verifyRef, f.verifyRefs = median(refs), refs
		}
		if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
			b.Fatal(err)
		}
		day, err := civil.ParseDate(benchDay)
		if err != nil {
			b.Fatal(err)
		}
		dates, stages := jobs.Selection(defaultStages(), day)
		f.reference, f.refSends, f.refAudit, err = queries.ServerReference(ctx, db, runID, dates, stages)
		if err != nil {
			b.Fatal(err)
		}
		// Last, so that reading the messages disturbs no timing.
		err = queries.SMSOfRun(ctx, db, runID, func(locale, body string) error {
			f.sms.Add(locale, body)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// defaultStages are the built-in stages (config.Default's), which the
// benchmark's binary runs with.
func defaultStages() policy.Stages {
	return policy.Stages{
		{Name: "upcoming_3d", DaysFromDue: -3, Channels: []policy.Channel{policy.SMS}},
		{Name: "due_today", DaysFromDue: 0, Channels: []policy.Channel{policy.SMS}},
		{Name: "overdue_1d", DaysFromDue: 1, Channels: []policy.Channel{policy.SMS}},
		{Name: "overdue_7d", DaysFromDue: 7, Channels: []policy.Channel{policy.SMS}},
		{Name: "overdue_30d", DaysFromDue: 30, Channels: []policy.Channel{policy.SMS}, ExpiresAfter: 30 * 24 * time.Hour},
	}
}

func command(env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	return cmd.CombinedOutput()
}

// verifyReference times queries.VerifyReference on a server process of
// its own, new as audit verify's is.
func verifyReference(url string, runID, auditRows int64) (time.Duration, error) {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	elapsed, rows, err := queries.VerifyReference(context.Background(), db, runID)
	if err == nil && rows != auditRows {
		err = fmt.Errorf("it wrote %d rows, the run has %d", rows, auditRows)
	}
	return elapsed, err
}

func median(ds []time.Duration) time.Duration {
	return slices.Sorted(slices.Values(ds))[len(ds)/2]
}

func durations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(time.Millisecond).String())
	}
	return strings.Join(parts, ", ")
}

func coreCount() int { return runtime.NumCPU() }

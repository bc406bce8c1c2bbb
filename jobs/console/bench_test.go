package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// pageRequests is how many times each page is timed.
const pageRequests = 50

// pageTarget is the 95th percentile each page must answer within.
const pageTarget = 300 * time.Millisecond

// BenchmarkConsolePages is the console's part of `make bench`: on the
// 1,000,000-borrower database and its run (as the job's benchmark seeds
// and runs it: the built binary when LOANREMIND_BIN is set, else this
// package's policy in process), it times the overview, the run's page, a
// borrower's timeline and an installment's page, 50 requests each, through
// the console's handler in the role loanremind_console, and prints the
// 50th and 95th percentiles and the slowest. The run's page is timed twice:
// as it is served (a finished run's breakdown is kept after its first
// request) and with a new console for every request, which reads the
// breakdown from its index each time.
// LOANREMIND_CONSOLE_BENCH_BORROWERS seeds fewer borrowers (to try the
// benchmark on a small database).
func BenchmarkConsolePages(b *testing.B) {
	borrowers := 1_000_000
	if v := os.Getenv("LOANREMIND_CONSOLE_BENCH_BORROWERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("LOANREMIND_CONSOLE_BENCH_BORROWERS=%q: want a number of borrowers, at least 100", v)
		}
		borrowers = n
	}
	for range b.N {
		f, seedTime, runTime := benchFixture(b, borrowers)
		ctx := context.Background()
		var auditRows int64
		if err := f.owner.QueryRowContext(ctx, `SELECT audit_rows FROM reminder_runs WHERE id = $1`, f.runID).Scan(&auditRows); err != nil {
			b.Fatal(err)
		}
		borrower, installment := busyBorrower(b, f.owner)
		h := f.proxyServer(b)
		pages := []struct{ name, path string }{
			{"overview", "/"},
			{fmt.Sprintf("run %d (%d audit rows)", f.runID, auditRows), fmt.Sprintf("/runs/%d", f.runID)},
			{fmt.Sprintf("borrower %d timeline", borrower), fmt.Sprintf("/borrowers/%d", borrower)},
			{fmt.Sprintf("installment %d", installment), fmt.Sprintf("/installments/%d", installment)},
		}
		fmt.Printf("\nloanremind console page timings: %d borrowers (seeded in %s, run in %s), %d requests each, p95 target %s\n",
			borrowers, seedTime.Round(time.Second), runTime.Round(time.Second), pageRequests, pageTarget)
		fmt.Printf("%-44s %9s %9s %9s %9s  %s\n", "page", "first", "p50", "p95", "max", "p95 < target")
		all := true
		for _, p := range pages {
			times := timePage(b, func() http.Handler { return h }, p.path)
			all = report(p.name, times) && all
		}
		// The run's page with its breakdown read from the index every time.
		servers := make([]http.Handler, pageRequests+1)
		for i := range servers {
			servers[i] = f.proxyServer(b)
		}
		next := 0
		times := timePage(b, func() http.Handler { next++; return servers[next-1] }, pages[1].path)
		all = report("run page, breakdown not kept", times) && all
		fmt.Printf("all pages within target: %v\n", all)
		b.ReportMetric(float64(percentile(times, 95).Microseconds())/1000, "run-p95-ms")
	}
}

// benchFixture seeds and runs the benchmark's database.
func benchFixture(b *testing.B, borrowers int) (*fixture, time.Duration, time.Duration) {
	b.Helper()
	bin := os.Getenv("LOANREMIND_BIN")
	if bin == "" {
		start := time.Now()
		f := newFixture(b, borrowers)
		return f, time.Since(start), 0
	}
	ctx := context.Background()
	url, owner := pgtest.New(b)
	env := append(os.Environ(), "DATABASE_URL="+url, "LOANREMIND_LOG_FORMAT=json", "LOANREMIND_AUDIT_HMAC_KEY="+hmacKey)
	start := time.Now()
	if out, err := command(env, bin, "seed", "--borrowers", strconv.Itoa(borrowers), "--seed", "1", "--as-of", fixtureDay); err != nil {
		b.Fatalf("seed: %v\n%s", err, out)
	}
	seedTime := time.Since(start)
	start = time.Now()
	if out, err := command(env, bin, "run", "--as-of", fixtureAsOf); err != nil {
		b.Fatalf("run: %v\n%s", err, out)
	}
	runTime := time.Since(start)
	// A settled database, as the job's benchmark verifies on and as
	// autovacuum leaves the tables between a run and an audit.
	for _, q := range []string{`VACUUM ANALYZE`, `CHECKPOINT`} {
		if _, err := owner.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	f := &fixture{ownerURL: url, owner: owner}
	f.zone, _ = time.LoadLocation("Asia/Shanghai")
	f.hasher = pii.NewHasher([]byte(hmacKey))
	if err := owner.QueryRowContext(ctx, `SELECT max(id) FROM reminder_runs`).Scan(&f.runID); err != nil {
		b.Fatal(err)
	}
	var err error
	f.consoleURL = withRole(url, "loanremind_console")
	if f.console, err = sqlx.Open("postgres", f.consoleURL); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.console.Close() })
	asOf, _ := time.Parse(time.RFC3339, fixtureAsOf)
	f.runner = &jobs.Runner{DB: f.console, Log: quietLog(), Config: testJobsConfig(b, f.zone, f.hasher), Now: func() time.Time { return asOf }}
	return f, seedTime, runTime
}

func command(env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	return cmd.CombinedOutput()
}

// busyBorrower is a borrower with the most decisions of the run (a long
// timeline), and one of their installments with a message.
func busyBorrower(b *testing.B, db *sqlx.DB) (borrower, installment int64) {
	b.Helper()
	err := db.QueryRow(`
		SELECT borrower_id, max(installment_id) FILTER (WHERE send_id IS NOT NULL)
		FROM reminder_audit GROUP BY borrower_id
		HAVING count(*) FILTER (WHERE send_id IS NOT NULL) > 0
		ORDER BY count(*) DESC, borrower_id LIMIT 1`).Scan(&borrower, &installment)
	if err != nil {
		b.Fatal(err)
	}
	return borrower, installment
}

// timePage requests a page pageRequests times as a viewer and returns each
// time, in order; every answer must be 200.
func timePage(b *testing.B, handler func() http.Handler, path string) []time.Duration {
	b.Helper()
	var times []time.Duration
	for range pageRequests {
		h := handler()
		r := newRequest(viewer, "GET", path)
		start := time.Now()
		w := serve(h, r)
		times = append(times, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d\n%s", path, w.Code, w.Body.String())
		}
	}
	return times
}

func report(name string, times []time.Duration) bool {
	p95 := percentile(times, 95)
	ok := p95 < pageTarget
	fmt.Printf("%-44s %9s %9s %9s %9s  %v\n", name, ms(times[0]), ms(percentile(times, 50)), ms(p95), ms(slices.Max(times)), ok)
	return ok
}

// percentile is the nearest-rank percentile.
func percentile(times []time.Duration, p int) time.Duration {
	s := slices.Sorted(slices.Values(times))
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// The benchmark's helpers, at a small scale, in the ordinary tests.
func TestBenchHelpers(t *testing.T) {
	t.Parallel()
	times := []time.Duration{5, 1, 4, 2, 3}
	if percentile(times, 50) != 3 || percentile(times, 95) != 5 || percentile(times, 1) != 1 {
		t.Error("percentiles")
	}
}

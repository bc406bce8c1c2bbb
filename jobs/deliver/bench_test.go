package deliver_test

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// BenchmarkDeliver delivers 100,000 messages (LOANREMIND_BENCH_MESSAGES
// to change it) through the http provider to a local gateway that answers
// each request after 50 ms: `loanremind deliver --once` as a process of its
// own (LOANREMIND_BIN, or built here), end to end, until the database has
// recorded every outcome. It prints the rate and the sender's peak RSS,
// and fails when a message was sent twice, outside its window, or not at
// all. Targets on this 2-core machine: at least 2,000 messages/s, peak RSS
// under 150 MiB. LOANREMIND_BENCH_LOG=FILE keeps the sender's log, and
// LOANREMIND_BENCH_LOG_LEVEL=debug times each claim's steps.
func BenchmarkDeliver(b *testing.B) {
	n := 100_000
	if v := os.Getenv("LOANREMIND_BENCH_MESSAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("LOANREMIND_BENCH_MESSAGES %q", v)
		}
	}
	bin := os.Getenv("LOANREMIND_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "loanremind")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/loanremind/loanremind/cmd/loanremind").CombinedOutput()
		if err != nil {
			b.Fatalf("build the binary: %v\n%s", err, out)
		}
	}
	for range b.N {
		benchDeliver(b, bin, n)
	}
}

func benchDeliver(b *testing.B, bin string, n int) {
	b.StopTimer()
	url, sqlxDB := pgtest.New(b)
	db := sqlxDB.DB
	// Due from a minute ago, valid for six hours: inside their windows on
	// the wall clock the sender reads.
	now := time.Now().Truncate(time.Second)
	built := time.Now()
	box := buildOutbox(b, db, 1, n, func(int) (time.Time, time.Time) { return now.Add(-time.Minute), now.Add(6 * time.Hour) })
	mustExec(b, db, "VACUUM ANALYZE")
	fmt.Printf("\noutbox of %d messages built in %s\n", len(box.ids), time.Since(built).Round(time.Millisecond))

	gw := newBenchGateway(b, 50*time.Millisecond)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "loanremind.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`delivery:
  providers:
    - name: gateway
      type: http
      url: %s
      secret_env: BENCH_GATEWAY_SECRET
      timeout: 10s
      max_in_flight: 200
  routes:
    sms: gateway
log:
  level: %s
`, gw.url, cmp.Or(os.Getenv("LOANREMIND_BENCH_LOG_LEVEL"), "warn"))), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "deliver", "--once", "--config", cfg)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "BENCH_GATEWAY_SECRET="+string(gw.secret))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	b.StartTimer()
	start := time.Now()
	err := cmd.Start()
	var hwm peakRSS
	if err == nil {
		hwm.watch(cmd.Process.Pid)
		err = cmd.Wait()
	}
	wall := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("deliver --once: %v\n%s\n%s", err, stdout.String(), tail(stderr.String(), 2000))
	}
	if path := os.Getenv("LOANREMIND_BENCH_LOG"); path != "" {
		os.WriteFile(path, stderr.Bytes(), 0o600)
	}
	// The sender's own high-water mark (VmHWM of its address space):
	// getrusage's figure for a child counts the test process's pages
	// too, which the child shares until it calls exec.
	peakMiB := hwm.stop()
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()

	var sent, events, outside int
	if err := db.QueryRow(`SELECT count(*) FILTER (WHERE status = 'sent'),
		count(*) FILTER (WHERE sent_at < scheduled_for OR sent_at >= valid_until)
		FROM reminder_sends`).Scan(&sent, &outside); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM reminder_deliveries`).Scan(&events); err != nil {
		b.Fatal(err)
	}
	gw.mu.Lock()
	calls, twice, problems := gw.total, 0, append([]string(nil), gw.problems...)
	for _, c := range gw.calls {
		if c > 1 {
			twice++
		}
	}
	distinct := len(gw.calls)
	gw.mu.Unlock()
	rate := float64(sent) / wall.Seconds()
	fmt.Printf("loanremind deliver --once (this machine: %d cores), gateway answering in 50 ms, max_in_flight 200:\n", runtime.NumCPU())
	fmt.Printf("  %d messages sent and recorded in %s: %.0f messages/s end to end\n", sent, wall.Round(time.Millisecond), rate)
	fmt.Printf("  sender peak RSS %.1f MiB, CPU %s; %d delivery events recorded\n", peakMiB, cpu.Round(time.Millisecond), events)
	fmt.Printf("  gateway: %d calls, %d messages, %d called more than once, %d outside their window or unsigned\n",
		calls, distinct, twice, len(problems))
	fmt.Printf("  %s", stdout.String())
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(peakMiB, "peak-MiB")
	switch {
	case sent != n:
		b.Errorf("%d of %d messages sent", sent, n)
	case distinct != n || twice != 0 || calls != n:
		b.Errorf("the gateway got %d calls for %d messages (%d more than once), want each once", calls, distinct, twice)
	case len(problems) > 0 || outside > 0:
		b.Errorf("%d requests outside their window or unsigned (first: %v); %d recorded outside", len(problems), problems[:min(1, len(problems))], outside)
	case events != 2*n:
		b.Errorf("%d delivery events, want %d (claimed and sent)", events, 2*n)
	}
	if rate < 2000 {
		fmt.Printf("  BELOW TARGET: %.0f messages/s, want at least 2,000\n", rate)
	}
	if peakMiB >= 150 {
		fmt.Printf("  ABOVE TARGET: peak RSS %.1f MiB, want under 150\n", peakMiB)
	}
}

// benchGateway is the benchmark's gateway: it checks each request's
// signature and window on the wall clock, and answers after delay.
type benchGateway struct {
	url      string
	secret   []byte
	mu       sync.Mutex
	calls    map[string]int
	total    int
	problems []string
}

func newBenchGateway(b *testing.B, delay time.Duration) *benchGateway {
	g := &benchGateway{secret: []byte("bench-secret"), calls: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		now := time.Now()
		key := r.Header.Get("Idempotency-Key")
		problem := ""
		if !httpgw.Verify(g.secret, r.Header.Get("X-Loanremind-Timestamp"), body.Bytes(), r.Header.Get("X-Loanremind-Signature")) {
			problem = "bad signature on " + key
		} else if sched, until, ok := windowOf(body.Bytes()); !ok || now.Before(sched) || !now.Before(until) {
			problem = key + " outside its window"
		}
		g.mu.Lock()
		g.total++
		g.calls[key]++
		if problem != "" {
			g.problems = append(g.problems, problem)
		}
		g.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": "gw-%s"}`, strings.TrimPrefix(key, "loanremind-"))
	})}}
	srv.Start()
	b.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// peakRSS follows a process's resident high-water mark (VmHWM in
// /proc/PID/status) until it exits.
type peakRSS struct {
	kib  atomic.Int64
	done chan struct{}
	wg   sync.WaitGroup
}

func (p *peakRSS) watch(pid int) {
	p.done = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			if b, err := os.ReadFile(path); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						if n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil && n > p.kib.Load() {
							p.kib.Store(n)
						}
					}
				}
			}
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
}

// stop returns the peak in MiB.
func (p *peakRSS) stop() float64 {
	if p.done != nil {
		close(p.done)
		p.wg.Wait()
	}
	return float64(p.kib.Load()) / 1024
}

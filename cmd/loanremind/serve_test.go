package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The series /metrics must show from the start, before any run ended.
var startupSeries = []string{
	"loanremind_build_info",
	"loanremind_last_run_timestamp_seconds",
	"loanremind_last_success_timestamp_seconds",
	"loanremind_decisions_total",
}

// seededToday seeds data around today's date in Asia/Shanghai (the
// business zone): `serve` runs as of the real clock.
func seededToday(t *testing.T, borrowers int) *testDB {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDB(t)
	mustCLI(t, context.Background(), d.env, "seed", "--borrowers", fmt.Sprint(borrowers), "--seed", "7",
		"--as-of", time.Now().In(loc).Format("2006-01-02"))
	return d
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get fetches a URL and returns the status, content type and body.
func get(url string) (int, string, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body), err
}

// parseMetrics reads the Prometheus text format: the sum of each metric's
// samples, by name.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		rest := line[len(name):]
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			t.Fatalf("metrics line without a value: %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[name] += v
	}
	return out
}

// checkHealthz checks that /healthz answers 200 with a JSON body saying ok.
func checkHealthz(t *testing.T, addr string) map[string]any {
	t.Helper()
	code, ctype, body, err := get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	if code != http.StatusOK || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("/healthz: %d %q: %s", code, ctype, body)
	}
	var h map[string]any
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/healthz is not JSON: %v: %s", err, body)
	}
	if h["status"] != "ok" {
		t.Errorf("/healthz status %v: %s", h["status"], body)
	}
	return h
}

// checkRunsNeverOverlap checks that no two runs' [started_at, finished_at]
// intervals overlap and that none is left running; it returns the number of
// runs.
func checkRunsNeverOverlap(t *testing.T, d *testDB) int64 {
	t.Helper()
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE status = 'running' OR finished_at IS NULL`); n != 0 {
		t.Errorf("%d runs left running", n)
	}
	if n := d.count(t, `
		SELECT count(*) FROM reminder_runs a JOIN reminder_runs b ON a.id < b.id
		WHERE tstzrange(a.started_at, coalesce(a.finished_at, 'infinity'), '[]')
		   && tstzrange(b.started_at, coalesce(b.finished_at, 'infinity'), '[]')`); n != 0 {
		rows, err := d.db.Query(`SELECT id, status, started_at, finished_at FROM reminder_runs ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id int64
			var status string
			var s, f any
			if err := rows.Scan(&id, &status, &s, &f); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  run %d %s %v – %v\n", id, status, s, f)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		t.Errorf("%d pairs of runs overlap:\n%s", n, b.String())
	}
	return d.count(t, `SELECT count(*) FROM reminder_runs`)
}

// serve started in-process: it fires runs every second, one at a time;
// /healthz and /metrics answer from the start; ticks that come while a run
// is in progress are skipped and logged, never queued; a stop request ends
// it cleanly.
func TestServeRunsOnScheduleOneAtATime(t *testing.T) {
	t.Parallel()
	d := seededToday(t, 20000)
	// A config file, as operators deploy it: every second, small batches,
	// so that the first run takes several seconds of ticks.
	cfgPath := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(cfgPath, []byte("schedule: \"* * * * * *\"\nbatch_size: 50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := d.with("LOANREMIND_CONFIG", cfgPath, "LOANREMIND_LOG_LEVEL", "debug")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- cli(t, ctx, env, "serve", "--listen", addr) }()
	var res *result
	stop := func() result {
		if res == nil {
			cancel()
			select {
			case r := <-done:
				res = &r
			case <-time.After(2 * time.Minute):
				t.Fatal("serve did not stop within 2 minutes of the stop request")
			}
		}
		return *res
	}
	t.Cleanup(func() { stop() }) // before the database is dropped

	// /metrics and /healthz answer as soon as it listens, before the first
	// run ends.
	var metricsBody string
	waitFor(t, time.Minute, "/metrics to answer", func() bool {
		code, _, body, err := get("http://" + addr + "/metrics")
		metricsBody = body
		return err == nil && code == http.StatusOK
	})
	h := checkHealthz(t, addr)
	early := parseMetrics(t, metricsBody)
	if n := d.count(t, `SELECT count(*) FROM reminder_runs WHERE finished_at IS NOT NULL`); n != 0 {
		t.Fatalf("a run ended before the first scrape: the check below proves nothing")
	}
	for _, name := range startupSeries {
		if _, ok := early[name]; !ok {
			t.Errorf("/metrics lacks %s from the start:\n%s", name, metricsBody)
		}
	}
	if _, ok := h["running"]; !ok {
		t.Errorf("/healthz does not say whether a run is in progress: %v", h)
	}

	// Wait for the first (long) run and at least two more runs.
	waitFor(t, 5*time.Minute, "three finished runs", func() bool {
		return d.count(t, `SELECT count(*) FROM reminder_runs WHERE finished_at IS NOT NULL`) >= 3
	})
	_, _, body, err := get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	late := parseMetrics(t, body)
	if late["loanremind_last_success_timestamp_seconds"] <= 0 || late["loanremind_last_run_timestamp_seconds"] <= 0 {
		t.Errorf("after runs, last run %v, last success %v", late["loanremind_last_run_timestamp_seconds"], late["loanremind_last_success_timestamp_seconds"])
	}
	if late["loanremind_decisions_total"] <= 0 {
		t.Errorf("after runs, loanremind_decisions_total is %v", late["loanremind_decisions_total"])
	}
	h = checkHealthz(t, addr)
	if _, ok := h["last_run"]; !ok {
		t.Errorf("/healthz does not report the last run after runs: %v", h)
	}

	r := stop()
	if r.code != 0 {
		t.Fatalf("serve: exit %d after a stop request\n%s", r.code, tail(r.stderr, 3000))
	}
	if !strings.Contains(r.stderr, `"msg":"stopped"`) {
		t.Errorf("serve did not log that it stopped:\n%s", tail(r.stderr, 2000))
	}

	runs := checkRunsNeverOverlap(t, d)
	if runs < 2 {
		t.Errorf("%d runs recorded, want at least 2", runs)
	}
	// Every run succeeded, but the one the stop request may have cut short.
	if n := d.count(t, `
		SELECT count(*) FROM reminder_runs
		WHERE mode <> 'scheduled'
		   OR (status <> 'succeeded' AND NOT (id = (SELECT max(id) FROM reminder_runs)
		                                      AND status = 'failed' AND error LIKE '%interrupted%'))`); n != 0 {
		t.Errorf("%d runs did not succeed as scheduled runs", n)
	}
	if d.count(t, `SELECT count(*) FROM reminder_audit`) == 0 {
		t.Error("the scheduled runs decided nothing")
	}

	// The first run took several one-second ticks: each was skipped and
	// logged. Every tick either ran or was skipped, none was queued: runs
	// and skipped ticks together never outnumber the ticks.
	skipped := int64(strings.Count(r.stderr, "tick skipped"))
	ticks := int64(strings.Count(r.stderr, `"msg":"cron: run"`))
	if skipped == 0 {
		var first float64
		d.scanRow(t, `SELECT extract(epoch FROM finished_at - started_at) FROM reminder_runs ORDER BY id LIMIT 1`, nil, &first)
		t.Errorf("no tick skipped although the first run took %.1fs with a schedule of every second", first)
	}
	if runs+skipped > ticks {
		t.Errorf("%d runs and %d skipped ticks from %d ticks: ticks were queued", runs, skipped, ticks)
	}
	if late["loanremind_skipped_ticks_total"] < 1 && skipped > 0 {
		t.Errorf("loanremind_skipped_ticks_total is %v after %d skipped ticks", late["loanremind_skipped_ticks_total"], skipped)
	}
	t.Logf("%d ticks: %d runs, %d skipped", ticks, runs, skipped)
}

// A real SIGTERM in the middle of a run: serve lets the open batch end,
// records the run, and exits 0 within the grace period; nothing is left
// running and the audit trail verifies.
func TestServeSIGTERMMidRunStopsCleanly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seededToday(t, 20000)
	const grace = 20 * time.Second
	addr := freeAddr(t)
	env := d.with("LOANREMIND_SCHEDULE", "* * * * * *", "LOANREMIND_BATCH_SIZE", "50",
		"LOANREMIND_GRACE_PERIOD", grace.String())
	cmd, out := startCLI(t, env, "serve", "--listen", addr)
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})

	waitFor(t, time.Minute, "/metrics to answer", func() bool {
		code, _, body, err := get("http://" + addr + "/metrics")
		if err != nil || code != http.StatusOK {
			return false
		}
		m := parseMetrics(t, body)
		for _, name := range startupSeries {
			if _, ok := m[name]; !ok {
				t.Errorf("/metrics lacks %s from the start:\n%s", name, body)
			}
		}
		return true
	})
	checkHealthz(t, addr)

	// SIGTERM once the first run has committed a batch.
	waitFor(t, 2*time.Minute, "a batch of the first run to commit", func() bool {
		select {
		case <-exited:
			t.Fatalf("serve exited early: %v\n%s", waitErr, tail(out.String(), 3000))
		default:
		}
		return d.count(t, `SELECT count(*) FROM reminder_runs WHERE status = 'running' AND audit_rows > 0`) > 0
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("serve after SIGTERM: %v (want exit 0)\n%s", waitErr, tail(out.String(), 3000))
		}
		t.Logf("exited %s after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	case <-time.After(grace):
		t.Fatalf("serve still running %s (the grace period) after SIGTERM\n%s", grace, tail(out.String(), 3000))
	}

	var id int64
	var status, errText string
	if err := d.db.QueryRow(`SELECT id, status, coalesce(error, '') FROM reminder_runs ORDER BY id LIMIT 1`).Scan(&id, &status, &errText); err != nil {
		t.Fatal(err)
	}
	switch {
	case status == "failed" && strings.Contains(errText, "interrupted"):
	case status == "succeeded":
		t.Logf("run %d ended before the stop took effect", id)
	default:
		t.Errorf("the run in progress at SIGTERM is %q (%q), want failed with an 'interrupted' error, or succeeded", status, errText)
	}
	// The run's record counts what it committed.
	if a, b := d.count(t, `SELECT audit_rows FROM reminder_runs WHERE id = $1`, id), d.count(t, `SELECT count(*) FROM reminder_audit WHERE run_id = $1`, id); a != b || a == 0 {
		t.Errorf("interrupted run %d records %d audit rows; the audit holds %d", id, a, b)
	}
	checkRunsNeverOverlap(t, d)
	if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("audit verify after SIGTERM: %s", r.stdout)
	}
	logs := out.String()
	for _, want := range []string{"stop requested", `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve did not log %q:\n%s", want, tail(logs, 2000))
		}
	}
}

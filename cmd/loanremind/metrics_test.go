package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// pushRequest is what a fake Pushgateway received.
type pushRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// fakePushgateway records every request and answers 200.
func fakePushgateway(t *testing.T) (*httptest.Server, func() []pushRequest) {
	t.Helper()
	var mu sync.Mutex
	var got []pushRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, pushRequest{method: r.Method, path: r.URL.EscapedPath(), header: r.Header.Clone(), body: body})
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []pushRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]pushRequest(nil), got...)
	}
}

// decodePush decodes a pushed body in whatever format its Content-Type
// names: the metric families by name.
func decodePush(t *testing.T, req pushRequest) map[string]*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(req.body), expfmt.ResponseFormat(req.header))
	out := map[string]*dto.MetricFamily{}
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("pushed body (%s): %v", req.header.Get("Content-Type"), err)
		}
		out[mf.GetName()] = mf
	}
}

func gaugeSum(mf *dto.MetricFamily) float64 {
	var s float64
	for _, m := range mf.GetMetric() {
		s += m.GetGauge().GetValue()
	}
	return s
}

// A one-shot run pushes its metrics to the Pushgateway under job
// loanremind; a push to an address where nothing listens is logged and the
// run still succeeds.
func TestRunPushesMetricsToPushgateway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 300)
	srv, requests := fakePushgateway(t)

	r := mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf, "--pushgateway", srv.URL)
	reqs := requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests to the Pushgateway, want 1\n%s", len(reqs), tail(r.stderr, 2000))
	}
	req := reqs[0]
	if req.method != http.MethodPut && req.method != http.MethodPost {
		t.Errorf("push method %s, want PUT or POST", req.method)
	}
	if !strings.HasPrefix(req.path, "/metrics/job/loanremind/") {
		t.Errorf("push path %s, want /metrics/job/loanremind/...", req.path)
	}
	families := decodePush(t, req)
	for _, name := range []string{"loanremind_last_success_timestamp_seconds", "loanremind_last_run_decisions", "loanremind_build_info"} {
		if _, ok := families[name]; !ok {
			t.Errorf("pushed metrics lack %s; got %d families", name, len(families))
		}
	}
	if mf := families["loanremind_last_success_timestamp_seconds"]; mf != nil && gaugeSum(mf) <= 0 {
		t.Errorf("pushed last success timestamp %v after a successful run", gaugeSum(mf))
	}
	// The decisions pushed are the run's.
	if mf := families["loanremind_last_run_decisions"]; mf != nil {
		if got, want := int64(gaugeSum(mf)), d.count(t, `SELECT count(*) FROM reminder_audit`); got != want {
			t.Errorf("pushed %d decisions; the run audited %d", got, want)
		}
	}
	// The process's own Go metrics do not belong to a batch job's push.
	if _, ok := families["go_goroutines"]; ok {
		t.Error("a one-shot run pushed go_goroutines")
	}

	// A backfill pushes too, under its own grouping.
	mustCLI(t, ctx, d.env, "backfill", "--from", testDay, "--to", testDay, "--actor", "test", "--reason", "push check", "--pushgateway", srv.URL)
	if reqs := requests(); len(reqs) != 2 || !strings.HasPrefix(reqs[1].path, "/metrics/job/loanremind/") || reqs[1].path == req.path {
		var paths []string
		for _, r := range reqs {
			paths = append(paths, r.path)
		}
		t.Errorf("backfill pushes: %v", paths)
	}

	t.Run("a dead Pushgateway does not fail the run", func(t *testing.T) {
		dead := "http://" + freeAddr(t)
		r := cli(t, ctx, d.env, "run", "--as-of", "2026-11-28T11:00:00+08:00", "--pushgateway", dead)
		if r.code != 0 {
			t.Fatalf("exit %d with a dead Pushgateway, want 0\n%s", r.code, tail(r.stderr, 2000))
		}
		if !strings.Contains(r.stderr, "could not push metrics") || !strings.Contains(r.stderr, `"level":"warning"`) {
			t.Errorf("the failed push is not logged:\n%s", tail(r.stderr, 2000))
		}
		if !strings.Contains(r.stdout, "succeeded") {
			t.Errorf("the run did not succeed:\n%s", r.stdout)
		}
	})
}

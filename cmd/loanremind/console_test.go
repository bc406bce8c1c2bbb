package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A console that cannot serve exits 2 before any work, naming the field.
func TestConsoleBadConfig(t *testing.T) {
	t.Parallel()
	d := newTestDB(t)
	proxyNoCIDR := writeConfig(t, "console:\n  auth:\n    mode: proxy\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"oidc without a provider", d.env, nil, "console.auth.oidc.issuer: required"},
		{"proxy without trusted addresses", d.env, []string{"--config", proxyNoCIDR}, "console.auth.proxy.trusted_cidrs: required"},
		{"bad listen", d.env, []string{"--listen", "8080"}, `console.listen: "8080"`},
		{"an argument", d.env, []string{"extra"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, context.Background(), tc.env, append([]string{"console"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 naming %q:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

// `loanremind console` in proxy mode serves the pages to the trusted
// proxy's users, /healthz to anyone, and stops on its context.
func TestConsoleServes(t *testing.T) {
	t.Parallel()
	d := newTestDB(t)
	mustCLI(t, context.Background(), d.env, "seed", "--borrowers", "100", "--as-of", "2026-11-28")
	mustCLI(t, context.Background(), d.env, "run", "--as-of", "2026-11-28T10:00:00+08:00")
	addr := freeAddr(t)
	cfg := writeConfig(t, "console:\n  auth:\n    mode: proxy\n    proxy:\n      trusted_cidrs: [127.0.0.1/32]\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- cli(t, ctx, d.env, "console", "--config", cfg, "--listen", addr) }()
	waitHTTP(t, "http://"+addr+"/healthz", done)
	for _, tc := range []struct {
		path, user, groups string
		want               int
	}{
		{"/", "ada@lender.example", "compliance", 200},
		{"/runs/1", "ada@lender.example", "compliance", 200},
		{"/", "", "", 401},
		{"/", "bob@lender.example", "engineering", 403},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+tc.path, nil)
		if tc.user != "" {
			req.Header.Set("X-Forwarded-Email", tc.user)
			req.Header.Set("X-Forwarded-Groups", tc.groups)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s as %q: %d, want %d", tc.path, tc.user, resp.StatusCode, tc.want)
		}
	}
	cancel()
	r := <-done
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, tail(r.stderr, 2000))
	}
	// The access log names routes, never paths, and no user.
	if !strings.Contains(r.stderr, `"route":"GET /runs/{id}"`) || strings.Contains(r.stderr, "/runs/1") || strings.Contains(r.stderr, "ada@") {
		t.Errorf("access log:\n%s", tail(r.stderr, 2000))
	}
}

// make demo DEMO_FLAGS=--console: after the demo, the console on a
// loopback address, signed in through proxy mode, until interrupted.
func TestDemoConsole(t *testing.T) {
	t.Parallel()
	d := newTestDB(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		err := run(ctx, []string{"demo", "--console", "--console-listen", addr, "--borrowers", "200"}, func(k string) string { return d.env[k] }, &out, &errOut)
		done <- exitCode(err, &errOut)
	}()
	deadline := time.Now().Add(3 * time.Minute)
	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	for !url.MatchString(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("demo exited %d before serving:\n%s\n%s", code, out.String(), tail(errOut.String(), 2000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no console URL:\n%s", out.String())
		}
	}
	home := url.FindString(out.String())
	if home != "http://"+addr+"/" {
		t.Errorf("printed %s, want http://%s/", home, addr)
	}
	for _, p := range []string{"", "runs/1", "borrowers/1", "events"} {
		resp, err := http.Get(home + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "demo-investigator@localhost") {
			t.Errorf("%s: %d, not signed in", p, resp.StatusCode)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d\n%s", code, tail(errOut.String(), 2000))
	}
	if r := cli(t, context.Background(), d.env, "demo", "--console", "--console-listen", "0.0.0.0:8080"); r.code != 2 {
		t.Errorf("a demo console on every address: exit %d, want 2", r.code)
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "loanremind.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitHTTP waits until a URL answers 200, or the command ends.
func waitHTTP(t *testing.T, url string, done chan result) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case r := <-done:
			t.Fatalf("exited %d before serving:\n%s", r.code, tail(r.stderr, 2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s never answered", url)
}

package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loanremind/loanremind/config"
)

// TestTemplateOverSMSBudget: a custom SMS template that lists every item
// can exceed channels.sms.max_segments for some number of items: the
// configuration fails at start-up, exit 2, naming the template and the
// sample that broke the budget, before any database is touched.
func TestTemplateOverSMSBudget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := fs.WalkDir(config.DefaultTemplates(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(config.DefaultTemplates(), path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	const listing = "{{.Signature}}{{range .Items}}{{.Account}}第{{.Seq}}期{{.Amount}}，{{.DueDate}}到期。{{end}}{{.OptOut}}"
	if err := os.WriteFile(filepath.Join(dir, "sms", "overdue_7d.zh-CN.tmpl"), []byte(listing), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "loanremind.yaml")
	if err := os.WriteFile(cfg, []byte("templates:\n  dir: "+dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A server that does not exist: a run that got past its configuration
	// would fail on it with exit 1.
	env := map[string]string{"LOANREMIND_LOG_FORMAT": "json", "GOMEMLIMIT": "off", "DATABASE_URL": "postgres://127.0.0.1:1/none?connect_timeout=1"}
	ctx := context.Background()
	for _, args := range [][]string{
		{"templates", "preview", "--config", cfg},
		{"run", "--config", cfg, "--as-of", "2026-11-18T10:00:00+08:00"},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := cli(t, ctx, env, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.code, tail(r.stderr, 2000))
			}
			for _, want := range []string{"sms/overdue_7d.zh-CN.tmpl", "sample 10 items, 1 currency is ", "over the budget of 2",
				"channels.sms.max_segments: 2"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, tail(r.stderr, 2000))
				}
			}
			if strings.Contains(r.stderr, "sms/overdue_7d.en-US.tmpl") || strings.Contains(r.stderr, "sms/due_today.zh-CN.tmpl") {
				t.Errorf("stderr names a template within the budget:\n%s", tail(r.stderr, 2000))
			}
		})
	}
	// With no segment budget (0) it passes (given room for its bytes:
	// every channel has a size limit).
	if err := os.WriteFile(cfg, []byte("templates:\n  dir: "+dir+"\nchannels:\n  sms:\n    max_segments: 0\n    max_bytes: 1000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, ctx, env, "templates", "preview", "--config", cfg); r.code != 0 {
		t.Fatalf("no budget: exit %d\n%s", r.code, tail(r.stderr, 2000))
	}
}

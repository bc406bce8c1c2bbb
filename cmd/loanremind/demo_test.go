package main

import (
	"context"
	"strings"
	"testing"
)

// demo with no DATABASE_URL starts its own throwaway cluster, seeds, runs
// twice and verifies: what a new user sees first.
func TestDemoOnAThrowawayCluster(t *testing.T) {
	t.Parallel()
	r := cli(t, context.Background(), map[string]string{"LOANREMIND_LOG_FORMAT": "json", "GOMEMLIMIT": "off",
		"LOANREMIND_DEMO_DIR": t.TempDir()}, "demo", "--borrowers", "400")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, tail(r.stderr, 2000))
	}
	for _, want := range []string{"Starting a throwaway PostgreSQL cluster", "Seeded 400 borrowers", "Run 1: succeeded",
		"STAGE", "SMS segments: ", "Message ", "Delivered through the file provider", "nothing is sent twice", "Audit trail verified"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}

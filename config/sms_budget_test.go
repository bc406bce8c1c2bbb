package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSMSBudget: channels.sms.max_segments is the one key of the SMS
// segment budget: 2 by default, set in the file, never negative.
func TestSMSBudget(t *testing.T) {
	if got := Default().Channels.SMS.MaxSegments; got != 2 {
		t.Errorf("default channels.sms.max_segments = %d, want 2", got)
	}
	tests := []struct {
		name, yaml string
		want       int
		problem    string
	}{
		{"default", "batch_size: 5000\n", 2, ""},
		{"raised", "channels:\n  sms:\n    max_segments: 3\n", 3, ""},
		{"no budget", "channels:\n  sms:\n    max_segments: 0\n", 0, ""},
		{"negative", "channels:\n  sms:\n    max_segments: -1\n", 0, "channels.sms.max_segments: -1 must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "loanremind.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path, noEnv)
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("err = %v, want %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Channels.SMS.MaxSegments != tc.want {
				t.Errorf("max_segments = %d, want %d", c.Channels.SMS.MaxSegments, tc.want)
			}
		})
	}
}

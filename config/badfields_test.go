package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A file with several bad values reports every one of them, with its line,
// and the validation problems of the rest too, not only the first.
func TestEveryBadFieldIsReported(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"types", "batch_size: \"many\"\nlock_timeout: 10\nfrequency_caps:\n  - {max: \"three\", per: 24h}\n",
			[]string{"line 1", "`many`", "line 2", `"10"`, "line 4", "`three`"}},
		{"contact windows", "contact_windows:\n  - {days: [funday], from: \"08:00\", to: \"09:00\"}\n" +
			"  - {from: \"25:00\", to: \"09:00\"}\n  - {from: \"10:00\", to: \"10:00\"}\n",
			[]string{`"funday"`, `"25:00"`, "from 10:00 equals to 10:00: the window never opens"}},
		{"bad value and bad zone", "batch_size: many\nbusiness_time_zone: Mars/Olympus\n",
			[]string{"line 1", `unknown time zone "Mars/Olympus"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, noEnv)
			if err == nil {
				t.Fatal("loaded a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// PostgreSQL reads timeouts in whole milliseconds: one under a millisecond
// would switch the timeout off. It is refused; none is written 0 or off.
func TestDurationsUnderAMillisecond(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"500us", 0, true},
		{"999999ns", 0, true},
		{"-1us", 0, true},
		{"1ms", time.Millisecond, false},
		{"0", 0, false},
		{"0s", 0, false},
		{"off", 0, false},
		{"2d", 48 * time.Hour, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, err := ParseDuration(tc.in)
			if tc.bad {
				if err == nil || !strings.Contains(err.Error(), "under a millisecond") {
					t.Errorf("ParseDuration(%q) = %v, %v; want an error", tc.in, d, err)
				}
				return
			}
			if err != nil || d.Std() != tc.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
			}
		})
	}
	env := map[string]string{"LOANREMIND_LOCK_TIMEOUT": "500us"}
	_, err := Load("", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "LOANREMIND_LOCK_TIMEOUT") || !strings.Contains(err.Error(), "under a millisecond") {
		t.Errorf("LOANREMIND_LOCK_TIMEOUT=500us: %v, want an error naming it", err)
	}
	env["LOANREMIND_LOCK_TIMEOUT"] = "off"
	if c, err := Load("", func(k string) string { return env[k] }); err != nil || c.LockTimeout != 0 {
		t.Errorf("LOANREMIND_LOCK_TIMEOUT=off: %v, %v; want none", c, err)
	}
}

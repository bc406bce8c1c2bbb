package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestDefaultsAreValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExampleFileRunsTheSameAsDefaults(t *testing.T) {
	c, err := Load("loanremind.example.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.SHA256(), Default().SHA256(); got != want {
		a, _ := c.YAML()
		b, _ := Default().YAML()
		t.Fatalf("example config differs from the defaults:\n--- example\n%s\n--- defaults\n%s", a, b)
	}
}

// The defaults encode ../shared/COMPLIANCE.md.
func TestDefaultsEncodeCompliance(t *testing.T) {
	c := Default()
	// Rule 1: Reg F 1006.6(b)(1)(i): allowed window [08:00, 21:00) local.
	if w := c.ContactWindows; len(w) != 1 || w[0].From != 8*3600 || w[0].To != 21*3600 || w[0].Days != AllDays {
		t.Errorf("default contact window = %+v, want 08:00-21:00 every day", w)
	}
	// Rule 5: Florida 8:00 a.m. to 8:00 p.m. as an example region override.
	fl := c.Regions["US-FL"]
	if len(fl.ContactWindows) != 1 || fl.ContactWindows[0].To != 20*3600 {
		t.Errorf("US-FL window = %+v, want 08:00-20:00", fl.ContactWindows)
	}
	// Rules 8-9: 3 per 24 hours, 7 per 168 hours.
	if caps := c.FrequencyCaps; len(caps) != 2 || caps[0].Max != 3 || caps[0].Per.Std() != 24*time.Hour ||
		caps[1].Max != 7 || caps[1].Per.Std() != 168*time.Hour {
		t.Errorf("caps = %+v", caps)
	}
	// Rule 10: an opt-out method in every text and email; a sender signature.
	for _, loc := range []string{"zh-CN", "en-US"} {
		t.Run("opt-out and signature "+loc, func(t *testing.T) {
			if c.Channels.SMS.OptOut[loc] == "" || c.Channels.Email.OptOut[loc] == "" || c.Signature[loc] == "" {
				t.Errorf("locale %s lacks an opt-out line or signature", loc)
			}
		})
	}
	// Rule 15: Reg F 1006.100 keeps records three years.
	if c.Audit.Retention.Std() < 3*365*24*time.Hour {
		t.Errorf("retention %s is under three years", c.Audit.Retention)
	}
	names := []string{}
	for _, s := range c.Stages {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "upcoming_3d,due_today,overdue_1d,overdue_7d,overdue_30d" {
		t.Errorf("stages = %s", got)
	}
}

func TestBadConfigNamesFieldAndValue(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown zone", "business_time_zone: Mars/Olympus\n", []string{`business_time_zone: unknown time zone "Mars/Olympus"`}},
		{"unknown key", "batch_sise: 10\n", []string{"batch_sise", "not found"}},
		{"bad type", "batch_size: many\n", []string{"line 1", "many"}},
		{"batch size", "batch_size: 0\n", []string{"batch_size: 0"}},
		{"unordered stages", "stages:\n  - {name: a, days_from_due: 1, channels: [sms]}\n  - {name: b, days_from_due: 1, channels: [sms], expires_after: 3d}\n",
			[]string{"stages[1].days_from_due: 1 must be after stages[0].days_from_due (1)"}},
		{"last stage never ends", "stages:\n  - {name: a, days_from_due: 1, channels: [sms]}\n", []string{"stages[0].expires_after"}},
		{"unknown channel", "stages:\n  - {name: a, days_from_due: 1, channels: [fax], expires_after: 3d}\n", []string{`stages[0].channels[0]: unknown channel "fax"`}},
		{"stage names", "stages:\n  - {name: Due, days_from_due: 0, channels: [sms]}\n  - {name: Due, days_from_due: 1, channels: [sms], expires_after: 3d}\n",
			[]string{`stages[0].name: "Due" must be lower-case letters`, `stages[1].name: "Due" duplicates stages[0].name`}},
		{"stage fallback", "stages:\n  - {name: a, days_from_due: 1, channels: [sms, sms], fallback: sms, expires_after: 3d}\n",
			[]string{`stages[0].channels[1]: "sms" is listed twice`, `stages[0].fallback: "sms" is already a primary channel`}},
		{"window never opens", "contact_windows:\n  - {from: \"09:00\", to: \"09:00\"}\n", []string{"contact_windows[0]: from 09:00 equals to 09:00: the window never opens"}},
		{"bad clock", "contact_windows:\n  - {from: \"25:00\", to: \"09:00\"}\n", []string{"line 2", `"25:00"`}},
		{"bad day", "contact_windows:\n  - {days: [funday], from: \"08:00\", to: \"09:00\"}\n", []string{`"funday"`}},
		{"zero cap", "frequency_caps:\n  - {max: 0, per: 24h}\n", []string{"frequency_caps[0].max: 0 must be at least 1"}},
		{"region zone", "regions:\n  US-XX:\n    time_zones: [Nowhere/City]\n", []string{`regions["US-XX"].time_zones[0]: unknown time zone "Nowhere/City"`}},
		{"holiday", "regions:\n  CN:\n    holidays: [2026-13-01]\n", []string{`regions["CN"].holidays[0]: "2026-13-01" is not a date`}},
		{"schedule", "schedule: every hour\n", []string{`schedule: "every hour"`}},
		{"no opt-out", "channels:\n  sms:\n    opt_out: {zh-CN: \"\"}\n", []string{`channels.sms.opt_out["zh-CN"]`}},
		{"retention under the stages", "audit:\n  retention: 24h\n", []string{"audit.retention: 1d is shorter than the stages' span (63d", "(7d)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o644)
			_, err := Load(path, noEnv)
			if err == nil {
				t.Fatal("loaded a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("batch_size: 100\nschedule: \"@daily\"\n"), 0o644)
	env := map[string]string{"LOANREMIND_BATCH_SIZE": "250", "LOANREMIND_LOCK_TIMEOUT": "3s", "LOANREMIND_AUDIT_HMAC_KEY": "k"}
	c, err := Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 250 || c.LockTimeout.Std() != 3*time.Second || c.Schedule != "@daily" || c.Audit.HMACKey != "k" {
		t.Errorf("got batch %d lock %s schedule %q", c.BatchSize, c.LockTimeout, c.Schedule)
	}
	env["LOANREMIND_BATCH_SIZE"] = "lots"
	if _, err := Load(path, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), `LOANREMIND_BATCH_SIZE: invalid value "lots"`) {
		t.Errorf("bad env value: %v", err)
	}
}

func TestRegionsMergeKeyByKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("regions:\n  US-FL:\n    holidays: [\"2026-12-25\"]\n  CN:\n    holidays: [\"2026-10-01\"]\n"), 0o644)
	c, err := Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	fl := c.Regions["US-FL"]
	if len(fl.TimeZones) != 2 || len(fl.ContactWindows) != 1 || len(fl.Holidays) != 1 {
		t.Errorf("US-FL lost its built-in keys: %+v", fl)
	}
	if len(c.Regions["US-NY"].TimeZones) != 1 || c.Regions["CN"].TimeZones[0] != "Asia/Shanghai" {
		t.Error("built-in regions were dropped")
	}
}

func TestParseHelpers(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "90s": 90 * time.Second, "1h30m": 90 * time.Minute} {
		t.Run("duration "+in, func(t *testing.T) {
			d, err := ParseDuration(in)
			if err != nil || d.Std() != want {
				t.Errorf("ParseDuration(%q) = %v, %v", in, d, err)
			}
		})
	}
	for _, bad := range []string{"", "d", "3x", "1.5d"} {
		t.Run(fmt.Sprintf("bad duration %q", bad), func(t *testing.T) {
			if _, err := ParseDuration(bad); err == nil {
				t.Errorf("ParseDuration(%q) accepted", bad)
			}
		})
	}
	w, err := ParseWeekdays([]string{"fri-mon"})
	if err != nil || w.Names()[0] != "mon" || len(w.Names()) != 4 {
		t.Errorf("fri-mon = %v %v", w.Names(), err)
	}
	if c, err := ParseClock("24:00"); err != nil || c != 86400 {
		t.Errorf("24:00 = %v %v", c, err)
	}
	for _, bad := range []string{"24:01", "8:00", "08:60", "0800"} {
		t.Run("bad clock "+bad, func(t *testing.T) {
			if _, err := ParseClock(bad); err == nil {
				t.Errorf("ParseClock(%q) accepted", bad)
			}
		})
	}
}

package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

func TestValidate(t *testing.T) {
	if err := (&Config{}).Validate(); err == nil {
		t.Fatal("empty config validated")
	}
	ok := baseConfig(t)
	if err := ok.Validate(); err != nil {
		t.Fatalf("base config: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // every problem, in order
	}{
		{"no stages", func(c *Config) { c.Stages = nil }, []string{"stages: at least one stage is required"}},
		{"stage order", func(c *Config) { c.Stages[2].DaysFromDue = -3 },
			[]string{"stages[2].days_from_due: -3 must be after stages[1].days_from_due (0): stages are ordered and do not overlap"}},
		{"names", func(c *Config) { c.Stages[1].Name = ""; c.Stages[3].Name = "upcoming" },
			[]string{"stages[1].name: must not be empty", `stages[3].name: "upcoming" duplicates stages[0].name`}},
		{"name format", func(c *Config) { c.Stages[1].Name = "Due"; c.Stages[2].Name = "1st_late"; c.Stages[3].Name = "late-7" },
			[]string{
				`stages[1].name: "Due" must be lower-case letters, digits and _, starting with a letter (it names template files)`,
				`stages[2].name: "1st_late" must be lower-case letters, digits and _, starting with a letter (it names template files)`,
				`stages[3].name: "late-7" must be lower-case letters, digits and _, starting with a letter (it names template files)`,
			}},
		{"channels", func(c *Config) {
			c.Stages[0].Channels = nil
			c.Stages[1].Channels = []Channel{"fax", SMS, SMS}
			c.Stages[1].Fallback = SMS
			c.Stages[2].Fallback = "pigeon"
		}, []string{
			"stages[0].channels: at least one channel is required",
			`stages[1].channels[0]: unknown channel "fax" (want sms or email)`,
			`stages[1].channels[2]: "sms" is listed twice`,
			`stages[1].fallback: "sms" is already a primary channel`,
			`stages[2].fallback: unknown channel "pigeon" (want sms or email)`,
		}},
		{"expiry", func(c *Config) { c.Stages[4].ExpiresAfter = 0; c.Stages[1].ExpiresAfter = -time.Hour }, []string{
			"stages[1].expires_after: -1h0m0s must not be negative",
			"stages[4].expires_after: the last stage must expire: set expires_after",
		}},
		{"zones", func(c *Config) { c.BusinessZone = nil; c.DefaultZone = nil }, []string{
			"business_zone: must be set", "default_zone: must be set"}},
		{"windows", func(c *Config) {
			c.Allowed = []Window{regF(t), {Days: AllDays, From: 9 * 3600, To: 9 * 3600}, {Days: 0, From: 0, To: 3600},
				{Days: AllDays, From: 86400, To: 0}, {Days: AllDays, From: -1, To: 90000}}
		}, []string{
			"allowed[1]: from 09:00 equals to 09:00: the window never opens",
			"allowed[2].days: no days: the window never opens",
			"allowed[3]: from 24:00 to 00:00: the window never opens",
			"allowed[4].from: -1 seconds is outside 00:00..24:00",
			"allowed[4].to: 90000 seconds is outside 00:00..24:00",
		}},
		{"no default window", func(c *Config) { c.Allowed = nil }, []string{"allowed: at least one default window is required"}},
		{"regions", func(c *Config) {
			c.Regions["US-XX"] = Region{Zones: []string{"Mars/Base", "America/Chicago", "Local"}}
			c.Regions["us-fl"] = Region{}
			c.Regions["US-FL"] = Region{Allowed: []Window{{Days: AllDays, From: 3600, To: 3600}}}
		}, []string{
			`regions["US-FL"].allowed[0]: from 01:00 equals to 01:00: the window never opens`,
			`regions["US-XX"].zones[0]: unknown time zone "Mars/Base"`,
			`regions["US-XX"].zones[2]: unknown time zone "Local"`,
			`regions["us-fl"]: key must be an ISO 3166 code such as "US" or "US-FL"`,
		}},
		{"caps", func(c *Config) {
			c.Caps = []Cap{{Max: 0, Per: time.Hour}, {Max: 3, Per: 0}, {Max: 1, Per: -time.Hour, Channels: []Channel{"fax"}}, {Max: 3, Per: 24 * time.Hour}}
		}, []string{
			"caps[0].max: 0 must be at least 1",
			"caps[1].per: 0s must be positive",
			"caps[2].per: -1h0m0s must be positive",
			`caps[2].channels[0]: unknown channel "fax" (want sms or email)`,
		}},
		{"scalars", func(c *Config) { c.MinSendWindow = -1; c.MaxPhoneZones = -1; c.LateValidity = -1 }, []string{
			"min_send_window: -1ns must not be negative",
			"max_phone_zones: -1 must not be negative",
			"late_validity: -1ns must not be negative",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig(t)
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				if !errors.As(e, &fe) {
					t.Errorf("%v is not a *FieldError", e)
				}
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if _, err := New(c); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

// New copies the configuration: changing it afterwards changes nothing.
func TestNewCopiesConfig(t *testing.T) {
	cfg := baseConfig(t)
	p := mustNew(t, cfg)
	b := borrower("America/New_York")
	zones, _, _ := p.Zones(b)
	at := utc(2026, 1, 15, 14, 0) // 09:00 EST
	if !p.Permissible(b, zones, at) {
		t.Fatal("09:00 EST not permissible")
	}
	cfg.Allowed[0].From = 10 * 3600
	cfg.Stages[0].Channels[0] = Email
	cfg.Regions["US"].Holidays[0] = civil.Date(0)
	if !p.Permissible(b, zones, at) {
		t.Error("changing cfg.Allowed changed the policy")
	}
	if p.Stages()[0].Channels[0] != SMS {
		t.Error("changing cfg.Stages changed the policy")
	}
}

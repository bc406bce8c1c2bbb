package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/loanremind/loanremind/jobs/policy"
)

// ParseSchedule parses a cron schedule: five fields, or six with seconds
// first, or a descriptor such as @hourly; a CRON_TZ= or TZ= prefix sets its
// zone.
func ParseSchedule(s string) (cron.Schedule, error) {
	return cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor).Parse(s)
}

// Validate checks every key and reports every problem at once, each naming
// the field and the value.
func (c *Config) Validate() error {
	v := newValidator()
	v.zone("business_time_zone", c.BusinessTimeZone)
	v.zone("default_time_zone", c.DefaultTimeZone)
	if !v.country.MatchString(c.DefaultPhoneRegion) {
		v.addf("default_phone_region: %q is not an ISO 3166-1 alpha-2 code such as CN or US", c.DefaultPhoneRegion)
	}
	if c.MaxPhoneZones < 1 {
		v.addf("max_phone_zones: %d must be at least 1", c.MaxPhoneZones)
	}
	if _, err := ParseSchedule(c.Schedule); err != nil {
		v.addf("schedule: %q: %v", c.Schedule, err)
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		v.addf("batch_size: %d must be between 1 and 100000", c.BatchSize)
	}
	v.timeout("lock_timeout", c.LockTimeout)
	if c.LockKey == 0 || c.LockKey < math.MinInt32 || c.LockKey > math.MaxInt32 {
		v.addf("lock_key: %d: want a nonzero 32-bit integer (an advisory lock key)", c.LockKey)
	}
	v.timeout("statement_timeout", c.StatementTimeout)
	v.positive("late_validity", c.LateValidity)
	if c.MinSendWindow < 0 {
		v.addf("min_send_window: %s must not be negative", c.MinSendWindow)
	}
	c.validateStages(v)
	v.windows("contact_windows", c.ContactWindows, true)
	c.validateRegions(v)
	for i, cp := range c.FrequencyCaps {
		f := fmt.Sprintf("frequency_caps[%d]", i)
		if cp.Max < 1 {
			v.addf("%s.max: %d must be at least 1", f, cp.Max)
		}
		v.positive(f+".per", cp.Per)
		for j, ch := range cp.Channels {
			v.channel(fmt.Sprintf("%s.channels[%d]", f, j), ch)
		}
	}
	c.validateMessages(v)
	v.positive("audit.retention", c.Audit.Retention)
	c.validateRetention(v)
	if _, _, err := net.SplitHostPort(c.Serve.Listen); err != nil {
		v.addf("serve.listen: %q is not host:port (e.g. :9090)", c.Serve.Listen)
	}
	v.positive("serve.grace_period", c.Serve.GracePeriod)
	c.validateConsole(v)
	c.validateDelivery(v)
	v.problems = append(v.problems, c.ProviderProblems()...)
	if p := c.Metrics.Pushgateway; p != "" {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.addf("metrics.pushgateway: %q is not an http(s) URL", p)
		}
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		v.addf("log.format: %q must be auto, json or text", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "warning", "error":
	default:
		v.addf("log.level: %q must be debug, info, warn or error", c.Log.Level)
	}
	if len(v.problems) > 0 {
		return &Error{Problems: v.problems}
	}
	return nil
}

// validateStages applies the policy's stage rules, the only ones. The policy
// spells stage fields as this file does ("stages[2].days_from_due"), so
// each problem is reported under the policy's field path.
func (c *Config) validateStages(v *validator) {
	if err := c.PolicyStages().Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			v.addf("%v", e)
		}
	}
}

// PolicyStages converts the stages to the policy's; Validate has checked
// them with the policy's rules.
func (c *Config) PolicyStages() policy.Stages {
	stages := make(policy.Stages, 0, len(c.Stages))
	for _, s := range c.Stages {
		st := policy.Stage{
			Name: s.Name, DaysFromDue: s.DaysFromDue, Fallback: policy.Channel(s.Fallback),
			ExpiresAfter: s.ExpiresAfter.Std(), CapExempt: s.CapExempt,
		}
		for _, ch := range s.Channels {
			st.Channels = append(st.Channels, policy.Channel(ch))
		}
		stages = append(stages, st)
	}
	return stages
}

// validateRetention refuses a retention under what the ledger must
// remember: pruning a run forgets which installments it reminded, so a
// retention shorter than the stages' span would let an installment still in
// a stage be reminded again; and frequency caps count the sends of their
// window.
func (c *Config) validateRetention(v *validator) {
	if len(c.Stages) == 0 || c.Audit.Retention <= 0 {
		return
	}
	const day = 24 * time.Hour
	first, last := c.Stages[0], c.Stages[len(c.Stages)-1]
	span := time.Duration(last.DaysFromDue-first.DaysFromDue)*day + time.Duration(last.ExpiresAfter)
	var longestCap time.Duration
	for _, cp := range c.FrequencyCaps {
		longestCap = max(longestCap, time.Duration(cp.Per))
	}
	if need := span + longestCap + day; time.Duration(c.Audit.Retention) < need {
		v.addf("audit.retention: %s is shorter than the stages' span (%s from the first stage's start to the last's end) plus the longest frequency cap (%s) and a day: pruning would forget reminders that installments could get again",
			c.Audit.Retention, Duration(span), Duration(longestCap))
	}
}

func (c *Config) validateRegions(v *validator) {
	codes := make([]string, 0, len(c.Regions))
	for code := range c.Regions {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		r := c.Regions[code]
		f := fmt.Sprintf("regions[%q]", code)
		if !v.region.MatchString(code) {
			v.addf("%s: not an ISO 3166-2 code (US-FL) or country (CN)", f)
		}
		for i, z := range r.TimeZones {
			v.zone(fmt.Sprintf("%s.time_zones[%d]", f, i), z)
		}
		if r.ContactWindows != nil {
			v.windows(f+".contact_windows", r.ContactWindows, true)
		}
		for i, d := range r.Holidays {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				v.addf("%s.holidays[%d]: %q is not a date (YYYY-MM-DD)", f, i, d)
			}
		}
	}
}

func (c *Config) validateMessages(v *validator) {
	loc := c.Templates.DefaultLocale
	if loc == "" {
		v.addf("templates.default_locale: must be set (e.g. zh-CN)")
	}
	if d := c.Templates.Dir; d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			v.addf("templates.dir: %q is not a directory", d)
		}
	}
	names := make([]string, 0, len(c.Templates.Approved))
	for name := range c.Templates.Approved {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !v.sha256.MatchString(c.Templates.Approved[name]) {
			v.addf("templates.approved[%q]: %q is not a lower-case hex SHA-256", name, c.Templates.Approved[name])
		}
	}
	if c.Signature[loc] == "" {
		v.addf("signature[%q]: the default locale needs a sender signature", loc)
	}
	if c.Channels.SMS.OptOut[loc] == "" {
		v.addf("channels.sms.opt_out[%q]: the default locale needs an opt-out line (Reg F 1006.6(e))", loc)
	}
	if c.Channels.Email.OptOut[loc] == "" {
		v.addf("channels.email.opt_out[%q]: the default locale needs an opt-out line (Reg F 1006.6(e))", loc)
	}
	if c.Channels.SMS.MaxSegments < 0 {
		v.addf("channels.sms.max_segments: %d must not be negative", c.Channels.SMS.MaxSegments)
	}
	for _, ch := range []struct {
		name string
		max  int
	}{{"sms", c.Channels.SMS.MaxBytes}, {"email", c.Channels.Email.MaxBytes}} {
		if ch.max < 160 {
			v.addf("channels.%s.max_bytes: %d: want at least 160 (bytes of body and subject)", ch.name, ch.max)
		}
	}
}

type validator struct {
	problems                []string
	region, country, sha256 *regexp.Regexp
}

func newValidator() *validator {
	return &validator{
		region:  regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`),
		country: regexp.MustCompile(`^[A-Z]{2}$`),
		sha256:  regexp.MustCompile(`^[0-9a-f]{64}$`),
	}
}

func (v *validator) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validator) zone(field, name string) {
	if name == "" {
		v.addf("%s: must be an IANA time zone such as Asia/Shanghai", field)
		return
	}
	if _, err := time.LoadLocation(name); err != nil || name == "Local" {
		v.addf("%s: unknown time zone %q", field, name)
	}
}

func (v *validator) positive(field string, d Duration) {
	if d <= 0 {
		v.addf("%s: %s must be positive", field, d)
	}
}

// timeout checks a database timeout: 0 (written 0 or off) is none, and
// ParseDuration refuses one under a millisecond.
func (v *validator) timeout(field string, d Duration) {
	if d < 0 {
		v.addf("%s: %s must be positive, or 0 (off) for none", field, d)
	}
}

func (v *validator) channel(field, ch string) {
	if ch != "sms" && ch != "email" {
		v.addf("%s: unknown channel %q (sms or email)", field, ch)
	}
}

func (v *validator) windows(field string, ws []Window, required bool) {
	if required && len(ws) == 0 {
		v.addf("%s: at least one window is needed, or contact would never be allowed", field)
	}
	for i, w := range ws {
		f := fmt.Sprintf("%s[%d]", field, i)
		if w.Days&AllDays == 0 {
			v.addf("%s.days: no day given: the window never opens", f)
		}
		if w.From == w.To {
			v.addf("%s: from %s equals to %s: the window never opens", f, w.From, w.To)
		}
		if w.From > 24*3600 || w.To > 24*3600 || w.From < 0 || w.To < 0 {
			v.addf("%s: times must lie between 00:00 and 24:00", f)
		}
	}
}

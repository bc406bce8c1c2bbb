// Package config is loanremind's configuration: the schema of the one YAML
// file product, collections and operations staff edit, its defaults (a
// sensible policy for a Chinese consumer lender that also serves borrowers in
// the US, Europe, India and Nepal), loading (defaults, then the file, then
// environment overrides for deployment values) and validation with errors
// that name the field and the value.
//
// Of loanremind's packages config imports only jobs/policy, whose stage rules
// are the ones it validates stages with (and whose Stages PolicyStages
// returns). cmd/loanremind turns the rest of a Config into the small config
// structs the jobs packages declare.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration. Every key has a default.
type Config struct {
	// BusinessTimeZone fixes business dates and the instants stages start.
	BusinessTimeZone string `yaml:"business_time_zone" json:"business_time_zone"`
	// DefaultTimeZone is used for a borrower with no usable zone at all.
	DefaultTimeZone string `yaml:"default_time_zone" json:"default_time_zone"`
	// DefaultPhoneRegion parses national-format numbers of borrowers with no
	// region (ISO 3166-1 alpha-2).
	DefaultPhoneRegion string `yaml:"default_phone_region" json:"default_phone_region"`
	// MaxPhoneZones: a number that maps to more zones than this gives no
	// location (a whole-country mobile range, say).
	MaxPhoneZones int `yaml:"max_phone_zones" json:"max_phone_zones"`
	// Schedule is the cron schedule of `serve` (CRON_TZ= prefix allowed);
	// `backfill` runs each day as of the day's first scheduled time.
	Schedule string `yaml:"schedule" json:"schedule"`
	// BatchSize is the number of borrowers written per transaction.
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	// LockTimeout bounds waits for row and table locks.
	LockTimeout Duration `yaml:"lock_timeout" json:"lock_timeout"`
	// LockKey is the first key of the job's advisory lane locks: two
	// deployments in one database need different keys.
	LockKey int64 `yaml:"lock_key" json:"lock_key"`
	// StatementTimeout bounds each statement (the candidate query included).
	StatementTimeout Duration `yaml:"statement_timeout" json:"statement_timeout"`
	// MinSendWindow: a send time is chosen only if at least this long a
	// permissible stretch follows it, so a sender can deliver in time.
	MinSendWindow Duration `yaml:"min_send_window" json:"min_send_window"`
	// LateValidity is the validity `backfill --send-late` gives reminders
	// whose own validity has passed.
	LateValidity Duration `yaml:"late_validity" json:"late_validity"`

	Stages         []Stage           `yaml:"stages" json:"stages"`
	ContactWindows []Window          `yaml:"contact_windows" json:"contact_windows"`
	Regions        map[string]Region `yaml:"regions" json:"regions"`
	FrequencyCaps  []Cap             `yaml:"frequency_caps" json:"frequency_caps"`

	Templates Templates         `yaml:"templates" json:"templates"`
	Signature map[string]string `yaml:"signature" json:"signature"`
	Channels  Channels          `yaml:"channels" json:"channels"`

	Audit    Audit    `yaml:"audit" json:"audit"`
	Delivery Delivery `yaml:"delivery" json:"delivery"`
	Serve    Serve    `yaml:"serve" json:"serve"`
	Console  Console  `yaml:"console" json:"console"`
	Metrics  Metrics  `yaml:"metrics" json:"metrics"`
	Log      Log      `yaml:"log" json:"log"`
}

// Stage is one reminder stage: a window of days relative to the due date.
type Stage struct {
	Name string `yaml:"name" json:"name"`
	// DaysFromDue is when the stage starts: negative before the due date.
	// It lasts until the next stage starts, or ExpiresAfter.
	DaysFromDue int `yaml:"days_from_due" json:"days_from_due"`
	// Channels each get a message; Fallback is used when none is usable.
	Channels []string `yaml:"channels" json:"channels"`
	Fallback string   `yaml:"fallback" json:"fallback"`
	// ExpiresAfter ends the stage early (required for the last stage).
	ExpiresAfter Duration `yaml:"expires_after" json:"expires_after"`
	// CapExempt marks a legally required notice: frequency caps do not
	// apply, and the audit says so.
	CapExempt bool `yaml:"cap_exempt" json:"cap_exempt"`
}

// Window is a span of local time in which contact is allowed. From after To
// crosses midnight.
type Window struct {
	Days Weekdays `yaml:"days" json:"days"`
	From Clock    `yaml:"from" json:"from"`
	To   Clock    `yaml:"to" json:"to"`
}

// UnmarshalYAML defaults Days to every day.
func (w *Window) UnmarshalYAML(n *yaml.Node) error {
	type plain Window
	v := plain{Days: AllDays, From: -1, To: -1}
	if err := n.Decode(&v); err != nil {
		return err
	}
	if v.From < 0 || v.To < 0 {
		return lineError(n, errors.New("a window needs both from and to (HH:MM)"))
	}
	*w = Window(v)
	return nil
}

// Region overrides the policy for an ISO 3166-2 subdivision ("US-FL") or a
// whole country ("CN"). A subdivision's own keys win over its country's.
type Region struct {
	// TimeZones are the IANA zones of the region: candidate zones for its
	// borrowers (all of them, as Reg F comment 6(b)(1)(i)-2 asks).
	TimeZones []string `yaml:"time_zones,omitempty" json:"time_zones,omitempty"`
	// ContactWindows replace the default contact windows.
	ContactWindows []Window `yaml:"contact_windows,omitempty" json:"contact_windows,omitempty"`
	// Holidays are whole days without reminders (YYYY-MM-DD).
	Holidays []string `yaml:"holidays,omitempty" json:"holidays,omitempty"`
}

// Cap limits how many messages a borrower receives in a rolling window.
type Cap struct {
	Max int      `yaml:"max" json:"max"`
	Per Duration `yaml:"per" json:"per"`
	// Channels limits the cap to these channels; empty means all.
	Channels []string `yaml:"channels,omitempty" json:"channels,omitempty"`
}

// Templates says where message templates come from.
type Templates struct {
	// Dir holds <channel>/<stage>.<locale>.tmpl files; empty uses the
	// built-in templates.
	Dir string `yaml:"dir" json:"dir"`
	// DefaultLocale is used when no template matches the borrower's locale.
	DefaultLocale string `yaml:"default_locale" json:"default_locale"`
	// Approved pins the reviewed SHA-256 of each template by name
	// ("sms/due_today.zh-CN.tmpl"); when set, any other text fails.
	Approved map[string]string `yaml:"approved" json:"approved,omitempty"`
	// AllowLinks permits URLs in messages (off by default: anti-fraud).
	AllowLinks bool `yaml:"allow_links" json:"allow_links"`
}

// Channels configures each channel.
type Channels struct {
	SMS   Channel `yaml:"sms" json:"sms"`
	Email Channel `yaml:"email" json:"email"`
}

// Channel configures one channel.
type Channel struct {
	// OptOut is the opt-out line per locale, required in every message
	// (Reg F 1006.6(e)).
	OptOut map[string]string `yaml:"opt_out" json:"opt_out"`
	// MaxSegments is the SMS segment budget (sms only): a template that
	// renders the sample data (1, 2, 3, 10 and 1,000 items, in one and in
	// three currencies) in more parts fails validation at start-up. 0: no
	// budget.
	MaxSegments int `yaml:"max_segments,omitempty" json:"max_segments,omitempty"`
	// MaxBytes bounds a message's size (its body and subject, in UTF-8
	// bytes): a template whose 1,000-item sample is larger fails at
	// start-up, and a message that would be larger is skipped. A message
	// lists at most 50 items (the rest as a count), so no number of rows
	// grows one past it.
	MaxBytes int `yaml:"max_bytes" json:"max_bytes"`
}

// Audit configures the audit trail.
type Audit struct {
	// Retention is how long runs are kept before `audit prune` may remove
	// them (Reg F 1006.100: three years).
	Retention Duration `yaml:"retention" json:"retention"`
	// HMACKeyFile holds the key for contact hashes in audit details
	// (LOANREMIND_AUDIT_HMAC_KEY overrides it).
	HMACKeyFile string `yaml:"hmac_key_file" json:"hmac_key_file"`
	// HMACKey is never written to the config file; it comes from the
	// environment or the key file.
	HMACKey string `yaml:"-" json:"-"`
}

// Serve configures the long-running mode.
type Serve struct {
	Listen      string   `yaml:"listen" json:"listen"`
	GracePeriod Duration `yaml:"grace_period" json:"grace_period"`
}

// Metrics configures metrics of one-shot runs.
type Metrics struct {
	Pushgateway string `yaml:"pushgateway" json:"pushgateway"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format" json:"format"` // auto, json or text
	Level  string `yaml:"level" json:"level"`
}

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then environment overrides, then validation. Its errors
// name the field and the value; callers exit 2 on them.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	var problems []string
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, &Error{Problems: []string{fmt.Sprintf("config file: %v", err)}}
		}
		defer f.Close()
		if err := c.decode(f); err != nil {
			// Values that could not be decoded keep their defaults:
			// validate the rest too, so that every bad field is
			// reported at once.
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, &Error{File: path, Problems: []string{err.Error()}}
			}
			problems = append(problems, te.Errors...)
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	if err := c.loadSecrets(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		e, ok := err.(*Error)
		if !ok {
			return nil, err
		}
		problems = append(problems, e.Problems...)
	}
	if len(problems) > 0 {
		return nil, &Error{File: path, Problems: problems}
	}
	return c, nil
}

// decode reads YAML over the defaults. Lists replace the default lists;
// maps (regions, signature, opt-out lines, approvals) are merged key by key,
// and a region's keys replace only that key of the built-in region.
func (c *Config) decode(r io.Reader) error {
	defaults := c.Regions
	c.Regions = nil
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	var bad *yaml.TypeError
	if err != nil && !errors.As(err, &bad) {
		c.Regions = defaults
		return err
	}
	// Bad values (err is a TypeError) leave the rest decoded: merge it,
	// so that validation sees it, and report them.
	merged := make(map[string]Region, len(defaults)+len(c.Regions))
	for k, v := range defaults {
		merged[k] = v
	}
	for k, v := range c.Regions {
		base := merged[k]
		if v.TimeZones != nil {
			base.TimeZones = v.TimeZones
		}
		if v.ContactWindows != nil {
			base.ContactWindows = v.ContactWindows
		}
		if v.Holidays != nil {
			base.Holidays = v.Holidays
		}
		merged[k] = base
	}
	c.Regions = merged
	return err
}

func (c *Config) loadSecrets() error {
	if c.Audit.HMACKey != "" || c.Audit.HMACKeyFile == "" {
		return nil
	}
	b, err := os.ReadFile(c.Audit.HMACKeyFile)
	if err != nil {
		return &Error{Problems: []string{fmt.Sprintf("audit.hmac_key_file: %v", err)}}
	}
	c.Audit.HMACKey = strings.TrimSpace(string(b))
	return nil
}

// SHA256 identifies the effective configuration (secrets excluded): the
// run record stores it.
func (c *Config) SHA256() string { return hashJSON(c) }

// PolicySHA256 identifies the parts of the configuration that decide what is
// sent and when; every audit row stores it with the templates' hash.
func (c *Config) PolicySHA256(templatesSHA256 string) string {
	return hashJSON(struct {
		BusinessTimeZone, DefaultTimeZone, DefaultPhoneRegion string
		MaxPhoneZones                                         int
		MinSendWindow, LateValidity                           Duration
		Stages                                                []Stage
		ContactWindows                                        []Window
		Regions                                               map[string]Region
		FrequencyCaps                                         []Cap
		Signature                                             map[string]string
		Channels                                              Channels
		Templates                                             string
	}{c.BusinessTimeZone, c.DefaultTimeZone, c.DefaultPhoneRegion, c.MaxPhoneZones, c.MinSendWindow,
		c.LateValidity, c.Stages, c.ContactWindows, c.Regions, c.FrequencyCaps, c.Signature, c.Channels,
		templatesSHA256})
}

// YAML renders the effective configuration (for `loanremind config`).
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hashJSON(v any) string {
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		panic(err) // only plain data types: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Error is a configuration error: every problem found, each naming the
// field and the value.
type Error struct {
	File     string
	Problems []string
}

func (e *Error) Error() string {
	prefix := "config"
	if e.File != "" {
		prefix = "config " + e.File
	}
	if len(e.Problems) == 1 {
		return prefix + ": " + e.Problems[0]
	}
	return prefix + ":\n  " + strings.Join(e.Problems, "\n  ")
}

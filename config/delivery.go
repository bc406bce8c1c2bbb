package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"time"
)

// Delivery configures the sender (`loanremind deliver`): the providers and
// which one each channel uses (DESIGN.md, "Delivery"), and how the
// dispatcher claims, retries and stops. Credentials come from the
// environment or files (secret_env, secret_file), never from the YAML
// itself.
type Delivery struct {
	Providers []DeliveryProvider `yaml:"providers" json:"providers"`
	// Routes maps a channel (sms, email) to a provider's name.
	Routes map[string]string `yaml:"routes" json:"routes"`

	// Listen is the address of the long-running dispatcher's /metrics,
	// /healthz and receipt endpoints.
	Listen string `yaml:"listen" json:"listen"`
	// Lease is how long a claim holds a message for one provider call.
	Lease Duration `yaml:"lease" json:"lease"`
	// ClaimBatch is how many messages one claiming transaction takes.
	ClaimBatch int `yaml:"claim_batch" json:"claim_batch"`
	// PollInterval is how often an idle dispatcher looks for due messages.
	PollInterval Duration `yaml:"poll_interval" json:"poll_interval"`
	// Retry bounds the backoff after a transient error.
	Retry DeliveryRetry `yaml:"retry" json:"retry"`
	// CircuitBreaker stops calling a provider that keeps failing.
	CircuitBreaker CircuitBreaker `yaml:"circuit_breaker" json:"circuit_breaker"`
	// GracePeriod bounds how long a stop waits for calls in flight.
	GracePeriod Duration `yaml:"grace_period" json:"grace_period"`
}

// DeliveryRetry bounds the backoff: from Initial, doubling per attempt,
// at most Max, with jitter; never past a message's valid_until.
type DeliveryRetry struct {
	Initial Duration `yaml:"initial" json:"initial"`
	Max     Duration `yaml:"max" json:"max"`
}

// CircuitBreaker opens a provider's circuit after Failures consecutive
// transient failures, for Cooldown.
type CircuitBreaker struct {
	Failures int      `yaml:"failures" json:"failures"`
	Cooldown Duration `yaml:"cooldown" json:"cooldown"`
}

// DeliveryProvider is one provider: a gateway, a carrier, a mail server or
// a file. The keys of its type are in its type's section.
type DeliveryProvider struct {
	Name string `yaml:"name" json:"name"`
	Type string `yaml:"type" json:"type"` // http | twilio | tencentcloud | smtp | file
	// URL is the http gateway's endpoint, or another provider's base URL
	// or endpoint (tests point it at a local server).
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// SecretEnv or SecretFile holds the provider's secret (the http
	// gateway's HMAC key, Twilio's auth token, Tencent Cloud's secret key,
	// the SMTP password).
	SecretEnv   string   `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	SecretFile  string   `yaml:"secret_file,omitempty" json:"secret_file,omitempty"`
	Timeout     Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Rate        float64  `yaml:"rate,omitempty" json:"rate,omitempty"` // messages per second; 0: no limit
	MaxInFlight int      `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	// Path is the file provider's file.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`

	Twilio       *TwilioOptions       `yaml:"twilio,omitempty" json:"twilio,omitempty"`
	TencentCloud *TencentCloudOptions `yaml:"tencentcloud,omitempty" json:"tencentcloud,omitempty"`
	SMTP         *SMTPOptions         `yaml:"smtp,omitempty" json:"smtp,omitempty"`
}

// ProviderTypes lists the provider types.
func ProviderTypes() []string { return []string{"http", "twilio", "tencentcloud", "smtp", "file"} }

// defaultDelivery is the sender's defaults: no provider (a lender
// configures its own), a two-minute lease, batches of 500.
func defaultDelivery() Delivery {
	return Delivery{
		Listen:         ":9091",
		Lease:          Duration(2 * time.Minute),
		ClaimBatch:     500,
		PollInterval:   Duration(time.Second),
		Retry:          DeliveryRetry{Initial: Duration(5 * time.Second), Max: Duration(10 * time.Minute)},
		CircuitBreaker: CircuitBreaker{Failures: 10, Cooldown: Duration(30 * time.Second)},
		GracePeriod:    Duration(30 * time.Second),
	}
}

// validateDelivery checks the delivery section. A provider's own section
// (twilio, tencentcloud, smtp) is checked by its type's validation.
func (c *Config) validateDelivery(v *validator) {
	d := &c.Delivery
	name := regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	types := map[string]bool{}
	for _, t := range ProviderTypes() {
		types[t] = true
	}
	seen := map[string]bool{}
	for i, p := range d.Providers {
		f := fmt.Sprintf("delivery.providers[%d]", i)
		switch {
		case !name.MatchString(p.Name):
			v.addf("%s.name: %q must be lower-case letters, digits, - and _ (it names the provider in metrics)", f, p.Name)
		case seen[p.Name]:
			v.addf("%s.name: %q is used twice", f, p.Name)
		}
		seen[p.Name] = true
		if !types[p.Type] {
			v.addf("%s.type: %q is not a provider type (http, twilio, tencentcloud, smtp or file)", f, p.Type)
		}
		if p.SecretEnv != "" && p.SecretFile != "" {
			v.addf("%s: secret_env and secret_file are both given: keep one", f)
		}
		if p.Timeout < 0 {
			v.addf("%s.timeout: %s must not be negative", f, p.Timeout)
		}
		if p.Rate < 0 {
			v.addf("%s.rate: %g must not be negative (0: no limit)", f, p.Rate)
		}
		if p.MaxInFlight < 0 || p.MaxInFlight > 10000 {
			v.addf("%s.max_in_flight: %d must be between 0 (the default) and 10000", f, p.MaxInFlight)
		}
		switch p.Type {
		case "http":
			if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.addf("%s.url: %q is not an http(s) URL", f, p.URL)
			}
			if p.SecretEnv == "" && p.SecretFile == "" {
				v.addf("%s: an http gateway needs secret_env or secret_file: its requests are signed", f)
			}
		case "file":
			if p.Path == "" {
				v.addf("%s.path: the file provider needs the file to append messages to", f)
			}
		}
	}
	channels := make([]string, 0, len(d.Routes))
	for ch := range d.Routes {
		channels = append(channels, ch)
	}
	sort.Strings(channels)
	for _, ch := range channels {
		v.channel("delivery.routes", ch)
		if !seen[d.Routes[ch]] {
			v.addf("delivery.routes.%s: no provider named %q", ch, d.Routes[ch])
		}
	}
	if _, _, err := net.SplitHostPort(d.Listen); err != nil {
		v.addf("delivery.listen: %q is not host:port (e.g. :9091)", d.Listen)
	}
	v.positive("delivery.lease", d.Lease)
	v.positive("delivery.poll_interval", d.PollInterval)
	v.positive("delivery.retry.initial", d.Retry.Initial)
	v.positive("delivery.retry.max", d.Retry.Max)
	v.positive("delivery.circuit_breaker.cooldown", d.CircuitBreaker.Cooldown)
	v.positive("delivery.grace_period", d.GracePeriod)
	if d.ClaimBatch < 1 || d.ClaimBatch > 10000 {
		v.addf("delivery.claim_batch: %d must be between 1 and 10000", d.ClaimBatch)
	}
	if d.CircuitBreaker.Failures < 1 {
		v.addf("delivery.circuit_breaker.failures: %d must be at least 1", d.CircuitBreaker.Failures)
	}
	if d.Retry.Max < d.Retry.Initial {
		v.addf("delivery.retry.max: %s is shorter than delivery.retry.initial %s", d.Retry.Max, d.Retry.Initial)
	}
}

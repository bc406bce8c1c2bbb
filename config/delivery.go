package config

// Delivery configures the sender (`loanremind deliver`): the providers and
// which one each channel uses (DESIGN.md, "Delivery"). Credentials come
// from the environment or files (secret_env, secret_file), never from the
// YAML itself.
type Delivery struct {
	Providers []DeliveryProvider `yaml:"providers" json:"providers"`
	// Routes maps a channel (sms, email) to a provider's name.
	Routes map[string]string `yaml:"routes" json:"routes"`
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

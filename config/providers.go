package config

import (
	"fmt"
	"io/fs"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
)

// TwilioOptions are the twilio provider's keys (Twilio Programmable
// Messaging). The auth token is the provider's secret (secret_env or
// secret_file); it also checks the signatures of Twilio's status callbacks.
type TwilioOptions struct {
	// AccountSID ("AC…") is an identifier, not a secret: it may be written
	// here, or read from the environment variable AccountSIDEnv names.
	AccountSID    string `yaml:"account_sid,omitempty" json:"account_sid,omitempty"`
	AccountSIDEnv string `yaml:"account_sid_env,omitempty" json:"account_sid_env,omitempty"`
	// From is the sender: an E.164 number or an alphanumeric sender ID.
	// MessagingServiceSID ("MG…") lets Twilio pick one from the service's
	// pool instead. At least one of them is needed.
	From                string `yaml:"from,omitempty" json:"from,omitempty"`
	MessagingServiceSID string `yaml:"messaging_service_sid,omitempty" json:"messaging_service_sid,omitempty"`
	// StatusCallback is the public URL of this sender's POST
	// /receipts/twilio, exactly as Twilio calls it: Twilio signs its
	// callbacks over this URL, so receipts are checked against it. Empty:
	// no delivery receipts.
	StatusCallback string `yaml:"status_callback,omitempty" json:"status_callback,omitempty"`
}

// TencentCloudOptions are the tencentcloud provider's keys (Tencent Cloud
// SMS, API version 2021-01-11). The SecretKey is the provider's secret
// (secret_env or secret_file); the SecretId comes from the environment
// variable SecretIDEnv names.
type TencentCloudOptions struct {
	Region      string `yaml:"region,omitempty" json:"region,omitempty"` // e.g. ap-guangzhou
	SmsSdkAppID string `yaml:"sms_sdk_app_id,omitempty" json:"sms_sdk_app_id,omitempty"`
	// SignName is the approved signature ("安心金融"), without 【】.
	SignName    string `yaml:"sign_name,omitempty" json:"sign_name,omitempty"`
	SecretIDEnv string `yaml:"secret_id_env,omitempty" json:"secret_id_env,omitempty"`
	// Templates map each stage and locale a message can be in to a
	// carrier-approved template: Chinese carriers accept no free text.
	Templates []TencentCloudTemplate `yaml:"templates,omitempty" json:"templates,omitempty"`
}

// TencentCloudTemplate is one approved template: the TemplateId of the
// messages of a stage in a locale, and what fills its placeholders {1},
// {2}, … in order.
type TencentCloudTemplate struct {
	Stage      string `yaml:"stage" json:"stage"`
	Locale     string `yaml:"locale" json:"locale"`
	TemplateID string `yaml:"template_id" json:"template_id"`
	// Params are TencentCloudParams names; empty means account_tail,
	// amount, due_date.
	Params []string `yaml:"params,omitempty" json:"params,omitempty"`
}

// The values a Tencent Cloud template's placeholders can take, each from
// the message's lead item (the one longest overdue) or from all its items.
const (
	ParamAccountTail = "account_tail" // the last 4 characters of the lead item's account reference
	ParamSeq         = "seq"          // the lead item's installment number
	ParamAmount      = "amount"       // the lead item's amount left to pay ("¥1,234.50")
	ParamDueDate     = "due_date"     // the lead item's due date ("2026年11月21日")
	ParamDaysOverdue = "days_overdue" // days from the lead item's due date to the business date (0 before it)
	ParamItems       = "items"        // how many installments the message covers
	ParamTotal       = "total"        // the amount left to pay on all of them, per currency
)

// TencentCloudParams lists the parameter names a template may use.
func TencentCloudParams() []string {
	return []string{ParamAccountTail, ParamSeq, ParamAmount, ParamDueDate, ParamDaysOverdue, ParamItems, ParamTotal}
}

// ParamsOrDefault returns the template's params, or when it names none the
// default: account_tail, amount, due_date.
func (t TencentCloudTemplate) ParamsOrDefault() []string {
	if len(t.Params) == 0 {
		return []string{ParamAccountTail, ParamAmount, ParamDueDate}
	}
	return t.Params
}

// SMTPOptions are the smtp provider's keys. The password is the
// provider's secret (secret_env or secret_file).
type SMTPOptions struct {
	Host string `yaml:"host,omitempty" json:"host,omitempty"`
	// Port defaults to 587 for starttls, 465 for implicit TLS and 25 for
	// none.
	Port int `yaml:"port,omitempty" json:"port,omitempty"`
	// TLS is starttls (the default; the server must offer it), implicit
	// (TLS from the first byte, "SMTPS") or none (a relay on the loopback
	// interface only).
	TLS string `yaml:"tls,omitempty" json:"tls,omitempty"`
	// CAFile is a PEM bundle of the CAs that sign the server's
	// certificate, instead of the system's.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// Username (or the variable UsernameEnv names) turns on
	// authentication; Auth is plain (the default) or login.
	Username    string `yaml:"username,omitempty" json:"username,omitempty"`
	UsernameEnv string `yaml:"username_env,omitempty" json:"username_env,omitempty"`
	Auth        string `yaml:"auth,omitempty" json:"auth,omitempty"`
	// From and ReplyTo are addresses, with or without a display name:
	// "Anxin Finance <reminders@anxin.example>".
	From    string `yaml:"from,omitempty" json:"from,omitempty"`
	ReplyTo string `yaml:"reply_to,omitempty" json:"reply_to,omitempty"`
	// HELO is the name given in EHLO (default: the host's name).
	HELO string `yaml:"helo,omitempty" json:"helo,omitempty"`
	// MessageIDDomain is the right-hand side of Message-ID (default: From's
	// domain): <loanremind-SENDID@DOMAIN>.
	MessageIDDomain string `yaml:"message_id_domain,omitempty" json:"message_id_domain,omitempty"`
}

// SMTP TLS modes.
const (
	SMTPStartTLS = "starttls"
	SMTPImplicit = "implicit"
	SMTPNoTLS    = "none"
)

// providerCheck collects the problems of the provider sections.
type providerCheck struct {
	problems                                                        []string
	accountSID, serviceSID, e164, senderID, envName, region, digits *regexp.Regexp
}

func newProviderCheck() *providerCheck {
	return &providerCheck{
		accountSID: regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`),
		serviceSID: regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`),
		e164:       regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`),
		senderID:   regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`),
		envName:    regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`),
		region:     regexp.MustCompile(`^[a-z]+-[a-z]+(-[0-9]+)?$`),
		digits:     regexp.MustCompile(`^[0-9]+$`),
	}
}

func (pc *providerCheck) addf(format string, args ...any) {
	pc.problems = append(pc.problems, fmt.Sprintf(format, args...))
}

// ProviderProblems checks the sections of the twilio, tencentcloud and smtp
// providers, which channels they may carry, and that every stage and locale
// an SMS routed to a tencentcloud provider can be in has a TemplateId. Each
// problem names the field and the value.
func (c *Config) ProviderProblems() []string {
	pc := newProviderCheck()
	for i, p := range c.Delivery.Providers {
		f := fmt.Sprintf("delivery.providers[%d]", i)
		for _, s := range []struct {
			typ string
			set bool
		}{{"twilio", p.Twilio != nil}, {"tencentcloud", p.TencentCloud != nil}, {"smtp", p.SMTP != nil}} {
			if s.set && p.Type != s.typ {
				pc.addf("%s.%s: a %s section in a provider of type %q", f, s.typ, s.typ, p.Type)
			}
		}
		switch p.Type {
		case "twilio":
			pc.twilio(f, p)
		case "tencentcloud":
			pc.tencentCloud(f, p)
		case "smtp":
			pc.smtp(f, p)
		}
	}
	channels := make([]string, 0, len(c.Delivery.Routes))
	for ch := range c.Delivery.Routes {
		channels = append(channels, ch)
	}
	slices.Sort(channels)
	for _, ch := range channels {
		i := slices.IndexFunc(c.Delivery.Providers, func(p DeliveryProvider) bool { return p.Name == c.Delivery.Routes[ch] })
		if i < 0 {
			continue
		}
		p := c.Delivery.Providers[i]
		switch {
		case (p.Type == "twilio" || p.Type == "tencentcloud") && ch != "sms":
			pc.addf("delivery.routes.%s: provider %q is of type %s, which sends SMS only", ch, p.Name, p.Type)
		case p.Type == "smtp" && ch != "email":
			pc.addf("delivery.routes.%s: provider %q is of type smtp, which sends email only", ch, p.Name)
		case p.Type == "tencentcloud" && p.TencentCloud != nil:
			c.tencentTemplates(pc, fmt.Sprintf("delivery.providers[%d].tencentcloud.templates", i), p.TencentCloud)
		}
	}
	return pc.problems
}

// EnvVars lists the environment variables the delivery configuration names
// (secret_env, account_sid_env, secret_id_env, username_env), sorted.
func (d *Delivery) EnvVars() []string {
	var names []string
	for _, p := range d.Providers {
		names = append(names, p.SecretEnv)
		if p.Twilio != nil {
			names = append(names, p.Twilio.AccountSIDEnv)
		}
		if p.TencentCloud != nil {
			names = append(names, p.TencentCloud.SecretIDEnv)
		}
		if p.SMTP != nil {
			names = append(names, p.SMTP.UsernameEnv)
		}
	}
	names = slices.DeleteFunc(names, func(s string) bool { return s == "" })
	slices.Sort(names)
	return slices.Compact(names)
}

// Secret reads the provider's secret: the variable SecretEnv names, else
// the file SecretFile (surrounding space trimmed). It is an error when
// neither gives a value.
func (p *DeliveryProvider) Secret(getenv func(string) string) (string, error) {
	if p.SecretEnv != "" {
		if v := strings.TrimSpace(getenv(p.SecretEnv)); v != "" {
			return v, nil
		}
		if p.SecretFile == "" {
			return "", fmt.Errorf("provider %q: secret_env %s is not set", p.Name, p.SecretEnv)
		}
	}
	if p.SecretFile == "" {
		return "", fmt.Errorf("provider %q: no secret_env or secret_file", p.Name)
	}
	b, err := os.ReadFile(p.SecretFile)
	if err != nil {
		return "", fmt.Errorf("provider %q: secret_file: %w", p.Name, err)
	}
	if v := strings.TrimSpace(string(b)); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("provider %q: secret_file %s is empty", p.Name, p.SecretFile)
}

// secret checks that the provider names where its secret is (what it is
// for the provider's type), never the secret itself.
func (pc *providerCheck) secret(f string, p DeliveryProvider, what string) {
	if p.SecretEnv == "" && p.SecretFile == "" {
		pc.addf("%s: type %s needs secret_env or secret_file (the %s; never in the YAML)", f, p.Type, what)
	}
	pc.env(f+".secret_env", p.SecretEnv)
}

func (pc *providerCheck) env(field, name string) {
	if name != "" && !pc.envName.MatchString(name) {
		pc.addf("%s: %q is not an environment variable name", field, name)
	}
}

func (pc *providerCheck) url(field, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		pc.addf("%s: %q is not an http(s) URL", field, raw)
	}
}

func (pc *providerCheck) twilio(f string, p DeliveryProvider) {
	pc.secret(f, p, "auth token")
	if p.URL != "" {
		pc.url(f+".url", p.URL)
	}
	o := p.Twilio
	if o == nil {
		pc.addf("%s.twilio: type twilio needs a twilio section (account_sid, from or messaging_service_sid)", f)
		return
	}
	f += ".twilio"
	switch {
	case o.AccountSID == "" && o.AccountSIDEnv == "":
		pc.addf("%s: account_sid or account_sid_env is needed", f)
	case o.AccountSID != "" && o.AccountSIDEnv != "":
		pc.addf("%s: account_sid and account_sid_env are both set: give one", f)
	case o.AccountSID != "" && !pc.accountSID.MatchString(o.AccountSID):
		pc.addf("%s.account_sid: %q is not a Twilio account SID (AC and 32 hex digits)", f, o.AccountSID)
	}
	pc.env(f+".account_sid_env", o.AccountSIDEnv)
	if o.From == "" && o.MessagingServiceSID == "" {
		pc.addf("%s: from or messaging_service_sid is needed", f)
	}
	if o.From != "" && !pc.e164.MatchString(o.From) && !pc.senderID.MatchString(o.From) {
		pc.addf("%s.from: %q is neither an E.164 number nor an alphanumeric sender ID (up to 11 letters, digits and spaces)", f, o.From)
	}
	if o.MessagingServiceSID != "" && !pc.serviceSID.MatchString(o.MessagingServiceSID) {
		pc.addf("%s.messaging_service_sid: %q is not a messaging service SID (MG and 32 hex digits)", f, o.MessagingServiceSID)
	}
	if o.StatusCallback != "" {
		pc.url(f+".status_callback", o.StatusCallback)
	}
}

func (pc *providerCheck) tencentCloud(f string, p DeliveryProvider) {
	pc.secret(f, p, "SecretKey")
	if p.URL != "" {
		pc.url(f+".url", p.URL)
	}
	o := p.TencentCloud
	if o == nil {
		pc.addf("%s.tencentcloud: type tencentcloud needs a tencentcloud section (region, sms_sdk_app_id, sign_name, secret_id_env, templates)", f)
		return
	}
	f += ".tencentcloud"
	if !pc.region.MatchString(o.Region) {
		pc.addf("%s.region: %q is not a Tencent Cloud region such as ap-guangzhou", f, o.Region)
	}
	if !pc.digits.MatchString(o.SmsSdkAppID) {
		pc.addf("%s.sms_sdk_app_id: %q is not an SmsSdkAppId (digits, e.g. \"1400006666\")", f, o.SmsSdkAppID)
	}
	if strings.TrimSpace(o.SignName) == "" {
		pc.addf("%s.sign_name: the approved signature is needed", f)
	}
	if o.SecretIDEnv == "" {
		pc.addf("%s.secret_id_env: the variable that holds the SecretId is needed", f)
	}
	pc.env(f+".secret_id_env", o.SecretIDEnv)
	seen := map[[2]string]int{}
	for i, t := range o.Templates {
		tf := fmt.Sprintf("%s.templates[%d]", f, i)
		if t.Stage == "" || t.Locale == "" {
			pc.addf("%s: stage and locale are needed", tf)
		}
		key := [2]string{t.Stage, strings.ToLower(t.Locale)}
		if j, dup := seen[key]; dup {
			pc.addf("%s: stage %q, locale %q is also templates[%d]", tf, t.Stage, t.Locale, j)
		}
		seen[key] = i
		if !pc.digits.MatchString(t.TemplateID) {
			pc.addf("%s.template_id: %q is not a TemplateId (digits)", tf, t.TemplateID)
		}
		for j, name := range t.Params {
			if !slices.Contains(TencentCloudParams(), name) {
				pc.addf("%s.params[%d]: unknown parameter %q (one of %s)", tf, j, name, strings.Join(TencentCloudParams(), ", "))
			}
		}
	}
}

// tencentTemplates reports every stage and locale an SMS can be in that o
// has no template for. A stage sends SMS when sms is one of its channels or
// its fallback; a message is in the locale of the template it was rendered
// with: one that has a file sms/<stage>.<locale>.tmpl, or the default
// locale.
func (c *Config) tencentTemplates(pc *providerCheck, field string, o *TencentCloudOptions) {
	have := map[[2]string]bool{}
	for _, t := range o.Templates {
		have[[2]string{t.Stage, strings.ToLower(t.Locale)}] = true
	}
	locales := c.smsTemplateLocales()
	for _, s := range c.Stages {
		if !slices.Contains(s.Channels, "sms") && s.Fallback != "sms" {
			continue
		}
		seen := map[string]bool{}
		for _, loc := range append([]string{c.Templates.DefaultLocale}, locales[s.Name]...) {
			if loc == "" || seen[strings.ToLower(loc)] {
				continue
			}
			seen[strings.ToLower(loc)] = true
			if !have[[2]string{s.Name, strings.ToLower(loc)}] {
				pc.addf("%s: no template_id for stage %q in locale %q: SMS is routed to this provider, and Chinese carriers accept only approved templates", field, s.Name, loc)
			}
		}
	}
}

// smsTemplateLocales maps each stage to the locales of its SMS template
// files (templates.dir, or the built-in templates).
func (c *Config) smsTemplateLocales() map[string][]string {
	fsys := DefaultTemplates()
	if c.Templates.Dir != "" {
		fsys = os.DirFS(c.Templates.Dir)
	}
	out := map[string][]string{}
	files, _ := fs.Glob(fsys, "sms/*.tmpl") // an unreadable dir is templates.dir's problem
	for _, file := range files {
		stage, locale, ok := strings.Cut(strings.TrimSuffix(path.Base(file), ".tmpl"), ".")
		if ok && locale != "" {
			out[stage] = append(out[stage], locale)
		}
	}
	return out
}

func (pc *providerCheck) smtp(f string, p DeliveryProvider) {
	if p.URL != "" {
		pc.addf("%s.url: %q: an smtp provider takes smtp.host and smtp.port, not url", f, p.URL)
	}
	pc.env(f+".secret_env", p.SecretEnv)
	o := p.SMTP
	if o == nil {
		pc.addf("%s.smtp: type smtp needs an smtp section (host, from)", f)
		return
	}
	if (o.Username != "" || o.UsernameEnv != "") && p.SecretEnv == "" && p.SecretFile == "" {
		pc.addf("%s: an SMTP username needs a password: secret_env or secret_file", f)
	}
	f += ".smtp"
	if o.Host == "" {
		pc.addf("%s.host: the mail server is needed", f)
	}
	if o.Port < 0 || o.Port > 65535 {
		pc.addf("%s.port: %d is not a port", f, o.Port)
	}
	switch o.TLS {
	case "", SMTPStartTLS, SMTPImplicit:
	case SMTPNoTLS:
		if ip := net.ParseIP(o.Host); o.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			pc.addf("%s.tls: none is allowed only for a relay on the loopback interface, not %q: use starttls or implicit", f, o.Host)
		}
	default:
		pc.addf("%s.tls: %q must be starttls, implicit or none", f, o.TLS)
	}
	switch o.Auth {
	case "", "plain", "login":
	default:
		pc.addf("%s.auth: %q must be plain or login", f, o.Auth)
	}
	if o.Username != "" && o.UsernameEnv != "" {
		pc.addf("%s: username and username_env are both set: give one", f)
	}
	pc.env(f+".username_env", o.UsernameEnv)
	if a, err := mail.ParseAddress(o.From); err != nil {
		pc.addf("%s.from: %q is not an email address", f, o.From)
	} else if _, domain, _ := strings.Cut(a.Address, "@"); o.MessageIDDomain == "" && domain == "" {
		pc.addf("%s.from: %q has no domain for Message-ID: set message_id_domain", f, o.From)
	}
	if o.ReplyTo != "" {
		if _, err := mail.ParseAddress(o.ReplyTo); err != nil {
			pc.addf("%s.reply_to: %q is not an email address", f, o.ReplyTo)
		}
	}
	if o.CAFile != "" {
		if _, err := os.Stat(o.CAFile); err != nil {
			pc.addf("%s.ca_file: %v", f, err)
		}
	}
}

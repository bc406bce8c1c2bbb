package main

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/filebox"
	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
	"github.com/loanremind/loanremind/jobs/deliver/receipts"
	"github.com/loanremind/loanremind/jobs/deliver/smtp"
	"github.com/loanremind/loanremind/jobs/deliver/tencentcloud"
	"github.com/loanremind/loanremind/jobs/deliver/twilio"
)

// builtProviders are the configured providers, ready to send, and what
// closes them.
type builtProviders struct {
	list    []deliver.ProviderConfig
	byName  map[string]deliver.Provider
	closers []func() error
}

func (b *builtProviders) close() {
	for _, c := range b.closers {
		c()
	}
}

// buildProviders makes every configured provider, with its secret from
// the environment or a file. Anything missing is a configuration error
// (exit 2), found before the database is touched.
func buildProviders(cfg *config.Config, getenv func(string) string) (*builtProviders, error) {
	b := &builtProviders{byName: map[string]deliver.Provider{}}
	var problems []string
	for i, pc := range cfg.Delivery.Providers {
		field := fmt.Sprintf("delivery.providers[%d] (%s)", i, pc.Name)
		p, closer, err := buildProvider(field, pc, getenv)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if closer != nil {
			b.closers = append(b.closers, closer)
		}
		b.list = append(b.list, deliver.ProviderConfig{Provider: p, Rate: pc.Rate, MaxInFlight: pc.MaxInFlight})
		b.byName[pc.Name] = p
	}
	if len(problems) > 0 {
		b.close()
		return nil, &config.Error{Problems: problems}
	}
	return b, nil
}

// buildProvider makes one provider by its type.
func buildProvider(field string, pc config.DeliveryProvider, getenv func(string) string) (deliver.Provider, func() error, error) {
	switch pc.Type {
	case "http":
		secret, err := providerSecret(field, pc, getenv)
		if err != nil {
			return nil, nil, err
		}
		p, err := httpgw.New(httpgw.Options{Name: pc.Name, URL: pc.URL, Secret: secret, Timeout: pc.Timeout.Std(),
			MaxInFlight: pc.MaxInFlight})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", field, err)
		}
		return p, nil, nil
	case "file":
		p, err := filebox.New(pc.Name, pc.Path, time.Now)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.path: %v", field, err)
		}
		return p, p.Close, nil
	}
	p, err := newProvider(pc, getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", field, err)
	}
	return p, nil, nil
}

// providerSecret reads a provider's secret: from the environment variable
// secret_env names, or the file secret_file names. Its value is never
// printed.
func providerSecret(field string, pc config.DeliveryProvider, getenv func(string) string) ([]byte, error) {
	switch {
	case pc.SecretEnv != "":
		v := strings.TrimSpace(getenv(pc.SecretEnv))
		if v == "" {
			return nil, fmt.Errorf("%s.secret_env: the environment variable %s is not set", field, pc.SecretEnv)
		}
		return []byte(v), nil
	case pc.SecretFile != "":
		b, err := os.ReadFile(pc.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("%s.secret_file: %v", field, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return nil, fmt.Errorf("%s.secret_file: %s is empty", field, pc.SecretFile)
		}
		return []byte(v), nil
	}
	return nil, fmt.Errorf("%s: no secret_env or secret_file", field)
}

// receiptRoutes mounts the providers' receipt endpoints on the
// dispatcher's mux: POST /receipts/twilio for the twilio providers with a
// status_callback, POST /receipts/http for the http providers; each calls
// sink after checking the request's signature, and counts what it refuses
// in loanremind_receipts_rejected_total and the dispatcher's
// loanremind_receipts_total.
func receiptRoutes(cfg *config.Config, providers *builtProviders, sink deliver.ReceiptSink, metrics *deliver.Metrics,
	getenv func(string) string) (func(*http.ServeMux), error) {
	h, err := newReceiptsHandler(cfg.Delivery, sink, metrics.Registry, nil, metrics.Receipt, getenv)
	if err != nil {
		return nil, err
	}
	return func(mux *http.ServeMux) {
		if h != nil {
			mux.Handle("/receipts/", h)
		}
	}, nil
}

// newProvider builds a twilio, tencentcloud or smtp provider, its
// credentials read from the environment or files (getenv is the process's
// environment). An error is a configuration error: deliver exits 2.
func newProvider(p config.DeliveryProvider, getenv func(string) string) (deliver.Provider, error) {
	switch p.Type {
	case "twilio":
		return newTwilio(p, getenv)
	case "tencentcloud":
		return newTencentCloud(p, getenv)
	case "smtp":
		return newSMTP(p, getenv)
	default:
		return nil, fmt.Errorf("provider %q: unknown type %q (http, twilio, tencentcloud, smtp or file)", p.Name, p.Type)
	}
}

// envValue reads the variable name, an error naming the field when unset.
func envValue(getenv func(string) string, provider, field, name string) (string, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return "", fmt.Errorf("provider %q: %s %s is not set", provider, field, name)
	}
	return v, nil
}

func twilioAccountSID(p config.DeliveryProvider, getenv func(string) string) (string, error) {
	if p.Twilio.AccountSIDEnv != "" {
		return envValue(getenv, p.Name, "twilio.account_sid_env", p.Twilio.AccountSIDEnv)
	}
	return p.Twilio.AccountSID, nil
}

func newTwilio(p config.DeliveryProvider, getenv func(string) string) (deliver.Provider, error) {
	if p.Twilio == nil {
		return nil, fmt.Errorf("provider %q: no twilio section", p.Name)
	}
	token, err := p.Secret(getenv)
	if err != nil {
		return nil, err
	}
	sid, err := twilioAccountSID(p, getenv)
	if err != nil {
		return nil, err
	}
	return twilio.New(twilio.Options{
		Name: p.Name, BaseURL: p.URL, AccountSID: sid, AuthToken: token,
		From: p.Twilio.From, MessagingServiceSID: p.Twilio.MessagingServiceSID,
		StatusCallback: p.Twilio.StatusCallback, Timeout: p.Timeout.Std(),
	})
}

func newTencentCloud(p config.DeliveryProvider, getenv func(string) string) (deliver.Provider, error) {
	o := p.TencentCloud
	if o == nil {
		return nil, fmt.Errorf("provider %q: no tencentcloud section", p.Name)
	}
	key, err := p.Secret(getenv)
	if err != nil {
		return nil, err
	}
	id, err := envValue(getenv, p.Name, "tencentcloud.secret_id_env", o.SecretIDEnv)
	if err != nil {
		return nil, err
	}
	templates := make([]tencentcloud.Template, len(o.Templates))
	for i, t := range o.Templates {
		templates[i] = tencentcloud.Template{Stage: t.Stage, Locale: t.Locale, TemplateID: t.TemplateID, Params: t.ParamsOrDefault()}
	}
	return tencentcloud.New(tencentcloud.Options{
		Name: p.Name, Endpoint: p.URL, Region: o.Region, SmsSdkAppID: o.SmsSdkAppID, SignName: o.SignName,
		SecretID: id, SecretKey: key, Templates: templates, Timeout: p.Timeout.Std(),
	})
}

func newSMTP(p config.DeliveryProvider, getenv func(string) string) (deliver.Provider, error) {
	o := p.SMTP
	if o == nil {
		return nil, fmt.Errorf("provider %q: no smtp section", p.Name)
	}
	opts := smtp.Options{
		Name: p.Name, Host: o.Host, Port: o.Port, TLS: o.TLS, Auth: o.Auth, Username: o.Username,
		From: o.From, ReplyTo: o.ReplyTo, HELO: o.HELO, MessageIDDomain: o.MessageIDDomain, Timeout: p.Timeout.Std(),
	}
	if o.UsernameEnv != "" {
		u, err := envValue(getenv, p.Name, "smtp.username_env", o.UsernameEnv)
		if err != nil {
			return nil, err
		}
		opts.Username = u
	}
	if opts.Username != "" {
		pass, err := p.Secret(getenv)
		if err != nil {
			return nil, err
		}
		opts.Password = pass
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("provider %q: smtp.ca_file: %w", p.Name, err)
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("provider %q: smtp.ca_file %s holds no PEM certificate", p.Name, o.CAFile)
		}
	}
	return smtp.New(opts)
}

// newReceiptsHandler builds POST /receipts/twilio and /receipts/http for
// the long-running dispatcher's server: Twilio's callbacks are accepted
// for every twilio provider with a status_callback, the gateway's for
// every http provider, each checked with that provider's credentials.
// It returns nil when no provider sends receipts.
//
// onReject, if not nil, is told of each refused receipt (the endpoint, and
// receipts.RejectBadSignature or RejectMalformed).
func newReceiptsHandler(d config.Delivery, sink deliver.ReceiptSink, reg prometheus.Registerer, log *logrus.Entry,
	onReject func(endpoint, reason string), getenv func(string) string) (http.Handler, error) {
	o := receipts.Options{OnReject: onReject}
	for _, p := range d.Providers {
		switch {
		case p.Type == "twilio" && p.Twilio != nil && p.Twilio.StatusCallback != "":
			token, err := p.Secret(getenv)
			if err != nil {
				return nil, err
			}
			o.Twilio = append(o.Twilio, receipts.TwilioAccount{Provider: p.Name, AuthToken: token, CallbackURL: p.Twilio.StatusCallback})
		case p.Type == "http":
			secret, err := p.Secret(getenv)
			if err != nil {
				return nil, err
			}
			o.Gateways = append(o.Gateways, receipts.Gateway{Provider: p.Name, Secret: secret})
		}
	}
	if len(o.Twilio) == 0 && len(o.Gateways) == 0 {
		return nil, nil
	}
	o.Registerer, o.Log = reg, log
	h, err := receipts.NewHandler(sink, o)
	if err != nil {
		return nil, err
	}
	return h, nil
}

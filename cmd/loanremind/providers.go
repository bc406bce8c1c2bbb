package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/filebox"
	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
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
	return nil, nil, fmt.Errorf("%s.type: %q cannot be built by this version", field, pc.Type)
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
// dispatcher's mux: each calls sink after checking the request's
// signature. (POST /receipts/http and /receipts/twilio are added with
// their providers.)
func receiptRoutes(cfg *config.Config, providers *builtProviders, sink deliver.ReceiptSink, metrics *deliver.Metrics,
	getenv func(string) string) (func(*http.ServeMux), error) {
	return func(mux *http.ServeMux) {}, nil
}

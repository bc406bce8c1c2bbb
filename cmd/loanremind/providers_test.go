package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs/deliver"
)

// providersYAML configures one provider of each type this file builds.
const providersYAML = `
delivery:
  providers:
    - name: carrier
      type: twilio
      url: http://127.0.0.1:1
      secret_env: TWILIO_TOKEN
      twilio:
        account_sid_env: TWILIO_SID
        from: "+15557122661"
        status_callback: https://loanremind.lender.example/receipts/twilio
    - name: cn-sms
      type: tencentcloud
      secret_file: SECRET_FILE
      tencentcloud:
        region: ap-guangzhou
        sms_sdk_app_id: "1400006666"
        sign_name: 安心金融
        secret_id_env: TC_ID
        templates:
          - {stage: due_today, locale: zh-CN, template_id: "1"}
    - name: mail
      type: smtp
      secret_env: SMTP_PASSWORD
      smtp:
        host: smtp.lender.example
        username_env: SMTP_USER
        from: reminders@anxin.example
`

func loadProviders(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "tc-key")
	if err := os.WriteFile(secret, []byte("tc-secret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(providersYAML, "SECRET_FILE", secret, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestNewProvider(t *testing.T) {
	cfg := loadProviders(t)
	env := map[string]string{
		"TWILIO_TOKEN": "f0e1d2c3b4a5968778695a4b3c2d1e0f", "TWILIO_SID": "AC0123456789abcdef0123456789abcdef",
		"TC_ID": "AKIDexample", "SMTP_USER": "reminders", "SMTP_PASSWORD": "pw",
	}
	for i, want := range []string{"twilio", "tencentcloud", "smtp"} {
		p := cfg.Delivery.Providers[i]
		t.Run(want, func(t *testing.T) {
			got, err := newProvider(p, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got.Type() != want || got.Name() != p.Name || got.Idempotent() {
				t.Errorf("provider %s %s idempotent %v", got.Type(), got.Name(), got.Idempotent())
			}
		})
		t.Run(want+" without credentials", func(t *testing.T) {
			_, err := newProvider(p, func(k string) string {
				if k == "TWILIO_SID" || k == "TC_ID" || k == "SMTP_USER" {
					return ""
				}
				return env[k]
			})
			if err == nil || !strings.Contains(err.Error(), p.Name) {
				t.Fatalf("error %v, want one naming provider %q", err, p.Name)
			}
			for _, v := range env {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error shows a credential: %v", err)
				}
			}
		})
	}
	if _, err := newProvider(config.DeliveryProvider{Name: "x", Type: "pigeon"}, os.Getenv); err == nil || !strings.Contains(err.Error(), `unknown type "pigeon"`) {
		t.Errorf("unknown type: %v", err)
	}
}

type discardSink struct{ got []deliver.ReceiptEvent }

func (s *discardSink) Receipt(_ context.Context, ev deliver.ReceiptEvent) error {
	s.got = append(s.got, ev)
	return nil
}

func TestNewReceiptsHandler(t *testing.T) {
	cfg := loadProviders(t)
	env := map[string]string{"TWILIO_TOKEN": "f0e1d2c3b4a5968778695a4b3c2d1e0f"}
	h, err := newReceiptsHandler(cfg.Delivery, &discardSink{}, prometheus.NewRegistry(), logrus.NewEntry(logrus.New()), nil, func(k string) string { return env[k] })
	if err != nil || h == nil {
		t.Fatalf("handler %v, %v", h, err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/receipts/twilio", strings.NewReader("MessageSid=SM1&MessageStatus=delivered")))
	if w.Code != http.StatusForbidden {
		t.Errorf("an unsigned callback: %d, want 403", w.Code)
	}
	none := config.Delivery{Providers: cfg.Delivery.Providers[1:]}
	if h, err := newReceiptsHandler(none, &discardSink{}, nil, nil, nil, os.Getenv); h != nil || err != nil {
		t.Errorf("without a provider that sends receipts: %v, %v; want nil, nil", h, err)
	}
	if _, err := newReceiptsHandler(cfg.Delivery, &discardSink{}, nil, nil, nil, func(string) string { return "" }); err == nil {
		t.Error("a twilio provider without its auth token was accepted")
	}
}

// An SMS route to tencentcloud without a TemplateId for a stage and locale
// the job sends SMS in is a configuration error: exit 2 before anything
// starts, naming what is missing.
func TestTencentCloudMissingTemplateExits2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := providersYAML[:strings.Index(providersYAML, "    - name: mail")] + "  routes: {sms: cn-sms}\n"
	yaml = strings.Replace(yaml, "SECRET_FILE", "/run/secrets/tc", 1)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, context.Background(), map[string]string{}, "config", "--config", path)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	for _, want := range []string{`no template_id for stage "overdue_7d" in locale "zh-CN"`, `stage "upcoming_3d" in locale "en-US"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, r.stderr)
		}
	}
}

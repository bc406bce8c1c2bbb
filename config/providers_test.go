package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	twilioOK = `
    - name: carrier
      type: twilio
      secret_env: LOANREMIND_TWILIO_AUTH_TOKEN
      twilio:
        account_sid: AC0123456789abcdef0123456789abcdef
        from: "+15005550006"
        status_callback: https://loanremind.lender.example/receipts/twilio
`
	smtpOK = `
    - name: mail
      type: smtp
      secret_env: LOANREMIND_SMTP_PASSWORD
      smtp:
        host: smtp.lender.example
        username: reminders
        from: "Anxin Finance <reminders@anxin.example>"
        reply_to: service@anxin.example
`
)

// tencentOK is a tencentcloud provider with a template for every stage and
// locale of the built-in SMS templates.
func tencentOK() string {
	var b strings.Builder
	b.WriteString(`
    - name: cn-sms
      type: tencentcloud
      url: https://sms.tencentcloudapi.com
      secret_env: LOANREMIND_TENCENTCLOUD_SECRET_KEY
      tencentcloud:
        region: ap-guangzhou
        sms_sdk_app_id: "1400006666"
        sign_name: 安心金融
        secret_id_env: LOANREMIND_TENCENTCLOUD_SECRET_ID
        templates:
`)
	id := 1000
	for _, stage := range []string{"upcoming_3d", "due_today", "overdue_1d", "overdue_7d", "overdue_30d"} {
		for _, locale := range []string{"zh-CN", "en-US"} {
			id++
			fmt.Fprintf(&b, "          - {stage: %s, locale: %s, template_id: \"%d\", params: [account_tail, amount, days_overdue]}\n", stage, locale, id)
		}
	}
	return b.String()
}

func loadYAML(t *testing.T, text string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, noEnv)
}

func delivery(providers string, routes string) string {
	return "delivery:\n  providers:" + providers + "  routes: {" + routes + "}\n"
}

func TestProviderSectionsLoad(t *testing.T) {
	c, err := loadYAML(t, delivery(twilioOK+smtpOK+tencentOK(), "sms: cn-sms, email: mail"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Delivery.Providers
	if len(p) != 3 || p[0].Twilio == nil || p[1].SMTP == nil || p[2].TencentCloud == nil {
		t.Fatalf("providers = %+v", p)
	}
	if got := p[0].Twilio.StatusCallback; got != "https://loanremind.lender.example/receipts/twilio" {
		t.Errorf("status_callback = %q", got)
	}
	if got := p[2].TencentCloud.Templates[7]; got.Stage != "overdue_7d" || got.Locale != "en-US" || got.TemplateID != "1008" {
		t.Errorf("templates[7] = %+v", got)
	}
	want := []string{"LOANREMIND_SMTP_PASSWORD", "LOANREMIND_TENCENTCLOUD_SECRET_ID", "LOANREMIND_TENCENTCLOUD_SECRET_KEY", "LOANREMIND_TWILIO_AUTH_TOKEN"}
	if got := c.Delivery.EnvVars(); !slices.Equal(got, want) {
		t.Errorf("EnvVars() = %q, want %q", got, want)
	}
	if got := (TencentCloudTemplate{}).ParamsOrDefault(); !slices.Equal(got, []string{"account_tail", "amount", "due_date"}) {
		t.Errorf("default params = %q", got)
	}
}

func TestProviderProblems(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"twilio without section or secret", delivery("\n    - {name: t, type: twilio}\n", "sms: t"),
			[]string{"delivery.providers[0]: type twilio needs secret_env or secret_file", "delivery.providers[0].twilio: type twilio needs a twilio section"}},
		{"twilio bad keys", delivery(`
    - name: t
      type: twilio
      secret_file: /run/secrets/twilio
      url: ftp://x
      twilio: {account_sid: AC12, from: "not a number!", messaging_service_sid: MGxyz, status_callback: "/receipts"}
`, "sms: t"), []string{
			`delivery.providers[0].url: "ftp://x" is not an http(s) URL`,
			`delivery.providers[0].twilio.account_sid: "AC12" is not a Twilio account SID`,
			`delivery.providers[0].twilio.from: "not a number!" is neither an E.164 number nor an alphanumeric sender ID`,
			`delivery.providers[0].twilio.messaging_service_sid: "MGxyz" is not a messaging service SID`,
			`delivery.providers[0].twilio.status_callback: "/receipts" is not an http(s) URL`}},
		{"twilio needs a sender and one account", delivery(`
    - name: t
      type: twilio
      secret_env: "BAD NAME"
      twilio: {account_sid: AC0123456789abcdef0123456789abcdef, account_sid_env: TWILIO_SID}
`, "sms: t"), []string{
			`delivery.providers[0].secret_env: "BAD NAME" is not an environment variable name`,
			"delivery.providers[0].twilio: account_sid and account_sid_env are both set",
			"delivery.providers[0].twilio: from or messaging_service_sid is needed"}},
		{"twilio carries no email", delivery(twilioOK, "email: carrier"),
			[]string{`delivery.routes.email: provider "carrier" is of type twilio, which sends SMS only`}},
		{"smtp carries no sms", delivery(smtpOK, "sms: mail"),
			[]string{`delivery.routes.sms: provider "mail" is of type smtp, which sends email only`}},
		{"section of another type", delivery(`
    - name: m
      type: smtp
      smtp: {host: localhost, tls: none, from: a@b.example}
      twilio: {from: "+15005550006"}
`, "email: m"), []string{`delivery.providers[0].twilio: a twilio section in a provider of type "smtp"`}},
		{"smtp bad keys", delivery(`
    - name: m
      type: smtp
      url: smtp://x
      smtp: {host: mail.example, port: 70000, tls: ssl, auth: cram-md5, username: u, from: "nobody", reply_to: "@@", ca_file: /nonexistent/ca.pem}
`, "email: m"), []string{
			`delivery.providers[0].url: "smtp://x": an smtp provider takes smtp.host and smtp.port, not url`,
			"delivery.providers[0]: an SMTP username needs a password: secret_env or secret_file",
			"delivery.providers[0].smtp.port: 70000 is not a port",
			`delivery.providers[0].smtp.tls: "ssl" must be starttls, implicit or none`,
			`delivery.providers[0].smtp.auth: "cram-md5" must be plain or login`,
			`delivery.providers[0].smtp.from: "nobody" is not an email address`,
			`delivery.providers[0].smtp.reply_to: "@@" is not an email address`,
			"delivery.providers[0].smtp.ca_file: stat /nonexistent/ca.pem"}},
		{"smtp without TLS off the loopback", delivery(`
    - name: m
      type: smtp
      smtp: {host: mail.example, tls: none, from: a@b.example}
`, "email: m"), []string{`delivery.providers[0].smtp.tls: none is allowed only for a relay on the loopback interface, not "mail.example"`}},
		{"tencentcloud bad keys", delivery(`
    - name: cn
      type: tencentcloud
      secret_env: K
      tencentcloud:
        region: Guangzhou
        sms_sdk_app_id: app
        secret_id_env: ""
        templates:
          - {stage: due_today, locale: zh-CN, template_id: "12", params: [amount, phone]}
          - {stage: due_today, locale: zh-cn, template_id: T1}
`, ""), []string{
			`delivery.providers[0].tencentcloud.region: "Guangzhou" is not a Tencent Cloud region`,
			`delivery.providers[0].tencentcloud.sms_sdk_app_id: "app" is not an SmsSdkAppId`,
			"delivery.providers[0].tencentcloud.sign_name: the approved signature is needed",
			"delivery.providers[0].tencentcloud.secret_id_env: the variable that holds the SecretId is needed",
			`delivery.providers[0].tencentcloud.templates[0].params[1]: unknown parameter "phone"`,
			`delivery.providers[0].tencentcloud.templates[1]: stage "due_today", locale "zh-cn" is also templates[0]`,
			`delivery.providers[0].tencentcloud.templates[1].template_id: "T1" is not a TemplateId`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yaml)
			if err == nil {
				t.Fatal("loaded a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// A route to a tencentcloud provider needs a TemplateId for every stage
// that sends SMS in every locale its messages can be in; the problem names
// each missing one, and the configuration does not load (exit 2).
func TestTencentCloudRouteNeedsEveryTemplate(t *testing.T) {
	full := tencentOK()
	missing := strings.Replace(full, "          - {stage: overdue_7d, locale: en-US, template_id: \"1008\", params: [account_tail, amount, days_overdue]}\n", "", 1)
	if missing == full {
		t.Fatal("test setup: the overdue_7d en-US line was not removed")
	}
	t.Run("all templates", func(t *testing.T) {
		if _, err := loadYAML(t, delivery(full, "sms: cn-sms")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one missing", func(t *testing.T) {
		_, err := loadYAML(t, delivery(missing, "sms: cn-sms"))
		want := `delivery.providers[0].tencentcloud.templates: no template_id for stage "overdue_7d" in locale "en-US"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v\ndoes not mention %q", err, want)
		}
		if n := strings.Count(err.Error(), "no template_id"); n != 1 {
			t.Errorf("%d missing templates reported, want 1:\n%v", n, err)
		}
	})
	t.Run("not routed", func(t *testing.T) {
		if _, err := loadYAML(t, delivery(missing, "")); err != nil {
			t.Fatalf("an unrouted provider's templates are not checked: %v", err)
		}
	})
	t.Run("a stage without SMS needs none", func(t *testing.T) {
		stages := "stages:\n  - {name: due_today, days_from_due: 0, channels: [email], expires_after: 5d}\n"
		one := strings.Split(full, "        templates:\n")[0] + "        templates: []\n"
		if _, err := loadYAML(t, stages+delivery(one, "sms: cn-sms")); err != nil {
			t.Fatal(err)
		}
		withFallback := strings.Replace(stages, "[email]", "[email], fallback: sms", 1)
		_, err := loadYAML(t, withFallback+delivery(one, "sms: cn-sms"))
		if err == nil || !strings.Contains(err.Error(), `stage "due_today" in locale "zh-CN"`) || !strings.Contains(err.Error(), `stage "due_today" in locale "en-US"`) {
			t.Fatalf("a stage with SMS as fallback: error %v", err)
		}
	})
	t.Run("locales of templates.dir", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "sms"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"due_today.zh-CN.tmpl", "due_today.ne-NP.tmpl"} {
			if err := os.WriteFile(filepath.Join(dir, "sms", name), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		stages := "stages:\n  - {name: due_today, days_from_due: 0, channels: [sms], expires_after: 5d}\n"
		cfg := stages + "templates: {dir: " + dir + "}\n" + delivery(full, "sms: cn-sms")
		_, err := loadYAML(t, cfg)
		if err == nil || !strings.Contains(err.Error(), `stage "due_today" in locale "ne-NP"`) {
			t.Fatalf("error %v does not ask for the ne-NP template", err)
		}
	})
}

func TestProviderSecret(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(name string) string {
		if name == "SET" {
			return " from-env "
		}
		return ""
	}
	for _, tc := range []struct {
		name     string
		p        DeliveryProvider
		want     string
		wantErrs string
	}{
		{"env", DeliveryProvider{Name: "p", SecretEnv: "SET"}, "from-env", ""},
		{"env wins over file", DeliveryProvider{Name: "p", SecretEnv: "SET", SecretFile: file}, "from-env", ""},
		{"file when env unset", DeliveryProvider{Name: "p", SecretEnv: "UNSET", SecretFile: file}, "from-file", ""},
		{"env unset", DeliveryProvider{Name: "p", SecretEnv: "UNSET"}, "", `provider "p": secret_env UNSET is not set`},
		{"empty file", DeliveryProvider{Name: "p", SecretFile: empty}, "", "is empty"},
		{"missing file", DeliveryProvider{Name: "p", SecretFile: file + ".missing"}, "", "no such file"},
		{"none", DeliveryProvider{Name: "p"}, "", "no secret_env or secret_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Secret(env)
			if tc.wantErrs != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrs) {
					t.Fatalf("Secret() = %q, %v; want an error with %q", got, err, tc.wantErrs)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Secret() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

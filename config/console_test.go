package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the error; none: valid
	}{
		{name: "design example", yaml: `
console:
  listen: ":8080"
  base_url: https://compliance.lender.internal
  session_idle_timeout: 15m
  auth:
    mode: oidc
    oidc:
      issuer: https://idp.lender.internal
      client_id: loanremind-console
      client_secret_env: LOANREMIND_CONSOLE_OIDC_SECRET
      groups_claim: groups
    proxy:
      trusted_cidrs: [10.0.0.0/8]
      user_header: X-Forwarded-Email
      groups_header: X-Forwarded-Groups
  roles:
    viewer: [compliance]
    investigator: [compliance-investigators]
`},
		{name: "bad values", yaml: `
console:
  listen: "8080"
  base_url: compliance.lender.internal/path
  session_idle_timeout: 0s
  auth:
    mode: saml
    oidc:
      issuer: idp
      client_secret_env: "NOT A NAME"
    proxy:
      trusted_cidrs: [10.0.0.0/33, 192.168.1.7]
      user_header: "X Forwarded"
  roles:
    viewer: ["a,b"]
`, want: []string{
			`console.listen: "8080"`, `console.base_url: "compliance.lender.internal/path"`,
			"console.session_idle_timeout", `console.auth.mode: "saml"`, `console.auth.oidc.issuer: "idp"`,
			`console.auth.oidc.client_secret_env: "NOT A NAME"`, `console.auth.proxy.trusted_cidrs[0]: "10.0.0.0/33"`,
			`console.auth.proxy.user_header: "X Forwarded"`, `console.roles.viewer[0]: "a,b"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, noEnv)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestConsoleValidateServing(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name   string
		edit   func(*Console)
		getenv map[string]string
		want   []string
	}{
		{name: "defaults need an identity provider", edit: func(*Console) {},
			want: []string{"console.auth.oidc.issuer: required", "console.base_url: required", `"LOANREMIND_CONSOLE_OIDC_SECRET"`}},
		{name: "oidc complete", edit: func(c *Console) {
			c.Auth.OIDC.Issuer, c.BaseURL = "https://idp.example", "https://console.example"
		}, getenv: map[string]string{"LOANREMIND_CONSOLE_OIDC_SECRET": "s"}},
		{name: "proxy needs trusted addresses", edit: func(c *Console) { c.Auth.Mode = ConsoleAuthProxy },
			want: []string{"console.auth.proxy.trusted_cidrs: required"}},
		{name: "proxy complete", edit: func(c *Console) {
			c.Auth.Mode, c.Auth.Proxy.TrustedCIDRs = ConsoleAuthProxy, []string{"127.0.0.1/32"}
		}},
		{name: "no roles", edit: func(c *Console) {
			c.Auth.Mode, c.Auth.Proxy.TrustedCIDRs = ConsoleAuthProxy, []string{"127.0.0.1/32"}
			c.Roles = ConsoleRoles{}
		}, want: []string{"console.roles: no group holds a role"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default().Console
			tc.edit(&c)
			err := c.ValidateServing(env(tc.getenv))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("valid")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestTrustedPrefixes(t *testing.T) {
	t.Parallel()
	p := ConsoleProxy{TrustedCIDRs: []string{"10.1.2.3/8", "192.168.1.7", "::1"}}
	got, err := p.TrustedPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128"}
	for i, w := range want {
		if got[i].String() != w {
			t.Errorf("prefix %d = %s, want %s", i, got[i], w)
		}
	}
}

package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Console configures `loanremind console`, the compliance console: where
// it listens, how staff sign in and which identity-provider groups hold
// which role.
type Console struct {
	// Listen is the address of the console (`--listen` overrides it).
	Listen string `yaml:"listen" json:"listen"`
	// BaseURL is the URL staff open, without a trailing slash; OIDC
	// redirects come back to BaseURL + "/callback". Required with oidc.
	BaseURL string `yaml:"base_url" json:"base_url"`
	// SessionIdleTimeout signs a session out after this long without a
	// request (PCI DSS 8.2.8: 15 minutes).
	SessionIdleTimeout Duration    `yaml:"session_idle_timeout" json:"session_idle_timeout"`
	Auth               ConsoleAuth `yaml:"auth" json:"auth"`
	// Roles maps each role to the identity-provider groups that hold it.
	Roles ConsoleRoles `yaml:"roles" json:"roles"`
}

// ConsoleAuth says how staff sign in.
type ConsoleAuth struct {
	// Mode is oidc (authorization code with PKCE against the lender's
	// identity provider) or proxy (behind oauth2-proxy or an ingress that
	// authenticates and passes the user and groups in headers).
	Mode  string       `yaml:"mode" json:"mode"`
	OIDC  ConsoleOIDC  `yaml:"oidc" json:"oidc"`
	Proxy ConsoleProxy `yaml:"proxy" json:"proxy"`
}

// ConsoleOIDC is the identity provider of the oidc mode.
type ConsoleOIDC struct {
	Issuer   string `yaml:"issuer" json:"issuer"`
	ClientID string `yaml:"client_id" json:"client_id"`
	// ClientSecretEnv names the environment variable holding the client
	// secret: it never appears in the file.
	ClientSecretEnv string `yaml:"client_secret_env" json:"client_secret_env"`
	// GroupsClaim is the ID token claim listing the user's groups.
	GroupsClaim string `yaml:"groups_claim" json:"groups_claim"`
}

// ConsoleProxy is the authenticating proxy of the proxy mode.
type ConsoleProxy struct {
	// TrustedCIDRs are the addresses the proxy connects from: the user
	// and groups headers of any other peer are ignored (401).
	TrustedCIDRs []string `yaml:"trusted_cidrs" json:"trusted_cidrs"`
	UserHeader   string   `yaml:"user_header" json:"user_header"`
	// GroupsHeader holds the user's groups, comma-separated.
	GroupsHeader string `yaml:"groups_header" json:"groups_header"`
}

// ConsoleRoles lists the groups of each role. A user in a group of both
// is an investigator; a user in neither may sign in but sees nothing
// (403).
type ConsoleRoles struct {
	// Viewer sees everything, personal data masked.
	Viewer []string `yaml:"viewer" json:"viewer"`
	// Investigator may also reveal one borrower's contact data or one
	// message's text, or export unmasked, for a typed reason recorded in
	// the audit events first.
	Investigator []string `yaml:"investigator" json:"investigator"`
}

// Console authentication modes.
const (
	ConsoleAuthOIDC  = "oidc"
	ConsoleAuthProxy = "proxy"
)

func defaultConsole() Console {
	return Console{
		Listen:             ":8080",
		SessionIdleTimeout: Duration(15 * time.Minute),
		Auth: ConsoleAuth{
			Mode: ConsoleAuthOIDC,
			OIDC: ConsoleOIDC{
				ClientID:        "loanremind-console",
				ClientSecretEnv: "LOANREMIND_CONSOLE_OIDC_SECRET",
				GroupsClaim:     "groups",
			},
			Proxy: ConsoleProxy{
				TrustedCIDRs: []string{},
				UserHeader:   "X-Forwarded-Email",
				GroupsHeader: "X-Forwarded-Groups",
			},
		},
		Roles: ConsoleRoles{
			Viewer:       []string{"compliance"},
			Investigator: []string{"compliance-investigators"},
		},
	}
}

// TrustedPrefixes parses Proxy.TrustedCIDRs (validated: no error then).
func (p ConsoleProxy) TrustedPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(p.TrustedCIDRs))
	for i, c := range p.TrustedCIDRs {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			// A bare address trusts that one address.
			addr, aerr := netip.ParseAddr(strings.TrimSpace(c))
			if aerr != nil {
				return nil, fmt.Errorf("console.auth.proxy.trusted_cidrs[%d]: %q is not a CIDR such as 10.0.0.0/8", i, c)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// validateConsole checks the console's keys that any command reads the
// same way; what only a running console needs (an issuer, a trusted
// proxy) is checked by ValidateServing.
func (c *Config) validateConsole(v *validator) {
	cc := &c.Console
	if _, _, err := net.SplitHostPort(cc.Listen); err != nil {
		v.addf("console.listen: %q is not host:port (e.g. :8080)", cc.Listen)
	}
	if cc.BaseURL != "" {
		if u, err := url.Parse(cc.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			v.addf("console.base_url: %q is not an http(s) URL without a path, such as https://compliance.lender.internal", cc.BaseURL)
		}
	}
	v.positive("console.session_idle_timeout", cc.SessionIdleTimeout)
	switch cc.Auth.Mode {
	case ConsoleAuthOIDC, ConsoleAuthProxy:
	default:
		v.addf("console.auth.mode: %q must be oidc or proxy", cc.Auth.Mode)
	}
	if o := cc.Auth.OIDC; o.Issuer != "" {
		if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.addf("console.auth.oidc.issuer: %q is not an http(s) URL", o.Issuer)
		}
	}
	envName := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	if s := cc.Auth.OIDC.ClientSecretEnv; s != "" && !envName.MatchString(s) {
		v.addf("console.auth.oidc.client_secret_env: %q is not an environment variable name", s)
	}
	if _, err := cc.Auth.Proxy.TrustedPrefixes(); err != nil {
		v.addf("%v", err)
	}
	header := regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	for field, h := range map[string]string{
		"console.auth.proxy.user_header":   cc.Auth.Proxy.UserHeader,
		"console.auth.proxy.groups_header": cc.Auth.Proxy.GroupsHeader,
	} {
		if !header.MatchString(h) {
			v.addf("%s: %q is not an HTTP header name", field, h)
		}
	}
	for role, groups := range map[string][]string{"viewer": cc.Roles.Viewer, "investigator": cc.Roles.Investigator} {
		for i, g := range groups {
			if strings.TrimSpace(g) == "" || strings.Contains(g, ",") {
				v.addf("console.roles.%s[%d]: %q is not a group name (not blank, no comma)", role, i, g)
			}
		}
	}
}

// ValidateServing checks what `loanremind console` needs beyond what
// Validate checks for every command: an address (--listen may have
// replaced it); with oidc, an issuer, a client id, a
// base URL and the client secret (getenv reads the variable
// client_secret_env names); with proxy, at least one trusted address; and
// at least one group with a role. Its errors name the field.
func (cc *Console) ValidateServing(getenv func(string) string) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if _, _, err := net.SplitHostPort(cc.Listen); err != nil {
		add("console.listen: %q is not host:port (e.g. :8080)", cc.Listen)
	}
	switch cc.Auth.Mode {
	case ConsoleAuthOIDC:
		if cc.Auth.OIDC.Issuer == "" {
			add("console.auth.oidc.issuer: required with auth mode oidc (the identity provider's URL)")
		}
		if cc.Auth.OIDC.ClientID == "" {
			add("console.auth.oidc.client_id: required with auth mode oidc")
		}
		if cc.BaseURL == "" {
			add("console.base_url: required with auth mode oidc (the identity provider redirects to base_url/callback)")
		}
		if env := cc.Auth.OIDC.ClientSecretEnv; env == "" || getenv(env) == "" {
			add("console.auth.oidc.client_secret_env: the environment variable %q holding the client secret is not set", env)
		}
		if cc.Auth.OIDC.GroupsClaim == "" {
			add("console.auth.oidc.groups_claim: required with auth mode oidc")
		}
	case ConsoleAuthProxy:
		if len(cc.Auth.Proxy.TrustedCIDRs) == 0 {
			add("console.auth.proxy.trusted_cidrs: required with auth mode proxy: the proxy's addresses (headers from anywhere else are ignored)")
		}
	}
	if len(cc.Roles.Viewer) == 0 && len(cc.Roles.Investigator) == 0 {
		add("console.roles: no group holds a role: nobody could use the console")
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

package config

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// envOverrides maps the environment variables that override deployment
// values to the field each sets. Values parse as the YAML key would.
func (c *Config) envOverrides() map[string]any {
	return map[string]any{
		"LOANREMIND_BUSINESS_TIME_ZONE":  &c.BusinessTimeZone,
		"LOANREMIND_DEFAULT_TIME_ZONE":   &c.DefaultTimeZone,
		"LOANREMIND_SCHEDULE":            &c.Schedule,
		"LOANREMIND_BATCH_SIZE":          &c.BatchSize,
		"LOANREMIND_LOCK_TIMEOUT":        &c.LockTimeout,
		"LOANREMIND_LOCK_KEY":            &c.LockKey,
		"LOANREMIND_STATEMENT_TIMEOUT":   &c.StatementTimeout,
		"LOANREMIND_TEMPLATES_DIR":       &c.Templates.Dir,
		"LOANREMIND_AUDIT_HMAC_KEY":      &c.Audit.HMACKey,
		"LOANREMIND_AUDIT_HMAC_KEY_FILE": &c.Audit.HMACKeyFile,
		"LOANREMIND_AUDIT_RETENTION":     &c.Audit.Retention,
		"LOANREMIND_LISTEN":              &c.Serve.Listen,
		"LOANREMIND_GRACE_PERIOD":        &c.Serve.GracePeriod,
		"LOANREMIND_PUSHGATEWAY":         &c.Metrics.Pushgateway,
		"LOANREMIND_LOG_FORMAT":          &c.Log.Format,
		"LOANREMIND_LOG_LEVEL":           &c.Log.Level,
	}
}

// EnvVars lists the environment variables that override configuration keys.
func EnvVars() []string {
	var c Config
	names := make([]string, 0, 16)
	for name := range c.envOverrides() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (c *Config) applyEnv(getenv func(string) string) error {
	var problems []string
	for _, name := range EnvVars() {
		v := getenv(name)
		if v == "" {
			continue
		}
		field := c.envOverrides()[name]
		if s, ok := field.(*string); ok {
			*s = v // strings verbatim: no YAML quoting surprises
			continue
		}
		var node yaml.Node
		if err := yaml.Unmarshal([]byte(v), &node); err != nil || len(node.Content) != 1 {
			problems = append(problems, fmt.Sprintf("%s: invalid value %q", name, v))
			continue
		}
		if err := node.Content[0].Decode(field); err != nil {
			msg := err.Error()
			msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  ")
			problems = append(problems, fmt.Sprintf("%s: invalid value %q: %s", name, v, msg))
		}
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

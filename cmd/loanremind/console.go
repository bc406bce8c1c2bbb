package main

import (
	"context"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/console"
)

func runConsole(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "console", "console [--listen ADDR]")
	cf := addConfigFlag(fs, e)
	dbURL := addDatabaseFlag(fs, e)
	listen := fs.String("listen", "", "`address` of the console (default: console.listen, :8080)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	if *listen != "" {
		s.cfg.Console.Listen = *listen
	}
	if err := s.cfg.Console.ValidateServing(e.getenv); err != nil {
		return err
	}
	cc, err := consoleConfig(s.cfg, s.jobs, e.getenv)
	if err != nil {
		return err
	}
	runner, closeDB, err := s.newRunner(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer closeDB()
	cc.Explainer = runner
	srv, err := console.New(ctx, cc, runner.DB.DB, logrus.NewEntry(s.log).WithField("component", "console"))
	if err != nil {
		return err
	}
	return srv.Serve(ctx, s.cfg.Console.Listen, nil)
}

// consoleConfig turns the configuration into the console's own; the
// Explainer is left to the caller.
func consoleConfig(cfg *config.Config, jc jobs.Config, getenv func(string) string) (console.Config, error) {
	c := cfg.Console
	trusted, err := c.Auth.Proxy.TrustedPrefixes()
	if err != nil {
		return console.Config{}, configErrorf("%v", err)
	}
	host, _ := os.Hostname()
	return console.Config{
		BaseURL:     c.BaseURL,
		IdleTimeout: c.SessionIdleTimeout.Std(),
		Auth:        c.Auth.Mode,
		OIDC: console.OIDCConfig{
			Issuer: c.Auth.OIDC.Issuer, ClientID: c.Auth.OIDC.ClientID,
			ClientSecret: getenv(c.Auth.OIDC.ClientSecretEnv), GroupsClaim: c.Auth.OIDC.GroupsClaim,
		},
		Proxy:              console.ProxyConfig{Trusted: trusted, UserHeader: c.Auth.Proxy.UserHeader, GroupsHeader: c.Auth.Proxy.GroupsHeader},
		ViewerGroups:       c.Roles.Viewer,
		InvestigatorGroups: c.Roles.Investigator,
		BusinessZone:       jc.Policy.BusinessZone,
		Hasher:             jc.Hasher,
		DefaultPhoneRegion: jc.DefaultPhoneRegion,
		Version:            jc.Version,
		Host:               host,
	}, nil
}

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

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
	return srv.Serve(ctx, s.cfg.Console.Listen)
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

// demoConsole serves the compliance console on the demo's database until
// interrupted: the console in proxy mode, in the database role
// loanremind_console, behind a small reverse proxy on listen that signs
// every request in as a demo investigator, as oauth2-proxy would.
func demoConsole(ctx context.Context, e *env, s *setup, runner *jobs.Runner, dbURL, listen string) error {
	cfg := *s.cfg
	cfg.Console.Auth.Mode = config.ConsoleAuthProxy
	cfg.Console.Auth.Proxy.TrustedCIDRs = []string{"127.0.0.1/32", "::1/128"}
	cc, err := consoleConfig(&cfg, s.jobs, e.getenv)
	if err != nil {
		return err
	}
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	db, err := openDB(ctx, dbURL+sep+"role=loanremind_console")
	if err != nil {
		return err
	}
	defer db.Close()
	cc.Explainer = &jobs.Runner{DB: db, Log: runner.Log, Config: runner.Config, Now: time.Now}
	srv, err := console.New(ctx, cc, db.DB, logrus.NewEntry(s.log).WithField("component", "console"))
	if err != nil {
		return err
	}
	front, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		front.Close()
		return err
	}
	target := &url.URL{Scheme: "http", Host: inner.Addr().String()}
	proxy := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Header.Set(cfg.Console.Auth.Proxy.UserHeader, "demo-investigator@localhost")
		r.Out.Header.Set(cfg.Console.Auth.Proxy.GroupsHeader, strings.Join(cfg.Console.Roles.Investigator, ","))
	}}}
	go proxy.Serve(front)
	defer proxy.Close()
	fmt.Fprintf(e.stdout, "\nThe compliance console, signed in as a demo investigator through proxy mode:\n  http://%s/\nStop it with Ctrl-C (the database keeps running).\n", front.Addr())
	return srv.ServeListener(ctx, inner)
}

// checkLoopback refuses a demo console address that is not a loopback
// one: the demo signs everyone in.
func checkLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if ip, perr := netip.ParseAddr(host); err != nil || perr != nil || !ip.IsLoopback() {
		return usageErrorf("--console-listen %q: want a loopback address such as 127.0.0.1:8080", listen)
	}
	return nil
}

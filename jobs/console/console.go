// Package console is the compliance console: the web application, served
// by `loanremind console`, in which compliance staff answer any question
// about a borrower, an installment, a message or a run. It renders HTML on
// the server with html/template from embedded templates and a stylesheet,
// with no script at all, in English or Chinese. Staff sign in through the
// lender's identity provider (OIDC, authorization code with PKCE) or an
// authenticating proxy; their groups give them a role: a viewer sees
// everything with personal data masked, an investigator may also reveal
// one borrower's contact data or one message's text, or export unmasked,
// for a reason that is recorded in the audit events before the data is
// shown. Every handler checks the role on the server; every POST carries a
// CSRF token; every response carries a strict Content-Security-Policy. The
// pages read through the typed queries of package queries, from indexes and
// run records: none scans the audit.
package console

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/pii"
)

// Authentication modes.
const (
	AuthOIDC  = "oidc"
	AuthProxy = "proxy"
)

// Config is what the console needs; cmd fills it from the configuration.
type Config struct {
	// BaseURL is the URL staff open (https://compliance.lender.internal);
	// OIDC redirects come back to BaseURL + "/callback". An https base URL
	// also turns on HSTS.
	BaseURL string
	// IdleTimeout signs a session out after this long without a request;
	// MaxSessionAge after this long whatever (default 12h).
	IdleTimeout   time.Duration
	MaxSessionAge time.Duration
	Auth          string // AuthOIDC or AuthProxy
	OIDC          OIDCConfig
	Proxy         ProxyConfig
	// ViewerGroups and InvestigatorGroups are the identity provider's
	// groups that hold each role.
	ViewerGroups, InvestigatorGroups []string
	// BusinessZone is where times are shown (and export dates reckoned).
	BusinessZone *time.Location
	// Hasher and DefaultPhoneRegion find a contact address's keyed hashes
	// as the job wrote them (phone.ContactHashes).
	Hasher             *pii.Hasher
	DefaultPhoneRegion string
	// Explainer explains an installment (the jobs.Runner).
	Explainer Explainer
	// SearchesPerMinute limits each user's searches (default 30, with
	// bursts of 10).
	SearchesPerMinute int
	Version           string
	// Host names the console's host in the events it records (PCI DSS
	// 10.2.2: origin).
	Host string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// OIDCConfig is the identity provider.
type OIDCConfig struct {
	Issuer, ClientID, ClientSecret string
	GroupsClaim                    string
	// HTTPClient talks to the provider (default http.DefaultClient).
	HTTPClient *http.Client
}

// ProxyConfig is the authenticating proxy.
type ProxyConfig struct {
	Trusted      []netip.Prefix
	UserHeader   string
	GroupsHeader string // comma-separated groups
}

// Explainer says why an installment was or was not reminded.
type Explainer interface {
	Explain(ctx context.Context, installmentID int64, asOf time.Time) (*jobs.Explanation, error)
}

// Server is the console.
type Server struct {
	cfg      Config
	db       *sql.DB
	log      *logrus.Entry
	sessions *sessionStore
	oidc     *oidcClient // nil in proxy mode
	pages    *pages
	limiter  *rateLimiter
	runs     *breakdownCache
	verifies chan struct{} // one verification at a time
	key      []byte        // keys proxy-mode CSRF tokens and log pseudonyms
}

// New checks the configuration and, in oidc mode, discovers the identity
// provider (it must answer).
func New(ctx context.Context, cfg Config, db *sql.DB, log *logrus.Entry) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Minute
	}
	if cfg.MaxSessionAge <= 0 {
		cfg.MaxSessionAge = 12 * time.Hour
	}
	if cfg.SearchesPerMinute <= 0 {
		cfg.SearchesPerMinute = 30
	}
	if cfg.BusinessZone == nil || cfg.Hasher == nil || cfg.Explainer == nil {
		return nil, errors.New("console: BusinessZone, Hasher and Explainer are required")
	}
	if len(cfg.ViewerGroups)+len(cfg.InvestigatorGroups) == 0 {
		return nil, errors.New("console: no group holds a role")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, db: db, log: log, key: key, pages: pg,
		sessions: newSessionStore(cfg.IdleTimeout, cfg.MaxSessionAge, cfg.Now),
		limiter:  newRateLimiter(cfg.SearchesPerMinute, 10, cfg.Now),
		runs:     newBreakdownCache(256),
		verifies: make(chan struct{}, 1),
	}
	switch cfg.Auth {
	case AuthOIDC:
		if s.oidc, err = newOIDCClient(ctx, cfg.BaseURL, cfg.OIDC); err != nil {
			return nil, err
		}
	case AuthProxy:
		if len(cfg.Proxy.Trusted) == 0 || cfg.Proxy.UserHeader == "" {
			return nil, errors.New("console: proxy mode needs trusted addresses and a user header")
		}
	default:
		return nil, fmt.Errorf("console: auth mode %q: want oidc or proxy", cfg.Auth)
	}
	return s, nil
}

// Handler is the console's HTTP handler: every route, behind the security
// headers and the access log.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /login", s.login)
	mux.HandleFunc("GET /callback", s.callback)
	s.route(mux, "GET /logout", roleNone, s.logoutPage)
	mux.HandleFunc("POST /logout", s.logout)
	s.route(mux, "GET /static/", roleNone, s.static)
	s.route(mux, "GET /lang", roleNone, s.setLanguage)

	s.route(mux, "GET /{$}", RoleViewer, s.overview)
	s.route(mux, "GET /runs", RoleViewer, s.runsList)
	s.route(mux, "GET /runs/{id}", RoleViewer, s.runPage)
	s.route(mux, "POST /runs/{id}/verify", RoleViewer, s.verifyRun)
	s.route(mux, "GET /borrowers/{id}", RoleViewer, s.borrowerPage)
	s.route(mux, "GET /installments/{id}", RoleViewer, s.installmentPage)
	s.route(mux, "GET /messages/{id}", RoleViewer, s.messagePage)
	s.route(mux, "GET /search", RoleViewer, s.search)
	s.route(mux, "POST /search", RoleViewer, s.searchContact)
	s.route(mux, "GET /export", RoleViewer, s.exportGet)
	s.route(mux, "POST /export", RoleInvestigator, s.exportUnmasked)
	s.route(mux, "POST /reveal", RoleInvestigator, s.reveal)
	s.route(mux, "GET /events", RoleViewer, s.eventsPage)
	// Anything else is not found, to whoever is signed in.
	s.route(mux, "/", roleNone, func(w http.ResponseWriter, r *http.Request, rq *request) error {
		return errNotFound
	})
	return s.secureHeaders(s.accessLog(mux))
}

// Serve serves the console on listen until ctx ends, then shuts down
// gracefully.
func (s *Server) Serve(ctx context.Context, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves the console on ln until ctx ends.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.log.WithField(fieldAddr, ln.Addr().String()).Info("console listening")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	err := srv.Serve(ln)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Log field names.
const (
	fieldAddr     = "addr"
	fieldMethod   = "method"
	fieldRoute    = "route"
	fieldStatus   = "status"
	fieldBytes    = "bytes"
	fieldDuration = "duration_ms"
	fieldRole     = "role"
	fieldUserRef  = "user_ref"
	fieldError    = "error"
	fieldRows     = "rows"
)

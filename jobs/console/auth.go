package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/loanremind/loanremind/jobs/clean"
)

// Role is what a signed-in user may do.
type Role int

// Roles, in increasing power. roleNone is a signed-in user without a role:
// it may only sign out, switch the language and load the stylesheet.
const (
	roleNone Role = iota
	RoleViewer
	RoleInvestigator
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleInvestigator:
		return "investigator"
	}
	return "none"
}

// roleOf maps a user's groups to a role: investigator wins over viewer.
func (s *Server) roleOf(groups []string) Role {
	in := func(list []string) bool {
		return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(list, g) })
	}
	switch {
	case in(s.cfg.InvestigatorGroups):
		return RoleInvestigator
	case in(s.cfg.ViewerGroups):
		return RoleViewer
	}
	return roleNone
}

// identity is who makes a request.
type identity struct {
	user    string // cleaned: one line, at most 200 characters
	groups  []string
	role    Role
	csrf    string
	session string // the session id (oidc mode)
}

// Cookie names.
const (
	sessionCookie = "loanremind_session"
	loginCookie   = "loanremind_login"
	langCookie    = "loanremind_lang"
)

// authenticate finds who makes the request: the session of its cookie
// (oidc), or the proxy's headers if, and only if, the peer is a trusted
// proxy. nil: nobody.
func (s *Server) authenticate(r *http.Request) *identity {
	if s.cfg.Auth == AuthProxy {
		return s.proxyIdentity(r)
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	ss := s.sessions.get(c.Value)
	if ss == nil {
		return nil
	}
	return &identity{user: ss.user, groups: ss.groups, role: ss.role, csrf: ss.csrf, session: ss.id}
}

// proxyIdentity reads the user and groups headers of a trusted proxy. From
// any other peer they are ignored: anyone can send a header.
func (s *Server) proxyIdentity(r *http.Request) *identity {
	if !s.trustedPeer(r.RemoteAddr) {
		return nil
	}
	user := clean.Text(r.Header.Get(s.cfg.Proxy.UserHeader), 200)
	if user == "" {
		return nil
	}
	var groups []string
	if s.cfg.Proxy.GroupsHeader != "" {
		for _, v := range r.Header.Values(s.cfg.Proxy.GroupsHeader) {
			for _, g := range strings.Split(v, ",") {
				if g = strings.TrimSpace(g); g != "" {
					groups = append(groups, g)
				}
			}
		}
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("csrf\x00" + user))
	return &identity{user: user, groups: groups, role: s.roleOf(groups), csrf: hex.EncodeToString(mac.Sum(nil))}
}

func (s *Server) trustedPeer(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	return slices.ContainsFunc(s.cfg.Proxy.Trusted, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// userRef is a pseudonym of a user for the access log, which carries no
// personal data: the same user gets the same reference while the process
// runs. Who revealed what is in the audit events, by name.
func (s *Server) userRef(id *identity) string {
	if id == nil {
		return ""
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("user\x00" + id.user))
	return hex.EncodeToString(mac.Sum(nil))[:12]
}

// sessionStore keeps the oidc sessions in memory: a restart signs everyone
// out, and the console runs as one replica.
type sessionStore struct {
	mu       sync.Mutex
	sessions map[string]*session
	logins   map[string]*pendingLogin
	idle     time.Duration
	maxAge   time.Duration
	now      func() time.Time
}

type session struct {
	id, user      string
	groups        []string
	role          Role
	csrf          string
	created, seen time.Time
}

// pendingLogin is a sign-in between /login and /callback.
type pendingLogin struct {
	verifier, nonce, next string
	created               time.Time
}

// loginTimeout bounds the time from /login to /callback.
const loginTimeout = 10 * time.Minute

func newSessionStore(idle, maxAge time.Duration, now func() time.Time) *sessionStore {
	return &sessionStore{sessions: map[string]*session{}, logins: map[string]*pendingLogin{}, idle: idle, maxAge: maxAge, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// get returns a live session and marks it used, or nil: unknown, idle for
// longer than the idle timeout, or older than the maximum age.
func (st *sessionStore) get(id string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.expire(now)
	ss := st.sessions[id]
	if ss == nil {
		return nil
	}
	ss.seen = now
	return ss
}

// expire drops dead sessions and abandoned sign-ins. Called with mu held.
func (st *sessionStore) expire(now time.Time) {
	for id, ss := range st.sessions {
		if now.Sub(ss.seen) >= st.idle || now.Sub(ss.created) >= st.maxAge {
			delete(st.sessions, id)
		}
	}
	for state, l := range st.logins {
		if now.Sub(l.created) >= loginTimeout {
			delete(st.logins, state)
		}
	}
}

func (st *sessionStore) create(user string, groups []string, role Role) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	ss := &session{id: randomToken(), user: user, groups: groups, role: role, csrf: randomToken(), created: now, seen: now}
	st.sessions[ss.id] = ss
	return ss
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, id)
}

func (st *sessionStore) startLogin(next string) (state string, l *pendingLogin) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expire(st.now())
	l = &pendingLogin{verifier: oauth2.GenerateVerifier(), nonce: randomToken(), next: next, created: st.now()}
	state = randomToken()
	st.logins[state] = l
	return state, l
}

// takeLogin returns and forgets a pending sign-in: a state is used once.
func (st *sessionStore) takeLogin(state string) *pendingLogin {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expire(st.now())
	l := st.logins[state]
	delete(st.logins, state)
	return l
}

// oidcClient signs users in at the identity provider.
type oidcClient struct {
	oauth    oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	groups   string
	http     *http.Client
}

func newOIDCClient(ctx context.Context, baseURL string, c OIDCConfig) (*oidcClient, error) {
	if c.Issuer == "" || c.ClientID == "" || baseURL == "" {
		return nil, errors.New("console: oidc needs an issuer, a client id and a base URL")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, hc), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: identity provider %s: %w", c.Issuer, err)
	}
	groups := c.GroupsClaim
	if groups == "" {
		groups = "groups"
	}
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	if groups == "groups" {
		scopes = append(scopes, "groups")
	}
	return &oidcClient{
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: strings.TrimSuffix(baseURL, "/") + "/callback", Scopes: scopes,
		},
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: c.ClientID}),
		groups:   groups,
		http:     hc,
	}, nil
}

// login starts a sign-in: a state bound to this browser by a cookie, a
// nonce, and a PKCE verifier whose S256 challenge goes to the provider.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		// Behind a proxy, signing in is the proxy's business.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	state, l := s.sessions.startLogin(localPath(r.URL.Query().Get("next")))
	http.SetCookie(w, s.cookie(r, loginCookie, state, int(loginTimeout/time.Second)))
	u := s.oidc.oauth.AuthCodeURL(state, oidc.Nonce(l.nonce), oauth2.S256ChallengeOption(l.verifier))
	http.Redirect(w, r, u, http.StatusFound)
}

// callback finishes a sign-in: the state must be the one this browser
// started, the code is exchanged with the PKCE verifier, and the ID token
// must verify, carry the nonce, and name a user.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	c, err := r.Cookie(loginCookie)
	state := q.Get("state")
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		s.plainError(w, r, http.StatusBadRequest, "sign-in state does not match this browser: start again at /login")
		return
	}
	http.SetCookie(w, s.cookie(r, loginCookie, "", -1))
	l := s.sessions.takeLogin(state)
	if l == nil {
		s.plainError(w, r, http.StatusBadRequest, "sign-in expired or already used: start again at /login")
		return
	}
	if e := q.Get("error"); e != "" {
		s.plainError(w, r, http.StatusUnauthorized, "the identity provider refused the sign-in: "+clean.Text(e, 100))
		return
	}
	ctx := oidc.ClientContext(r.Context(), s.oidc.http)
	tok, err := s.oidc.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.verifier))
	if err != nil {
		s.log.WithField(fieldError, clean.Text(err.Error(), 300)).Warn("sign-in: code exchange failed")
		s.plainError(w, r, http.StatusUnauthorized, "sign-in failed: the code could not be exchanged")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := s.oidc.verifier.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.nonce)) != 1 {
		s.log.Warn("sign-in: the ID token did not verify")
		s.plainError(w, r, http.StatusUnauthorized, "sign-in failed: the identity token did not verify")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.plainError(w, r, http.StatusUnauthorized, "sign-in failed: unreadable claims")
		return
	}
	user := userOf(claims, idt.Subject)
	if user == "" {
		s.plainError(w, r, http.StatusUnauthorized, "sign-in failed: the token names no user")
		return
	}
	groups := groupsOf(claims[s.oidc.groups])
	if _, inToken := claims[s.oidc.groups]; !inToken {
		// Some providers list groups in the user info only.
		if info, err := s.oidc.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			var more map[string]any
			if info.Claims(&more) == nil {
				groups = groupsOf(more[s.oidc.groups])
			}
		}
	}
	ss := s.sessions.create(user, groups, s.roleOf(groups))
	http.SetCookie(w, s.cookie(r, sessionCookie, ss.id, 0))
	next := l.next
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// userOf names the user: email, else preferred user name, else subject.
func userOf(claims map[string]any, subject string) string {
	for _, k := range []string{"email", "preferred_username"} {
		if v, ok := claims[k].(string); ok && strings.TrimSpace(v) != "" {
			return clean.Text(v, 200)
		}
	}
	return clean.Text(subject, 200)
}

// groupsOf reads a groups claim: a list of strings, or one
// comma-separated string.
func groupsOf(v any) []string {
	var out []string
	add := func(s string) {
		for _, g := range strings.Split(s, ",") {
			if g = strings.TrimSpace(g); g != "" {
				out = append(out, g)
			}
		}
	}
	switch t := v.(type) {
	case string:
		add(t)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	}
	return out
}

func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return s.render(w, r, rq, http.StatusOK, "logout.html", "Sign out", nil)
}

// logout ends the session (a POST with the session's CSRF token: a page
// elsewhere cannot sign anyone out).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	id := s.authenticate(r)
	if id == nil {
		s.plainError(w, r, http.StatusUnauthorized, "not signed in")
		return
	}
	if !validCSRF(r, id) {
		s.plainError(w, r, http.StatusForbidden, "missing or wrong CSRF token")
		return
	}
	if id.session != "" {
		s.sessions.delete(id.session)
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
	rq := &request{lang: s.language(r)}
	if s.cfg.Auth == AuthProxy {
		s.renderError(w, r, rq, http.StatusOK, rq.T("Signed out of the console. Sign out at your company's sign-in page as well."))
		return
	}
	s.renderError(w, r, rq, http.StatusOK, rq.T("Signed out."))
}

// cookie makes a cookie of the console: Secure, HttpOnly, SameSite=Lax,
// for the whole site; maxAge 0 is a session cookie, negative deletes it.
func (s *Server) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// localPath returns p if it is a path on this site, else "".
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return p
}

// validCSRF checks a POST's token against the user's.
func validCSRF(r *http.Request, id *identity) bool {
	got := r.PostFormValue("csrf")
	return got != "" && id.csrf != "" && subtle.ConstantTimeCompare([]byte(got), []byte(id.csrf)) == 1
}

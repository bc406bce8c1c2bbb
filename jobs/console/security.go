package console

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs/clean"
)

// contentSecurityPolicy allows the console's own stylesheet and nothing
// inline: no script runs on any page.
const contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// secureHeaders sets the security headers on every response, the open
// ones (/healthz, errors, redirects) included.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	https := strings.HasPrefix(s.cfg.BaseURL, "https://")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		// Pages carry personal data: nothing is kept by a browser or a
		// proxy.
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil || https {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// accessLog logs one line per request with no personal data: the route's
// pattern ("GET /borrowers/{id}"), never the path or query that would
// carry an id or a search, the status, the size, the time taken, the role
// and a pseudonym of the user.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		who := &requester{}
		r = r.WithContext(context.WithValue(r.Context(), requesterKey{}, who))
		next.ServeHTTP(sw, r)
		id := who.id
		fields := logrus.Fields{
			fieldMethod: r.Method, fieldRoute: routeOf(r), fieldStatus: sw.status, fieldBytes: sw.bytes,
			fieldDuration: time.Since(start).Milliseconds(),
		}
		if id != nil {
			fields[fieldRole], fields[fieldUserRef] = id.role.String(), s.userRef(id)
		}
		s.log.WithFields(fields).Info("request")
	})
}

// requester carries who made a request from the route's checks back to
// the access log.
type requester struct{ id *identity }

type requesterKey struct{}

// noteRequester tells the access log who made the request.
func noteRequester(r *http.Request, id *identity) {
	if who, ok := r.Context().Value(requesterKey{}).(*requester); ok {
		who.id = id
	}
}

func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " (unmatched)"
}

// request is what a page handler gets besides the HTTP request: who asks,
// in which language.
type request struct {
	id   *identity
	lang string
}

// pageFunc is a page handler: it returns an error for the wrapper to
// answer (an httpError, or anything else as a 500).
type pageFunc func(w http.ResponseWriter, r *http.Request, rq *request) error

// route registers a handler behind the checks every request passes on the
// server: signed in (else a redirect to sign in, or 401), holding the role
// (else 403), and for a POST the CSRF token (else 403), in that order, all
// before the handler does anything.
func (s *Server) route(mux *http.ServeMux, pattern string, need Role, h pageFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		// The identity is found once: a second look at the session would
		// not be the one the handler saw.
		id := s.authenticate(r)
		rq := &request{id: id, lang: s.language(r)}
		noteRequester(r, id)
		if id == nil {
			if s.cfg.Auth == AuthOIDC && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.renderError(w, r, rq, http.StatusUnauthorized, rq.T("Not signed in."))
			return
		}
		switch {
		case id.role < need && id.role == roleNone:
			s.renderError(w, r, rq, http.StatusForbidden, rq.T("You have no role in the compliance console. Ask for a group that grants one."))
			return
		case id.role < need:
			s.renderError(w, r, rq, http.StatusForbidden, rq.T("Only an investigator may do this."))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !validCSRF(r, id) {
				s.renderError(w, r, rq, http.StatusForbidden, rq.T("The form's security token is missing or wrong. Reload the page and try again."))
				return
			}
		}
		if err := h(w, r, rq); err != nil {
			s.fail(w, r, rq, err)
		}
	})
}

// httpError is an answer other than 200 with a message for the user.
type httpError struct {
	code int
	msg  string // English; translated when shown
	args []any
}

func (e *httpError) Error() string { return fmt.Sprintf(e.msg, e.args...) }

func errorf(code int, msg string, args ...any) error {
	return &httpError{code: code, msg: msg, args: args}
}

var errNotFound = errorf(http.StatusNotFound, "Not found.")

// fail answers a handler's error: its own message, or 500 with the error
// logged (cleaned: it may quote a value from the lender's tables).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		s.renderError(w, r, rq, he.code, fmt.Sprintf(rq.T(he.msg), he.args...))
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.log.WithFields(logrus.Fields{fieldRoute: routeOf(r), fieldError: clean.Text(err.Error(), 500)}).Error("page failed")
	s.renderError(w, r, rq, http.StatusInternalServerError, rq.T("Something went wrong; it has been logged."))
}

// rateLimiter is a token bucket per user: searches cost one token; a user
// gets perMinute a minute, up to burst at once.
type rateLimiter struct {
	mu        sync.Mutex
	buckets   map[string]*bucket
	perMinute float64
	burst     float64
	now       func() time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(perMinute, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{buckets: map[string]*bucket{}, perMinute: float64(perMinute), burst: float64(burst), now: now}
}

// allow takes a token of the user's, or says how long to wait for one.
func (l *rateLimiter) allow(user string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[user]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[user] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Minutes()*l.perMinute)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
	return false, wait
}

// limitSearch answers 429 when the user has searched too often.
func (s *Server) limitSearch(w http.ResponseWriter, rq *request) error {
	ok, wait := s.limiter.allow(rq.id.user)
	if ok {
		return nil
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return errorf(http.StatusTooManyRequests, "Too many searches: wait %d seconds.", int(math.Ceil(wait.Seconds())))
}

package console_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/console"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/queries"
)

// pagesOf lists the pages a viewer can open about the fixture's run and a
// borrower, and their kind of content.
func pagesOf(f *fixture, borrower, installment, message int64) []string {
	return []string{
		"/", "/runs", fmt.Sprintf("/runs/%d", f.runID), "/runs?mode=manual&status=succeeded",
		fmt.Sprintf("/borrowers/%d", borrower), fmt.Sprintf("/installments/%d", installment),
		fmt.Sprintf("/messages/%d", message), "/search", "/events", "/export", "/logout",
	}
}

// Without a session: a redirect to sign in (oidc, GET), or 401 (proxy, and
// any POST); /healthz alone is open.
func TestNoSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	borrower, _, installment, message := f.borrowerWithPhone(t)
	pages := pagesOf(f, borrower, installment, message)
	posts := []string{"/reveal", "/search", "/export", fmt.Sprintf("/runs/%d/verify", f.runID), "/logout"}

	t.Run("proxy", func(t *testing.T) {
		t.Parallel()
		h := f.proxyServer(t)
		nobody := user{}
		for _, p := range append(pages, "/static/console.css", "/nope", "/lang?to=zh-CN") {
			if w := nobody.do(h, "GET", p, nil); w.Code != http.StatusUnauthorized {
				t.Errorf("GET %s: %d, want 401", p, w.Code)
			}
		}
		for _, p := range posts {
			if w := nobody.do(h, "POST", p, url.Values{"what": {"borrower"}, "id": {"1"}, "reason": {"curious"}}); w.Code != http.StatusUnauthorized {
				t.Errorf("POST %s: %d, want 401", p, w.Code)
			}
		}
		if w := nobody.do(h, "GET", "/healthz", nil); w.Code != http.StatusOK {
			t.Errorf("/healthz: %d", w.Code)
		}
	})
	t.Run("oidc", func(t *testing.T) {
		t.Parallel()
		idp, err := mockoidc.Run()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idp.Shutdown() })
		cfg := f.consoleConfig(console.AuthOIDC)
		cfg.BaseURL = "https://console.example"
		cfg.OIDC = console.OIDCConfig{Issuer: idp.Issuer(), ClientID: idp.Config().ClientID, ClientSecret: idp.Config().ClientSecret, GroupsClaim: "groups"}
		s, err := console.New(context.Background(), cfg, f.console.DB, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		h := s.Handler()
		nobody := user{}
		for _, p := range pages {
			w := nobody.do(h, "GET", p, nil)
			if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
				t.Errorf("GET %s: %d to %q, want a redirect to /login", p, w.Code, w.Header().Get("Location"))
			}
		}
		for _, p := range posts {
			if w := nobody.do(h, "POST", p, url.Values{"id": {"1"}}); w.Code != http.StatusUnauthorized {
				t.Errorf("POST %s: %d, want 401", p, w.Code)
			}
		}
		// Proxy headers mean nothing in oidc mode.
		if w := investigator.do(h, "GET", "/", nil); w.Code != http.StatusSeeOther {
			t.Errorf("oidc mode with proxy headers: %d, want a redirect to sign in", w.Code)
		}
		// /login sends the browser to the provider with PKCE and a state
		// bound by a cookie.
		w := nobody.do(h, "GET", "/login?next=/runs", nil)
		loc, _ := url.Parse(w.Header().Get("Location"))
		q := loc.Query()
		if w.Code != http.StatusFound || !strings.HasPrefix(loc.String(), idp.AuthorizationEndpoint()) ||
			q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" {
			t.Errorf("/login: %d to %s", w.Code, loc)
		}
		cookie := w.Result().Cookies()
		if len(cookie) != 1 || !cookie[0].Secure || !cookie[0].HttpOnly || cookie[0].SameSite != http.SameSiteLaxMode || cookie[0].Value != q.Get("state") {
			t.Errorf("login cookie %+v", cookie)
		}
		// A callback with another browser's state is refused.
		if w := nobody.do(h, "GET", "/callback?code=x&state="+q.Get("state"), nil); w.Code != http.StatusBadRequest {
			t.Errorf("callback without the state cookie: %d", w.Code)
		}
	})
}

// Signed in without a role: 403 on every page and action.
func TestNoRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	borrower, _, installment, message := f.borrowerWithPhone(t)
	h := f.proxyServer(t)
	for _, p := range pagesOf(f, borrower, installment, message) {
		if p == "/logout" {
			continue // anyone signed in may sign out
		}
		if w := noRole.do(h, "GET", p, nil); w.Code != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403", p, w.Code)
		}
	}
	before := f.events(t)
	// Even with a valid token of its own (from the sign-out page).
	w := noRole.do(h, "GET", "/logout", nil)
	m := csrfField.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no token on the sign-out page: %d", w.Code)
	}
	form := url.Values{"csrf": {m[1]}, "what": {"borrower"}, "id": {fmt.Sprint(borrower)}, "reason": {"I am curious"}}
	for _, p := range []string{"/reveal", "/search", "/export", fmt.Sprintf("/runs/%d/verify", f.runID)} {
		if w := noRole.do(h, "POST", p, form); w.Code != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", p, w.Code)
		}
	}
	if after := f.events(t); after != before {
		t.Errorf("%d events recorded", after-before)
	}
}

// A viewer who crafts a reveal or an unmasked export, with a valid CSRF
// token, gets 403: nothing is shown, nothing recorded.
func TestViewerCraftedRevealIsForbidden(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	borrower, phone, _, message := f.borrowerWithPhone(t)
	h := f.proxyServer(t)
	token := viewer.csrf(t, h)
	before := f.events(t)
	for _, tc := range []struct {
		name, path string
		form       url.Values
	}{
		{"borrower", "/reveal", url.Values{"what": {"borrower"}, "id": {fmt.Sprint(borrower)}}},
		{"message", "/reveal", url.Values{"what": {"message"}, "id": {fmt.Sprint(message)}}},
		{"unmasked export", "/export", url.Values{"from": {fixtureDay}, "to": {fixtureDay}, "format": {"csv"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", token)
			tc.form.Set("reason", "looking around")
			w := viewer.do(h, "POST", tc.path, tc.form)
			if w.Code != http.StatusForbidden {
				t.Errorf("%d, want 403", w.Code)
			}
			if strings.Contains(w.Body.String(), digits(phone)) {
				t.Error("the response shows the phone number")
			}
		})
	}
	if after := f.events(t); after != before {
		t.Errorf("%d events recorded", after-before)
	}
}

// A POST without the CSRF token, or with another user's, gets 403 and
// does nothing.
func TestPostWithoutCSRFToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	borrower, _, _, _ := f.borrowerWithPhone(t)
	h := f.proxyServer(t)
	before := f.events(t)
	reveal := url.Values{"what": {"borrower"}, "id": {fmt.Sprint(borrower)}, "reason": {"case 123"}}
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"none", ""},
		{"another user's", viewer.csrf(t, h)},
		{"made up", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range reveal {
				form[k] = v
			}
			if tc.token != "" {
				form.Set("csrf", tc.token)
			}
			for _, p := range []string{"/reveal", "/search", "/export", fmt.Sprintf("/runs/%d/verify", f.runID), "/logout"} {
				if w := investigator.do(h, "POST", p, form); w.Code != http.StatusForbidden {
					t.Errorf("POST %s: %d, want 403", p, w.Code)
				}
			}
		})
	}
	if after := f.events(t); after != before {
		t.Errorf("%d events recorded", after-before)
	}
	// With the token it works, and is recorded.
	reveal.Set("csrf", investigator.csrf(t, h))
	if w := investigator.do(h, "POST", "/reveal", reveal); w.Code != http.StatusOK {
		t.Fatalf("reveal with the token: %d\n%s", w.Code, w.Body.String())
	}
	if after := f.events(t); after != before+1 {
		t.Errorf("%d events recorded, want 1", after-before)
	}
}

// The user and groups headers count only from a trusted proxy: from any
// other peer they are ignored, and the request gets 401.
func TestProxyHeadersFromUntrustedAddressIgnored(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 50)
	h := f.proxyServer(t)
	for _, addr := range []string{"203.0.113.9:4000", "10.0.0.1:80", "[2001:db8::1]:443", "192.0.3.1:1"} {
		u := investigator
		u.addr = addr
		if w := u.do(h, "GET", "/", nil); w.Code != http.StatusUnauthorized {
			t.Errorf("from %s: %d, want 401", addr, w.Code)
		}
	}
	// The trusted proxy, also as an IPv4-mapped IPv6 peer.
	for _, addr := range []string{"192.0.2.10:5555", "[::ffff:192.0.2.10]:5555"} {
		u := investigator
		u.addr = addr
		if w := u.do(h, "GET", "/", nil); w.Code != http.StatusOK {
			t.Errorf("from %s: %d, want 200", addr, w.Code)
		}
	}
}

// No page a viewer sees carries a seeded borrower's full phone number,
// email or account reference: not the borrower, installment and message
// pages of every borrower the run decided about, with their delivery
// trails (a provider that quotes the recipient in its refusals included),
// not the overview, not the contact search's results, not the masked
// export.
func TestViewerSeesNoPersonalData(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 150)
	at := deliverAt()
	p := &refusingFile{Provider: fileProvider(t, at), fail: func(m *deliver.Message) bool { return m.SendID%3 == 0 }}
	if totals := f.deliver(t, at, p); totals[deliver.OutcomeSent] == 0 || totals[deliver.OutcomeFailed] == 0 {
		t.Fatalf("the sender did %v: want some sent and some refused by the provider", totals)
	}
	h := f.proxyServer(t)
	secrets := seededSecrets(t, f)
	check := func(what, body string) {
		t.Helper()
		body = html.UnescapeString(body)
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %q", what, s)
			}
		}
	}
	rows, err := f.owner.Query(`SELECT DISTINCT ON (borrower_id) borrower_id, installment_id, coalesce(send_id, 0) FROM reminder_audit ORDER BY borrower_id, send_id NULLS LAST`)
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for rows.Next() {
		var b, i, m int64
		if err := rows.Scan(&b, &i, &m); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, fmt.Sprintf("/borrowers/%d", b), fmt.Sprintf("/installments/%d", i))
		if m != 0 {
			pages = append(pages, fmt.Sprintf("/messages/%d", m))
		}
	}
	rows.Close()
	if len(pages) < 100 {
		t.Fatalf("only %d pages", len(pages))
	}
	pages = append(pages, "/", "/runs", fmt.Sprintf("/runs/%d", f.runID), "/events", "/search", "/export",
		fmt.Sprintf("/export?from=2026-11-01&to=2026-12-31&format=csv"), fmt.Sprintf("/export?from=2026-11-01&to=2026-12-31&format=json"))
	trails := map[string]int{}
	for _, p := range pages {
		w := viewer.do(h, "GET", p, nil)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d", p, w.Code)
		}
		check(p, w.Body.String())
		for _, kind := range []string{`class="delivery e-sent"`, `class="delivery e-failed"`, `class="t-delivery"`} {
			trails[kind] += strings.Count(w.Body.String(), kind)
		}
	}
	// The checks saw the delivery trails: on the message pages and in the
	// timelines.
	for kind, n := range trails {
		if n == 0 {
			t.Errorf("no page shows %s", kind)
		}
	}
	// A contact search shows its matches masked.
	_, phone, _, _ := f.borrowerWithPhone(t)
	w := viewer.do(h, "POST", "/search", url.Values{"csrf": {viewer.csrf(t, h)}, "contact": {phone}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "borrower-link") {
		t.Fatalf("contact search: %d\n%s", w.Code, w.Body.String())
	}
	check("the contact search", w.Body.String())
	// A revealed page shows them: the check would see them.
	b, _, _, _ := f.borrowerWithPhone(t)
	w = investigator.do(h, "POST", "/reveal", url.Values{"csrf": {investigator.csrf(t, h)}, "what": {"borrower"}, "id": {fmt.Sprint(b)}, "reason": {"complaint 42"}})
	if !strings.Contains(html.UnescapeString(w.Body.String()), phone) {
		t.Errorf("the revealed page does not show the phone number %s", phone)
	}
}

// seededSecrets lists every seeded phone number (its digits, when long
// enough to be told from other numbers on a page), email and account
// reference.
func seededSecrets(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	rows, err := f.owner.Query(`SELECT coalesce(phone, ''), coalesce(email, '') FROM borrowers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var phone, email string
		if err := rows.Scan(&phone, &email); err != nil {
			t.Fatal(err)
		}
		if d := digits(phone); len(d) >= 8 {
			out = append(out, d, phone)
		}
		if strings.Contains(email, "@") {
			out = append(out, email)
		}
	}
	rows.Close()
	rows, err = f.owner.Query(`SELECT account_ref FROM loans`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			t.Fatal(err)
		}
		if len(ref) >= 6 {
			out = append(out, ref)
		}
	}
	rows.Close()
	return out
}

func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Every response carries the security headers: the strict
// Content-Security-Policy, nosniff, no framing; HSTS over TLS.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 50)
	borrower, _, installment, message := f.borrowerWithPhone(t)
	h := f.proxyServer(t)
	type req struct {
		who    user
		method string
		path   string
	}
	var reqs []req
	for _, p := range append(pagesOf(f, borrower, installment, message), "/static/console.css", "/healthz", "/nope", "/search?kind=borrower&id=1", "/lang?to=zh-CN&next=/runs") {
		reqs = append(reqs, req{viewer, "GET", p}, req{noRole, "GET", p}, req{user{}, "GET", p})
	}
	reqs = append(reqs, req{viewer, "POST", "/reveal"}, req{investigator, "POST", "/reveal"})
	for _, tls := range []bool{false, true} {
		for _, rq := range reqs {
			r := newRequest(rq.who, rq.method, rq.path)
			if tls {
				r.TLS = tlsState()
			}
			w := serve(h, r)
			hd := w.Header()
			name := fmt.Sprintf("%s %s as %q (TLS %v): %d", rq.method, rq.path, rq.who.name, tls, w.Code)
			if got := hd.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") || !strings.Contains(got, "frame-ancestors 'none'") || strings.Contains(got, "unsafe") {
				t.Errorf("%s: CSP %q", name, got)
			}
			if hd.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: no nosniff", name)
			}
			if hd.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s: framing allowed", name)
			}
			if got := hd.Get("Strict-Transport-Security"); (got != "") != tls {
				t.Errorf("%s: HSTS %q", name, got)
			}
		}
	}
	// No page has an inline script or style for the policy to block.
	for _, p := range pagesOf(f, borrower, installment, message) {
		body := viewer.do(h, "GET", p, nil).Body.String()
		if strings.Contains(body, "<script") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
			t.Errorf("%s has inline script or style", p)
		}
	}
}

func tlsState() *tls.ConnectionState { return &tls.ConnectionState{HandshakeComplete: true} }

// A reveal is recorded, with the reason, before the page shows the data;
// the page's own address shows it masked again.
func TestRevealIsRecordedFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	borrower, phone, _, message := f.borrowerWithPhone(t)
	h := f.proxyServer(t)
	token := investigator.csrf(t, h)

	t.Run("borrower", func(t *testing.T) {
		w := investigator.do(h, "POST", "/reveal", url.Values{"csrf": {token}, "what": {"borrower"}, "id": {fmt.Sprint(borrower)}, "reason": {"complaint CMP-7 <b>"}})
		if w.Code != http.StatusOK || !strings.Contains(html.UnescapeString(w.Body.String()), phone) {
			t.Fatalf("%d: the phone is not shown", w.Code)
		}
		if strings.Contains(w.Body.String(), "<b>") {
			t.Error("the reason is not escaped")
		}
		var actor, details string
		if err := f.owner.QueryRow(`SELECT actor, details::text FROM reminder_audit_events WHERE event = 'reveal' ORDER BY id DESC LIMIT 1`).Scan(&actor, &details); err != nil {
			t.Fatal(err)
		}
		if actor != investigator.name || !strings.Contains(details, `"reason": "complaint CMP-7 <b>"`) || !strings.Contains(details, fmt.Sprintf(`"borrower": %d`, borrower)) {
			t.Errorf("event by %s: %s", actor, details)
		}
		if strings.Contains(details, digits(phone)) {
			t.Error("the event records the phone number")
		}
		// The event is on the borrower's timeline and the events page.
		page := investigator.do(h, "GET", fmt.Sprintf("/borrowers/%d", borrower), nil).Body.String()
		if strings.Contains(html.UnescapeString(page), phone) || !strings.Contains(page, "complaint CMP-7") {
			t.Errorf("the borrower's page after the reveal: masked %v, event shown %v", !strings.Contains(html.UnescapeString(page), phone), strings.Contains(page, "complaint CMP-7"))
		}
		if page := viewer.do(h, "GET", "/events", nil).Body.String(); !strings.Contains(page, "complaint CMP-7") || !strings.Contains(page, html.EscapeString(investigator.name)) {
			t.Error("the events page does not show the reveal")
		}
	})
	t.Run("message", func(t *testing.T) {
		var body string
		if err := f.owner.QueryRow(`SELECT body FROM reminder_sends WHERE id = $1`, message).Scan(&body); err != nil {
			t.Fatal(err)
		}
		firstLine := strings.SplitN(body, "\n", 2)[0]
		if masked := viewer.do(h, "GET", fmt.Sprintf("/messages/%d", message), nil).Body.String(); strings.Contains(html.UnescapeString(masked), firstLine) {
			t.Error("the message page shows the text to a viewer")
		}
		w := investigator.do(h, "POST", "/reveal", url.Values{"csrf": {token}, "what": {"message"}, "id": {fmt.Sprint(message)}, "reason": {"dispute D-9"}})
		if w.Code != http.StatusOK || !strings.Contains(html.UnescapeString(w.Body.String()), firstLine) {
			t.Fatalf("%d: the revealed page lacks the text", w.Code)
		}
	})
	t.Run("refused", func(t *testing.T) {
		before := f.events(t)
		for _, form := range []url.Values{
			{"what": {"borrower"}, "id": {fmt.Sprint(borrower)}, "reason": {"  "}},
			{"what": {"borrower"}, "id": {"999999999"}, "reason": {"no such borrower"}},
			{"what": {"loan"}, "id": {"1"}, "reason": {"not revealable"}},
		} {
			form.Set("csrf", token)
			if w := investigator.do(h, "POST", "/reveal", form); w.Code == http.StatusOK {
				t.Errorf("%v: revealed", form)
			}
		}
		if after := f.events(t); after != before {
			t.Errorf("%d events recorded", after-before)
		}
	})
}

// The export is `audit export`'s: the same rows for the same filter,
// masked; unmasked for an investigator, recorded first.
func TestExportIsAuditExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	borrower, phone, _, _ := f.borrowerWithPhone(t)
	h := f.proxyServer(t)
	from, to := "2026-11-01", "2026-12-31"
	filter := func() queries.ExportFilter {
		return queries.ExportFilter{From: date(t, from, f.zone), To: date(t, to, f.zone).AddDate(0, 0, 1)}
	}
	for _, tc := range []struct {
		name, query string
		edit        func(*queries.ExportFilter)
		format      string
	}{
		{"everything csv", "", func(*queries.ExportFilter) {}, "csv"},
		{"everything json", "", func(*queries.ExportFilter) {}, "json"},
		{"borrower", fmt.Sprintf("&borrower=%d", borrower), func(q *queries.ExportFilter) { q.BorrowerID = borrower }, "csv"},
		{"run and decision", fmt.Sprintf("&run=%d&decision=suppressed", f.runID), func(q *queries.ExportFilter) { q.RunID, q.Decision = f.runID, "suppressed" }, "csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := viewer.do(h, "GET", fmt.Sprintf("/export?from=%s&to=%s&format=%s%s", from, to, tc.format, tc.query), nil)
			if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") {
				t.Fatalf("%d %v", w.Code, w.Header())
			}
			q := filter()
			tc.edit(&q)
			var want bytes.Buffer
			n, err := audit.Export(context.Background(), f.owner, q, tc.format, false, &want)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("the filter selects nothing")
			}
			if w.Body.String() != want.String() {
				t.Errorf("the console's export differs from audit export's (%d rows)", n)
			}
		})
	}
	t.Run("unmasked", func(t *testing.T) {
		before := f.events(t)
		form := url.Values{"csrf": {investigator.csrf(t, h)}, "from": {from}, "to": {to}, "borrower": {fmt.Sprint(borrower)}, "format": {"csv"}, "reason": {"regulator request R-1"}}
		w := investigator.do(h, "POST", "/export", form)
		q := filter()
		q.BorrowerID = borrower
		var want bytes.Buffer
		if _, err := audit.Export(context.Background(), f.owner, q, "csv", true, &want); err != nil {
			t.Fatal(err)
		}
		if w.Code != http.StatusOK || w.Body.String() != want.String() || !strings.Contains(w.Body.String(), phone) {
			t.Errorf("%d: the unmasked export differs from audit export --unmasked", w.Code)
		}
		var details string
		if err := f.owner.QueryRow(`SELECT details::text FROM reminder_audit_events WHERE event = 'unmasked_export' ORDER BY id DESC LIMIT 1`).Scan(&details); err != nil {
			t.Fatal(err)
		}
		if f.events(t) != before+1 || !strings.Contains(details, "regulator request R-1") {
			t.Errorf("event: %s", details)
		}
		// Without a reason: nothing exported, nothing recorded.
		form.Del("reason")
		if w := investigator.do(h, "POST", "/export", form); w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), phone) {
			t.Errorf("without a reason: %d", w.Code)
		}
		if f.events(t) != before+1 {
			t.Error("an export without a reason was recorded")
		}
	})
	t.Run("bad filter", func(t *testing.T) {
		for _, q := range []string{"format=csv", "from=2026-11-30&to=2026-11-01&format=csv", "from=x&to=2026-11-01&format=csv", "from=2026-11-01&to=2026-11-30&format=xml", "from=2026-11-01&to=2026-11-30&format=csv&borrower=-1", "from=2026-11-01&to=2026-11-30&format=csv&decision=sent"} {
			if w := viewer.do(h, "GET", "/export?"+q, nil); w.Code != http.StatusBadRequest {
				t.Errorf("%s: %d", q, w.Code)
			}
		}
	})
}

func date(t *testing.T, s string, zone *time.Location) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, s, zone)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// "Verify this run" runs audit verify for the run: intact, or the first
// broken rows.
func TestVerifyRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	h := f.proxyServer(t)
	path := fmt.Sprintf("/runs/%d/verify", f.runID)
	w := viewer.do(h, "POST", path, url.Values{"csrf": {viewer.csrf(t, h)}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Intact: 1 run(s)") {
		t.Fatalf("%d\n%s", w.Code, w.Body.String())
	}
	// A superuser bypasses the trigger and edits a reason.
	tx, err := f.owner.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var row int64
	if _, err := tx.Exec(`SET LOCAL session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(`UPDATE reminder_audit SET reason = 'opted_out' WHERE id = (SELECT min(id) FROM reminder_audit WHERE decision = 'queued') RETURNING id`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	w = viewer.do(h, "POST", path, url.Values{"csrf": {viewer.csrf(t, h)}})
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "BROKEN") || !strings.Contains(body, fmt.Sprintf("audit row %d", row)) {
		t.Errorf("after tampering with row %d: %d\n%s", row, w.Code, regexp.MustCompile(`(?s)<section>.*?</section>`).FindString(body))
	}
}

// Searches by id go to the page; by phone number (a POST) find the
// borrower through the keyed hash; each user's searches are limited.
func TestSearch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	borrower, phone, installment, message := f.borrowerWithPhone(t)
	var loan int64
	if err := f.owner.QueryRow(`SELECT loan_id FROM installments WHERE id = $1`, installment).Scan(&loan); err != nil {
		t.Fatal(err)
	}
	h := f.proxyServer(t)
	for _, tc := range []struct{ kind, id, want string }{
		{"borrower", fmt.Sprint(borrower), fmt.Sprintf("/borrowers/%d", borrower)},
		{"loan", fmt.Sprint(loan), fmt.Sprintf("/borrowers/%d", borrower)},
		{"installment", fmt.Sprint(installment), fmt.Sprintf("/installments/%d", installment)},
		{"message", fmt.Sprint(message), fmt.Sprintf("/messages/%d", message)},
		{"run", fmt.Sprint(f.runID), fmt.Sprintf("/runs/%d", f.runID)},
		{"borrower", "99999999", ""},
	} {
		w := viewer.do(h, "GET", "/search?kind="+tc.kind+"&id="+tc.id, nil)
		if got := w.Header().Get("Location"); got != tc.want {
			t.Errorf("%s %s: %d to %q, want %q", tc.kind, tc.id, w.Code, got, tc.want)
		}
	}
	token := investigator.csrf(t, h)
	// The number as typed in national format finds the borrower too.
	for _, contact := range []string{phone, strings.TrimPrefix(phone, "+86"), " " + phone + " "} {
		w := investigator.do(h, "POST", "/search", url.Values{"csrf": {token}, "contact": {contact}})
		if !strings.Contains(w.Body.String(), fmt.Sprintf(`href="/borrowers/%d"`, borrower)) {
			t.Errorf("search for %q: %d, borrower %d not found", contact, w.Code, borrower)
		}
	}
	// The limit: a burst of 10, then 429 with Retry-After.
	limited := user{name: "lena.limit@lender.example", groups: viewerGroup}
	var last int
	for i := 0; i < 12; i++ {
		last = limited.do(h, "GET", fmt.Sprintf("/search?kind=run&id=%d", f.runID), nil).Code
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("12th search: %d, want 429", last)
	}
	if w := limited.do(h, "GET", "/", nil); w.Code != http.StatusOK {
		t.Errorf("other pages after the limit: %d", w.Code)
	}
}

// The UI speaks the browser's language, or the one chosen.
func TestLanguage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 30)
	h := f.proxyServer(t)
	r := newRequest(viewer, "GET", "/runs")
	r.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")
	if body := serve(h, r).Body.String(); !strings.Contains(body, "运行记录") || !strings.Contains(body, `lang="zh-CN"`) {
		t.Error("Accept-Language zh-CN: no Chinese")
	}
	w := viewer.do(h, "GET", "/lang?to=zh-CN&next=/runs", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/runs" {
		t.Fatalf("switch: %d to %s", w.Code, w.Header().Get("Location"))
	}
	r = newRequest(viewer, "GET", "/runs")
	r.Header.Set("Accept-Language", "en")
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	if body := serve(h, r).Body.String(); !strings.Contains(body, "运行记录") {
		t.Error("the chosen language does not win over Accept-Language")
	}
	if w := viewer.do(h, "GET", "/lang?to=en&next=//evil.example/", nil); w.Header().Get("Location") != "/" {
		t.Errorf("the switch redirects off site: %s", w.Header().Get("Location"))
	}
}

func newRequest(u user, method, target string) *http.Request {
	r, _ := http.NewRequest(method, "http://console.test"+target, nil)
	r.RemoteAddr = "192.0.2.1:1234"
	if u.addr != "" {
		r.RemoteAddr = u.addr
	}
	if u.name != "" {
		r.Header.Set("X-Forwarded-Email", u.name)
		r.Header.Set("X-Forwarded-Groups", u.groups)
	}
	return r
}

// Signing in through a real OIDC provider, over TLS: the session cookie,
// roles from the groups claim, the idle timeout and signing out.
func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 50)
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Shutdown() })
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var h http.Handler
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	cfg := f.consoleConfig(console.AuthOIDC)
	cfg.BaseURL, cfg.Now = ts.URL, clock
	cfg.OIDC = console.OIDCConfig{Issuer: idp.Issuer(), ClientID: idp.Config().ClientID, ClientSecret: idp.Config().ClientSecret, GroupsClaim: "groups"}
	s, err := console.New(context.Background(), cfg, f.console.DB, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()

	signIn := func(t *testing.T, groups ...string) *http.Client {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := ts.Client()
		c.Jar = jar
		idp.QueueUser(&mockoidc.MockUser{Subject: "u-" + strings.Join(groups, "-"), Email: "staff@lender.example", Groups: groups})
		resp, err := c.Get(ts.URL + "/runs")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, ck := range jar.Cookies(mustURL(ts.URL)) {
			if ck.Name == "loanremind_session" {
				return c
			}
		}
		t.Fatalf("no session cookie after signing in (%d at %s)", resp.StatusCode, resp.Request.URL)
		return nil
	}
	get := func(c *http.Client, path string) *http.Response {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		defer func() { c.CheckRedirect = nil }()
		resp, err := c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	t.Run("a viewer lands where they were going", func(t *testing.T) {
		c := signIn(t, viewerGroup)
		resp := get(c, "/runs")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("/runs: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
		setCookie := ""
		jar := c.Jar
		for _, ck := range jar.Cookies(mustURL(ts.URL)) {
			setCookie += ck.Name + " "
		}
		if !strings.Contains(setCookie, "loanremind_session") {
			t.Errorf("cookies %s", setCookie)
		}
	})
	t.Run("no role: 403", func(t *testing.T) {
		c := signIn(t, "engineering")
		if resp := get(c, "/"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("/: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		c := signIn(t, viewerGroup)
		advance(14 * time.Minute)
		if resp := get(c, "/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("after 14 minutes: %d", resp.StatusCode)
		}
		advance(15 * time.Minute)
		if resp := get(c, "/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("after 15 idle minutes: %d to %s, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("sign out", func(t *testing.T) {
		c := signIn(t, investigatorGroup)
		resp, err := c.Get(ts.URL + "/logout")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfField.FindStringSubmatch(string(body))
		if m == nil {
			t.Fatalf("no sign-out form: %d", resp.StatusCode)
		}
		resp, err = c.PostForm(ts.URL+"/logout", url.Values{"csrf": {m[1]}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("sign out: %d", resp.StatusCode)
		}
		if resp := get(c, "/"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("after signing out: %d, want a redirect to sign in", resp.StatusCode)
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// Values from the lender's tables are hostile: markup is escaped, and
// invisible or control characters are cleaned, wherever they show.
func TestHostileLenderValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 50)
	borrower, _, installment, message := f.borrowerWithPhone(t)
	const markup = `<script>alert(1)</script>`
	if _, err := f.owner.Exec(`UPDATE borrowers SET full_name = $2, region = $3, time_zone = $4 WHERE id = $1`, borrower,
		markup+"\u202eevil", `"><img src=x onerror=alert(2)>`, "Asia/Shanghai\x1b[31m"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.owner.Exec(`UPDATE loans SET status = $2 WHERE borrower_id = $1`, borrower, `</td><script>x()</script>`); err != nil {
		t.Fatal(err)
	}
	h := f.proxyServer(t)
	pages := map[string]string{
		"viewer":      viewer.do(h, "GET", fmt.Sprintf("/borrowers/%d", borrower), nil).Body.String(),
		"revealed":    investigator.do(h, "POST", "/reveal", url.Values{"csrf": {investigator.csrf(t, h)}, "what": {"borrower"}, "id": {fmt.Sprint(borrower)}, "reason": {"hostile data check"}}).Body.String(),
		"installment": viewer.do(h, "GET", fmt.Sprintf("/installments/%d", installment), nil).Body.String(),
		"message":     viewer.do(h, "GET", fmt.Sprintf("/messages/%d", message), nil).Body.String(),
	}
	for name, body := range pages {
		for _, bad := range []string{"<script>", "<img", "\u202e", "\x1b"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s page carries %q", name, bad)
			}
		}
	}
	if !strings.Contains(pages["revealed"], "&lt;script&gt;alert(1)&lt;/script&gt;evil") {
		t.Error("the revealed name is not shown escaped and cleaned")
	}
}

package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/console"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/jobs/render"
	"github.com/loanremind/loanremind/jobs/seed"
	"github.com/loanremind/loanremind/queries/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The fixture's day: the job runs on it as `make bench` does.
const (
	fixtureDay  = "2026-11-28"
	fixtureAsOf = "2026-11-28T10:00:00+08:00"
	hmacKey     = "console-test-key"
)

// Groups of the test users.
const (
	viewerGroup       = "compliance"
	investigatorGroup = "compliance-investigators"
)

// fixture is a database seeded and run once, read by the console through
// a connection in the loanremind_console role.
type fixture struct {
	ownerURL   string
	owner      *sqlx.DB // the schema owner: seeds, runs the job, tampers
	consoleURL string
	console    *sqlx.DB // in the role loanremind_console
	runner     *jobs.Runner
	runID      int64
	zone       *time.Location
	hasher     *pii.Hasher
}

// newFixture seeds n borrowers and runs the job as of the fixture's day.
func newFixture(t testing.TB, borrowers int) *fixture {
	t.Helper()
	ctx := context.Background()
	url, owner := pgtest.New(t)
	day, _ := civil.ParseDate(fixtureDay)
	if _, err := seed.Run(ctx, owner.DB, seed.Options{Borrowers: borrowers, Seed: 1, AsOf: day}); err != nil {
		t.Fatal(err)
	}
	zone, _ := time.LoadLocation("Asia/Shanghai")
	f := &fixture{ownerURL: url, owner: owner, zone: zone, hasher: pii.NewHasher([]byte(hmacKey))}
	asOf, _ := time.Parse(time.RFC3339, fixtureAsOf)
	jobRunner := &jobs.Runner{DB: owner, Log: quietLog(), Config: testJobsConfig(t, f.zone, f.hasher), Now: func() time.Time { return asOf.Add(time.Minute) }}
	res, err := jobRunner.Run(ctx, jobs.Request{Mode: jobs.ModeManual, AsOf: asOf, Actor: "fixture", Reason: "console tests"})
	if err != nil {
		t.Fatal(err)
	}
	f.runID = res.RunID
	if _, err := owner.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	// The console connects in its role: whatever it does not hold a
	// grant for fails.
	f.consoleURL = withRole(url, "loanremind_console")
	if f.console, err = sqlx.Open("postgres", f.consoleURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.console.Close() })
	var who string
	if err := f.console.QueryRowContext(ctx, `SELECT current_user`).Scan(&who); err != nil || who != "loanremind_console" {
		t.Fatalf("console connection runs as %q (%v), want loanremind_console", who, err)
	}
	f.runner = &jobs.Runner{DB: f.console, Log: quietLog(), Config: jobRunner.Config, Now: jobRunner.Now}
	return f
}

// withRole makes a connection URL whose sessions run in a role (the
// server sets the role parameter at connection start).
func withRole(u, role string) string {
	if strings.Contains(u, "?") {
		return u + "&role=" + role
	}
	return u + "?role=" + role
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// testJobsConfig is the built-in policy (config.Default's stages, windows
// and caps) and templates, as cmd builds them: the jobs packages do not
// import config, so the test spells the values out.
func testJobsConfig(t testing.TB, zone *time.Location, hasher *pii.Hasher) jobs.Config {
	t.Helper()
	day := 24 * time.Hour
	stage := func(name string, days int, expires time.Duration) policy.Stage {
		return policy.Stage{Name: name, DaysFromDue: days, Channels: []policy.Channel{policy.SMS}, Fallback: policy.Email, ExpiresAfter: expires}
	}
	pc := policy.Config{
		Stages: policy.Stages{
			stage("upcoming_3d", -3, 0), stage("due_today", 0, 0), stage("overdue_1d", 1, 0),
			stage("overdue_7d", 7, 0), stage("overdue_30d", 30, 30*day),
		},
		BusinessZone: zone, DefaultZone: zone,
		Allowed: []policy.Window{{Days: policy.AllDays, From: 8 * 3600, To: 21 * 3600}},
		Regions: map[string]policy.Region{
			"CN": {Zones: []string{"Asia/Shanghai"}}, "US-CA": {Zones: []string{"America/Los_Angeles"}},
			"US-NY": {Zones: []string{"America/New_York"}},
			"US-FL": {Zones: []string{"America/New_York", "America/Chicago"}, Allowed: []policy.Window{{Days: policy.AllDays, From: 8 * 3600, To: 20 * 3600}}},
		},
		Caps:          []policy.Cap{{Max: 3, Per: day}, {Max: 7, Per: 7 * day}},
		MinSendWindow: 15 * time.Minute, MaxPhoneZones: 3, LateValidity: day,
	}
	engine, err := render.New(os.DirFS("../../config/templates"), render.Options{
		DefaultLocale: "zh-CN",
		Signature:     map[string]string{"zh-CN": "【安心金融】", "en-US": "Anxin Finance"},
		OptOut: map[string]map[string]string{
			"sms":   {"zh-CN": "回复TD退订", "en-US": "Reply STOP to opt out."},
			"email": {"zh-CN": "如不希望再收到此类邮件，请回复“退订”。", "en-US": "To stop these emails, reply UNSUBSCRIBE."},
		},
		MaxSMSSegments: 3,
		Stages:         []string{"upcoming_3d", "due_today", "overdue_1d", "overdue_7d", "overdue_30d"},
		Channels:       []string{"sms", "email"},
		Locales:        []string{"zh-CN", "en-US"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return jobs.Config{
		Policy: pc, Renderer: engine, Hasher: hasher, BatchSize: 500, DefaultPhoneRegion: "CN",
		LockTimeout: 10 * time.Second, StatementTimeout: 10 * time.Minute, GracePeriod: 30 * time.Second,
		ConfigSHA256: strings.Repeat("c", 64), PolicySHA256: strings.Repeat("p", 64), TemplatesSHA256: engine.SHA256(),
		Version: "test", Host: "test-host", MaxSMSSegments: 3,
	}
}

// consoleConfig is the console's configuration in a mode.
func (f *fixture) consoleConfig(mode string) console.Config {
	return console.Config{
		Auth:               mode,
		IdleTimeout:        15 * time.Minute,
		Proxy:              console.ProxyConfig{Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("127.0.0.1/32")}, UserHeader: "X-Forwarded-Email", GroupsHeader: "X-Forwarded-Groups"},
		ViewerGroups:       []string{viewerGroup},
		InvestigatorGroups: []string{investigatorGroup},
		BusinessZone:       f.zone,
		Hasher:             f.hasher,
		DefaultPhoneRegion: "CN",
		Explainer:          f.runner,
		Version:            "test",
		Host:               "console-test",
	}
}

// proxyServer is a console in proxy mode, as an http.Handler.
func (f *fixture) proxyServer(t testing.TB) http.Handler {
	t.Helper()
	s, err := console.New(context.Background(), f.consoleConfig(console.AuthProxy), f.console.DB, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

// user is a test user behind the trusted proxy.
type user struct {
	name   string
	groups string
	addr   string // the peer; default a trusted proxy
}

var (
	viewer       = user{name: "vera.viewer@lender.example", groups: viewerGroup}
	investigator = user{name: "ivan.investigator@lender.example", groups: "staff," + investigatorGroup}
	noRole       = user{name: "nora.norole@lender.example", groups: "engineering"}
)

// do sends a request as the user through the handler.
func (u user) do(h http.Handler, method, target string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if u.addr != "" {
		r.RemoteAddr = u.addr
	}
	if u.name != "" {
		r.Header.Set("X-Forwarded-Email", u.name)
		r.Header.Set("X-Forwarded-Groups", u.groups)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the user's CSRF token from a page's form.
func (u user) csrf(t testing.TB, h http.Handler) string {
	t.Helper()
	w := u.do(h, "GET", "/search", nil)
	m := csrfField.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no CSRF token on /search (%d):\n%s", w.Code, w.Body.String())
	}
	return m[1]
}

// events counts the administrative events.
func (f *fixture) events(t testing.TB) int {
	t.Helper()
	var n int
	if err := f.owner.QueryRow(`SELECT count(*) FROM reminder_audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// borrowerWithPhone is a borrower the run texted (a valid phone number, a
// queued or deferred SMS), with the number as the lender's table holds it.
func (f *fixture) borrowerWithPhone(t testing.TB) (id int64, phone string, installment, message int64) {
	t.Helper()
	err := f.owner.QueryRow(`
		SELECT b.id, b.phone, a.installment_id, a.send_id
		FROM reminder_audit a JOIN borrowers b ON b.id = a.borrower_id
		WHERE a.channel = 'sms' AND a.send_id IS NOT NULL AND b.phone LIKE '+86%'
		ORDER BY a.id LIMIT 1`).Scan(&id, &phone, &installment, &message)
	if err != nil {
		t.Fatal(err)
	}
	return id, phone, installment, message
}

// serve runs a request through the handler.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

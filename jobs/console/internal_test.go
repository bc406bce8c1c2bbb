package console

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/queries"
)

// clock is a settable clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// A session ends after the idle timeout without a request, and at its
// maximum age whatever; each request restarts the idle clock.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	st := newSessionStore(15*time.Minute, 12*time.Hour, c.Now)
	for _, tc := range []struct {
		name  string
		steps []time.Duration // waits between requests
		alive bool
	}{
		{"used within the timeout", []time.Duration{14 * time.Minute, 14 * time.Minute, 14 * time.Minute}, true},
		{"idle for the timeout", []time.Duration{15 * time.Minute}, false},
		{"idle after use", []time.Duration{10 * time.Minute, 16 * time.Minute}, false},
		{"past the maximum age", func() []time.Duration {
			var s []time.Duration
			for range 49 { // 49 × 14:59 > 12 h
				s = append(s, 14*time.Minute+59*time.Second)
			}
			return s
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := st.create("ada@lender.example", []string{"compliance"}, RoleViewer)
			alive := true
			for _, d := range tc.steps {
				c.now = c.now.Add(d)
				alive = st.get(ss.id) != nil
				if !alive {
					break
				}
			}
			if alive != tc.alive {
				t.Errorf("alive %v, want %v", alive, tc.alive)
			}
		})
	}
	// A sign-in's state is used once, and only for loginTimeout.
	state, _ := st.startLogin("/runs")
	if st.takeLogin(state) == nil || st.takeLogin(state) != nil {
		t.Error("a state is not used exactly once")
	}
	state, _ = st.startLogin("")
	c.now = c.now.Add(loginTimeout)
	if st.takeLogin(state) != nil {
		t.Error("an old state was accepted")
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	s := &Server{cfg: Config{ViewerGroups: []string{"compliance"}, InvestigatorGroups: []string{"compliance-investigators"}}}
	for _, tc := range []struct {
		groups []string
		want   Role
	}{
		{nil, roleNone},
		{[]string{"engineering"}, roleNone},
		{[]string{"Compliance"}, roleNone}, // group names are exact
		{[]string{"compliance"}, RoleViewer},
		{[]string{"compliance-investigators"}, RoleInvestigator},
		{[]string{"compliance", "compliance-investigators"}, RoleInvestigator},
	} {
		if got := s.roleOf(tc.groups); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.groups, got, tc.want)
		}
	}
	if got := groupsOf([]any{"a", " b ", 3, "c,d"}); strings.Join(got, "|") != "a|b|c|d" {
		t.Errorf("groups claim list: %q", got)
	}
	if got := groupsOf("a, b"); strings.Join(got, "|") != "a|b" {
		t.Errorf("groups claim string: %q", got)
	}
	if got := userOf(map[string]any{"preferred_username": "ada", "email": "ada\u202e@x"}, "sub"); got != "ada@x" {
		t.Errorf("user %q: the bidi override is not cleaned", got)
	}
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	l := newRateLimiter(30, 10, c.Now)
	for i := range 10 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("search %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 2*time.Second {
		t.Errorf("11th search: allowed %v, wait %s; want a refusal and 2s (30 a minute)", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Error("another user is limited too")
	}
	c.now = c.now.Add(2 * time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Error("no token after the wait")
	}
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/runs?mode=manual": "/runs?mode=manual", "": "", "//evil.example/": "", "https://evil.example/": "",
		"/\\evil.example": "", "runs": "", "/borrowers/1": "/borrowers/1",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every text the templates and handlers show has its Chinese.
func TestEveryTextIsTranslated(t *testing.T) {
	t.Parallel()
	texts := map[string]bool{}
	tmplText := regexp.MustCompile(`\.Tf? "((?:[^"\\]|\\.)*)"`)
	err := fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		for _, m := range tmplText.FindAllStringSubmatch(string(b), -1) {
			texts[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	goText := regexp.MustCompile(`(?:rq\.T|v\.Tf?|errorf\(http\.\w+,|Message = |render\(w, r, rq, [^,]+, "[a-z]+\.html",) *\(?"((?:[^"\\]|\\.)*)"`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goText.FindAllStringSubmatch(string(b), -1) {
			texts[m[1]] = true
		}
	}
	// Values shown through T: decisions, statuses, modes, roles, lanes,
	// kinds, zone sources and events.
	for _, v := range []string{"queued", "deferred", "suppressed", "skipped", "expired", "pending", "sending", "sent",
		"delivered", "undelivered", "failed", "cancelled", "refused", "unknown", "claimed", "retry", "running", "succeeded", "scheduled",
		"manual", "backfill", "viewer", "investigator", "none", "borrower", "loan", "installment", "message", "run",
		"time_zone", "phone", "region", "default", "reveal", "unmasked_export", "unmasked export", "prune", "Unauthorized",
		"Forbidden", "Not Found", "Bad Request", "Too Many Requests", "Internal Server Error"} {
		texts[v] = true
	}
	// Every status of a message and event of the delivery trail.
	for _, v := range append(slices.Clone(messageStatuses), deliveryEvents...) {
		texts[v] = true
	}
	if len(texts) < 150 {
		t.Fatalf("found only %d texts: the patterns miss some", len(texts))
	}
	for s := range texts {
		if _, ok := zhCN[s]; !ok {
			t.Errorf("no Chinese for %q", s)
		}
	}
}

func TestDailyChart(t *testing.T) {
	t.Parallel()
	days := []queries.DailyCounts{
		{Day: "2026-11-27"},
		{Day: "2026-11-28", Queued: 120_000, Deferred: 40_000, Suppressed: 100_000, Skipped: 30_000, Expired: 6_440, Messages: 162_912, Runs: 1},
	}
	c := newDailyChart(days)
	if c.Max != 500_000 {
		t.Errorf("scale to %d, want 500000", c.Max)
	}
	if len(c.Bars) != 5 {
		t.Fatalf("%d bars, want 5 (an empty day has none)", len(c.Bars))
	}
	// The stack reaches from the axis up to the total.
	bottom := c.Bars[0].Y + c.Bars[0].H
	top := c.Bars[4].Y
	plot := float64(chartHeight - chartTop - chartBottom)
	if want := chartTop + plot; bottom < want-0.2 || bottom > want+0.2 {
		t.Errorf("stack starts at %g, want the axis %g", bottom, want)
	}
	if want := chartTop + plot - plot*296_440/500_000; top < want-0.5 || top > want+0.5 {
		t.Errorf("stack top at %g, want %g", top, want)
	}
	if len(c.Dots) != 2 || !strings.Contains(c.Line, " ") {
		t.Errorf("messages line %q", c.Line)
	}
	for in, want := range map[int64]int64{0: 1, 1: 1, 7: 10, 11: 20, 296_440: 500_000, 1_000_000: 1_000_000} {
		if got := niceCeiling(in); got != want {
			t.Errorf("niceCeiling(%d) = %d, want %d", in, got, want)
		}
	}
}

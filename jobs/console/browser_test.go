package console_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/console"
	"github.com/loanremind/loanremind/queries"
)

// chromiumPath finds the browser. A missing browser fails the test: the
// Makefile installs Debian's chromium (make test), as it installs
// PostgreSQL.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LOANREMIND_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: install it (apt-get install chromium; make test does) or set LOANREMIND_CHROMIUM to its path")
	return ""
}

// browserConsole is a console in oidc mode on a real listener, signing in
// at a real OIDC provider started for the test, and a headless Chromium.
type browserConsole struct {
	base string
	idp  *mockoidc.MockOIDC
	ctx  context.Context
}

func newBrowserConsole(t *testing.T, f *fixture) *browserConsole {
	t.Helper()
	chromium := chromiumPath(t)
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Shutdown() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := f.consoleConfig(console.AuthOIDC)
	cfg.BaseURL = base
	cfg.OIDC = console.OIDCConfig{Issuer: idp.Issuer(), ClientID: idp.Config().ClientID, ClientSecret: idp.Config().ClientSecret, GroupsClaim: "groups"}
	s, err := console.New(context.Background(), cfg, f.console.DB, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests may run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return &browserConsole{base: base, idp: idp, ctx: ctx}
}

// text reads the text of the first element a CSS selector finds, waiting
// for it.
func (b *browserConsole) text(t *testing.T, sel string) string {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("wait for %s at %s: %v\n%s", sel, loc, err, body)
	}
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *browserConsole) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

// End to end, in a real headless Chromium, signed in through a real OIDC
// provider, after the sender delivered the run's due messages through the
// file provider: an investigator searches a borrower by phone number, opens
// the timeline (with the text's delivery), then an installment's
// explanation; reveals the borrower's
// contact data for a reason and finds the event on the events page; and
// downloads an export whose rows are audit export's for the same filter.
func TestEndToEndInChromium(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 200)
	at := deliverAt()
	f.deliver(t, at, fileProvider(t, at))
	borrower, phone, message := f.sentBorrowerWithPhone(t)
	b := newBrowserConsole(t, f)
	b.idp.QueueUser(&mockoidc.MockUser{
		Subject: "ivan-1", Email: "ivan.investigator@lender.example", EmailVerified: true,
		PreferredUsername: "ivan", Groups: []string{"staff", investigatorGroup},
	})

	// Sign in: the console sends the browser to the provider and back.
	b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
	if h1 := b.text(t, "main h1"); h1 != "Overview" {
		t.Fatalf("after sign-in: %q", h1)
	}
	if who := b.text(t, "header .user"); who != "ivan.investigator@lender.example" {
		t.Errorf("signed in as %q", who)
	}
	if role := b.text(t, "header .role"); role != "investigator" {
		t.Errorf("role %q", role)
	}

	// Search the borrower by phone number: a POST, so the number is in
	// no URL.
	b.do(t, "search by phone",
		chromedp.Navigate(b.base+"/search"),
		chromedp.SendKeys(chromedp.CSS("#contact"), phone),
		chromedp.Click(chromedp.CSS("#contact-search")),
	)
	link := b.text(t, "#matches a.borrower-link")
	if link != fmt.Sprint(borrower) {
		t.Fatalf("the search found borrower %q, want %d", link, borrower)
	}
	if loc, _ := chromedp.Run(b.ctx, chromedp.Location()); strings.Contains(loc, digits(phone)) {
		t.Errorf("the phone number is in the URL %s", loc)
	}

	// Their timeline, masked.
	b.do(t, "open the borrower", chromedp.Click(chromedp.CSS("#matches a.borrower-link")))
	timeline := b.text(t, "#timeline")
	if !strings.Contains(timeline, "Decision") || !strings.Contains(timeline, "Message") {
		t.Errorf("the timeline lacks decisions or messages:\n%s", timeline)
	}
	if sent := fmt.Sprintf("sent via file (file-%d), message %d", message, message); !strings.Contains(timeline, sent) {
		t.Errorf("the timeline lacks the delivery %q:\n%s", sent, timeline)
	}
	if shown := b.text(t, "#phone"); strings.Contains(shown, digits(phone)) || !strings.Contains(shown, "****") {
		t.Errorf("the phone number is shown %q before any reveal", shown)
	}

	// An installment's explanation, from the timeline.
	b.do(t, "open an installment", chromedp.Click(chromedp.CSS(`#timeline a[href^="/installments/"]`)))
	explanation := b.text(t, "#explanation")
	for _, want := range []string{"The facts", "The policy, step by step", "The outcome", "as run"} {
		if !strings.Contains(explanation, want) {
			t.Errorf("the explanation lacks %q:\n%s", want, explanation)
		}
	}

	// Reveal as an investigator, with a reason; then the events page.
	const reason = "complaint CMP-2026-118 from the borrower"
	b.do(t, "reveal",
		chromedp.Navigate(fmt.Sprintf("%s/borrowers/%d", b.base, borrower)),
		chromedp.SendKeys(chromedp.CSS("#reveal-reason"), reason),
		chromedp.Click(chromedp.CSS("#reveal")),
	)
	if note := b.text(t, "#revealed"); !strings.Contains(note, reason) {
		t.Errorf("reveal note %q", note)
	}
	if shown := b.text(t, "#phone"); shown != phone {
		t.Errorf("revealed phone %q, want %q", shown, phone)
	}
	b.do(t, "open the events", chromedp.Navigate(b.base+"/events"))
	events := b.text(t, "#events")
	for _, want := range []string{reason, "reveal", "ivan.investigator@lender.example", fmt.Sprintf("borrower: %d", borrower)} {
		if !strings.Contains(events, want) {
			t.Errorf("the events page lacks %q:\n%s", want, events)
		}
	}

	// Download an export of the borrower's decisions.
	dir := t.TempDir()
	from, to := "2026-11-01", "2026-12-31"
	b.do(t, "allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: ptr(true),
		})
		return err
	}))
	progress := chromedp.Events(b.ctx, browser.DownloadProgress)
	b.do(t, "download the export",
		chromedp.Navigate(fmt.Sprintf("%s/export?borrower=%d&from=%s&to=%s", b.base, borrower, from, to)),
		chromedp.WaitVisible(chromedp.CSS("#export")),
		chromedp.Click(chromedp.CSS("#export")),
	)
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = ev.FilePath
			break
		}
	}
	got, err := readDownload(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	q := queries.ExportFilter{From: date(t, from, f.zone), To: date(t, to, f.zone).AddDate(0, 0, 1), BorrowerID: borrower}
	n, err := audit.Export(context.Background(), f.owner, q, "csv", false, &want)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the downloaded export (%d bytes) differs from audit export's %d rows (%d bytes):\n%s\n---\n%s", len(got), n, want.Len(), got, want.String())
	}
}

// readDownload reads the finished download: the path the browser reports,
// or the one file in dir.
func readDownload(dir, path string) ([]byte, error) {
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			return b, nil
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(matches) != 1 {
		entries, _ := os.ReadDir(dir)
		return nil, fmt.Errorf("download %q: %d CSV files in %s (%d entries)", path, len(matches), dir, len(entries))
	}
	return os.ReadFile(matches[0])
}

func ptr[T any](v T) *T { return &v }

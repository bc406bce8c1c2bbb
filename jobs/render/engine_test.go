package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestNewDefaultTemplates(t *testing.T) {
	fsys := defaultTemplates()
	e := newDefaultEngine(t)
	if w := e.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	hashes := e.Hashes()
	if len(hashes) != 20 {
		t.Errorf("Hashes has %d templates, want 20", len(hashes))
	}
	for name, h := range hashes {
		sum := sha256.Sum256(fsys[name].Data)
		if h != hex.EncodeToString(sum[:]) {
			t.Errorf("Hashes[%s] = %s, want the sha256 of the file", name, h)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(e.SHA256()) {
		t.Errorf("SHA256() = %q", e.SHA256())
	}
	if e2 := newDefaultEngine(t); e2.SHA256() != e.SHA256() {
		t.Errorf("SHA256 differs between two engines on the same templates")
	}
	// Changing one byte of one template changes its hash and the set hash.
	fsys["sms/due_today.en-US.tmpl"].Data = append(fsys["sms/due_today.en-US.tmpl"].Data, ' ')
	e3, err := New(fsys, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if e3.SHA256() == e.SHA256() || e3.Hashes()["sms/due_today.en-US.tmpl"] == hashes["sms/due_today.en-US.tmpl"] ||
		e3.Hashes()["sms/due_today.zh-CN.tmpl"] != hashes["sms/due_today.zh-CN.tmpl"] {
		t.Errorf("a changed template does not change exactly its hash and the set hash")
	}
	// Preview: 5 stages x 2 locales x (3 SMS samples + 2 email samples).
	p := e.Preview()
	if len(p) != 50 {
		t.Fatalf("Preview has %d texts, want 50", len(p))
	}
	if p[0].Template != "sms/upcoming_3d.zh-CN.tmpl" || p[3].Template != "sms/upcoming_3d.en-US.tmpl" ||
		p[49].Template != "email/overdue_30d.en-US.tmpl" {
		t.Errorf("Preview order: %s, %s, …, %s", p[0].Template, p[3].Template, p[49].Template)
	}
	for i, want := range []struct {
		sample string
		items  int
	}{{"1 item", 1}, {"3 items, 2 currencies", 3}, {"1,000 items, 3 currencies", 1000}, {"1 item", 1}} {
		if p[i].Sample != want.sample || p[i].Items != want.items || p[i].Segments == 0 {
			t.Errorf("Preview[%d]: sample %q, %d items, %d segments", i, p[i].Sample, p[i].Items, p[i].Segments)
		}
	}
	if last := p[len(p)-1]; last.Sample != "3 items, 2 currencies" || last.Subject == "" {
		t.Errorf("last preview: sample %q, subject %q", last.Sample, last.Subject)
	}
	// Options.Locales (filled from a map by callers) in any order gives the
	// same preview; a listed locale without templates previews its fallback.
	for _, locs := range [][]string{{"en-US", "zh-CN", "en-GB"}, {"en-GB", "en-US"}} {
		t.Run(strings.Join(locs, ","), func(t *testing.T) {
			opts := testOptions()
			opts.Locales = locs
			e, err := New(defaultTemplates(), opts)
			if err != nil {
				t.Fatal(err)
			}
			p := e.Preview()
			if len(p) != 75 || p[3].Locale != "en-US" || p[6].Template != "sms/upcoming_3d.en-US.tmpl" {
				t.Errorf("Locales %q: %d texts, [3] %s, [6] %s", locs, len(p), p[3].Locale, p[6].Template)
			}
		})
	}
}

// newErr returns the error of New on fsys with opts, failing when New succeeds.
func newErr(t *testing.T, fsys fstest.MapFS, opts Options) string {
	t.Helper()
	_, err := New(fsys, opts)
	if err == nil {
		t.Fatalf("New succeeded, want an error")
	}
	return err.Error()
}

const okBody = "{{.Signature}}{{range .Items}}{{.Account}}第{{.Seq}}期{{.Amount}}，{{.DueDate}}到期。{{end}}"

func TestNewValidation(t *testing.T) {
	const name = "sms/due_today.zh-CN.tmpl"
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error
	}{
		{"missing opt-out line", okBody,
			[]string{name, "lacks the opt-out line", "回复TD退订"}},
		{"missing signature", "{{range .Items}}{{.Amount}}{{end}}{{.OptOut}}",
			[]string{name, "lacks the signature", "【安心金融】"}},
		{"opt-out only in one branch", okBody + "{{if gt .Count 1}}{{.OptOut}}{{end}}",
			[]string{name, "sample 1 item", "opt-out"}},
		{"URL", okBody + "详见https://x.cn{{.OptOut}}",
			[]string{name, "link", "https://x.cn"}},
		{"www host", okBody + "登录www.example.com还款{{.OptOut}}",
			[]string{name, "link", "www.example.com"}},
		{"bare domain", okBody + "登录anxin.com还款{{.OptOut}}",
			[]string{name, "link", "anxin.com"}},
		{"parse error with line", "{{.Signature}}\n{{.OptOut}}\n{{end}}",
			[]string{name + ":3:", "unexpected {{end}}"}},
		{"unclosed action", "{{.Signature}}\n\n\n{{.OptOut", []string{name + ":4:"}},
		{"unknown function", "{{.Signature}}{{money .Total}}{{.OptOut}}",
			[]string{name + ":1:", `function "money" not defined`}},
		{"exec error: unknown field", "{{.Signature}}{{.Borrower.Phone}}{{.OptOut}}",
			[]string{name, "can't evaluate field Borrower"}},
		{"exec error: full account reference", "{{.Signature}}{{range .Items}}{{.AccountRef}}{{end}}{{.OptOut}}",
			[]string{name, "can't evaluate field AccountRef"}},
		{"empty body", "  ", []string{name, "empty body"}},
		{"exec error: float comparison", "{{.Signature}}{{if eq .Count 1.0}}x{{end}}{{.OptOut}}",
			[]string{name, "incompatible types for comparison"}},
		{"exec error: string comparison", `{{.Signature}}{{if eq .Count "1"}}x{{end}}{{.OptOut}}`,
			[]string{name, "incompatible types for comparison"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := newErr(t, miniFS(map[string]string{name: tt.src}), miniOptions())
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			// Only the broken template is named.
			if strings.Contains(msg, "overdue_7d.zh-CN") {
				t.Errorf("error %q names a good template", msg)
			}
		})
	}
}

func TestNewAllowLinks(t *testing.T) {
	fsys := miniFS(map[string]string{"sms/due_today.zh-CN.tmpl": okBody + "详见https://x.cn{{.OptOut}}"})
	opts := miniOptions()
	opts.AllowLinks = true
	if _, err := New(fsys, opts); err != nil {
		t.Fatalf("AllowLinks: %v", err)
	}
}

func TestNewMissingTemplate(t *testing.T) {
	msg := newErr(t, miniFS(map[string]string{"sms/overdue_7d.zh-CN.tmpl": ""}), miniOptions())
	mustContain(t, msg, "missing template sms/overdue_7d.zh-CN.tmpl")

	// An en-US template set lacking one stage falls back to zh-CN: a
	// warning, not an error.
	over := map[string]string{}
	for _, st := range testStages {
		if st != "overdue_7d" {
			over["sms/"+st+".en-US.tmpl"] = "{{.Signature}}: {{range .Items}}{{.Amount}} due {{.DueDate}}. {{end}}{{.OptOut}}"
		}
	}
	e, err := New(miniFS(over), miniOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, strings.Join(e.Warnings(), "\n"), "sms/overdue_7d: no en-US template, en-US messages use sms/overdue_7d.zh-CN.tmpl")

	// A stage listed in the options without any template fails, as does a
	// channel.
	opts := miniOptions()
	opts.Stages = append(opts.Stages, "overdue_60d")
	mustContain(t, newErr(t, miniFS(nil), opts), "missing template sms/overdue_60d.zh-CN.tmpl")
	opts = miniOptions()
	opts.Channels = []string{"sms", "email"}
	mustContain(t, newErr(t, miniFS(nil), opts), "missing template email/due_today.zh-CN.tmpl")
}

func TestNewApproved(t *testing.T) {
	e := newDefaultEngine(t)
	opts := testOptions()
	opts.Approved = e.Hashes()
	if _, err := New(defaultTemplates(), opts); err != nil {
		t.Fatalf("all approved: %v", err)
	}
	opts.Approved["sms/due_today.en-US.tmpl"] = strings.ToUpper(opts.Approved["sms/due_today.en-US.tmpl"])
	if _, err := New(defaultTemplates(), opts); err != nil {
		t.Fatalf("upper-case approved hash: %v", err)
	}

	fsys := defaultTemplates()
	fsys["sms/overdue_7d.zh-CN.tmpl"].Data = []byte(strings.Replace(string(fsys["sms/overdue_7d.zh-CN.tmpl"].Data), "请尽快", "请立即", 1))
	msg := newErr(t, fsys, opts)
	mustContain(t, msg, "sms/overdue_7d.zh-CN.tmpl: sha256 ", "does not match the approved "+e.Hashes()["sms/overdue_7d.zh-CN.tmpl"])
	if strings.Count(msg, "\n") != 0 {
		t.Errorf("more than one template reported: %q", msg)
	}

	opts.Approved = e.Hashes()
	delete(opts.Approved, "email/due_today.en-US.tmpl")
	mustContain(t, newErr(t, defaultTemplates(), opts), "email/due_today.en-US.tmpl: not approved")
}

func TestNewFiles(t *testing.T) {
	tests := map[string][]string{
		"sms/due_today.tmpl":          {"sms/due_today.tmpl", "bad template file name"},
		"due_today.zh-CN.tmpl":        {"due_today.zh-CN.tmpl", "bad template file name"},
		"sms/x/due_today.zh-CN.tmpl":  {"bad template file name"},
		"sms/due_today.zh_cn.tmpl":    {"sms/due_today.zh_cn.tmpl", `must be written "zh-CN"`},
		"sms/due today.zh-CN.tmpl":    {"bad template file name"},
		"sms/due_today.中文.tmpl":       {"is not a locale"},
		"email/due_today.zh-CN.tmpl":  {"email/due_today.zh-CN.tmpl", `lacks {{define "subject"}}`},
		"sms/overdue_7d.zh-CN.tmpl.x": nil, // ignored: not .tmpl
	}
	for file, want := range tests {
		t.Run(file, func(t *testing.T) {
			fsys := miniFS(map[string]string{file: okBody + "{{.OptOut}}"})
			opts := miniOptions()
			opts.Channels = []string{"sms", "email"}
			if want == nil {
				opts.Channels = []string{"sms"}
				if _, err := New(fsys, opts); err != nil {
					t.Errorf("%s: %v", file, err)
				}
				return
			}
			if file == "email/due_today.zh-CN.tmpl" {
				// Give email every other stage so that only the subject is missing.
				for _, st := range testStages {
					if st == "due_today" {
						continue
					}
					fsys["email/"+st+".zh-CN.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}s{{end}}` + okBody + "{{.OptOut}}")}
				}
				opts.OptOut["email"] = map[string]string{"zh-CN": "回复TD退订"}
			}
			msg := newErr(t, fsys, opts)
			mustContain(t, msg, want...)
		})
	}
	// A template for a stage or channel not in use is parsed (a syntax
	// error fails) but otherwise only warned about.
	fsys := miniFS(map[string]string{"sms/final_notice.zh-CN.tmpl": okBody + "{{.OptOut}}"})
	e, err := New(fsys, miniOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, strings.Join(e.Warnings(), "\n"), "sms/final_notice.zh-CN.tmpl", "unused")
	if _, ok := e.Hashes()["sms/final_notice.zh-CN.tmpl"]; ok {
		t.Errorf("an unused template is in Hashes")
	}
	fsys["sms/final_notice.zh-CN.tmpl"].Data = []byte("{{if}}")
	mustContain(t, newErr(t, fsys, miniOptions()), "sms/final_notice.zh-CN.tmpl:1")
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no default locale", func(o *Options) { o.DefaultLocale = "" }, "DefaultLocale"},
		{"bad default locale", func(o *Options) { o.DefaultLocale = "chinese!" }, `DefaultLocale "chinese!"`},
		{"no stages", func(o *Options) { o.Stages = nil }, "Stages is empty"},
		{"bad stage", func(o *Options) { o.Stages = []string{"due.today"} }, `invalid stage name "due.today"`},
		{"duplicate stage", func(o *Options) { o.Stages = []string{"due_today", "due_today"} }, "listed twice"},
		{"no channels", func(o *Options) { o.Channels = nil }, "Channels is empty"},
		{"unknown channel", func(o *Options) { o.Channels = []string{"sms", "fax"} }, `unknown channel "fax"`},
		{"negative max", func(o *Options) { o.MaxSMSSegments = -1 }, "MaxSMSSegments -1"},
		{"no signature", func(o *Options) { o.Signature = map[string]string{"en-US": "Anxin Finance"} },
			"no signature for locale zh-CN"},
		{"blank signature", func(o *Options) { o.Signature = map[string]string{"zh-CN": " "} },
			"no signature for locale zh-CN"},
		{"no opt-out", func(o *Options) { o.OptOut = map[string]map[string]string{"email": {"zh-CN": "x"}} },
			"no opt-out line for sms/zh-CN"},
		{"bad preview locale", func(o *Options) { o.Locales = []string{"??"} }, `Options.Locales: "??"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := miniOptions()
			tt.edit(&opts)
			msg := newErr(t, miniFS(nil), opts)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("%s: error %q does not contain %q", tt.name, msg, tt.want)
			}
		})
	}
	if _, err := New(nil, miniOptions()); err == nil {
		t.Errorf("New(nil) succeeded")
	}
	// Keys of Signature and OptOut match in any case and by language.
	opts := miniOptions()
	opts.Signature = map[string]string{"zh": "【安心金融】"}
	opts.OptOut = map[string]map[string]string{"sms": {"ZH_cn": "回复TD退订"}}
	if _, err := New(miniFS(nil), opts); err != nil {
		t.Errorf("language and case-insensitive keys: %v", err)
	}
}

// TestNewSMSBudget: an SMS template that renders some sample (1, 2, 3, 10
// or 1,000 items, in one currency or several) in more segments than
// MaxSMSSegments fails New, naming the template and the sample.
func TestNewSMSBudget(t *testing.T) {
	budget := func(max int, fsys fstest.MapFS) (*Engine, error) {
		opts := testOptions()
		opts.MaxSMSSegments = max
		return New(fsys, opts)
	}
	// The default budget, 2: every default template fits, with no warning.
	e, err := budget(2, defaultTemplates())
	if err != nil {
		t.Fatalf("default templates over a budget of 2: %v", err)
	}
	if w := e.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	// With 1, a summary in two currencies does not fit; one item does.
	_, err = budget(1, defaultTemplates())
	if !errors.Is(err, ErrSMSBudget) {
		t.Fatalf("budget 1: err = %v, want ErrSMSBudget", err)
	}
	msg := err.Error()
	mustContain(t, msg, "render: sms/overdue_7d.en-US.tmpl: over the SMS segment budget: sample 2 items, 2 currencies is 2 SMS segments (GSM-7), over the budget of 1",
		"render: sms/overdue_7d.zh-CN.tmpl: over the SMS segment budget: sample 3 items, 3 currencies is 2 SMS segments (UCS-2), over the budget of 1")
	if strings.Contains(msg, "sample 1 item") || strings.Contains(msg, "email/") {
		t.Errorf("budget 1: %s", msg)
	}
	// A template listing every item breaks the default budget: named, with
	// the fewest items that break it, alone.
	fsys := defaultTemplates()
	fsys["sms/overdue_7d.zh-CN.tmpl"] = &fstest.MapFile{Data: []byte(okBody + "{{.OptOut}}")}
	_, err = budget(2, fsys)
	if !errors.Is(err, ErrSMSBudget) {
		t.Fatalf("listing template: err = %v, want ErrSMSBudget", err)
	}
	mustContain(t, err.Error(), "sms/overdue_7d.zh-CN.tmpl", "sample 10 items, 1 currency is ", "SMS segments (UCS-2), over the budget of 2")
	if strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("more than one problem: %s", err)
	}
	// 0 is no budget.
	if _, err := budget(0, fsys); err != nil {
		t.Errorf("no budget: %v", err)
	}
}

func TestLocaleFallback(t *testing.T) {
	e := newDefaultEngine(t)
	tests := map[string]string{
		"zh-CN": "zh-CN", "en-US": "en-US",
		"en-GB": "en-US", "en": "en-US", "EN_us": "en-US", "en-us": "en-US",
		"zh-TW": "zh-CN", "zh_HK": "zh-CN", "zh": "zh-CN",
		"fr-FR": "zh-CN", "": "zh-CN", "??": "zh-CN", " en-US ": "en-US",
	}
	for loc, want := range tests {
		t.Run(fmt.Sprintf("%q", loc), func(t *testing.T) {
			m := sampleMessage("sms", "due_today", loc)
			r, err := e.Render(m)
			if err != nil {
				t.Fatalf("%q: %v", loc, err)
			}
			if r.Locale != want || r.Template != "sms/due_today."+want+".tmpl" {
				t.Errorf("locale %q: got template %s locale %s, want %s", loc, r.Template, r.Locale, want)
			}
		})
	}

	// Same-language fallback prefers the default locale, then the smallest.
	over := map[string]string{}
	for _, st := range testStages {
		for _, l := range []string{"en-US", "en-GB", "en-CA"} {
			over["sms/"+st+"."+l+".tmpl"] = "{{.Signature}} " + l + " {{range .Items}}{{.Amount}}{{end}} {{.OptOut}}"
		}
	}
	for def, want := range map[string]string{"en-US": "en-US", "zh-CN": "en-CA"} {
		t.Run("default "+def, func(t *testing.T) {
			opts := miniOptions()
			opts.DefaultLocale = def
			e, err := New(miniFS(over), opts)
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.Render(sampleMessage("sms", "due_today", "en-AU"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Locale != want {
				t.Errorf("default %s: en-AU uses %s, want %s", def, r.Locale, want)
			}
		})
	}
}

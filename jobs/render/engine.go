package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"text/template"
)

// Channels an Engine renders for.
const (
	ChannelSMS   = "sms"
	ChannelEmail = "email"
)

// Error is the type of this package's sentinel errors (constants, so that no
// package variable can be changed). Test for them with errors.Is.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrNoTemplate: the message asks for a channel or stage the Engine was
	// not configured with.
	ErrNoTemplate Error = "no template"
	// ErrBadMessage: the message data cannot be rendered (no items, an
	// invalid currency, an amount ≤ 0, a due date that disagrees with
	// DaysPastDue, a total that overflows int64, a link in the name…). The
	// caller skips the message and audits why.
	ErrBadMessage Error = "invalid message"
	// ErrTemplate: a template failed on this message although it passed the
	// checks in New (it depends on data in a way the samples did not cover).
	ErrTemplate Error = "template failed"
	// ErrSMSBudget: New rendered an SMS template's sample with more
	// segments than Options.MaxSMSSegments.
	ErrSMSBudget Error = "over the SMS segment budget"
	// ErrTooLarge: the message would be larger than its channel's
	// Options.MaxBytes (with ErrBadMessage when the data made it so).
	ErrTooLarge Error = "message too large"
)

// Options configures an Engine. Locale keys are BCP 47 tags ("zh-CN"); they
// are matched in any case and with "_" or "-".
type Options struct {
	DefaultLocale  string                       // fallback locale, e.g. "zh-CN"
	Signature      map[string]string            // locale -> signature, e.g. "zh-CN": "【安心金融】", "en-US": "Anxin Finance"
	OptOut         map[string]map[string]string // channel -> locale -> opt-out line, e.g. sms/zh-CN "回复TD退订", sms/en-US "Reply STOP to opt out."
	MaxSMSSegments int                          // the SMS segment budget: a template with a sample over it fails New (0 = no limit)
	MaxBytes       map[string]int               // channel -> the most bytes of body and subject a message may have (0 or absent: no limit)
	AllowLinks     bool                         // default false: a template rendering a URL/domain fails validation
	Approved       map[string]string            // template name ("sms/due_today.zh-CN.tmpl") -> approved sha256 hex; when non-empty every used template must match
	Stages         []string                     // stage names that need templates, least severe first
	Channels       []string                     // channels in use ("sms", "email")
	Locales        []string                     // locales to check/preview (default: DefaultLocale plus all found)
}

// Engine renders messages with a fixed, validated set of templates. It is
// immutable after New and safe for concurrent use.
type Engine struct {
	defaultLocale string
	stages        []string
	channels      []string
	allowLinks    bool
	maxBytes      map[string]int

	resolved   map[tmplKey]*tmpl // (channel, stage, canonical locale) for every checked locale
	byLanguage map[tmplKey]*tmpl // (channel, stage, language) -> template of that language
	hashes     map[string]string // used template name -> sha256 hex of its source
	sha256     string
	warnings   []string
	preview    []PreviewText

	pool sync.Pool // *scratch
}

type tmplKey struct{ channel, stage, locale string }

// tmpl is one parsed template file and what rendering with it needs.
type tmpl struct {
	name, channel, stage, locale string
	sha256                       string
	main, subject                *template.Template // subject: email only
	sms, zh                      bool               // an SMS template; a Chinese one
	money                        moneyStyle         // how its amounts are written
	signature, optOut            string             // for the template's locale and channel
	preview                      []PreviewText      // its sample texts, rendered by New
}

// New parses every template in fsys, then renders each (stage, channel,
// locale) against sample data (1 item; 3 items in 2 currencies with a long
// name; for SMS also 2, 3, 10 and 1,000 items in one and in three
// currencies) so that a broken template, or an SMS template that can exceed
// the segment budget, fails here, before any write.
//
// Template files are named <channel>/<stage>.<locale>.tmpl ("sms/due_today.zh-CN.tmpl");
// files not ending in .tmpl are ignored. They are Go text/template texts over
// a View; an email template defines its subject with {{define "subject"}}…{{end}}
// and its body as the main template. Rendered text is trimmed of leading and
// trailing white space, and a subject is folded onto one line.
//
// A message in locale L uses the template for L, else one of L's language
// ("en-GB" → "en-US", the default locale first if it has that language), else
// the one for DefaultLocale. Every locale in Options.Locales, DefaultLocale
// and every locale that has a template file are checked. Amounts, dates,
// account masks, the signature and the opt-out line follow the locale of the
// template actually used.
//
// Errors name the template and the problem: a missing template for a
// stage/channel (after locale fallback), a bad file name, a parse error (with
// its line), an execution error, rendered text lacking the opt-out line or the
// signature, a link when !AllowLinks, an unapproved hash, an SMS sample over
// MaxSMSSegments (naming the first sample over it, ErrSMSBudget). All
// problems found are returned together. Warnings (a locale that falls back
// for some templates, unused templates) are returned by Warnings.
func New(fsys fs.FS, opts Options) (*Engine, error) {
	if fsys == nil {
		return nil, errors.New("render: no template file system")
	}
	e := &Engine{
		allowLinks: opts.AllowLinks,
		maxBytes:   opts.MaxBytes,
		resolved:   map[tmplKey]*tmpl{},
		byLanguage: map[tmplKey]*tmpl{},
		hashes:     map[string]string{},
	}
	e.pool.New = func() any { return new(scratch) }
	if err := e.setOptions(opts); err != nil {
		return nil, err
	}
	files, err := parseTemplates(fsys)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}

	var probs problems
	cat := e.catalog(files, &probs)
	checked, previewLocales := e.localesToCheck(opts.Locales, cat.found, &probs)
	e.indexLanguages(cat)
	used := e.resolveAll(cat, checked, &probs)
	for _, t := range used {
		e.checkTemplate(t, opts, &probs)
	}
	if len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	e.sha256 = setSHA256(used)
	e.collectPreview(previewLocales)
	return e, nil
}

// problems collects what New finds wrong, to report it all at once.
type problems []error

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// templateCatalog is the usable template files by exact key.
type templateCatalog struct {
	byKey  map[tmplKey]*tmpl // exact (channel, stage, locale) -> template
	found  []string          // locales that have template files, sorted
	broken map[tmplKey]bool  // files that exist but failed: no "missing" error for them
}

// catalog files the parsed templates by key: a file that failed is a
// problem, one for a channel or stage not in use a warning.
func (e *Engine) catalog(files []*fileResult, probs *problems) templateCatalog {
	cat := templateCatalog{byKey: map[tmplKey]*tmpl{}, broken: map[tmplKey]bool{}}
	for _, f := range files {
		if f.err != nil {
			*probs = append(*probs, f.err)
			if f.tmpl != nil {
				cat.broken[tmplKey{f.channel, f.stage, f.locale}] = true
			}
			continue
		}
		t := f.tmpl
		if !slices.Contains(e.channels, t.channel) || !slices.Contains(e.stages, t.stage) {
			e.warnf("%s: channel %q or stage %q not configured; template unused", t.name, t.channel, t.stage)
			continue
		}
		cat.byKey[tmplKey{t.channel, t.stage, t.locale}] = t
		if !slices.Contains(cat.found, t.locale) {
			cat.found = append(cat.found, t.locale)
		}
	}
	slices.Sort(cat.found)
	return cat
}

// localesToCheck returns the locales every template must resolve for (the
// default locale, the ones with template files and Options.Locales), sorted,
// and the locales to preview: the default locale first, then
// Options.Locales, or when it is empty every locale with template files,
// sorted.
func (e *Engine) localesToCheck(optLocales, found []string, probs *problems) (checked, previewLocales []string) {
	localeSet := map[string]bool{e.defaultLocale: true}
	for _, l := range found {
		localeSet[l] = true
	}
	previewLocales = []string{e.defaultLocale}
	for _, l := range optLocales {
		canonical, ok := canonicalLocale(l)
		if !ok {
			probs.addf("render: Options.Locales: %q is not a locale", l)
			continue
		}
		localeSet[canonical] = true
		if !slices.Contains(previewLocales, canonical) {
			previewLocales = append(previewLocales, canonical)
		}
	}
	if len(optLocales) == 0 {
		for _, l := range found {
			if !slices.Contains(previewLocales, l) {
				previewLocales = append(previewLocales, l)
			}
		}
	}
	slices.Sort(previewLocales[1:]) // whatever order Options.Locales came in
	checked = make([]string, 0, len(localeSet))
	for l := range localeSet {
		checked = append(checked, l)
	}
	slices.Sort(checked)
	return checked, previewLocales
}

// indexLanguages fills the language fallback: per (channel, stage,
// language), the default locale's template if it has that language, else
// the first locale's.
func (e *Engine) indexLanguages(cat templateCatalog) {
	for _, l := range cat.found {
		for _, ch := range e.channels {
			for _, st := range e.stages {
				t := cat.byKey[tmplKey{ch, st, l}]
				if t == nil {
					continue
				}
				k := tmplKey{ch, st, language(l)}
				if cur := e.byLanguage[k]; cur == nil || l == e.defaultLocale && cur.locale != e.defaultLocale {
					e.byLanguage[k] = t
				}
			}
		}
	}
}

// resolveAll resolves every (channel, stage, checked locale) to a
// template, falling back by language then to the default locale, and
// returns the templates used, sorted by name. A key nothing resolves is a
// problem.
func (e *Engine) resolveAll(cat templateCatalog, checked []string, probs *problems) []*tmpl {
	var used []*tmpl
	for _, ch := range e.channels {
		for _, st := range e.stages {
			for _, l := range checked {
				if cat.broken[tmplKey{ch, st, l}] {
					continue
				}
				t := cat.byKey[tmplKey{ch, st, l}]
				if t == nil {
					t = e.byLanguage[tmplKey{ch, st, language(l)}]
				}
				if t == nil {
					t = cat.byKey[tmplKey{ch, st, e.defaultLocale}]
				}
				if t == nil {
					probs.addf("render: missing template %s/%s.%s.tmpl (nor one for language %q or the default locale %s)",
						ch, st, l, language(l), e.defaultLocale)
					continue
				}
				if t.locale != l && slices.Contains(cat.found, l) {
					e.warnf("%s/%s: no %s template, %s messages use %s", ch, st, l, l, t.name)
				}
				e.resolved[tmplKey{ch, st, l}] = t
				if !slices.Contains(used, t) {
					used = append(used, t)
				}
			}
		}
	}
	slices.SortFunc(used, func(a, b *tmpl) int { return strings.Compare(a.name, b.name) })
	return used
}

// checkTemplate gives a used template its signature and opt-out line,
// checks its approval and renders the sample messages with it: an SMS
// template must render each within the segment budget.
func (e *Engine) checkTemplate(t *tmpl, opts Options, probs *problems) {
	var ok bool
	if t.signature, ok = lookupByLocale(opts.Signature, t.locale); !ok || strings.TrimSpace(t.signature) == "" {
		probs.addf("render: %s: no signature for locale %s in Options.Signature", t.name, t.locale)
		return
	}
	if t.optOut, ok = lookupByLocale(opts.OptOut[t.channel], t.locale); !ok || strings.TrimSpace(t.optOut) == "" {
		probs.addf("render: %s: no opt-out line for %s/%s in Options.OptOut", t.name, t.channel, t.locale)
		return
	}
	e.hashes[t.name] = t.sha256
	if len(opts.Approved) > 0 {
		want, ok := opts.Approved[t.name]
		switch {
		case !ok:
			probs.addf("render: %s: not approved (sha256 %s is not in Options.Approved)", t.name, t.sha256)
		case !strings.EqualFold(strings.TrimSpace(want), t.sha256):
			probs.addf("render: %s: sha256 %s does not match the approved %s", t.name, t.sha256, want)
		}
	}
	previews := e.samples(t)
	samples := previews
	if t.sms {
		samples = append(slices.Clone(previews), e.budgetSamples(t)...)
	} else {
		// Within the size budget however many items.
		samples = append(slices.Clone(previews), e.sample(t, 1000, 3))
	}
	var overBudget *sample // the sample with the fewest items over the budget says enough
	var overBudgetText Rendered
	for i, s := range samples {
		r, err := e.render(t, &s.msg)
		if err != nil {
			probs.addf("render: %s (sample %s): %w", t.name, s.label, err)
			continue
		}
		if i < len(previews) {
			t.preview = append(t.preview, PreviewText{Sample: s.label, Items: len(s.msg.Items), Rendered: r})
		}
		if t.sms && opts.MaxSMSSegments > 0 && r.Segments > opts.MaxSMSSegments &&
			(overBudget == nil || len(s.msg.Items) < len(overBudget.msg.Items)) {
			overBudget, overBudgetText = &samples[i], r
		}
	}
	if overBudget != nil {
		probs.addf("render: %s: %w: sample %s is %d SMS segments (%s), over the budget of %d",
			t.name, ErrSMSBudget, overBudget.label, overBudgetText.Segments, overBudgetText.Encoding, opts.MaxSMSSegments)
	}
}

// setSHA256 is one hash over every used template (sorted by name): its name
// and source hash.
func setSHA256(used []*tmpl) string {
	h := sha256.New()
	for _, t := range used {
		fmt.Fprintf(h, "%s\x00%s\n", t.name, t.sha256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// collectPreview lists the sample texts of every channel × stage × preview
// locale, in that order, for Preview.
func (e *Engine) collectPreview(previewLocales []string) {
	for _, ch := range e.channels {
		for _, st := range e.stages {
			for _, l := range previewLocales {
				e.preview = append(e.preview, e.resolved[tmplKey{ch, st, l}].preview...)
			}
		}
	}
}

// setOptions validates and copies the scalar options.
func (e *Engine) setOptions(opts Options) error {
	var errs []error
	defaultLocale, ok := canonicalLocale(opts.DefaultLocale)
	if !ok {
		errs = append(errs, fmt.Errorf("render: Options.DefaultLocale %q is not a locale (want e.g. zh-CN)", opts.DefaultLocale))
	}
	e.defaultLocale = defaultLocale
	if len(opts.Stages) == 0 {
		errs = append(errs, errors.New("render: Options.Stages is empty"))
	}
	for _, s := range opts.Stages {
		switch {
		case !validName(s):
			errs = append(errs, fmt.Errorf("render: Options.Stages: invalid stage name %q (want letters, digits, _ or -)", s))
		case slices.Contains(e.stages, s):
			errs = append(errs, fmt.Errorf("render: Options.Stages: %q listed twice", s))
		default:
			e.stages = append(e.stages, s)
		}
	}
	if len(opts.Channels) == 0 {
		errs = append(errs, errors.New("render: Options.Channels is empty"))
	}
	for _, c := range opts.Channels {
		switch {
		case c != ChannelSMS && c != ChannelEmail:
			errs = append(errs, fmt.Errorf("render: Options.Channels: unknown channel %q (want sms or email)", c))
		case slices.Contains(e.channels, c):
			errs = append(errs, fmt.Errorf("render: Options.Channels: %q listed twice", c))
		default:
			e.channels = append(e.channels, c)
		}
	}
	if opts.MaxSMSSegments < 0 {
		errs = append(errs, fmt.Errorf("render: Options.MaxSMSSegments %d is negative", opts.MaxSMSSegments))
	}
	return errors.Join(errs...)
}

// validName reports whether s is a usable stage name: it must fit in a file
// name between "/" and ".".
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c|0x20 < 'a' || c|0x20 > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// parseTemplates reads and parses every *.tmpl file of fsys. A file that
// cannot be used comes back with its err set; an error walking fsys is
// returned as such.
func parseTemplates(fsys fs.FS) ([]*fileResult, error) {
	var out []*fileResult
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tmpl") {
			return nil
		}
		out = append(out, parseFile(fsys, p))
		return nil
	})
	return out, err
}

// fileResult is one template file after parsing.
type fileResult struct {
	*tmpl
	err error
}

func parseFile(fsys fs.FS, name string) *fileResult {
	bad := func(format string, args ...any) *fileResult {
		return &fileResult{err: fmt.Errorf("render: "+name+": "+format, args...)}
	}
	dir, file := path.Split(name)
	channel := strings.TrimSuffix(dir, "/")
	stage, locale, ok := strings.Cut(strings.TrimSuffix(file, ".tmpl"), ".")
	if !ok || channel == "" || strings.Contains(channel, "/") || !validName(stage) {
		return bad("bad template file name (want <channel>/<stage>.<locale>.tmpl, e.g. sms/due_today.zh-CN.tmpl)")
	}
	canon, ok := canonicalLocale(locale)
	if !ok {
		return bad("%q is not a locale (want e.g. zh-CN)", locale)
	}
	if canon != locale {
		return bad("locale %q must be written %q", locale, canon)
	}
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return bad("%v", err)
	}
	sum := sha256.Sum256(src)
	t := &tmpl{
		name:    name,
		channel: channel,
		stage:   stage,
		locale:  canon,
		sha256:  hex.EncodeToString(sum[:]),
		sms:     channel == ChannelSMS,
		zh:      isChinese(canon),
		money:   moneyStyleFor(channel, canon),
	}
	// The parse error text carries the file name and line:
	// "template: sms/due_today.zh-CN.tmpl:3: unexpected EOF".
	t.main, err = template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return &fileResult{tmpl: t, err: fmt.Errorf("render: parse %w", err)}
	}
	if channel == ChannelEmail {
		if t.subject = t.main.Lookup("subject"); t.subject == nil {
			f := bad(`email template lacks {{define "subject"}}…{{end}}`)
			f.tmpl = t
			return f
		}
	}
	return &fileResult{tmpl: t}
}

// lookupByLocale finds the value for locale in m: the exact key (in any
// case, "_" or "-"), else a key of the same language (the bare language
// first, then the smallest key).
func lookupByLocale(m map[string]string, locale string) (string, bool) {
	if v, ok := m[locale]; ok {
		return v, true
	}
	lang := language(locale)
	best, bestKey, found := "", "", false
	for k, v := range m {
		ck, ok := canonicalLocale(k)
		if !ok {
			continue
		}
		if ck == locale {
			return v, true
		}
		if language(ck) != lang {
			continue
		}
		if !found || ck == lang || bestKey != lang && ck < bestKey {
			best, bestKey, found = v, ck, true
		}
	}
	return best, found
}

func (e *Engine) warnf(format string, args ...any) {
	e.warnings = append(e.warnings, fmt.Sprintf(format, args...))
}

// Warnings returns the problems New found that do not stop rendering:
// locales falling back to another locale's template, unused template files.
func (e *Engine) Warnings() []string { return slices.Clone(e.warnings) }

// Hashes returns, for every template the Engine uses, its name and the
// SHA-256 (hex) of its source: the values Options.Approved expects.
func (e *Engine) Hashes() map[string]string {
	m := make(map[string]string, len(e.hashes))
	for k, v := range e.hashes {
		m[k] = v
	}
	return m
}

// SHA256 returns one hash over all templates used: the SHA-256 (hex) of the
// lines "<name>\x00<sha256 of source>\n", sorted by name. Runs record it so
// that a change to any template shows.
func (e *Engine) SHA256() string { return e.sha256 }

// PreviewText is a template rendered with one sample message.
type PreviewText struct {
	Sample string // the sample: "1 item", "3 items, 2 currencies", "1,000 items, 3 currencies"
	Items  int    // its number of items
	Rendered
}

// Preview returns every channel × stage × preview locale rendered with the
// sample data (for each, the 1-item sample, the 3-item one in 2 currencies,
// and for SMS the 1,000-item one in 3 currencies), in the order of
// Options.Channels, Options.Stages and the locales (DefaultLocale first, then
// Options.Locales, or when it is empty every locale that has templates,
// sorted). Rendered.Locale and Template show the fallback, if any. Staff
// review these exact texts, with their SMS segments and encodings
// (`loanremind templates preview`).
func (e *Engine) Preview() []PreviewText { return slices.Clone(e.preview) }

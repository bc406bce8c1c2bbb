package console

import (
	"bytes"
	"database/sql"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/loanremind/loanremind/jobs/render"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pages holds each page's template: the layout plus the page.
type pages struct {
	byName map[string]*template.Template
}

// funcs are the template functions that need no request.
var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"join": strings.Join,
	"list": func(s ...string) []string { return s },
	"money": func(minor int64, currency, locale string) string {
		if currency == "" {
			return strconv.FormatInt(minor, 10)
		}
		return render.FormatMoney(minor, currency, locale)
	},
}

func loadPages() (*pages, error) {
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", base, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// view is what every page's template gets: the page's own data in Data,
// and who is asking, in which language, with helpers to show times in the
// business zone and any other.
type view struct {
	Title        string
	Lang         string
	User         string
	Role         string
	Investigator bool
	CSRF         string
	Path         string // this page, for the language switch
	Data         any
	zone         *time.Location
}

// T translates an English text into the page's language.
func (v *view) T(s string) string { return translate(v.Lang, s) }

// Tf translates a format and fills it in.
func (v *view) Tf(format string, args ...any) string { return fmt.Sprintf(v.T(format), args...) }

// Zone is the business time zone's name.
func (v *view) Zone() string { return v.zone.String() }

// Time shows an instant in the business time zone.
func (v *view) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(v.zone).Format("2006-01-02 15:04:05 MST")
}

// NullTime shows a nullable instant in the business time zone.
func (v *view) NullTime(t sql.NullTime) string {
	if !t.Valid {
		return "—"
	}
	return v.Time(t.Time)
}

// In shows an instant in a named zone ("—" for an unknown zone).
func (v *view) In(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil || t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// N writes a count with thousands separators.
func (v *view) N(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Since shows how long ago an instant was, roughly.
func (v *view) Since(t time.Time, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return v.Tf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return v.Tf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return v.Tf("%d h ago", int(d.Hours()))
	}
	return v.Tf("%d days ago", int(d.Hours()/24))
}

// Duration shows a duration rounded for reading.
func (v *view) Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// render writes a page: the layout around the named page's template.
func (s *Server) render(w http.ResponseWriter, r *http.Request, rq *request, status int, page, title string, data any) error {
	t := s.pages.byName[page]
	if t == nil {
		return fmt.Errorf("no page template %s", page)
	}
	v := s.newView(r, rq, title, data)
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (s *Server) newView(r *http.Request, rq *request, title string, data any) *view {
	v := &view{Title: title, Lang: rq.lang, Path: r.URL.RequestURI(), Data: data, zone: s.cfg.BusinessZone, Role: roleNone.String()}
	if r.Method != http.MethodGet {
		v.Path = r.URL.Path
	}
	if rq.id != nil {
		v.User, v.Role, v.CSRF = rq.id.user, rq.id.role.String(), rq.id.csrf
		v.Investigator = rq.id.role == RoleInvestigator
	}
	return v
}

// renderError answers with an error page.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, rq *request, status int, msg string) {
	err := s.render(w, r, rq, status, "error.html", http.StatusText(status), struct {
		Status  int
		Message string
	}{status, msg})
	if err != nil {
		s.plainError(w, r, status, msg)
	}
}

// plainError answers with text.
func (s *Server) plainError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// static serves the embedded stylesheet.
func (s *Server) static(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	data, err := assets.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		return errNotFound
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	_, err = w.Write(data)
	return err
}

// Languages of the UI.
const (
	langEN = "en"
	langZH = "zh-CN"
)

var langMatcher = language.NewMatcher([]language.Tag{language.English, language.SimplifiedChinese})

// language is the UI language: the user's choice (a cookie set by the
// switch), else the browser's Accept-Language.
func (s *Server) language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == langEN || c.Value == langZH) {
		return c.Value
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if len(tags) == 0 {
		return langEN
	}
	_, i, _ := langMatcher.Match(tags...)
	if i == 1 {
		return langZH
	}
	return langEN
}

// setLanguage is the language switch: a link, so it works without script.
func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request, rq *request) error {
	to := r.URL.Query().Get("to")
	if to != langEN && to != langZH {
		return errorf(http.StatusBadRequest, "Unknown language.")
	}
	c := s.cookie(r, langCookie, to, 365*24*3600)
	http.SetCookie(w, c)
	next := localPath(r.URL.Query().Get("next"))
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

package render

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// randomMessages returns n valid messages with random channels, stages,
// locales, names, item counts, currencies, amounts and days.
func randomMessages(n int, seed uint64) []*Message {
	r := rand.New(rand.NewPCG(seed, 99))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	names := []string{"", "张伟", "Jordan Smith", "Maximilian Alexander Featherstonehaugh-Worthington III", "O'Brien\tMary", "李\n娜"}
	biz := sampleBusinessDate()
	out := make([]*Message, n)
	for i := range out {
		m := &Message{
			Channel:      pick([]string{"sms", "email"}),
			Stage:        pick(testStages),
			Locale:       pick([]string{"zh-CN", "en-US", "en-GB", "zh-TW", "fr-FR", ""}),
			Name:         pick(names),
			BusinessDate: biz,
		}
		for range 1 + r.IntN(5) {
			days := r.IntN(130) - 5
			m.Items = append(m.Items, Item{
				AccountRef:  pick([]string{"LN-2024-00012345", "9", "CL-88", "账户一二三四五"}),
				Seq:         r.IntN(40),
				DueDate:     biz.AddDays(-days),
				AmountMinor: 1 + r.Int64N(1<<40),
				Currency:    pick([]string{"CNY", "USD", "JPY", "KWD", "EUR", "NPR"}),
				Stage:       pick(testStages),
				DaysPastDue: days,
			})
		}
		out[i] = m
	}
	return out
}

// TestFastMatchesTextTemplate renders random messages with every default
// template on the compiled fast path and on text/template: the texts must
// be identical.
func TestFastMatchesTextTemplate(t *testing.T) {
	e := newDefaultEngine(t)
	for i, m := range randomMessages(3000, 1) {
		tm := e.lookup(m.Channel, m.Stage, m.Locale)
		fast, err1 := e.render(tm, m, true)
		slow, err2 := e.render(tm, m, false)
		if err1 != nil || err2 != nil {
			t.Fatalf("message %d: %v / %v", i, err1, err2)
		}
		if fast != slow {
			t.Fatalf("message %d, %s: fast path\n%q\n%q\ntext/template\n%q\n%q", i, tm.name, fast.Subject, fast.Body, slow.Subject, slow.Body)
		}
	}
}

// TestFastConstructs compiles each construct the fast path implements and
// checks it against text/template; constructs it does not implement must
// fall back to text/template (and still render).
func TestFastConstructs(t *testing.T) {
	const pre, post = "{{.Signature}}", "{{.OptOut}}"
	compiled := []string{
		`{{.Name}}{{.Count}}{{.Total}}{{.MultiCurrency}}{{$.Name}}`,
		`{{range .Items}}{{.Account}}/{{.Seq}}/{{.DueDate}}/{{.Amount}}/{{.DaysOverdue}}/{{.DaysUntilDue}}/{{.Stage}}/{{.Overdue}}/{{.DueToday}}/{{$.Count}}/{{$.Name}};{{end}}`,
		`{{range $it := .Items}}{{$it.Amount}}{{$it.Seq}}{{end}}`,
		`{{range $i, $it := .Items}}{{$i}}:{{$it.Account}}{{if $i}},{{end}}{{end}}`,
		`{{range $i, $t := .Totals}}{{$i}}={{$t}}({{.}}){{end}}`,
		`{{range $.Totals}}[{{.}}]{{else}}none{{end}}`,
		`{{range .Items}}{{range $.Totals}}{{.}}{{end}}{{end}}`,
		`{{range $i, $x := .Items}}{{range $j, $x := $.Totals}}{{$i}}{{$j}}{{$x}}{{end}}{{$x.Seq}}{{end}}`,
		`{{if .Name}}n{{else}}no name{{end}}{{if not .MultiCurrency}}single{{end}}{{if .Items}}items{{end}}{{if .Totals}}t{{end}}{{if $}}root{{end}}`,
		`{{if eq .Count 1}}one{{else if eq .Count 2}}two{{else if gt .Count 3}}many{{else}}three{{end}}`,
		`{{if ne .Count 1}}a{{end}}{{if lt .Count 2}}b{{end}}{{if le .Count 2}}c{{end}}{{if ge .Count 3}}d{{end}}{{if gt 2 .Count}}e{{end}}`,
		`{{range .Items}}{{if eq .Stage "overdue_7d"}}S{{end}}{{if lt .Stage "p"}}L{{end}}{{if .DaysOverdue}}{{.DaysOverdue}}{{end}}{{if eq .Seq 0}}zero{{end}}{{end}}`,
		`{{"const"}}{{42}}{{-1}}{{/* comment */}}{{'a'}}{{0x10}}`,
	}
	fallback := []string{
		`{{with .Name}}{{.}}{{end}}`,
		`{{printf "%s" .Name}}`,
		`{{.Name | len}}`,
		`{{$n := .Count}}{{$n}}`,
		`{{len .Items}}`,
		`{{range .Items}}{{break}}{{end}}`,
		`{{if and .Count .Name}}x{{end}}`,
		`{{if eq .Count 1 2}}x{{end}}`,
		`{{index .Totals 0}}`,
		`{{define "x"}}x{{end}}{{template "x"}}`,
		`{{range $i, $it := .Items}}{{else}}{{$it}}{{end}}`,
		`{{.Items}}`,
		`{{range .Count}}{{.}}{{end}}`,
		`{{range .Items}}{{continue}}{{end}}`,
	}
	msgs := randomMessages(400, 3)
	for _, c := range [][]string{compiled, fallback} {
		for _, body := range c {
			src := pre + body + post
			over := map[string]string{}
			for _, st := range testStages {
				for _, l := range []string{"zh-CN", "en-US"} {
					over["sms/"+st+"."+l+".tmpl"] = src
				}
			}
			e, err := New(miniFS(over), miniOptions())
			if err != nil {
				t.Errorf("%s: %v", body, err)
				continue
			}
			tm := e.resolved[tmplKey{"sms", "due_today", "zh-CN"}]
			if isCompiled := tm.fastMain != nil; isCompiled != (&c[0] == &compiled[0]) {
				t.Errorf("%s: compiled = %v", body, isCompiled)
			}
			if len(e.Warnings()) != 0 {
				t.Errorf("%s: %q", body, e.Warnings())
			}
			for i, m := range msgs {
				if m.Channel != "sms" {
					continue
				}
				tm := e.lookup(m.Channel, m.Stage, m.Locale)
				fast, err1 := e.render(tm, m, true)
				slow, err2 := e.render(tm, m, false)
				if (err1 == nil) != (err2 == nil) || fast != slow {
					t.Fatalf("%s, message %d: fast %q %v, text/template %q %v", body, i, fast.Body, err1, slow.Body, err2)
				}
			}
		}
	}
}

// TestFastKeepsTextTemplateErrors: what text/template rejects at run time
// is not accepted by the fast path either, so New fails.
func TestFastKeepsTextTemplateErrors(t *testing.T) {
	for src, want := range map[string]string{
		`{{if eq .Count 1.0}}x{{end}}`:    "incompatible types for comparison",
		`{{if eq .Count "1"}}x{{end}}`:    "incompatible types for comparison",
		`{{if lt .Overdue true}}x{{end}}`: "",
	} {
		over := map[string]string{"sms/due_today.zh-CN.tmpl": "{{.Signature}}" + src + "{{.OptOut}}"}
		f := parseFile(miniFS(over), "sms/due_today.zh-CN.tmpl")
		if f.err != nil || f.fastMain != nil {
			t.Errorf("%s: err %v, compiled %v", src, f.err, f.fastMain != nil)
		}
		_, err := New(miniFS(over), miniOptions())
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: New error %v, want %q", src, err, want)
		}
	}
}

func TestCompileRejectsUnknownFields(t *testing.T) {
	for _, src := range []string{"{{.Nope}}", "{{$.Items.Foo}}", "{{range .Items}}{{.Signature}}{{end}}", "{{$nope}}"} {
		tmpl := miniFS(nil)
		tmpl["sms/due_today.zh-CN.tmpl"].Data = []byte(src)
		f := parseFile(tmpl, "sms/due_today.zh-CN.tmpl")
		if f.err == nil && f.fastMain != nil {
			t.Errorf("%s compiled", src)
		}
	}
}

package render

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/pii"
)

// TestDefaultSMS checks what every default SMS says with one item: it fits
// in one segment (zh-CN: 70 UCS-2 characters; en-US: 160 GSM-7), carries
// the signature (first) and the opt-out line (last), and shows only the
// masked account.
func TestDefaultSMS(t *testing.T) {
	e := newDefaultEngine(t)
	opts := testOptions()
	for _, r := range e.Preview() {
		t.Run("preview "+r.Template, func(t *testing.T) {
			sig := opts.Signature[r.Locale]
			var optOut string
			if strings.HasPrefix(r.Template, "sms/") {
				optOut = opts.OptOut["sms"][r.Locale]
			} else {
				optOut = opts.OptOut["email"][r.Locale]
			}
			mustContain(t, r.Body, sig, optOut)
			for _, full := range []string{"LN-2024-00012345", "00012345", "LN-2023", "CL-2025"} {
				if strings.Contains(r.Body, full) || strings.Contains(r.Subject, full) {
					t.Errorf("%s shows the account reference %q", r.Template, full)
				}
			}
			if l := findLink(r.Body); l != "" {
				t.Errorf("%s has a link %q", r.Template, l)
			}
		})
	}
	for _, st := range testStages {
		for _, loc := range []string{"zh-CN", "en-US"} {
			t.Run(st+"."+loc, func(t *testing.T) {
				tm := e.resolved[tmplKey{"sms", st, loc}]
				s := e.samples(tm)[0] // 1 item
				r, err := e.Render(&s.msg)
				if err != nil {
					t.Fatal(err)
				}
				if r.Segments != 1 {
					t.Errorf("%s: 1-item SMS is %d segments (%d characters), want 1", r.Template, r.Segments, utf8.RuneCountInString(r.Body))
				}
				if loc == "zh-CN" {
					if r.Encoding != EncodingUCS2 || utf8.RuneCountInString(r.Body) > 70 {
						t.Errorf("%s: %s, %d characters", r.Template, r.Encoding, utf8.RuneCountInString(r.Body))
					}
					if !strings.HasPrefix(r.Body, "【安心金融】") {
						t.Errorf("%s does not start with the signature: %q", r.Template, r.Body)
					}
					mustContain(t, r.Body, "尾号2345", "¥1,234.56")
				} else {
					if r.Encoding != EncodingGSM7 || len(r.Body) > 160 {
						t.Errorf("%s is %s, %d characters, want GSM-7 (a non-GSM character crept in?): %q", r.Template, r.Encoding, len(r.Body), r.Body)
					}
					if !strings.HasPrefix(r.Body, "Anxin Finance: ") {
						t.Errorf("%s does not start with the signature: %q", r.Template, r.Body)
					}
					mustContain(t, r.Body, "****2345", "$1,234.56")
				}
				if !strings.HasSuffix(r.Body, testOptions().OptOut["sms"][loc]) {
					t.Errorf("%s does not end with the opt-out line: %q", r.Template, r.Body)
				}
			})
		}
	}
}

// TestDefaultTemplatesWording checks the wording of each stage's SMS for one
// item: kind of reminder, the date or the days overdue, a next step, and
// the "ignore if paid" line; and that none threatens.
func TestDefaultTemplatesWording(t *testing.T) {
	e := newDefaultEngine(t)
	biz := sampleBusinessDate()
	want := map[string]map[string][]string{
		"zh-CN": {
			"upcoming_3d": {"借款第3期¥1,234.56将于11月21日到期", "请按时还款"},
			"due_today":   {"借款第3期¥1,234.56今日（11月18日）到期", "请于今日还款"},
			"overdue_1d":  {"借款第3期¥1,234.56已逾期1天", "请尽快还款"},
			"overdue_7d":  {"借款第3期¥1,234.56已逾期7天", "请尽快还款"},
			"overdue_30d": {"借款第3期¥1,234.56已逾期30天", "请尽快还款"},
		},
		"en-US": {
			"upcoming_3d": {"$1,234.56 (loan ****2345, payment 3) is due Nov 21, 2026.", "Please pay on time."},
			"due_today":   {"$1,234.56 (loan ****2345, payment 3) is due today, Nov 18, 2026.", "Please pay today."},
			"overdue_1d":  {"$1,234.56 (loan ****2345, payment 3) is 1 day past due.", "as soon as you can"},
			"overdue_7d":  {"$1,234.56 (loan ****2345, payment 3) is 7 days past due.", "as soon as you can"},
			"overdue_30d": {"$1,234.56 (loan ****2345, payment 3) is 30 days past due.", "Please pay now or get help in the app."},
		},
	}
	ignore := map[string]string{"zh-CN": "已还请忽略。", "en-US": "Ignore if paid."}
	for loc, stages := range want {
		for st, subs := range stages {
			t.Run(st+"."+loc, func(t *testing.T) {
				m := sampleMessage("sms", st, loc)
				d := sampleDays(st)
				m.Items[0].DueDate, m.Items[0].DaysPastDue = biz.AddDays(-d), d
				if loc == "en-US" {
					m.Items[0].Currency = "USD"
				}
				r, err := e.Render(m)
				if err != nil {
					t.Fatal(err)
				}
				mustContain(t, r.Body, append(subs, ignore[loc])...)
				for _, threat := range []string{"lawsuit", "legal action", "arrest", "police", "起诉", "法律", "上门", "征信", "后果"} {
					if strings.Contains(r.Body, threat) {
						t.Errorf("%s contains %q", r.Template, threat)
					}
				}
			})
		}
	}
}

func TestRenderBadMessage(t *testing.T) {
	e := newDefaultEngine(t)
	ok := func() *Message { return sampleMessage("sms", "due_today", "zh-CN") }
	tests := []struct {
		name string
		edit func(*Message)
		is   error
		want string
	}{
		{"no items", func(m *Message) { m.Items = nil }, ErrBadMessage, "no items"},
		{"bad currency", func(m *Message) { m.Items[0].Currency = "RMB" }, ErrBadMessage, `item 1: invalid currency "RMB"`},
		{"no currency", func(m *Message) { m.Items[0].Currency = "" }, ErrBadMessage, "invalid currency"},
		{"XXX", func(m *Message) { m.Items[0].Currency = "XXX" }, ErrBadMessage, "invalid currency"},
		{"zero amount", func(m *Message) { m.Items[0].AmountMinor = 0 }, ErrBadMessage, "amount 0 is not positive"},
		{"negative amount", func(m *Message) { m.Items[0].AmountMinor = -5 }, ErrBadMessage, "not positive"},
		{"days mismatch", func(m *Message) { m.Items[0].DaysPastDue = 3 }, ErrBadMessage, "DaysPastDue 3 but business date 2026-11-18 - due date 2026-11-18 = 0"},
		{"total overflows", func(m *Message) {
			m.Items = append(m.Items, m.Items[0])
			m.Items[0].AmountMinor, m.Items[1].AmountMinor = math.MaxInt64, 1
		}, ErrBadMessage, "total in CNY overflows"},
		{"unknown stage", func(m *Message) { m.Stage = "overdue_90d" }, ErrNoTemplate, `stage "overdue_90d"`},
		{"unknown channel", func(m *Message) { m.Channel = "push" }, ErrNoTemplate, `channel "push"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok()
			tt.edit(m)
			_, err := e.Render(m)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: err = %v, want %v containing %q", tt.name, err, tt.is, tt.want)
			}
		})
	}
	if _, err := e.Render(nil); !errors.Is(err, ErrBadMessage) {
		t.Errorf("Render(nil) = %v", err)
	}
	// A link in the borrower's name (printed in email greetings) is bad data.
	m := sampleMessage("email", "due_today", "zh-CN")
	m.Name = "张伟 www.pay-now.cn"
	// A name is cleaned, not refused: no dot survives, so no link.
	if r, err := e.Render(m); err != nil || strings.Contains(r.Body, "pay-now.cn") || !strings.Contains(r.Body, "张伟 www pay-now cn") {
		t.Errorf("link in name: %v\n%s", err, r.Body)
	}
	if _, err := e.Render(ok()); err != nil {
		t.Errorf("the unedited message fails: %v", err)
	}
}

// viewFS is a template set printing the whole view, to test what templates see.
func viewFS() map[string]string {
	const src = `{{.Signature}}|{{.Name}}|{{.Count}}|{{.Total}}|{{.MultiCurrency}}|{{range $i, $t := .Totals}}{{if $i}},{{end}}{{$t}}{{end}}
overdue {{.Overdue}} {{.MostDaysOverdue}}, today {{.DueToday}}, until {{.DaysUntilDue}}, earliest {{.EarliestDueDate}}
{{range .Items}}{{.Account}} {{.Seq}} {{.DueDate}} {{.Amount}} o{{.DaysOverdue}} u{{.DaysUntilDue}} {{.Stage}} {{.Overdue}} {{.DueToday}}
{{end}}{{.OptOut}}`
	m := map[string]string{}
	for _, st := range testStages {
		m["sms/"+st+".zh-CN.tmpl"] = src
		m["sms/"+st+".en-US.tmpl"] = src
	}
	return m
}

func TestRenderView(t *testing.T) {
	e, err := New(miniFS(viewFS()), miniOptions())
	if err != nil {
		t.Fatal(err)
	}
	biz := sampleBusinessDate()
	m := &Message{Channel: "sms", Stage: "overdue_7d", Locale: "en-US", Name: " Jordan\r\nSmith\u202e ", BusinessDate: biz,
		Items: []Item{
			{AccountRef: "LN-2024-00012345", Seq: 3, DueDate: biz - 7, AmountMinor: 123456, Currency: "USD", Stage: "overdue_7d", DaysPastDue: 7},
			{AccountRef: " 12345678 ", Seq: 1, DueDate: biz, AmountMinor: 1235, Currency: "JPY", Stage: "due_today", DaysPastDue: 0},
			{AccountRef: "AB1", Seq: 12, DueDate: biz + 3, AmountMinor: 100, Currency: "usd", Stage: "upcoming_3d", DaysPastDue: -3},
		}}
	r, err := e.Render(m)
	if err != nil {
		t.Fatal(err)
	}
	// An SMS not in Chinese writes a currency other than $, £ and € with its
	// ISO code, to stay in GSM-7.
	want := `Anxin Finance|Jordan Smith|3||true|$1,235.56,JPY 1,235
overdue true 7, today true, until 0, earliest Nov 11, 2026
****2345 3 Nov 11, 2026 $1,234.56 o7 u0 overdue_7d true false
****5678 1 Nov 18, 2026 JPY 1,235 o0 u0 due_today false true
**** 12 Nov 21, 2026 $1.00 o0 u3 upcoming_3d false false
Reply STOP to opt out.`
	if r.Body != want {
		t.Errorf("en-US view:\n%s\nwant\n%s", r.Body, want)
	}
	// Nothing overdue: due today, or the days until the first is due.
	for _, tc := range []struct {
		name  string
		items []Item
		want  string
	}{
		{"due today and later", m.Items[1:], "overdue false 0, today true, until 0, earliest Nov 18, 2026"},
		{"later", m.Items[2:], "overdue false 0, today false, until 3, earliest Nov 21, 2026"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.Render(&Message{Channel: "sms", Stage: "due_today", Locale: "en-US", BusinessDate: biz, Items: tc.items})
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, r.Body, tc.want)
		})
	}
	m.Locale = "zh-CN"
	m.Items = m.Items[:1]
	if r, err = e.Render(m); err != nil {
		t.Fatal(err)
	}
	want = "【安心金融】|Jordan Smith|1|US$1,234.56|false|US$1,234.56\noverdue true 7, today false, until 0, earliest 11月11日\n尾号2345 3 11月11日 US$1,234.56 o7 u0 overdue_7d true false\n回复TD退订"
	if r.Body != want {
		t.Errorf("zh-CN view:\n%s\nwant\n%s", r.Body, want)
	}
	// Chinese shows the year of a due date in another year than the
	// business date's; English always does.
	m.BusinessDate = civil.DateOf(2027, time.January, 5)
	m.Items[0].DaysPastDue = int(m.BusinessDate - m.Items[0].DueDate)
	if r, err = e.Render(m); err != nil {
		t.Fatal(err)
	}
	mustContain(t, r.Body, "尾号2345 3 2026年11月11日 US$1,234.56 o55 ")
}

// TestRenderEmail checks the subject: one line, even when the template puts
// the borrower's name (which may hold line breaks) in it.
func TestRenderEmail(t *testing.T) {
	over := map[string]string{}
	for _, st := range testStages {
		over["email/"+st+".zh-CN.tmpl"] = "{{define \"subject\"}}\n  {{.Signature}}\n提醒 {{.Name}}\n{{end}}" + okBody + "{{.OptOut}}"
	}
	opts := miniOptions()
	opts.Channels = []string{"sms", "email"}
	opts.OptOut["email"] = map[string]string{"zh-CN": "回复TD退订"}
	e, err := New(miniFS(over), opts)
	if err != nil {
		t.Fatal(err)
	}
	m := sampleMessage("email", "due_today", "zh-CN")
	m.Name = "张伟\r\nBcc: someone"
	r, err := e.Render(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "【安心金融】 提醒 张伟 Bcc someone" || r.Segments != 0 || r.Encoding != "" {
		t.Errorf("email: subject %q, segments %d %q", r.Subject, r.Segments, r.Encoding)
	}
}

func TestAccountMaskMatchesPII(t *testing.T) {
	for _, ref := range []string{"LN-2024-00012345", "12345", "1234", "", "  ABCDEFG  ", "账户编号一二三四五", "A"} {
		t.Run(fmt.Sprintf("%q", ref), func(t *testing.T) {
			got := string(appendAccount(nil, ref, false))
			if want := pii.MaskAccount(ref); got != want {
				t.Errorf("appendAccount(%q) = %q, pii.MaskAccount = %q", ref, got, want)
			}
			zh := string(appendAccount(nil, ref, true))
			if want := "尾号" + strings.TrimPrefix(pii.MaskAccount(ref), "****"); utf8.RuneCountInString(strings.TrimSpace(ref)) > 4 && zh != want {
				t.Errorf("zh appendAccount(%q) = %q, want %q", ref, zh, want)
			}
		})
	}
}

// TestRenderConcurrent renders many messages from many goroutines (run with
// -race) and compares with sequential results.
func TestRenderConcurrent(t *testing.T) {
	e := newDefaultEngine(t)
	msgs := randomMessages(500, 7)
	want := make([]Rendered, len(msgs))
	for i, m := range msgs {
		r, err := e.Render(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want[i] = r
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for k := range msgs {
				i := (k + g*61) % len(msgs)
				r, err := e.Render(msgs[i])
				if err != nil || r != want[i] {
					errs <- fmt.Errorf("goroutine %d, message %d: %v\n%q\nwant\n%q", g, i, err, r.Body, want[i].Body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

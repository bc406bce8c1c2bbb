package render

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/loanremind/loanremind/jobs/civil"
)

// FuzzLenderRow renders messages from arbitrary lender rows — names,
// account references, statuses (as stages), amounts and currencies — with
// the default templates and the default size limits. Rendering never
// panics; a row it cannot render is refused as bad data (ErrBadMessage),
// which the run skips, never a template failure; and what it renders has
// no link, no control or format character (bidi overrides, zero widths),
// and a bounded length.
func FuzzLenderRow(f *testing.F) {
	f.Add("Zhang San", "LN-2024-00012345", "CNY", int64(123456), int8(7), "zh-CN", "sms", uint8(1))
	f.Add("evil.ru \u202e\u200b", "LNx.co\x1b[2J", "INR", int64(363705), int8(-3), "en-US", "email", uint8(3))
	f.Add(strings.Repeat("张", 3000), "\r\n\u2028", "usd", int64(-1), int8(0), "zh-CN", "sms", uint8(200))
	f.Add("xn--80ak6aa92e", "www.pay.cn", "JPY", int64(9_000_000_000_000_000_000), int8(30), "en-US", "sms", uint8(2))
	opts := testOptions()
	opts.MaxSMSSegments = 2
	opts.MaxBytes = map[string]int{"sms": 640, "email": 32 << 10}
	e, err := New(defaultTemplates(), opts)
	if err != nil {
		f.Fatal(err)
	}
	biz := civil.DateOf(2026, 11, 28)
	f.Fuzz(func(t *testing.T, name, ref, currency string, amount int64, days int8, locale, channel string, count uint8) {
		if channel != "sms" && channel != "email" {
			channel = "sms"
		}
		stage := stageFor(int(days))
		m := &Message{Channel: channel, Stage: stage, Locale: locale, Name: name, BusinessDate: biz}
		for i := range max(1, int(count)) {
			m.Items = append(m.Items, Item{AccountRef: ref + strings.Repeat("9", i%3), Seq: i + 1,
				DueDate: biz.AddDays(-int(days)), AmountMinor: amount, Currency: currency, Stage: stage, DaysPastDue: int(days)})
		}
		r, err := e.Render(m)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("a lender row fails as a template problem, not as bad data: %v", err)
			}
			return
		}
		for _, s := range []string{r.Subject, r.Body} {
			if l := findLink(s); l != "" {
				t.Fatalf("a link %q in %q", l, s)
			}
			for _, c := range s {
				if c == utf8.RuneError || unicode.Is(unicode.Cf, c) || unicode.IsControl(c) && c != '\n' || c == '\u2028' || c == '\u2029' {
					t.Fatalf("%U in %q", c, s)
				}
			}
		}
		if len(r.Body)+len(r.Subject) > opts.MaxBytes[channel] || channel == "sms" && r.Segments > 2 {
			t.Fatalf("%d bytes, %d segments", len(r.Body)+len(r.Subject), r.Segments)
		}
	})
}

// stageFor is the default stage of an item days past due.
func stageFor(days int) string {
	switch {
	case days < 0:
		return "upcoming_3d"
	case days == 0:
		return "due_today"
	case days < 7:
		return "overdue_1d"
	case days < 30:
		return "overdue_7d"
	}
	return "overdue_30d"
}

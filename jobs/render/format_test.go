package render

import (
	"fmt"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

func TestFormatDate(t *testing.T) {
	d := civil.DateOf(2026, time.November, 21)
	tests := []struct {
		d      civil.Date
		locale string
		want   string
	}{
		{d, "zh-CN", "2026年11月21日"},
		{d, "zh", "2026年11月21日"},
		{d, "zh_TW", "2026年11月21日"},
		{d, "en-US", "Nov 21, 2026"},
		{d, "en-GB", "Nov 21, 2026"},
		{civil.DateOf(2024, time.February, 29), "en-US", "Feb 29, 2024"},
		{civil.DateOf(2027, time.January, 1), "zh-CN", "2027年1月1日"},
		{d, "fr-FR", "2026-11-21"},
		{d, "", "2026-11-21"},
		{d, "zhx", "2026-11-21"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %q", tt.d, tt.locale), func(t *testing.T) {
			if got := FormatDate(tt.d, tt.locale); got != tt.want {
				t.Errorf("FormatDate(%s, %q) = %q, want %q", tt.d, tt.locale, got, tt.want)
			}
		})
	}
}

func TestCanonicalLocale(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"zh-CN", "zh-CN", true},
		{"zh_cn", "zh-CN", true},
		{"ZH-cn", "zh-CN", true},
		{"en", "en", true},
		{"EN_us", "en-US", true},
		{"zh-hans-cn", "zh-Hans-CN", true},
		{"es-419", "es-419", true},
		{"", "", false},
		{"c", "", false},
		{"zh-", "", false},
		{"zh--CN", "", false},
		{"1z-CN", "", false},
		{"zh CN", "", false},
		{"中文", "", false},
		{"zh-abcdefghi", "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, ok := canonicalLocale(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("canonicalLocale(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { canonicalLocale("zh-CN") }); n != 0 {
		t.Errorf("canonicalLocale of a canonical locale allocates %v times", n)
	}
}

func TestFindLink(t *testing.T) {
	links := map[string]string{
		"pay at https://x.cn now":          "https://x.cn",
		"visit www.example.com":            "www.example.com",
		"WWW.EXAMPLE.COM":                  "WWW.EXAMPLE.COM",
		"go to example.com.":               "example.com.",
		"点击anxin.cn还款":                     "anxin.cn",
		"t.cn/abc":                         "t.cn/abc",
		"bit.ly/x":                         "bit.ly/x",
		"see pay.anxin.com.cn/login":       "pay.anxin.com.cn/login",
		"weixin://dl/business":             "weixin://dl/business",
		"mail support@anxin.com":           "support@anxin.com",
		"open anxin-pay.top today":         "anxin-pay.top",
		"Reply STOP.Visit loans.money now": "STOP.Visit", // any top-level domain: a phone may link it
		"Ignore if paid.Thanks":            "paid.Thanks",
		"pay at anxin-pay.example":         "anxin-pay.example",
		"pay.anxin.ru":                     "pay.anxin.ru",
		"Dear evil.ru,":                    "evil.ru",
		"Dear evil．com,":                   "evil．com",
		"尊敬的evil。com：":                     "evil。com",
		"访问anxin。中国还款":                     "访问anxin。中国还款",
		"访问 安心.中国 还款":                      "安心.中国",
		"see xn--fiqs8s":                   "xn--fiqs8s",
		"http：／／x.cn":                      "http：／／x.cn",
		"write to pay＠anxin.cn":            "pay＠anxin.cn",
	}
	for s, want := range links {
		t.Run(s, func(t *testing.T) {
			if got := findLink(s); got != want {
				t.Errorf("findLink(%q) = %q, want %q", s, got, want)
			}
		})
	}
	for _, s := range []string{
		"", "Anxin Finance: Your payment of $1,234.56 is due Nov 21, 2026. Reply STOP to opt out.",
		"【安心金融】您尾号2345的借款第3期应还¥1,234.56。回复TD退订",
		"如已还款，请忽略本邮件。请于今日通过App还款。", "11月21日到期。尾号8765第12期", "U.S. law", "a.m. or p.m.", "No.3", "e.g. this", "1.5 days",
		"****.com is masked", "CN¥98,765.43.", "Co. Ltd", "v1.2.3",
	} {
		t.Run("no link in "+s, func(t *testing.T) {
			if got := findLink(s); got != "" {
				t.Errorf("findLink(%q) = %q, want none", s, got)
			}
		})
	}
}

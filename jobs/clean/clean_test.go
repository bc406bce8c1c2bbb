package clean

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "loan_status:active", 0, "loan_status:active"},
		{"newline and tab", "disputed\nby\tZhang", 0, "disputed by Zhang"},
		{"escape sequence", "a\x1b[31mred\x1b[0m", 0, "a [31mred [0m"},
		{"bidi override and zero width", "evil\u202Emoc.\u200Bx\uFEFF", 0, "evilmoc.x"},
		{"line separators", "a\u2028b\u2029c\u0085d", 0, "a b c d"},
		{"backspace", "ab\bc", 0, "ab c"},
		{"edge and doubled spaces", "  a   b  ", 0, "a b"},
		{"invalid utf-8", "a\xffb", 0, "a\uFFFDb"},
		{"cut", "abcdefgh", 5, "abcd…"},
		{"cut runes", "张三李四王五", 3, "张三…"},
		{"no cut at the limit", "abcde", 5, "abcde"},
		{"RLM ALM", "a\u200Fb\u061Cc", 0, "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.in, tc.max); got != tc.want {
				t.Errorf("Text(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\u202E", "张三", "\xff"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max % 100
		if max < 0 {
			max = -max
		}
		got := Text(s, max)
		if max > 0 && len([]rune(got)) > max {
			t.Fatalf("Text(%q, %d) = %q: longer than %d", s, max, got, max)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u202E' || r == '\u200B' || r == '\u2028' {
				t.Fatalf("Text(%q) = %q keeps %U", s, got, r)
			}
		}
		if Text(got, max) != got {
			t.Fatalf("Text is not idempotent on %q: %q then %q", s, got, Text(got, max))
		}
	})
}

func TestName(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Zhang San", "Zhang San"},
		{"chinese", "欧阳·司马相如", "欧阳·司马相如"},
		{"a link", "evil.ru", "evil ru"},
		{"a full-width dot", "evil．com", "evil com"},
		{"an ideographic dot", "evil。com", "evil com"},
		{"an address", "bob@evil.example", "bob evil example"},
		{"a URL", "http://x.cn/a", "http x cn a"},
		{"zero width, RLM, ALM, BOM", "Ma\u200Bry\u200F \u061CSmith\uFEFF", "Mary Smith"},
		{"bidi override", "\u202Emoc.live", "moc live"},
		{"controls", "A\x1b[2J\r\nB\tC\bD", "A 2J B C D"},
		{"apostrophe and hyphen", "O'Brien-Smith", "O'Brien-Smith"},
		{"devanagari with marks", "प्रिया", "प्रिया"},
		{"a leading mark", "\u0301a", "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Name(tc.in); got != tc.want {
				t.Errorf("Name(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	long := strings.Repeat("张", 3000)
	if got := Name(long); len([]rune(got)) != 64 {
		t.Errorf("a 3,000-character name keeps %d runes, want 64", len([]rune(got)))
	}
}

func TestAccountTail(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "LN-2024-00012345", "2345"},
		{"a link", "LNx.co", "Nxco"},
		{"control characters", "LN00\x1b[31m12\r\n34", "1234"},
		{"bidi and zero width", "LN0012\u202E34\u200B56", "3456"},
		{"four or fewer", "A-1-2-3", ""},
		{"empty", "", ""},
		{"chinese", "账户一二三四五", "二三四五"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AccountTail(tc.in); got != tc.want {
				t.Errorf("AccountTail(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

package deliver

import (
	"strings"
	"testing"
)

func TestProviderText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"twilio 21211", "The 'To' number +15005550001 is not a valid phone number.", "The 'To' number +1 500****0001 is not a valid phone number."},
		{"national number", "号码13812341234无效", "号码138****1234无效"},
		{"email", "550 5.1.1 <zhang.wei@example.com>: Recipient address rejected", "550 5.1.1 <z***@example.com>: Recipient address rejected"},
		{"codes stay", "error 21211 in 2026 (+12345)", "error 21211 in 2026 (****45)"},
		{"codes under 5 digits", "HTTP 429 after 30 s", "HTTP 429 after 30 s"},
		{"control characters", "bad\r\nline\x1b[31m", "bad line [31m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProviderText(tc.in); got != tc.want {
				t.Errorf("ProviderText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if got := ProviderText(strings.Repeat("x", 500)); len([]rune(got)) != 200 {
		t.Errorf("a long text is %d characters, want 200", len([]rune(got)))
	}
}

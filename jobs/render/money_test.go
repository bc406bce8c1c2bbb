package render

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestFormatMoney(t *testing.T) {
	tests := []struct {
		minor         int64
		currency, loc string
		want          string
	}{
		{123456, "CNY", "zh-CN", "¥1,234.56"},
		{123456, "USD", "zh-CN", "US$1,234.56"},
		{123456, "USD", "en-US", "$1,234.56"},
		{123456, "CNY", "en-US", "CN¥1,234.56"},
		{123456, "EUR", "en-US", "€1,234.56"},
		{123456, "GBP", "zh-CN", "£1,234.56"},
		{123456, "INR", "en-US", "₹1,234.56"},
		{123456, "HKD", "zh-CN", "HK$1,234.56"},
		{1235, "JPY", "en-US", "¥1,235"},
		{1235, "JPY", "zh-CN", "JP¥1,235"},
		{1234567, "KRW", "en-US", "₩1,234,567"},
		{1234567, "KWD", "en-US", "1,234.567 KWD"},
		{1234567, "BHD", "zh-CN", "1,234.567 BHD"},
		{5, "KWD", "en-US", "0.005 KWD"},
		{123456, "NPR", "en-US", "1,234.56 NPR"},
		{123456, "SGD", "zh-CN", "1,234.56 SGD"},
		{-100, "USD", "en-US", "-$1.00"},
		{-1, "CNY", "zh-CN", "-¥0.01"},
		{-123456, "NPR", "en-US", "-1,234.56 NPR"},
		{0, "USD", "en-US", "$0.00"},
		{1, "USD", "en-US", "$0.01"},
		{10, "USD", "en-US", "$0.10"},
		{99999, "USD", "en-US", "$999.99"},
		{100000, "USD", "en-US", "$1,000.00"},
		{100000000, "CNY", "zh-CN", "¥1,000,000.00"},
		{math.MaxInt64, "USD", "en-US", "$92,233,720,368,547,758.07"},
		{math.MinInt64, "USD", "en-US", "-$92,233,720,368,547,758.08"},
		{math.MaxInt64, "JPY", "en-US", "¥9,223,372,036,854,775,807"},
		{math.MaxInt64, "KWD", "en-US", "9,223,372,036,854,775.807 KWD"},
		{math.MaxInt64 - 1, "CNY", "zh-CN", "¥92,233,720,368,547,758.06"},
		{123456, "usd", "en-US", "$1,234.56"},    // codes are matched in any case
		{123456, "USD", "en-GB", "$1,234.56"},    // any non-Chinese locale: English symbols
		{123456, "CNY", "zh-TW", "¥1,234.56"},    // any Chinese locale: Chinese symbols
		{123456, "CNY", "zh_CN", "¥1,234.56"},    // "_" separator
		{123456, "ABC", "en-US", "1,234.56 ABC"}, // not ISO 4217: 2 decimals, code as given
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s %s", tt.minor, tt.currency, tt.loc), func(t *testing.T) {
			if got := FormatMoney(tt.minor, tt.currency, tt.loc); got != tt.want {
				t.Errorf("FormatMoney(%d, %q, %q) = %q, want %q", tt.minor, tt.currency, tt.loc, got, tt.want)
			}
		})
	}
}

// TestFormatMoneyExact checks on random amounts that the digits of the
// formatted amount are exactly the minor units (no float, no rounding) and
// that the grouping is by three.
func TestFormatMoneyExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, cur := range []string{"USD", "JPY", "KWD", "CLF"} {
		t.Run(cur, func(t *testing.T) { checkFormatMoneyExact(t, r, cur) })
	}
}

// checkFormatMoneyExact formats 2000 random amounts in cur and checks their
// digits and grouping.
func checkFormatMoneyExact(t *testing.T, r *rand.Rand, cur string) {
	t.Helper()
	info, _ := lookupCurrency(cur)
	for range 2000 {
		v := r.Int64() >> r.IntN(63) // all magnitudes
		if r.IntN(2) == 0 {
			v = -v
		}
		s := FormatMoney(v, cur, "en-US")
		neg := strings.HasPrefix(s, "-")
		body := strings.TrimLeft(s, "-$¥")
		body = strings.TrimSuffix(body, " "+cur)
		whole, frac, hasFrac := strings.Cut(body, ".")
		if hasFrac != (info.scale > 0) || len(frac) != info.scale {
			t.Fatalf("%d %s: %q has %d decimals, want %d", v, cur, s, len(frac), info.scale)
		}
		groups := strings.Split(whole, ",")
		for i, g := range groups {
			if i > 0 && len(g) != 3 || i == 0 && (len(g) < 1 || len(g) > 3) {
				t.Fatalf("%d %s: %q is not grouped by three", v, cur, s)
			}
		}
		digits := strings.Join(groups, "") + frac
		got, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			t.Fatalf("%d %s: %q: %v", v, cur, s, err)
		}
		want := uint64(v)
		if v < 0 {
			want = -want
		}
		if got != want || neg != (v < 0) {
			t.Fatalf("FormatMoney(%d, %s) = %q: digits %d, negative %v", v, cur, s, got, neg)
		}
	}
}

func TestLookupCurrency(t *testing.T) {
	for code, scale := range map[string]int{"CNY": 2, "USD": 2, "JPY": 0, "KWD": 3, "BHD": 3, "EUR": 2, "cny": 2} {
		t.Run(code, func(t *testing.T) {
			info, ok := lookupCurrency(code)
			if !ok || info.scale != scale || info.code != strings.ToUpper(code) {
				t.Errorf("lookupCurrency(%q) = %+v, %v; want scale %d", code, info, ok, scale)
			}
		})
	}
	for _, code := range []string{"", "XXX", "ABC", "US", "USDD", "¥"} {
		t.Run(fmt.Sprintf("invalid %q", code), func(t *testing.T) {
			if _, ok := lookupCurrency(code); ok {
				t.Errorf("lookupCurrency(%q) is valid, want invalid", code)
			}
		})
	}
}

func BenchmarkFormatMoney(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = FormatMoney(123456, "CNY", "zh-CN")
	}
}

// TestFormatSMSMoney: an SMS not in Chinese keeps to GSM-7: "$", "£" and
// "€" amounts with their symbol, any other currency with its ISO code
// first; a Chinese SMS (UCS-2 anyway) uses the Chinese symbols.
func TestFormatSMSMoney(t *testing.T) {
	tests := []struct {
		minor         int64
		currency, loc string
		want          string
	}{
		{363705, "INR", "en-US", "INR 3,637.05"},
		{123456, "CNY", "en-US", "CNY 1,234.56"},
		{1235, "JPY", "en-US", "JPY 1,235"},
		{1234567, "KWD", "en-US", "KWD 1,234.567"},
		{123456, "NPR", "en-US", "NPR 1,234.56"},
		{1234567, "KRW", "en-GB", "KRW 1,234,567"},
		{123456, "HKD", "en-US", "HKD 1,234.56"},
		{123456, "USD", "en-US", "$1,234.56"},
		{123456, "GBP", "en-US", "£1,234.56"},
		{123456, "EUR", "en-US", "€1,234.56"},
		{123456, "usd", "fr-FR", "$1,234.56"},
		{123456, "CNY", "zh-CN", "¥1,234.56"},
		{363705, "INR", "zh-CN", "₹3,637.05"},
		{123456, "USD", "zh-CN", "US$1,234.56"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s %s", tt.minor, tt.currency, tt.loc), func(t *testing.T) {
			got := FormatSMSMoney(tt.minor, tt.currency, tt.loc)
			if got != tt.want {
				t.Errorf("FormatSMSMoney(%d, %q, %q) = %q, want %q", tt.minor, tt.currency, tt.loc, got, tt.want)
			}
			if _, enc := Segments(got); !isChinese(tt.loc) && enc != EncodingGSM7 {
				t.Errorf("%q is %s", got, enc)
			}
		})
	}
	// Email keeps the locale's symbols.
	if got := FormatMoney(363705, "INR", "en-US"); got != "₹3,637.05" {
		t.Errorf("FormatMoney INR en-US = %q", got)
	}
}

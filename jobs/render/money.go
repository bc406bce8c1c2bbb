package render

import "golang.org/x/text/currency"

// currencyInfo is what formatting needs to know about one currency.
type currencyInfo struct {
	code  string // ISO 4217, upper case
	scale int    // minor-unit exponent (decimals)
}

// lookupCurrency validates an ISO 4217 code with x/text and returns its
// minor-unit exponent (CLDR standard rounding, as x/text reports it). The
// placeholder code XXX ("no currency") is rejected.
func lookupCurrency(code string) (currencyInfo, bool) {
	u, err := currency.ParseISO(code)
	if err != nil || u == (currency.Unit{}) {
		return currencyInfo{}, false
	}
	scale, _ := currency.Standard.Rounding(u)
	return currencyInfo{code: u.String(), scale: scale}, true
}

// isChinese reports whether locale's language is Chinese; formatting has
// two symbol tables, Chinese and English (used for every other language).
func isChinese(locale string) bool {
	return len(locale) >= 2 && (locale[0]|0x20) == 'z' && (locale[1]|0x20) == 'h' &&
		(len(locale) == 2 || locale[2] == '-' || locale[2] == '_')
}

// currencySymbol returns the symbol written before the amount, or "" when the
// locale has no well-known symbol for the currency (the ISO code then follows
// the amount). Symbols are CLDR's, except zh CNY (CLDR has the full-width
// "￥"; Chinese lenders write "¥") and zh KRW (CLDR "￦", here "₩").
func currencySymbol(code string, zh bool) string {
	switch code {
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	case "INR":
		return "₹"
	case "HKD":
		return "HK$"
	case "TWD":
		return "NT$"
	case "CAD":
		return "CA$"
	case "KRW":
		return "₩"
	case "MXN":
		return "MX$"
	case "NZD":
		return "NZ$"
	case "VND":
		return "₫"
	case "BRL":
		return "R$"
	}
	if zh {
		switch code {
		case "CNY":
			return "¥"
		case "USD":
			return "US$"
		case "JPY":
			return "JP¥"
		case "AUD":
			return "AU$"
		}
		return ""
	}
	switch code {
	case "CNY":
		return "CN¥"
	case "USD":
		return "$"
	case "JPY":
		return "¥"
	case "AUD":
		return "A$"
	}
	return ""
}

// FormatMoney formats an amount given in integer minor units of currency for
// locale, exactly (integer arithmetic only, no floating point, no rounding):
//
//	FormatMoney(123456, "CNY", "zh-CN") == "¥1,234.56"
//	FormatMoney(123456, "USD", "zh-CN") == "US$1,234.56"
//	FormatMoney(123456, "USD", "en-US") == "$1,234.56"
//	FormatMoney(123456, "CNY", "en-US") == "CN¥1,234.56"
//	FormatMoney(1235, "JPY", "en-US")   == "¥1,235"  (zh-CN: "JP¥1,235")
//	FormatMoney(1234567, "KWD", "en-US") == "1,234.567 KWD"
//	FormatMoney(-100, "USD", "en-US")   == "-$1.00"
//
// The number of decimals is the currency's minor-unit exponent from
// golang.org/x/text/currency (standard rounding, CLDR data); amounts must be
// stored in that unit. Note that CLDR gives a few currencies fewer decimals
// than ISO 4217 (IDR and others have 0). Digits are grouped by three with ","
// and the decimal mark is "." for every locale. Chinese locales (zh, zh-*) use
// the Chinese symbols; every other locale uses the English ones. A currency
// without a well-known symbol is written "1,234.56 NPR". A code that is not a
// valid ISO 4217 currency is formatted with 2 decimals followed by the code as
// given; callers that need to reject such codes validate them first (Render
// does).
func FormatMoney(minor int64, currency, locale string) string {
	var buf [64]byte
	info, ok := lookupCurrency(currency)
	if !ok {
		info = currencyInfo{code: currency, scale: 2}
	}
	return string(appendMoney(buf[:0], minor, info, isChinese(locale)))
}

// appendMoney appends the formatted amount to dst.
func appendMoney(dst []byte, minor int64, info currencyInfo, zh bool) []byte {
	sym := currencySymbol(info.code, zh)
	// Magnitude as uint64 so that math.MinInt64 is exact.
	mag := uint64(minor)
	if minor < 0 {
		dst = append(dst, '-')
		mag = -mag
	}
	dst = append(dst, sym...)

	// Split into integer and fractional parts.
	div := uint64(1)
	for range info.scale {
		div *= 10
	}
	whole, frac := mag/div, mag%div
	dst = appendGrouped(dst, whole)
	if info.scale > 0 {
		dst = append(dst, '.')
		var digits [20]byte
		for i := info.scale - 1; i >= 0; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		dst = append(dst, digits[:info.scale]...)
	}
	if sym == "" {
		dst = append(dst, ' ')
		dst = append(dst, info.code...)
	}
	return dst
}

// appendGrouped appends v in decimal with a "," between groups of three.
func appendGrouped(dst []byte, v uint64) []byte {
	var digits [32]byte
	i := len(digits)
	n := 0
	for {
		if n > 0 && n%3 == 0 {
			i--
			digits[i] = ','
		}
		i--
		digits[i] = byte('0' + v%10)
		v /= 10
		n++
		if v == 0 {
			break
		}
	}
	return append(dst, digits[i:]...)
}

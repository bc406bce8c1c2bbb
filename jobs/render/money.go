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

// moneyStyle is how amounts are written: with the English or the Chinese
// symbols, or in the GSM-7 form of an SMS.
type moneyStyle int8

const (
	moneyEnglish moneyStyle = iota // CLDR English symbols (every locale but Chinese)
	moneyChinese                   // Chinese symbols (zh, zh-*)
	// moneyGSM7 keeps an SMS in GSM-7 (160 characters a part, not UCS-2's
	// 70): "$", "£" and "€" amounts keep their symbol (all three are GSM-7;
	// "€" counts two characters), every other currency is written with its
	// ISO code before the amount, "INR 3,637.05", "CNY 1,234.56", "JPY
	// 1,235": "₹", "₩" and "₫" are not GSM-7, and "¥" alone does not say
	// whether it is yuan or yen.
	moneyGSM7
)

// moneyStyleFor returns the style of amounts in a template of channel and
// locale: Chinese templates use the Chinese symbols (a Chinese SMS is UCS-2
// anyway), other SMS templates the GSM-7 form, other emails the English
// symbols.
func moneyStyleFor(channel, locale string) moneyStyle {
	switch {
	case isChinese(locale):
		return moneyChinese
	case channel == ChannelSMS:
		return moneyGSM7
	}
	return moneyEnglish
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
// does). An SMS that is not in Chinese writes amounts in a GSM-7 form
// instead (see FormatSMSMoney).
func FormatMoney(minor int64, currency, locale string) string {
	return formatMoney(minor, currency, moneyStyleFor(ChannelEmail, locale))
}

// FormatSMSMoney formats an amount as an SMS for locale shows it: as
// FormatMoney for Chinese, else in a form that keeps the SMS in GSM-7: "$",
// "£" and "€" amounts with their symbol, every other currency with its ISO
// code first:
//
//	FormatSMSMoney(363705, "INR", "en-US") == "INR 3,637.05"
//	FormatSMSMoney(123456, "CNY", "en-US") == "CNY 1,234.56"
//	FormatSMSMoney(123456, "EUR", "en-US") == "€1,234.56"
//	FormatSMSMoney(123456, "CNY", "zh-CN") == "¥1,234.56"
func FormatSMSMoney(minor int64, currency, locale string) string {
	return formatMoney(minor, currency, moneyStyleFor(ChannelSMS, locale))
}

func formatMoney(minor int64, currency string, style moneyStyle) string {
	var buf [64]byte
	info, ok := lookupCurrency(currency)
	if !ok {
		info = currencyInfo{code: currency, scale: 2}
	}
	return string(appendMoney(buf[:0], minor, info, style))
}

// appendMoney appends the formatted amount to dst.
func appendMoney(dst []byte, minor int64, info currencyInfo, style moneyStyle) []byte {
	var sym string
	switch style {
	case moneyChinese:
		sym = currencySymbol(info.code, true)
	case moneyEnglish:
		sym = currencySymbol(info.code, false)
	case moneyGSM7:
		switch info.code {
		case "USD", "GBP", "EUR":
			sym = currencySymbol(info.code, false)
		}
	}
	// Magnitude as uint64 so that math.MinInt64 is exact.
	mag := uint64(minor)
	if minor < 0 {
		dst = append(dst, '-')
		mag = -mag
	}
	if sym == "" && style == moneyGSM7 {
		dst = append(dst, info.code...)
		dst = append(dst, ' ')
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
	if sym == "" && style != moneyGSM7 {
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

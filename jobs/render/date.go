package render

import (
	"strconv"

	"github.com/loanremind/loanremind/jobs/civil"
)

// FormatDate formats a calendar date for locale, with the year:
//
//	zh, zh-*:          "2026年11月21日"
//	en, en-*:          "Nov 21, 2026"
//	any other locale:  "2026-11-21" (ISO 8601)
//
// (Templates see ItemView.DueDate, which for Chinese drops the year when it is
// the business date's: "11月21日".)
func FormatDate(d civil.Date, locale string) string {
	var buf [32]byte
	return string(appendDate(buf[:0], d, locale))
}

// appendDate appends FormatDate(d, locale) to dst.
func appendDate(dst []byte, d civil.Date, locale string) []byte {
	y, m, day := d.YMD()
	switch {
	case isChinese(locale):
		dst = strconv.AppendInt(dst, int64(y), 10)
		dst = append(dst, "年"...)
		dst = strconv.AppendInt(dst, int64(m), 10)
		dst = append(dst, "月"...)
		dst = strconv.AppendInt(dst, int64(day), 10)
		return append(dst, "日"...)
	case isEnglish(locale):
		dst = append(dst, m.String()[:3]...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(day), 10)
		dst = append(dst, ", "...)
		return strconv.AppendInt(dst, int64(y), 10)
	}
	return append(dst, d.String()...)
}

// isEnglish reports whether locale's language is English.
func isEnglish(locale string) bool {
	return len(locale) >= 2 && (locale[0]|0x20) == 'e' && (locale[1]|0x20) == 'n' &&
		(len(locale) == 2 || locale[2] == '-' || locale[2] == '_')
}

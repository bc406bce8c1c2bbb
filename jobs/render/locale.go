package render

import "strings"

// canonicalLocale returns locale in canonical BCP 47 case ("zh-CN",
// "zh-Hans-CN", "en-US"), accepting "_" as a separator and any case, and
// reports whether it is well formed (subtags of 1-8 ASCII letters or digits,
// a first subtag of 2-3 letters). It does not allocate when locale is
// already canonical.
func canonicalLocale(locale string) (string, bool) {
	if locale == "" {
		return "", false
	}
	canonical := true
	start := 0
	for i := 0; i <= len(locale); i++ {
		if i < len(locale) && locale[i] != '-' && locale[i] != '_' {
			continue
		}
		if i < len(locale) && locale[i] == '_' {
			canonical = false
		}
		tag := locale[start:i]
		if len(tag) == 0 || len(tag) > 8 {
			return "", false
		}
		for j := 0; j < len(tag); j++ {
			c := tag[j]
			letter := c|0x20 >= 'a' && c|0x20 <= 'z'
			if !letter && (c < '0' || c > '9') {
				return "", false
			}
			if start == 0 && !letter {
				return "", false
			}
			if letter && (c >= 'a') != wantLower(start == 0, len(tag), j) {
				canonical = false
			}
		}
		if start == 0 && (len(tag) < 2 || len(tag) > 3) {
			return "", false
		}
		start = i + 1
	}
	if canonical {
		return locale, true
	}
	var b strings.Builder
	b.Grow(len(locale))
	start = 0
	for i := 0; i <= len(locale); i++ {
		if i < len(locale) && locale[i] != '-' && locale[i] != '_' {
			continue
		}
		tag := locale[start:i]
		if start > 0 {
			b.WriteByte('-')
		}
		for j := 0; j < len(tag); j++ {
			c := tag[j]
			if c|0x20 >= 'a' && c|0x20 <= 'z' {
				if wantLower(start == 0, len(tag), j) {
					c |= 0x20
				} else {
					c &^= 0x20
				}
			}
			b.WriteByte(c)
		}
		start = i + 1
	}
	return b.String(), true
}

// wantLower reports whether the letter at position j of a subtag of length n
// is written in lower case: the language and variants are lower case, a
// script (4 letters) is title case, a region (2 letters) upper case.
func wantLower(first bool, n, j int) bool {
	switch {
	case first:
		return true
	case n == 2:
		return false
	case n == 4:
		return j > 0
	}
	return true
}

// language returns the language subtag of a canonical locale ("zh-CN" → "zh").
func language(locale string) string {
	if i := strings.IndexByte(locale, '-'); i >= 0 {
		return locale[:i]
	}
	return locale
}

package render

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// findLink returns the first thing in s that looks like a link, or "" when
// there is none. Lenders keep links out of reminders: a link in an SMS is
// what phishing looks like, and borrowers are told never to follow one. So
// anything a phone or a mail client might make a link of counts, in any
// script:
//   - a scheme ("https://", "weixin://", also with full-width "：／／");
//   - "www." and an address ("name@host");
//   - a punycode label ("xn--…");
//   - a host name: a label, a dot and a top-level domain of letters, any
//     top-level domain ("evil.ru", "pay.anxin.example", "安心.中国"), with an
//     ASCII, full-width (．) or small dot. An ideographic full stop (。),
//     which ends every Chinese sentence, counts before a Latin top-level
//     domain ("evil。com") or after a Latin label ("anxin。中国"), not
//     between Chinese words ("还款。如已还款").
//
// Digits after a dot are not a domain ("1,234.56"), nor is one letter
// ("a.m.", "e.g."), nor a dot followed by a space.
func findLink(s string) string {
	for i, r := range s {
		switch {
		case r == ':' || r == '：':
			if rest := s[i+utf8.RuneLen(r):]; hasPrefixSlashes(rest) {
				return tokenAround(s, i)
			}
		case r == '@' || r == '＠' || r == '﹫':
			if before, after := labelBefore(s, i), labelAfter(s, i+utf8.RuneLen(r)); before != "" && after != "" {
				return tokenAround(s, i)
			}
		case isDot(r):
			if linkAtDot(s, i, r) {
				return tokenAround(s, i)
			}
		case r == 'x' || r == 'X':
			if (i == 0 || !isLabelRune(lastRune(s[:i]))) && len(s) >= i+4 && strings.EqualFold(s[i:i+4], "xn--") {
				return tokenAround(s, i)
			}
		}
	}
	return ""
}

// linkAtDot reports whether the dot dot at s[i] joins a label and a
// top-level domain.
func linkAtDot(s string, i int, dot rune) bool {
	before, after := labelBefore(s, i), labelAfter(s, i+utf8.RuneLen(dot))
	if before == "" || after == "" {
		return false
	}
	if strings.EqualFold(before, "www") {
		return true
	}
	if !isTLD(after) {
		return false
	}
	if dot != '。' && dot != '｡' {
		return true
	}
	// An ideographic full stop, which ends every Chinese sentence: a link
	// only after a Latin label ("evil。com", "访问anxin。中国"), before a
	// Latin top-level domain or the start of a real one (Chinese has no
	// spaces), never between Chinese words ("还款。如已还款").
	latin := trailingASCIILabel(before)
	return hasASCIILetter(latin) && (isASCIIWord(after) || startsWithTLD(after))
}

// isTLD reports whether label can be a top-level domain: letters only
// (of any script), at least two.
func isTLD(label string) bool {
	n := 0
	for _, r := range label {
		if !unicode.IsLetter(r) && !unicode.IsMark(r) {
			return false
		}
		n++
	}
	return n >= 2
}

func isDot(r rune) bool {
	return r == '.' || r == '．' || r == '。' || r == '｡' || r == '﹒' || r == '︒'
}

// isLabelRune reports whether r can be part of a host label: a letter, a
// digit, a combining mark or a hyphen, in any script.
func isLabelRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '-' || r == '－'
}

// labelBefore returns the host label that ends at s[i].
func labelBefore(s string, i int) string {
	start := i
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:start])
		if !isLabelRune(r) {
			break
		}
		start -= size
	}
	return s[start:i]
}

// labelAfter returns the host label that starts at s[i].
func labelAfter(s string, i int) string {
	end := i
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if !isLabelRune(r) {
			break
		}
		end += size
	}
	return s[i:end]
}

func hasPrefixSlashes(s string) bool {
	for _, p := range []string{"//", "／／", "\\\\"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func isASCIIWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !(c|0x20 >= 'a' && c|0x20 <= 'z') {
			return false
		}
	}
	return s != ""
}

// trailingASCIILabel returns the ASCII letters, digits and hyphens that
// end s.
func trailingASCIILabel(s string) string {
	i := len(s)
	for i > 0 {
		c := s[i-1]
		if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '-') {
			break
		}
		i--
	}
	return s[i:]
}

// startsWithTLD reports whether label starts with a top-level domain of the
// public suffix list's ICANN section ("中国", "公司", "网址"), in any script.
func startsWithTLD(label string) bool {
	n := 0
	for i := range label {
		if n++; n > 12 {
			break
		}
		if i == 0 {
			continue
		}
		if isICANNTLD(label[:i]) {
			return true
		}
	}
	return isICANNTLD(label)
}

// isICANNTLD reports whether s is a top-level domain that the public
// suffix list's ICANN section holds.
func isICANNTLD(s string) bool {
	ascii, err := idna.Lookup.ToASCII(strings.ToLower(s))
	if err != nil || ascii == "" || strings.Contains(ascii, ".") {
		return false
	}
	suffix, icann := publicsuffix.PublicSuffix(ascii)
	return icann && suffix == ascii
}

func hasASCIILetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c|0x20 >= 'a' && c|0x20 <= 'z' {
			return true
		}
	}
	return false
}

// lastRune returns the last rune of s.
func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// tokenAround returns the link around s[i], for the error message: the
// run of URL characters (ASCII letters, digits and punctuation, and the
// dots and marks findLink knows) around it, or, for a name in another
// script, the run of characters that are not white space.
func tokenAround(s string, i int) string {
	start, end := expand(s, i, isURLRune)
	if t := s[start:end]; hasASCIILetter(t) && !isDot(lastRune(t)) {
		return strings.TrimRight(t, ",;:!?)：")
	}
	start, end = expand(s, i, func(r rune) bool { return !unicode.IsSpace(r) })
	return s[start:end]
}

// expand returns the run of runes around s[i] for which in holds.
func expand(s string, i int, in func(rune) bool) (start, end int) {
	start, end = i, i
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:start])
		if !in(r) {
			break
		}
		start -= size
	}
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if !in(r) {
			break
		}
		end += size
	}
	return start, end
}

func isURLRune(r rune) bool {
	return r > ' ' && r < utf8.RuneSelf || isDot(r) || r == '：' || r == '／' || r == '＠' || r == '﹫'
}

// Package clean makes values from the lender's tables safe to show: in a
// message, a log line, an audit row, a metric label or a terminal. Every
// such value is hostile until cleaned: it may carry control characters
// (ESC sequences, CR/LF, backspace), invisible format characters
// (zero-width spaces, byte-order marks, bidi overrides such as U+202E that
// reverse what a reader sees), line and paragraph separators, or thousands
// of characters.
package clean

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s as one line of plain text at most max runes long (0: no
// limit): invisible format characters removed, control characters and
// other separators made spaces, runs of spaces folded into one, invalid
// UTF-8 replaced, and an over-long value cut with "…".
func Text(s string, max int) string {
	if isPlain(s, max) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Cf, r):
			continue
		case unicode.IsControl(r) || unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r) // invalid UTF-8 is U+FFFD here
	}
	return Cut(b.String(), max)
}

// Cut returns s cut to at most max runes (0: no limit), ending with "…"
// where it was cut.
func Cut(s string, max int) string {
	if max <= 0 || len(s) <= max || utf8.RuneCountInString(s) <= max {
		return s
	}
	i := 0
	for range max - 1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// isPlain reports whether s needs no cleaning: printable ASCII without
// doubled or edge spaces, within max.
func isPlain(s string, max int) bool {
	if max > 0 && len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == ' ' && (i == 0 || i == len(s)-1 || s[i-1] == ' ') {
			return false
		}
	}
	return true
}

// nameMax is the most runes of a name a message or log shows.
const nameMax = 64

// Name returns a person's name as a message may show it: letters (of any
// script, with their combining marks), digits, spaces and the few marks
// names use (' - ’ · ・), every other character a space, spaces folded, at
// most 64 runes. No dot, colon, slash or @ survives, so a name can never
// read as a link ("evil.ru", "evil．com"), and no control, format or bidi
// character, so it can neither break a line nor reorder text.
func Name(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*nameMax))
	space, n := false, 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) && b.Len() > 0,
			r == '\'' || r == '-' || r == '’' || r == '·' || r == '・':
		case unicode.Is(unicode.Cf, r):
			continue // invisible: zero-width, bidi, BOM
		default:
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		if n == nameMax {
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// AccountTail returns the last four letters or digits of an account
// reference, what a message shows of it ("****2345"): other characters
// (punctuation, controls, format characters) are dropped first, so that
// none reaches a message or a log. It returns "" when the reference has
// four or fewer: then it is masked whole.
func AccountTail(ref string) string {
	var tail [4]rune
	n := 0
	for i := len(ref); i > 0 && n <= 4; {
		r, size := utf8.DecodeLastRuneInString(ref[:i])
		i -= size
		if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if n < 4 {
				tail[3-n] = r
			}
			n++
		}
	}
	if n <= 4 {
		return ""
	}
	return string(tail[:])
}

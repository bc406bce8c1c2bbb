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

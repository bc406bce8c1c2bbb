package deliver

import (
	"strings"

	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/jobs/pii"
)

// ProviderText makes a provider's words safe to record in an Error, a log
// line or reminder_deliveries: one line of at most 200 characters, with
// what looks like a phone number (7 digits or more, or "+" and 5 or more)
// or an email address masked. Providers quote the recipient in their
// errors ("The 'To' number +15005550001 is not a valid phone number").
func ProviderText(s string) string {
	s = clean.Text(s, 0)
	var b strings.Builder
	b.Grow(len(s))
	for word := range strings.SplitSeq(s, " ") {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(maskWord(word))
	}
	return clean.Text(b.String(), 200)
}

// maskWord masks an email address in word, or every run of 7 or more
// digits, or of "+" and 5 or more.
func maskWord(word string) string {
	if at := strings.IndexByte(word, '@'); at >= 0 {
		start := strings.LastIndexAny(word[:at], "'\"<(,;:[") + 1
		end := at + strings.IndexAny(word[at:]+" ", "'\">),;:] ")
		end = min(max(end, at+1), len(word))
		return word[:start] + pii.MaskEmail(word[start:end]) + word[end:]
	}
	var b strings.Builder
	for i := 0; i < len(word); {
		j := i
		if word[j] == '+' {
			j++
		}
		k := j
		for k < len(word) && word[k] >= '0' && word[k] <= '9' {
			k++
		}
		if n := k - j; n >= 7 || n >= 5 && j > i {
			b.WriteString(pii.MaskPhone(word[i:k]))
			i = k
			continue
		}
		if k == i {
			k++
		}
		b.WriteString(word[i:k])
		i = k
	}
	return b.String()
}

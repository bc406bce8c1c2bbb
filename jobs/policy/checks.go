package policy

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/currency"
)

// itemRule applies the item-level rules in order; reason is "" when the item
// passes them all.
func itemRule(b *Borrower, it *Item, currencies *currencySet) (reason string, dec Decision) {
	switch {
	case b.DoNotContact:
		return ReasonDoNotContact, Suppressed
	case it.LoanStatus != "active":
		return LoanStatusReason(it.LoanStatus), Suppressed
	case it.AmountDueMinor < 0 || it.AmountPaidMinor < 0:
		return ReasonInvalidAmount, Skipped
	case !currencies.known(it.Currency):
		return unknownCurrencyReason(it.Currency), Skipped
	case it.AmountDueMinor-it.AmountPaidMinor <= 0:
		return ReasonNothingDue, Suppressed
	}
	return "", ""
}

// currencySet records which three-letter upper-case codes are ISO 4217
// currencies known to golang.org/x/text/currency: one bit per code AAA..ZZZ,
// filled once by New so that Decide pays an index instead of a parse.
type currencySet [(26*26*26 + 63) / 64]uint64

// currencyIndex maps a code of three upper-case letters to 0..17575.
func currencyIndex(code string) (int, bool) {
	if len(code) != 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := code[i]
		if c < 'A' || c > 'Z' {
			return 0, false
		}
		n = n*26 + int(c-'A')
	}
	return n, true
}

// fill marks every code that currency.ParseISO accepts, except XXX ("no
// currency", not a currency a loan can be in).
func (s *currencySet) fill() {
	var code [3]byte
	for n := 0; n < 26*26*26; n++ {
		code[0], code[1], code[2] = byte('A'+n/676), byte('A'+n/26%26), byte('A'+n%26)
		if str := string(code[:]); str != "XXX" {
			if _, err := currency.ParseISO(str); err == nil {
				s[n/64] |= 1 << (n % 64)
			}
		}
	}
}

// known reports whether code is a known ISO 4217 code: three upper-case
// letters that golang.org/x/text/currency knows; XXX is not.
func (s *currencySet) known(code string) bool {
	n, ok := currencyIndex(code)
	return ok && s[n/64]&(1<<(n%64)) != 0
}

// channelStatus says whether the borrower can be reached on ch; reason is ""
// when they can.
func channelStatus(b *Borrower, ch Channel) (reason string, dec Decision) {
	switch ch {
	case SMS:
		switch {
		case b.Phone.Raw == "":
			return ReasonMissingPhone, Skipped
		case !b.Phone.Valid || b.Phone.E164 == "":
			return ReasonInvalidPhone, Skipped
		case b.SMSOptOut:
			return ReasonOptedOut, Suppressed
		}
	case Email:
		switch {
		case b.Email == "":
			return ReasonMissingEmail, Skipped
		case !validEmail(b.Email):
			return ReasonInvalidEmail, Skipped
		case b.EmailOptOut:
			return ReasonOptedOut, Suppressed
		}
	}
	return "", ""
}

// validEmail is a cheap syntax check: at most 254 bytes, one '@', a
// non-empty local part, a dot inside the domain, and no spaces, control,
// format (bidi, zero-width, byte-order mark) or separator characters, nor
// invalid UTF-8: an address that could reorder or hide what a reader sees.
func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := -1
	for i, r := range s {
		switch {
		case r <= ' ' || r == 0x7f:
			return false
		case r == '@':
			if at >= 0 {
				return false
			}
			at = i
		case r >= 0x80 && (r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r)):
			return false
		}
	}
	if at <= 0 {
		return false
	}
	domain := s[at+1:]
	for i := 1; i < len(domain)-1; i++ {
		if domain[i] == '.' {
			return true
		}
	}
	return false
}

// Package pii masks personal data for logs, dry-run output and audit
// exports, and derives keyed hashes of contact addresses so that records can
// be matched without storing the address (PIPL art. 6, 28 and 51: minimum
// necessary, financial accounts are sensitive, de-identify).
//
// Masks keep only what an operator needs to tell records apart: the country
// code and the carrier/area prefix and last 4 digits of a phone number, the
// first letter and domain of an email address, the last 4 characters of an
// account reference. A mask never has a fixed relation to the length of what
// it hides ("****" stands for any number of characters).
package pii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"github.com/loanremind/loanremind/jobs/clean"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

const stars = "****"

// MaskPhone masks a phone number:
//
//	"+8613812341234" → "+86 138****1234"   (E.164: country code, 3 digits, last 4)
//	"13812341234"    → "138****1234"       (national number of 10 digits or more)
//	"+12125550123"   → "+1 212****0123"
//	"0201234567"     → "020****4567"
//	"+6581234567"    → "+65 ****4567"      (7 to 9 digits: last 4 only)
//	"12345", "n/a"   → "****45", "****"     (short or not a phone number: all but the last 2 masked)
//	""               → ""
//
// Spaces, "-", ".", "(", ")" and "/" between digits are accepted and dropped.
// At least 3 digits of the number are always hidden, and at most the last 4
// are shown after the mask.
func MaskPhone(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	rest, plus := strings.CutPrefix(s, "+")
	digits := make([]byte, 0, len(rest))
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		default:
			return maskAllButLast2(s)
		}
	}
	var cc []byte
	national := digits
	if plus {
		// Country calling codes are prefix-free, 1 to 3 digits.
		for n := 1; n <= 3 && n < len(digits); n++ {
			code := 0
			for _, c := range digits[:n] {
				code = code*10 + int(c-'0')
			}
			if phonenumbers.GetRegionCodeForCountryCode(code) != phonenumbers.UNKNOWN_REGION {
				cc, national = digits[:n], digits[n:]
				break
			}
		}
	}
	if len(national) < 7 {
		return maskAllButLast2(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	if plus {
		b.WriteByte('+')
		if cc != nil {
			b.Write(cc)
			b.WriteByte(' ')
		}
	}
	if len(national) >= 10 {
		b.Write(national[:3])
	}
	b.WriteString(stars)
	b.Write(national[len(national)-4:])
	return b.String()
}

// maskAllButLast2 masks a value that is not a usable phone number: "****"
// and its last 2 characters, or only "****" when it has 4 characters or
// fewer.
func maskAllButLast2(s string) string {
	if utf8.RuneCountInString(s) <= 4 {
		return stars
	}
	return stars + lastRunes(s, 2)
}

// MaskEmail masks an email address, keeping the first character of the
// local part and the domain: "zhang.wei@example.com" → "z***@example.com".
// A local part of 1 or 2 characters is masked whole ("***@example.com");
// a value without a local part and a domain is masked whole ("***").
func MaskEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "***"
	}
	local, domain := s[:at], s[at+1:]
	if utf8.RuneCountInString(local) < 3 {
		return "***@" + domain
	}
	_, size := utf8.DecodeRuneInString(local)
	return local[:size] + "***@" + domain
}

// MaskContact masks the address a message on channel goes to: an email
// address for "email", a phone number otherwise.
func MaskContact(channel, s string) string {
	if channel == "email" {
		return MaskEmail(s)
	}
	return MaskPhone(s)
}

// MaskAccount masks an account reference, keeping its last 4 letters or
// digits (clean.AccountTail, as messages show it): "LN-2024-00012345" →
// "****2345"; a reference of 4 or fewer is masked whole ("****").
func MaskAccount(s string) string {
	return stars + clean.AccountTail(s)
}

// lastRunes returns the last n characters of s (which has more than n).
func lastRunes(s string, n int) string {
	i := len(s)
	for range n {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return s[i:]
}

// Hasher derives keyed hashes of contact addresses (HMAC-SHA-256), so that
// two records about the same address can be matched, and an address looked
// up, by whoever holds the key, while the hash alone reveals nothing: phone
// numbers are few enough that an unkeyed hash is reversed by enumeration.
// A Hasher is safe for concurrent use.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher with a copy of key, which should be at least 32
// random bytes kept as a secret. It panics on an empty key: hashing phone
// numbers without a secret is the mistake this type exists to prevent, and
// configuration validation should have caught it.
func NewHasher(key []byte) *Hasher {
	if len(key) == 0 {
		panic("pii: NewHasher with an empty key")
	}
	return &Hasher{key: append([]byte(nil), key...)}
}

// Contact returns the hex HMAC-SHA-256 of "channel:address" with the address
// normalized: for channel "email" trimmed and lower-cased; otherwise (phone
// numbers, E.164 expected) as given.
func (h *Hasher) Contact(channel, address string) string {
	return h.contact(channel, address)
}

// Record returns the keyed hash of a record's fields under a domain (each
// field is length-prefixed, so no two records hash alike): a row the job
// wrote carries it, and one changed or written by someone without the key
// is told apart.
func (h *Hasher) Record(domain string, fields ...string) string {
	m := hmac.New(sha256.New, h.key)
	var n [20]byte
	for _, f := range append([]string{domain}, fields...) {
		m.Write(strconv.AppendInt(n[:0], int64(len(f)), 10))
		m.Write([]byte{':'})
		m.Write([]byte(f))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (h *Hasher) contact(channel, address string) string {
	if channel == "email" {
		address = strings.ToLower(strings.TrimSpace(address))
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(channel))
	m.Write([]byte{':'})
	m.Write([]byte(address))
	return hex.EncodeToString(m.Sum(nil))
}

package pii

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestMaskPhone(t *testing.T) {
	tests := map[string]string{
		"+8613812341234":    "+86 138****1234",
		"13812341234":       "138****1234",
		"+12125550123":      "+1 212****0123",
		"+1 (212) 555-0123": "+1 212****0123",
		"138-1234-1234":     "138****1234",
		" 138 1234 1234 ":   "138****1234",
		"(212) 555.0123":    "212****0123",
		"0201234567":        "020****4567",
		"+442079460958":     "+44 207****0958",
		"+6581234567":       "+65 ****4567",
		"+85291234567":      "+852 ****4567",
		"+9715012345678":    "+971 501****5678",
		"81234567":          "****4567",
		"1234567":           "****4567",
		"+99912345678901":   "+999****8901", // unknown country code: not split off
		"123456":            "****56",
		"12345":             "****45",
		"1234":              "****",
		"12":                "****",
		"n/a":               "****",
		"unknown":           "****wn",
		"138abc41234":       "****34",
		"１３８１２３４１２３４":       "****３４", // full-width digits are not accepted
		"+86":               "****",
		"+":                 "****",
		"":                  "",
		"   ":               "",
	}
	for in, want := range tests {
		t.Run(caseName(in), func(t *testing.T) {
			if got := MaskPhone(in); got != want {
				t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// caseName names a subtest after its input; Go would name an empty one #00.
func caseName(in string) string {
	switch {
	case in == "":
		return "empty"
	case strings.TrimSpace(in) == "":
		return "blank"
	}
	return in
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// checkPhoneMask checks the masking rules on one input: a mask is present;
// after it come at most the last 4 digits of the number; before it at most a
// country code and 3 leading digits; at least 3 digits are hidden.
func checkPhoneMask(t *testing.T, in string) {
	t.Helper()
	out := MaskPhone(in)
	d := digitsOf(in)
	if in == "" || strings.TrimSpace(in) == "" {
		if out != "" {
			t.Fatalf("MaskPhone(%q) = %q, want empty", in, out)
		}
		return
	}
	head, tail, ok := strings.Cut(out, "****")
	if !ok {
		t.Fatalf("MaskPhone(%q) = %q has no mask", in, out)
	}
	if td := digitsOf(tail); len(td) > 4 || !strings.HasSuffix(d, td) {
		t.Fatalf("MaskPhone(%q) = %q shows more than the last 4 digits", in, out)
	}
	if hd := digitsOf(head); len(hd) > 6 || !strings.HasPrefix(d, hd) {
		t.Fatalf("MaskPhone(%q) = %q: prefix %q is not a country code and 3 digits of %s", in, out, head, d)
	}
	if len(d) >= 7 {
		if shown := len(digitsOf(out)); shown > len(d)-3 {
			t.Fatalf("MaskPhone(%q) = %q shows %d of %d digits, want at least 3 hidden", in, out, shown, len(d))
		}
		if strings.Contains(digitsOf(out), d) {
			t.Fatalf("MaskPhone(%q) = %q contains all the digits", in, out)
		}
	}
}

// TestMaskPhoneNumbers checks the rules on random numbers of many countries,
// written in E.164 and national forms.
func TestMaskPhoneNumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	codes := []string{"1", "7", "44", "49", "65", "81", "86", "91", "852", "853", "886", "971", "998"}
	for range 5000 {
		n := 4 + r.IntN(12)
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		national := b.String()
		cc := codes[r.IntN(len(codes))]
		for _, in := range []string{"+" + cc + national, national, "+" + cc + " " + national[:n/2] + "-" + national[n/2:], "(" + national[:2] + ") " + national[2:]} {
			checkPhoneMask(t, in)
		}
	}
}

func FuzzMaskPhone(f *testing.F) {
	for _, s := range []string{"+8613812341234", "13812341234", "+12125550123", "+1 (212) 555-0123", "1234567", "+6581234567", "abc", "", "+", "+999123456789012345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkPhoneMask(t, in)
	})
}

func TestMaskEmail(t *testing.T) {
	tests := map[string]string{
		"zhang.wei@example.com":   "z***@example.com",
		" Zhang.Wei@Example.com ": "Z***@Example.com",
		"张伟伟@example.cn":          "张***@example.cn",
		"ab@example.com":          "***@example.com",
		"a@example.com":           "***@example.com",
		"abc@x":                   "a***@x",
		"a@b@example.com":         "a***@example.com",
		"@example.com":            "***",
		"zhang.wei@":              "***",
		"not an email":            "***",
		"":                        "",
	}
	for in, want := range tests {
		t.Run(caseName(in), func(t *testing.T) {
			if got := MaskEmail(in); got != want {
				t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestMaskAccount(t *testing.T) {
	tests := map[string]string{
		"LN-2024-00012345":   "****2345",
		" LN-2024-00012345 ": "****2345",
		"12345":              "****2345",
		"1234":               "****",
		"12":                 "****",
		"":                   "****",
		"账户一二三四五":            "****二三四五",
	}
	for in, want := range tests {
		t.Run(caseName(in), func(t *testing.T) {
			if got := MaskAccount(in); got != want {
				t.Errorf("MaskAccount(%q) = %q, want %q", in, got, want)
			}
		})
	}
	// Never more than the last 4 characters.
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		ref := "LN-" + strconv.FormatInt(r.Int64N(1e15), 10)
		got := MaskAccount(ref)
		if len(got) != 8 || !strings.HasPrefix(got, "****") || !strings.HasSuffix(ref, got[4:]) {
			t.Fatalf("MaskAccount(%q) = %q", ref, got)
		}
	}
}

const testKey = "test-key-0123456789abcdef0123456"

func TestHasherKnownAnswers(t *testing.T) {
	// Computed independently: python3 hmac.new(key, msg, hashlib.sha256).hexdigest()
	h := NewHasher([]byte(testKey))
	tests := []struct{ name, channel, address, want string }{
		{"phone", "sms", "+8613812341234", "d0a4f77922e905a195d4cdfc6c6436481aaaf45e94bf6d4edf86a03bde842a81"},
		{"email", "email", "zhang.wei@example.com", "fb2bb07dcded55092f8cd70cfb757b939a1b93e36843c58a080e109ea16171a7"},
		{"email with spaces and capitals", "email", "  Zhang.Wei@EXAMPLE.com\n", "fb2bb07dcded55092f8cd70cfb757b939a1b93e36843c58a080e109ea16171a7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.Contact(tt.channel, tt.address); got != tt.want {
				t.Errorf("Contact(%q, %q) = %s, want %s", tt.channel, tt.address, got, tt.want)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	key := []byte(testKey)
	h := NewHasher(key)
	phone := h.Contact("sms", "+8613812341234")
	if h.Contact("sms", "+86 138 1234 1234") == phone {
		t.Errorf("phone numbers are hashed as given, not normalized")
	}
	if h.Contact("email", "+8613812341234") == phone {
		t.Errorf("the channel is not part of the hash")
	}
	if NewHasher([]byte("another key")).Contact("sms", "+8613812341234") == phone {
		t.Errorf("the key is not part of the hash")
	}
	key[0] ^= 0xFF // the Hasher keeps its own copy
	if h.Contact("sms", "+8613812341234") != phone {
		t.Errorf("changing the caller's key slice changed the Hasher")
	}
	if strings.Contains(phone, "13812341234") || len(phone) != 64 {
		t.Errorf("hash %q", phone)
	}
	// Safe for concurrent use.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if h.Contact("sms", "+8613812341234") != phone {
					t.Error("concurrent Contact differs")
					return
				}
			}
		})
	}
	wg.Wait()
	defer func() {
		if recover() == nil {
			t.Errorf("NewHasher(nil) did not panic")
		}
	}()
	NewHasher(nil)
}

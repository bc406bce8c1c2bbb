package render

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSegments(t *testing.T) {
	a := strings.Repeat
	tests := []struct {
		name string
		body string
		n    int
		enc  string
	}{
		{"empty", "", 1, EncodingGSM7},
		{"1 char", "a", 1, EncodingGSM7},
		{"160 GSM-7", a("a", 160), 1, EncodingGSM7},
		{"161 GSM-7", a("a", 161), 2, EncodingGSM7},
		{"306 GSM-7", a("a", 306), 2, EncodingGSM7},
		{"307 GSM-7", a("a", 307), 3, EncodingGSM7},
		{"459 GSM-7", a("a", 459), 3, EncodingGSM7},
		{"460 GSM-7", a("a", 460), 4, EncodingGSM7},
		{"GSM basic non-ASCII", "£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà@$\n\r", 1, EncodingGSM7},
		// Each extension character is 2 septets.
		{"80 extension chars = 160 septets", a("{}[]~\\^|", 10), 1, EncodingGSM7},
		{"€ x 80 = 160 septets", a("€", 80), 1, EncodingGSM7},
		{"159 + € = 161 septets", a("a", 159) + "€", 2, EncodingGSM7},
		// 152 septets then an extension char: it does not fit in part 1 (153)
		// and is not split, so part 2 starts with it.
		{"extension char not split", a("a", 152) + "|" + a("a", 152), 3, EncodingGSM7},
		{"extension char fits exactly", a("a", 151) + "|" + a("a", 153), 2, EncodingGSM7},
		{"70 UCS-2", a("中", 70), 1, EncodingUCS2},
		{"71 UCS-2", a("中", 71), 2, EncodingUCS2},
		{"134 UCS-2", a("中", 134), 2, EncodingUCS2},
		{"135 UCS-2", a("中", 135), 3, EncodingUCS2},
		{"one non-GSM char makes all UCS-2", a("a", 69) + "’", 1, EncodingUCS2},
		{"one non-GSM char, 71", a("a", 70) + "’", 2, EncodingUCS2},
		{"tab is not GSM", "a\tb", 1, EncodingUCS2},
		{"backtick is not GSM", "`", 1, EncodingUCS2},
		{"Chinese SMS", "【安心金融】您尾号2345的借款第3期应还¥1,234.56，将于2026年11月21日到期。请按时通过App或您常用的方式还款，如已还款请忽略。回复TD退订", 2, EncodingUCS2},
		{"emoji: 35 surrogate pairs = 70 units", a("😀", 35), 1, EncodingUCS2},
		{"emoji: 36 surrogate pairs = 72 units", a("😀", 36), 2, EncodingUCS2},
		// 66 units then a pair: the pair does not fit in part 1 (67) and is
		// not split.
		{"surrogate pair not split", a("中", 66) + "😀" + a("中", 66), 3, EncodingUCS2},
		{"surrogate pair fits exactly", a("中", 65) + "😀" + a("中", 67), 2, EncodingUCS2},
		{"invalid UTF-8 is UCS-2", "abc\xff", 1, EncodingUCS2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, enc := Segments(tt.body)
			if n != tt.n || enc != tt.enc {
				t.Errorf("%s: Segments = %d %s, want %d %s", tt.name, n, enc, tt.n, tt.enc)
			}
		})
	}
}

// TestGSM7Counting: characters of GSM-7's extension table count two
// septets (escape + code), the default alphabet's one, and a character
// outside GSM-7 (₹) makes the whole text UCS-2.
func TestGSM7Counting(t *testing.T) {
	for _, c := range []string{"€", "^", "{", "}", "[", "]", "~", "|", "\\", "\f"} {
		t.Run("extension "+strconv.Quote(c), func(t *testing.T) {
			r, _ := utf8.DecodeRuneInString(c)
			if n := gsmSeptets(r); n != 2 {
				t.Errorf("gsmSeptets(%q) = %d, want 2", c, n)
			}
			if n, enc := Segments(strings.Repeat("a", 158) + c); n != 1 || enc != EncodingGSM7 {
				t.Errorf("158 + %q = 160 septets: %d %s, want 1 GSM-7", c, n, enc)
			}
			if n, enc := Segments(strings.Repeat("a", 159) + c); n != 2 || enc != EncodingGSM7 {
				t.Errorf("159 + %q = 161 septets: %d %s, want 2 GSM-7", c, n, enc)
			}
		})
	}
	for _, c := range []string{"@", "£", "$", "¥", "é", "Ä", "_", "§", "Δ"} {
		t.Run("default alphabet "+c, func(t *testing.T) {
			if n, enc := Segments(strings.Repeat("a", 159) + c); n != 1 || enc != EncodingGSM7 {
				t.Errorf("159 + %q = 160 septets: %d %s, want 1 GSM-7", c, n, enc)
			}
		})
	}
	t.Run("rupee sign", func(t *testing.T) {
		if n := gsmSeptets('₹'); n != 0 {
			t.Errorf("gsmSeptets(₹) = %d, want 0", n)
		}
		const rupee = "Anxin Finance: ₹3,637.05 (loan ****2345, payment 3) is 7 days past due. Please pay as soon as you can. Ignore if paid. Reply STOP to opt out."
		if n, enc := Segments(rupee); n != 3 || enc != EncodingUCS2 {
			t.Errorf("with ₹: %d %s, want 3 UCS-2", n, enc)
		}
		iso := strings.Replace(rupee, "₹", "INR ", 1)
		if n, enc := Segments(iso); n != 1 || enc != EncodingGSM7 {
			t.Errorf("with INR: %d %s, want 1 GSM-7", n, enc)
		}
	})
}

// splitParts is a reference implementation that really splits body into
// parts, to check Segments against on arbitrary input.
func splitParts(body string) (parts []string, enc string) {
	size := func(r rune) int { return gsmSeptets(r) }
	single, part := gsmSingle, gsmPart
	for _, r := range body {
		if gsmSeptets(r) == 0 {
			size = func(r rune) int { return utf8.RuneLen(r)/4*1 + 1 } // BMP 1 unit, others 2
			single, part = ucs2Single, ucs2Part
			enc = EncodingUCS2
			break
		}
	}
	if enc == "" {
		enc = EncodingGSM7
	}
	total := 0
	for _, r := range body {
		total += size(r)
	}
	if total <= single {
		return []string{body}, enc
	}
	start, fill := 0, 0
	for i, r := range body {
		if fill+size(r) > part {
			parts = append(parts, body[start:i])
			start, fill = i, 0
		}
		fill += size(r)
	}
	return append(parts, body[start:]), enc
}

func FuzzSegments(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("a", 161), strings.Repeat("中", 71), "€{}", "😀x", "a\tb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			body = strings.ToValidUTF8(body, "?")
		}
		n, enc := Segments(body)
		parts, wantEnc := splitParts(body)
		if n != len(parts) || enc != wantEnc {
			t.Fatalf("Segments(%q) = %d %s, reference splits into %d %s", body, n, enc, len(parts), wantEnc)
		}
	})
}

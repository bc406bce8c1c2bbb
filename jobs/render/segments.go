package render

import "unicode/utf8"

// SMS encodings reported by Segments.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// Part sizes of GSM 03.38 / 3GPP TS 23.040 concatenated SMS.
const (
	gsmSingle  = 160 // septets in a single-part message
	gsmPart    = 153 // septets per part of a multi-part message (7 go to the UDH)
	ucs2Single = 70  // UTF-16 code units in a single-part message
	ucs2Part   = 67  // UTF-16 code units per part of a multi-part message
)

// Segments returns the number of SMS parts body is sent in and the encoding
// that carries it.
//
// A body made only of characters of the GSM 03.38 default alphabet and its
// extension table is sent in GSM-7: 160 septets fit in one part, and a longer
// body is split into parts of 153 septets. Extension characters
// ({ } [ ] ~ \ ^ | € and form feed) take two septets (escape + code) and are
// never split across two parts. Any other character (Chinese text, emoji, a
// curly quote, a tab) makes the whole body UCS-2: 70 UTF-16 code units fit in
// one part, a longer body is split into parts of 67, a character outside the
// Basic Multilingual Plane (most emoji) takes two code units (a surrogate pair)
// and a pair is never split across two parts. Invalid UTF-8 counts as U+FFFD.
//
// An empty body is 1 part of GSM-7: it is what a carrier bills for it.
func Segments(body string) (n int, encoding string) {
	septets, units := 0, 0    // totals
	gsmParts, gsmFill := 1, 0 // greedy packing into 153-septet parts
	ucsParts, ucsFill := 1, 0 // greedy packing into 67-unit parts
	gsm := true
	for i := 0; i < len(body); {
		r := rune(body[i])
		if r < utf8.RuneSelf {
			i++
		} else {
			var size int
			r, size = utf8.DecodeRuneInString(body[i:])
			i += size
		}
		if gsm {
			s := gsmSeptets(r)
			if s == 0 {
				gsm = false
			} else {
				septets += s
				if gsmFill+s > gsmPart {
					gsmParts++
					gsmFill = 0
				}
				gsmFill += s
			}
		}
		u := 1
		if r > 0xFFFF {
			u = 2
		}
		units += u
		if ucsFill+u > ucs2Part {
			ucsParts++
			ucsFill = 0
		}
		ucsFill += u
	}
	if gsm {
		if septets <= gsmSingle {
			return 1, EncodingGSM7
		}
		return gsmParts, EncodingGSM7
	}
	if units <= ucs2Single {
		return 1, EncodingUCS2
	}
	return ucsParts, EncodingUCS2
}

// Bit sets of the printable ASCII characters in the GSM 03.38 default
// alphabet (basic) and in its extension table, indexed by code point.
const (
	// basic: LF, CR, all of 0x20-0x3F (space ! " # $ % & ' ( ) * + , - . /
	// 0-9 : ; < = > ?), @ and A-Z (0x40-0x5A), _ (0x5F), a-z (0x61-0x7A).
	// Not GSM at all: the other control characters (tab included), ` and DEL.
	gsmBasicLo uint64 = 1<<'\n' | 1<<'\r' | 0xFFFFFFFF00000000
	gsmBasicHi uint64 = 0x07FFFFFF | 1<<('_'-64) | 0x07FFFFFE<<32
	// extension: form feed and [ \ ] ^ { | } ~
	gsmExtLo uint64 = 1 << '\f'
	gsmExtHi uint64 = 1<<('['-64) | 1<<('\\'-64) | 1<<(']'-64) | 1<<('^'-64) |
		1<<('{'-64) | 1<<('|'-64) | 1<<('}'-64) | 1<<('~'-64)
)

// gsmSeptets returns how many septets r takes in GSM-7: 1 for the default
// alphabet, 2 for the extension table, 0 when r cannot be sent in GSM-7.
func gsmSeptets(r rune) int {
	switch {
	case r < 64:
		if gsmBasicLo&(1<<r) != 0 {
			return 1
		}
		if gsmExtLo&(1<<r) != 0 {
			return 2
		}
		return 0
	case r < 128:
		if gsmBasicHi&(1<<(r-64)) != 0 {
			return 1
		}
		if gsmExtHi&(1<<(r-64)) != 0 {
			return 2
		}
		return 0
	}
	switch r {
	case '£', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å',
		'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ',
		'Æ', 'æ', 'ß', 'É', '¤', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿',
		'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	case '€':
		return 2
	}
	return 0
}

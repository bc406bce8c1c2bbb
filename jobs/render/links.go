package render

import "strings"

// findLink returns the first thing in s that looks like a link — a URL
// ("https://x.cn", "weixin://…"), a "www." host, or a bare domain name whose
// last label is a common top-level domain ("example.com", "t.cn", "bit.ly",
// "pay.anxin.com.cn") — or "" when there is none. Lenders keep links out of
// reminders: a link in an SMS is what phishing looks like, and borrowers are
// told never to follow one.
//
// Only ASCII host names are recognized; a "." between two words without a
// space ("paid.Thanks") is not a link unless the second word is one of the
// top-level domains below.
func findLink(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		start := i
		for start > 0 && isHostChar(s[start-1]) {
			start--
		}
		return tokenAt(s, start)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' || i == 0 || !isHostChar(s[i-1]) || s[i-1] == '-' {
			continue
		}
		// Label before the dot.
		start := i
		for start > 0 && isHostChar(s[start-1]) {
			start--
		}
		if i-start == 3 && strings.EqualFold(s[start:i], "www") {
			return tokenAt(s, start)
		}
		// Label after the dot: letters only, then a non-host character.
		end := i + 1
		for end < len(s) && isLetter(s[end]) {
			end++
		}
		if end < len(s) && (isHostChar(s[end]) && s[end] != '.') {
			continue // "pay.anxin2" or "x.com-y": not a TLD ending here
		}
		if isCommonTLD(s[i+1 : end]) {
			// Walk back over earlier labels for the message.
			for start > 0 && (isHostChar(s[start-1]) || s[start-1] == '.') {
				start--
			}
			return tokenAt(s, start)
		}
	}
	return ""
}

// tokenAt returns the run of non-space characters of s starting at start.
func tokenAt(s string, start int) string {
	end := start
	for end < len(s) && s[end] > ' ' && s[end] < 0x80 {
		end++
	}
	return s[start:end]
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isHostChar(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '-' }

// isCommonTLD reports whether label (any case) is one of the generic and
// country top-level domains seen in links sent to Chinese and US borrowers,
// short-link services included. Words that commonly follow a full stop
// without a space in prose (it, is, to, at, be, do, my, so, no) are left out.
func isCommonTLD(label string) bool {
	if len(label) < 2 || len(label) > 6 {
		return false
	}
	var b [6]byte
	for i := 0; i < len(label); i++ {
		b[i] = label[i] | 0x20
	}
	switch string(b[:len(label)]) {
	case "com", "net", "org", "edu", "gov", "info", "biz", "xyz", "top", "vip",
		"app", "dev", "io", "co", "me", "ly", "gl", "cc", "tv", "ai", "gd",
		"cn", "hk", "mo", "tw", "sg", "us", "uk", "ca", "au", "in", "jp", "kr",
		"site", "online", "shop", "store", "club", "link", "live", "pro",
		"mobi", "icu", "fun", "ink", "wang", "ren", "work", "click", "tech",
		"cloud", "win", "bid", "loan", "money", "cash":
		return true
	}
	return false
}

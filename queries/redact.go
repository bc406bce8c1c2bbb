package queries

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted stands for a password removed from a text.
const redacted = "xxxxx"

var (
	// A URL's user information with a password: scheme://user:password@.
	urlPassword = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^:/@\s"']*:)[^@\s"']*@`)
	// A key=value DSN's or a query string's password.
	dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&"']*)`)
)

// RedactPasswords returns s with every password it may hold replaced by
// xxxxx: the user information of a URL, a password= of a DSN or a query
// string, and the passwords of the given connection strings wherever they
// appear as given or URL-escaped (an error message may quote a URL that
// does not parse, so that the patterns cannot find its parts). No error
// message, log line or report may carry a password.
func RedactPasswords(s string, dsns ...string) string {
	for _, dsn := range dsns {
		for _, p := range passwordsOf(dsn) {
			if len(p) >= 3 {
				s = strings.ReplaceAll(s, p, redacted)
				s = strings.ReplaceAll(s, url.QueryEscape(p), redacted)
				s = strings.ReplaceAll(s, url.PathEscape(p), redacted)
			}
		}
	}
	s = urlPassword.ReplaceAllString(s, "${1}"+redacted+"@")
	return dsnPassword.ReplaceAllString(s, "${1}"+redacted)
}

// passwordsOf returns what may be a password in a connection string, even
// one that does not parse: the user information after the first colon (as
// written, and unescaped when it unescapes), and password= values.
func passwordsOf(dsn string) []string {
	var out []string
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok && p != "" {
				out = append(out, p)
				if u, err := url.PathUnescape(p); err == nil && u != p {
					out = append(out, u)
				}
			}
		}
	}
	for _, m := range dsnPassword.FindAllStringSubmatch(dsn, -1) {
		if p := strings.Trim(m[2], "'"); p != "" {
			out = append(out, p)
		}
	}
	return out
}

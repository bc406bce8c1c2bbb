package queries

import (
	"strings"
	"testing"
)

func TestRedactPasswords(t *testing.T) {
	for _, tc := range []struct {
		name, dsn, text, secret string
	}{
		{"a URL that does not parse", "postgres://rt_app:p%ss@db:5432/lender",
			`database URL: parse "postgres://rt_app:p%ss@db:5432/lender": invalid URL escape "%ss"`, "p%ss"},
		{"a URL", "postgres://rt_app:s3cret@db/lender", `dial postgres://rt_app:s3cret@db/lender: refused`, "s3cret"},
		{"an escaped password", "postgres://u:p%40ss%3Aword@db/x", `password "p@ss:word" rejected for postgres://u:p%40ss%3Aword@db/x`, "ss:word"},
		{"a key=value DSN", "host=db user=u password='se cret' dbname=x", `bad DSN: host=db user=u password='se cret' dbname=x`, "se cret"},
		{"a query string", "postgres://db/x?user=u&password=hunter22", `postgres://db/x?user=u&password=hunter22: no`, "hunter22"},
		{"an unknown URL in a message", "", `connect postgresql://admin:Tr0ub4dor@10.1.1.1/db failed`, "Tr0ub4dor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RedactPasswords(tc.text, tc.dsn)
			if strings.Contains(got, tc.secret) || !strings.Contains(got, "xxxxx") {
				t.Errorf("RedactPasswords(%q) = %q: the password %q is still there", tc.text, got, tc.secret)
			}
		})
	}
	if got := RedactPasswords("postgres://db/x?sslmode=disable: no such host"); got != "postgres://db/x?sslmode=disable: no such host" {
		t.Errorf("a text without a password changed: %q", got)
	}
	// Open's error for a URL that does not parse quotes it.
	const dsn = "postgres://rt_app:p%ss@127.0.0.1/x"
	_, err := Open(dsn)
	if err == nil {
		t.Fatal("Open accepted a bad URL")
	}
	if got := RedactPasswords(err.Error(), dsn); strings.Contains(got, "p%ss") {
		t.Errorf("Open's error redacted: %q", got)
	}
}

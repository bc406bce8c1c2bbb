package render

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden renders every default template (stage × channel × locale) with
// the fixed sample data and compares the exact text with
// testdata/golden/<channel>/<stage>.<locale>.txt, so that reviewers read
// what borrowers will read. Update with: go test ./jobs/render -update
func TestGolden(t *testing.T) {
	e := newDefaultEngine(t)
	n := 0
	for _, ch := range []string{"sms", "email"} {
		for _, st := range testStages {
			for _, loc := range []string{"zh-CN", "en-US"} {
				t.Run(ch+"/"+st+"."+loc, func(t *testing.T) {
					tm := e.resolved[tmplKey{ch, st, loc}]
					if tm == nil || tm.locale != loc {
						t.Fatalf("no %s/%s.%s template", ch, st, loc)
					}
					var b strings.Builder
					fmt.Fprintf(&b, "# %s rendered with the sample data (business date %s)\n", tm.name, sampleBusinessDate())
					for _, s := range e.samples(tm) {
						r, err := e.render(tm, &s.msg)
						if err != nil {
							t.Fatalf("%s (%s): %v", tm.name, s.label, err)
						}
						fmt.Fprintf(&b, "\n=== sample: %s\n", s.label)
						if r.Subject != "" {
							fmt.Fprintf(&b, "subject: %s\n", r.Subject)
						} else {
							fmt.Fprintf(&b, "segments: %d %s, %d characters\n", r.Segments, r.Encoding, utf8.RuneCountInString(r.Body))
						}
						fmt.Fprintf(&b, "---\n%s\n---\n", r.Body)
					}
					path := filepath.Join("testdata", "golden", ch, st+"."+loc+".txt")
					got := b.String()
					if *update {
						if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run go test ./jobs/render -update)", err)
					}
					if got != string(want) {
						t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", tm.name, path, got, want)
					}
				})
				n++
			}
		}
	}
	if n != 20 {
		t.Errorf("checked %d templates, want 20", n)
	}
}

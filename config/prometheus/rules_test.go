package prometheus

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promtool returns promtool's path, or fails the test: the rules are
// checked on every `make test`, which installs it (make promtool).
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: run `make promtool` (Debian's prometheus package) to check the alert rules")
	}
	return path
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesCheck(t *testing.T) {
	runPromtool(t, "check", "rules", "alerts.yaml")
}

func TestRulesUnitTests(t *testing.T) {
	runPromtool(t, "test", "rules", "alerts_test.yaml")
}

// TestRulesUseExportedSeries: a series name misspelt in a rule matches
// nothing, and the alert never fires. Every loanremind_* name in the rules
// must be one the code registers (a string literal in jobs/ or cmd/).
func TestRulesUseExportedSeries(t *testing.T) {
	rules, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`loanremind_[a-z_]+`)
	var code strings.Builder
	for _, dir := range []string{"../../jobs", "../../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			code.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var used []string
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		used = append(used, name.FindAllString(line, -1)...)
	}
	slices.Sort(used)
	used = slices.Compact(used)
	if len(used) == 0 {
		t.Fatal("alerts.yaml uses no loanremind_* series")
	}
	for _, n := range used {
		if !strings.Contains(code.String(), `"`+n+`"`) {
			t.Errorf("alerts.yaml uses %s, which no code under jobs/ or cmd/ registers", n)
		}
	}
}

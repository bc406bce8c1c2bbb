package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/loanremind/loanremind/config"
	"github.com/loanremind/loanremind/queries"
)

// version is set at build time with -ldflags "-X main.version=…"; without
// it the module's build information is used.
var version string

// env is what every command gets from the process: arguments aside, nothing
// else is read from the outside.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"migrate", "apply database migrations (migrate status: list them)", runMigrate},
		{"run", "one reminder run: the CronJob entry point", runRun},
		{"backfill", "one run per business day over a date range", runBackfill},
		{"serve", "run on the config's cron schedule, with /metrics and /healthz", runServe},
		{"deliver", "send the outbox through the configured providers (--once: what is due now)", runDeliver},
		{"audit", "audit export | verify | prune: for compliance staff", runAudit},
		{"explain", "why an installment was or was not reminded, in plain words", runExplain},
		{"templates", "templates preview: render every message template for review", runTemplates},
		{"config", "print the effective configuration", runConfig},
		{"seed", "write deterministic synthetic data", runSeed},
		{"demo", "start a throwaway database, seed, run and report", runDemo},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program: main only adds signals and the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return usageError{errors.New("no command given")}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			if path := getenv("LOANREMIND_CPUPROFILE"); path != "" {
				stop, err := startCPUProfile(path)
				if err != nil {
					return err
				}
				defer stop()
			}
			return c.run(ctx, e, args[1:])
		}
	}
	usage(stderr)
	return usageErrorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: loanremind <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The database comes from --database-url or DATABASE_URL; the configuration from")
	fmt.Fprintln(w, "--config or LOANREMIND_CONFIG (built-in defaults otherwise).")
	fmt.Fprintln(w, "Exit codes: 0 success (also a run skipped because another holds the lock),")
	fmt.Fprintln(w, "1 run failed, 2 bad usage or configuration.")
	fmt.Fprintln(w, "Run 'loanremind <command> -h' for a command's flags.")
}

// usageError is bad usage: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit code and reports it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	// Whatever failed, a password in a URL or DSN it quotes is not
	// printed.
	fmt.Fprintln(stderr, "loanremind:", queries.RedactPasswords(err.Error()))
	var ue usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return 2
	}
	return 1
}

// newFlagSet returns a flag set whose parse errors are usage errors.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: loanremind %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected arguments: %s", fs.Name(), strings.Join(fs.Args(), " "))
	}
	// A flag given with an empty or blank value is a mistake, never a way
	// to say "any": `audit export --contact ""` must not export every row.
	var blank []string
	fs.Visit(func(f *flag.Flag) {
		if strings.TrimSpace(f.Value.String()) == "" && !isBoolFlag(f) {
			blank = append(blank, "--"+f.Name)
		}
	})
	if len(blank) > 0 {
		return usageErrorf("%s: %s given with an empty value: leave the flag out instead", fs.Name(), strings.Join(blank, ", "))
	}
	return nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// buildVersion returns the version and the VCS revision the binary was built
// from, when known.
func buildVersion() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if v == "" {
			return "unknown"
		}
		return v
	}
	if v == "" {
		v = info.Main.Version
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += "+" + rev
		if settings["vcs.modified"] == "true" {
			v += "-dirty"
		}
	}
	return v
}

func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "loanremind %s\n", buildVersion())
	return nil
}

func runConfig(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "config", "config [--config FILE]")
	cf := addConfigFlag(fs, e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cf, e.getenv)
	if err != nil {
		return err
	}
	out, err := cfg.YAML()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# effective configuration, sha256 %s\n# environment overrides: %s\n", cfg.SHA256(), strings.Join(sortedCopy(config.EnvVars()), " "))
	_, err = e.stdout.Write(out)
	return err
}

// startCPUProfile writes a CPU profile of the command to path (for
// performance work: LOANREMIND_CPUPROFILE=cpu.out loanremind run ...).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
